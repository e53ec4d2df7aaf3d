"""The model's edges and held tokens against hand calculations: the embedding table is looked up
(a row a token), not read whole each pass; the LM head runs on the tokens whose next token is
sampled (every decoded token, a prompt's last) and sits on the last pipeline stage; sliding-window
layers keep their window and linear-attention layers their fixed state, not a full KV cache.

Llama-3.1-8B (h = 4,096, V = 128,256, 32 layers, untied head), FP8 weights (1 byte a parameter):
attention 32 × 41,943,040 = 1,342,177,280, MLP 32 × 176,160,768 = 5,637,144,576, norms 266,240
(body 6,979,588,096); embedding = head = V·h = 525,336,576.
"""

import pytest

from planner.physics import perf
from planner.physics.deployment import kv_bytes_per_sequence, linear_state_bytes_per_sequence_per_card
from tests.conftest import make_dep

BODY = 1_342_177_280 + 5_637_144_576 + 266_240
VH = 128_256 * 4_096


def test_the_parameter_counts_the_calculations_use(roofline):
    a = make_dep("llama-3.1-8b", "h100", roofline, tp=1).arch
    assert (a.layers * a.attn_params, a.dense_layers * a.dense_mlp_params, a.norm_params) == (
        1_342_177_280, 5_637_144_576, 266_240)
    assert a.embed_params == a.lm_head_params == VH and not a.tied_embeddings


def test_a_decode_step_reads_the_head_once_and_one_embedding_row_a_token(roofline):
    """Batch 1 at 1,000 tokens of context on one H100: body + head + one row (4,096 B) + KV
    (1,000 × 131,072 B) + activations (4,096 × 2 B × 2 × 32 layers). The embedding table
    (525 MB, 7 % of the step) was read whole every step."""
    dep = make_dep("llama-3.1-8b", "h100", roofline, tp=1)
    assert perf.weights_per_card_bytes(dep) == BODY + 2 * VH           # held: both tables
    step = perf.decode_step(dep, 1, 1000)
    assert step.bytes_per_card == BODY + VH + 4_096 + 1000 * 131_072 + 4_096 * 2 * 2 * 32


def test_pipeline_stages_hold_one_table_each_and_a_step_runs_at_the_heads_stage(roofline):
    """PP2: the first stage holds the embedding, the last the head (both were held on every
    stage: 22.4 GB summed at PP4 for a 16.1 GB BF16 model). Micro-batched decode runs at the pace
    of the busiest stage, the head's: each of the two stage passes of a micro-batch of one sequence
    is charged body/2 + head, half an embedding row, 1,000 × 65,536 B of KV and 4,096 × 2 × 2 × 16 B."""
    dep = make_dep("llama-3.1-8b", "h100", roofline, tp=1, pp=2)
    assert perf.weights_per_card_bytes(dep) == BODY / 2 + VH
    step = perf.decode_step(dep, 2, 1000)
    assert step.bytes_per_card == BODY / 2 + VH + 2_048 + 1000 * 65_536 + 4_096 * 2 * 2 * 16
    four = make_dep("llama-3.1-8b", "h100", roofline, tp=1, pp=4)
    assert 4 * perf.weights_per_card_bytes(four) == BODY + 4 * VH


def test_prefill_computes_logits_for_each_prompts_last_token(roofline):
    """A prefill of 4 prompts of 2,000 tokens: linear FLOPs 2·(attention + MLP)·8,000 plus the head
    2·V·h for 4 tokens, not for 8,000 (+7 % of Llama-3.1-8B's linear FLOPs); the head's weights are
    read once a pass, the embedding rows of 8,000 tokens."""
    dep = make_dep("llama-3.1-8b", "h100", roofline, tp=1)
    a = dep.arch
    one = perf.prefill_pass(dep, 4, 2000)
    attn = perf.prefill_attention_flops(dep, 4, 2000, 0.0, 0.0)
    linear = 2 * (1_342_177_280 + 5_637_144_576) * 8000 + 2 * VH * 4
    assert one.flops_per_card == pytest.approx(linear + attn, rel=1e-12)
    assert a.lm_head_params == VH
    kv = 4 * 2000 * 131_072
    assert one.bytes_per_card == pytest.approx(BODY + VH + 8000 * 4_096 + kv + 8000 * 4_096 * 2 * 2 * 32, rel=1e-12)


def test_a_pipelined_prefill_pays_the_head_once_over_its_stages(roofline):
    """One pass through two stages: each stage pass carries half the head (its FLOPs for the
    prompts' last tokens and its weights), so the pass pays it once, as the one stage does."""
    one = perf.prefill_pass(make_dep("llama-3.1-8b", "h100", roofline, tp=1), 4, 2000)
    two = perf.prefill_pass(make_dep("llama-3.1-8b", "h100", roofline, tp=1, pp=2), 4, 2000)
    assert 2 * two.flops_per_card == pytest.approx(one.flops_per_card, rel=1e-12)
    assert two.bytes_per_card == pytest.approx(BODY / 2 + VH / 2 + 8000 * 4_096 / 2 + 4 * 2000 * 65_536
                                               + 8000 * 4_096 * 2 * 2 * 16, rel=1e-12)


def test_a_chunked_step_samples_its_decodes_and_the_prompts_its_chunk_ends(roofline):
    """Batch 8 beside a 1,024-token chunk of 2,048-token prompts: logits for 8 decodes and half a
    prompt, 2·V·h·8.5 FLOPs of head, where 1,032 tokens' were charged."""
    dep = make_dep("llama-3.1-8b", "h100", roofline, tp=1)
    a = dep.arch
    with_chunk = perf.mixed_step(dep, 8, 3000, 1024, 2048)
    attn = (8 * 3000 * a.attn_flops_per_pair(absorbed=True)
            + 1024 * a.prefill_keys_per_query(2048) * a.attn_flops_per_pair(absorbed=False)) * 32
    linear = 2 * (1_342_177_280 + 5_637_144_576) * 1032
    assert with_chunk.flops_per_card == pytest.approx(linear + 2 * VH * 8.5 + attn, rel=1e-12)
    decode = perf.decode_step(dep, 8, 3000)
    dec_attn = decode.flops_per_card - 2 * (1_342_177_280 + 5_637_144_576) * 8 - 2 * VH * 8
    assert dec_attn == pytest.approx(8 * 3000 * dep.arch.attn_flops_per_pair(absorbed=True) * 32, rel=1e-9)


def test_sliding_window_layers_keep_their_window(roofline):
    """gpt-oss-120b: 18 of 36 layers slide over 128 tokens. A 9,000-token sequence keeps
    (18 × 9,000 + 18 × 128) / 36 = 4,564 tokens' worth of its 73,728 B a token (BF16 KV), half of
    what it was charged; the largest batch on an H100 doubles."""
    dep = make_dep("gpt-oss-120b", "h100", roofline, tp=1)
    assert (dep.arch.sliding_layers, dep.arch.sliding_window, dep.arch.layers) == (18, 128, 36)
    assert kv_bytes_per_sequence(dep, 9000) == 4_564 * 73_728
    assert dep.arch.held_tokens(100) == 100   # within the window every layer keeps every token


def test_linear_attention_layers_keep_their_state_not_a_kv_cache(roofline):
    """Qwen3.5-397B on 8 H200 (TP8, BF16 KV): 15 full-attention layers of 60 keep the context
    (61,440 B a token over all 60 layers a card, a quarter of it) and the 45 Gated DeltaNet layers
    their state, 45 × (8 heads × 128 × 128 × 4 B + the convolution window) = 24,007,680 B a card.
    At 9,000 tokens: 138,240,000 + 24,007,680 B; was 552,960,000 B, the largest batch 49."""
    dep = make_dep("qwen3.5-397b-a17b", "h200", roofline, tp=8)
    assert (dep.arch.linear_layers, dep.arch.layers) == (45, 60)
    assert linear_state_bytes_per_sequence_per_card(dep) == 24_007_680
    assert kv_bytes_per_sequence(dep, 9000) == 9000 * 61_440 / 4 + 24_007_680
    assert perf.max_batch(dep, 9000) > 3 * 49


def test_a_wholly_cached_prompts_pass_computes_its_last_tokens_logits_at_one_row():
    """Every prompt token cached: the pass computes one token's logits. The head's GEMM ran at the
    pass's 0 rows, where the kernel curve's efficiency is 0: 658 s for a 1,000-token prompt."""
    from planner.catalog.calibration import load_calibration
    from planner.physics import batched
    dep = make_dep("llama-3.1-8b", "h100", load_calibration("default"), tp=1)
    one = perf.prefill_pass(dep, 1, 0.0, 1000.0)
    assert one.flops_per_card == 2 * VH
    assert one.time_s < 0.03
    arrays = batched.prefill_passes(dep, __import__("numpy").array([1.0, 4.0]), 0.0, 1000.0)
    assert arrays.time_s[0] == one.time_s and arrays.time_s[1] < 0.05
