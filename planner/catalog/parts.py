"""The dense parts of a model whose weights may be stored at their own precision (attention, dense
MLP, shared experts), and the parts of a deployment that differ from its weight precision."""

from __future__ import annotations

PARTS = ("attention", "dense_mlp", "shared_experts")   # the dense parts whose weights may differ


def part_dtypes(weights: str, parts: dict[str, str | None]) -> tuple[tuple[str, str], ...]:
    """((part, precision), ...) of the parts (PARTS order) whose precision differs from `weights`;
    empty when every part is stored at `weights` (the uniform deployment).

    >>> part_dtypes("fp8", {"attention": "bf16", "dense_mlp": "fp8", "shared_experts": None})
    (('attention', 'bf16'),)
    """
    if unknown := set(parts) - set(PARTS):
        raise ValueError(f"unknown weight parts {sorted(unknown)}; known: {', '.join(PARTS)}")
    return tuple((p, parts[p]) for p in PARTS if parts.get(p) and parts[p] != weights)  # type: ignore[misc]
