"""DeepSeek sparse attention (DSA: DeepSeek-V3.2, GLM-5) in the passes: each query's MLA attends the
indexer's top k cached tokens, the lightning indexer scores every one of them, and the cache holds an
FP8 index key per token and layer beside the MLA latent. Checked against hand calculations, against
the dense model it would be without the indexer, and the numpy twins against the scalar passes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from planner.catalog.calibration import load_calibration
from planner.catalog.schemas import load_gpus, load_models
from planner.physics import batched, perf
from planner.physics.deployment import Deployment, Parallelism
from tests.test_batched import same

TP8 = Parallelism(8, 1, 1)


def dep(model="deepseek-v3.2", par=TP8, calib="default", kv="bf16"):
    return Deployment(load_models()[model], load_gpus()["h200"], par, load_calibration(calib), "fp8", kv)


def dense(d: Deployment) -> Deployment:
    """The same deployment with the model's attention dense (no indexer, no top k)."""
    a = replace(d.arch, index_heads=0, index_head_dim=0, index_topk=0)
    return replace(d, model=d.model.model_copy(update={"arch": a}))


def test_the_configs_carry_the_indexer():
    """config.json: DeepSeek-V3.2 index_n_heads 64, GLM-5 32, both index_head_dim 128, index_topk 2048."""
    m = load_models()
    assert (m["deepseek-v3.2"].arch.index_heads, m["deepseek-v3.2"].arch.index_topk) == (64, 2048)
    assert (m["glm-5"].arch.index_heads, m["glm-5"].arch.index_head_dim, m["glm-5"].arch.index_topk) == (32, 128, 2048)
    assert m["deepseek-v3"].arch.index_topk == 0 and m["deepseek-v3"].arch.index_key_bytes == 0


def test_kv_bytes_per_token_add_an_fp8_index_key_per_layer():
    """61 layers × (512 + 64) values × 2 B (bf16 latent) + 61 × (128 + 4) B of index keys = 78,324 B;
    the index keys are FP8 whatever the latent's dtype (fp8 latent: 61 × 576 + 61 × 132 = 43,188 B)."""
    a = load_models()["deepseek-v3.2"].arch
    assert perf.kv_bytes_per_token(a, "bf16") == 61 * 576 * 2 + 61 * 132 == 78_324
    assert perf.kv_bytes_per_token(a, "fp8") == 61 * 576 + 61 * 132
    d = dep(par=Parallelism(8, 2, 1))   # pp 2: half the layers per card, the latent and keys on every TP rank
    assert perf.kv_bytes_per_token_per_card(d) == pytest.approx(61 / 2 * (576 * 2 + 132))


def test_sparse_pairs_by_hand():
    """Causal top-k pairs: within k, s²/2 + s·c; beyond, k per query once the context holds k."""
    a = load_models()["deepseek-v3.2"].arch
    assert a.sparse_pairs(1000) == 500_000
    assert a.sparse_pairs(1000, 500) == 1000 ** 2 / 2 + 1000 * 500
    assert a.sparse_pairs(10_000) == 2048 ** 2 / 2 + (10_000 - 2048) * 2048
    assert a.sparse_pairs(100, 5000) == 100 * 2048
    assert a.sparse_pairs(1000, 1500) == 548 ** 2 / 2 + 548 * 1500 + 452 * 2048
    assert a.prefill_keys_per_query(4096) == pytest.approx(0.75 * 2048)
    assert a.attended_tokens(30_000) == 2048 and a.attended_tokens(1000) == 1000


def test_a_long_context_decode_step_by_hand():
    """DeepSeek-V3.2 on 8 H200 (TP8, bf16 latent), 64 sequences at a 32,000-token context: per card
    the MLA attention of 64 queries over 2,048 keys (absorbed: 2·128·(512 + 64) + 2·128·512 = 278,528
    FLOPs a pair) plus the indexer's 64 × 32,000 × 2·64·128 FLOPs, in 61 layers over 8 cards; the
    cache read: 64 × (2,048 × 61 × 1,152 B of latent + 32,000 × 61 × 132 B of index keys). Dense MLA
    would read 64 × 32,000 × 61 × 1,152 B: 5.6 times as much."""
    d = dep()
    step = perf.decode_step(d, 64, 32_000.0)
    base = perf.decode_step(d, 64, 0.0)   # no context: weights, activations, floors
    attn_flops = (64 * 2048 * 278_528 + 64 * 32_000 * 16_384) * 61 / 8
    kv = 64 * (2048 * 61 * (1152 + 132) + (32_000 - 2048) * 61 * 132)
    assert step.flops_per_card - base.flops_per_card == pytest.approx(attn_flops, rel=1e-9)
    assert step.bytes_per_card - base.bytes_per_card == pytest.approx(kv, rel=1e-9)
    dense_step = perf.decode_step(dense(d), 64, 32_000.0)
    assert (dense_step.bytes_per_card - base.bytes_per_card) / (64 * 32_000 * 61 * 1152) == pytest.approx(1, rel=1e-9)
    assert step.time_s < 0.5 * dense_step.time_s
    assert (dense_step.bytes_per_card - base.bytes_per_card) / (step.bytes_per_card - base.bytes_per_card) \
        == pytest.approx(5.60, abs=0.01)


def test_within_top_k_dsa_costs_its_indexer_more_than_dense_mla():
    """At contexts within k every token is attended anyway: the step is dense MLA's plus the indexer
    (its FLOPs and its keys), never less."""
    d = dep()
    for b, ctx in ((1, 500.0), (64, 1500.0), (512, 2000.0)):
        s, m = perf.decode_step(d, b, ctx), perf.decode_step(dense(d), b, ctx)
        assert s.flops_per_card > m.flops_per_card and s.time_s >= m.time_s
    p, q = perf.prefill_pass(d, 4, 1000.0), perf.prefill_pass(dense(d), 4, 1000.0)
    assert p.flops_per_card - q.flops_per_card == pytest.approx(4 * 1000 ** 2 / 2 * 16_384 * 61 / 8, rel=1e-9)


def test_long_prompts_prefill_in_linear_attention_time():
    """A 64k prompt: the MLA attention is k per query, not half the prompt; the indexer stays
    quadratic but at 16,384 FLOPs a pair against 2·128·(192 + 128) = 81,920 non-absorbed."""
    d = dep()
    s = 65_536
    p, q = perf.prefill_pass(d, 1, float(s)), perf.prefill_pass(dense(d), 1, float(s))
    sparse = (2048 ** 2 / 2 + (s - 2048) * 2048) * 81_920 + s ** 2 / 2 * 16_384   # top-k MLA + indexer
    linear_layers = q.flops_per_card - s ** 2 / 2 * 81_920 * 61 / 8                # the rest, as dense
    assert p.flops_per_card - sparse * 61 / 8 == pytest.approx(linear_layers, rel=1e-9)
    assert p.time_s < 0.5 * q.time_s


@pytest.mark.parametrize("model", ["deepseek-v3.2", "glm-5"])
@pytest.mark.parametrize("par", [Parallelism(8, 1, 1), Parallelism(1, 1, 8), Parallelism(2, 1, 4, moe_tp=2),
                                 Parallelism(8, 1, 2)])
@pytest.mark.parametrize("calib", ["default", "roofline"])
def test_the_numpy_twins_give_the_scalar_passes_under_dsa(model, par, calib):
    d = dep(model, par, calib)
    bs = np.array([1, 3, 64, 700], dtype=float)
    ch = np.array([1.0, 900.0, 4096.0, 8192.0])
    for ctx, prompt, cached in ((1500.0, 1000.0, 200.0), (40_000.0, 30_000.0, 5000.0)):
        dec = batched.decode_steps(d, bs, ctx)
        mix = batched.mixed_steps(d, bs, ctx, ch, prompt)
        pre = batched.prefill_passes(d, bs, prompt, cached)
        for i, b in enumerate(bs.tolist()):
            assert same(dec.at(i), perf.decode_step(d, b, ctx))
            assert same(mix.at(i), perf.mixed_step(d, b, ctx, float(ch[i]), prompt))
            assert same(pre.at(i), perf.prefill_pass(d, b, prompt, cached))


def test_catalog_models_marks_sparse_attention():
    """`plan catalog models`: MLA+DSA and the KV with its index keys (78.3 kB for DeepSeek-V3.2 with a
    BF16 latent); dense models keep their column and a null top k in the JSON."""
    import json

    from click.testing import CliRunner

    from cli import main
    text = CliRunner().invoke(main, ["catalog", "models"]).output
    line = next(x for x in text.splitlines() if x.startswith("deepseek-v3.2 "))
    assert " MLA+DSA " in line and line.endswith(" 78.3 kB")
    assert " MLA " in next(x for x in text.splitlines() if x.startswith("deepseek-v3 "))
    rows = {d["id"]: d for d in json.loads(CliRunner().invoke(main, ["catalog", "models", "--json"]).output)}
    assert rows["glm-5"]["sparse_attention_topk"] == 2048 and rows["llama-3.1-8b"]["sparse_attention_topk"] is None
