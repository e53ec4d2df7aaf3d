"""The plan file as the exporter reads it: each service's pools, model, KV dtype, workload and SLO.

A single plan is one service; a fleet plan is split into its services with the simulator's own
reader (`planner.studies.simulate.fleet.service_plan`, `planfile`), extended by the one key the
simulator does not need: `cards_per_instance`. Unknown keys are ignored (the contract grows
additively). Every check names the source file and the field.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from planner.catalog.schemas import GPU, load_gpus
from planner.errors import BadInput
from planner.input.files import validate
from planner.input.units import format_time
from planner.studies.simulate.fleet import check_header, failed_verification, service_keys, service_plan
from planner.studies.simulate.planfile import PlanFile, PlanPool, plan_from_dict
from planner.studies.simulate.tables import check_fits, physics


class ExportPool(PlanPool):
    cards_per_instance: Annotated[int, Field(ge=1)]


class ExportPlanFile(PlanFile):
    pools: list[ExportPool] = Field(min_length=1)


@dataclass(frozen=True)
class Service:
    """One service: the pools serving one model (a single plan has one, named by its problem)."""

    key: str
    plan: ExportPlanFile
    source: str       # "<file>" or "<file>: service <key>", for messages
    unsized: str | None = None   # the workload is not what the pools were sized for (`load_mismatch`)


@dataclass(frozen=True)
class ExportPlan:
    problem: str
    kind: str                         # "plan" or "fleet"
    services: list[Service]
    cards: dict[str, int]             # cards per GPU type the pools hold
    gpus: dict[str, GPU]              # catalog entries of the GPU types used
    order: list[tuple[int, int]]      # (service index, pool index in it) in the file's `pools` order


def _check_verified(data: dict, source: str) -> None:
    """BadInput for a plan whose own verification failed (plan solve writes it, and exits 4): its
    pools break a limit the plan states, and exported they would be deployed as if they kept it,
    as a plan of `status: infeasible` is refused. A hand-written plan without `verification` passes."""
    why = failed_verification(data)
    if why is not None:
        raise BadInput(f"{source}: verification.passed: the plan failed its verification ({why}); export a plan "
                       f"that passed")


def is_number(x: Any) -> bool:
    """A real number as JSON gives one (an int or a float, not a boolean)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def near(x: float, lo: float, hi: float | None = None) -> bool:
    """lo ≤ x ≤ hi (x = lo without `hi`) within float round-off: 1 ppm, and 1e-6 absolute."""
    return lo * (1 - 1e-6) - 1e-6 <= x <= (lo if hi is None else hi) * (1 + 1e-6) + 1e-6


def answer_range(qps: float, output_tokens: float) -> tuple[float, float]:
    """The generated tokens a second decode pools make at `qps` requests of `output_tokens`: each
    request's L − 1 after its first (a prefill pool makes it), up to L (a colocated pool makes it)."""
    return qps * max(output_tokens - 1.0, 0.0), qps * output_tokens


def load_mismatch(d: dict) -> str | None:
    """Why the workload is not the load the pools were sized for, or None: plan solve writes each
    pool's share of the prompt tokens to prefill (`prefill_tokens_per_s`), which sum to the
    workload's (its decode shares hold the first token or not, as prefill pools make it). A plan whose `qps`
    (or lengths, or prefix-cache hit) was edited by hand exported the same engines with a README,
    slo.json and load test at the new load, which they cannot serve (a hunt: 10 → 100 req/s, exit 0,
    without a word). The generated tokens alike (`decode_tokens_per_s`: each request's L − 1 after its
    first, or L where a colocated pool makes the first too): output_tokens edited 400 → 4000 exported a
    load test of 80,000 tokens/s onto pools of 8,644. Plans without these keys are not checked."""
    w, pools = d.get("workload"), d.get("pools")
    if not isinstance(w, dict) or not isinstance(pools, list) or not all(isinstance(p, dict) for p in pools):
        return None
    qps, isl, osl, hit = w.get("qps"), w.get("input_tokens"), w.get("output_tokens"), w.get("prefix_cache_hit", 0.0)
    have = [p.get("prefill_tokens_per_s") for p in pools]
    made = [p.get("decode_tokens_per_s") for p in pools]
    if not all(map(is_number, have)):
        return None
    need, have_s = qps * isl * (1.0 - hit), sum(have)
    edited = "the workload or the pools edited by hand?"
    tail = "README.txt, slo.json and the load test state the workload's load; re-solve the problem for it"
    if not near(have_s, need):
        return (f"the workload, {qps:g} req/s of {isl:g} prompt tokens (prefix-cache hit {hit:.0%}), is {need:,.6g} "
                f"uncached prompt tokens a second, but the pools were sized for {have_s:,.6g} (their "
                f"prefill_tokens_per_s; {edited}): {tail}")
    if not is_number(osl) or not all(map(is_number, made)):
        return None
    (lo, hi), made_s = answer_range(qps, osl), sum(made)
    if near(made_s, lo, hi):
        return None
    return (f"the workload, {qps:g} req/s of {osl:g} output tokens, is {lo:,.0f}–{hi:,.0f} generated tokens a "
            f"second, but the pools were sized for {made_s:,.0f} (their decode_tokens_per_s; {edited}): {tail}")


# the roles plan solve writes a latency for (a decode pool has a TTFT where every prompt token is cached)
LATENCY_ROLES = {"tpot_s": ("decode", "colocated")}


def latency_mismatch(d: dict, source: str) -> str | None:
    """Why a pool's latency breaks the plan's own SLO, or None; BadInput for a latency on a role plan
    solve writes none for (a prefill pool's TPOT). A hand edit of `slo.tpot_s` (40 → 10 ms beside
    pools of 28.6) or of a pool's `tpot_s` (3 s under a 40 ms SLO) exported slo.json, the README and
    the load test at exit 0 without a word (a hunt, 2026-12-07). A pool's latency is its mean or the
    SLO's statistic, both within the limit in a plan that passed verification."""
    slo, pools = d.get("slo"), d.get("pools")
    if not isinstance(slo, dict) or not isinstance(pools, list):
        return None
    for i, p in enumerate(pools):
        for key in ("ttft_s", "tpot_s"):
            v = p.get(key) if isinstance(p, dict) else None
            if v is not None and key in LATENCY_ROLES and isinstance(p.get("role"), str) \
                    and p["role"] not in LATENCY_ROLES[key]:
                raise BadInput(f"{source}: pools[{i}].{key}: {v!r}; a {p['role']} pool has none (plan solve writes "
                               f"null)")
            limit = slo.get(key)
            if is_number(v) and is_number(limit) and v > limit * (1 + 1e-6):
                return (f"pools[{i}].{key} is {format_time(v)}, above the plan's own limit slo.{key} "
                        f"{format_time(limit)} (the plan or its SLO edited by hand?): README.txt, slo.json and the "
                        f"load test state a plan that does not meet its SLO; re-solve the problem for it")
    return None


def read_plan(data: Any, source: str, gpus: dict[str, GPU] | None = None) -> ExportPlan:
    """Validate plan data of either kind; BadInput naming `source`, the field and the reason."""
    if isinstance(data, dict) and data.get("kind") == "horizon":   # `export.schedule.read_horizon` reads it
        raise BadInput(f"{source}: a plan over a load profile (kind: horizon) is read as its periods' pools "
                       f"and schedule, not as one plan")
    if not isinstance(data, dict) or "pools" not in data:
        raise BadInput(f"{source}: not a plan file written by plan solve (no `pools`)")
    check_header(data, source)
    _check_verified(data, source)
    if data.get("kind") == "fleet":
        parts = [(k, service_plan(data, k)) for k in service_keys(data, source)]
    else:
        parts = [(str(data.get("problem", "plan")), data)]
    services = []
    for key, d in parts:
        src = source if data.get("kind") != "fleet" else f"{source}: service {key}"
        pf = plan_from_dict(d, src)                    # the simulator's checks of the same keys (layout too)
        check_fits(physics(pf, src), src)              # each instance loads, and holds the batch it admits
        plan = validate(ExportPlanFile, d, src)
        services.append(Service(key, plan, src, load_mismatch(d) or latency_mismatch(d, src)))
    # the cards the pools hold, which the README states; the plan's `totals` is not read (a hand edit
    # of it, a boolean or a negative count, was copied into the README as the plan's cards)
    cards: Counter = Counter()
    for s in services:
        for p in s.plan.pools:
            cards[p.gpu] += p.instances * p.cards_per_instance
    catalog = gpus if gpus is not None else load_gpus()
    used = sorted({p.gpu for s in services for p in s.plan.pools})
    for g in used:
        if g not in catalog:
            raise BadInput(f"{source}: pools[].gpu: {g!r} is not in the GPU catalog, so its vendor and "
                           f"cards per node are unknown")
    order: list[tuple[int, int]] = []
    seen: Counter = Counter()
    index = {s.key: i for i, s in enumerate(services)}
    for p in data["pools"]:
        k = p.get("service", services[0].key) if isinstance(p, dict) else services[0].key
        order.append((index[k], seen[k]))
        seen[k] += 1
    return ExportPlan(str(data.get("problem", "plan")), "fleet" if data.get("kind") == "fleet" else "plan",
                      services, dict(cards), {g: catalog[g] for g in used}, order)
