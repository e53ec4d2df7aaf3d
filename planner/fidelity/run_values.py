"""Reading one benchmark run's numbers (vLLM, SGLang, genai-perf, GuideLLM results): a positive
finite number or BadInput naming the file and field, the pacing and concurrency cap a run was
given, and the requests it held in flight (`bench_files` turns a run into a Point)."""

from __future__ import annotations

import re

from planner.errors import BadInput
from planner.fidelity.points import RUN_DOMAIN


def number(d: dict, key: str, where: str) -> float:
    """A positive finite number at d[key]; BadInput naming file and field otherwise."""
    if (v := optional(d, key)) is None:
        raise BadInput(f"{where}: {key}: expected a positive finite number, got {shown(d.get(key, ...))}")
    return v


def count(d: dict, key: str, where: str) -> float:
    """A whole positive number of requests at d[key] (vLLM and SGLang write `completed` as an
    integer: 99.5 read as one divided the run's token totals into a made-up mean length)."""
    v = number(d, key, where)
    if v != int(v):
        raise BadInput(f"{where}: {key}: {v:g} is not a whole number of requests")
    return v


def whole_from_one(v: object, top: float) -> bool:
    """Whether `v` is a whole number from 1 to `top` (a boolean is not): a count of requests."""
    return not isinstance(v, bool) and isinstance(v, int | float) and 1 <= v <= top and v == int(v)


MAX_SENT = 1e15   # requests a run sent: beyond any benchmark (and below where a JSON integer stops being a float)


def sent_count(d: dict, key: str, where: str) -> float | None:
    """The requests a run sent (vLLM's and SGLang's `num_prompts`): None where the tool writes none
    (null, absent), else a whole number, 1 or more; anything else is BadInput (320.5 was read, and
    divided into the run's concurrency)."""
    v = d.get(key)
    if v is None:
        return None
    if not whole_from_one(v, MAX_SENT):
        raise BadInput(f"{where}: {key}: {shown(v)} is not a number of requests sent (a whole number from 1 to "
                       f"{MAX_SENT:g}, the tools' --num-prompts)")
    return float(v)


def shown(v: object, most: int = 40) -> str:
    """repr(v), a long one cut; JSON's null and a key left out (`...`) in words (both read 'got None')."""
    r = "null" if v is None else "nothing (the key is missing)" if v is ... else repr(v)
    return r if len(r) <= most else f"{r[:most]}… ({len(r):,} characters)"


def optional(d: dict, key: str) -> float | None:
    """d[key] when it is a positive finite number, else None (the tools write null or 'inf')."""
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v < float("inf"):
        return None
    try:
        return float(v)
    except OverflowError:   # a JSON integer of 309 digits or more is no float (it was exit 5)
        return None


DECIMAL = re.compile(r"[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)   # as a CSV cell writes it (not '٣٢')


def paced(d: dict, key: str, where: str) -> bool:
    """Whether a run was paced at a finite request rate: a positive number; null, absent, 'inf' or
    Infinity (SGLang) is no pacing; anything else is BadInput (-1 and 'fast' were read as none)."""
    v = d.get(key)
    if v is None or (isinstance(v, str) and v.strip().lower() in ("inf", "infinity")) or v == float("inf"):
        return False
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v < float("inf"):
        raise BadInput(f"{where}: {key}: {v!r} is not a request rate (a positive number of requests a second, "
                       f"or inf for a run without pacing)")
    return True


def cap(d: dict, key: str, where: str) -> float | None:
    """A run's concurrency cap: None where the tool writes none (null, absent, 'inf': a rate-only
    run), else a positive number; anything else is BadInput (a cap of -4 or '8' was read as no cap,
    where the minimal CSV refuses the same value)."""
    v = d.get(key)
    if v is None or v == "inf" or (isinstance(v, float) and v == float("inf")):
        return None
    top = RUN_DOMAIN["concurrency"][2]
    if not whole_from_one(v, top):
        raise BadInput(f"{where}: {key}: {v!r} is not a number of requests in flight (a whole number from 1 to "
                       f"{top:g}, the tools' --max-concurrency, or null for a run without a cap)")
    return float(v)


def concurrency(max_conc: float | None, sent: float | None, throughput: float | None,
                 e2e_s: float | None, paced: bool = False) -> float | str:
    """Requests in flight: the run's cap (at most the requests sent), else Little's law
    (request throughput × mean end-to-end latency), else the reason the point is dropped. A run
    `paced` at a finite request rate keeps fewer in flight than its cap when the rate is below
    what the cap would carry: the lesser of the two (`--request-rate 1 --max-concurrency 256` with
    0.99 req/s at 2.45 s each, 2.4 in flight, was read as 256, decode tokens/s per GPU 100× over)."""
    little = throughput * e2e_s if throughput is not None and e2e_s is not None else None
    if paced and max_conc is not None and little is None:   # the cap alone is no count: 105× over
        return "paced run with a concurrency cap but without throughput and latency (concurrency unknown)"
    if max_conc is not None:
        cap = min(max_conc, sent) if sent is not None else max_conc
        return min(cap, little) if paced and little is not None else cap
    if little is not None:
        return little
    return "rate-only run without end-to-end latency (concurrency unknown)"


def e2e_latency_s(measured_s: float | None, ttft_s: float, tpot_s: float, osl: float) -> float:
    """A request's mean end-to-end latency: the file's, else TTFT + TPOT·(osl − 1), what the tools
    define TPOT by ((e2e − TTFT)/(output − 1) a request; exact for answers of one length). vLLM
    writes `mean_e2el_ms` only when `--percentile-metrics` names e2el, which its default does not."""
    return measured_s if measured_s is not None else ttft_s + tpot_s * max(osl - 1.0, 0.0)
