"""Calibration: recovers known parameters from synthetic points made by the model itself;
cross-validation never trains on the point it predicts; the CLI reports the median error."""

from dataclasses import replace

import numpy as np
import pytest

from planner.catalog.calibration import load_calibration
from planner.fidelity.crossval import cross_validate, cv_folds, rows, summarise
from planner.fidelity.fit import FitResult, calibration_from, fit
from planner.fidelity.measurements import Point, observations, predict
from planner.physics.perf import Parallelism

TRUE = {"compute_efficiency": 0.55, "memory_efficiency": 0.7, "layer_overhead_s": 4e-5}


def _synthetic(calib, configs, mode="decode"):
    """Points whose 'measured' values are the model's own predictions under `calib`."""
    q = "decode_tok_s_per_gpu" if mode == "decode" else "prefill_tok_s_per_gpu"
    pts = []
    for i, (model, gpu, tp, batch, isl) in enumerate(configs):
        p = Point(id=f"{mode}{i}", origin="synthetic", source="test", kind="measured", model=model,
                  gpu=gpu, engine="x", engine_version="", weight_dtype="fp8", kv_dtype="bf16",
                  mode=mode, par=Parallelism(tp), isl=isl, osl=1, concurrency=batch,
                  batch=batch, prefill_prompts=batch, group=f"{mode}{i}")
        pts.append(replace(p, measured={q: predict(p, q, calib)}))
    return pts


# dense decode from memory-bound (small batch) to compute-bound (large batch, long prompt)
CONFIGS = [("llama-3.1-70b", "h100", tp, b, isl) for tp in (2, 4, 8) for b in (1, 16, 256)
           for isl in (512, 4096)] + [("llama-3.1-8b", "h100", 1, b, 2048) for b in (1, 64, 512)]
PREFILL = [("llama-3.1-70b", "h100", tp, prompts, 2048) for tp in (4, 8) for prompts in (1, 8)]
NAMES = list(TRUE)


def test_fit_recovers_known_parameters():
    base = load_calibration("default")
    truth = calibration_from(base, TRUE)
    # decode points pin memory efficiency and overheads; prefill points pin compute efficiency
    pts = _synthetic(truth, CONFIGS) + _synthetic(truth, PREFILL, mode="prefill")
    start = {"compute_efficiency": 0.9, "memory_efficiency": 0.9, "layer_overhead_s": 1e-6}
    res = fit(pts, base, start=start, names=NAMES, max_evals=50)
    for k, v in TRUE.items():
        assert res.values[k] == pytest.approx(v, rel=0.03), k
    assert np.max(np.abs(res.residuals)) < 1e-3


def test_cross_validation_never_trains_on_the_held_out_point():
    base = load_calibration("default")
    pts = _synthetic(calibration_from(base, TRUE), CONFIGS[:10])
    seen_training: list[set[str]] = []

    def spy(train, base, **kw):
        """Record the training ids and return the truth (no fitting needed to check the split)."""
        seen_training.append({p.id for p in train})
        return FitResult(calibration_from(base, TRUE), TRUE, np.zeros(0), len(train), len(train), 0, 0.0)

    cv = cross_validate(pts, base, k=5, fit_fn=spy)
    assert len(seen_training) == 5
    for held, train_ids, train_idx in zip(cv.folds, seen_training, cv.train_sets):
        for i in held:
            assert pts[i].id not in train_ids and i not in train_idx
    # each point is held out exactly once
    assert sorted(i for f in cv.folds for i in f) == list(range(len(pts)))
    # predictions by the (true) fold calibration are exact
    meas = np.array([m for _, _, m in observations(pts)])
    assert np.allclose(cv.predicted, meas)


def test_folds_keep_a_configuration_together():
    base = load_calibration("default")
    pts = _synthetic(base, CONFIGS[:6])
    pts = [replace(p, group="same" if i < 3 else p.group) for i, p in enumerate(pts)]
    folds = cv_folds(pts, 3)
    assert any({0, 1, 2} <= set(f) for f in folds)


def test_summary_reports_median_of_absolute_errors():
    base = load_calibration("default")
    pts = _synthetic(base, CONFIGS[:3])
    pts = [replace(p, measured={"decode_tok_s_per_gpu": p.measured["decode_tok_s_per_gpu"] * f})
           for p, f in zip(pts, (1 / 1.1, 1 / 0.8, 1.0))]
    (s, _) = summarise(rows(pts, base))
    assert s.median_abs == pytest.approx(0.1) and s.max_abs == pytest.approx(0.2)


def test_profile_is_valid_and_fitted_default_is_physical():
    cal = load_calibration("default")
    assert 0 < cal.v("compute_efficiency") <= 1 and 0 < cal.v("memory_efficiency") <= 1
    assert "fit to catalogs/measurements" in cal.compute_efficiency.source


def test_import_planner_stays_light():
    import subprocess
    import sys
    code = ("import sys, planner.fidelity.fit, planner.fidelity.crossval, planner.fidelity.profile, "
            "planner.fidelity.measurements, planner.fidelity.validate, planner.report.fidelity, "
            "cli; print([m for m in ('scipy', 'matplotlib', 'dask') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_validate_prints_the_median_error(tmp_path):
    """`plan validate` on the public points (few, fast) with 2-fold CV: exit 0, median error shown."""
    from click.testing import CliRunner

    import cli
    from planner.catalog.schemas import CATALOG_DIR
    plot = tmp_path / "parity.png"
    res = CliRunner().invoke(cli.main, ["validate", str(CATALOG_DIR / "measurements" / "public.yaml"),
                                        "--folds", "2", "--out-plot", str(plot)])
    assert res.exit_code == 0, res.output
    assert "median |error|" in res.output and "cross-validated (2-fold)" in res.output
    assert plot.stat().st_size > 1000
    assert f"wrote {plot}" in res.stderr      # the plot is announced, as every written file is


def test_cli_calibrate_refuses_to_overwrite_its_base_profile():
    from click.testing import CliRunner

    import cli
    from planner.catalog.schemas import CATALOG_DIR
    res = CliRunner().invoke(cli.main, ["calibrate", str(CATALOG_DIR / "measurements" / "public.yaml"),
                                        "--out", str(CATALOG_DIR / "calibration" / "default.yaml")])
    assert res.exit_code == 2


def test_a_problem_file_given_as_measurements_is_one_line(tmp_path):
    """A problem file given to plan validate (or calibrate) gave five lines: 'points: required field
    is missing' and an 'unknown key' per key (hostile-input hunt, 2026-12-04). One line now says
    what it is, as plan whatif does for a problem given as a scenario."""
    from click.testing import CliRunner

    import cli
    r = CliRunner().invoke(cli.main, ["validate", "problems/deepseek_qps.yaml"])
    assert r.exit_code == 2 and r.output.count("\n") == 1, r.output
    assert "deepseek_qps.yaml: a problem file (model:), given as measurements" in r.output


def test_validate_of_the_shipped_measurements_says_it_takes_minutes(monkeypatch):
    """`plan validate` with no argument cross-validates the 2,138 shipped points (minutes on 2
    cores) and printed nothing until done: a new user took it for a hang (first-hour hunt,
    2026-12-04). It says so on stderr before the work; with --folds 0 (seconds) it does not."""
    from click.testing import CliRunner

    import cli
    from planner.errors import BadInput
    from planner.fidelity import validate

    def stop(*args, **kwargs):
        raise BadInput("stopped before the work")
    monkeypatch.setattr(validate, "run_validate", stop)
    r = CliRunner().invoke(cli.main, ["validate"])
    assert r.exit_code == 2
    lines = r.output.splitlines()
    assert lines[0].startswith("validate: the shipped measurements, 5-fold cross-validation: every fold refits")
    assert "stopped before the work" in lines[-1]
    r = CliRunner().invoke(cli.main, ["validate", "--folds", "0"])
    assert r.exit_code == 2 and "validate: the shipped" not in r.output


def test_calibrate_of_the_shipped_measurements_says_it_takes_minutes(monkeypatch, tmp_path):
    """`plan calibrate --out X.yaml` fits the shipped points (about two minutes, each fold as long
    again) and printed nothing until done: killed at 300 s with empty output in a first-hour
    walkthrough (2026-12-05). It says so on stderr first; on one's own runs (seconds) it does not."""
    from click.testing import CliRunner

    import cli
    from planner.errors import BadInput
    from planner.fidelity import validate

    def stop(*args, **kwargs):
        raise BadInput("stopped before the work")
    monkeypatch.setattr(validate, "run_calibrate", stop)
    out = str(tmp_path / "mine.yaml")
    r = CliRunner().invoke(cli.main, ["calibrate", "--out", out])
    assert r.exit_code == 2
    lines = r.output.splitlines()
    assert lines[0] == ("calibrate: the shipped measurements: the fit takes about two minutes on 2 cores, then each "
                        "of 5 cross-validation folds as long again (--folds 0: the fit alone)")
    assert "stopped before the work" in lines[-1]
    r = CliRunner().invoke(cli.main, ["calibrate", "--out", out, "--folds", "0"])
    assert r.output.splitlines()[0] == ("calibrate: the shipped measurements: the fit takes about two minutes "
                                        "on 2 cores (--folds 0: the fit alone)")
    mine = tmp_path / "runs.csv"
    mine.write_text("x\n")
    r = CliRunner().invoke(cli.main, ["calibrate", str(mine), "--out", out])
    assert "calibrate: the shipped" not in r.output


def test_a_profile_name_that_is_a_pipe_or_a_directory_is_said_so(tmp_path, monkeypatch):
    """`--calibration ff` with catalogs/calibration/ff.yaml a pipe said 'unknown calibration profile
    'ff'; available: default, ff, …' (a hunt): its path is named as not a regular file, and the
    list of profiles holds regular files only."""
    import os

    from planner.catalog.calibration import load_calibration
    from planner.errors import BadInput
    monkeypatch.chdir(tmp_path)
    here = tmp_path / "catalogs" / "calibration"
    here.mkdir(parents=True)
    os.mkfifo(here / "ff.yaml")
    (here / "dirprof.yaml").mkdir()
    for name in ("ff", "dirprof"):
        with pytest.raises(BadInput, match=rf"{name}.yaml: not a regular file \(a directory, pipe or device\)"):
            load_calibration(name)
    with pytest.raises(BadInput, match=r"unknown calibration profile 'nope'; available: default, roofline, sglang, "
                                       r"trtllm, vllm \("):
        load_calibration("nope")
