"""Models by Hugging Face id: catalog aliases first, then the local Hugging Face cache (a fake one
here, in tmp_path, named by $HF_HUB_CACHE or $HF_HOME), never the network."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from planner.catalog.schemas import get_model, load_models
from planner.errors import BadInput

ROOT = Path(__file__).resolve().parents[1]
CATALOG = yaml.safe_load((ROOT / "catalogs" / "models.yaml").read_text())["models"]
LLAMA_8B = next(m for m in CATALOG if m["id"] == "llama-3.1-8b")["config"]


def fake_cache(root: Path, hf_id: str, config: dict, revision: str = "0123abc", main: bool = True) -> Path:
    org, name = hf_id.split("/")
    repo = root / f"models--{org}--{name}"
    snap = repo / "snapshots" / revision
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps(config))
    if main:
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(revision)
    return snap / "config.json"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    return tmp_path / "hub"


def test_every_catalog_entry_answers_to_its_hf_id():
    models = load_models()
    for m in CATALOG:
        assert models[m["hf_repo"].lower()].id == m["id"]
    assert get_model("meta-llama/Llama-3.1-70B-Instruct").id == "llama-3.1-70b"


def test_found_in_the_cache_with_its_precision(hub):
    fake_cache(hub, "Acme/Tiny-8B-AWQ", {**LLAMA_8B, "torch_dtype": "float16",
                                         "quantization_config": {"quant_method": "awq", "bits": 4}})
    m = get_model("Acme/Tiny-8B-AWQ")
    assert (m.id, m.weight_dtype) == ("Acme/Tiny-8B-AWQ", "fp4")
    assert "int4 weights (awq) modelled as 4-bit weights" in m.source
    assert m.arch.params_total == load_models()["llama-3.1-8b"].arch.params_total


@pytest.mark.parametrize("quant, dtype", [
    ({"quant_method": "fp8", "fmt": "e4m3"}, "fp8"), ({"quant_method": "mxfp4"}, "fp4"),
    ({"quant_method": "gptq", "bits": 8}, "int8"), (None, "bf16"),
])
def test_quantization_config_sets_the_weight_precision(hub, quant, dtype):
    cfg = {**LLAMA_8B, **({"quantization_config": quant} if quant else {})}
    fake_cache(hub, "Acme/Q", cfg)
    assert get_model("Acme/Q").weight_dtype == dtype


def test_hf_home_and_newest_snapshot_without_refs(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    fake_cache(tmp_path / "home" / "hub", "Acme/Dense", LLAMA_8B, main=False)
    assert get_model("Acme/Dense").arch.layers == LLAMA_8B["num_hidden_layers"]


def test_absent_names_the_paths_and_the_way_out(hub, tmp_path):
    with pytest.raises(BadInput) as e:
        get_model("Qwen/Qwen2.5-72B-Instruct")
    msg = str(e.value)
    for where in (hub, tmp_path / "home" / "hub", tmp_path / "user" / ".cache" / "huggingface" / "hub"):
        assert f"{where}/models--Qwen--Qwen2.5-72B-Instruct/snapshots/*/config.json" in msg
    assert "planner never downloads" in msg and "model: path/to/config.json" in msg


def test_a_problem_names_the_model_by_hf_id(hub):
    from planner.input.problem import Problem
    from planner.plan.solve import solve
    fake_cache(hub, "Acme/Chat-8B", LLAMA_8B)
    p = Problem.model_validate({"model": "Acme/Chat-8B", "gpus": ["h100"],
                                "workload": {"qps": 2, "input_tokens": 500, "output_tokens": 100},
                                "slo": {"ttft": "2s", "tpot": "50ms"}})
    assert solve(p, "p").verification.passed


def test_an_output_never_replaces_the_profile_or_cached_config_a_problem_reads_by_name(tmp_path, monkeypatch):
    """`--out catalogs/calibration/mine.yaml --force` replaced the profile `calibration: mine` read,
    and `--out <the cached config.json> --force` the config `model: acme/tiny` read (every later
    run failed); both named by path were already refused (a hunt)."""
    from click.testing import CliRunner

    from cli import main
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    config = fake_cache(tmp_path / "hub", "acme/tiny", LLAMA_8B)
    prof = tmp_path / "catalogs" / "calibration" / "mine.yaml"
    prof.parent.mkdir(parents=True)
    prof.write_text((ROOT / "catalogs" / "calibration" / "default.yaml").read_text()   # a profile's name is its file's
                    .replace("\nname: default\n", "\nname: mine\n"))
    p = tmp_path / "p.yaml"
    p.write_text("model: acme/tiny\nworkload: {qps: 10, input_tokens: 1000, output_tokens: 200}\n"
                 "slo: {ttft: 2s, tpot: 50ms}\ngpus: [h100]\ncalibration: mine\n")
    for target, what in ((prof, "the calibration profile this problem reads"),
                         (config, "the model config this problem reads")):
        before = target.read_bytes()
        r = CliRunner().invoke(main, ["solve", str(p), "--out", str(target), "--force"])
        assert r.exit_code == 2 and f"refusing to overwrite {what}" in r.output, r.output
        assert target.read_bytes() == before
    assert CliRunner().invoke(main, ["solve", str(p)]).exit_code == 0


@pytest.mark.parametrize("factor", [float("nan"), True, -4, 0, "x", 1e300])
def test_a_rope_scaling_factor_that_is_no_factor_is_refused(factor):
    """A hunt found rope_scaling.factor NaN, true, -4, 0 or 'x' ignored without a word (the context
    read as if unscaled) and 1e300 taken, a context no check noticed; a real one stretches it."""
    from planner.catalog.config_json import ConfigError, context_tokens
    cfg = {"max_position_embeddings": 8192, "rope_scaling": {"rope_type": "linear", "factor": factor}}
    with pytest.raises(ConfigError, match=r"rope_scaling.factor: .* is not a RoPE scaling factor \(a number above 0, "
                                          r"at most 1024\)"):
        context_tokens(cfg)
    assert context_tokens({**cfg, "rope_scaling": {"rope_type": "linear", "factor": 4}})[0] == 32768


@pytest.mark.parametrize("model_type, tokens", [("gemma3_text", 131072), ("gemma3", 131072), ("llama", 1048576)])
def test_gemma3s_context_is_already_scaled(model_type, tokens):
    """Gemma-3's config: max_position_embeddings 131,072 beside a linear RoPE factor 8. vLLM leaves
    the context at 128K for gemma3 ('already scaled by RoPE scaling'); 1,048,576 was planned, so a
    200,000-token prompt was exported without the past-context note (a hunt, 2026-12-07). Another
    model with the same fields is scaled, as vLLM scales it."""
    from planner.catalog.config_json import context_tokens
    cfg = {"model_type": model_type, "max_position_embeddings": 131072,
           "rope_scaling": {"rope_type": "linear", "factor": 8.0}}
    assert context_tokens(cfg)[0] == tokens


@pytest.mark.parametrize("scaling, field", [
    ({"type": "yarn", "factor": 2, "original_max_position_embeddings": 1e308},
     "rope_scaling.original_max_position_embeddings: 1e+308"),
    ({"type": "yarn", "factor": 1024, "original_max_position_embeddings": 1e306},
     "rope_scaling.original_max_position_embeddings: 1e+306"),
])
def test_a_rope_scaling_whose_context_overflows_is_refused(scaling, field, tmp_path):
    """A hunt (2026-12-07): a YaRN original_max_position_embeddings of 1e308 times a factor of 2 is inf,
    and `int(inf)` raised OverflowError, a traceback with exit 5 from `plan eval --model` and `plan
    solve`. Now one message naming the field, exit 2; a finite product is read as before."""
    from click.testing import CliRunner

    from cli import main
    from planner.catalog.config_json import ConfigError, context_tokens
    cfg = {"max_position_embeddings": 8192, "rope_scaling": scaling}
    with pytest.raises(ConfigError, match=re.escape(field) + r" × rope_scaling.factor \d+ is not a finite number"):
        context_tokens(cfg)
    assert context_tokens({**cfg, "rope_scaling": {**scaling, "original_max_position_embeddings": 4096}})[0] \
        == 4096 * scaling["factor"]
    path = tmp_path / "r.json"
    path.write_text(json.dumps({**LLAMA_8B, "rope_scaling": scaling}))
    r = CliRunner().invoke(main, ["eval", "--model", str(path), "--gpu", "h100"])
    assert r.exit_code == 2 and "Traceback" not in r.output and field in r.output, r.output
