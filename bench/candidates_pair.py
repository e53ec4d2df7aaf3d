"""Candidate generation of the fleet benchmark's 4 models × 12 classes on the 11 GPU types of the
catalog when issue 19 was filed (91700e2), timed in the tree given, so two trees can be compared as
pairs in the same minutes (issue 19: 'candidate generation ≥ 10× faster on the 11-type fleet').
Both trees' `fleet_services` run a worker process per core by default (the issue's timing was that
tree's default), so compare like with like: `--workers 1` against `--workers 1`, and `--workers 2`
against `--workers 2`.

    git worktree add /tmp/old19 91700e2
    for i in 1 2 3; do
        .venv/bin/python bench/candidates_pair.py /tmp/old19 --workers 1
        .venv/bin/python bench/candidates_pair.py . --workers 1
    done
    # and the same with --workers 2 on both sides

Prints the seconds fleet_services took (the memo cleared first, as a fresh `plan solve` sees it)
and how many candidates and rejections it made. The two trees' physics differ (later fits), so
their counts differ a little; the time is the same work: every shape of every service evaluated.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

GPUS = ["h100", "h200", "h800", "h20", "b200", "a100-80g", "l40s", "rtx4090", "mi300x", "mi325x", "ascend-910b"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree", help="the repository checkout whose planner to time")
    ap.add_argument("--workers", type=int, default=1, help="processes for the services (default 1: serial)")
    args = ap.parse_args()
    root = Path(args.tree).resolve()
    sys.path[:0] = [str(root / "bench"), str(root)]
    import fleet_bench as fb

    from planner.plan.services import fleet_services, resolve_classes
    f = fb.fleet(4, 12, GPUS)
    fb.cold()
    t0 = time.perf_counter()
    svcs = fleet_services(f, resolve_classes(f, "bench"), workers=args.workers)
    seconds = time.perf_counter() - t0
    n = sum(len(s.cs.candidates) + len(s.cs.rejected) for s in svcs)
    print(f"{root.name}: {seconds:.3f} s, {n} candidates and rejections, {args.workers} worker(s)")


if __name__ == "__main__":
    main()
