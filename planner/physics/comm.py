"""Collectives of one pass: tensor-parallel all-reduces, expert-parallel all-to-alls, pipeline
hand-offs. Inside a scale-up domain each costs the kernel tables' measured latency α(g) and
bandwidth for its group size plus a fitted engine latency per collective; across nodes (a
group wider than the domain: wide EP, two-node layouts) a ring over the NICs at η_n with the
inter-node latency. Pure functions, SI units.
"""

from __future__ import annotations

from planner.catalog.kernels import kernels_for
from planner.physics.deployment import ACT_BYTES, Deployment


def _link(dep: Deployment, group_cards: int) -> tuple[float, float]:
    """(bytes/s per card, latency per collective) of a group: scale-up link inside the domain,
    the NIC beyond it; bandwidth derated by η_n."""
    g, c = dep.gpu, dep.calib
    eta = c.v("network_efficiency")
    if group_cards <= g.domain_cards:
        return g.scale_up_bytes_per_s * eta, c.v("collective_latency_intra_s")
    return g.nic_bytes_per_s * eta, c.v("collective_latency_inter_s")


def _measured(dep: Deployment, kind: str, group_cards: int):
    """The kernel tables' latency and bandwidth of a collective inside one scale-up domain, for
    the largest measured group not above `group_cards` (None beyond the domain or without data,
    or under the roofline calibration)."""
    if not dep.calib.kernel_curves or group_cards > dep.gpu.domain_cards:
        return None
    k = kernels_for(dep.gpu)
    fn = k.allreduce if kind == "allreduce" else k.alltoall
    for g in (group_cards, *sorted((2, 4, 8, 16, 32, 64, 72), reverse=True)):
        if g <= group_cards and (m := fn(g)) is not None:
            return m
    return None


def _collective(dep: Deployment, kind: str, group_cards: int, nbytes, passes: float):
    """One collective of `kind` over `group_cards` cards moving `nbytes` (a number or an array):
    the kernel tables' α(g) + bytes/bw(g) where measured, else `passes`·(g−1)/g·bytes over the
    link's bandwidth (a ring: 2 passes for an all-reduce, 1 for an all-to-all); plus the link's
    latency per collective. Nothing on one card."""
    if group_cards <= 1:
        return 0.0
    bw, lat = _link(dep, group_cards)
    m = _measured(dep, kind, group_cards)
    if m is not None:
        return m.alpha_s + nbytes / m.bytes_per_s + lat
    return passes * (group_cards - 1) / group_cards * nbytes / bw + lat


def allreduce_time(dep: Deployment, group_cards: int, nbytes: float) -> float:
    """All-reduce of `nbytes` on each of `group_cards` cards. Inside a scale-up domain: the kernel
    tables' α(g) + bytes/bw(g) plus the engine's latency per collective; across nodes, a ring
    2(g−1)/g·bytes/(NIC·η_n) + the inter-node latency."""
    if group_cards <= 1 or nbytes <= 0:
        return 0.0
    return allreduce_times(dep, group_cards, nbytes)


def alltoall_time(dep: Deployment, group_cards: int, nbytes_per_card: float) -> float:
    """All-to-all where each card sends `nbytes_per_card`, (g−1)/g of it off-card. Inside a
    domain: measured α(g) + bytes/bw(g) + engine latency; across nodes over the NIC (wide EP)."""
    return _collective(dep, "alltoall", group_cards, nbytes_per_card, 1.0)


def allreduce_times(dep: Deployment, group_cards: int, nbytes):
    """`allreduce_time` for `nbytes` > 0, a number or an array (element by element)."""
    return _collective(dep, "allreduce", group_cards, nbytes, 2.0)


def p2p_time(dep: Deployment, nbytes: float, across_nodes: bool) -> float:
    """One point-to-point hand-off between pipeline stages: bytes/bw + latency."""
    g, c = dep.gpu, dep.calib
    eta = c.v("network_efficiency")
    if across_nodes:
        return nbytes / (g.nic_bytes_per_s * eta) + c.v("collective_latency_inter_s")
    return nbytes / (g.scale_up_bytes_per_s * eta) + c.v("collective_latency_intra_s")


def stage_comm_time(dep: Deployment, tokens: float) -> float:
    """Collectives of one stage pass over `tokens` tokens: TP all-reduces and EP all-to-alls.

    Per layer: attention output all-reduce over tp of (tokens/dp)·h activations; dense MLP
    all-reduce over the group that shards it; per MoE layer, over its moe_ep expert-parallel
    ranks a dispatch and a combine all-to-all of (tokens/n_s)·k·h·imbalance per card, and over
    its moe_tp expert slices an all-reduce of the (tokens·moe_tp/n_s)·h partial outputs (with
    moe_tp = tp, dp = 1: Megatron's second all-reduce of the layer).
    """
    return _stage_comm(dep, tokens, allreduce_time)


def stage_comm_times(dep: Deployment, tokens):
    """`stage_comm_time` for every element of an array of `tokens` > 0."""
    return _stage_comm(dep, tokens, allreduce_times)


def _stage_comm(dep: Deployment, tokens, allreduce):
    """The one formula of `stage_comm_time`, with the all-reduce of a number or of an array."""
    a, par, c = dep.arch, dep.par, dep.calib
    n_s = par.stage_cards
    layers = a.layers / par.pp
    dense = a.dense_layers / par.pp
    moe = a.moe_layers / par.pp
    act = a.hidden * ACT_BYTES
    t = layers * allreduce(dep, par.tp, tokens / par.dp * act)
    t = t + dense * allreduce(dep, n_s, tokens * act)  # dense MLP sharded over all n_s cards
    if a.is_moe and par.moe_ep > 1:
        per_card = tokens / n_s * a.experts_per_token * act * c.v("moe_imbalance")
        t = t + moe * 2.0 * alltoall_time(dep, par.moe_ep, per_card)
    if a.is_moe and par.moe_tp > 1:
        t = t + moe * allreduce(dep, par.moe_tp, tokens * par.moe_tp / n_s * act)
    return t
