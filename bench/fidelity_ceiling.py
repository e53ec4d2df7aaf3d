"""How much of the model's cross-validated error any model of the recorded columns could remove.

    python bench/fidelity_ceiling.py [--folds 5] [--seeds 3] [--quick]

Needs scikit-learn (`pip install -e '.[analysis]'`). Takes the per-engine profiles' grouped k-fold
cross-validated predictions (as `bench/fidelity_bench.py` does: the points of one configuration
share a fold), then fits a flexible learner — gradient-boosted trees — to their log residual
log(predicted / measured) and predicts each configuration's residual from the other configurations
(grouped k-fold again, `--seeds` shuffles, each point's correction the median over them). Twice:
once from the recorded physical columns only (engine, GPU, weight and KV dtypes, mode, TP, PP, DP,
expert TP, cards, lengths, concurrency, batch, cached share, tokens per step, prefill workers and
cards, and the model's own prediction), once adding the run's identity (model name, engine version,
measurement file). A correction that does not generalise to held-out configurations cannot lower
the error, so the first row bounds what a missing physical term could still give on this data, the
second what a per-run table would. `--quick` takes the profiles' fit errors instead of
cross-validated ones (seconds instead of minutes). docs/model.md ("What the data allows") has the
table and its reading.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.fidelity.crossval import Row
from planner.fidelity.measurements import default_measurement_files
from planner.fidelity.validate import run_validate

QUANTITIES = (("decode_tok_s_per_gpu", "decode"), ("ttft_s", "TTFT"))
ENGINES = ("sglang", "trtllm", "vllm")


def _log(x: float) -> float:
    return math.log(x) if x > 0 else float("nan")


# name → (categorical?, value of a row); the model's own prediction is added as a column apart
PHYSICAL = {
    "engine": (True, lambda r: r.point.engine),
    "gpu": (True, lambda r: r.point.gpu),
    "weight_dtype": (True, lambda r: r.point.weight_dtype),
    "kv_dtype": (True, lambda r: r.point.kv_dtype),
    "mode": (True, lambda r: r.point.mode),
    "tp": (False, lambda r: r.point.par.tp),
    "pp": (False, lambda r: r.point.par.pp),
    "dp": (False, lambda r: r.point.par.dp),
    "moe_tp": (False, lambda r: r.point.par.moe_tp),
    "log_cards": (False, lambda r: _log(r.point.cards)),
    "log_isl": (False, lambda r: _log(r.point.isl)),
    "log_osl": (False, lambda r: _log(r.point.osl)),
    "log_concurrency": (False, lambda r: _log(r.point.concurrency)),
    "log_batch": (False, lambda r: _log(r.point.batch)),
    "cached_fraction": (False, lambda r: r.point.cached_fraction),
    "tokens_per_step": (False, lambda r: r.point.tokens_per_step),
    "prefill_workers": (False, lambda r: r.point.prefill_workers),
    "log_prefill_cards": (False, lambda r: _log(r.point.prefill_par.cards) if r.point.prefill_par else float("nan")),
}
IDENTITY = {
    "model": (True, lambda r: r.point.model),
    "engine_version": (True, lambda r: f"{r.point.engine} {r.point.engine_version}"),
    "file": (True, lambda r: Path(r.point.origin).name),
}


def _predicted(r: Row) -> float:
    return r.cv_predicted if r.cv_predicted is not None else r.predicted


def matrix(rs: list[Row], columns: dict) -> tuple[np.ndarray, list[bool]]:
    """Feature matrix (categories as integer codes) and which columns are categorical."""
    cols, categorical = [], []
    for is_cat, fn in columns.values():
        vals = [fn(r) for r in rs]
        if is_cat:
            codes = {v: i for i, v in enumerate(sorted(set(map(str, vals))))}
            vals = [codes[str(v)] for v in vals]
        cols.append(vals)
        categorical.append(is_cat)
    cols.append([_log(_predicted(r)) for r in rs])
    categorical.append(False)
    return np.array(cols, dtype=float).T, categorical


def corrected_errors(rs: list[Row], columns: dict, folds: int, seeds: int) -> np.ndarray:
    """|error| of each row after the learner's held-out correction of its log residual."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.model_selection import GroupKFold
    x, categorical = matrix(rs, columns)
    y = np.array([math.log(_predicted(r) / r.measured) for r in rs])
    groups = np.array([r.point.group for r in rs])
    corrections = np.zeros((seeds, len(rs)))
    for s in range(seeds):
        for train, held in GroupKFold(folds, shuffle=True, random_state=s).split(x, y, groups):
            m = HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, max_leaf_nodes=15,
                                              min_samples_leaf=20, l2_regularization=1.0,
                                              categorical_features=categorical, random_state=0)
            m.fit(x[train], y[train])
            corrections[s, held] = m.predict(x[held])
    return np.abs(np.exp(y - np.median(corrections, axis=0)) - 1.0)


def line(label: str, rs: list[Row], err: np.ndarray) -> str:
    engines = np.array([r.point.engine for r in rs])
    cells = [f"{float(np.median(err[engines == e])):7.1%}" for e in ENGINES]
    return f"  {label:36s} {float(np.median(err)):7.1%} {float(np.percentile(err, 90)):7.1%}" + "".join(cells)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    ap.add_argument("--seeds", type=int, default=3, help="shuffles of the learner's folds (default 3)")
    ap.add_argument("--quick", action="store_true", help="the profiles' fit errors, no cross-validation of the model")
    a = ap.parse_args()
    try:
        import sklearn  # noqa: F401
    except ImportError:
        sys.exit("bench/fidelity_ceiling.py needs scikit-learn: pip install -e '.[analysis]'")
    t0 = time.perf_counter()
    v = run_validate([str(f) for f in default_measurement_files()], "default", 0 if a.quick else a.folds, ("engine",))
    kind = "fit errors" if a.quick else f"{a.folds}-fold CV"
    print(f"per-engine profiles, {kind}, then a learner of the log residual (grouped {a.folds}-fold, "
          f"{a.seeds} shuffles): median |error|")
    print(f"  {'':36s} {'all':>7s} {'p90':>7s}" + "".join(f"{e:>7s}" for e in ENGINES))
    for q, name in QUANTITIES:
        rs = [r for r in v.rows if r.quantity == q and r.point.engine in ENGINES]
        print(f" {name} ({len(rs)} points, {len({r.point.group for r in rs})} configurations)")
        print(line("the model", rs, np.array([abs(_predicted(r) / r.measured - 1.0) for r in rs])))
        print(line("+ learner, recorded physical columns", rs, corrected_errors(rs, PHYSICAL, a.folds, a.seeds)))
        print(line("+ learner, and the run's identity", rs,
                   corrected_errors(rs, PHYSICAL | IDENTITY, a.folds, a.seeds)))
    print(f"  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
