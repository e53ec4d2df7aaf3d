"""The longest request an exported engine admits (vLLM --max-model-len, SGLang --context-length,
TensorRT-LLM --max_seq_len): the longest prompt and answer the plan's memory was sized for.

Without it an engine takes the model's whole context: vLLM refuses to start where one sequence of
that length does not fit the KV cache ("To serve at least one request with the model's max seq
len …"), which the exported Llama-3.1-8B on one RTX 4090 (128K tokens, 17 GB of KV beside 16 GB
of weights on a 24 GB card) and Mistral-Nemo on one H100 (1,024,000 tokens) hit (a hostile-input
hunt, 2026-12-07)."""

from __future__ import annotations

import math
from typing import Any

from planner.catalog.schemas import get_model
from planner.errors import BadInput

LENGTH_FLAG = {"vllm": "--max-model-len", "sglang": "--context-length", "trtllm": "--max_seq_len"}


def longest_request(plan: Any, source: str, at_least: int = 0) -> int:
    """Tokens of the longest request a plan's pools were sized for (`WorkloadContext.ctx_peak`: the
    longest prompt plus the longest answer of its lengths; `at_least`: a day's longest, from its
    periods), at most the model's context (the plan notes requests past it; an engine refuses a
    longer length than the model's)."""
    w = plan.workload
    longest = max(at_least, max((v for v, _ in w.input_distribution or []), default=w.input_tokens)
                  + max((v for v, _ in w.output_distribution or []), default=w.output_tokens))
    try:
        context = get_model(plan.model_source or plan.model).arch.context
    except BadInput as e:
        raise BadInput(f"{source}: model: {e}") from None
    return int(min(math.ceil(longest), context) if context else math.ceil(longest))


def length_flag(engine: str, tokens: int) -> list[str]:
    """An engine's longest-request flag and value (none for 0: the model's context)."""
    return [LENGTH_FLAG[engine], str(tokens)] if tokens else []


def day_longest(d: dict[str, Any]) -> dict[str, int] | None:
    """The longest request of any period of a plan over a load profile, by class ('' for a single
    workload), from its periods' `longest_tokens`; None for a file written before them."""
    out: dict[str, int] = {}
    for p in d["periods"]:
        rows = p.get("classes") or [{"name": "", "longest_tokens": p.get("longest_tokens")}]
        for c in rows if isinstance(rows, list) else []:
            n = c.get("longest_tokens") if isinstance(c, dict) else None
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                return None
            out[str(c.get("name", ""))] = max(out.get(str(c.get("name", "")), 0), n)
    return out


def lengths_vary(d: dict[str, Any]) -> bool:
    """Whether a plan over a load profile has periods of other mean lengths than its static peak
    plan's (a trace's hours, or per-period lengths): the union's lengths are then the peak's alone,
    which bound no other period's longest request."""
    base = d["comparison"]["static_peak_plan"]
    def differ(a, b) -> bool:
        return a is not None and b is not None and abs(a - b) > 1e-9 * max(abs(a), abs(b))
    if base.get("kind") == "fleet":
        own = {k.get("name"): k for k in base.get("classes") or [] if isinstance(k, dict)}
        return any(differ(c.get("input_tokens_mean"), own.get(c.get("name"), {}).get("input_tokens"))
                   or differ(c.get("output_tokens_mean"), own.get(c.get("name"), {}).get("output_tokens"))
                   for p in d["periods"] for c in p.get("classes") or [] if isinstance(c, dict))
    w = base.get("workload") or {}
    return any(differ(p.get("input_tokens_mean"), w.get("input_tokens"))
               or differ(p.get("output_tokens_mean"), w.get("output_tokens")) for p in d["periods"])
