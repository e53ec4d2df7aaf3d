"""Files a problem names — a model's config.json (or its folder), a calibration profile — are read
relative to the problem file, as its trace is, and from the current directory only when not
there (where they were read before). Run from another directory, a problem kept beside its
files solves the same; its JSON names the path the process opened."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml
from click.testing import CliRunner

import cli
from tests.test_hf_ids import LLAMA_8B

ROOT = Path(__file__).resolve().parent.parent
SMALL = yaml.safe_load((ROOT / "problems" / "small_model_cheap_card.yaml").read_text())


def run(*args) -> tuple[int, str]:
    """Exit code and output of `plan ARGS`: stdout alone when it succeeded (JSON), else both streams."""
    r = CliRunner().invoke(cli.main, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    assert "Traceback" not in r.output
    return r.exit_code, r.stdout if r.exit_code == 0 else r.output


def project(tmp_path: Path, model: str, calibration: str | None = None, fleet: bool = False) -> Path:
    """tmp_path/proj/p.yaml naming `model` (and `calibration`), with tmp_path/proj/llama/config.json
    and tmp_path/proj/mine.yaml (a copy of the default profile) beside it."""
    proj = tmp_path / "proj"
    (proj / "llama").mkdir(parents=True)
    (proj / "llama" / "config.json").write_text(json.dumps(LLAMA_8B))
    shutil.copy(ROOT / "catalogs" / "calibration" / "default.yaml", proj / "mine.yaml")
    d = {**SMALL, "gpus": ["h100"]}
    if fleet:
        w = d.pop("workload")
        slo = d.pop("slo")
        d.pop("model"), d.pop("precision")
        d["classes"] = [{"name": "chat", "model": model, "workload": w, "slo": slo}]
    else:
        d["model"] = model
    if calibration:
        d["calibration"] = calibration
    (proj / "p.yaml").write_text(yaml.safe_dump(d, sort_keys=False))
    return proj / "p.yaml"


def test_a_config_json_beside_the_problem_file(tmp_path, monkeypatch):
    path = project(tmp_path, "llama/config.json")
    monkeypatch.chdir(tmp_path)                      # not where the problem file is
    code, out = run("solve", "proj/p.yaml", "--json")
    assert code == 0, out
    plan = json.loads(out)
    assert plan["model_source"] == str(tmp_path / "proj" / "llama" / "config.json")   # absolute: see below
    assert plan["model"] == "llama"                  # the folder's name, as before
    code, again = run("solve", path, "--json")       # the same plan by an absolute path
    assert code == 0 and json.loads(again)["cost_per_hour"] == plan["cost_per_hour"] > 0, again


def test_a_folder_and_a_profile_beside_the_problem_file(tmp_path, monkeypatch):
    project(tmp_path, "./llama", calibration="mine.yaml")
    monkeypatch.chdir(tmp_path)
    code, out = run("solve", "proj/p.yaml", "--json")
    assert code == 0, out
    plan = json.loads(out)
    assert plan["model_source"] == str(tmp_path / "proj" / "llama")   # ./llama beside it
    assert plan["calibration_source"] == str(tmp_path / "proj" / "mine.yaml")


def test_a_fleet_class_reads_its_model_beside_the_fleet_file(tmp_path, monkeypatch):
    project(tmp_path, "llama/config.json", fleet=True)
    monkeypatch.chdir(tmp_path)
    code, out = run("solve", "proj/p.yaml", "--json")
    assert code == 0, out
    assert json.loads(out)["services"][0]["model_source"] == str(tmp_path / "proj" / "llama" / "config.json")


def test_the_current_directory_still_works(tmp_path, monkeypatch):
    path = project(tmp_path, "proj/llama/config.json")   # written relative to where plan runs
    monkeypatch.chdir(tmp_path)
    code, out = run("solve", path, "--json")
    assert code == 0, out
    assert json.loads(out)["model_source"] == str(tmp_path / "proj" / "llama" / "config.json")


def test_in_neither_place_names_both(tmp_path, monkeypatch):
    project(tmp_path, "nowhere/config.json")
    monkeypatch.chdir(tmp_path)
    code, out = run("solve", "proj/p.yaml")
    assert code == 2, out
    assert (f"proj/p.yaml: model: nowhere/config.json: file not found beside the problem file (proj) "
            f"nor in the current directory ({tmp_path})") in out, out
    project_2 = tmp_path / "two"
    project_2.mkdir()
    (project_2 / "p.yaml").write_text((tmp_path / "proj" / "p.yaml").read_text()
                                      .replace("model: nowhere/config.json", "model: llama-3.1-8b")
                                      + "calibration: gone.yaml\n")
    code, out = run("solve", "two/p.yaml")
    assert code == 2 and "two/p.yaml: calibration: gone.yaml: file not found beside the problem file" in out, out


def test_a_plan_reads_its_profile_and_model_from_any_directory(tmp_path, monkeypatch):
    """A plan recorded a profile or config.json by the path the solve opened, relative to where it
    ran: `plan simulate` from another directory failed ('unknown calibration profile'), or read
    another file of that name without a word (hostile-input hunt, 2026-12-04). Plans record them
    by absolute path."""
    project(tmp_path, "llama/config.json", calibration="mine.yaml")
    monkeypatch.chdir(tmp_path)
    code, out = run("solve", "proj/p.yaml", "--out", "proj/plan.json")
    assert code == 0, out
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "proj").mkdir()
    (elsewhere / "proj" / "mine.yaml").write_text("not: a profile\n")   # a decoy of the same relative name
    monkeypatch.chdir(elsewhere)
    code, out = run("simulate", str(tmp_path / "proj" / "plan.json"), "--requests", "20000")
    assert code == 0 and "Simulation of" in out, out


def test_a_bare_name_of_a_folder_beside_the_problem_says_how_to_read_it(tmp_path, monkeypatch):
    """`model: llama` is a catalog id (a bare name always was); from another directory it read
    'unknown model' without a word about the folder beside the problem file (a hunt)."""
    p = project(tmp_path, "llama")
    monkeypatch.chdir(tmp_path)
    code, out = run("solve", p)
    assert code == 2 and ("A folder 'llama' is beside the problem file: a bare name is a catalog id; write "
                          "model: ./llama to read its config.json") in out, out
    assert run("solve", project(tmp_path / "b", "./llama"))[0] == 0
