"""A user's own benchmark files (vLLM, SGLang, genai-perf, the minimal CSV) → Points: exact
values read from realistic samples, a round trip through `plan calibrate`'s fit, and bad input."""

import csv
import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import cli
from planner.catalog.calibration import load_calibration
from planner.errors import BadInput
from planner.fidelity.bench_files import load_deployment, make_point
from planner.fidelity.fit import calibration_from, fit, free_params, param_value, without_families
from planner.fidelity.measurements import load_points, predict
from planner.fidelity.validate import run_calibrate

DATA = Path(__file__).parent / "data" / "bench"
DEP = str(DATA / "dep.yaml")


def _one(name: str, dep: str | None = DEP):
    points, report = load_points([DATA / name], dep)
    return points, report


# ------------------------------------------------------------------------- the sample files
def test_vllm_sample_reads_exact_values():
    (p,), report = _one("vllm_sample.json")
    assert report.read == 1 and report.kept == 1
    assert (p.model, p.gpu, p.engine, p.mode, p.par.cards) == ("llama-3.1-8b", "h100", "vllm", "agg", 1)
    assert p.isl == pytest.approx(327680 / 320)          # total_input_tokens / completed = 1024
    assert p.osl == pytest.approx(81408 / 320)           # 254.4
    assert p.concurrency == 16 and p.batch == 16         # max_concurrency
    assert p.ttft_s == pytest.approx(0.0618)             # mean_ttft_ms 61.8
    assert p.tpot_s == pytest.approx(0.00942)            # mean_tpot_ms 9.42
    assert p.measured["decode_tok_s_per_gpu"] == pytest.approx(16 / (0.00942 * 1))
    assert p.measured["ttft_s"] == pytest.approx(0.0618)
    assert (p.weight_dtype, p.kv_dtype) == ("bf16", "bf16")


def test_sglang_jsonl_one_point_per_line_and_littles_law():
    (a, b), report = _one("sglang_sample.jsonl")
    assert report.read == 2 and report.kept == 2
    assert (a.isl, a.osl, a.concurrency) == (2048, 128, 8)
    assert a.ttft_s == pytest.approx(0.095) and a.tpot_s == pytest.approx(0.0081)
    assert a.measured["decode_tok_s_per_gpu"] == pytest.approx(8 / (0.0081 * 1))
    # rate-only run: in flight = request_throughput × mean E2E latency = 3.9 /s × 1.25 s
    assert b.concurrency == pytest.approx(3.9 * 1.25) and b.batch == pytest.approx(4.875)
    assert b.ttft_s == pytest.approx(0.070) and b.tpot_s == pytest.approx(0.0092)
    assert b.measured["decode_tok_s_per_gpu"] == pytest.approx(4.875 / (0.0092 * 1))


def test_genai_perf_sample_and_model_from_its_hf_id(tmp_path):
    dep = tmp_path / "dep.yaml"     # no model: taken from input_config.model (a catalog HF repo)
    dep.write_text("gpu: h100\nengine: trtllm\ncards: 1\nparallelism: {tp: 1}\n")
    (p,), _ = _one("profile_export_genai_perf.json", str(dep))
    assert p.model == "llama-3.1-8b" and p.engine == "trtllm"
    assert (p.isl, p.osl, p.concurrency) == (512, 200, 4)
    assert p.ttft_s == pytest.approx(0.0385) and p.tpot_s == pytest.approx(0.0079)
    assert p.measured["decode_tok_s_per_gpu"] == pytest.approx(4 / (0.0079 * 1))


def test_guidellm_report_one_point_per_benchmark(tmp_path):
    """GuideLLM 0.7 benchmarks.json (report schema 2): concurrent@8 → c = streams; constant@2/s →
    c = the measured mean requests in flight; TPOT = inter_token_latency_ms (excludes the first token)."""
    (a, b), report = _one("guidellm_sample.json")
    assert report.read == 2 and report.kept == 2
    assert (a.isl, a.osl, a.concurrency) == (1024, 256, 8)
    assert a.ttft_s == pytest.approx(0.0584) and a.tpot_s == pytest.approx(0.00955)
    assert a.measured["decode_tok_s_per_gpu"] == pytest.approx(8 / (0.00955 * 1))
    assert b.concurrency == pytest.approx(4.52) and b.tpot_s == pytest.approx(0.00869)
    d = json.loads((DATA / "guidellm_sample.json").read_text())
    d["metadata"]["version"] = 1
    (tmp_path / "old.json").write_text(json.dumps(d))
    with pytest.raises(BadInput, match=r"old\.json: metadata\.version: GuideLLM report schema 1"):
        load_points([tmp_path / "old.json"], DEP)
    d["metadata"]["version"] = 2
    del d["benchmarks"][1]["metrics"]["inter_token_latency_ms"]
    (tmp_path / "cut.json").write_text(json.dumps(d))
    with pytest.raises(BadInput, match=r"benchmarks\[1\]: metrics\.inter_token_latency_ms\.successful: missing"):
        load_points([tmp_path / "cut.json"], DEP)


def test_minimal_csv_carries_its_deployment():
    (a, b), report = _one("minimal_sample.csv", None)
    assert report.kept == 2
    assert (a.model, a.gpu, a.par.tp, a.par.cards, a.weight_dtype, a.kv_dtype) == \
        ("llama-3.1-70b", "h100", 4, 4, "fp8", "fp8")
    assert (a.isl, a.osl, a.concurrency, a.engine_version) == (2048, 512, 32, "0.11.0")
    assert a.ttft_s == pytest.approx(0.1805) and a.tpot_s == pytest.approx(0.0213)
    assert a.measured["decode_tok_s_per_gpu"] == pytest.approx(32 / (0.0213 * 4))
    assert b.measured["decode_tok_s_per_gpu"] == pytest.approx(64 / (0.0279 * 4))


@pytest.mark.parametrize("eol", ["\r", "\r\n"])
def test_a_minimal_csv_of_other_line_endings_reads_the_same(tmp_path, eol):
    """Excel for Mac's "CSV (Macintosh)" ends lines with CR alone: the format's sniffing read it as one
    line and refused it with Python's wording ('new-line character seen in unquoted field - do you
    need to open the file in universal-newline mode?'; a hunt, 2026-12-07), as the trace reader does
    not."""
    text = (DATA / "minimal_sample.csv").read_text(encoding="utf-8")
    f = tmp_path / "m.csv"
    f.write_bytes(eol.join(text.splitlines()).encode())
    kept = [(p.model, p.concurrency, p.ttft_s, p.tpot_s) for p in load_points([f])[0]]
    assert kept == [(p.model, p.concurrency, p.ttft_s, p.tpot_s) for p in _one("minimal_sample.csv", None)[0]]
    assert len(kept) == 2


def test_one_token_answers_measure_no_decode_rate(tmp_path):
    """A run of one-token answers has no time between tokens: its row's TPOT is no decode step, so
    the point measures TTFT alone (it entered the fit as a decode point; a hunt, 2026-12-05); the
    same row at 512 tokens measures both."""
    head = "model,gpu,engine,cards,tp,pp,dp,ep,mode,concurrency,isl,osl,ttft_ms,tpot_ms\n"
    row = "llama-3.1-70b,h100,vllm,4,4,1,1,1,agg,32,2048,{},180.5,21.3\n"
    f = tmp_path / "runs.csv"
    f.write_text(head + row.format(1) + row.format(512))
    (one, many), _ = load_points([f], None)
    assert set(one.measured) == {"ttft_s"} and one.measured["ttft_s"] == pytest.approx(0.1805)
    assert set(many.measured) == {"ttft_s", "decode_tok_s_per_gpu"}
    assert many.measured["decode_tok_s_per_gpu"] == pytest.approx(32 / (0.0213 * 4))


def test_disagg_deployment_splits_the_load_over_decode_workers(tmp_path):
    dep = tmp_path / "dep.yaml"
    dep.write_text("model: llama-3.1-8b\ngpu: h100\nengine: sglang\nmode: disagg\ncards: 4\n"
                   "parallelism: {tp: 4}\nprefill: {tp: 2}\nprefill_workers: 2\ndecode_workers: 2\n")
    (p,), _ = _one("vllm_sample.json", str(dep))
    assert p.clients == 16 and p.batch == 8 and p.concurrency == 8
    assert p.prefill_par.tp == 2 and p.prefill_workers == 2
    assert p.measured["decode_tok_s_per_gpu"] == pytest.approx(8 / (0.00942 * 4))


def test_load_test_behind_a_router_is_shared_by_the_instances(tmp_path):
    dep = tmp_path / "dep.yaml"
    dep.write_text("model: llama-3.1-8b\ngpu: h100\nengine: vllm\ncards: 1\nparallelism: {tp: 1}\n"
                   "instances: 4\ncached_fraction: 0.4\n")
    (p,), _ = _one("vllm_sample.json", str(dep))
    assert p.concurrency == 4 and p.batch == 4 and p.clients == 4     # 16 in flight over 4 instances
    assert p.cached_fraction == 0.4
    assert p.measured["decode_tok_s_per_gpu"] == pytest.approx(4 / (0.00942 * 1))


# ------------------------------------------------------------------------------- round trip
CONCURRENCIES = (1, 4, 16, 48)
ISL, OSL = 1024.0, 256.0


def _truth():
    """Points of one deployment whose TTFT/TPOT are the default calibration's own predictions."""
    calib = load_calibration("default")
    dep = load_deployment(DEP)
    from planner.catalog.schemas import load_models
    models = load_models()
    out = []
    for c in CONCURRENCIES:
        p = make_point(pid=f"c{c}", origin="truth", dep=dep, model="llama-3.1-8b", c=c, isl=ISL, osl=OSL,
                       ttft_s=1.0, tpot_s=1.0, models=models)
        out.append((c, predict(p, "ttft_s", calib), p.batch / (predict(p, "decode_tok_s_per_gpu", calib))))
    return out


def _write_all(tmp_path, truth) -> list[Path]:
    """The truth written in every supported format (vLLM: one file per run; SGLang: JSONL with the
    last run rate-only; genai-perf: one export per run; GuideLLM: one report of every run; the
    minimal CSV)."""
    n = 100
    files = []
    for c, ttft, tpot in truth:
        e2e_ms = (ttft + (OSL - 1) * tpot) * 1e3
        f = tmp_path / f"vllm_c{c}.json"
        f.write_text(json.dumps({"backend": "vllm", "model_id": "meta-llama/Llama-3.1-8B", "num_prompts": n,
                                 "max_concurrency": c, "completed": n, "total_input_tokens": ISL * n,
                                 "total_output_tokens": OSL * n, "mean_ttft_ms": ttft * 1e3,
                                 "mean_tpot_ms": tpot * 1e3, "mean_e2el_ms": e2e_ms}))
        files.append(f)
        g = tmp_path / f"genai_c{c}.json"
        g.write_text(json.dumps({
            "time_to_first_token": {"unit": "ms", "avg": ttft * 1e3},
            "inter_token_latency": {"unit": "ms", "avg": tpot * 1e3},
            "input_sequence_length": {"unit": "tokens", "avg": ISL},
            "output_sequence_length": {"unit": "tokens", "avg": OSL},
            "input_config": {"model": ["meta-llama/Llama-3.1-8B"], "concurrency": c}}))
        files.append(g)
    lines = []
    for i, (c, ttft, tpot) in enumerate(truth):
        e2e_s = ttft + (OSL - 1) * tpot
        rate_only = i == len(truth) - 1
        lines.append(json.dumps({"backend": "sglang", "max_concurrency": None if rate_only else c,
                                 "request_throughput": c / e2e_s, "completed": n,
                                 "total_input_tokens": ISL * n, "total_output_tokens": OSL * n,
                                 "mean_ttft_ms": ttft * 1e3, "mean_tpot_ms": tpot * 1e3,
                                 "mean_e2e_latency_ms": e2e_s * 1e3}))
    (tmp_path / "sglang.jsonl").write_text("\n".join(lines) + "\n")
    files.append(tmp_path / "sglang.jsonl")

    def dist(mean: float) -> dict:
        return {"successful": {"mean": mean, "median": mean, "count": n}, "total": {"mean": mean, "count": n}}
    report = {"metadata": {"version": 2, "guidellm_version": "0.7.3"},
              "config": {"model": "meta-llama/Llama-3.1-8B"},
              "benchmarks": [{"type_": "generative_benchmark",
                              "config": {"strategy": {"type_": "concurrent", "streams": c}},
                              "metrics": {"request_totals": {"successful": n},
                                          "time_to_first_token_ms": dist(ttft * 1e3),
                                          "inter_token_latency_ms": dist(tpot * 1e3),
                                          "prompt_token_count": dist(ISL), "output_token_count": dist(OSL)}}
                             for c, ttft, tpot in truth]}
    (tmp_path / "benchmarks.json").write_text(json.dumps(report))
    files.append(tmp_path / "benchmarks.json")
    with open(tmp_path / "minimal.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["model", "gpu", "engine", "cards", "tp", "pp", "dp", "ep", "mode", "concurrency", "isl",
                    "osl", "ttft_ms", "tpot_ms", "weight_dtype"])
        for c, ttft, tpot in truth:
            w.writerow(["llama-3.1-8b", "h100", "vllm", 1, 1, 1, 1, 1, "agg", c, ISL, OSL, ttft * 1e3,
                        tpot * 1e3, "bf16"])
    files.append(tmp_path / "minimal.csv")
    return files


def test_round_trip_every_format_then_fit_recovers_the_predictions(tmp_path):
    truth = _truth()
    files = _write_all(tmp_path, truth)
    points = [p for f in files for p in load_points([f], None if f.suffix == ".csv" else DEP)[0]]   # one by one:
    # together, the copies count once
    assert len(points) == 5 * len(truth)
    by_c: dict[float, list] = {}
    for p in points:
        by_c.setdefault(round(p.concurrency, 6), []).append(p)
    for c, ttft, tpot in truth:
        same = by_c[float(c)]
        assert len(same) == 5                      # every format gives the same point back
        for p in same:
            assert (p.isl, p.osl) == (ISL, OSL)
            assert p.ttft_s == pytest.approx(ttft, rel=1e-9) and p.tpot_s == pytest.approx(tpot, rel=1e-9)
    # the fit starts 25 % off on every free parameter, so matching again is the fit's doing
    base = without_families(load_calibration("default"))
    start = {k: param_value(base, k) * 1.25 for k in free_params(points)}
    off = calibration_from(base, start)
    assert max(abs(predict(p, q, off) / m - 1) for p in points for q, m in p.measured.items()) > 0.05
    result = fit(points, base, start=start)
    for p in points:
        for q, measured in p.measured.items():
            assert predict(p, q, result.calibration) == pytest.approx(measured, rel=0.01), (p.id, q)


# ------------------------------------------------------------------------------- bad input
def test_unknown_format_names_the_file(tmp_path):
    f = tmp_path / "other.json"
    f.write_text(json.dumps({"results": [1, 2]}))
    with pytest.raises(BadInput, match=r"other\.json.*known benchmark format"):
        load_points([f], DEP)
    g = tmp_path / "x.txt"
    g.write_text("nothing")
    with pytest.raises(BadInput, match=r"x\.txt"):
        load_points([g], DEP)
    h = tmp_path / "cols.csv"
    h.write_text("model,gpu,ttft_ms\nllama-3.1-8b,h100,3\n")
    with pytest.raises(BadInput, match=r"cols\.csv.*missing column\(s\) engine"):
        load_points([h])


def test_jsonl_with_a_broken_line_names_the_line(tmp_path):
    good = (DATA / "sglang_sample.jsonl").read_text().splitlines()[0]
    f = tmp_path / "runs.jsonl"
    f.write_text(good + "\n{truncated\n")
    with pytest.raises(BadInput, match=r"runs\.jsonl: line 2: not a JSON object"):
        load_points([f], DEP)


def test_benchmark_json_has_the_guards_of_every_json_input(tmp_path):
    """A key written twice (json would keep the last silently) or absurd nesting is exit 2 naming
    the file, as for plan files, not a silent pick or a crash."""
    text = (DATA / "vllm_sample.json").read_text().rstrip()
    f = tmp_path / "dup.json"
    f.write_text(text[:-1] + ', "mean_ttft_ms": 1.0}')
    with pytest.raises(BadInput, match=r"dup\.json: duplicate key 'mean_ttft_ms'"):
        load_points([f], DEP)
    deep = tmp_path / "deep.json"
    deep.write_text('{"a": ' * 5000 + "1" + "}" * 5000)
    with pytest.raises(BadInput, match=r"deep\.json: nested more than"):
        load_points([deep], DEP)


def test_missing_field_names_file_and_field(tmp_path):
    d = json.loads((DATA / "vllm_sample.json").read_text())
    del d["mean_tpot_ms"]
    f = tmp_path / "run.json"
    f.write_text(json.dumps(d))
    with pytest.raises(BadInput, match=r"run\.json: mean_tpot_ms: expected a positive finite number, "
                                       r"got nothing \(the key is missing\)"):
        load_points([f], DEP)


def test_tool_file_without_deployment_is_bad_input():
    with pytest.raises(BadInput, match=r"vllm_sample\.json.*--deployment"):
        load_points([DATA / "vllm_sample.json"])


@pytest.mark.parametrize("name, kind", [("vllm_sample.json", "vllm"), ("sglang_sample.jsonl", "sglang"),
                                        ("guidellm_sample.json", "guidellm"),
                                        ("profile_export_genai_perf.json", "genai-perf")])
def test_a_benchmark_result_given_as_deployment_is_one_line_naming_it(name, kind):
    """A vLLM result passed as --deployment listed its keys as unknown, 21 lines (hostile-input hunt)."""
    res = CliRunner().invoke(cli.main, ["validate", str(DATA / "vllm_sample.json"), "--deployment",
                                        str(DATA / name), "--folds", "0"])
    assert res.exit_code == 2, res.output
    assert res.output.strip().splitlines() == [
        f"error: {DATA / name}: a {kind} benchmark result, not a deployment: give it as a measurement file, "
        f"and --deployment a YAML of what it measured (model, gpu, engine, cards, parallelism, mode; "
        f"docs/export.md)"], res.output
    with pytest.raises(BadInput, match=r"minimal_sample\.csv: a minimal CSV of measurements, not a deployment"):
        load_points([DATA / "vllm_sample.json"], str(DATA / "minimal_sample.csv"))
    root = DATA.parents[2] / "problems"
    for name, kind in (("deepseek_qps.yaml", "problem"), ("fleet_mix.yaml", "fleet")):   # 8 lines before
        with pytest.raises(BadInput, match=rf"{name}: a {kind} file, not a deployment: --deployment is a YAML"):
            load_points([DATA / "vllm_sample.json"], str(root / name))


def test_a_run_without_end_to_end_latency_takes_ttft_plus_tpot_per_further_token(tmp_path):
    """vLLM writes mean_e2el_ms only when --percentile-metrics names e2el (its default does not):
    Little's law then takes TTFT + TPOT·(osl − 1), how the tools define TPOT. A rate-only run was
    dropped; a paced run with a cap was read at the cap, 105× over (a hunt)."""
    line = json.loads((DATA / "sglang_sample.jsonl").read_text().splitlines()[1])
    del line["mean_e2e_latency_ms"]
    f = tmp_path / "r.jsonl"
    f.write_text(json.dumps(line) + "\n")
    (p,), report = load_points([f], DEP)
    assert report.kept == 1
    assert p.concurrency == pytest.approx(3.9 * (0.070 + 0.0092 * 127))   # 4.83 (4.875 with the file's 1.25 s)
    run = json.loads((DATA / "vllm_sample.json").read_text())
    for k in [k for k in run if k.endswith("e2el_ms")]:
        del run[k]
    run.update(request_rate=1.0, max_concurrency=256, request_throughput=0.99)
    g = tmp_path / "paced.json"
    g.write_text(json.dumps(run))
    (q,), _ = load_points([g], DEP)
    osl = 81408 / 320
    assert q.concurrency == pytest.approx(0.99 * (0.0618 + 0.00942 * (osl - 1)))   # 2.42, not 256
    assert q.measured["decode_tok_s_per_gpu"] == pytest.approx(q.concurrency / 0.00942)
    del run["request_throughput"]   # a paced cap with no throughput: no count of requests in flight
    g.write_text(json.dumps(run))
    points, report = load_points([g], DEP)
    assert points == [] and report.dropped == {
        "paced run with a concurrency cap but without throughput and latency (concurrency unknown)": 1}


def test_an_aiperf_run_paced_under_a_concurrency_ceiling_takes_littles_law(tmp_path):
    """aiperf's --request-rate with --concurrency: the ceiling is not the count in flight (read as
    min(256, request_count) = 100, 63× over; a hunt)."""
    d = json.loads((DATA / "profile_export_genai_perf.json").read_text())
    d["input_config"] = {"endpoint": {"model_names": ["meta-llama/Llama-3.1-8B"]},
                         "loadgen": {"concurrency": 256, "request_rate": 1.0, "request_count": 100}}
    d["request_throughput"]["avg"] = 0.99
    d["request_latency"]["avg"] = 1610.6
    f = tmp_path / "profile_export_aiperf.json"
    f.write_text(json.dumps(d))
    (p,), _ = load_points([f], DEP)
    assert p.concurrency == pytest.approx(0.99 * 1.6106)
    assert p.measured["decode_tok_s_per_gpu"] == pytest.approx(0.99 * 1.6106 / (d["inter_token_latency"]["avg"] / 1e3))


@pytest.mark.parametrize("text, match", [
    ("gpu: h999\nengine: vllm\ncards: 1\nparallelism: {tp: 1}\n", r"dep\.yaml: gpu: unknown GPU 'h999'"),
    ("model: llama-9\ngpu: h100\nengine: vllm\ncards: 1\nparallelism: {tp: 1}\n",
     r"dep\.yaml: model: unknown model 'llama-9'"),
    ("gpu: h100\nengine: vllm\ncards: 1\nparallelism: {tp: 1}\ncolour: red\n", r"dep\.yaml.*colour"),
    ("gpu: h100\nengine: vllm\ncards: 2\nparallelism: {tp: 1}\n", r"dep\.yaml: cards: 2 but"),
    ("gpu: h100\nengine: vllm\ncards: 0\nparallelism: {tp: 1}\n", r"dep\.yaml.*cards"),
    ("gpu: h100\nengine: vllm\ncards: 8\nparallelism: {tp: 8, ep: 3}\n",
     r"dep\.yaml: parallelism\.ep: 3 does not divide"),
    ("model: llama-3.1-8b\ngpu: h100\nengine: vllm\ncards: 8\nparallelism: {tp: 8, ep: 8}\n",
     r"dep\.yaml: parallelism\.ep: 8 on a dense model \(no experts to spread\); drop ep or set it to 1"),
    ("gpu: h100\nengine: vllm\nmode: disagg\ncards: 1\nparallelism: {tp: 1}\n", r"dep\.yaml: prefill"),
    ("gpu: h100\nengine: vllm\nmode: disagg\ncards: 1\nparallelism: {tp: 1}\nprefill: {tp: 1}\ninstances: 2\n",
     r"dep\.yaml: instances: 2"),
    ("gpu: h100\nengine: vllm\ncards: 1\nparallelism: {tp: 1}\ncached_fraction: 1.5\n", r"dep\.yaml.*cached_fraction"),
    ("gpu: h100\nengine: vllm\ncards: 1\nparallelism: {tp: 1}\nprefill_workers: 2\n",
     r"dep\.yaml: prefill_workers: a disagg key beside mode agg \(read as nothing\)"),
])
def test_bad_deployment_yaml(tmp_path, text, match):
    dep = tmp_path / "dep.yaml"
    dep.write_text(text)
    with pytest.raises(BadInput, match=match):
        load_deployment(dep)


def test_model_unknown_to_the_catalog_and_not_in_the_deployment(tmp_path):
    d = json.loads((DATA / "vllm_sample.json").read_text())
    d["model_id"] = "acme/NotAModel-7B"
    f = tmp_path / "run.json"
    f.write_text(json.dumps(d))
    dep = tmp_path / "dep.yaml"
    dep.write_text("gpu: h100\nengine: vllm\ncards: 1\nparallelism: {tp: 1}\n")
    with pytest.raises(BadInput, match=r"run\.json: model: 'acme/NotAModel-7B' is not a catalog model"):
        load_points([f], str(dep))


def test_calibrate_exits_2_and_writes_nothing_on_a_bad_deployment(tmp_path):
    dep = tmp_path / "dep.yaml"
    dep.write_text("gpu: h100\nengine: vllm\ncards: 1\nparallelism: {tp: 1}\nbogus: 1\n")
    out = tmp_path / "mine.yaml"
    res = CliRunner().invoke(cli.main, ["calibrate", str(DATA / "vllm_sample.json"), "--deployment", str(dep),
                                        "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert "bogus" in res.output and "dep.yaml" in res.output
    assert not out.exists()
    with pytest.raises(BadInput):
        run_calibrate([str(DATA / "vllm_sample.json")], str(out), deployment=str(dep))
    assert not out.exists()


def test_cross_validation_of_one_configuration_says_use_folds_0(tmp_path):
    out = tmp_path / "mine.yaml"
    res = CliRunner().invoke(cli.main, ["calibrate", str(DATA / "sglang_sample.jsonl"), "--deployment", DEP,
                                        "--out", str(out)])
    assert res.exit_code == 2 and "--folds 0" in res.output and "one configuration" in res.output
    # the message names the file it read (a hunt, 2026-12-07: 'error: 1 point(s), …' named none), for
    # validate as for calibrate
    assert f"error: {DATA / 'sglang_sample.jsonl'}: " in res.output, res.output
    res = CliRunner().invoke(cli.main, ["validate", str(DATA / "sglang_sample.jsonl"), "--deployment", DEP])
    assert res.exit_code == 2 and f"error: {DATA / 'sglang_sample.jsonl'}: " in res.output, res.output
    assert not out.exists()


# ------------------------------------------------------------------------------------- CLI
def test_cli_validate_reads_a_vllm_file():
    res = CliRunner().invoke(cli.main, ["validate", str(DATA / "vllm_sample.json"), "--deployment", DEP,
                                        "--folds", "0"])
    assert res.exit_code == 0, res.output
    assert "read 1 row, kept 1 point," in res.output
    # the quantity named whole, TTFT in ms (to one decimal of a second, 61.8 and 120.5 ms were 0.1)
    assert "2 observations (tokens/s per GPU; TTFT in ms):" in res.output
    rows = [ln.split() for ln in res.output.splitlines() if ln.startswith("vllm_sample.json#0")]
    assert [r[4] for r in rows] == ["decode", "ttft"]
    assert float(rows[1][5]) == pytest.approx(61.8, abs=0.05)        # the file's mean TTFT, 61.8 ms
    assert "p90 |error| (no cross-validation)" in res.output


def test_a_profile_fitted_to_own_runs_predicts_them_with_its_own_fixed_ttft(tmp_path):
    """Three vLLM runs whose TTFT is 200 ms above the default profile's: the fit's fixed TTFT (the
    shared request_overhead_s: too few points for a llama entry of its own) took the 200 ms, but
    the written profile kept the base's llama entry, which overrides it, so validating the same
    runs with it read TTFT ~40 % low (a first-hour report). The llama entry is now left out and the
    profile reproduces its fit."""
    truth = [(c, ttft + 0.2, tpot) for c, ttft, tpot in _truth()[:3]]
    files = [f for f in _write_all(tmp_path, truth) if f.name.startswith("vllm_")]
    assert len(files) == 3
    out = tmp_path / "mine.yaml"
    res = CliRunner().invoke(cli.main, ["calibrate", *map(str, files), "--deployment", DEP, "--folds", "0",
                                        "--out", str(out)])
    assert res.exit_code == 0, res.output
    prof = yaml.safe_load(out.read_text())
    assert "llama" not in prof["request_overhead_by_family_s"]
    assert "deepseek_v3" in prof["request_overhead_by_family_s"]   # a family the runs do not measure keeps it
    res = CliRunner().invoke(cli.main, ["validate", *map(str, files), "--deployment", DEP, "--folds", "0",
                                        "--calibration", str(out), "--json"])
    assert res.exit_code == 0, res.output
    errs = [abs(p["error"]) for p in json.loads(res.output)["points"] if p["quantity"] == "ttft_s"]
    assert len(errs) == 3 and max(errs) < 0.05


def test_cli_calibrate_on_own_runs_writes_a_profile(tmp_path):
    out = tmp_path / "mine.yaml"
    res = CliRunner().invoke(cli.main, ["calibrate", *(str(p) for p in _write_all(tmp_path, _truth())),
                                        "--deployment", DEP, "--folds", "0", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "compute_efficiency" in out.read_text()


def test_expert_parallelism_on_a_dense_model_is_refused_wherever_the_model_is_named(tmp_path):
    """ep > 1 says the run spread experts a dense model does not have: the file describes another
    run. Refused in a deployment that names the model (above), in one that leaves the model to the
    benchmark file's Hugging Face id, and in a minimal-CSV row; ep 1 on a dense model is read."""
    dep = tmp_path / "dep.yaml"
    dep.write_text("gpu: h100\nengine: vllm\ncards: 2\nparallelism: {tp: 2, ep: 2}\n")
    with pytest.raises(BadInput, match=r"deployment: parallelism\.ep: 2 on a dense model"):
        load_points([DATA / "vllm_sample.json"], str(dep))   # the file measured Llama-3.1-8B
    rows = (DATA / "minimal_sample.csv").read_text().splitlines()
    f = tmp_path / "m.csv"
    f.write_text("\n".join([rows[0], rows[1].replace("4,4,1,1,1,agg", "4,4,1,1,4,agg")]) + "\n")
    with pytest.raises(BadInput, match=r"m\.csv: line 2: parallelism\.ep: 4 on a dense model"):
        load_points([f], None)
    f.write_text("\n".join(rows[:2]) + "\n")   # ep 1: experts not spread, nothing to refuse
    (p,), _ = load_points([f], None)
    assert (p.model, p.par.tp, p.par.cards) == ("llama-3.1-70b", 4, 4)


def test_a_byte_order_mark_is_not_part_of_the_first_column_or_object(tmp_path):
    """Excel's "CSV UTF-8" starts with a byte-order mark: the minimal CSV's first column read as
    '\\ufeffmodel' (every column reported missing), a vLLM JSON with one was taken for a CSV, and a
    JSON plan or config.json failed with Python's 'Unexpected UTF-8 BOM'. Every input file is read
    without it."""
    bom = b"\xef\xbb\xbf"
    csv_file = tmp_path / "m.csv"
    csv_file.write_bytes(bom + (DATA / "minimal_sample.csv").read_bytes())
    points, report = load_points([csv_file], None)
    assert report.kept == 2 and points[0].model == "llama-3.1-70b"
    js = tmp_path / "v.json"
    js.write_bytes(bom + (DATA / "vllm_sample.json").read_bytes())
    (p,), _ = load_points([js], DEP)
    assert p.model == "llama-3.1-8b"
    from planner.catalog.schemas import model_from_config_json
    cfg = tmp_path / "config.json"
    cfg.write_bytes(bom + b'{"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, '
                          b'"num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256}')
    assert model_from_config_json(cfg).arch.layers == 32


# ------------------------------------------------------- the calibrate loop (2026-12-03 hunt)
def _vllm(tmp_path, name="r.json", **changes) -> Path:
    d = json.loads((DATA / "vllm_sample.json").read_text())
    d.update(changes)
    (tmp_path / name).write_text(json.dumps(d))
    return tmp_path / name


def test_a_run_written_in_seconds_is_a_unit_mistake(tmp_path):
    """mean_ttft_ms 0.0618 (seconds in a ms field) was read as 62 µs, and calibrate wrote a profile
    of 24,000 % TTFT error with exit 0."""
    with pytest.raises(BadInput, match=r"r.json: TTFT \(s\) 6.18e-05 is outside \[0.001, 100000\]: .*unit mistake"):
        load_points([_vllm(tmp_path, mean_ttft_ms=0.0618, mean_tpot_ms=0.00942)], DEP)


def test_a_deployment_whose_weights_cannot_fit_drops_its_runs(tmp_path):
    """Llama-3.1-70B recorded in BF16 on one H100 (141 GB of weights on an 80 GB card: the
    deployment YAML left out weight_dtype fp8) was validated at −86 %; its runs are dropped."""
    dep = tmp_path / "dep70.yaml"
    dep.write_text("model: llama-3.1-70b\ngpu: h100\nengine: vllm\ncards: 1\nparallelism: {tp: 1}\n")
    points, report = load_points([_vllm(tmp_path, model_id="meta-llama/Llama-3.1-70B")], str(dep))
    assert points == [] and report.dropped == {
        "weights alone overflow the card as recorded (llama-3.1-70b bf16 on h100, 1 card(s)): check the "
        "deployment's weight_dtype and layout": 1}
    dep.write_text(dep.read_text() + "weight_dtype: fp8\nkv_dtype: fp8\n")   # 70 GB of 80: it ran
    assert len(load_points([tmp_path / "r.json"], str(dep))[0]) == 1


def test_a_file_given_twice_is_refused(tmp_path):
    """The same run counted twice in the fit, without a word."""
    r = _vllm(tmp_path)
    with pytest.raises(BadInput, match=r"r.json: given twice \(as .*r.json too\); give each file once"):
        load_points([r, f"{tmp_path}/./r.json"], DEP)
    import os
    os.link(r, tmp_path / "hard.json")   # one file under two names: resolve() kept both (a hunt)
    with pytest.raises(BadInput, match=r"hard.json: given twice \(as .*r.json too\)"):
        load_points([r, tmp_path / "hard.json"], DEP)


def test_vllm_append_result_lines_are_vllm_runs_with_their_own_line_numbers(tmp_path):
    """`vllm bench serve --append-result` writes one object per line: read as SGLang's, every run
    was dropped for a missing end-to-end latency (it is mean_e2el_ms there); and an error named the
    object's count, not its line."""
    d = json.loads((DATA / "vllm_sample.json").read_text())
    d.update(max_concurrency=None, request_rate=4.0)
    d2 = {**d, "request_rate": 8.0, "request_throughput": 7.7}
    (tmp_path / "a.json").write_text("\n" + json.dumps(d) + "\n\n" + json.dumps(d2) + "\n")
    points, report = load_points([tmp_path / "a.json"], DEP)
    assert len(points) == 2 and report.dropped == {}
    bad = {k: v for k, v in d.items() if k != "mean_tpot_ms"}
    (tmp_path / "b.json").write_text("\n" + json.dumps(d) + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(BadInput, match=r"b.json: line 4: mean_tpot_ms"):
        load_points([tmp_path / "b.json"], DEP)


def test_minimal_csv_header_names_are_trimmed_and_unknown_ones_refused(tmp_path):
    """', gpu' stopped validate with an internal error (KeyError: 'gpu'); a misspelt optional column
    (kv_dtpye) was ignored and its rows read at BF16."""
    text = (DATA / "minimal_sample.csv").read_text()
    head = text.index("\n")
    (tmp_path / "s.csv").write_text(text[:head].replace(",", ", ") + text[head:])   # the header only
    assert len(load_points([tmp_path / "s.csv"])[0]) == len(load_points([DATA / "minimal_sample.csv"])[0]) > 0
    lines = text.splitlines()
    (tmp_path / "t.csv").write_text("\n".join([lines[0] + ",kv_dtpye", *(ln + ",fp8" for ln in lines[1:])]) + "\n")
    with pytest.raises(BadInput, match=r"t.csv: header: unknown column 'kv_dtpye'; .* Did you mean 'kv_dtype'"):
        load_points([tmp_path / "t.csv"])


def test_calibrate_on_own_runs_keeps_the_base_fixed_ttft_of_other_families(tmp_path):
    """One Llama-8B run replaced DeepSeek-V3's fitted fixed TTFT (277.9 ms) by the shared one
    (37 ms): the profile lost every family its runs do not measure. And with every run dropped it
    pointed to a summary it never printed."""
    import yaml
    out = tmp_path / "mine.yaml"
    run_calibrate([str(DATA / "vllm_sample.json")], str(out), folds=0, deployment=DEP)
    fams = yaml.safe_load(out.read_text())["request_overhead_by_family_s"]
    assert fams["deepseek_v3"]["value"] == pytest.approx(
        load_calibration("default").request_overhead_by_family_s["deepseek_v3"].value, rel=1e-3)
    unk = tmp_path / "unk.csv"
    lines = (DATA / "minimal_sample.csv").read_text().splitlines()
    unk.write_text(lines[0] + "\n" + ",".join(["mistral-7b", *lines[1].split(",")[1:]]) + "\n")
    with pytest.raises(BadInput, match=r"unk.csv: no measured point to fit \(.*model not in catalog \(mistral-7b\)"):
        run_calibrate([str(unk)], str(tmp_path / "x.yaml"), folds=0)


@pytest.mark.parametrize("cap", [-4, 0, "8", True, 0.5, 16.5, 1e30, 1e308])
def test_a_bad_concurrency_cap_is_refused_not_read_as_none(tmp_path, cap):
    """max_concurrency -4, 0 or '8' in a vLLM result was read as no cap (a rate-only run, its
    concurrency by Little's law), where the minimal CSV refuses the same value (hostile-input hunt,
    2026-12-04); 0.5, 16.5 and 1e308 were read as caps (1e308 as the requests sent, a decode rate
    of 33,970 tokens/s per GPU; the next hunt): a cap is the tools' --max-concurrency, a whole
    number up to 10⁶. null and 'inf' still mean no cap."""
    with pytest.raises(BadInput, match=r"r.json: max_concurrency: .* is not a number of requests in flight"):
        load_points([_vllm(tmp_path, max_concurrency=cap)], DEP)
    assert len(load_points([_vllm(tmp_path, "n.json", max_concurrency=None)], DEP)[0]) == 1


def test_a_layout_whose_tp_does_not_divide_the_heads_drops_its_runs(tmp_path):
    """A deployment of Llama-3.1-70B at tp 5 (64 heads) was fitted; plan eval refuses the layout
    (hostile-input hunt, 2026-12-04). Its runs are dropped, with the reason."""
    dep = tmp_path / "dep5.yaml"
    dep.write_text("model: llama-3.1-70b\ngpu: h100\nengine: vllm\ncards: 5\nparallelism: {tp: 5}\n"
                   "weight_dtype: fp8\n")
    points, report = load_points([_vllm(tmp_path, model_id="meta-llama/Llama-3.1-70B")], str(dep))
    assert points == [] and report.dropped == {
        "tensor parallelism that does not divide the model's attention heads (llama-3.1-70b: 64)": 1}


def test_control_characters_in_a_measurement_name_are_refused(tmp_path):
    """An escape sequence in the minimal CSV's engine column (or a deployment's) reached the
    terminal inside validate's tables (it can set the window title), a newline broke them (a
    hostile-input hunt): names there are one line of printable text, as everywhere else."""
    f = tmp_path / "m.csv"
    f.write_text("model,gpu,engine,cards,tp,pp,dp,ep,mode,concurrency,isl,osl,ttft_ms,tpot_ms\n"
                 "llama-3.1-8b,h100,\x1b]0;pwned\x07vllm,1,1,1,1,1,agg,4,1024,256,80,10\n")
    res = CliRunner().invoke(cli.main, ["validate", str(f), "--folds", "0"])
    assert res.exit_code == 2 and "line 2: engine: a name is one line of printable text" in res.output
    assert "\x07" not in res.output.replace(repr("\x07")[1:-1], "")   # shown escaped, never raw


# -------------------------------------------------------------- a hostile-input hunt (2026-12-05)
def test_a_cell_past_the_csv_limit_or_a_quote_never_closed_is_bad_input(tmp_path):
    """The csv module's own errors were internal errors (exit 5) in the minimal CSV, the silicon
    CSV and the format sniffing."""
    text = (DATA / "minimal_sample.csv").read_text()
    header, row = text.splitlines()[:2]
    long_cell = tmp_path / "long.csv"
    long_cell.write_text(header + "\n" + row.replace(",", ',"' + "x" * 140_000 + '",', 1) + "\n")
    quote = tmp_path / "quote.csv"
    quote.write_text(header + "\n" + '"' + row + "\n" + (row + "\n") * 3000)   # the quote runs on
    long_header = tmp_path / "header.csv"
    long_header.write_text("x" * 140_000 + "," + header + "\n" + row + "\n")
    for f in (long_cell, quote, long_header):
        with pytest.raises(BadInput, match=rf"{f.name}: not a readable CSV \(field larger than field limit"):
            load_points([f])
    silicon = Path("catalogs/measurements/silicon_sample_subset.csv").read_text().splitlines()
    s = tmp_path / "silicon.csv"
    s.write_text(silicon[0] + "\n" + silicon[1].replace(",", ',"' + "y" * 140_000 + '",', 1) + "\n")
    with pytest.raises(BadInput, match=r"silicon.csv: not a readable CSV"):
        load_points([s])


@pytest.mark.parametrize("key", ["mean_tpot_ms", "completed"])
def test_an_integer_too_large_for_a_float_is_bad_input(tmp_path, key):
    """A JSON integer of 309 digits or more raised OverflowError converting to float (exit 5); the
    message shows the start of it, not 401 characters."""
    with pytest.raises(BadInput, match=rf"r.json: {key}: expected a positive finite number, got 1000000000"
                                       rf"0+… \(401 characters\)"):
        load_points([_vllm(tmp_path, **{key: 10**400})], DEP)


SILICON = Path("catalogs/measurements/silicon_sample_subset.csv")


@pytest.mark.parametrize("column, value, reason", [
    ("osl", "0", "osl is below 1 token"),                    # ZeroDivisionError in the TPOT formula (exit 5)
    ("tp_size", "1.5", "tp_size is not a whole number"),      # was read as TP1
    ("silicon_tpot_ms", "1e300", "silicon_tpot_ms 1e+300 is outside [0.1, 1e+06] ms: not a measured run"),
    ("silicon_ttft_ms", "1e-300", "silicon_ttft_ms 1e-300 is outside [1, 1e+08] ms"),
    ("batch_size", "0", "agg without batch size"),           # ZeroDivisionError in the error (exit 5)
    ("silicon_data_source", "silicon_concurrency=0", "concurrency 0 recorded"),   # same
])
def test_a_silicon_row_outside_what_a_run_measures_is_dropped_with_its_reason(tmp_path, column, value, reason):
    rows = list(csv.DictReader(SILICON.open()))
    agg = next(r for r in rows if r["mode"] == "agg")
    bad = {**agg, column: value}
    out = tmp_path / "s.csv"
    with out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(agg))
        w.writeheader()
        w.writerows([agg, bad])
    points, report = load_points([out])
    (why,) = report.dropped
    assert len(points) == 1 and why.startswith(reason) and report.dropped[why] == 1


@pytest.mark.parametrize("field, value, match", [
    ("tpot_s", 1e300, r"measured.tpot_s: Input should be less than or equal to 1000"),
    ("decode_tok_s_per_gpu", 1e-300, r"measured.decode_tok_s_per_gpu: Input should be greater than or equal to 0.001"),
    ("tokens_per_step", 1e300, r"points\[0\].tokens_per_step: Input should be less than or equal to 32"),
])
def test_a_measurement_yaml_outside_what_a_run_measures_is_bad_input(tmp_path, field, value, match):
    """A TPOT of 10^300 s was fitted to: calibrate printed a 300-digit error and wrote a profile."""
    pt = {"id": "p", "model": "llama-3.1-8b", "weight_dtype": "bf16", "gpu": "h100", "cards": 1,
          "parallelism": {"tp": 1}, "role": "agg", "engine": "vllm", "isl": 1024, "osl": 256,
          "concurrency": 16, "measured": {"tpot_s": 0.0094}, "source": "my own run", "kind": "measured"}
    if field == "tokens_per_step":
        pt[field] = value
    else:
        pt["measured"] = {field: value}
    f = tmp_path / "m.yaml"
    f.write_text(yaml.safe_dump({"points": [pt]}))
    with pytest.raises(BadInput, match=match):
        load_points([f])


def test_a_run_paced_below_its_cap_has_littles_law_in_flight(tmp_path):
    """`vllm bench serve --request-rate 1 --max-concurrency 256`: 0.99 req/s at 2.452 s each keeps
    2.43 requests in flight (Little's law), not 256; read as the cap, its decode tokens/s per GPU
    was 100× the run's and calibrate fitted to it. Unpaced (request_rate inf) the cap stands."""
    paced = _vllm(tmp_path, "paced.json", request_rate=1.0, max_concurrency=256, request_throughput=0.99,
                  mean_e2el_ms=2452.0, mean_tpot_ms=7.4)
    (p,), _ = load_points([paced], DEP)
    assert p.concurrency == pytest.approx(0.99 * 2.452)
    assert p.measured["decode_tok_s_per_gpu"] == pytest.approx(0.99 * 2.452 / 0.0074)
    free = _vllm(tmp_path, "free.json", request_rate="inf", max_concurrency=16, request_throughput=0.99,
                 mean_e2el_ms=2452.0)
    (q,), _ = load_points([free], DEP)
    assert q.concurrency == 16


def test_an_aiperf_export_reads_its_nested_concurrency_and_model(tmp_path):
    """aiperf's profile_export_aiperf.json nests input_config.loadgen.concurrency and
    input_config.endpoint.model_names: its concurrency was ignored (Little's law, 86.2, where the
    run held 100) and without a model in the deployment the file was refused (model: None)."""
    d = json.loads((DATA / "profile_export_genai_perf.json").read_text())
    d["input_config"] = {"endpoint": {"model_names": ["meta-llama/Llama-3.1-8B-Instruct"], "streaming": True},
                         "loadgen": {"concurrency": 100, "request_count": 1000}}
    f = tmp_path / "profile_export_aiperf.json"
    f.write_text(json.dumps(d))
    dep = tmp_path / "dep.yaml"
    dep.write_text(yaml.safe_dump({k: v for k, v in yaml.safe_load(Path(DEP).read_text()).items() if k != "model"}))
    (p,), _ = load_points([f], str(dep))
    assert p.concurrency == 100 and p.model == "llama-3.1-8b"


def test_a_profile_or_a_deployment_given_as_measurements_is_said_in_one_line(tmp_path):
    """A calibration profile given as measurements printed 21 lines of missing and unknown keys; a
    deployment YAML was called 'a problem file (model:)'."""
    profile = Path("catalogs/calibration/default.yaml")
    with pytest.raises(BadInput, match=r"default.yaml: a calibration profile \(plan calibrate's output\), given as "
                                       r"measurements; use it with --calibration") as e:
        load_points([profile])
    assert "\n" not in str(e.value)
    with pytest.raises(BadInput, match=r"dep.yaml: a deployment file \(what a benchmark run measured\), given as "
                                       r"measurements; give it as --deployment"):
        load_points([DEP])


def test_a_profile_name_too_long_for_a_file_name_is_refused_by_name(tmp_path):
    r = CliRunner().invoke(cli.main, ["calibrate", str(DATA / "vllm_sample.json"), "--deployment", DEP,
                                      "--folds", "0", "--name", "n" * 500, "--out", str(tmp_path / "p.yaml")])
    assert r.exit_code == 2 and "--name: 500 characters; a profile's name has at most 100" in r.output
    assert not (tmp_path / "p.yaml").exists()


def test_a_guidellm_run_of_fractional_streams_is_refused_as_vllms_is(tmp_path):
    """GuideLLM `streams: 2.5` was read as 2.5 requests in flight, where vLLM's max_concurrency 2.5
    is refused (a hunt)."""
    d = json.loads((DATA / "guidellm_sample.json").read_text())
    d["benchmarks"][0]["config"]["strategy"]["streams"] = 2.5
    (tmp_path / "g.json").write_text(json.dumps(d))
    with pytest.raises(BadInput, match=r"config.strategy: streams: 2.5 is not a whole number"):
        load_points([tmp_path / "g.json"], DEP)


def test_a_quote_never_closed_is_refused_however_little_it_swallows(tmp_path):
    """A quote opened in row 2 and never closed swallowed the rows after it as one cell: validate
    read 2 rows, dropped one as ragged and calibrate fitted a profile to the other (a re-check of
    the 131,072-character fix: only a quote that swallowed more than that was refused)."""
    header, row = (DATA / "minimal_sample.csv").read_text().splitlines()[:2]
    f = tmp_path / "open.csv"
    f.write_text(header + "\n" + row + "\n" + row.replace(",", ',"', 1) + "\n" + (row + "\n") * 4)
    with pytest.raises(BadInput, match=r"open.csv: not a readable CSV \(unexpected end of data; a quote never closed"):
        load_points([f])
    silicon = Path("catalogs/measurements/silicon_sample_subset.csv").read_text().splitlines()
    s = tmp_path / "silicon.csv"
    s.write_text("\n".join([silicon[0], silicon[1], silicon[2].replace(",", ',"', 1), *silicon[3:6]]) + "\n")
    with pytest.raises(BadInput, match=r"silicon.csv: not a readable CSV \(unexpected end of data"):
        load_points([s])


def test_a_point_id_with_a_newline_stays_on_its_table_row(tmp_path):
    """An id holding a newline (the silicon CSV's first column) split its row of the validate table
    in two (a hunt)."""
    from planner.fidelity.validate import run_validate
    from planner.report.fidelity import render_text
    rows = list(csv.DictReader(SILICON.open()))[:1]
    rows[0]["id"] = "a\nb"
    f = tmp_path / "s.csv"
    with f.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    text = render_text(run_validate([str(f)], folds=0))
    assert [ln for ln in text.splitlines() if ln.startswith("a b ")] and not any(ln == "b" or ln.startswith("b ")
                                                                                for ln in text.splitlines())


@pytest.mark.parametrize("rate, ok", [("abc", False), ("-5", False), ("2.5", True), ("inf", True), ("", True)])
def test_the_minimal_csv_request_rate_is_a_positive_number_or_inf(tmp_path, rate, ok):
    """The optional request_rate column was neither read nor checked: 'abc' and -5 passed."""
    lines = (DATA / "minimal_sample.csv").read_text().splitlines()
    header, rows = lines[0] + ",request_rate", [ln + f",{rate}" for ln in lines[1:] if ln]
    f = tmp_path / "m.csv"
    f.write_text("\n".join([header, *rows]) + "\n")
    if ok:
        assert load_points([f])[0]
    else:
        with pytest.raises(BadInput, match=r"m.csv: line 2: request_rate: .*(not a number|expected a positive number)"):
            load_points([f])


def test_calibrates_cross_validation_starts_each_fold_from_the_base_not_from_the_fit_to_all_points(tmp_path):
    """Each fold started at the fit to all points (held-out points included) read 14.6 % / 10.1 %
    on four points in two folds where `plan validate` from the same base read 27.2 % / 59.1 % (a hunt)."""
    f = tmp_path / "m.csv"
    f.write_text((DATA / "minimal_sample.csv").read_text()
                 + "llama-3.1-8b,h100,vllm,1,1,1,1,1,agg,16,1024,256,60,9.4,0.11.0,bf16\n"
                 + "llama-3.1-8b,h100,vllm,1,1,1,1,1,agg,32,1024,256,80,11.4,0.11.0,bf16\n")
    cal = run_calibrate([str(f)], str(tmp_path / "two.yaml"), folds=2)
    from planner.fidelity.validate import run_validate
    val = run_validate([str(f)], folds=2)
    cv = {s.quantity: (s.cv_median_abs, s.cv_p90_abs, s.cv_max_abs) for s in cal.summary}
    assert cv == {s.quantity: (s.cv_median_abs, s.cv_p90_abs, s.cv_max_abs) for s in val.summary}
    assert cv["ttft_s"][0] > 0.3   # the 8B's TTFT from a fit to the 70B alone, and the other way


def test_a_hugging_face_alias_with_its_organisation_names_its_model(tmp_path):
    """`meta-llama/Meta-Llama-3.1-70B-Instruct` is a catalog alias; only its last part was looked
    up, so a 70B run beside an 8B deployment YAML was read as the 8B without a word (a hunt)."""
    run = json.loads((DATA / "vllm_sample.json").read_text())
    run["model_id"] = "meta-llama/Meta-Llama-3.1-70B-Instruct"
    f = tmp_path / "r.json"
    f.write_text(json.dumps(run))
    with pytest.raises(BadInput, match=r"r\.json: model: the file measured 'meta-llama/Meta-Llama-3\.1-70B-Instruct' "
                                       r"\(llama-3\.1-70b\), the deployment YAML says llama-3\.1-8b"):
        load_points([f], DEP)
    dep = tmp_path / "dep.yaml"
    dep.write_text("gpu: h100\nengine: vllm\ncards: 4\nparallelism: {tp: 4}\n")
    (p,), _ = load_points([f], str(dep))
    assert p.model == "llama-3.1-70b"


def test_a_run_given_twice_in_other_files_or_lines_is_counted_once(tmp_path):
    """A copied result file, a JSONL line written twice and a repeated CSV row were each kept twice
    (the same inode given twice was already refused); the fit weighed those runs double (a hunt)."""
    copy = tmp_path / "copy.json"
    copy.write_text((DATA / "vllm_sample.json").read_text())
    points, report = load_points([DATA / "vllm_sample.json", copy], DEP)
    assert len(points) == 1 and report.read == 2
    assert report.dropped == {"the same run as an earlier one (a copied file or line): counted once": 1}
    line = (DATA / "sglang_sample.jsonl").read_text().splitlines()[0]
    twice = tmp_path / "twice.jsonl"
    twice.write_text(line + "\n" + line + "\n")
    assert len(load_points([twice], DEP)[0]) == 1
    rows = (DATA / "minimal_sample.csv").read_text().splitlines()
    dup = tmp_path / "dup.csv"
    dup.write_text("\n".join([*rows, rows[1]]) + "\n")
    points, report = load_points([dup])
    assert len(points) == 2 and report.read == 3
    other = tmp_path / "other.json"   # another run of the same deployment stays
    other.write_text((DATA / "vllm_sample.json").read_text().replace('"mean_tpot_ms": 9.42', '"mean_tpot_ms": 9.5'))
    assert '"mean_tpot_ms": 9.5' in other.read_text()
    assert len(load_points([DATA / "vllm_sample.json", other], DEP)[0]) == 2


def test_the_engine_of_a_deployment_yaml_is_read_whatever_its_case(tmp_path):
    """`engine: SGLang` was a label of its own: predicted with another engine's scheduler (decode
    772.9 tokens/s where `sglang` gives 806.4), grouped apart from sglang's points (a hunt)."""
    dep = tmp_path / "dep.yaml"
    dep.write_text(Path(DEP).read_text().replace("engine: vllm", "engine: SGLang"))
    assert "engine: SGLang" in dep.read_text()
    (p, _), _ = load_points([DATA / "sglang_sample.jsonl"], str(dep))
    assert p.engine == "sglang"
    calib = load_calibration("default")
    lower = dep.read_text().replace("SGLang", "sglang")
    dep.write_text(lower)
    (q, _), _ = load_points([DATA / "sglang_sample.jsonl"], str(dep))
    assert [predict(p, k, calib) for k in p.measured] == [predict(q, k, calib) for k in q.measured]
    rows = (DATA / "minimal_sample.csv").read_text().replace(",vllm,", ",VLLM,")
    f = tmp_path / "m.csv"
    f.write_text(rows)
    assert {p.engine for p in load_points([f])[0]} == {"vllm"}


@pytest.mark.parametrize("rate", [-1, 0, "fast", True])
def test_a_request_rate_that_is_no_rate_is_refused(tmp_path, rate):
    """-1 or 'fast' was read as a run without pacing (a hunt)."""
    run = json.loads((DATA / "vllm_sample.json").read_text())
    run["request_rate"] = rate
    f = tmp_path / "r.json"
    f.write_text(json.dumps(run))
    with pytest.raises(BadInput, match=r"r\.json: request_rate: .* is not a request rate"):
        load_points([f], DEP)


def test_minimal_csv_cells_are_decimal_numbers_and_infinity_is_no_pacing(tmp_path):
    """float() read '1_80' as 180; 'Infinity' (SGLang's word for no pacing) was refused (a hunt)."""
    head, row, _ = (DATA / "minimal_sample.csv").read_text().split("\n", 2)
    f = tmp_path / "m.csv"
    f.write_text(head + ",request_rate\n" + row.replace(",180.5,", ",1_80,") + ",inf\n")
    with pytest.raises(BadInput, match=r"m\.csv: line 2: ttft_ms: '1_80' is not a number"):
        load_points([f])
    f.write_text(head + ",request_rate\n" + row + ",Infinity\n")
    (p,), _ = load_points([f])
    assert p.ttft_s == pytest.approx(0.1805)


def test_a_guidellm_benchmark_without_its_strategy_type_is_refused(tmp_path):
    """A concurrent run whose `config.strategy.type_` was missing was read at its measured
    concurrency (7.9 of its 8 streams) without a word (a hunt)."""
    d = json.loads((DATA / "guidellm_sample.json").read_text())
    del d["benchmarks"][0]["config"]["strategy"]["type_"]
    f = tmp_path / "benchmarks.json"
    f.write_text(json.dumps(d))
    with pytest.raises(BadInput, match=r"benchmarks\[0\]: config\.strategy\.type_: None is not a GuideLLM strategy"):
        load_points([f], DEP)


@pytest.mark.parametrize("cell, why", [("-180.5", "'-180.5', expected a positive number"),
                                       ("0", "'0', expected a positive number"),
                                       ("--5", "'--5' is not a number"), ("-nan", "'-nan' is not a number")])
def test_a_negative_minimal_csv_cell_is_called_negative_not_a_non_number(tmp_path, cell, why):
    """'-180.5' in ttft_ms was refused as "'-180.5' is not a number": a number, of the wrong sign
    (hostile-input hunt, 2026-12-06)."""
    head, row, _ = (DATA / "minimal_sample.csv").read_text().split("\n", 2)
    f = tmp_path / "m.csv"
    f.write_text(head + "\n" + row.replace(",180.5,", f",{cell},") + "\n")
    with pytest.raises(BadInput, match=rf"^{re.escape(f'{f}: line 2: ttft_ms: {why}')}$"):
        load_points([f])


def test_gpu_and_model_written_in_capitals_are_the_catalog_ids_as_in_a_problem(tmp_path):
    """`H100` and `Llama-3.1-70B` in the minimal CSV or a deployment YAML are the catalog's h100 and
    llama-3.1-70b, as a problem file reads them (every such row was dropped as "GPU not in catalog
    (H100)", and the deployment refused as "unknown GPU 'H100'", until 2026-12-06)."""
    text = (DATA / "minimal_sample.csv").read_text()
    text = text.replace(",h100,", ", H100 ,").replace("llama-3.1-70b,", "Llama-3.1-70B,")
    (tmp_path / "m.csv").write_text(text)
    points, report = load_points([tmp_path / "m.csv"])
    assert report.kept == 2 and {(p.model, p.gpu) for p in points} == {("llama-3.1-70b", "h100")}
    dep = tmp_path / "dep.yaml"
    dep.write_text((DATA / "dep.yaml").read_text().replace("gpu: h100", "gpu: H100").replace("model: llama-3.1-8b",
                                                                                              "model: Llama-3.1-8B"))
    (p,), _ = _one("vllm_sample.json", str(dep))
    assert (p.model, p.gpu) == ("llama-3.1-8b", "h100")


def test_a_measurement_yaml_point_names_gpu_and_model_in_any_case(tmp_path):
    """`gpu: H100`, `model: Llama-3.1-8B` in a measurement YAML were exit 2 as "unknown GPU 'H100'"
    (until 2026-12-06), though a problem file reads them as h100 and llama-3.1-8b."""
    pt = {"id": "p", "model": "Llama-3.1-8B", "weight_dtype": "bf16", "gpu": " H100", "cards": 1,
          "parallelism": {"tp": 1}, "role": "agg", "engine": "vllm", "isl": 1024, "osl": 256,
          "concurrency": 16, "measured": {"tpot_s": 0.0094}, "source": "my own run", "kind": "measured"}
    f = tmp_path / "m.yaml"
    f.write_text(yaml.safe_dump({"points": [pt]}))
    (p,), _ = load_points([f])
    assert (p.model, p.gpu) == ("llama-3.1-8b", "h100")


def test_a_measurement_yaml_ttft_is_compared_not_dropped(tmp_path):
    """`measured: {tpot_s, ttft_s}` of an agg point: the TTFT was checked for its domain and then
    never compared (validate showed the decode row alone; calibrate fitted no TTFT) until 2026-12-06;
    on a decode point, where no first token is measured, it is refused."""
    pt = {"id": "p", "model": "llama-3.1-8b", "weight_dtype": "bf16", "gpu": "h100", "cards": 1,
          "parallelism": {"tp": 1}, "role": "agg", "engine": "vllm", "isl": 1024, "osl": 256,
          "concurrency": 16, "measured": {"tpot_s": 0.0094, "ttft_s": 0.0618}, "source": "my own run",
          "kind": "measured"}
    f = tmp_path / "m.yaml"
    f.write_text(yaml.safe_dump({"points": [pt]}))
    (p,), _ = load_points([f])
    assert p.measured["ttft_s"] == 0.0618 and "decode_tok_s_per_gpu" in p.measured
    f.write_text(yaml.safe_dump({"points": [{**pt, "role": "decode"}]}))
    with pytest.raises(BadInput, match=r"points\[0\] \(p\).measured.ttft_s: a decode point's first token"):
        load_points([f])


def test_calibrate_on_fewer_observations_than_parameters_says_its_error_means_nothing(tmp_path):
    """The minimal CSV's 2 rows are 4 observations for the 14 parameters a fit moves: the fit passes
    through every point (fit error 0.0 %), and printed that alone until a hunt of 2026-12-06."""
    from planner.report.fidelity import few_observations
    out = tmp_path / "mine.yaml"
    res = CliRunner().invoke(cli.main, ["calibrate", str(DATA / "minimal_sample.csv"), "--folds", "0",
                                        "--out", str(out)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("fit: 4 observations"))
    assert lines[at + 1].startswith("note: 4 observations for 14 fitted parameters: the fit can pass through "
                                    "every point"), res.output
    assert out.exists()
    assert few_observations(15, 14) == [] and len(few_observations(14, 14)) == 1


def test_a_minimal_csv_row_of_an_unknown_gpu_is_named_as_written(tmp_path):
    """The error names the GPU as the row wrote it ('NaN', not the lower-cased 'nan' the lookup
    used since GPU names are read case-insensitively)."""
    (tmp_path / "m.csv").write_text((DATA / "minimal_sample.csv").read_text().replace(",h100,", ", NaN ,"))
    res = CliRunner().invoke(cli.main, ["validate", str(tmp_path / "m.csv"), "--folds", "0"])
    assert res.exit_code == 2, res.output
    assert f"error: {tmp_path / 'm.csv'}: line 2: gpu: unknown GPU 'NaN'; known: a100-80g, " in res.output, res.output
    assert "'nan'" not in res.output, res.output


@pytest.mark.parametrize("command", ["validate", "calibrate"])
def test_a_minimal_csv_row_of_a_misspelt_gpu_is_refused_as_deployment_is(tmp_path, command):
    """Rows naming `h10O` (a letter O) were dropped and counted, and the rest fitted at exit 0, where
    `--deployment` naming it exits 2: now the row's line, the known GPUs and the close ones are named."""
    from planner.catalog.schemas import load_gpus
    rows = (DATA / "minimal_sample.csv").read_text().splitlines()
    text = "\n".join([rows[0], rows[1], rows[2].replace(",h100,", ",h10O,"), rows[1].replace(",32,", ",16,")]) + "\n"
    (tmp_path / "m.csv").write_text(text)
    extra = ["--out", str(tmp_path / "c.yaml")] if command == "calibrate" else []
    res = CliRunner().invoke(cli.main, [command, str(tmp_path / "m.csv"), "--folds", "0", *extra])
    assert res.exit_code == 2, res.output
    assert res.output.strip().splitlines()[-1] == (
        f"error: {tmp_path / 'm.csv'}: line 3: gpu: unknown GPU 'h10O'; known: {', '.join(sorted(load_gpus()))}. "
        f"Did you mean 'h100' or 'h20' or 'h800'?"), res.output
    assert not (tmp_path / "c.yaml").exists()


def test_the_validate_table_widens_its_model_and_gpu_columns_to_fit_them():
    """`plan validate catalogs/measurements/held_out/public_held_out.yaml --folds 0` (docs/model.md)
    printed `llama-3.1-405b mi300x` past the fixed 13-character model column, every later column of
    those rows shifted by one against the header (a documentation audit)."""
    from planner.fidelity.validate import run_validate
    from planner.report.fidelity import render_text
    held_out = Path(__file__).resolve().parents[1] / "catalogs" / "measurements" / "held_out" / "public_held_out.yaml"
    lines = render_text(run_validate([str(held_out)], folds=0)).splitlines()
    head = next(ln for ln in lines if ln.startswith("point "))
    rows = [ln for ln in lines if "-oracle " in ln or "-dstack " in ln]
    assert rows and any("llama-3.1-405b" in ln for ln in rows)
    for col in ("gpu", "engine", "qty"):
        at = head.index(f" {col} ") + 1
        assert all(ln[at - 1] == " " and ln[at] != " " for ln in rows), col
    assert all(len(ln) == len(head) for ln in rows)


@pytest.mark.parametrize("changes, reason", [
    ({"completed": 99.5}, "completed: 99.5 is not a whole number of requests"),
    ({"completed": 400}, "completed: 400 requests, more than the 320 sent (num_prompts): not the result of one run"),
])
def test_a_completed_count_no_run_gives_is_refused(tmp_path, changes, reason):
    """`completed` divides the run's token totals into its mean lengths: 99.5 read a mean prompt of
    327680 / 99.5 = 3293.3 tokens, and 400 of 320 prompts sent a mean of 819.2 where every prompt
    had 1024; both were fitted at exit 0. Now exit 2 naming the file, the field and the reason."""
    f = _vllm(tmp_path, **changes)
    with pytest.raises(BadInput, match=re.escape(f"{f}: {reason}")):
        load_points([f], DEP)
    res = CliRunner().invoke(cli.main, ["validate", str(f), "--deployment", DEP, "--folds", "0"])
    assert res.exit_code == 2 and f"r.json: {reason}" in " ".join(res.output.split()), res.output


@pytest.mark.parametrize("value, shown", [(320.5, "320.5"), (0, "0"), (-320, "-320"), ("320", "'320'"),
                                          (True, "True")])
@pytest.mark.parametrize("command", ["validate", "calibrate"])
def test_a_num_prompts_no_run_sends_is_refused(tmp_path, value, shown, command):
    """`num_prompts: 320.5` (beside `completed: 320`) was read and divided into the run's
    concurrency at exit 0, and 0, -320 or '320' were read as if the key were left out; the
    requests a run sent are a whole number, 1 or more (null or absent: not said)."""
    f = _vllm(tmp_path, num_prompts=value)
    reason = (f"num_prompts: {shown} is not a number of requests sent (a whole number from 1 to 1e+15, the tools' "
              f"--num-prompts)")
    with pytest.raises(BadInput, match=re.escape(f"{f}: {reason}")):
        load_points([f], DEP)
    extra = ["--out", str(tmp_path / "c.yaml")] if command == "calibrate" else []
    res = CliRunner().invoke(cli.main, [command, str(f), "--deployment", DEP, "--folds", "0", *extra])
    assert res.exit_code == 2, res.output
    assert res.output.strip().splitlines()[-1] == f"error: {f}: {reason}", res.output


@pytest.mark.parametrize("value", [320, 320.0, None])
def test_a_whole_or_unsaid_num_prompts_still_reads(tmp_path, value):
    (p,), _ = load_points([_vllm(tmp_path, num_prompts=value)], DEP)
    assert p.isl == 1024


def test_a_run_that_completed_every_prompt_sent_still_reads():
    (p,), _ = load_points([DATA / "vllm_sample.json"], DEP)
    assert p.isl == 1024 and p.osl == pytest.approx(81408 / 320)
