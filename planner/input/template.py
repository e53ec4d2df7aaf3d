"""The commented problem file `plan init` writes: the values asked for, every other key at its
default or commented out, each with one line saying what it is (docs/problem-files.md has more).

`INIT_DEFAULTS` are what `plan init` uses for a value neither given as a flag nor asked (stdin not
a terminal): a small model on two common GPU types, so that the file solves as written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from planner.errors import one_line

INIT_DEFAULTS: dict[str, Any] = {
    "model": "llama-3.1-8b", "qps": 10.0, "input_tokens": 1000, "output_tokens": 200,
    "ttft": "2s", "tpot": "50ms", "gpus": "h100,h20",
}
QUESTIONS: dict[str, str] = {
    "model": "Model (catalog id, Hugging Face id or path to a config.json)",
    "qps": "Requests per second", "input_tokens": "Prompt tokens per request",
    "output_tokens": "Output tokens per request", "ttft": "Time to first token limit (e.g. 2s, 500ms)",
    "tpot": "Time per output token limit (e.g. 50ms)", "gpus": "GPU types, comma-separated (plan catalog gpus)",
}


def _scalar(v: Any) -> str:
    """One YAML scalar as it would be written by hand (quoted only where YAML needs it)."""
    return yaml.safe_dump(v, default_flow_style=True, allow_unicode=True).removesuffix("\n...\n").strip()


def gpu_list(text: str) -> list[str]:
    """'h100, h20' → ['h100', 'h20']."""
    return [g.strip() for g in str(text).split(",") if g.strip()]


def model_beside(model: str, path: str | None) -> str:
    """`model` as the problem file at `path` names it: a config.json (or its folder) given by a path
    relative to here, rewritten relative to the file's directory, where plan solve reads a relative
    path first. `plan init --model cfg/config.json --out sub/p.yaml` wrote `cfg/config.json`, which
    plan solve found only from this directory: `cd sub && plan solve p.yaml` said file not found.
    Catalog and Hugging Face ids (no such file here), absolute paths and printed files are kept."""
    m = Path(model)
    if path is None or m.is_absolute() or not ("/" in model or m.suffix.lower() == ".json") or not m.exists():
        return model
    where = Path(path).parent
    if where.resolve() == Path.cwd().resolve():
        return model
    return Path(os.path.relpath(m.resolve(), where.resolve())).as_posix()


def problem_template(name: str, v: dict[str, Any], path: str | None = None) -> str:
    """The problem file for values `v` (keys of INIT_DEFAULTS), with comments; `path`: the file it
    is written to (None: printed, and the first line says how to keep it). The first line named
    `plan solve <name>.yaml` whatever the file, and a printed file none had been written to."""
    qps, model = v["qps"], model_beside(str(v["model"]), path)
    gpus = "\n".join(f"  - {_scalar(g)}" for g in gpu_list(v["gpus"]))
    solve = (f"Solve it with: plan solve {one_line(path)}" if path else
             f"Save it (plan init --out {name}.yaml) and solve it with: plan solve {name}.yaml")
    return _align(f"""\
# A capacity-planning problem written by `plan init`. {solve}
# Every key, its default and its unit: docs/problem-files.md. Unknown keys are errors.
name: {_scalar(name)}
model: {_scalar(model)}\t# catalog id (plan catalog models), Hugging Face id, or path to a config.json
workload:
  qps: {_scalar(int(qps) if float(qps).is_integer() else qps)}\t# requests per second to serve
  input_tokens: {_scalar(v["input_tokens"])}\t# prompt tokens per request, or {{values: [...], weights: [...]}}
  output_tokens: {_scalar(v["output_tokens"])}\t# generated tokens per request
  prefix_cache_hit_percent: 0   # share of prompt tokens served from the prefix cache, 0-100
slo:
  ttft: {_scalar(v["ttft"])}\t# time to first token, e.g. 500ms or 2s
  tpot: {_scalar(v["tpot"])}\t# time per output token after the first
  ttft_statistic: mean          # which statistic must meet the limit: mean | p50 | p90 | p95 | p99
  tpot_statistic: mean
gpus:                           # GPU types the plan may rent; an entry may be {{id: h100, price_per_gpu_hour: 12}}
{gpus}
pricing:
  currency: RMB                 # ISO 4217 code of every price and cost (the catalog's prices are RMB)
  # exchange_rate_per_rmb: 0.14 # required for another currency unless every GPU has price_per_gpu_hour
  # sell_per_million_output_tokens: 16   # your selling price: adds revenue, margin and break-even
# limits: {{power: 2MW, budget_per_hour: 5000, max_gpu_types: 2, max_pool_shapes: 4}}
# serving: {{modes: [disaggregated, colocated], parallelism: auto}}
# calibration: default          # performance-model profile (catalogs/calibration/)
""")


COMMENT_COLUMN = 32


def _align(text: str) -> str:
    """Lines whose value and comment are separated by a tab: the comment moved to COMMENT_COLUMN."""
    return "\n".join(f"{a.ljust(COMMENT_COLUMN - 1)} {b}" if "\t" in line else line
                     for line in text.split("\n") for a, _, b in [line.partition("\t")])
