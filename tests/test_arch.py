"""The parameter counter against published totals, and KV bytes per token by attention type."""

import pytest

from planner.catalog.config_json import ConfigError, architecture_from_config
from planner.catalog.schemas import get_model
from planner.physics.perf import kv_bytes_per_token


@pytest.mark.parametrize("model,total_b,active_b", [
    ("deepseek-v3", 671.0, 37.0), ("deepseek-r1", 671.0, 37.0), ("llama-3.1-70b", 70.6, None),
    ("llama-3.1-8b", 8.03, None), ("llama-3.1-405b", 405.9, None),
    ("qwen3-235b-a22b", 235.0, 22.0), ("gpt-oss-120b", 116.8, 5.1),
])
def test_parameter_counts(model, total_b, active_b):
    m = get_model(model)
    assert m.params_total / 1e9 == pytest.approx(total_b, rel=0.01)
    if active_b is not None:
        assert m.params_active / 1e9 == pytest.approx(active_b, rel=0.03)


def test_deepseek_blocks_by_hand():
    a = get_model("deepseek-v3").arch
    # q: 7168·1536 + 1536·128·192; kv_a: 7168·576; kv_b: 512·128·256; o: 128·128·7168
    assert a.attn_params == 7168 * 1536 + 1536 * 128 * 192 + 7168 * 576 + 512 * 128 * 256 + 128 * 128 * 7168
    assert a.expert_params == 3 * 7168 * 2048
    assert (a.moe_layers, a.dense_layers) == (58, 3)


def test_kv_bytes_per_token():
    # MLA: 61 layers × (512 + 64) values; BF16 = 2 bytes
    assert kv_bytes_per_token(get_model("deepseek-v3").arch, "bf16") == 61 * 576 * 2
    # GQA: 2 · 80 layers · 8 kv heads · 128 · 1 byte (FP8)
    assert kv_bytes_per_token(get_model("llama-3.1-70b").arch, "fp8") == 2 * 80 * 8 * 128
    # MHA: a config with kv heads = heads
    mha = architecture_from_config({"hidden_size": 1024, "num_hidden_layers": 4, "num_attention_heads": 8,
                                    "vocab_size": 1000, "intermediate_size": 4096})
    assert mha.attention == "mha"
    assert kv_bytes_per_token(mha, "bf16") == 2 * 4 * 8 * 128 * 2


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="hidden_size"):
        architecture_from_config({"num_hidden_layers": 2, "num_attention_heads": 2, "vocab_size": 10})
    with pytest.raises(ConfigError, match="num_experts_per_tok"):
        architecture_from_config({"hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
                                  "vocab_size": 10, "num_experts": 4, "moe_intermediate_size": 8})
