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
