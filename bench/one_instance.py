"""What the one-instance benchmarks share (`bench/colocated_bench.py`, `bench/prefill_bench.py`):
their command line, the problem file of one workload, the grid of workloads × loads they walk, and
the step from pools verified at a load to the simulation of exactly those pools."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from planner.plan.verify import PoolState  # noqa: E402
from planner.report.json import pool_dict  # noqa: E402
from planner.studies.simulate import SimResult, plan_from_dict, simulate  # noqa: E402


def arguments(doc: str, loads: str, requests: int, loads_help: str) -> tuple[list[float], int]:
    """(loads, requests) from the command line: `--loads` a comma-separated list of shares of an
    instance's raw capacity, `--requests` per simulation."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--requests", type=int, default=requests)
    ap.add_argument("--loads", default=loads, help=loads_help)
    a = ap.parse_args()
    return [float(x) for x in a.loads.split(",")], a.requests


def problem_file(tmp: Path, model: str, weights: str, gpu: str, tp: int, prompts: int | str, s_out: int, *,
                 name: str, mode: str, kv: str | None = None) -> Path:
    """A single problem of one serving `mode` and layout (TTFT and TPOT limits loose enough for
    every load); `prompts` a length or a YAML {values, weights} distribution."""
    path = tmp / "p.yaml"
    precision = f"{{weights: {weights}" + (f", kv: {kv}}}" if kv else "}")
    path.write_text(f"name: {name}\nmodel: {model}\nprecision: {precision}\n"
                    f"workload: {{qps: 1, input_tokens: {prompts}, output_tokens: {s_out}}}\n"
                    f"slo: {{ttft: 60s, tpot: 1s}}\ngpus: [{gpu}]\n"
                    f"serving: {{modes: [{mode}], parallelism: {{tp: [{tp}], pp: [1], dp: [1]}}}}\n")
    return path


def grid(workloads: list[tuple], problem_file: Callable[..., Path],
         loads: list[float]) -> Iterator[tuple[str, Path, float]]:
    """(label, problem file, load) for every workload (label, *shape) and load, each problem written
    by `problem_file(directory, *shape)` into a temporary directory."""
    with tempfile.TemporaryDirectory() as tmp:
        for label, *shape in workloads:
            path = problem_file(Path(tmp), *shape)
            for load in loads:
                yield label, path, load


def simulate_pools(plan: dict, pools: list[PoolState], qps: float, requests: int) -> SimResult:
    """The plan (`plan_json`) with `pools` in place of its own and its workload at `qps`, simulated
    (seed 0). Each pool keeps its candidate's name: pool_state alone leaves the plan's name unset."""
    d = {**plan, "pools": [{**pool_dict(st), "name": st.candidate.name} for st in pools],
         "workload": {**plan["workload"], "qps": qps}}
    return simulate(plan_from_dict(d, "bench"), requests=requests, seed=0)
