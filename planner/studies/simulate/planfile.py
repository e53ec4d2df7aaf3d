"""The plan file the simulator reads: the keys of a `plan solve` JSON it needs, validated.

This is the reader's side of the plan JSON contract (`Plan.as_dict()`, docs/studies.md "Checking a
plan by simulation"); `load_plan` reads a file, `plan_from_dict` checks data already in memory.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from planner.errors import BadInput, plural, shown_json, suggest
from planner.input.files import read_json, validate
from planner.input.values import MAX_QPS, MAX_TITLE, Name, Title, one_line_name


class _PlanPart(BaseModel):
    """Keys of a `plan solve` JSON the simulator reads. Unknown keys are ignored, not
    forbidden: the plan is written by `plan solve`, whose contract grows additively."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True, allow_inf_nan=False)


# the domains of what a problem file may hold (planner.input.values), so a hand-edited plan file
# cannot hand the simulator a number no problem could have produced (10^308 tokens overflowed it)
MAX_TOKENS = 10_000_000          # a prompt or an output, as in a problem file
MAX_RATE = 1e15                  # tokens or requests per second of one pool or workload
MAX_SECONDS = 1e9                # a latency or limit (a problem file's durations stop at ~31 years)
Positive = Annotated[float, Field(gt=0, le=MAX_RATE, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, le=MAX_RATE, allow_inf_nan=False)]
Tokens = Annotated[float, Field(gt=0, le=MAX_TOKENS, allow_inf_nan=False)]
ChunkTokens = Annotated[float, Field(ge=0, le=MAX_TOKENS, allow_inf_nan=False)]
Latency = Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
MAX_BATCH = 10_000_000           # sequences of one instance (a problem's token bound: one token each)
Batch = Annotated[float, Field(ge=0, le=MAX_BATCH, allow_inf_nan=False)]
PeriodQps = Annotated[float, Field(ge=0, le=MAX_QPS, allow_inf_nan=False)]   # 0: a period without load
# plan.verify.REL_TOL, not imported (the solver's modules stay out of export and simulate; a test checks
# they agree): verification passes a utilization up to 1 + this, so plan solve writes such plans, and
# at 10^7 req/s a pool at 1.0000005 of its capacity was refused by export and simulate (2026-12-04)
UTILIZATION_TOL = 1e-6


def served_model_name(v: str) -> str:
    """A plan's `model` is the name the exported engines serve it under (--served-model-name) and
    the router and load test ask for: a word an engine cannot read as a flag or split in two
    (`--trust-remote-code` was exported as the served name, after --served-model-name)."""
    if v.startswith("-") or any(ch.isspace() for ch in v):
        raise ValueError("not a model name an engine serves (one word, not starting with '-'); plan solve "
                         "writes the catalog id of the model it planned")
    return v


def not_a_flag(v: str) -> str:
    """A plan's `model_source` becomes the path the engines load when --model-path is not given:
    one starting with '-' would be read as a flag."""
    if v.startswith("-"):
        raise ValueError("starts with '-', which the engines would read as a flag; write ./ before a path "
                         "of that name")
    return v


ServedName = Annotated[str, AfterValidator(one_line_name), AfterValidator(served_model_name)]
SourceName = Annotated[str, AfterValidator(one_line_name), AfterValidator(not_a_flag)]


class PlanParallelism(_PlanPart):
    tp: Annotated[int, Field(ge=1, le=65536)]
    pp: Annotated[int, Field(ge=1, le=65536)]
    dp: Annotated[int, Field(ge=1, le=65536)]


class PlanSpeculative(_PlanPart):
    method: Literal["mtp", "eagle"]
    draft_tokens: Annotated[int, Field(ge=1, le=8)]
    acceptance: Annotated[float, Field(gt=0, lt=1)]


class PlanPool(_PlanPart):
    name: Title   # one line, as a problem's name: it heads the simulation's table rows (4 MB were printed whole)
    role: Literal["prefill", "decode", "colocated"]
    gpu: str
    instances: Annotated[int, Field(ge=1, le=1_000_000)]   # plan.milp.MAX_INSTANCES: what plan solve may write
    parallelism: PlanParallelism
    cards_per_instance: Annotated[int, Field(ge=1)] | None = None   # tp·pp·dp (checked in plan_from_dict)
    design_batch: Annotated[int, Field(ge=1, le=MAX_BATCH)]
    slots: Annotated[int, Field(ge=1, le=MAX_BATCH)] | None = None   # plans before 2026-12-04: None
    chunk_tokens: ChunkTokens
    engine_chunk_tokens: ChunkTokens | None = None   # plans before it: None (the chunk)
    capacity_prefill_tokens_per_s: NonNegative
    capacity_decode_tokens_per_s: NonNegative
    utilization: Annotated[float, Field(ge=0, le=1 + UTILIZATION_TOL, allow_inf_nan=False)]   # of the capacity
    batch: Batch
    ttft_s: Latency | None = None
    tpot_s: Latency | None = None
    batch_at_tpot_statistic: Batch | None = None
    speculative: PlanSpeculative | None = None
    memory_per_card_bytes: NonNegative | None = None   # as sized (tables.check_precision); None: not said

    @model_validator(mode="after")
    def _as_plan_solve_writes_it(self) -> PlanPool:
        """What every pool `plan solve` writes holds: a mean batch within what an instance admits
        (its `slots`, which a colocated pool's batch may reach beyond its design batch when it is
        routed more prompts than its design mix; the design batch for plans without slots), and
        the latency its role is held to (a decode pool's TPOT, a prefill pool's TTFT, a colocated
        pool's both); an edit that breaks them was simulated and shown as if planned."""
        # slots, where given, is what the engine admits (--max-num-seqs): slots 10 beside a batch of 68.6 (a hunt)
        admits, what = (self.slots, "slots") if self.slots is not None else (self.design_batch, "design_batch")
        if self.slots is not None and self.slots < self.design_batch:
            raise ValueError(f"slots {self.slots} is below design_batch {self.design_batch}: plan solve admits at "
                             f"least the batch it designed for")
        if self.batch > admits * (1 + 1e-9):
            raise ValueError(f"batch {self.batch:g} is above {what} {admits}: an instance never runs more "
                             f"sequences than it admits")
        for key, roles in (("tpot_s", ("decode", "colocated")), ("ttft_s", ("prefill", "colocated"))):
            if self.role in roles and getattr(self, key) is None:
                raise ValueError(f"{key} is null; plan solve writes it for a {self.role} pool")
        if self.role != "colocated" and self.chunk_tokens > 0:   # a colocated pool relabelled: its chunks
            raise ValueError(f"chunk_tokens is {self.chunk_tokens:g}; a {self.role} pool takes no prompt chunks "
                             f"into its steps (plan solve writes 0), only a colocated one does")
        if self.role != "prefill" and self.capacity_decode_tokens_per_s <= 0:
            raise ValueError(f"capacity_decode_tokens_per_s is 0; a {self.role} pool decodes (plan solve writes "
                             f"its capacity, which the simulation measures its load against)")
        for key, role in (("capacity_decode_tokens_per_s", "prefill"), ("capacity_prefill_tokens_per_s", "decode")):
            if self.role == role and getattr(self, key) > 0:   # export's router gave it the other role's traffic
                raise ValueError(f"{key} is {getattr(self, key):g}; a {role} pool has none (plan solve writes 0)")
        return self

    @property
    def step_token_budget(self) -> float:
        """Prompt tokens a colocated engine takes into one step: the plan's engine budget (the chunk
        with prompts of one length, the pass budget with several; older plans, the chunk)."""
        return self.engine_chunk_tokens or self.chunk_tokens

    @property
    def engine_batch(self) -> int:
        """Sequences an engine admits (vLLM --max-num-seqs, SGLang --max-running-requests): the
        plan's `slots`, the servers of its slot-wait model and what the simulation admits (the
        instance's memory at the longest sequences), so that the engine queues no request the plan
        and its simulation let in. Capped at the design batch, such an engine kept the seed's H20
        pool at 478 of its 4,289 sequences and made requests wait for a slot the plan did not count
        (51.3 ms TPOT simulated so against 49.7 planned). Plans written before `slots`: the design
        batch, or the batch the TPOT statistic was sized at (physics.batch_spread)."""
        if self.slots is not None:
            return self.slots
        return max(self.design_batch, math.ceil(self.batch_at_tpot_statistic or 0.0))


class PlanWorkload(_PlanPart):
    qps: Annotated[float, Field(gt=0, le=MAX_QPS, allow_inf_nan=False)]
    input_tokens: Tokens
    output_tokens: Tokens
    prefix_cache_hit: Annotated[float, Field(ge=0, le=1)] = 0.0
    input_distribution: list[list[float]] | None = None   # [[tokens, probability], ...]
    output_distribution: list[list[float]] | None = None

    @field_validator("input_distribution", "output_distribution")
    @classmethod
    def _pairs(cls, v: list[list[float]] | None) -> list[list[float]] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("must list at least one [tokens, probability] pair")
        for pair in v:
            if len(pair) != 2 or not all(map(math.isfinite, pair)) or not 1 <= pair[0] <= MAX_TOKENS \
                    or not 0 < pair[1] <= 1e12:
                raise ValueError(f"each entry must be [tokens in 1 … {MAX_TOKENS:,}, probability > 0], got {pair}")
        return v

    @model_validator(mode="after")
    def _means_agree(self) -> PlanWorkload:
        """Each distribution's mean is its token count, as plan solve writes them: an edit of one
        (a mean of 150 beside input_tokens 500) was simulated from the distribution while the pools
        had been sized for the count."""
        for key in ("input", "output"):
            dist, tokens = getattr(self, f"{key}_distribution"), getattr(self, f"{key}_tokens")
            if dist:
                mean = sum(v * p for v, p in dist) / sum(p for _, p in dist)
                if abs(mean - tokens) > 1e-6 * tokens + 1e-9:
                    raise ValueError(f"{key}_distribution: its mean is {mean:,.6g} tokens, {key}_tokens "
                                     f"{tokens:,.6g}; plan solve writes them alike (edit both, or re-solve)")
        return self


class PlanSLO(_PlanPart):
    ttft_s: Latency
    tpot_s: Latency
    ttft_statistic: Literal["mean", "p50", "p90", "p95", "p99"] = "mean"
    tpot_statistic: Literal["mean", "p50", "p90", "p95", "p99"] = "mean"


class PlanClass(PlanWorkload):
    """One request class of pools shared by several (a fleet's service): its own lengths and SLO."""

    name: Name
    slo: PlanSLO


class PlanFile(_PlanPart):
    # names written into exported commands, manifests and tables: one printable line each
    problem: Name
    classes: list[PlanClass] = []   # request classes sharing the pools (fleets); empty: one workload
    model: ServedName
    model_source: SourceName | None = None       # what the problem wrote (catalog id or config path)
    weight_dtype: Literal["bf16", "fp16", "fp8", "int8", "fp4"]
    expert_dtype: Literal["bf16", "fp16", "fp8", "int8", "fp4"] | None = None   # plans before it: None
    # dense parts stored apart (attention, dense_mlp, shared_experts); absent: all at weight_dtype
    part_dtypes: dict[Literal["attention", "dense_mlp", "shared_experts"],
                      Literal["bf16", "fp16", "fp8", "int8", "fp4"]] = {}
    kv_dtype: Literal["bf16", "fp16", "fp8", "int8", "fp4"]
    calibration: Name
    calibration_source: Name | None = None
    calibration_overrides: dict[str, float] = {}
    workload: PlanWorkload
    slo: PlanSLO
    pools: list[PlanPool] = Field(min_length=1)


class HorizonClassLoad(_PlanPart):
    name: str
    qps: PeriodQps
    input_tokens_mean: Tokens | None = None     # the class's lengths in the period (plans before them: None)
    output_tokens_mean: Tokens | None = None


class HorizonPeriod(_PlanPart):
    """The keys of one period of a plan over a load profile that the simulator reads."""

    index: Annotated[int, Field(ge=0)] | None = None
    hours: Latency | None = None               # hours, not seconds: a positive finite length
    qps: PeriodQps
    input_tokens_mean: Tokens | None = None    # a single workload's; a fleet's periods list classes
    output_tokens_mean: Tokens | None = None
    pools: list[PlanPool]                      # every period's, whichever is simulated (a hunt: only its own)
    classes: list[HorizonClassLoad] | None = None


class HorizonComparison(_PlanPart):
    static_peak_plan: dict[str, Any] | None    # validated as a plan when a period is simulated (null: none)


class HorizonFile(_PlanPart):
    """The keys of a plan over a load profile (`kind: horizon`) the simulator reads, before it
    builds each period's plan from them."""

    problem: Title
    periods: list[HorizonPeriod] = Field(min_length=1)
    comparison: HorizonComparison

    @model_validator(mode="after")
    def _in_order(self) -> HorizonFile:
        """Period i is written at position i (an index -3, 1000 or twice was taken)."""
        for i, per in enumerate(self.periods):
            if per.index is not None and per.index != i:
                raise ValueError(f"periods[{i}].index is {per.index}; plan solve writes the periods in order, "
                                 f"period i at position i")
        return self


PLAN_KINDS = ("fleet", "horizon")   # a plan file's `kind`, which a single plan's has none of


def check_kind(data: Any, source: str) -> None:
    """BadInput for a plan file's `kind` that plan solve does not write ('bogus' read as a single plan)."""
    if isinstance(data, dict) and "kind" in data and data["kind"] not in PLAN_KINDS:
        raise BadInput(f"{source}: kind: {shown_json(data['kind'], 40)}; plan solve writes kind: fleet (a fleet plan), "
                       f"kind: horizon (a plan over a load profile), or no kind (a plan of one service)")


def check_problem_name(data: Any, source: str) -> None:
    """BadInput for a plan file's `problem` longer than a problem file's name may be: it heads the
    simulation's tables and names the export's files and manifests (4 million characters made a
    31 MB k8s export). Checked on the file as read: a fleet's services and a day's periods are
    simulated under longer names made of it (`name:service`, `name@period3`)."""
    name = data.get("problem") if isinstance(data, dict) else None
    if isinstance(name, str) and len(name) > MAX_TITLE:
        raise BadInput(f"{source}: problem: {len(name):,} characters; a problem's name is at most {MAX_TITLE} "
                       f"(plan solve writes the problem file's)")


# numbers a plan file holds that no cost or latency can make negative (the readers' own numbers are
# checked by their schemas); `pools[i].cost_per_hour` too
NON_NEGATIVE = ("cost_per_hour", "fixed_ttft_s", "cost_per_million_tokens", "cost_per_million_output_tokens")


def check_numbers(data: Any, source: str) -> None:
    """BadInput naming the first NaN or infinity anywhere in a plan file (plan solve writes null
    where it has no number, so one is a hand edit), and a negative cost or fixed TTFT: `fixed_ttft_s:
    NaN` and `cost_per_hour: -Infinity` were simulated and exported without a word."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        at, v = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            raise BadInput(f"{source}: {at}: {json.dumps(v)}; a plan file holds finite numbers (plan solve writes null "
                           f"where it has none)")
        items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
        stack.extend(reversed([(f"{at}[{k}]" if isinstance(v, list) else f"{at}.{k}" if at else str(k), x)
                               for k, x in items]))
    pools = data.get("pools") if isinstance(data, dict) else None
    owners = [("", data), *((f"pools[{i}].", p) for i, p in enumerate(pools if isinstance(pools, list) else []))]
    for where, d in owners:
        for key in NON_NEGATIVE if not where else ("cost_per_hour",):
            v = d.get(key) if isinstance(d, dict) else None
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
                raise BadInput(f"{source}: {where}{key}: {shown_json(v, 40)}; a cost or latency is a number, 0 or more")


def check_horizon(data: dict, source: str) -> HorizonFile:
    """Validate the parts of a plan over a load profile a period's simulation reads (BadInput
    naming the file and field; a period's pools are checked as a plan's when it is simulated)."""
    _check_header(data, source)
    h = validate(HorizonFile, data, source)
    from planner.catalog.schemas import load_gpus
    known = load_gpus()
    for i, per in enumerate(h.periods):   # every period's, whichever is simulated (only its own were, a hunt)
        for k, pool in enumerate(per.pools):
            if pool.gpu.strip().lower() not in known:
                raise BadInput(f"{source}: periods[{i}].pools[{k}].gpu: unknown GPU {pool.gpu!r}"
                               + suggest(pool.gpu, sorted(known)))
    return h


def load_plan(path: str | Path) -> PlanFile:
    """Read and validate a plan JSON written by `plan solve --out`."""
    return plan_from_dict(read_json(path), str(path))


# the plan files this reader knows (planner.report.json.SCHEMA_VERSION writes it; a test checks)
PLAN_SCHEMA_VERSION = 1
PLAN_STATUSES = ("optimal", "feasible")   # what plan solve writes: a plan it found


# the keys `report.json.pool_dict` writes into a pool, a fleet's pools' own (`service` …) and a
# fleet day's (`class`); tests/test_simulate.py checks every golden plan's pools against them
POOL_KEYS = frozenset({
    "role", "gpu", "cards_per_instance", "instances", "parallelism", "batch", "design_batch", "slots",
    "chunk_tokens", "engine_chunk_tokens", "utilization", "ttft_s", "tpot_s", "tpot_mean_s",
    "batch_at_tpot_statistic", "slot_wait_s", "prefill_tokens_per_s", "decode_tokens_per_s",
    "capacity_prefill_tokens_per_s", "capacity_decode_tokens_per_s", "memory_per_card_bytes", "bound",
    "limited_by", "name", "speculative", "service", "model", "classes", "cost_per_hour", "class"})
PARALLELISM_KEYS = frozenset({"tp", "pp", "dp", "label"})


def _check_pool_keys(data: dict, source: str) -> None:
    """BadInput for a key no plan writes into a pool or its layout: a hand edit such as
    `tensor_parallel: 8` or `parallelism.ep: 4` was ignored without a word, and the plan simulated
    and exported as if it had not been made (hostile-input hunt, 2026-12-04)."""
    pools = data.get("pools")
    for i, p in enumerate(pools if isinstance(pools, list) else []):
        if not isinstance(p, dict):
            continue
        for where, keys, known in ((f"pools[{i}]", p, POOL_KEYS),
                                   (f"pools[{i}].parallelism", p.get("parallelism"), PARALLELISM_KEYS)):
            unknown = sorted(str(k) for k in keys if k not in known) if isinstance(keys, dict) else []
            if unknown:
                raise BadInput(f"{source}: {where}.{unknown[0]}: not a key of a plan's pools (a hand edit? "
                               f"docs/reference.md lists them).{suggest(unknown[0], known)}")


def _check_header(data: dict, source: str) -> None:
    """BadInput for a schema_version this reader does not know, or a status that is not a plan's
    (both are optional: a hand-written plan may leave them out), or a pool key no plan writes."""
    _check_pool_keys(data, source)
    if "schema_version" in data and (type(data["schema_version"]) is not int
                                     or data["schema_version"] != PLAN_SCHEMA_VERSION):
        raise BadInput(f"{source}: schema_version: {shown_json(data['schema_version'])}; this plan reads plan files "
                       f"of version {PLAN_SCHEMA_VERSION}")
    if "status" in data and data["status"] not in PLAN_STATUSES:
        raise BadInput(f"{source}: status: {shown_json(data['status'])}; a plan file holds a plan that was found "
                       f"({' or '.join(PLAN_STATUSES)})")


def _decodes(w: PlanWorkload) -> bool:
    """Some answer is longer than its first token: by the distribution the simulator draws from,
    else by the mean."""
    if w.output_distribution is not None:
        return any(v > 1 for v, _ in w.output_distribution)
    return w.output_tokens > 1


def plan_from_dict(data: Any, source: str) -> PlanFile:
    """Validate plan data (the output of `Plan.as_dict()`); BadInput names source and field."""
    if isinstance(data, dict) and data.get("kind") == "horizon":
        raise BadInput(f"{source}: kind: a plan over a load profile is simulated one period at a time "
                       f"(studies.simulate.period_plan; plan simulate --period)")
    if isinstance(data, dict) and "services" in data and data.get("kind") != "fleet":   # not five lines on
        # the single plan's missing keys (model, workload …), none naming the one at fault
        got = "missing" if "kind" not in data else repr(data["kind"])
        raise BadInput(f"{source}: kind: {got}; a plan that lists services is a fleet plan, kind: fleet")
    if isinstance(data, dict) and "pools" not in data:   # one line, as `plan export` says it, not eight
        # lines of missing keys
        raise BadInput(f"{source}: not a plan file written by plan solve (no `pools`); write one with "
                       f"plan solve PROBLEM --out PLAN.json")
    if isinstance(data, dict):
        _check_header(data, source)
    plan = validate(PlanFile, data, source)
    if plan.workload.prefix_cache_hit < 1 and \
            not any(p.role != "decode" and p.capacity_prefill_tokens_per_s > 0 for p in plan.pools):
        raise BadInput(f"{source}: pools: no pool has prefill capacity (capacity_prefill_tokens_per_s)")
    decodes = any(_decodes(w) for w in [plan.workload, *plan.classes])
    if decodes and not any(p.role != "prefill" and p.capacity_decode_tokens_per_s > 0 for p in plan.pools):
        # (a workload whose every output is one token needs none: the prompt's pass makes it)
        raise BadInput(f"{source}: pools: no pool has decode capacity (capacity_decode_tokens_per_s)")
    named: dict[str, int] = {}   # a pool copied whole was simulated and exported as a second pool (a hunt)
    for i, p in enumerate(plan.pools):
        if named.setdefault(p.name, i) != i:
            raise BadInput(f"{source}: pools[{i}].name: {p.name!r} is also the name of pools[{named[p.name]}]; a "
                           f"plan lists each pool once, with its instances: delete the copy (or re-solve)")
        if p.gpu != p.gpu.strip().lower():   # as plan solve writes it, and as export and totals.cards key it
            raise BadInput(f"{source}: pools[{i}].gpu: {p.gpu!r}: a plan names GPUs by catalog id, lower "
                           f"case ({p.gpu.strip().lower()!r})")
        par = p.parallelism
        if p.cards_per_instance is not None and par.tp * par.pp * par.dp != p.cards_per_instance:
            raise BadInput(f"{source}: pools[{i}].cards_per_instance: {plural(p.cards_per_instance, 'card')}, but "
                           f"tp·pp·dp = {par.tp}·{par.pp}·{par.dp} = {par.tp * par.pp * par.dp}")
        if p.role == "colocated" and p.chunk_tokens < 1:
            raise BadInput(f"{source}: pools[{i}].chunk_tokens: a colocated pool needs at least 1 "
                           f"prefill token per step (got {p.chunk_tokens:g})")
        if p.engine_chunk_tokens is not None and p.engine_chunk_tokens != int(p.engine_chunk_tokens):
            # 16384.5 was exported as --max-num-batched-tokens 16516 (a hunt): an engine's budget is tokens
            raise BadInput(f"{source}: pools[{i}].engine_chunk_tokens: {p.engine_chunk_tokens:g} is no whole number of "
                           f"tokens; plan writes the engine's prefill budget per step in tokens")
        if p.engine_chunk_tokens is not None and p.engine_chunk_tokens < p.chunk_tokens:
            raise BadInput(f"{source}: pools[{i}].engine_chunk_tokens: {p.engine_chunk_tokens:g} is below the "
                           f"pool's chunk_tokens ({p.chunk_tokens:g}); plan writes the chunk or more "
                           f"(an engine budget below it splits the prompts the plan sized)")
    return plan


# the plan's shortest step (TTFT or TPOT) in units of the simulated clock's resolution at the run's end,
# at the least: at 1e-12 req/s the clock reached 2e15 s, where a double moves by 0.25 s, and 7 ms steps
# added nothing (TPOT "0 µs", every SLO "met"; a hunt, 2026-12-05)
CLOCK_STEPS = 100


def check_clock(plan: PlanFile, requests: int) -> None:
    """BadInput when `requests` arrivals at the plan's QPS take the simulated clock where its
    resolution (a double's spacing) is coarser than CLOCK_STEPS⁻¹ of the plan's shortest step."""
    steps = [v for p in plan.pools for v in (p.ttft_s, p.tpot_s) if v is not None and v > 0]
    span = requests / plan.workload.qps
    if steps and math.ulp(span) * CLOCK_STEPS > min(steps):
        raise BadInput(f"simulation: {requests:,} requests at {plan.workload.qps:g} req/s span about {span:.3g} s "
                       f"of simulated time, where its clock moves in steps of {math.ulp(span):.2g} s, too coarse "
                       f"for the plan's {min(steps) * 1e3:.3g} ms steps: simulate the problem at a higher QPS (at "
                       f"so low a load a plan's pools are its fewest instances at any QPS), or fewer requests "
                       f"(plan simulate --requests)")
