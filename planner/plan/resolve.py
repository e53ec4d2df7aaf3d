"""Resolution: a problem joined with its catalogs (model, GPUs with the problem's prices and caps,
calibration), in SI units — everything the later stages of planning need.

Glossary: `Resolved` one workload (a single problem, or the mixture of fleet classes that share
pools), `GPUOption` a GPU type as the problem sees it, `ClassLoad` one class inside a mixture.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from planner.catalog.calibration import CalibParam, Calibration, load_calibration
from planner.catalog.schemas import GPU, Model, get_gpu, get_model, load_gpus
from planner.errors import BadInput, PlannerNotice, first_time, plural
from planner.input.problem import SLO, GPUChoice, Problem, Workload
from planner.input.values import length_mean, length_pairs


@dataclass(frozen=True)
class GPUOption:
    """A GPU type as this problem sees it: catalog entry plus effective price, caps and inventory."""

    gpu: GPU
    price_per_card_hour: float
    max_cards: int | None
    owned_nodes: int
    owned_cost_per_card_hour: float
    price_market: str | None = None   # the catalog price's market (china/global); None: priced by the problem

    @property
    def id(self) -> str:
        return self.gpu.id


@dataclass(frozen=True)
class ClassLoad:
    """One request class inside a pooled workload (fleets): its own lengths and SLO."""

    name: str
    workload: Workload
    slo: SLO


@dataclass(frozen=True)
class Resolved:
    """A problem joined with its catalogs: everything downstream stages need, SI units.

    `classes` is empty for a single workload; for pools shared by several request classes
    (fleets) `problem.workload` is their mixture, `problem.slo` the strictest limits, and
    `classes` keeps each class so that TTFT and decode context are computed per class.
    """

    problem: Problem
    model: Model
    gpus: tuple[GPUOption, ...]
    calib: Calibration
    weight_dtype: str
    kv_dtype: str
    source: str
    classes: tuple[ClassLoad, ...] = ()
    expert_dtype: str | None = None   # routed experts' weights (None: weight_dtype)
    part_dtypes: tuple[tuple[str, str], ...] = ()   # dense parts apart from weight_dtype (Deployment's)

    def option(self, gpu_id: str) -> GPUOption:
        """The problem's option for GPU type `gpu_id` (candidates only carry the id)."""
        return next(o for o in self.gpus if o.id == gpu_id)

    @property
    def qps(self) -> float:
        return self.problem.workload.qps

    @property
    def input_dist(self) -> list[tuple[float, float]]:
        return length_pairs(self.problem.workload.input_tokens)

    @property
    def output_dist(self) -> list[tuple[float, float]]:
        return length_pairs(self.problem.workload.output_tokens)

    @property
    def input_mean(self) -> float:
        return sum(v * p for v, p in self.input_dist)

    @property
    def output_mean(self) -> float:
        return sum(v * p for v, p in self.output_dist)

    @property
    def first_token_decoded(self) -> int:
        """1 when a decode step makes a request's first token too (every prompt token cached: no
        prompt pass runs), else 0 (the pass that ends its prompt makes it, in a prefill or
        colocated instance)."""
        return 1 if self.uncached_mean <= 0 else 0

    @property
    def decode_lengths(self) -> list[tuple[float, float]]:
        """(tokens decode steps make, probability) of each output length: L − 1, or L when a
        decode step makes the first token too (`first_token_decoded`)."""
        return [(max(v - 1.0 + self.first_token_decoded, 0.0), p) for v, p in self.output_dist]

    @property
    def decode_mean(self) -> float:
        """Mean tokens decode steps make, E[L − 1] (E[L] with every prompt token cached)."""
        return self.output_mean if self.first_token_decoded else max(self.output_mean - 1.0, 0.0)

    @property
    def hit(self) -> float:
        return self.problem.workload.prefix_cache_hit

    @property
    def uncached_mean(self) -> float:
        return self.input_mean * (1.0 - self.hit)

    @property
    def decode_context_mean(self) -> float:
        """Mean context of a sequence in a decode batch (see `decode_context`)."""
        if not self.classes:
            return self.input_mean + self.output_mean / 2.0
        return decode_context([(k.workload.qps, length_mean(k.workload.input_tokens),
                                length_mean(k.workload.output_tokens))
                               for k in self.classes])


def decode_context(classes: list[tuple[float, float, float]]) -> float:
    """Mean context in a decode batch shared by classes (qps, mean s_in, mean s_out): s_in + s_out/2
    weighted by the output tokens each spends in the batch, Σ q·s_out·(s_in + s_out/2) / Σ q·s_out."""
    return (sum(q * s_out * (s_in + s_out / 2.0) for q, s_in, s_out in classes)
            / sum(q * s_out for q, _, s_out in classes))


def _model_or_hint(name: str, source: str):
    """`get_model(name)`; an unknown bare name that is a file or folder beside the problem file says
    how to read it (a bare name is a catalog id: `model: ernie45_21b` worked from the problem's own
    directory alone, and elsewhere read 'unknown model' without a word on why)."""
    try:
        return get_model(name)
    except BadInput as e:
        near = Path(source).parent / name   # os.path: False for a name too long to be a path (Path raised)
        if "/" in name or not str(e).startswith("unknown model") or not (os.path.isdir(near) or os.path.isfile(near)):
            raise
        kind = "folder" if os.path.isdir(near) else "file"
        raise BadInput(f"{e} A {kind} {name!r} is beside the problem file: a bare name is a catalog id; write "
                       f"model: ./{name} to read its config.json") from None


PERIOD_CAPS = ("max_cards_per_period", "on_demand_max_cards_per_period", "spot_max_cards_per_period")
NOTED_CAPS = ("max_cards", *PERIOD_CAPS)   # the caps `card_cap` notes when they are not whole nodes


def _spans(xs: list[int]) -> str:
    """Period indices as runs: [1, 2, 3, 7] → '1–3, 7'."""
    runs: list[list[int]] = []
    for x in xs:
        if runs and x == runs[-1][1] + 1:
            runs[-1][1] = x
        else:
            runs.append([x, x])
    return ", ".join(f"{a}" if a == b else f"{a}–{b}" for a, b in runs)


def _note_period_caps(choice: GPUChoice, gpu: GPU, where: str, keys: Collection[str]) -> None:
    """One note per per-period cap list of `keys` holding values that are not whole nodes (each
    used as the whole nodes below it), once a command, as a max_cards is noted: they were rounded
    down without a word (a hunt, 2026-12-07)."""
    n = gpu.node_cards
    for key in (k for k in PERIOD_CAPS if k in keys):
        values = getattr(choice, key) or ()
        odd = [p for p, v in enumerate(values) if v % n]
        if not odd or not first_time((key, gpu.id, tuple(values))):
            continue
        p, v = odd[0], values[odd[0]]
        rest = (f"; so are the caps of {plural(len(odd) - 1, 'other period')} ({_spans(odd[1:])}), each used as "
                f"the whole nodes below it") if len(odd) > 1 else ""
        warnings.warn(f"{where}.{key}[{p}]: {plural(v, 'card')} in period {p} is not a whole number of {gpu.id} "
                      f"nodes ({plural(n, 'card')} each); plan rents whole nodes, so it is used as "
                      f"{plural(v // n * n, 'card')} ({plural(v // n, 'node')}){rest}", PlannerNotice, stacklevel=3)


def card_cap(choice: GPUChoice, gpu: GPU, where: str, note: Collection[str] = ()) -> int | None:
    """The cards of `gpu` a problem may use (max_cards, max_nodes), or None; BadInput when its owned
    nodes exceed them or a cap (per period too) is below one node (also checked as a what-if scenario
    is applied, before any solve). A cap of `note` (of NOTED_CAPS) that is not whole nodes is noted,
    once a command: `where` names the entry as its file writes it (a scenario's `gpus.update.h100`)."""
    for key in PERIOD_CAPS:
        for p, v in enumerate(getattr(choice, key) or ()):   # that period would never have a node (a hunt)
            if 0 < v < gpu.node_cards:
                raise BadInput(f"{where}.{key}[{p}]: {plural(v, 'card')} in period {p}, less than one {gpu.id} "
                               f"node ({plural(gpu.node_cards, 'card')}); plan rents whole nodes, so that period "
                               f"would have none: give {gpu.node_cards} or more, or 0 for none that period")
    cap = choice.max_cards
    if choice.max_nodes is not None:
        node_cap = choice.max_nodes * gpu.node_cards
        cap = node_cap if cap is None else min(cap, node_cap)
    if cap is not None and choice.owned_nodes * gpu.node_cards > cap:
        raise BadInput(f"{where}.owned_nodes: owned inventory of {choice.owned_nodes} node(s) "
                       f"({plural(choice.owned_nodes * gpu.node_cards, 'card')}) exceeds the availability cap "
                       f"of {plural(cap, 'card')}; raise max_cards/max_nodes or lower owned_nodes")
    if cap is not None and 0 < cap < gpu.node_cards:   # it left the GPU out without a word (a hunt, 2026-12-07)
        raise BadInput(f"{where}.max_cards: {plural(cap, 'card')}, less than one {gpu.id} node "
                       f"({plural(gpu.node_cards, 'card')}); plan rents whole nodes, so {gpu.id} would never be "
                       f"used: give {gpu.node_cards} or more (or max_nodes), or 0 to leave it out")
    if "max_cards" in note and cap is not None and cap == choice.max_cards and cap % gpu.node_cards \
            and first_time(('max_cards', gpu.id, cap)):   # it was rounded down to whole nodes without a word
        nodes = cap // gpu.node_cards
        warnings.warn(f"{where}.max_cards: {plural(cap, 'card')} is not a whole number of {gpu.id} nodes "
                      f"({plural(gpu.node_cards, 'card')} each); plan rents whole nodes, so it is used as "
                      f"{plural(nodes * gpu.node_cards, 'card')} ({plural(nodes, 'node')})", PlannerNotice,
                      stacklevel=2)
    _note_period_caps(choice, gpu, where, note)
    return cap


def resolve(problem: Problem, source: str = "problem") -> Resolved:
    """Look up model, GPUs and calibration; check cross-field consistency (caps vs inventory)."""
    model = _in(source, "model", lambda: _model_or_hint(problem.model, source))
    catalog = load_gpus()
    options = []
    for i, choice in enumerate(problem.gpus):
        gpu = _in(source, f"gpus[{i}].id", lambda c=choice: get_gpu(c.id, catalog))
        cap = card_cap(choice, gpu, f"{source}: gpus[{i}]", note=NOTED_CAPS)
        price, market = choice.price_per_gpu_hour, None
        if price is None:
            listed = gpu.price_in(problem.pricing.gpu_market)
            price, market = listed.value * _rate(problem, source, i, gpu.id), listed.market
        options.append(GPUOption(gpu, price, cap, choice.owned_nodes, choice.owned_cost_per_gpu_hour, market))
    calib = _in(source, "calibration", lambda: load_calibration(problem.calibration))
    if problem.calibration_overrides:
        calib = _in(source, "calibration_overrides",
                    lambda: calib.with_overrides(problem.calibration_overrides))
    if problem.slo.confidence is not None:
        calib = at_confidence(calib, problem.slo.confidence, source)
    pr = problem.precision
    if missing := model.arch.missing_part(pr.experts, pr.shared_experts):
        raise BadInput(f"{source}: precision.{missing}: {model.id} has no "
                       f"{'routed experts (a dense model)' if missing == 'experts' else 'shared experts'}; drop it")
    weights, experts = model.precisions(pr.weights, pr.experts)
    parts = model.part_precisions(pr.weights, {"attention": pr.attention, "dense_mlp": pr.dense_mlp,
                                               "shared_experts": pr.shared_experts})
    return Resolved(problem, model, tuple(options), calib, weights, pr.kv, source,
                    expert_dtype=experts, part_dtypes=parts)


CATALOG_RMB_PER_USD = 7.1   # catalogs/gpus.yaml converts USD listings at this rate (said there)


def _rate(problem: Problem, source: str, i: int, gpu_id: str) -> float:
    """Units of the problem's currency per RMB, for GPU i's catalog price; BadInput when the
    problem prices in another currency and gives no rate."""
    rate = problem.pricing.rate_per_rmb()
    if rate is None:
        cur = problem.pricing.currency
        hint = (f", e.g. {1 / CATALOG_RMB_PER_USD:.4f} to undo the catalog's own conversion of USD listings "
                f"at {CATALOG_RMB_PER_USD} RMB/USD") if cur == "USD" else ""
        raise BadInput(f"{source}: pricing.exchange_rate_per_rmb: the problem prices in {cur} but gpus[{i}] "
                       f"({gpu_id}) takes its price from the catalog, which is in RMB; give "
                       f"pricing.exchange_rate_per_rmb ({cur} per RMB{hint}) or price_per_gpu_hour for that GPU")
    return rate


def _in(source: str, field: str, fn):
    """Run a catalog look-up, prefixing any BadInput with the file and field it came from."""
    try:
        return fn()
    except BadInput as e:
        raise BadInput("\n".join(f"{source}: {field}: {line}" for line in str(e).splitlines())) from None


CONFIDENCE_NOTE = "slo.confidence"   # how `at_confidence` begins the source of the scales it sets


def confidence_scales(calib: Calibration) -> tuple[float, float]:
    """(decode, prefill) time scales that slo.confidence set (`at_confidence`), 1 where it set none:
    a scale from a profile or an override is the model's own, and a plan's error band lies around
    the times it prints (it was divided out: a 2× override read 'p90 23.6 ms' beside a 36.8 ms pool)."""
    def of(name: str) -> float:
        p = getattr(calib, name)
        return p.value if p.source.startswith(CONFIDENCE_NOTE) else 1.0
    return of("decode_time_scale"), of("prefill_time_scale")


def at_confidence(calib: Calibration, percent: float, source: str) -> Calibration:
    """The profile with its steps and passes slowed by its cross-validated error at `percent`
    (slo.confidence): decode by the TPOT factor, prefill and the fixed TTFT by the TTFT factor, each
    at least 1 (a confidence below the median never plans on the model being pessimistic)."""
    band = calib.error_band
    if band is None:
        raise BadInput(f"{source}: slo.confidence: the calibration profile {calib.name!r} carries no "
                       f"cross-validated error band (error_band); use one that does (default, vllm, sglang, "
                       f"trtllm) or leave slo.confidence out")
    scaled = [k for k in ("decode_time_scale", "prefill_time_scale") if calib.v(k) != 1.0]
    if scaled:   # the scale was replaced without a word (a 2× override planned as none)
        raise BadInput(f"{source}: slo.confidence: the calibration already scales step times "
                       f"({', '.join(f'{k} {calib.v(k):g}' for k in scaled)}); slo.confidence sets them from the "
                       f"error band: give one or the other")
    note = f"{CONFIDENCE_NOTE} {percent:g} %: the error at that percentile ({band.source})"
    dec = CalibParam(value=max(1.0, band.tpot_factor(percent)), source=note)
    pre = CalibParam(value=max(1.0, band.ttft_factor(percent)), source=note)
    return calib.model_copy(update={"decode_time_scale": dec, "prefill_time_scale": pre,
                                    "name": f"{calib.name}@{percent:g}%"})
