"""Hostile input, eighth round (2026-12-06)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_hostile import SMALL  # the small problem of the first round
from tests.test_hostile_outputs import run, write

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_PLAN = ROOT / "tests" / "golden" / "solve" / "deepseek_qps.json"


@pytest.mark.parametrize("edit, message", [
    ({"remove": ["h100", "H100"]},
     "s.yaml: gpus.remove[1]: GPU 'H100' is removed already by gpus.remove[0]; name each GPU once"),
    ({"remove": ["h100"], "update": {"h100": {"max_cards": 8}}},
     "s.yaml: gpus.update.h100: GPU 'h100' is removed by gpus.remove[0]; update it or remove it, not both"),
    ({"remove": ["h100", "h999"]}, "s.yaml: gpus.remove[1]: GPU 'h999' is not in the base list (h100, h20)"),
])
def test_a_scenario_naming_a_removed_gpu_again_is_told_so(tmp_path, edit, message):
    """A GPU removed twice, or removed and updated, was 'not in the base list (h20)' of a base
    listing h100 and h20: the list shown was what the scenario's own removals had left."""
    base = write(tmp_path, {**SMALL, "gpus": ["h100", "h20"]})
    s = write(tmp_path, {"gpus": edit}, "s.yaml")
    code, out = run("whatif", base, s)
    assert code == 2 and message in out, out


@pytest.mark.parametrize("path", [" /models/x", "/models/x ", " meta-llama/Llama-3.1-8B "])
def test_export_refuses_a_model_path_with_spaces_at_its_ends(tmp_path, path):
    """`--model-path " /models/x"` was written quoted into the scripts and manifests, so the engine
    looked for a folder whose name begins with a space; a path of spaces alone was already refused."""
    code, out = run("export", GOLDEN_PLAN, "--target", "k8s", "--out", tmp_path / "x", "--model-path", path)
    assert code == 2, out
    assert f"--model-path {path!r}: begins or ends with a space, which the scripts and manifests would keep in " \
           f"the path the engine loads; write it without ({path.strip()!r})" in out, out
    assert not (tmp_path / "x").exists()


def test_export_keeps_a_model_path_with_a_space_inside(tmp_path):
    code, out = run("export", GOLDEN_PLAN, "--target", "vllm", "--out", tmp_path / "x", "--model-path", "/my models/x")
    assert code == 0, out
    assert "'/my models/x'" in "".join(p.read_text() for p in (tmp_path / "x").glob("*.sh"))


def _ms_trace(tmp_path: Path, fold: str | None) -> Path:
    """A day at 5 requests/s timed in milliseconds from 0, as a problem's trace."""
    rows = ["timestamp,input_tokens,output_tokens"] + [f"{i * 200},500,100" for i in range(432_001)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    trace = {"file": "t.csv", **({"fold": fold} if fold else {})}
    return write(tmp_path, {**SMALL, "workload": {"trace": trace}})


NOTE_MS = ("t.csv: its timestamps, read as seconds, span 1,000.0 days at 0.005 requests/s; if they are milliseconds, "
           "divide the column by 1,000 (as milliseconds they span 24 h at 5 requests/s)")


def test_a_trace_in_milliseconds_from_zero_is_noted(tmp_path):
    """Read as seconds, a day of milliseconds from 0 spans 1,000 days: folded onto a day it planned
    0.005 requests/s for a 5 requests/s service at exit 0 without a word, and unfolded its refusal
    (24,001 periods) advised the fold. The note says how it was read and what milliseconds would be."""
    code, out = run("solve", _ms_trace(tmp_path, "day"))
    assert code == 0 and NOTE_MS in out, out
    code, out = run("solve", _ms_trace(tmp_path, None))
    assert code == 2 and NOTE_MS in out and "the trace spans 24001 periods" in out, out


def test_a_day_of_seconds_says_nothing_of_milliseconds(tmp_path):
    rows = ["timestamp,input_tokens,output_tokens"] + [f"{i * 20},500,100" for i in range(4320)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    code, out = run("solve", write(tmp_path, {**SMALL, "workload": {"trace": {"file": "t.csv"}}}))
    assert code == 0 and "milliseconds" not in out, out


@pytest.mark.parametrize("ttft", [500, "2000", 100])
def test_a_bare_ttft_of_100_or_more_is_noted(tmp_path, ttft):
    """`ttft: 500` planned a first token within 500 s (8 minutes) without a word, where `tpot: 50`
    was noted: the value stands, and the note says how it was read."""
    p = write(tmp_path, {**SMALL, "slo": {"ttft": ttft, "tpot": "50ms"}})
    code, out = run("solve", p)
    assert code == 0, out
    assert f"p.yaml: slo.ttft: '{ttft}' is read as {ttft} s to the first token (a bare number is seconds); " \
           f"write {ttft}ms for milliseconds" in out, out


def test_a_bare_ttft_in_sweep_and_init_is_noted(tmp_path):
    code, out = run("sweep", write(tmp_path, SMALL), "--ttft", "500,2000", "--workers", "1", "--out", tmp_path / "s")
    assert code == 0 and "--ttft: '500' is read as 500 s to the first token" in out, out
    code, out = run("init", "--ttft", "800")
    assert code == 0 and "plan init: --ttft: '800' is read as 800 s to the first token" in out, out


@pytest.mark.parametrize("ttft", [2, "30", 99.9, "500ms", "2min"])
def test_a_ttft_in_seconds_or_with_its_unit_is_not_noted(tmp_path, ttft):
    code, out = run("solve", write(tmp_path, {**SMALL, "slo": {"ttft": ttft, "tpot": "50ms"}}))
    assert code == 0 and "to the first token" not in out, out


def test_a_span_past_ten_years_even_as_milliseconds_gets_no_advice_to_divide(tmp_path):
    """Timestamps ±1e308 apart are refused by their span; the milliseconds note said 'inf days at 0
    requests/s' before it."""
    (tmp_path / "t.csv").write_text("timestamp,input_tokens,output_tokens\n1e308,5,5\n-1e308,5,5\n")
    code, out = run("solve", write(tmp_path, {**SMALL, "workload": {"trace": {"file": "t.csv", "fold": "day"}}}))
    assert code == 2 and "more than 10 years" in out and "milliseconds" not in out, out
