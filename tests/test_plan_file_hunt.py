"""Hostile plan files and export directories (a hunt of 2026-12-05): a plan JSON edited by hand
reached the engine commands, the simulation's tables and the export's files, and `--force`
deleted a user's directory. Each case now exits 2 with one message naming the file and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli

ROOT = Path(__file__).resolve().parents[1]


def run(*args) -> tuple[int, str]:
    r = CliRunner().invoke(cli.main, [str(a) for a in args])
    assert "Traceback" not in r.output, r.output
    return r.exit_code, r.output


@pytest.fixture(scope="module")
def plan_data(tmp_path_factory) -> dict:
    """The plan of problems/small_model_cheap_card.yaml (llama-3.1-8b on RTX 4090s)."""
    out = tmp_path_factory.mktemp("plan") / "S.json"
    code, text = run("solve", ROOT / "problems" / "small_model_cheap_card.yaml", "--out", out)
    assert code == 0, text
    return json.loads(out.read_text(encoding="utf-8"))


def edited(tmp_path: Path, plan_data: dict, **changes) -> Path:
    """The plan with top-level keys changed, written as r.json."""
    p = tmp_path / "r.json"
    p.write_text(json.dumps({**plan_data, **changes}), encoding="utf-8")
    return p


# ------------------------------------------------------------------------ the model's name
@pytest.mark.parametrize("target", ["vllm", "sglang", "dynamo", "k8s"])
@pytest.mark.parametrize("model", ["--trust-remote-code", "llama 3.1"])
def test_model_is_no_engine_flag(tmp_path, plan_data, target, model):
    """A hunt found `model: --trust-remote-code` exported as `--served-model-name
    --trust-remote-code`: the plan's model became a flag of every engine command."""
    code, out = run("export", edited(tmp_path, plan_data, model=model), "--target", target, "--out", tmp_path / "o")
    assert code == 2, out
    assert "r.json: model: not a model name an engine serves (one word, not starting with '-')" in out
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("model", ["llama-9", "qwen3-32b"])
def test_model_is_the_model_of_its_source(tmp_path, plan_data, model):
    """A hunt found `model: llama-9` (or another catalog model) beside model_source llama-3.1-8b
    exported and simulated: the served name and load test named a model the plan was not for."""
    plan = edited(tmp_path, plan_data, model=model)
    why = (f"r.json: model: '{model}', but its model_source 'llama-3.1-8b' is model 'llama-3.1-8b'; "
           f"plan solve writes the model it planned")
    for args in (("export", plan, "--target", "vllm", "--out", tmp_path / "o"),
                 ("simulate", plan, "--requests", "2000")):
        code, out = run(*args)
        assert code == 2 and why in out, out


def test_model_source_is_no_engine_flag(tmp_path, plan_data):
    """A hunt found that `model_source`, the path the scripts load, may start with '-' too."""
    code, out = run("export", edited(tmp_path, plan_data, model_source="--trust-remote-code"), "--target", "vllm",
                    "--out", tmp_path / "o")
    assert code == 2 and "r.json: model_source: starts with '-', which the engines would read as a flag" in out
