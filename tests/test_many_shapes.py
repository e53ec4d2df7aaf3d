"""The passes and colocated grids of many shapes at once (`physics.many`, `plan.colocated_many`)
against those of each shape alone (`physics.batched`, `plan.colocated_table.table`).

Candidates must not move by a bit, so the many-shape path must give every element's very float:
compared as bytes, on deployments dense and MoE, pp = 1 and > 1, dp and expert slicing, with and
without speculative decoding, under the default profile and one whose compute hides communication
and whose decode runs slower (the branches `physics.many.group_key` groups by); and on whole
problems' grids with one prompt length and a mix, a mean and a p99 TPOT, MTP drafts; and the decode
instances' batch searches run together (`decode.search_all`) against each shape's own.
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest

from planner.catalog.calibration import load_calibration
from planner.catalog.schemas import load_gpus, load_models
from planner.input.load import load_problem
from planner.physics import batched, perf
from planner.physics.deployment import Deployment, Parallelism
from planner.physics.many import ShapeGroup, group_key
from planner.physics.speculation import Speculation
from planner.plan import candidate as candidate_mod
from planner.plan.candidate import deployment
from planner.plan.colocated_many import tables
from planner.plan.colocated_table import table
from planner.plan.decode import decode_candidate, search_all
from planner.plan.resolve import resolve
from planner.plan.shapes import shapes_for
from planner.plan.speculative import speculations
from planner.plan.workload import workload_context

ROOT = Path(__file__).resolve().parent.parent
LAYOUTS = [Parallelism(8, 1, 1), Parallelism(4, 2, 1), Parallelism(1, 1, 8), Parallelism(1, 2, 8),
           Parallelism(2, 1, 4), Parallelism(1, 1, 1), Parallelism(8, 1, 1, moe_tp=8), Parallelism(2, 1, 4, moe_tp=2),
           Parallelism(1, 4, 1)]
BATCHES = np.array([0.05, 0.5, 1.0, 2.0, 3.0, 6.0, 17.0, 64.0, 255.0, 1000.0])
CHUNKS = np.array([0.0, 1.0, 37.5, 1000.0, 8192.0, 2.0, 513.0, 64.0, 4096.0, 300.0])


def same(a, b, path="") -> None:
    """a and b equal to the bit: arrays by dtype, shape and bytes, containers and dataclasses field by field."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        assert (a.dtype, a.shape) == (b.dtype, b.shape), path
        assert a.tobytes() == b.tobytes(), (path, a, b)
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    elif hasattr(a, "__dataclass_fields__"):
        for f in fields(a):
            same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    else:
        assert a == b, (path, a, b)


def groups(calib):
    """The deployments of four models (MLA MoE, GQA MoE, GQA dense) on three cards and the layouts
    above, with and without MTP drafts, by `group_key`."""
    gpus, models = load_gpus(), load_models()
    out: dict = {}
    for mid in ("deepseek-r1", "qwen3-235b-a22b", "llama-3.1-70b", "llama-3.1-8b"):
        for gid, wd in (("h200", "fp8"), ("h100", "bf16"), ("l40s", "fp8")):
            for par in LAYOUTS:
                if par.dp > 1 and not models[mid].arch.is_moe:
                    continue
                for spec in (None, Speculation("mtp", 2, 0.7)):
                    dep = Deployment(models[mid], gpus[gid], par, calib, wd, "bf16", spec=spec)
                    out.setdefault(group_key(dep), []).append(dep)
    return out


@pytest.mark.parametrize("overrides", [{}, {"comm_overlap": 0.6, "decode_time_scale": 1.15, "prefill_time_scale": 0.9}],
                         ids=["default", "overlap-and-slower-decode"])
def test_a_group_s_passes_are_each_deployment_s(overrides):
    calib = load_calibration("default").with_overrides(overrides) if overrides else load_calibration("default")
    found = groups(calib)
    assert None not in found and len(found) >= 8   # dense and MoE, with and without drafts, per model
    assert any(any(d.par.pp > 1 for d in ds) and any(d.par.pp == 1 for d in ds) for ds in found.values())
    for deps in found.values():
        g = ShapeGroup(deps)
        n = len(BATCHES)
        idx = np.repeat(np.arange(len(deps)), n)[::-1].copy()   # points of every deployment, interleaved order
        bs, ch = np.tile(BATCHES, len(deps))[::-1].copy(), np.tile(CHUNKS, len(deps))[::-1].copy()
        dec = g.decode_steps(idx, bs, 1500.0)
        mix = g.mixed_steps(idx, bs, 1500.0, ch, 1000.0, 0.7)
        pre = g.prefill_passes(idx, np.ceil(bs), 800.0, 200.0, 0.4)
        for k, dep in enumerate(deps):
            at = np.flatnonzero(idx == k)
            same(dec.take(at), batched.decode_steps(dep, bs[at], 1500.0), f"decode {dep.par} {dep.spec}")
            same(mix.take(at), batched.mixed_steps(dep, bs[at], 1500.0, ch[at], 1000.0, 0.7),
                 f"mixed {dep.par} {dep.spec}")
            same(pre.take(at), batched.prefill_passes(dep, np.ceil(bs[at]), 800.0, 200.0, 0.4), f"prefill {dep.par}")


def shapes_of(res, w):
    """Every (deployment, memory slots ≥ 1) of a problem's shapes and speculations."""
    out = []
    for opt in res.gpus:
        for par in shapes_for(res, opt):
            for s in speculations(res):
                dep = deployment(res, opt, par, s)
                slots = perf.max_batch(dep, w.ctx_peak)
                if slots >= 1:
                    out.append((dep, slots))
    return out


@pytest.mark.parametrize("name", ["deepseek_qps.yaml", "deepseek_mtp.yaml", "deepseek_trace.yaml", "deepseek_p99.yaml",
                                  "llama70b_chat.yaml", "rag_long_context.yaml", "deepseek_b200_fp4_experts.yaml"])
def test_many_grids_are_each_shape_s_grid(name):
    res = resolve(load_problem(ROOT / "problems" / name), name)
    w = replace(workload_context(res), tpot_limit=0.0)
    shapes = shapes_of(res, w)
    assert any(d.par.pp > 1 for d, _ in shapes)
    got = tables([d for d, _ in shapes], w, [c for _, c in shapes])
    for (dep, slots), t in zip(shapes, got):
        same(t, table(dep, w, slots), f"{dep.gpu.id} {dep.par} {dep.spec}")


def test_the_grid_problems_cover_the_branches():
    """Of the problems above: MoE and dense, MTP drafts, prompts of several lengths, a TPOT spread."""
    ws = {n: workload_context(resolve(load_problem(ROOT / "problems" / n), n))
          for n in ("deepseek_mtp.yaml", "deepseek_trace.yaml", "deepseek_p99.yaml", "llama70b_chat.yaml")}
    assert ws["deepseek_trace.yaml"].prompt_mix and ws["llama70b_chat.yaml"].prompt_mix
    assert ws["deepseek_p99.yaml"].tpot_spread > 0
    mtp = resolve(load_problem(ROOT / "problems" / "deepseek_mtp.yaml"), "mtp")
    assert any(s is not None for s in speculations(mtp))


def test_shapes_many_does_not_take_are_evaluated_alone():
    """Under the roofline profile (no kernel curves) a deployment has no group; `tables` gives `table`'s."""
    res = resolve(load_problem(ROOT / "problems" / "llama70b_chat.yaml"), "llama")
    w = replace(workload_context(res), tpot_limit=0.0)
    shapes = [(replace(d, calib=load_calibration("roofline")), c) for d, c in shapes_of(res, w)[:4]]
    assert all(group_key(d) is None for d, _ in shapes)
    for (dep, slots), t in zip(shapes, tables([d for d, _ in shapes], w, [c for _, c in shapes])):
        same(t, table(dep, w, slots))


@pytest.mark.parametrize("name", ["deepseek_mtp.yaml", "deepseek_p99.yaml", "llama70b_chat.yaml",
                                  "small_model_cheap_card.yaml"])
def test_decode_searches_together_are_each_shape_s_search(name):
    """`decode.search_all` visits exactly the rounds each shape's own search visits, with the same
    floats, and the decode candidates read from them are those of each shape alone."""
    res = resolve(load_problem(ROOT / "problems" / name), name)
    w = workload_context(res)
    items = [(opt, par, s) for opt in res.gpus for par in shapes_for(res, opt) for s in speculations(res)]

    def rounds():
        return {k: v[1] for k, v in candidate_mod.memo_table.items() if k[0] == "_search_round"}
    candidate_mod.clear_memo()
    alone = [decode_candidate(res, opt, par, w, s) for opt, par, s in items]
    alone_rounds = rounds()
    candidate_mod.clear_memo()
    search_all(res, items, w)
    together = rounds()
    assert len(together) > 10 and together.keys() == alone_rounds.keys()
    for k, v in together.items():
        same(v, alone_rounds[k], str(k))
    assert [decode_candidate(res, opt, par, w, s) for opt, par, s in items] == alone
