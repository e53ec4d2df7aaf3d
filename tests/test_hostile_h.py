"""Hostile input, ninth round (2026-12-06)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_hostile import SMALL  # the small problem of the first round
from tests.test_hostile_outputs import run, write

MINIMAL = "model,gpu,engine,cards,tp,pp,dp,ep,mode,concurrency,isl,osl,ttft_ms,tpot_ms,engine_version,weight_dtype\n"
RUN_TP4 = "llama-3.1-70b,h100,vllm,4,4,1,1,1,agg,32,2048,512,180.5,21.3,0.11.0,fp8\n"


def _minimal(tmp_path: Path, *rows: str) -> Path:
    return write(tmp_path, MINIMAL + RUN_TP4 + "".join(rows), "m.csv")


@pytest.mark.parametrize("row, layers", [
    ("llama-3.1-70b,h100,vllm,128,1,128,1,1,agg,64,2048,512,260.0,27.9,0.11.0,fp8\n", "llama-3.1-70b: 80"),
    ("llama-3.1-8b,h100,vllm,64,1,64,1,1,agg,64,2048,512,260.0,27.9,0.11.0,fp8\n", "llama-3.1-8b: 32"),
])
@pytest.mark.parametrize("command", ["validate", "calibrate"])
def test_a_run_with_more_pipeline_stages_than_layers_is_dropped(tmp_path, row, layers, command):
    """A minimal-CSV row of PP 128 for Llama-3.1-70B's 80 layers was predicted and fitted (calibrate
    wrote a profile from it), where plan eval refuses `--pp 64` of a 32-layer model."""
    m = _minimal(tmp_path, row)
    extra = ["--out", tmp_path / "c.yaml"] if command == "calibrate" else []
    code, out = run(command, m, "--folds", "0", *extra)
    assert code == 0, out
    assert "read 2 rows, kept 1 point, dropped 1" in out, out
    assert f"dropped     1: more pipeline stages than the model's layers ({layers})" in out, out


def test_a_run_with_as_many_pipeline_stages_as_layers_is_kept(tmp_path):
    m = _minimal(tmp_path, "llama-3.1-8b,h100,vllm,32,1,32,1,1,agg,64,2048,512,260.0,27.9,0.11.0,fp8\n")
    code, out = run("validate", m, "--folds", "0")
    assert code == 0 and "read 2 rows, kept 2 points, dropped 0" in out, out


GONE = "the current directory no longer exists (deleted or moved since the shell entered it); " \
       "cd into a directory that exists and run plan again"


def _in_a_deleted_directory(tmp_path: Path, monkeypatch) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()


@pytest.mark.parametrize("args", [
    ["solve", "{p}"],
    ["eval", "--model", "llama-3.1-8b", "--gpu", "h100"],
])
def test_a_deleted_current_directory_is_named(tmp_path, monkeypatch, args):
    """`plan solve /abs/p.yaml` run in a directory deleted under the shell said only `No such file
    or directory (a file or system operation failed)`: plan looks in ./catalogs, and os.getcwd's
    error names no file."""
    p = write(tmp_path, SMALL)
    _in_a_deleted_directory(tmp_path, monkeypatch)
    code, out = run(*[a.format(p=p) for a in args])
    assert code == 2 and out.strip() == f"error: {GONE}", out


@pytest.mark.parametrize("command", [["init"], ["schema"]])
def test_out_into_a_deleted_current_directory_is_not_called_unwritable(tmp_path, monkeypatch, command):
    """`plan init --out x.yaml` in a deleted directory said `directory . is not writable`."""
    _in_a_deleted_directory(tmp_path, monkeypatch)
    code, out = run(*command, "--out", "x.yaml" if command == ["init"] else "x.json")
    assert code == 2, out
    assert "directory . no longer exists (deleted since the shell entered it); cd into a directory that exists" \
           in out, out


def test_catalog_and_init_to_stdout_still_work_in_a_deleted_directory(tmp_path, monkeypatch):
    _in_a_deleted_directory(tmp_path, monkeypatch)
    assert run("catalog", "gpus")[0] == 0
    code, out = run("init")
    assert code == 0 and "name: my-problem" in out, out


@pytest.mark.parametrize("args, message", [
    (["--pp", "3"], "--cards 8 is not a multiple of --pp 3 × --dp 1 = 3: TP is the cards over them; "
                    "set --tp, --pp or --dp so that tp·pp·dp = --cards"),
    (["--pp", "16"], "--cards 8 is not a multiple of --pp 16 × --dp 1 = 16"),
])
def test_eval_without_tp_names_no_tp(args, message):
    """`plan eval --cards 8 --pp 3` said `--tp 2 × --pp 3 × --dp 1 = 6 cards, but --cards is 8`, of a
    --tp never given (and `--tp 1` for --pp 16); the option given (--tp 2 --pp 3) is still named."""
    code, out = run("eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--cards", "8", *args)
    assert code == 2 and message in out and "--tp" not in out.split(":")[0], out


def test_eval_with_tp_and_a_whole_tp_still_work():
    code, out = run("eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--cards", "8", "--tp", "2", "--pp", "3")
    assert code == 2 and "--tp 2 × --pp 3 × --dp 1 = 6 cards, but --cards is 8" in out, out
    code, out = run("eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--cards", "8", "--pp", "4")
    assert code == 0 and "(TP2·PP4)" in out, out


@pytest.mark.parametrize("given", ["./nosuch.yaml", "nosuch.yaml", "sub/nosuch"])
@pytest.mark.parametrize("command", ["eval", "calibrate"])
def test_a_calibration_path_not_found_is_said_so(tmp_path, monkeypatch, given, command):
    """`plan eval --calibration ./mine.yaml` (a typo of the path) said `unknown calibration profile
    './mine.yaml'; available: default, roofline, …`, a list of names for a path."""
    monkeypatch.chdir(tmp_path)
    if command == "eval":
        args = ["eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--calibration", given]
    else:
        args = ["calibrate", _minimal(tmp_path), "--folds", "0", "--out", "c.yaml", "--base", given]
    code, out = run(*args)
    option = "--calibration" if command == "eval" else "--base"
    assert code == 2, out
    assert f"{option}: {given}: file not found (from {tmp_path}); a calibration profile is named by its name " \
           f"or by the path of its .yaml file" in out, out
    assert "available" not in out, out


def test_a_calibration_by_path_or_by_name_still_loads(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out = run("calibrate", _minimal(tmp_path), "--folds", "0", "--out", "mine.yaml")
    assert code == 0, out
    for given in ("mine.yaml", "./mine.yaml", str(tmp_path / "mine.yaml"), "vllm"):
        code, out = run("eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--cards", "1", "--calibration", given)
        assert code == 0, out
    code, out = run("eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--calibration", "nosuch")
    assert code == 2 and "unknown calibration profile 'nosuch'; available: default" in out, out


GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden" / "solve"


@pytest.mark.parametrize("edit", [("qps", 10.0), ("prefix_cache_hit", 0.5)])
def test_export_of_a_plan_whose_workload_was_edited_says_the_pools_were_sized_for_another(tmp_path, edit):
    """A plan's `qps` edited from 10 to 100 (or its prefix-cache hit) was exported at exit 0 without a
    word: the same engines, with README.txt, slo.json and the load test at the new load."""
    import json
    d = json.loads((GOLDEN / "deepseek_qps.json").read_text())
    key, factor = edit
    d["workload"][key] = d["workload"][key] * factor if key == "qps" else factor
    src = write(tmp_path, json.dumps(d), "edited.json")
    code, out = run("export", src, "--target", "vllm", "--out", tmp_path / "x")
    assert code == 0, out
    assert "uncached prompt tokens a second, but the pools were sized for" in out, out
    assert "(their prefill_tokens_per_s; the workload or the pools edited by hand?): README.txt, slo.json and the " \
           "load test state the workload's load; re-solve the problem for it" in out, out
    assert "the pools were sized for" in (tmp_path / "x" / "README.txt").read_text()


def test_export_of_a_plan_whose_output_length_was_edited_is_noted(tmp_path):
    """output_tokens edited 1000 → 10000 (its distribution alike): the load test ran 10× the tokens
    the decode pools were sized for, at exit 0 without a word (a hunt, 2026-12-07). The seed's
    decode pools make 200 × 999 tokens a second (prefill pools make each first token)."""
    import json
    d = json.loads((GOLDEN / "deepseek_qps.json").read_text())
    assert sum(p["decode_tokens_per_s"] for p in d["pools"]) == pytest.approx(200 * 999)
    d["workload"]["output_tokens"] = 10000.0
    d["workload"]["output_distribution"] = [[10000, 1.0]]
    src = write(tmp_path, json.dumps(d), "edited.json")
    code, out = run("export", src, "--target", "vllm", "--out", tmp_path / "x")
    assert code == 0, out
    assert ("the workload, 200 req/s of 10000 output tokens, is 1,999,800–2,000,000 generated "
            "tokens a second, but the pools were sized for 199,800 (their decode_tokens_per_s") in out, out


@pytest.mark.parametrize("edit, note", [
    ({"slo": ("tpot_s", 0.01)}, "tpot_s is 28.6 ms, above the plan's own limit slo.tpot_s 10.0 ms"),
    ({"pool": (1, "tpot_s", 3.0)}, "pools[1].tpot_s is 3.00 s, above the plan's own limit slo.tpot_s 40.0 ms"),
])
def test_export_notes_a_pool_latency_above_the_plans_own_slo(tmp_path, edit, note):
    """slo.tpot_s edited 40 → 10 ms beside a decode pool of 28.6 ms, or the pool's tpot_s edited to 3 s,
    exported slo.json, the README and the load test at exit 0 without a word (a hunt, 2026-12-07)."""
    import json
    d = json.loads((GOLDEN / "llama70b_chat.json").read_text())
    assert [p["role"] for p in d["pools"]] == ["prefill", "decode"] and d["slo"]["tpot_s"] == 0.04
    if "slo" in edit:
        d["slo"][edit["slo"][0]] = edit["slo"][1]
    else:
        i, key, v = edit["pool"]
        d["pools"][i][key] = v
    src = write(tmp_path, json.dumps(d), "edited.json")
    code, out = run("export", src, "--target", "vllm", "--out", tmp_path / "x")
    assert code == 0 and note in out and "(the plan or its SLO edited by hand?)" in out, out
    assert note in (tmp_path / "x" / "README.txt").read_text()


def test_export_refuses_a_latency_on_a_role_that_has_none(tmp_path):
    """A prefill pool's `tpot_s: 3` was exported as `prefill-h100-0.tpot: 3000.0` in slo.json."""
    import json
    d = json.loads((GOLDEN / "llama70b_chat.json").read_text())
    d["pools"][0]["tpot_s"] = 3.0
    src = write(tmp_path, json.dumps(d), "edited.json")
    code, out = run("export", src, "--target", "vllm", "--out", tmp_path / "x")
    assert code == 2 and "pools[0].tpot_s: 3.0; a prefill pool has none (plan solve writes null)" in out, out


def test_export_of_a_fleet_service_whose_qps_was_edited_is_noted(tmp_path):
    import json
    d = json.loads((GOLDEN / "fleet_mix.json").read_text())
    d["services"][0]["workload"]["qps"] *= 5
    src = write(tmp_path, json.dumps(d), "edited.json")
    code, out = run("export", src, "--target", "k8s", "--out", tmp_path / "x")
    assert code == 0 and "the pools were sized for" in out, out


@pytest.mark.parametrize("name", ["deepseek_qps", "fleet_mix", "llama70b_chat", "small_model_cheap_card"])
def test_export_of_a_solved_plan_notes_no_edited_workload(tmp_path, name):
    code, out = run("export", GOLDEN / f"{name}.json", "--target", "k8s", "--out", tmp_path / "x")
    assert code == 0 and "sized for" not in out, out


def test_files_named_in_upper_case_yaml_are_read_as_yaml(tmp_path, monkeypatch):
    """`--calibration MINE.YAML` (a profile saved on Windows, say) said `a calibration profile is a
    .yaml file`, of a .YAML file; a problem's `calibration: MINE.YAML` likewise; `plan validate
    runs.YML` said `not a benchmark file this planner reads (… or a CSV)`, naming no YAML at all."""
    monkeypatch.chdir(tmp_path)
    code, out = run("calibrate", _minimal(tmp_path), "--folds", "0", "--out", "mine.yaml")
    assert code == 0, out
    (tmp_path / "mine.yaml").rename(tmp_path / "MINE.YAML")
    code, out = run("eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--calibration", "MINE.YAML")
    assert code == 0 and "calibration mine" in out, out
    p = write(tmp_path, {**SMALL, "calibration": "MINE.YAML"})
    code, out = run("solve", p)
    assert code == 0 and "calibration: mine" in out, out
    code, out = run("calibrate", _minimal(tmp_path), "--folds", "0", "--out", "again.yaml", "--base", "MINE.YAML")
    assert code == 0, out
    runs = write(tmp_path, {"points": [{
        "id": "x", "model": "llama-3.1-70b", "weight_dtype": "fp8", "gpu": "h100", "cards": 4,
        "parallelism": {"tp": 4}, "role": "agg", "engine": "vllm", "isl": 2048, "osl": 512, "concurrency": 32,
        "measured": {"tpot_s": 0.0213, "ttft_s": 0.18}, "source": "my bench", "kind": "measured"}]}, "runs.YML")
    code, out = run("validate", runs, "--folds", "0")
    assert code == 0 and "read 1 row, kept 1 point, dropped 0" in out, out


def test_calibrate_out_in_upper_case_yaml_says_why(tmp_path):
    code, out = run("calibrate", _minimal(tmp_path), "--folds", "0", "--out", tmp_path / "X.YAML")
    assert code == 2, out
    assert "X.YAML: write the suffix .yaml in lower case: a problem names a profile by its name, found as " \
           "NAME.yaml (or give --calibration the file's path)" in out, out
    assert not (tmp_path / "X.YAML").exists()


CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
          "intermediate_size": 14336, "num_attention_heads": 32, "num_key_value_heads": 8, "num_hidden_layers": 32,
          "vocab_size": 128256, "max_position_embeddings": 131072, "torch_dtype": "bfloat16", "head_dim": 128}


@pytest.mark.parametrize("given, written", [("cfg/config.json", "../cfg/config.json"), ("./cfg", "../cfg")])
def test_init_writes_a_config_path_the_problem_file_finds_from_anywhere(tmp_path, monkeypatch, given, written):
    """`plan init --model cfg/config.json --out sub/p.yaml` wrote `model: cfg/config.json`, a path
    from the directory init ran in: `cd sub && plan solve p.yaml` said file not found, where plan
    solve reads a relative path beside the problem file first."""
    import json
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.json").write_text(json.dumps(CONFIG))
    (tmp_path / "sub").mkdir()
    code, out = run("init", "--model", given, "--out", "sub/p.yaml")
    assert code == 0, out
    assert f"model: {written} " in (tmp_path / "sub" / "p.yaml").read_text()
    monkeypatch.chdir(tmp_path / "sub")
    code, out = run("solve", "p.yaml")
    assert code == 0 and "Plan for p: cfg" in out, out


def test_init_keeps_ids_and_paths_from_its_own_directory(tmp_path, monkeypatch):
    import json
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.json").write_text(json.dumps(CONFIG))
    (tmp_path / "sub").mkdir()
    for model, out, written in (("cfg/config.json", "here.yaml", "cfg/config.json"),
                                ("meta-llama/Llama-3.1-8B", "sub/q.yaml", "meta-llama/Llama-3.1-8B"),
                                (str(tmp_path / "cfg"), "sub/r.yaml", str(tmp_path / "cfg"))):
        code, text = run("init", "--model", model, "--out", out)
        assert code == 0 and f"model: {written} " in Path(out).read_text(), text
    code, text = run("init", "--model", "cfg/config.json")
    assert code == 0 and "model: cfg/config.json " in text, text
