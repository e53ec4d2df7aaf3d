"""Benchmark of the model's accuracy: the cross-validated error table in one command.

    python bench/fidelity_bench.py [--folds 5] [--quick] [--simulate]

For the shared `default` profile and for the per-engine profiles (`--group-by engine`), prints per
engine and overall, for decode tokens/s per GPU (TPOT) and TTFT at every concurrency: the number
of observations, the median |error| and the p90 |error|, both cross-validated (grouped k-fold:
the points of one configuration share a fold; each fold refits every parameter, the per-family
fixed TTFT included). `--quick` skips cross-validation (errors of the shipped profiles on the
points they were fitted to). Targets of the fidelity issue: median ≤ 12 % on decode and ≤ 20 % on
TTFT, per engine and overall, and the TTFT error per engine by requests in flight (c ≤ 4 up to
c > 256). `--simulate` adds, for the per-engine profiles, the closed-loop
check of `plan validate --simulate`: every benchmark point run event by event beside the analytic
closed-loop formula and the measurement (docs/model.md, "The closed loop checked by simulation").
Last, the measurements' own scatter (planner.fidelity.noise): each configuration's points against
the interpolation of their neighbours in concurrency, and repeated measurements — the floor any
model of them meets.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.fidelity.measurements import default_measurement_files, load_points
from planner.fidelity.noise import concurrency_smoothness, repeat_spread
from planner.fidelity.validate import run_validate

QUANTITIES = (("decode_tok_s_per_gpu", "decode"), ("ttft_s", "TTFT"))
TARGET = {"decode_tok_s_per_gpu": 0.12, "ttft_s": 0.20}


def table(v, title: str) -> list[str]:
    """engine × quantity: n, median and p90 of |CV error| (|fit error| without CV)."""
    errs: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in v.rows:
        e = abs(r.cv_error if r.cv_error is not None else r.error)
        errs[(r.point.engine, r.quantity)].append(e)
        errs[("all", r.quantity)].append(e)
    engines = sorted({k[0] for k in errs if k[0] != "all"}, key=lambda e: -len(errs[(e, QUANTITIES[0][0])])) + ["all"]
    kind = f"{v.cv_folds}-fold CV" if v.cv_folds > 1 else "fit (no CV)"
    out = [f"{title} — {kind}", f"  {'engine':18s}" + "".join(f"{h + ' n':>10s} {'median':>8s} {'p90':>8s} {'ok':>3s}"
                                                               for _, h in QUANTITIES)]
    for e in engines:
        cells = []
        for q, _ in QUANTITIES:
            x = np.array(errs.get((e, q), []))
            if len(x) == 0:
                cells.append(f"{'–':>10s} {'':8s} {'':8s} {'':3s}")
                continue
            med = float(np.median(x))
            cells.append(f"{len(x):10d} {med:8.1%} {float(np.percentile(x, 90)):8.1%} "
                         f"{'yes' if med <= TARGET[q] else 'no':>3s}")
        out.append(f"  {e:18s}" + "".join(cells))
    return out


C_BUCKETS = ((1, 4), (5, 16), (17, 64), (65, 256), (257, float("inf")))   # requests in flight


def ttft_by_concurrency(v) -> list[str]:
    """TTFT |error| per engine and concurrency bucket (cross-validated when CV ran): where under
    load the TTFT error lives. Each cell: n, median."""
    errs: dict[tuple[str, int], list[float]] = defaultdict(list)
    for r in v.rows:
        if r.quantity != "ttft_s":
            continue
        e = abs(r.cv_error if r.cv_error is not None else r.error)
        k = next(i for i, (lo, hi) in enumerate(C_BUCKETS) if r.point.concurrency <= hi)
        errs[(r.point.engine, k)].append(e)
        errs[("all", k)].append(e)
    engines = sorted({e for e, _ in errs if e != "all"}) + ["all"]
    heads = [f"c {lo}–{hi:g}" if hi != float("inf") else f"c > {lo - 1}" for lo, hi in C_BUCKETS]
    out = ["  TTFT by requests in flight: n, median |error|",
           f"  {'engine':18s}" + "".join(f"{h:>16s}" for h in heads)]
    for e in engines:
        cells = []
        for k in range(len(C_BUCKETS)):
            x = errs.get((e, k), [])
            cells.append(f" {len(x):7d} {float(np.median(x)):7.1%}" if x else f"{'–':>16s}")
        out.append(f"  {e:18s}" + "".join(cells))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    ap.add_argument("--quick", action="store_true", help="no cross-validation")
    ap.add_argument("--simulate", action="store_true",
                    help="also the closed-loop check: each benchmark point simulated event by event")
    a = ap.parse_args()
    folds = 0 if a.quick else a.folds
    files = [str(f) for f in default_measurement_files()]
    for title, by in (("shared profile 'default'", ()), ("per-engine profiles", ("engine",))):
        t0 = time.perf_counter()
        v = run_validate(files, "default", folds, by)
        print("\n".join(table(v, title) + ttft_by_concurrency(v)) + f"\n  ({time.perf_counter() - t0:.0f} s)\n")
    if a.simulate:   # v: the per-engine profiles
        from planner.report import closed_loop
        print(closed_loop.render_text(closed_loop.closed_loop_check(v)).lstrip("\n"))
    print("\n".join(noise_table(files)))


def noise_table(files: list[str]) -> list[str]:
    """The measurements' own scatter, per quantity: n, median and p90 of |a/b − 1|."""
    points, _ = load_points(files)
    out = ["measurements against themselves (no model): |a/b − 1|",
           f"  {'quantity':8s} {'neighbours in c: n':>20s} {'median':>8s} {'p90':>8s} {'repeats: n':>12s} "
           f"{'median':>8s} {'p90':>8s}"]
    for q, name in QUANTITIES:
        s, r = concurrency_smoothness(points, q), repeat_spread(points, q)
        out.append(f"  {name:8s} {len(s):20d} {float(np.median(s)):8.1%} {float(np.percentile(s, 90)):8.1%} "
                   f"{len(r):12d} {float(np.median(r)):8.1%} {float(np.percentile(r, 90)):8.1%}")
    return out


if __name__ == "__main__":
    main()
