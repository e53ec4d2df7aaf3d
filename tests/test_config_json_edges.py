"""config.json edges a hunt found (2026-12-04, twenty-second session): hybrid layers whose head
fields are missing, the hybrid Qwen families' layer pattern left to `full_attention_interval`, and
a `quantization_config` the model does not read."""

from __future__ import annotations

import json
import warnings

import pytest
from click.testing import CliRunner

from cli import main
from planner.catalog.config_json import LINEAR_FIELDS, layer_types_of
from planner.catalog.schemas import model_from_config_json
from planner.errors import BadInput, PlannerNotice

BASE = {"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 4, "num_attention_heads": 32,
        "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256}
LINEAR = {"linear_num_key_heads": 16, "linear_num_value_heads": 16, "linear_key_head_dim": 128,
          "linear_value_head_dim": 128}


def _write(tmp_path, cfg: dict, name: str = "m"):
    d = tmp_path / name
    d.mkdir()
    (d / "config.json").write_text(json.dumps(cfg))
    return d / "config.json"


@pytest.mark.parametrize("field", LINEAR_FIELDS)
@pytest.mark.parametrize("how", ["missing", "null"])
def test_linear_layers_name_each_missing_head_field(tmp_path, field, how):
    """Was exit 5 (KeyError: 'linear_num_key_heads'); now exit 2 naming the field."""
    cfg = {**BASE, **LINEAR, "layer_types": ["linear_attention", "full_attention"] * 2}
    if how == "missing":
        del cfg[field]
    else:
        cfg[field] = None
    p = _write(tmp_path, cfg)
    with pytest.raises(BadInput, match=f"{field}: required for its 2 linear_attention layers"):
        model_from_config_json(p)
    r = CliRunner().invoke(main, ["eval", "--model", str(p), "--gpu", "h100", "--cards", "1"])
    assert r.exit_code == 2 and field in r.output and "Traceback" not in r.output


def test_the_hybrid_pattern_from_full_attention_interval_as_transformers_derives_it(tmp_path):
    """Qwen3-Next's public config.json gives `full_attention_interval: 4` and no `layer_types`:
    layer i is full attention when (i + 1) % 4 == 0 (transformers' Qwen3NextConfig), so 48 layers
    hold 12 full and 36 linear. It was read as 48 full-attention layers; now the model is the same
    as the config that spells the layers out."""
    assert layer_types_of({"model_type": "qwen3_next"}, 8) == ["linear_attention"] * 3 + ["full_attention"] + \
        ["linear_attention"] * 3 + ["full_attention"]
    assert layer_types_of({"model_type": "qwen3_next", "full_attention_interval": 2}, 4) == \
        ["linear_attention", "full_attention"] * 2
    assert layer_types_of({"model_type": "mistral"}, 4) == []   # other families: no pattern guessed
    by_interval = model_from_config_json(_write(tmp_path, {**BASE, **LINEAR, "model_type": "qwen3_next",
                                                           "num_hidden_layers": 48}, "a")).arch
    spelled = model_from_config_json(_write(tmp_path, {**BASE, **LINEAR, "model_type": "qwen3_next",
                                                       "num_hidden_layers": 48,
                                                       "layer_types": layer_types_of({"model_type": "qwen3_next"},
                                                                                     48)}, "b")).arch
    assert by_interval.linear_layers == 36 and by_interval == spelled


@pytest.mark.parametrize("q", [{"quant_method": "gptq", "bits": 3}, {"quant_method": "nosuch"},
                               {"quant_method": "awq", "bits": 4.7}, "x"])
def test_a_quantization_config_not_read_is_said_once(tmp_path, q):
    """A 3-bit GPTQ checkpoint (or a declaration the model does not read) was planned at BF16 in
    silence; the weights stay at the checkpoint dtype (nothing is guessed) and a note says so, once
    however often the model is read, naming the knob that plans another precision."""
    p = _write(tmp_path, {**BASE, "quantization_config": q})
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        m = model_from_config_json(p)
        model_from_config_json(p)
    notes = [str(w.message) for w in got if issubclass(w.category, PlannerNotice)]
    assert m.weight_dtype == "bf16"
    assert len(notes) == 1 and "not recognised" in notes[0] and "precision.weights" in notes[0]


def test_modules_to_not_convert_written_as_one_string(tmp_path):
    """`modules_to_not_convert: "self_attn"` (one module without its list) keeps attention out of
    the FP8 weights as the list form does."""
    cfg = {**BASE, "quantization_config": {"quant_method": "fp8", "modules_to_not_convert": "self_attn"}}
    listed = {**BASE, "quantization_config": {"quant_method": "fp8", "modules_to_not_convert": ["self_attn"]}}
    one = model_from_config_json(_write(tmp_path, cfg, "a"))
    many = model_from_config_json(_write(tmp_path, listed, "b"))
    assert (one.weight_dtype, one.part_dtypes) == (many.weight_dtype, many.part_dtypes)
    assert one.weight_dtype == "bf16"


@pytest.mark.parametrize("layers, interval", [(48, 4), (7, 2), (5, 5), (3, 4), (64, 1)])
def test_the_layer_count_by_arithmetic_is_the_patterns(layers, interval):
    """The model counts linear layers as layers − ⌊layers/interval⌋ without listing them (a
    config.json of 10⁹ layers built a list of 10⁹ strings: minutes and gigabytes, a hunt)."""
    from planner.catalog.config_json import _layer_kind_counts
    cfg = {"model_type": "qwen3_next", "full_attention_interval": interval}
    listed = layer_types_of(cfg, layers)
    assert _layer_kind_counts(cfg, layers) == (0, sum(t == "linear_attention" for t in listed))
    assert _layer_kind_counts({"model_type": "qwen3_next", "full_attention_interval": interval}, 10**9)[1] == \
        10**9 - 10**9 // interval


@pytest.mark.parametrize("file", ["config.json", "m5.json"])
def test_a_bare_config_beside_the_problem_is_named_as_simulate_and_export_name_it(tmp_path, monkeypatch, file):
    """A hunt (2026-12-07): `model: config.json` in a problem run from its own folder was named after the
    file ('config'), but the plan's model_source is the absolute path, which names the model after its
    folder, so `plan simulate` and `plan export` refused the plan solve had just written (exit 2, 'model:
    'config', but its model_source … is model 'z''). A config is now named after its folder either way."""
    z = tmp_path / "z"
    z.mkdir()
    (z / file).write_text(json.dumps({**BASE, "num_hidden_layers": 32}))
    (z / "p.yaml").write_text(f"model: {file}\nworkload: {{qps: 10, input_tokens: 500, output_tokens: 150}}\n"
                              "slo: {ttft: 500ms, tpot: 30ms}\ngpus: [h100]\n")
    monkeypatch.chdir(z)
    assert model_from_config_json(file).id == model_from_config_json(z / file).id == "z"
    r = CliRunner().invoke(main, ["solve", "p.yaml", "--out", "o.json"])
    assert r.exit_code == 0, r.output
    assert json.loads((z / "o.json").read_text())["model"] == "z"
    r = CliRunner().invoke(main, ["export", "o.json", "--target", "vllm", "--out", "x"])
    assert r.exit_code == 0, r.output


def test_slots_stop_where_a_plan_file_reads_them(tmp_path):
    """A hunt (2026-12-07): linear-attention layers of one head of one dimension hold almost no state per
    sequence, so an RTX 4090 claimed 64,234,349 slots; plan solve wrote them, and `--simulate` and
    `--export` refused its own plan (`pools[1].slots: … less than or equal to 10000000`, exit 2). Slots
    now stop at the plan file's domain, and the plan simulates."""
    from planner.physics.deployment import MAX_SLOTS
    from planner.studies.simulate.planfile import MAX_BATCH
    assert MAX_SLOTS == MAX_BATCH == 10_000_000
    cfg = {**BASE, "num_hidden_layers": 32, "layer_types": ["linear_attention"] * 32, "linear_conv_kernel_dim": 1,
           **{k: 1 for k in LINEAR_FIELDS}}
    p = _write(tmp_path, cfg)
    problem = tmp_path / "p.yaml"
    problem.write_text(f"model: {p}\nworkload: {{qps: 100, input_tokens: 500, output_tokens: 150}}\n"
                       "slo: {ttft: 500ms, tpot: 30ms}\ngpus: [rtx4090]\n")
    out = tmp_path / "o.json"
    r = CliRunner().invoke(main, ["solve", str(problem), "--out", str(out)])
    assert r.exit_code == 0, r.output
    slots = [pool["slots"] for pool in json.loads(out.read_text())["pools"] if pool.get("slots")]
    assert slots and max(slots) == MAX_SLOTS
    r = CliRunner().invoke(main, ["export", str(out), "--target", "vllm", "--out", str(tmp_path / "x")])
    assert r.exit_code == 0, r.output
