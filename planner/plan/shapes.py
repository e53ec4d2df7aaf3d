"""Instance shapes: the parallelism layouts a candidate may take on one GPU type.

A *shape* is (GPU type, Parallelism); `shapes_for` lists the layouts to try ('auto', or the
problem's allowed degrees), `instance_sizes` the card counts an instance may have.
"""

from __future__ import annotations

from planner.physics.perf import Parallelism
from planner.plan.resolve import GPUOption, Resolved


def _pow2_upto(n: int) -> list[int]:
    out, x = [], 1
    while x <= n:
        out.append(x)
        x *= 2
    return out


def _divisors(n: int) -> list[int]:
    """The divisors of n, ascending (the powers of two up to n where n is one)."""
    return [x for x in range(1, n + 1) if n % x == 0]


def instance_sizes(node_cards: int, max_cards: int) -> list[int]:
    """Card counts an instance may have: the divisors of a node's cards (so instances fill nodes
    exactly, as the MILP's node rows count them), then power-of-two multiples of a node. Until
    2026-12-07 only the powers of two among the divisors: a node of 6 or 10 cards (a catalog entry
    of one's own: RTX 4090 servers of 10) offered 1, 2, 12, 20 … cards, and Llama-3.1-70B on 6-card
    H100 nodes cost 2,405.70 RMB/h on 2-card instances against 194.40 on 8-card ones."""
    small = [x for x in _divisors(node_cards) if x <= max_cards]
    big = [node_cards * k for k in _pow2_upto(max_cards // node_cards) if k > 1]
    return small + big


def tp_fits(tp: int, n: int, domain: int, heads: int) -> bool:
    """Whether a tensor-parallel group of `tp` cards may serve an instance of n cards: it divides
    the heads and n, lies within the scale-up domain, and where the instance spans domains it tiles
    them (TP8 groups of a 40-card instance on 10-card domains would straddle two)."""
    return heads % tp == 0 and n % tp == 0 and tp <= domain and (n <= domain or domain % tp == 0)


def _tp_within(n: int, domain: int, heads: int) -> int:
    """The tensor-parallel degree of an 'auto' layout on n cards: min(n, domain), or where that does
    not fit (`tp_fits`: a 6-card node and 64 heads), the largest degree that does (TP2·PP3), so
    such a size still has a layout."""
    tp = min(n, domain)
    if tp_fits(tp, n, domain, heads):
        return tp
    return max(d for d in _divisors(n) if tp_fits(d, n, domain, heads))


def shapes_for(res: Resolved, opt: GPUOption) -> list[Parallelism]:
    """Parallelism layouts to try on one GPU type ('auto', or the problem's allowed degrees).

    Auto: dense models use TP inside the scale-up domain and PP across it; MoE models also
    try data-parallel attention with expert parallelism (TP1·DPn), TP-in-node × DP, and
    beyond one domain TP1·DP(domain)·PP(n/domain) (expert all-to-all kept on the scale-up link).
    """
    a, gpu = res.model.arch, opt.gpu
    o = res.problem.serving.options()
    domain = gpu.domain_cards
    out: list[Parallelism] = []
    for n in instance_sizes(gpu.node_cards, o.max_cards_per_instance):
        if o.tp is None and o.pp is None and o.dp is None:
            tp_in = _tp_within(n, domain, a.heads)
            layouts = [(tp_in, n // tp_in, 1)]
            if a.is_moe:
                layouts += [(1, 1, n), (tp_in, 1, n // tp_in)]
                if n > domain and n % domain == 0:   # EP inside the scale-up domain, pipeline stages across it
                    layouts.append((1, n // domain, domain))
        else:
            layouts = [(tp, pp, n // (tp * pp)) for tp in _divisors(n) for pp in _divisors(n // tp)]
            layouts = [(t, p, d) for t, p, d in layouts
                       if (o.tp is None or t in o.tp) and (o.pp is None or p in o.pp)
                       and (o.dp is None or d in o.dp)]
        for tp, pp, dp in layouts:
            if not tp_fits(tp, n, domain, a.heads) or pp > a.layers or (dp > 1 and not a.is_moe):
                continue
            par = Parallelism(tp=tp, pp=pp, dp=dp)
            if par not in out:
                out.append(par)
    return out


def why_no_shapes(res: Resolved) -> str:
    """Why the problem's allowed degrees (`serving.parallelism`) leave no layout on any of its GPU
    types, one reason per degree that never fits, in the terms `plan eval` uses."""
    a = res.model.arch
    o = res.problem.serving.options()
    sizes = {n for opt in res.gpus for n in instance_sizes(opt.gpu.node_cards, o.max_cards_per_instance)}
    domain = max(opt.gpu.domain_cards for opt in res.gpus)
    why = []
    for tp in o.tp or ():
        if tp not in sizes and not any(n % tp == 0 for n in sizes):
            why.append(f"tp {tp}: instances take a divisor of a node's cards, or whole nodes (up "
                       f"to max_cards_per_instance {o.max_cards_per_instance}); none is a multiple of {tp}")
        elif a.heads % tp:
            why.append(f"tp {tp} does not divide the model's {a.heads} attention heads")
        elif tp > domain:
            why.append(f"tp {tp} is beyond the scale-up domain of every GPU type ({domain} cards at most)")
    for pp in o.pp or ():
        if pp > a.layers:
            why.append(f"pp {pp}: the model has {a.layers} layers")
        elif not any(n % pp == 0 for n in sizes):
            why.append(f"pp {pp} divides no instance size ({', '.join(map(str, sorted(sizes)))} cards)")
    for dp in o.dp or ():
        if dp > 1 and not a.is_moe:
            why.append(f"dp {dp}: attention data parallelism needs a mixture-of-experts model")
    return "; ".join(why) or (f"no layout tp·pp·dp of the allowed degrees makes an instance size "
                              f"({', '.join(map(str, sorted(sizes)))} cards) on any GPU type")
