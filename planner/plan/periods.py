"""A period of a load profile as a single-QPS problem: the workload at one QPS, with a period's
lengths (`period_problem`), or renting every GPU type at one price within a period's caps
(`single_qps_problem`: the static fleet and the independent per-period plans the horizon plan is
compared with); and the periods grouped by their lengths, which share candidates."""

from __future__ import annotations

from dataclasses import replace

from planner.input.problem import Problem
from planner.input.values import length_pairs
from planner.plan import horizon_milp as hm
from planner.plan.resolve import Resolved
from planner.plan.verify import verify_service


def at_qps(res: Resolved, qps: float) -> Resolved:
    """The same resolved problem at another QPS, without its profile (a period's workload)."""
    return replace(res, problem=at_qps_problem(res.problem, qps))


def verified_at(res: Resolved, qps: float, chosen: dict, prefix: str, memo: dict | None = None) -> tuple[list, list]:
    """`verify.verify_service` of `chosen` at `qps` (nothing at 0), its check names under `prefix`
    (a period's 'p6'). With `memo` (one plan's verification) periods of one workload, QPS and
    selection are computed once: a day of 24 periods at 3–6 load levels recomputed each period's
    colocated fixed points, most of a random day's verification (13.7 of 16.9 s profiled, 2026-12-06)."""
    if qps <= 0:
        return [], []
    if memo is None:
        return verify_service(at_qps(res, qps), chosen, prefix=prefix)
    key = (id(res), qps, frozenset(chosen.items()))   # `res` outlives the memo (the plan's workloads)
    if key not in memo:
        memo[key] = verify_service(at_qps(res, qps), chosen, prefix="\0")
    pools, checks = memo[key]
    return list(pools), [replace(c, name=c.name.replace("\0", prefix)) for c in checks]


def single_qps_problem(problem: Problem, res: Resolved, qps: float, commit: bool,
                       caps: tuple[hm.Availability, ...] = ()) -> Problem:
    """The problem at one QPS renting every GPU type at one price: its on-demand price, or with
    `commit` the cheaper of on-demand and reserved (a fleet held over the whole horizon), within
    one period's own caps `caps`: its cards of every kind, and its on-demand cards for a type
    rented on demand (committed or not: the static fleet's on-demand nodes were held to no cap)."""
    gpus = []
    caps_of = {c.gpu: c for c in caps}
    for k, ch in zip(hm.gpu_kinds(res), problem.gpus):
        reserved = commit and k.reserved_cheaper
        price = k.reserved_price if reserved else k.opt.price_per_card_hour
        cap = ch.max_cards
        owned = ch.owned_nodes
        if (c := caps_of.get(k.id)) is not None:
            # the period's cards of every kind, and the on-demand ones (rented on demand: not at a reserved
            # price) beside the owned nodes, which the on-demand cap does not hold (they used it up: a
            # type with one owned node and 8 on-demand cards an hour had no period plan of its own)
            on_demand = None if reserved or c.on_demand_max_cards is None else \
                c.on_demand_max_cards + ch.owned_nodes * k.node_cards
            limits = [x for x in (cap, c.max_cards, on_demand) if x is not None]
            cap = min(limits) if limits else None
            if cap is not None:
                # the period's cap holds the owned nodes too: those above it cannot run then (an owned
                # node beside an hour capped at 0 cards was refused as "inventory exceeds the cap", exit 2)
                owned = min(owned, cap // k.node_cards)
        if cap is not None:   # whole nodes, as the MILP counts them: a derived cap is not the file's to note
            cap -= cap % k.node_cards
        gpus.append(ch.model_copy(update={"price_per_gpu_hour": price, "reserved_price_per_gpu_hour": None,
                                          "spot_price_per_gpu_hour": None, "spot_max_share_percent": None,
                                          "spot_interruption_percent": None, "max_cards_per_period": None,
                                          "spot_max_cards_per_period": None, "max_cards": cap,
                                          "on_demand_max_cards_per_period": None, "owned_nodes": owned}))
    # nor starts between periods or spot at a confidence: a fleet's classes are validated as problems, and
    # a day of spot_confidence_percent ended in exit 5 (its static fleet's classes refused it)
    serving = problem.serving.model_copy(update={"instance_start": None, "spot_confidence_percent": None})
    return at_qps_problem(problem, qps).model_copy(update={"gpus": gpus, "serving": serving})


def length_groups(problem: Problem) -> tuple[list[int], list[list[int]]]:
    """Periods grouped by their length distributions (`workload.profile.input_tokens` /
    `output_tokens`, else the workload's): the group of every period, and each group's periods."""
    keys: dict[tuple, int] = {}
    group_of = []
    for p in range(len(problem.workload.period_qps())):
        inp, out = problem.workload.period_lengths(p)
        key = (tuple(length_pairs(inp)), tuple(length_pairs(out)))
        group_of.append(keys.setdefault(key, len(keys)))
    members = [[p for p, g in enumerate(group_of) if g == k] for k in range(len(keys))]
    return group_of, members


def period_problem(problem: Problem, p: int) -> Problem:
    """The single-QPS problem of period p: its QPS and its lengths, without the profile (or the
    trace read into it)."""
    inp, out = problem.workload.period_lengths(p)
    wl = problem.workload.model_copy(update={"qps": problem.workload.period_qps()[p], "profile": None, "trace": None,
                                             "input_tokens": inp, "output_tokens": out})
    return problem.model_copy(update={"workload": wl})


def at_qps_problem(problem: Problem, qps: float) -> Problem:
    """The problem at one QPS without its profile or trace (a period's, or the peak's, workload)."""
    wl = problem.workload.model_copy(update={"qps": qps, "profile": None, "trace": None})
    return problem.model_copy(update={"workload": wl})
