"""Services: the groups of demand that pools are sized for.

A single problem is one service (key ''). In a fleet every class is a service of its own, and
(sharing: auto) so is every allowed subset of classes of one model that may share pools: their
mixture must then meet every class's TTFT and the strictest TPOT. The MILP serves each class by
exactly one chosen service.

    Problem | FleetProblem → Resolved per class → service plans → candidates per service
    (dominated ones pruned on fleets) → Service (what milp.build_fleet takes)
"""

from __future__ import annotations

import functools
import itertools
import os
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from planner.errors import BadInput, PlannerNotice
from planner.input.fleet import FleetProblem, RequestClass
from planner.input.problem import SLO, Problem, Workload
from planner.input.values import LengthDist, length_mean
from planner.plan.candidate import gc_paused
from planner.plan.candidates import Candidate, CandidateSet, generate, prune_dominated
from planner.plan.resolve import ClassLoad, Resolved, resolve

if TYPE_CHECKING:
    from planner.catalog.schemas import Model
    from planner.plan import milp

ALL_SUBSETS_UP_TO = 4   # classes of one model: every subset may share pools up to this many;
PAIRS_UP_TO = 16        # beyond it, pairs and all of them together up to this many (n²/2 services);
                        # beyond that, all of them together only: services grow linearly with classes
PARALLEL_FROM = 6       # services: generate candidates in worker processes from this many on
STAT_ORDER = ("p50", "mean", "p90", "p95", "p99")   # from least to most demanding


@dataclass(frozen=True)
class Service:
    """A service with its resolution and candidates (before and after pruning)."""

    key: str                            # '' for a single problem, else '+'-joined class names
    classes: tuple[str, ...]            # () for a single problem
    res: Resolved
    cs: CandidateSet
    candidates: tuple[Candidate, ...]   # after pruning

    def milp_service(self) -> milp.Service:
        from planner.plan import milp  # here, not at the top: reading a plan needs no PuLP
        return milp.Service(self.key, self.candidates, milp.demand_of(self.res), self.classes)


def class_problem(f: FleetProblem, k: RequestClass) -> Problem:
    """One class on its own as a single-workload Problem with the fleet's GPUs, limits and solver
    (and its serving settings, but MTP left out where the class's model has no MTP layers and
    another class's has: `mtp_classes`)."""
    serving = f.serving
    if k.name in mtp_classes(f)[1]:
        serving = serving.model_copy(update={"speculative": None})
    return Problem(name=f"{f.name}:{k.name}", model=k.model, precision=k.precision, workload=k.workload,
                   slo=k.slo, gpus=f.gpus, serving=serving, limits=f.limits, pricing=class_pricing(f, k),
                   solver=f.solver, calibration=f.calibration, calibration_overrides=f.calibration_overrides)


def mtp_classes(f: FleetProblem) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(classes whose model has MTP layers, classes whose model has none) of a fleet whose
    `serving.speculative` is MTP with at least one class able to use it; ((), ()) otherwise. The
    setting is the fleet's, and one model without the layers (Llama beside DeepSeek) left the whole
    fleet without MTP (exit 2): its classes are now planned without it (`note_mtp_classes` says so).
    A model that does not load counts as having them (resolve then names the error)."""
    s = f.serving.speculative
    if s is None or s.method != "mtp":
        return (), ()
    with_layers = {m: _has_mtp_layers(m) for m in {k.model for k in f.classes}}
    if not any(with_layers.values()):   # nobody can use it: each class's resolve refuses it, as a problem's
        return (), ()
    return (tuple(k.name for k in f.classes if with_layers[k.model]),
            tuple(k.name for k in f.classes if not with_layers[k.model]))


@functools.lru_cache(maxsize=256)
def _has_mtp_layers(model: str) -> bool:
    """Whether `model` (a catalog id or config.json) has MTP layers; read once a process, though
    `class_problem` asks for every class and shared subset."""
    from planner.catalog.schemas import get_model
    try:
        return get_model(model).arch.mtp_layers >= 1
    except BadInput:
        return True


def note_mtp_classes(f: FleetProblem, source: str) -> None:
    """A note (stderr) naming the classes a fleet's MTP leaves out (`mtp_classes`)."""
    _, without = mtp_classes(f)
    if without:
        models = sorted({k.model for k in f.classes if k.name in without})
        warnings.warn(f"{source}: serving.speculative: mtp needs a model's multi-token-prediction layers, which "
                      f"{', '.join(models)} {'has' if len(models) == 1 else 'have'} not: class"
                      f"{'es' if len(without) > 1 else ''} {', '.join(without)} {'are' if len(without) > 1 else 'is'} "
                      f"planned without speculative decoding", PlannerNotice, stacklevel=3)


def class_pricing(f: FleetProblem, k: RequestClass):
    """A class's selling prices, with the fleet's currency, exchange rate and GPU price market."""
    if k.pricing is None:
        return f.pricing
    return k.pricing.model_copy(update={"exchange_rate_per_rmb": f.pricing.exchange_rate_per_rmb,
                                        "gpu_market": f.pricing.gpu_market})


def mixture(parts: list[tuple[float, int | LengthDist]]) -> LengthDist:
    """QPS-weighted mixture of the classes' length distributions."""
    values, weights = [], []
    for q, x in parts:
        pairs = [(x, 1.0)] if isinstance(x, int) else x.pairs()
        for v, p in pairs:
            values.append(int(v))
            weights.append(q * p)
    return LengthDist(values=values, weights=weights)


def pooled_problem(f: FleetProblem, ks: list[RequestClass], singles: list[Resolved]) -> Problem:
    """Classes sharing pools as one workload: Σ QPS, mixed lengths, the token-weighted cache hit,
    the tightest TTFT/TPOT and the most demanding statistic (TTFT is also checked per class)."""
    qps = sum(k.workload.qps for k in ks)
    in_tok = sum(k.workload.qps * r.input_mean for k, r in zip(ks, singles))
    unc_tok = sum(k.workload.qps * r.uncached_mean for k, r in zip(ks, singles))
    hit = 100.0 * (1.0 - unc_tok / in_tok)
    wl = Workload(qps=qps, input_tokens=mixture([(k.workload.qps, k.workload.input_tokens) for k in ks]),
                  output_tokens=mixture([(k.workload.qps, k.workload.output_tokens) for k in ks]),
                  prefix_cache_hit_percent=min(max(hit, 0.0), 100.0))
    slo = SLO(ttft=min(k.slo.ttft for k in ks), tpot=min(k.slo.tpot for k in ks),
              ttft_statistic=max((k.slo.ttft_statistic for k in ks), key=STAT_ORDER.index),
              tpot_statistic=max((k.slo.tpot_statistic for k in ks), key=STAT_ORDER.index))
    return class_problem(f, ks[0]).model_copy(update={
        "name": f"{f.name}:{service_key(ks)}", "workload": wl, "slo": slo, "pricing": f.pricing})


def service_key(ks: list[RequestClass]) -> str:
    return "+".join(k.name for k in ks)


def sharing_subsets(n: int) -> list[tuple[int, ...]]:
    """Index sets of classes (of one model) that may share pools: all subsets of ≥ 2 up to
    ALL_SUBSETS_UP_TO classes, pairs and the whole group up to PAIRS_UP_TO, else the whole group
    only (so the work grows linearly beyond it, not with the square of the classes).

    >>> len(sharing_subsets(4)), len(sharing_subsets(16)), len(sharing_subsets(200))
    (11, 121, 1)
    """
    if n < 2:
        return []
    if n <= ALL_SUBSETS_UP_TO:
        return [s for r in range(2, n + 1) for s in itertools.combinations(range(n), r)]
    if n <= PAIRS_UP_TO:
        return list(itertools.combinations(range(n), 2)) + [tuple(range(n))]
    return [tuple(range(n))]


def resolve_classes(f: FleetProblem, source: str) -> list[Resolved]:
    """Each class resolved on its own (model, GPUs, calibration); errors name classes[i]."""
    out = []
    note_mtp_classes(f, source)
    for i, k in enumerate(f.classes):
        try:
            out.append(resolve(class_problem(f, k), source))
        except BadInput as e:
            raise in_class(e, source, i) from None
    one_model_per_name(out, source)
    return out


def in_class(e: BadInput, source: str, i: int) -> BadInput:
    """A class's resolve error with the field's path inside the fleet file (classes[i].…)."""
    return BadInput(str(e).replace(f"{source}: model:", f"{source}: classes[{i}].model:")
                    .replace(f"{source}: precision.", f"{source}: classes[{i}].precision."))


def _model_source(r: Resolved) -> str:
    """Where a class's model comes from: the catalog id, or a config.json's resolved path, or a
    Hugging Face id."""
    from planner.catalog.schemas import load_models
    src = r.problem.model.strip()
    if src.lower() in load_models():   # an id or alias, as get_model reads it first
        return r.model.id
    p = Path(src)
    if p.is_dir():   # a folder is read through its config.json: `m8` and `m8/config.json` are one model
        p = p / "config.json"
    return str(p.resolve()) if p.exists() else src


def one_model_per_name(singles: list[Resolved], source: str) -> None:
    """BadInput when two classes name different models by one id (config.json folders of one name,
    or a folder named like a catalog model): they were taken for one model, shared its pools and
    were exported with one checkpoint."""
    seen: dict[str, tuple[int, str]] = {}
    for i, r in enumerate(singles):
        where = _model_source(r)
        j, other = seen.setdefault(r.model.id, (i, where))
        if other != where:
            raise BadInput(f"{source}: classes[{i}].model: {r.problem.model} is another model than classes[{j}]'s "
                           f"({singles[j].problem.model}), under the same name {r.model.id!r} (a config.json takes "
                           f"its folder's name); give one of them a folder of another name")


def service_plans(f: FleetProblem, singles: list[Resolved]) -> list[tuple[list[RequestClass], Resolved]]:
    """Every single class, and (sharing: auto) every allowed subset of same-model classes,
    each with the Resolved its candidates are generated for."""
    out = [([k], r) for k, r in zip(f.classes, singles)]
    if f.sharing == "none":
        return out
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, r in enumerate(singles):
        groups[(r.model.id, r.weight_dtype, r.expert_dtype, r.part_dtypes, r.kv_dtype)].append(i)
    for idx in groups.values():
        for sub in sharing_subsets(len(idx)):
            ks = [f.classes[idx[j]] for j in sub]
            rs = [singles[idx[j]] for j in sub]
            p = pooled_problem(f, ks, rs)
            out.append((ks, Resolved(p, rs[0].model, rs[0].gpus, rs[0].calib, rs[0].weight_dtype,
                                     rs[0].kv_dtype, rs[0].source,
                                     tuple(ClassLoad(k.name, k.workload, k.slo) for k in ks),
                                     rs[0].expert_dtype, rs[0].part_dtypes)))
    return out


def fleet_services(f: FleetProblem, singles: list[Resolved], workers: int | None = None) -> list[Service]:
    """Candidates of every service of a fleet; in `workers` processes (default: the machine's
    cores) when there are many services. Results do not depend on the number of workers."""
    plans = service_plans(f, singles)
    workers = min(workers or os.cpu_count() or 1, len(plans))
    resolved = [r for _, r in plans]
    if workers > 1 and len(plans) >= PARALLEL_FROM:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        # the workers are forked with the services (`_inherit`) and take them by index, a model's together
        # (`work_chunks`): pickled per service, a Resolved came back with catalog objects of its own, so no
        # two services in a worker shared a deployment and its derived values, as they do in one process
        chunks = work_chunks(resolved, workers)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=_inherit,
                                 initargs=(resolved,)) as pool:
            done = pool.map(functools.partial(_service_sets_at, prune=f.prune_dominated), chunks, chunksize=1)
            got = {i: one for chunk, ones in zip(chunks, done) for i, one in zip(chunk, ones)}
        sets = [got[i] for i in range(len(plans))]
    else:
        with gc_paused():   # across the services too (`generate` pauses it for each)
            sets = [_service_sets(r, f.prune_dominated) for r in resolved]
    return [Service(service_key(ks), tuple(k.name for k in ks), res, cs, kept)
            for (ks, res), (cs, kept) in zip(plans, sets)]


_inherited: list[Resolved] = []   # a worker process's services (`fleet_services`)


def _inherit(resolved: list[Resolved]) -> None:
    """A worker's initializer: the services as the parent holds them (a forked process receives its
    arguments as objects, unpickled; they share their catalog objects)."""
    _inherited[:] = resolved


def _service_sets_at(chunk: list[int], prune: bool) -> list[tuple[CandidateSet, tuple[Candidate, ...]]]:
    """`_service_sets` of the worker's services `chunk`, in order."""
    return [_service_sets(_inherited[i], prune) for i in chunk]


def work_chunks(resolved: list[Resolved], workers: int) -> list[list[int]]:
    """The services (indices into `resolved`) cut into the tasks the workers take, largest first: each
    model's services together, so a worker builds a model's deployments and derived values once for
    several of its services, cut in halves until none is estimated above a sixth of the whole at two
    workers (1/(3·workers)), so the workers still end together. A service is estimated at its
    model's shapes over its GPU types (`shapes_for` of the model's first service)."""
    from planner.plan.shapes import shapes_for
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(resolved):
        groups.setdefault(r.model.id, []).append(i)
    each = {m: sum(len(shapes_for(resolved[ix[0]], o)) for o in resolved[ix[0]].gpus) or 1 for m, ix in groups.items()}
    most = sum(each[m] * len(ix) for m, ix in groups.items()) / (3 * workers)
    chunks: list[tuple[float, list[int]]] = []
    todo = [(m, ix) for m, ix in groups.items()]
    while todo:
        m, ix = todo.pop()
        if len(ix) > 1 and each[m] * len(ix) > most:
            todo += [(m, ix[:len(ix) // 2]), (m, ix[len(ix) // 2:])]
        else:
            chunks.append((each[m] * len(ix), ix))
    return [ix for _, ix in sorted(chunks, key=lambda c: (-c[0], c[1][0]))]


def _service_sets(res: Resolved, prune: bool) -> tuple[CandidateSet, tuple[Candidate, ...]]:
    """A service's candidates, and those the fleet's MILP takes (`needed`, or all of them without
    `prune`): pruned where they are generated, in a worker process too (pickled with the set, the
    kept ones are the set's own objects)."""
    cs = generate(res)
    return cs, needed(cs.candidates, res) if prune else cs.candidates


def note_context(res: Resolved, source: str) -> None:
    """A note (stderr) when a request's longest prompt and output pass the model's context
    (max_position_embeddings): engines refuse such requests unless RoPE scaling extends the context,
    and the plan would count requests no engine serves."""
    longest = max(v for v, _ in res.input_dist) + max(v for v, _ in res.output_dist)
    trace = res.problem.workload.trace_load
    if trace is not None:   # a trace's lengths are bucket means: a 200,000-token row in a bucket said nothing
        longest = max(longest, trace.longest_tokens)
    note_past_context(res.model, longest, source)


def note_past_context(model: Model, longest: float, source: str) -> None:
    """`note_context`'s note for requests of up to `longest` tokens (a plan file's too)."""
    ctx, scaled = model.arch.context, model.arch.context_from != "max_position_embeddings"
    if ctx and longest > ctx:
        warnings.warn(f"{source}: {model.id}: requests of up to {longest:,.0f} tokens (prompt and output) "
                      f"pass its context of {ctx:,} tokens ({model.arch.context_from}); engines refuse "
                      f"them unless {'a larger ' if scaled else ''}RoPE scaling extends it", PlannerNotice,
                      stacklevel=3)


def single_service(res: Resolved, cs: CandidateSet | None = None) -> Service:
    """A single problem as one service, every candidate kept. Pruning (`needed`) would halve its
    MILP's time at the same optimum, but lets the solver land on another plan of equal cost (the
    examples' llama70b_chat: 3 prefill + 1 decode instance instead of 2 colocated, TTFT 965 vs
    302 ms), and nothing in the objective prefers one of them."""
    cs = cs if cs is not None else generate(res)
    return Service("", (), res, cs, cs.candidates)


def needed(cands: tuple[Candidate, ...], res: Resolved) -> tuple[Candidate, ...]:
    """`cands` without those others replace at no extra cost under this problem's rules
    (candidates.prune_dominated): with node redundancy a replacement loses no more with a node, with
    limits.max_pool_shapes it has the same shape."""
    p = res.problem
    node_cards = {o.id: o.gpu.node_cards for o in res.gpus} if p.serving.redundancy == "node" else None
    return prune_dominated(cands, node_cards, same_shape=p.limits.max_pool_shapes is not None)


def class_lengths(w: Workload) -> tuple[float, float, float]:
    """(mean input, mean uncached input, mean output) tokens of a workload."""
    s_in = length_mean(w.input_tokens)
    return s_in, s_in * (1 - w.prefix_cache_hit), length_mean(w.output_tokens)
