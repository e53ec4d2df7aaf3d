"""The longest request an exported engine admits (`planner.report.export.lengths`).

Oracles: the plan's own longest prompt plus longest answer, read from its distributions by hand;
the model's context as the cap; a day of per-period lengths left to the model's context with one
note. Without the flag vLLM took the model's whole context and refused to start where one such
sequence did not fit the KV cache (Llama-3.1-8B on one RTX 4090: 128K tokens, ~17 GB of KV)."""

from __future__ import annotations

import json
import warnings

import pytest

from planner.report.export import render
from tests.test_export import GOLDEN, commands, plan


def _longest(d: dict) -> int:
    w = d["workload"]
    return int(max(v for v, _ in w["input_distribution"]) + max(v for v, _ in w["output_distribution"]))


@pytest.mark.parametrize("engine, flag", [("vllm", "--max-model-len"), ("sglang", "--context-length"),
                                          ("trtllm", "--max_seq_len")])
def test_each_engine_admits_the_longest_request_the_plan_was_sized_for(engine, flag):
    d = plan("small_model_cheap_card")
    assert _longest(d) == 650 < 131072   # Llama-3.1-8B: 500-token prompts and 150-token answers at most
    cmds = commands(render(d, engine, model_path="/m"))
    assert cmds and all(cmd[cmd.index(flag) + 1] == "650" for argv in cmds.values() for cmd in argv
                        if cmd[:1] != ["ray"])


def test_a_longest_request_past_the_models_context_is_capped_at_it():
    """Lengths past Llama-3.1-8B's 131,072 tokens (the plan notes them): the engine takes the model's
    context, the longest it accepts from a user (vLLM refuses a --max-model-len above it)."""
    from types import SimpleNamespace

    from planner.report.export.lengths import longest_request
    w = SimpleNamespace(input_distribution=[[500.0, 0.999], [200000.0, 0.001]], input_tokens=699.5,
                        output_distribution=None, output_tokens=150.0)
    assert longest_request(SimpleNamespace(workload=w, model="llama-3.1-8b", model_source=None), "p") == 131072
    w.input_distribution = [[500.0, 1.0]]
    assert longest_request(SimpleNamespace(workload=w, model="llama-3.1-8b", model_source=None), "p") == 650


def test_a_day_admits_the_longest_request_of_any_of_its_hours():
    """deepseek_trace's hours have lengths of their own (a 16,000-token prompt at 22:00): the engines
    admit the longest of any hour (periods[].longest_tokens), not the peak hour's alone."""
    d = json.loads((GOLDEN / "deepseek_trace.json").read_text())
    hours = [p["longest_tokens"] for p in d["periods"]]
    assert max(hours) == 19286 > hours[21]   # period 22 holds the day's longest; 21 is the busiest
    files = render(d, "k8s", source="day.json")
    assert "- --max-model-len\n        - '19286'" in files["k8s.yaml"]


def test_a_day_plan_of_per_period_lengths_without_their_longest_leaves_the_context_and_says_so_once():
    """A day plan written before periods[].longest_tokens: its file states the peak's lengths alone,
    which bound no other hour's longest request: no flag, and one note for the service."""
    d = json.loads((GOLDEN / "deepseek_trace.json").read_text())
    for p in d["periods"]:
        del p["longest_tokens"]
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        files = render(d, "k8s", source="day.json")
    notes = [str(w.message) for w in got if "lengths of their own, and the plan file states" in str(w.message)]
    assert len(notes) == 1 and "--max-model-len not set" in notes[0] and "--max-model-len" not in files["k8s.yaml"]
    day = render(json.loads((GOLDEN / "deepseek_day.json").read_text()), "k8s", source="day.json")
    assert "--max-model-len" in day["k8s.yaml"]   # one length distribution for the day: the flag
