"""config.json of families the model reads otherwise, and what it refuses (a hunt of user-supplied
models, 2026-12-05, thirty-third session): parameter counts against the published totals, and
exit 2 where a count would be silently wrong."""

from __future__ import annotations

import json

import pytest

from planner.catalog.schemas import get_model, model_from_config_json
from planner.errors import BadInput
from tests.test_hf_ids import LLAMA_8B, fake_cache, hub  # noqa: F401  (hub: a fixture)


def _model(tmp_path, cfg: dict):
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    return model_from_config_json(p)


# the published configs' fields that set the count (Hugging Face, the models' config.json)
PHI_2 = {"model_type": "phi", "hidden_size": 2560, "num_hidden_layers": 32, "num_attention_heads": 32,
         "intermediate_size": 10240, "vocab_size": 51200, "max_position_embeddings": 2048}
PYTHIA_6_9B = {"model_type": "gpt_neox", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
               "intermediate_size": 16384, "vocab_size": 50432, "max_position_embeddings": 2048,
               "tie_word_embeddings": False}
GEMMA_2_9B = {"model_type": "gemma2", "hidden_size": 3584, "num_hidden_layers": 42, "num_attention_heads": 16,
              "num_key_value_heads": 8, "head_dim": 256, "intermediate_size": 14336, "vocab_size": 256000,
              "max_position_embeddings": 8192}


@pytest.mark.parametrize("cfg, published_b", [(PHI_2, 2.78), (PYTHIA_6_9B, 6.9), (GEMMA_2_9B, 9.24)])
def test_ungated_mlps_and_tied_by_default_heads_count_as_published(tmp_path, cfg, published_b):
    """Phi-2 and Pythia's MLPs are up and down projections (3·h·I made them 3.6 B and 9.0 B);
    Gemma's config class ties the head when config.json does not say (10.2 B)."""
    assert _model(tmp_path, cfg).arch.params_total / 1e9 == pytest.approx(published_b, rel=0.015)


@pytest.mark.parametrize("extra, match", [
    ({"model_type": "ernie4_5_moe", "moe_num_experts": 64, "moe_k": 6, "moe_intermediate_size": 1536},
     r"moe_k, moe_num_experts: experts under names this planner does not read"),
    ({"model_type": "jamba", "attn_layer_period": 8, "mamba_d_state": 16},
     r"model_type 'jamba' \(attn_layer_period, mamba_d_state\): state-space \(Mamba\) layers are not modelled"),
    ({"hybrid_override_pattern": "M-M-M*"}, r"\(hybrid_override_pattern\): state-space"),
    ({"layer_types": ["full_attention"] * 5}, r"layer_types: 5 entries for num_hidden_layers 4"),
    ({"kv_lora_rank": 512}, r"qk_nope_head_dim, qk_rope_head_dim, v_head_dim: required beside kv_lora_rank"),
])
def test_what_would_be_counted_wrong_is_refused(tmp_path, extra, match):
    """ERNIE-4.5-21B-A3B was a dense 3.3 B model on one RTX 4090 (43 GB of weights); Jamba 92 B for
    52 B; 100 layer kinds for 32 layers gave a decode step of −1,020 µs; an MLA config without its
    head dims had no attention weights."""
    cfg = {**LLAMA_8B, "num_hidden_layers": 4, **extra}
    with pytest.raises(BadInput, match=match):
        _model(tmp_path, cfg)


@pytest.mark.parametrize("quant, dtype", [
    ({"quant_method": "modelopt", "quant_algo": "INT4_AWQ", "kv_cache_quant_algo": "FP8"}, "fp4"),
    ({"quant_method": "modelopt", "quant_algo": "FP8", "kv_cache_quant_algo": "FP8"}, "fp8"),
    ({"quant_method": "compressed-tensors", "format": "float-quantized",
      "config_groups": {"group_0": {"weights": {"num_bits": 8, "type": "float"}, "targets": ["Linear"]}}}, "fp8"),
    ({"quant_method": "compressed-tensors", "format": "pack-quantized",
      "kv_cache_scheme": {"num_bits": 8, "type": "float"},
      "config_groups": {"group_0": {"weights": {"num_bits": 4, "type": "int"}, "targets": ["Linear"]}}}, "fp4"),
    ({"quant_method": "compressed-tensors", "format": "int-quantized",
      "config_groups": {"group_0": {"weights": {"num_bits": 8, "type": "int"}, "targets": ["Linear"]}}}, "int8"),
])
def test_the_weights_declaration_alone_sets_their_precision(hub, quant, dtype):  # noqa: F811
    """An FP8 KV cache beside INT4-AWQ weights made them FP8 (8.0 GB for 4.0); compressed-tensors'
    FP8, W4A16 and W8A8 checkpoints read as BF16."""
    fake_cache(hub, "Acme/Q", {**LLAMA_8B, "quantization_config": quant})
    assert get_model("Acme/Q").weight_dtype == dtype


def test_a_corrupt_ref_falls_back_to_the_newest_snapshot(hub):  # noqa: F811
    """refs/main holding bytes that are no UTF-8 was exit 5 (UnicodeDecodeError)."""
    fake_cache(hub, "Acme/R", LLAMA_8B)
    (hub / "models--Acme--R" / "refs" / "main").write_bytes(b"\xff\xfe\x00junk")
    assert get_model("Acme/R").arch.params_total == get_model("llama-3.1-8b").arch.params_total


@pytest.mark.parametrize("value", ["false", "no", 0])
def test_a_boolean_field_written_as_text_or_a_number_is_refused(tmp_path, value):
    """tie_word_embeddings: "false" was read as False, where transformers takes the non-empty string as
    true (a hunt): a config.json writes JSON booleans."""
    with pytest.raises(BadInput, match=r"tie_word_embeddings: Input should be a valid boolean"):
        _model(tmp_path, {**LLAMA_8B, "tie_word_embeddings": value})


def test_a_folder_name_with_spaces_is_served_as_one_word(tmp_path):
    """`model: my model/config.json`: the plan's model (the name engines serve) is 'my-model', so
    the plan exports and simulates (it was 'my model', which plan solve wrote and plan export and
    plan simulate refused as no name an engine serves: a hunt, 2026-12-05); the engines still load
    the folder 'my model' (model_source, quoted in the scripts)."""
    import yaml
    from click.testing import CliRunner

    import cli
    folder = tmp_path / "my model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
        "intermediate_size": 14336, "vocab_size": 128256}))
    prob = tmp_path / "p.yaml"
    prob.write_text(yaml.safe_dump({"name": "cfg", "model": "my model/config.json",
                                    "workload": {"qps": 5, "input_tokens": 1000, "output_tokens": 200},
                                    "slo": {"ttft": "2s", "tpot": "50ms"}, "gpus": ["h100"]}))
    run = CliRunner().invoke
    plan = tmp_path / "plan.json"
    r = run(cli.main, ["solve", str(prob), "--out", str(plan)])
    assert r.exit_code == 0, r.output
    d = json.loads(plan.read_text())
    assert d["model"] == "my-model" and d["model_source"].endswith("my model/config.json")
    r = run(cli.main, ["export", str(plan), "--target", "vllm", "--out", str(tmp_path / "x")])
    assert r.exit_code == 0, r.output
    script = next(f for f in (tmp_path / "x").glob("*.sh")
                  if not f.name.startswith(("loadtest", "launch-node"))).read_text()
    assert f"'{folder}'" in script and "--served-model-name my-model" in script
    r = run(cli.main, ["simulate", str(plan), "--requests", "2000"])
    assert r.exit_code == 0, r.output


GEMMA_3_27B = {"model_type": "gemma3_text", "hidden_size": 5376, "num_hidden_layers": 62, "num_attention_heads": 32,
               "num_key_value_heads": 16, "head_dim": 128, "intermediate_size": 21504, "vocab_size": 262208,
               "max_position_embeddings": 131072, "sliding_window": 1024, "sliding_window_pattern": 6}


@pytest.mark.parametrize("cfg, sliding", [(GEMMA_3_27B, 52), ({**GEMMA_2_9B, "sliding_window": 4096}, 21),
                                          ({**GEMMA_3_27B, "model_type": "mistral"}, 62)])
def test_sliding_window_layers_the_published_configs_imply(tmp_path, cfg, sliding):
    """Gemma-3 (every sixth layer global), Gemma-2 (every other one) and Mistral (all) publish
    `sliding_window` without `layer_types`; they were planned as full attention: Gemma-3-27B's KV at
    32k tokens 5.3× what it holds (a hunt, 2026-12-07). The pattern now counts as its layer_types:
    the same model written both ways holds the same KV per sequence (10 global layers at 32,000
    tokens and 52 at the 1,024 of the window: 16 heads × 128 × 2 × 2 bytes a layer a token)."""
    from planner.catalog.calibration import load_calibration
    from planner.catalog.schemas import get_gpu
    from planner.physics.deployment import Deployment, Parallelism, kv_bytes_per_sequence
    m = _model(tmp_path, cfg)
    assert m.arch.sliding_layers == sliding
    if cfg is GEMMA_3_27B:
        kinds = ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(62)]
        (tmp_path / "lt").mkdir()
        lt = _model(tmp_path / "lt", {**cfg, "layer_types": kinds})
        calib = load_calibration("default")
        deps = [Deployment(x, get_gpu("h100"), Parallelism(tp=1), calib) for x in (m, lt)]
        per_seq = [kv_bytes_per_sequence(d, 32000) for d in deps]
        assert per_seq[0] == per_seq[1] == pytest.approx((10 * 32000 + 52 * 1024) * 16 * 128 * 2 * 2)


def test_gemma3s_published_config_plans_with_transformers_defaults(tmp_path):
    """Gemma-3-27B-it's config.json (a text_config without vocab_size, max_position_embeddings or
    sliding_window_pattern) was refused, 'vocab_size: required field is missing', and Gemma-3-4B's
    gives no heads either (a hunt, 2026-12-07): transformers' Gemma3TextConfig defaults fill them."""
    text = {k: v for k, v in GEMMA_3_27B.items() if k not in ("vocab_size", "max_position_embeddings",
                                                             "sliding_window_pattern")}
    m = _model(tmp_path, {"model_type": "gemma3", "architectures": ["Gemma3ForConditionalGeneration"],
                          "text_config": {**text, "rope_scaling": {"rope_type": "linear", "factor": 8.0}}})
    assert (m.arch.vocab, m.arch.context, m.arch.sliding_layers) == (262208, 131072, 52)
    (tmp_path / "4b").mkdir()
    four = _model(tmp_path / "4b", {"model_type": "gemma3_text", "hidden_size": 2560, "intermediate_size": 10240,
                                    "num_hidden_layers": 34, "sliding_window": 1024})
    assert (four.arch.heads, four.arch.kv_heads, four.arch.head_dim) == (8, 4, 256)
