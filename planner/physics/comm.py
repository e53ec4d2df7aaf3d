"""Collectives of one pass: tensor-parallel all-reduces, expert-parallel all-to-alls, pipeline
hand-offs. Inside a scale-up domain each costs the kernel tables' measured latency α(g) and
bandwidth for its group size plus a fitted engine latency per collective; across nodes (a
group wider than the domain: wide EP, two-node layouts) a ring over the NICs at η_n with the
inter-node latency. Pure functions, SI units.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def _domain_kernels(dep: Deployment, group_cards: int):
    """The card's kernel tables for a collective of `group_cards` inside its scale-up domain; None
    beyond the domain or under the roofline calibration (no kernel curves)."""
    if not dep.calib.kernel_curves or group_cards > dep.gpu.domain_cards:
        return None
    return kernels_for(dep.gpu)


def _measured(dep: Deployment, kind: str, group_cards: int):
    """The kernel tables' latency and bandwidth of a collective inside one scale-up domain, for
    the largest measured group not above `group_cards` (None beyond the domain or without data,
    or under the roofline calibration)."""
    if (k := _domain_kernels(dep, group_cards)) is None:
        return None
    return _largest_group(k.allreduce if kind == "allreduce" else k.alltoall, group_cards)


def _largest_group(fn, group_cards: int):
    """fn(g) for the largest measured group size g not above `group_cards` (None if none is)."""
    for g in (group_cards, *sorted((2, 4, 8, 16, 32, 64, 72), reverse=True)):
        if g <= group_cards and (m := fn(g)) is not None:
            return m
    return None


def _alpha_by_analogy(dep: Deployment, kind: str, group_cards: int) -> float:
    """The per-call latency a card without tables takes from its family reference's measured
    NVLink tables (`GpuKernels.alpha_by_analogy`), inside its scale-up domain; else 0."""
    if (k := _domain_kernels(dep, group_cards)) is None:
        return 0.0
    return _largest_group(lambda g: k.alpha_by_analogy(kind, g), group_cards) or 0.0


@dataclass(frozen=True)
class CollectiveCost:
    """What one collective of a kind on a group of cards costs: the kernel tables' α(g) +
    bytes/bw(g) + the link's latency where measured, else a ring's coef·bytes/bw + the latency,
    coef = passes·(g−1)/g (`_collective`), plus for a card without tables the reference's α(g)."""

    measured: bool
    alpha_s: float       # measured α(g); for the ring the reference's by analogy, or 0
    coef: float          # the ring's passes·(g−1)/g; 1 when measured
    bytes_per_s: float   # measured bw(g), or the link's bandwidth
    latency_s: float     # the link's latency per collective
    absent: object = None   # a group's costs (`physics.many`, each field one per point): where there is none

    def time(self, nbytes):
        """Seconds to move `nbytes` (a number or an array, element by element); 0 where `absent`."""
        if self.measured:
            return self.alpha_s + nbytes / self.bytes_per_s + self.latency_s
        t = self.alpha_s + self.coef * nbytes / self.bytes_per_s + self.latency_s
        if self.absent is None:
            return t
        import numpy as np
        return np.where(self.absent, 0.0, t)


def collective_cost(dep: Deployment, kind: str, group_cards: int, passes: float) -> CollectiveCost | None:
    """The `CollectiveCost` of one collective of `kind` over `group_cards` cards (None on one card:
    nothing moves); `passes` of the ring: 2 for an all-reduce, 1 for an all-to-all."""
    if group_cards <= 1:
        return None
    bw, lat = _link(dep, group_cards)
    m = _measured(dep, kind, group_cards)
    if m is not None:
        return CollectiveCost(True, m.alpha_s, 1.0, m.bytes_per_s, lat)
    return CollectiveCost(False, _alpha_by_analogy(dep, kind, group_cards), passes * (group_cards - 1) / group_cards,
                          bw, lat)


def _collective(dep: Deployment, kind: str, group_cards: int, nbytes, passes: float):
    """One collective of `kind` over `group_cards` cards moving `nbytes` (a number or an array):
    the kernel tables' α(g) + bytes/bw(g) where measured, else `passes`·(g−1)/g·bytes over the
    link's bandwidth (a ring: 2 passes for an all-reduce, 1 for an all-to-all); plus the link's
    latency per collective. Nothing on one card."""
    cost = collective_cost(dep, kind, group_cards, passes)
    return 0.0 if cost is None else cost.time(nbytes)


def allreduce_time(dep: Deployment, group_cards: int, nbytes: float) -> float:
    """All-reduce of `nbytes` on each of `group_cards` cards. Inside a scale-up domain: the kernel
    tables' α(g) + bytes/bw(g) plus the engine's latency per collective; across nodes, a ring
    2(g−1)/g·bytes/(NIC·η_n) + the inter-node latency."""
    if group_cards <= 1 or nbytes <= 0:
        return 0.0
    return _collective(dep, "allreduce", group_cards, nbytes, 2.0)


def alltoall_time(dep: Deployment, group_cards: int, nbytes_per_card: float) -> float:
    """All-to-all where each card sends `nbytes_per_card`, (g−1)/g of it off-card. Inside a
    domain: measured α(g) + bytes/bw(g) + engine latency; across nodes over the NIC (wide EP)."""
    return _collective(dep, "alltoall", group_cards, nbytes_per_card, 1.0)


def p2p_link(dep: Deployment, across_nodes: bool) -> tuple[float, float]:
    """(bytes/s, latency) of a point-to-point hand-off between pipeline stages: the NIC across
    nodes, the scale-up link inside one; bandwidth derated by η_n."""
    g, c = dep.gpu, dep.calib
    eta = c.v("network_efficiency")
    if across_nodes:
        return g.nic_bytes_per_s * eta, c.v("collective_latency_inter_s")
    return g.scale_up_bytes_per_s * eta, c.v("collective_latency_intra_s")


def p2p_time(dep: Deployment, nbytes: float, across_nodes: bool) -> float:
    """One point-to-point hand-off between pipeline stages: bytes/bw + latency (`p2p_link`)."""
    bw, lat = p2p_link(dep, across_nodes)
    return nbytes / bw + lat


def stage_comm_time(dep: Deployment, tokens: float) -> float:
    """Collectives of one stage pass over `tokens` tokens: TP all-reduces and EP all-to-alls.

    Per layer: attention output all-reduce over tp of (tokens/dp)·h activations; dense MLP
    all-reduce over the group that shards it; per MoE layer, over its moe_ep expert-parallel
    ranks a dispatch and a combine all-to-all of (tokens/n_s)·k·h·imbalance per card, and over
    its moe_tp expert slices an all-reduce of the (tokens·moe_tp/n_s)·h partial outputs (with
    moe_tp = tp, dp = 1: Megatron's second all-reduce of the layer).
    """
    return stage_comm(dep).time(tokens)


@dataclass(frozen=True)
class StageComm:
    """The collectives of one stage pass of a deployment (`stage_comm_time`): each group's
    `CollectiveCost` (None on one card) and how many of it a stage runs. `physics.many` builds one
    of several deployments, each field one per point (a cost None where no deployment runs it,
    `absent` where some do not)."""

    layers: float                    # L/pp attention all-reduces over tp
    dense: float                     # L_dense/pp dense-MLP all-reduces over n_s
    moe2: float                      # 2·L_moe/pp all-to-alls over moe_ep (dispatch and combine)
    moe: float                       # L_moe/pp expert-slice all-reduces over moe_tp
    dp: int
    n_s: int
    moe_tp: int
    act: float                       # bytes of one token's activations: h·ACT_BYTES
    experts_per_token: int
    imbalance: float
    tp_cost: CollectiveCost | None
    ns_cost: CollectiveCost | None
    ep_cost: CollectiveCost | None   # None without expert parallelism (or a dense model)
    etp_cost: CollectiveCost | None  # None without expert slicing (or a dense model)

    def time(self, tokens: float) -> float:
        """`stage_comm_time` at `tokens`: an all-reduce of no bytes costs nothing."""
        return self._sum(tokens, True)

    def times(self, tokens):
        """`stage_comm_time` per element of an array of `tokens` > 0."""
        return self._sum(tokens, False)

    def _sum(self, tokens, scalar: bool):
        """The one formula of `stage_comm_time`, for a number (`scalar`) or an array."""
        def allreduce(cost, nbytes):
            if cost is None or (scalar and nbytes <= 0):
                return 0.0
            return cost.time(nbytes)
        act, n_s = self.act, self.n_s
        attn = allreduce(self.tp_cost, tokens / self.dp * act)
        t = self.layers * attn
        # dense MLP sharded over all n_s cards; with dp = 1 that is the attention's all-reduce (n_s = tp,
        # tokens/1 is tokens)
        one_rank = self.dp == 1
        dense = attn if one_rank is True else allreduce(self.ns_cost, tokens * act)
        if not isinstance(one_rank, bool):   # per point
            import numpy as np
            dense = np.where(one_rank, attn, dense)
        t = t + self.dense * dense
        # where a group's cost is `absent` it adds n·0 (t + 0 is t: no time is −0)
        if self.ep_cost is not None:
            per_card = tokens / n_s * self.experts_per_token * act * self.imbalance
            t = t + self.moe2 * self.ep_cost.time(per_card)
        if self.etp_cost is not None:
            t = t + self.moe * allreduce(self.etp_cost, tokens * self.moe_tp / n_s * act)
        return t


def stage_comm(dep: Deployment) -> StageComm:
    """The `StageComm` of a deployment (the collectives' costs looked up once)."""
    a, par, c = dep.arch, dep.par, dep.calib
    n_s = par.stage_cards
    moe = a.moe_layers / par.pp
    ep = a.is_moe and par.moe_ep > 1
    etp = a.is_moe and par.moe_tp > 1
    return StageComm(a.layers / par.pp, a.dense_layers / par.pp, moe * 2.0, moe, par.dp, n_s, par.moe_tp,
                     a.hidden * ACT_BYTES, a.experts_per_token, c.v("moe_imbalance"),
                     collective_cost(dep, "allreduce", par.tp, 2.0), collective_cost(dep, "allreduce", n_s, 2.0),
                     collective_cost(dep, "alltoall", par.moe_ep, 1.0) if ep else None,
                     collective_cost(dep, "allreduce", par.moe_tp, 2.0) if etp else None)
