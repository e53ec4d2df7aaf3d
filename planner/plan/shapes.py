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


def instance_sizes(node_cards: int, max_cards: int) -> list[int]:
    """Card counts an instance may have: powers of two dividing a node, then whole multiples of a node."""
    small = [x for x in _pow2_upto(node_cards) if node_cards % x == 0 and x <= max_cards]
    big = [node_cards * k for k in _pow2_upto(max_cards // node_cards) if k > 1]
    return small + big


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
            tp_in = min(n, domain)
            layouts = [(tp_in, n // tp_in, 1)]
            if a.is_moe:
                layouts += [(1, 1, n), (tp_in, 1, n // tp_in)]
                if n > domain:   # EP inside the scale-up domain, pipeline stages across it
                    layouts.append((1, n // domain, domain))
        else:
            layouts = [(tp, pp, n // (tp * pp)) for tp in _pow2_upto(n) for pp in _pow2_upto(n // tp)
                       if n % (tp * pp) == 0]
            layouts = [(t, p, d) for t, p, d in layouts
                       if (o.tp is None or t in o.tp) and (o.pp is None or p in o.pp)
                       and (o.dp is None or d in o.dp)]
        for tp, pp, dp in layouts:
            if a.heads % tp or tp > domain or pp > a.layers or (dp > 1 and not a.is_moe):
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
            why.append(f"tp {tp}: instances take a power of two of cards within a node, or whole nodes (up "
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
