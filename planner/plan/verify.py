"""Verification: recompute the chosen plan with `perf` at its actual load, constraint by constraint.

Traffic is routed to instances in proportion to their usable capacity (prefill: ρ_max·raw, decode: tokens/s at the
design batch), so no instance runs beyond its design point. Each instance is then re-evaluated at the load it gets:
the decode batch solves b / TPOT(b) = load (Little's law), colocated steps solve a fixed point, prefill TTFT uses the
utilisation it runs at. Every check is value / limit / slack; nothing is written back into the plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from planner.physics import colocated, packed, perf
from planner.physics.batch_spread import (
    backlog_cumulants,
    batch_at_statistic,
    batch_seen,
    chunk_cross,
    chunk_cumulants,
    elasticity,
    feedback_gain,
    seen_statistic_batch,
    short_answer_floor,
    statistic_batch,
    tpot_offset,
)
from planner.physics.prefill_queue import Servers
from planner.plan.candidate import unique_name
from planner.plan.candidates import Candidate, deployment
from planner.plan.resolve import Resolved
from planner.plan.waits import decode_growth_s, decoded_first_token_s, full_slots_tpot, imported_tpot_s
from planner.plan.workload import colocated_first_step_s, ttfts, workload_context

REL_TOL = 1e-6  # tolerance of float comparisons in checks (solver feasibility tolerance scale)


@dataclass(frozen=True)
class Check:
    """One recomputed constraint: `value` must be ≤ (or ≥) `limit`; slack > 0 means room."""

    name: str
    value: float
    limit: float
    unit: str
    sense: str = "<="          # '<=', '>=' or '=='

    @property
    def slack(self) -> float:
        if self.sense == "==":
            return -abs(self.value - self.limit)
        return self.limit - self.value if self.sense == "<=" else self.value - self.limit

    @property
    def ok(self) -> bool:
        return self.slack >= -REL_TOL * max(1.0, abs(self.limit))

    def as_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "limit": self.limit, "slack": self.slack,
                "unit": self.unit, "sense": self.sense, "ok": self.ok}


@dataclass(frozen=True)
class PoolState:
    """A pool (identical instances of one candidate) at its actual load."""

    candidate: Candidate
    instances: int
    prefill_load_tok_s: float     # per instance
    decode_load_tok_s: float      # per instance
    utilization: float            # prefill: ρ; decode: load / capacity at design batch
    batch: float                  # actual decode batch (sequences in flight)
    ttft_s: float
    tpot_s: float                 # the SLO's TPOT statistic (the mean unless slo.tpot_statistic says)
    memory_per_card_bytes: float
    kv_nic_bytes_per_s: float     # KV traffic through this instance's NICs
    nic_limit_bytes_per_s: float
    ttft_by_class: tuple[tuple[str, float, float], ...] = ()  # (class, TTFT, limit); '' = the workload
    tpot_mean_s: float = 0.0      # mean TPOT at the actual batch
    batch_at_tpot_statistic: float = 0.0   # life-averaged batch at the TPOT statistic's quantile
    slot_wait_s: float = 0.0      # mean wait for a batch slot: colocated, before the first chunk (in
                                  # TTFT); decode, between prefill's token and the second (in TPOT),
                                  # or before the first when every prompt token is cached (in TTFT)
    engine_chunk_tokens: float = 0.0   # colocated: the step budget the engine is given (`engine_chunk_tokens`)
    prefill_share: float = 0.0    # colocated: its share of time in prefill work (`WorkloadContext.slot_peak`)
    slots: int = 0                # decode, colocated: the sequences an instance admits (its memory at the
                                  # longest ones), the slot-wait model's servers and the engine's cap
    imported_tpot_s: float = 0.0  # colocated: TPOT from requests other instances prefilled (`imported_tpot_s`)
    name: str = ""                # the pool's name in its plan, set by verify_service: the candidate's,
                                  # '#2', '#3' … after it when another pool of the service has it


@dataclass(frozen=True)
class Verification:
    pools: tuple[PoolState, ...]
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def _solve_batch(dep: perf.Deployment, ctx: float, load_tok_s: float, b_max: float, slots: float) -> float:
    """Time-average batch b ≤ b_max with b / TPOT(b) = load (Little's law; bisection, throughput
    rises with b), TPOT the step at the batch a request sees (`batch_seen`, at most the slots)."""
    if load_tok_s <= 0:
        return 0.0
    if b_max / perf.tpot(dep, batch_seen(b_max, slots), ctx) <= load_tok_s:
        return b_max
    lo, hi = 0.0, b_max
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if mid > 0 and mid / perf.tpot(dep, batch_seen(mid, slots), ctx) < load_tok_s:
            lo = mid
        else:
            hi = mid
    return hi


def _mixed_fixed_point(dep: perf.Deployment, ctx: float, prompt: float, uncached: float, dec_load: float,
                       pre_load: float, t0: float, per_step: float, budget: float, slots: float,
                       lives: tuple[tuple[float, float], ...] = (), prompt_cv2: float = 0.0,
                       memory_slots: float = math.inf, mix: tuple = ()) -> tuple[float, float, float]:
    """(mean step t̄, step a decoded token sees t, step a request sees on average) of a colocated
    instance at its loads: the batch is b = dec_load·t/per_step (Little: each token stays one seen
    step), the prompt tokens per step p = pre_load·t̄; (t̄, t) = colocated_steps(batch_seen(b), p)
    (iterate from t0). With prompts taken whole (`mix`) a token and a request see different steps
    (`packed.token_lives`); otherwise both are t."""
    t_bar = t = t0
    here = colocated.here_share(lives, dec_load, uncached, pre_load)
    seen_by = packed.token_lives(lives) if mix else lives

    def steps(b: float, t_bar: float, over) -> tuple[float, float]:
        mean, seen = colocated.colocated_steps(dep, b, ctx, prompt, uncached, pre_load * t_bar, over, budget,
                                               prompt_cv2=prompt_cv2, here_share=here, max_batch=memory_slots,
                                               mix=mix)
        return mean.time_s, seen.time_s
    for _ in range(100):
        b = batch_seen(dec_load * t / per_step, slots)
        new_bar, new = steps(b, t_bar, seen_by)
        if abs(new - t) <= 1e-9 * max(t, 1e-12) and abs(new_bar - t_bar) <= 1e-9 * max(t_bar, 1e-12):
            t_bar, t = new_bar, new
            break
        t_bar, t = new_bar, new
    return t_bar, t, (steps(batch_seen(dec_load * t / per_step, slots), t_bar, lives)[1] if mix else t)


def pool_state(res: Resolved, c: Candidate, n: int, pre_load: float, dec_load: float) -> PoolState:
    """Recompute one pool at the per-instance loads it receives."""
    w = workload_context(res)
    opt = res.option(c.gpu)
    dep = deployment(res, opt, c.par, c.spec)
    per_step = perf.tokens_per_step(dep)
    kvpt = perf.kv_bytes_per_token(dep.arch, dep.kv_dtype)
    nic = dep.cards * opt.gpu.nic_bytes_per_s * res.calib.v("network_efficiency")
    if c.role == "prefill":
        rho = pre_load / c.prefill_raw_tok_s
        kv_s = perf.kv_transfer_time(dep, w.s_in) + perf.request_overhead_s(dep)
        by_class, ttft = _ttft_by_class(w, rho, c.server(), kv_s)
        mem = perf.memory_use(dep, c.batch, w.s_in).total_bytes
        kv_traffic = pre_load * w.kv_prompt_per_prefill_token * kvpt
        return PoolState(c, n, pre_load, 0.0, rho, 0.0, ttft, 0.0, mem, kv_traffic, nic, by_class)
    if c.role == "decode":
        slots = perf.max_batch(dep, w.ctx_peak)       # beyond them a request waits (below), it does not run
        b = _solve_batch(dep, w.ctx_decode, dec_load, c.batch, slots)
        seen = batch_seen(b, slots)                   # a request's view of the batch (mean TPOT)
        t = perf.tpot(dep, seen, w.ctx_decode) if b > 0 else 0.0
        b_q, b_t, t_q = b, seen, t                    # memory's batch, the TPOT statistic's batch and TPOT
        if w.tpot_spread and b > 0:   # the batch's quantile (memory), and the statistic's request's
            b_q = min(statistic_batch(b, w.tpot_spread, lambda x: perf.tpot(dep, x, w.ctx_decode)), slots)
            b_t = seen_statistic_batch(b, seen, b_q, w.tpot_statistic, slots)   # itself and the others
            t_q = perf.tpot(dep, b_t, w.ctx_decode)
        wait = 0.0
        if b > 0:   # the wait for a batch slot, the hold growing to the step at full slots as for
            # colocated pools: a fixed hold under-planned a pool at 95 % of its slots by 4–10 % of TPOT
            # (SLO broken in simulation); arrivals from prefill, smoother than Poisson, are left out
            # (rag_long_context's decode pool: 58.3 ms planned, 56.6–58.0 simulated over three seeds)
            t_slots = perf.tpot(dep, slots, w.ctx_decode)
            wait = float(w.decode_slot_wait_s(b, slots, t, t_slots))
        by_class, ttft = (), 0.0
        if w.first_token_decoded:   # the request comes straight here and this pool's
            # step makes its first token, so both waits (for a slot, for the step in progress) come
            # before it, in TTFT, none between its first and second token
            step = perf.decode_step(dep, seen, w.ctx_decode).time_s if b > 0 else 0.0
            by_class, ttft = _ttft_by_class(w, 0.0, Servers.single(0.0), decoded_first_token_s(dep, w, b, step, wait))
        else:
            join = w.join_factor(perf.tokens_per_step(dep))   # the wait to join the running batch
            join_q = w.join_factor_at_statistic(perf.tokens_per_step(dep))   # at the TPOT statistic
            slot = wait * w.slot_wait_per_token if w.slot_wait_per_token else 0.0   # spread over the output
            slot_q = float(w.slot_tpot_at_statistic_s(b, slots, t, t_slots)) if b > 0 else 0.0   # at its quantile
            t, t_q = t * join + slot, t_q * join_q + slot_q
        mem = perf.memory_use(dep, math.ceil(b_q), w.ctx_peak).total_bytes
        kv_traffic = dec_load * w.kv_prompt_per_decode_token * kvpt
        return PoolState(c, n, 0.0, dec_load, dec_load / c.decode_tok_s, b, ttft, t_q, mem, kv_traffic, nic,
                         by_class, tpot_mean_s=t, batch_at_tpot_statistic=b_t, slot_wait_s=wait, slots=slots)
    lives = w.decode_lives
    slots = perf.max_batch(dep, w.ctx_peak)   # a prompt waits for one before its first chunk
    t_bar, t_step, t_req = _mixed_fixed_point(dep, w.ctx_decode, w.s_in, w.s_unc, dec_load, pre_load,
                                              c.tpot_s * per_step, per_step, float(w.pass_token_budget), slots, lives,
                                              w.cv2, slots, w.prompt_mix)
    b = dec_load * t_step / per_step
    seen = batch_seen(b, slots)
    b_q, b_t, t_q = b, seen, t_req / per_step
    # while a prompt is prefilled every step carries a full chunk C, so those steps are longer
    t_full = perf.mixed_step(dep, b, w.ctx_decode, c.chunk_tokens, w.s_in, w.cv2).time_s
    service = math.ceil(w.s_unc / c.chunk_tokens) * t_full   # a prompt gets C tokens per step
    rho = pre_load * t_full / c.chunk_tokens                 # share of steps that carry a chunk
    if w.tpot_spread and b > 0 and slots > 1:   # the same prefill per step beside the statistic's batch
        # (≥ the mean's); one slot runs one request, at batch 1 whatever the load
        b_q = batch_at_statistic(b, w.tpot_spread)   # memory's; the statistic's request sees itself and the
        b_t = min(seen + b_q - b, slots)              # others' quantile (as a decode pool's, without the skew)
        budget = float(w.pass_token_budget)
        share = colocated.seen_share(dep, seen, w.ctx_decode, w.s_in, w.s_unc, pre_load * t_bar, lives, budget,
                                     w.cv2, w.prompt_mix)
        t_bq = colocated.colocated_steps(dep, b_t, w.ctx_decode, w.s_in, w.s_unc, pre_load * t_bar, lives, budget,
                                         share, prompt_cv2=w.cv2, mix=w.prompt_mix)[1].time_s / per_step   # mean share
        chunk, f = colocated.colocated_chunk(pre_load * t_bar, w.s_unc, budget)
        d = perf.decode_step(dep, b, w.ctx_decode).time_s
        per_token = (perf.mixed_step(dep, b, w.ctx_decode, chunk, w.s_in, w.cv2).time_s - d) / chunk if f > 0 else 0.0
        gain = feedback_gain(elasticity(b, t_q, b_q, t_bq))   # the step's feedback on the batch's spread
        cross = chunk_cross(pre_load / (w.s_unc or math.inf) * colocated.here_share(lives, dec_load, w.s_unc, pre_load),
                            t_bar, gain * (t_bq - t_q) / (b_q - b), per_token * w.s_unc, per_step)
        t_q = t_q + float(tpot_offset(w.tpot_statistic, w.tpot_terms, gain * (t_bq - t_q) / w.tpot_spread,
                                      *chunk_cumulants(pre_load, d, per_token, w.s_unc, w.cv2, per_step), cross,
                                      backlog_cumulants(rho, per_token * w.s_unc, w.cv2)))
        # a few steps, one a chunk's: the step after a request's own prompt carries one while the
        # chunk queue is busy (ρ, the M/G/1 departure property) or at the seen share, the larger
        t_q = max(t_q, short_answer_floor(w.tpot_statistic, w.tpot_terms, d / per_step, per_token * chunk / per_step,
                                          max(share, rho), per_step))
    imported = imported_tpot_s(w, dep, pre_load, dec_load, t_bar)
    t_q += imported
    slot_s = slot_ttft_s = pre = 0.0
    plain = perf.decode_step(dep, seen, w.ctx_decode).time_s   # the decode-only step at a request's batch
    if b > 0:
        t_full_slots = full_slots_tpot(dep, w, b, slots, t_step / per_step)
        pre = 1.0 - plain / t_bar   # prefill's share of the time
        slot_s = w.slot_wait_s(b, slots, service, t_step / per_step, t_full_slots, pre)
        slot_ttft_s = float(w.slot_wait_for_ttft_s(slot_s, b, slots, service, t_step / per_step, t_full_slots, pre))
    by_class, ttft = _ttft_by_class(w, rho, Servers.single(service),
                                    perf.request_overhead_s(dep) + slot_ttft_s + float(colocated_first_step_s(
                                        w, b, t_step, t_step + decode_growth_s(dep, w, b))))
    if w.packed_ttft and pre_load > 0:   # whole prompts' steps (`packed.first_token_wait`)
        lone, inc, ratio = packed.lone_parts(dep, seen, w.ctx_decode, plain, w.prompt_mix, float(w.pass_token_budget),
                                             w.s_unc, w.s_in, w.cv2)
        base = perf.request_overhead_s(dep) + slot_ttft_s + plain + float(packed.first_token_wait(
            t_bar, plain, lone, inc, ratio, pre_load * t_bar / w.s_unc, float(w.pass_token_budget) / w.s_unc))
        by_class = tuple((t.label, base + lone * t.len_factor, t.limit) for t in w.targets)
        ttft = min(by_class, key=lambda r: r[2] - r[1])[1]
    mem = perf.memory_use(dep, math.ceil(b_q), w.ctx_peak).total_bytes
    return PoolState(c, n, pre_load, dec_load, rho, b, ttft, t_q, mem, 0.0, nic, by_class,
                     tpot_mean_s=t_req / per_step + imported, batch_at_tpot_statistic=b_t, slot_wait_s=float(slot_s),
                     engine_chunk_tokens=colocated.engine_chunk_tokens(c.chunk_tokens, w.s_unc_max,
                                                                       w.pass_token_budget, w.s_unc), slots=slots,
                     imported_tpot_s=imported, prefill_share=pre)


def _ttft_by_class(w, rho: float, server: Servers, fixed_s: float):
    """Per-class (name, TTFT, limit) in one queue, and the TTFT of the class with the least slack."""
    rows = tuple((t.label, v, t.limit) for t, v in ttfts(w, rho, server, fixed_s))
    return rows, min(rows, key=lambda r: r[2] - r[1])[1]


def route(cands: dict[Candidate, int], pre_demand: float, dec_demand: float) -> dict[Candidate, tuple[float, float]]:
    """Per-instance (prefill, decode) loads: demand split in proportion to usable capacity, capped at the capacity
    where the capacity checks admit a shortfall (≤ REL_TOL): queues amplify it (0.5 ppm, a TTFT 3.9 ppm late)."""
    pre_cap = sum(n * c.prefill_tok_s for c, n in cands.items())
    dec_cap = sum(n * c.decode_tok_s for c, n in cands.items())
    pre_demand, dec_demand = (min(d, cap) if cap >= d * (1 - REL_TOL) else d
                              for d, cap in ((pre_demand, pre_cap), (dec_demand, dec_cap)))
    out = {}
    for c in cands:
        p = pre_demand * c.prefill_tok_s / pre_cap if pre_cap > 0 else 0.0
        d = dec_demand * c.decode_tok_s / dec_cap if dec_cap > 0 else 0.0
        out[c] = (p, d)
    return out


def verify(res: Resolved, chosen: dict[Candidate, int], nodes: dict[str, tuple[int, int]],
           solver_cost_per_hour: float | None) -> Verification:
    """Recompute every constraint of the plan; return the pool states and checks."""
    pools, checks = verify_service(res, chosen)
    checks += fleet_checks(res.gpus, res.problem.limits, chosen, nodes, solver_cost_per_hour,
                           res.problem.pricing.currency)
    return Verification(tuple(pools), tuple(checks))


def verify_service(res: Resolved, chosen: dict[Candidate, int],
                   prefix: str = "") -> tuple[list[PoolState], list[Check]]:
    """Capacity, TTFT, TPOT, utilisation, memory and NIC checks of the pools serving one workload;
    `prefix` (a fleet's service key) is put in front of every check name."""
    w = workload_context(res)
    pre_demand, dec_demand = res.qps * w.s_unc, res.qps * w.s_dec   # the first token comes from the prompt's pass
    slo = res.problem.slo
    ceiling = res.problem.serving.max_utilization_percent / 100.0
    decode_ceiling = res.problem.serving.max_decode_utilization_percent / 100.0
    p = f"{prefix}/" if prefix else ""
    checks: list[Check] = [
        Check(f"{p}prefill_capacity", sum(n * c.prefill_tok_s for c, n in chosen.items()), pre_demand,
              "tokens/s", ">="),
        Check(f"{p}decode_capacity", sum(n * c.decode_tok_s for c, n in chosen.items()), dec_demand,
              "tokens/s", ">="),
    ]
    if res.problem.serving.redundancy == "n_plus_1":
        checks += n_plus_1_checks(chosen, pre_demand, dec_demand / decode_ceiling, p)
    elif res.problem.serving.redundancy == "node":
        node_cards = {o.id: o.gpu.node_cards for o in res.gpus}
        checks += node_loss_checks(chosen, node_cards, pre_demand, dec_demand / decode_ceiling, p)
    pools, taken = [], set()
    for c, (pre, dec) in route(chosen, pre_demand, dec_demand).items():
        st = replace(pool_state(res, c, chosen[c], pre, dec), name=unique_name(c.name, taken))
        pools.append(st)
        name = p + st.name
        for label, ttft, limit in st.ttft_by_class:   # decode pools too when they make the first token
            checks.append(Check(f"ttft[{label + ':' if label else ''}{name}]", ttft, limit, "s"))
        if c.role in ("prefill", "colocated"):
            checks.append(Check(f"utilization[{name}]", st.utilization, ceiling, "fraction"))
        if c.role in ("decode", "colocated"):
            checks.append(Check(f"tpot[{name}]", st.tpot_s, slo.tpot, "s"))
            if decode_ceiling < 1.0:
                checks.append(Check(f"decode_utilization[{name}]", dec / c.decode_tok_s, decode_ceiling,
                                    "fraction"))
        opt = res.option(c.gpu)
        usable = opt.gpu.memory_bytes * res.calib.v("memory_usable_fraction")
        checks.append(Check(f"memory[{name}]", st.memory_per_card_bytes, usable, "bytes"))
        if c.role in ("prefill", "decode"):
            checks.append(Check(f"kv_nic[{name}]", st.kv_nic_bytes_per_s, st.nic_limit_bytes_per_s, "bytes/s"))
    return pools, checks


def capacity_after_loss(chosen: dict[Candidate, int], kind: str) -> float:
    """{kind} capacity (tokens/s) left when the largest instance with that capacity is lost:
    Σ n_c·cap_c − max_{c used} cap_c (0 when no instance has any)."""
    caps = [(getattr(c, f"{kind}_tok_s"), n) for c, n in chosen.items() if n > 0]
    caps = [(cap, n) for cap, n in caps if cap > 0]
    if not caps:
        return 0.0
    return sum(cap * n for cap, n in caps) - max(cap for cap, _ in caps)


def n_plus_1_checks(chosen: dict[Candidate, int], pre_demand: float, dec_demand: float,
                    prefix: str = "") -> list[Check]:
    """serving.redundancy n_plus_1: per role, capacity after losing its largest instance ÷ demand
    ≥ 1 (decode demand as in the MILP's row: ÷ the decode utilisation ceiling)."""
    out = []
    for kind, need in (("prefill", pre_demand), ("decode", dec_demand)):
        if need > 0:
            out.append(Check(f"{prefix}n_plus_1[{kind}]", capacity_after_loss(chosen, kind) / need, 1.0,
                             "fraction", ">="))
    return out


def pack_nodes(chosen: dict[Candidate, int], node_cards: dict[str, int]) -> list[list[Candidate]]:
    """The instances placed on whole nodes, per GPU type: an instance of ≥ N_g cards on
    ⌈cards/N_g⌉ nodes of its own (listed on each), smaller ones first-fit in decreasing size.
    One packing the node cover admits (card counts that divide N_g pack without waste)."""
    nodes: list[list[Candidate]] = []
    for g in sorted({c.gpu for c in chosen}):
        n_g = node_cards[g]
        free: list[int] = []
        start = len(nodes)
        for c in sorted((c for c in chosen if c.gpu == g), key=lambda c: -c.cards):
            for _ in range(chosen[c]):
                if c.cards >= n_g:
                    nodes += [[c] for _ in range(-(-c.cards // n_g))]
                    free += [0] * -(-c.cards // n_g)
                    continue
                j = next((j for j, f in enumerate(free) if f >= c.cards), None)
                if j is None:
                    nodes.append([])
                    free.append(n_g)
                    j = len(free) - 1
                nodes[start + j].append(c)
                free[j] -= c.cards
    return nodes


def node_loss_checks(chosen: dict[Candidate, int], node_cards: dict[str, int], pre_demand: float,
                     dec_demand: float, prefix: str = "") -> list[Check]:
    """serving.redundancy node: the instances packed on whole nodes (`pack_nodes`), every node
    removed in turn with all it runs (an instance spanning several nodes dies with any of them);
    per role the worst capacity left ÷ demand ≥ 1 (decode demand as in the MILP's row)."""
    total = {k: sum(n * getattr(c, f"{k}_tok_s") for c, n in chosen.items()) for k in ("prefill", "decode")}
    worst = dict.fromkeys(total, 0.0)
    for node in pack_nodes(chosen, node_cards):
        for k in total:
            worst[k] = max(worst[k], sum(getattr(c, f"{k}_tok_s") for c in node))
    out = []
    for kind, need in (("prefill", pre_demand), ("decode", dec_demand)):
        if need > 0:
            out.append(Check(f"{prefix}node_loss[{kind}]", (total[kind] - worst[kind]) / need, 1.0,
                             "fraction", ">="))
    return out


def fleet_cost_per_hour(gpus, nodes: dict[str, tuple[int, int]]) -> float:
    """Σ_g N_g·(rented_g·price_g + owned_g·owned_cost_g)."""
    cost = 0.0
    for opt in gpus:
        rented, owned = nodes.get(opt.id, (0, 0))
        cost += opt.gpu.node_cards * (rented * opt.price_per_card_hour + owned * opt.owned_cost_per_card_hour)
    return cost


def pool_shapes(chosen_by_service: dict[str, dict[Candidate, int]]) -> set[tuple[str, str, str, str]]:
    """The distinct pool shapes of a plan: (service, role, GPU type, parallelism) of every pool
    with instances (one deployment configuration to operate each)."""
    return {(key, c.role, c.gpu, c.par.label()) for key, sel in chosen_by_service.items()
            for c, n in sel.items() if n > 0}


def fleet_checks(gpus, limits, chosen: dict[Candidate, int], nodes: dict[str, tuple[int, int]],
                 solver_cost_per_hour: float | None, currency: str = "RMB",
                 shapes: int | None = None) -> list[Check]:
    """Whole nodes cover the cards, caps, owned inventory, power, budget, GPU types and pool
    shapes, and the solver's cost.

    `chosen` holds the pools of every service (cards are counted per GPU type); `shapes` is the
    number of distinct pool shapes over all services (`pool_shapes`)."""
    checks: list[Check] = []
    power_w = 0.0
    for opt in gpus:
        rented, owned = nodes.get(opt.id, (0, 0))
        cards_used = sum(n * c.cards for c, n in chosen.items() if c.gpu == opt.id)
        have = (rented + owned) * opt.gpu.node_cards
        if cards_used or have:
            checks.append(Check(f"node_cover[{opt.id}]", cards_used, have, "cards"))
        if opt.max_cards is not None:
            checks.append(Check(f"availability[{opt.id}]", have, opt.max_cards, "cards"))
        if owned:
            checks.append(Check(f"owned[{opt.id}]", owned, opt.owned_nodes, "nodes"))
        power_w += have * opt.gpu.power_w
    cost = fleet_cost_per_hour(gpus, nodes)
    if limits.power is not None:
        checks.append(Check("power_cap", power_w, limits.power, "W"))
    if limits.budget_per_hour is not None:
        checks.append(Check("budget_cap", cost, limits.budget_per_hour, f"{currency}/h"))
    if limits.max_gpu_types is not None:
        used = {c.gpu for c, n in chosen.items() if n > 0}
        checks.append(Check("gpu_types_cap", len(used), limits.max_gpu_types, "GPU types"))
    if limits.max_pool_shapes is not None:
        n_shapes = len(pool_shapes({"": chosen})) if shapes is None else shapes
        checks.append(Check("pool_shapes_cap", n_shapes, limits.max_pool_shapes, "pool shapes"))
    if solver_cost_per_hour is not None:
        checks.append(Check("cost_matches_solver", abs(cost - solver_cost_per_hour),
                            1e-6 * max(1.0, cost), f"{currency}/h"))
    return checks
