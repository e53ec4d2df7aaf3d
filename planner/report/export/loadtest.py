"""The load test at the plan's own operating point, and the SLO it should meet.

`vllm bench serve` with the random dataset at the plan's mean prompt and output lengths (the
cached share of each prompt as a shared prefix), `--request-rate` = the plan's QPS (Poisson
arrivals, as the plan's queueing assumes) and three minutes of requests; a genai-perf variant
with the same load. `slo.json` names the metric of the saved result each limit applies to.
"""

from __future__ import annotations

import json
import math

from planner.errors import one_line
from planner.report.export.engines import PoolLaunch
from planner.report.export.planread import ExportPlan

DURATION_S = 180      # "a few minutes" of arrivals
MIN_PROMPTS = 200
MAX_DURATION_S = 3600  # at most an hour of arrivals for MIN_PROMPTS (0.001 req/s asked for 55 hours)


def prompts(qps: float) -> int:
    """Requests a load test sends: DURATION_S of arrivals at `qps`, at least MIN_PROMPTS for its
    statistics unless that takes more than MAX_DURATION_S, and at least one."""
    return max(math.ceil(qps * DURATION_S), min(MIN_PROMPTS, math.ceil(qps * MAX_DURATION_S)), 1)
METRIC = {"mean": "mean_{m}_ms", "p50": "median_{m}_ms", "p90": "p90_{m}_ms", "p95": "p95_{m}_ms",
          "p99": "p99_{m}_ms"}


def _sh(argv: list[str]) -> str:
    """argv as a shell command, one flag (and its value) per line; `${VAR}` stays expandable."""
    import shlex
    words = [f'"{a}"' if a.startswith("${") else shlex.quote(a) for a in argv]
    lines = [words[0]]
    for a, w in zip(argv[1:], words[1:]):
        if a.startswith("-"):
            lines.append(w)
        else:
            lines[-1] += " " + w
    return " \\\n  ".join(lines)


def bench_argv(model: str, qps: float, inp: float, outp: float, hit: float, result: str) -> list[str]:
    prefix = int(round(hit * inp))
    n = prompts(qps)
    argv = ["vllm", "bench", "serve", "--backend", "openai", "--base-url", "${BASE_URL}", "--model", model,
            "--tokenizer", "${TOKENIZER}", "--dataset-name", "random",
            "--random-input-len", str(int(round(inp)) - prefix), "--random-output-len", str(int(round(outp))),
            "--random-range-ratio", "0"]
    if prefix:
        argv += ["--random-prefix-len", str(prefix)]
    argv += ["--request-rate", f"{qps:g}", "--num-prompts", str(n), "--ignore-eos",
             "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,90,95,99",
             "--save-result", "--result-filename", result]
    return argv


def genai_perf_argv(model: str, qps: float, inp: float, outp: float, hit: float = 0.0) -> list[str]:
    """genai-perf at loadtest.sh's load: the cached share as one prefix prompt every request starts
    with (`--num-prefix-prompts 1 --prefix-prompt-length`), the rest synthetic, as `bench_argv`."""
    prefix = int(round(hit * inp))
    n = prompts(qps)
    argv = ["genai-perf", "profile", "-m", model, "--tokenizer", "${TOKENIZER}", "--url", "${BASE_URL}",
            "--endpoint-type", "completions", "--streaming",
            "--synthetic-input-tokens-mean", str(int(round(inp)) - prefix), "--synthetic-input-tokens-stddev", "0"]
    if prefix:
        argv += ["--num-prefix-prompts", "1", "--prefix-prompt-length", str(prefix)]
    return argv + ["--output-tokens-mean", str(int(round(outp))), "--output-tokens-stddev", "0",
                   "--extra-inputs", "ignore_eos:true", "--request-rate", f"{qps:g}", "--request-count", str(n)]


def file_stem(name: str) -> str:
    """`name` as a file name in the load test's directory: letters, digits, '.', '_', '+' and '-'
    (a '/' in a problem's name wrote the result elsewhere, '..' above it), no leading dot or hyphen.

    >>> file_stem("../../evil x"), file_stem("chat+coding")
    ('evil-x', 'chat+coding')
    """
    s = "".join(c if c.isascii() and (c.isalnum() or c in "._+-") else "-" for c in name)
    while "--" in s:
        s = s.replace("--", "-")
    return s.lstrip(".-").rstrip("-") or "service"


def unique_result(stem: str, taken: set[str]) -> str:
    """'result-<stem>.json', with '-2', '-3' … after the stem when another service's name made the
    same file name (classes '.' and '..' both became 'service', 'chat x' and 'chat-x' one name:
    the second run's results replaced the first's). Adds the name to `taken`.

    >>> t = set(); unique_result("service", t), unique_result("service", t), unique_result("service-2", t)
    ('result-service.json', 'result-service-2.json', 'result-service-2-2.json')
    """
    name, k = f"result-{stem}.json", 1
    while name in taken:
        k += 1
        name = f"result-{stem}-{k}.json"
    taken.add(name)
    return name


def loadtest_files(plan: ExportPlan, pls: list[PoolLaunch], served: dict[str, str] | None = None) -> dict[str, str]:
    """loadtest.sh, its genai-perf twin and slo.json: each service at its own rate and lengths,
    asking for its `served` model name (export.served_names: its model, or model and service)."""
    served = served or {}
    bench = ["#!/bin/sh", "# The plan's operating point; BASE_URL = the router/frontend, TOKENIZER = the model path.",
             ': "${BASE_URL:=http://localhost:8000}"', ': "${TOKENIZER:?set TOKENIZER to the model path or HF id}"']
    perf = ["#!/bin/sh", "# genai-perf variant of loadtest.sh (same load)",
            ': "${BASE_URL:=localhost:8000}"', ': "${TOKENIZER:?set TOKENIZER to the model path or HF id}"']
    slo = {}
    taken: set[str] = set()
    for s in plan.services:
        w, lim = s.plan.workload, s.plan.slo
        result = unique_result(file_stem(s.key), taken)
        bench += ["", f"# service {one_line(s.key)}: {w.qps:g} req/s × {w.input_tokens:g} in / {w.output_tokens:g} out "
                  f"tokens (prefix cache hit {w.prefix_cache_hit:.0%}); SLO TTFT {lim.ttft_statistic} ≤ "
                  f"{lim.ttft_s * 1e3:g} ms, TPOT {lim.tpot_statistic} ≤ {lim.tpot_s * 1e3:g} ms",
                  _sh(bench_argv(served.get(s.key, s.plan.model), w.qps, w.input_tokens, w.output_tokens,
                                 w.prefix_cache_hit, result))]
        perf += ["", f"# service {one_line(s.key)}",
                 _sh(genai_perf_argv(served.get(s.key, s.plan.model), w.qps, w.input_tokens, w.output_tokens,
                                     w.prefix_cache_hit))]
        slo[s.key] = {"result_file": result, "request_rate": w.qps, "model": served.get(s.key, s.plan.model),
                      "input_tokens": w.input_tokens, "output_tokens": w.output_tokens,
                      "limits_ms": {METRIC[lim.ttft_statistic].format(m="ttft"): lim.ttft_s * 1e3,
                                    METRIC[lim.tpot_statistic].format(m="tpot"): lim.tpot_s * 1e3},
                      "planned_ms": _planned(s, pls)}
    return {"loadtest.sh": "\n".join(bench) + "\n", "loadtest-genai-perf.sh": "\n".join(perf) + "\n",
            "slo.json": json.dumps(slo, indent=2, sort_keys=True) + "\n"}


def _planned(s, pls: list[PoolLaunch]) -> dict[str, float]:
    """What the plan's verification expects per pool (TTFT of prefill/colocated, TPOT of decode)."""
    out = {}
    for pl in pls:
        if pl.service != s.key:
            continue
        if pl.pool.ttft_s is not None:
            out[f"{pl.name}.ttft"] = pl.pool.ttft_s * 1e3
        if pl.pool.tpot_s is not None:
            out[f"{pl.name}.tpot"] = pl.pool.tpot_s * 1e3
    return out
