"""Hostile input, ninth round (2026-12-06)."""

from __future__ import annotations

from pathlib import Path

import pytest

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
