"""Which benchmark format a file is, and reading it: `sniff` by content, `load_bench_file` to Points
(the formats and their readers: bench_files.py).
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

from planner.catalog.schemas import load_models
from planner.errors import BadInput
from planner.fidelity.bench_files import (
    MINIMAL_COLUMNS,
    BenchDeployment,
    genai_perf_run,
    guidellm_report,
    load_deployment,
    load_minimal_csv,
    serve_run,
)
from planner.fidelity.points import Point
from planner.fidelity.silicon import load_silicon_csv
from planner.input.files import csv_errors, loads_json, read_text
from planner.input.trace import separated_otherwise

# ------------------------------------------------------------------------------ dispatch
E2E = {"vllm": "mean_e2el_ms", "sglang": "mean_e2e_latency_ms"}   # each serving benchmark's end-to-end key


def _json_objects(text: str, path: Path) -> list[tuple[int, dict]] | None:
    """The file as one JSON object (line 0: the whole file), or as JSON lines of objects, each with
    its line number in the file (blank lines counted); None when it is neither. A later line that is
    not a JSON object, after lines that were, is BadInput naming the line."""
    try:
        data = loads_json(text, path)
        return [(0, data)] if isinstance(data, dict) else None
    except json.JSONDecodeError:
        pass
    out: list[tuple[int, dict]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = loads_json(line, path)
        except json.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict):
            if not out:
                return None
            raise BadInput(f"{path}: line {n}: not a JSON object (JSON lines expected, one run per line)")
        out.append((n, obj))
    return out or None


def sniff(path: Path, text: str) -> str:
    """The format of a benchmark file from its content: 'silicon', 'minimal', 'vllm', 'sglang',
    'genai-perf', 'guidellm'; BadInput naming the file and what it lacks when none matches."""
    if not text.strip():   # 'not a benchmark file this planner reads (…, or a CSV)' of an empty m.csv
        raise BadInput(f"{path}: the file is empty" + ("" if not text else " (blank lines only)"))
    if text.lstrip()[:1] not in ("{", "["):   # a CSV: its header names its columns
        with csv_errors(path):
            cols = {h.strip() for h in next(csv.reader(io.StringIO(text, newline="")), [])}
        if "silicon_tpot_ms" in cols:
            return "silicon"
        if set(MINIMAL_COLUMNS) <= cols:
            return "minimal"
        if (e := separated_otherwise(path, list(cols))) is not None:
            raise e
        if len(cols) > 1:
            missing = ", ".join(c for c in MINIMAL_COLUMNS if c not in cols)
            raise BadInput(f"{path}: a CSV that is neither the silicon CSV nor the minimal CSV "
                           f"(missing column(s) {missing}; see docs/export.md)")
    objs = _json_objects(text, path)
    if not objs:
        raise BadInput(f"{path}: not a benchmark file this planner reads (expected vLLM or SGLang "
                       f"serving-benchmark JSON/JSONL, a genai-perf profile export, a GuideLLM "
                       f"benchmarks.json, or a CSV)")
    first = objs[0][1]
    if isinstance(first.get("metadata"), dict) and "benchmarks" in first:
        return "guidellm"
    if "time_to_first_token" in first and "inter_token_latency" in first:
        return "genai-perf"
    if "mean_ttft_ms" in first and "backend" in first:   # vLLM's --append-result writes JSON lines too
        return "vllm" if "mean_e2el_ms" in first else "sglang" if len(objs) > 1 or E2E["sglang"] in first else "vllm"
    raise BadInput(f"{path}: JSON without the keys of a known benchmark format (vLLM/SGLang: "
                   f"backend, mean_ttft_ms; genai-perf: time_to_first_token, inter_token_latency; "
                   f"GuideLLM: metadata, benchmarks)")


def load_deployment_file(path: str | Path) -> BenchDeployment:
    """`bench_files.load_deployment`, after checking the file is not a benchmark result itself: a
    vLLM result given as --deployment listed its 40 keys as unknown (a hostile-input hunt)."""
    p = Path(path)
    text = read_text(p, "deployment")
    try:
        kind = sniff(p, text)
    except BadInput:
        kind = None
    if kind in SELF_DESCRIBING:
        raise BadInput(f"{p}: a {kind} CSV of measurements, not a deployment: give it as a measurement file; it "
                       f"says what each point measured, so it needs no --deployment")
    if kind is not None:
        raise BadInput(f"{p}: a {kind} benchmark result, not a deployment: give it as a measurement file, and "
                       f"--deployment a YAML of what it measured (model, gpu, engine, cards, parallelism, "
                       f"mode; docs/export.md)")
    return load_deployment(p)


SELF_DESCRIBING = ("silicon", "minimal")   # formats that say what each point measured (no deployment)


def read_bench_file(path: Path) -> tuple[str, str]:
    """(text, format) of a benchmark file (`sniff`): read once, for `load_bench_file` too."""
    return (text := read_text(path, "benchmark")), sniff(path, text)


def load_bench_file(path: Path, dep: BenchDeployment | None,
                    read: tuple[str, str] | None = None) -> tuple[list[Point], int, Counter]:
    """A benchmark file (or its `read_bench_file`) → (points, runs read, drop reasons)."""
    text, kind = read or read_bench_file(path)
    if kind == "silicon":
        return load_silicon_csv(path, text)
    if kind == "minimal":
        return load_minimal_csv(path, text)
    if dep is None:
        raise BadInput(f"{path}: a {kind} benchmark file does not say what it measured; "
                       f"give --deployment DEP.yaml (docs/export.md)")
    models = load_models()
    objs = _json_objects(text, path) or []
    got: list[Point | str] = []
    if kind == "genai-perf":
        got.append(genai_perf_run(objs[0][1], str(path), dep, models, str(path)))
    elif kind == "guidellm":
        got += guidellm_report(objs[0][1], path, dep, models)
    else:   # each run's end-to-end latency under its own tool's key
        for i, (line, d) in enumerate(objs):
            e2e = next((k for k in E2E.values() if k in d), E2E[kind])
            where = f"{path}: line {line}" if line else str(path)
            got.append(serve_run(d, where, dep, models, e2e, f"{path.name}#{i}", str(path)))
    why = Counter(g for g in got if isinstance(g, str))
    return [g for g in got if isinstance(g, Point)], len(got), why
