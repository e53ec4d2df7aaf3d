"""Per-group calibration (plan calibrate/validate --group-by): each engine's profile recovers the
parameters its own synthetic points were made with; grouped cross-validation never lets a fit
(shared or per-group) see a held-out point; small groups fall back to the fold's shared fit."""

from dataclasses import replace

import numpy as np
import pytest

from planner.catalog.calibration import load_calibration
from planner.errors import BadInput
from planner.fidelity.crossval import check_group_by, cross_validate, fit_grouped, group_of
from planner.fidelity.fit import FitResult, calibration_from, fit
from planner.fidelity.measurements import Point, observations, predict
from planner.physics.perf import Parallelism

NAMES = ["compute_efficiency", "memory_efficiency", "layer_overhead_s"]
TRUTH = {"a": {"compute_efficiency": 0.55, "memory_efficiency": 0.7, "layer_overhead_s": 4e-5},
         "b": {"compute_efficiency": 0.35, "memory_efficiency": 0.9, "layer_overhead_s": 1e-5}}
DECODE = [("llama-3.1-70b", "h100", tp, b, isl) for tp in (2, 4, 8) for b in (1, 16, 256)
          for isl in (512, 4096)] + [("llama-3.1-8b", "h100", 1, b, 2048) for b in (1, 64, 512)]
PREFILL = [("llama-3.1-70b", "h100", tp, prompts, 2048) for tp in (4, 8) for prompts in (1, 8)]


def _points(engine: str, calib, configs, mode: str) -> list[Point]:
    """Points of `engine` whose 'measured' values are the model's predictions under `calib`."""
    q = "decode_tok_s_per_gpu" if mode == "decode" else "prefill_tok_s_per_gpu"
    out = []
    for i, (model, gpu, tp, batch, isl) in enumerate(configs):
        p = Point(id=f"{engine}-{mode}{i}", origin="synthetic", source="test", kind="measured",
                  model=model, gpu=gpu, engine=engine, engine_version="", weight_dtype="fp8",
                  kv_dtype="bf16", mode=mode, par=Parallelism(tp), isl=isl, osl=1,
                  concurrency=batch, batch=batch, prefill_prompts=batch,
                  group=f"{engine}-{mode}{i}")
        out.append(replace(p, measured={q: predict(p, q, calib)}))
    return out


def _engine_points(base, engine: str) -> list[Point]:
    truth = calibration_from(base, TRUTH[engine])
    return _points(engine, truth, DECODE, "decode") + _points(engine, truth, PREFILL, "prefill")


def _names_fit(points, base, **kw):
    """fit() restricted to NAMES (the parameters these dense single-node points pin)."""
    kw["names"] = NAMES
    return fit(points, base, **kw)


def test_per_engine_fit_recovers_each_engines_parameters():
    base = load_calibration("default")
    pts = _engine_points(base, "a") + _engine_points(base, "b")
    start = {"compute_efficiency": 0.9, "memory_efficiency": 0.9, "layer_overhead_s": 1e-6}
    shared = _names_fit(pts, base, start=start, max_evals=50)
    g = fit_grouped(pts, base, ("engine",), min_points=10, max_evals=50, fit_fn=_names_fit,
                    shared=shared, prior_weight=0.0)
    assert set(g.groups) == {"a", "b"}
    for engine, truth in TRUTH.items():
        for k, v in truth.items():
            assert g.groups[engine].values[k] == pytest.approx(v, rel=0.03), (engine, k)
        # each point is predicted by its own engine's profile, exactly
        for p in pts:
            if p.engine == engine:
                q, m = next(iter(p.measured.items()))
                assert predict(p, q, g.calibration_for(p)) == pytest.approx(m, rel=1e-3)
    # the shared fit cannot serve both engines: it is off on at least one
    assert np.max(np.abs(shared.residuals)) > 0.05


def test_grouped_cv_never_trains_on_a_held_out_point_and_small_groups_use_the_shared_fit():
    base = load_calibration("default")
    pts = _engine_points(base, "a") + _engine_points(base, "b")[:6]   # engine b: too few points
    calls: list[tuple[str, set[str]]] = []
    truth_a = calibration_from(base, TRUTH["a"])

    def spy(train, base_, **kw):
        """Record who trained on what; groups return engine a's truth, the shared fit the base."""
        engines = {p.engine for p in train}
        kind = "group" if kw.get("prior") is not None else "shared"
        calls.append((kind, {p.id for p in train}))
        cal = truth_a if kind == "group" else base
        assert kind == "shared" or len(engines) == 1
        return FitResult(cal, {}, np.zeros(0), len(train), len(train), 0, 0.0)

    cv = cross_validate(pts, base, k=4, fit_fn=spy, by=("engine",), min_points=8)
    ids_of_fold = [{pts[i].id for i in f} for f in cv.folds]
    # per fold: one shared fit, then one fit for engine a (engine b never has 8 training points)
    assert [k for k, _ in calls] == ["shared", "group"] * 4
    for f, held in enumerate(ids_of_fold):
        for _, trained in calls[2 * f:2 * f + 2]:
            assert not held & trained
    assert sorted(i for f in cv.folds for i in f) == list(range(len(pts)))
    # engine a's points are predicted by engine a's profile (the truth: exact), engine b's by the
    # fold's shared fit (the base profile here, so not exact)
    obs = observations(pts)
    meas = np.array([m for _, _, m in obs])
    is_a = np.array([pts[i].engine == "a" for i, _, _ in obs])
    assert np.allclose(cv.predicted[is_a], meas[is_a])
    assert not np.allclose(cv.predicted[~is_a], meas[~is_a])


def test_prior_keeps_a_group_at_the_shared_values_where_its_points_say_nothing():
    """Decode points of a single card cannot pin request_overhead_s (it only enters TTFT): the
    group fit keeps the shared value instead of wandering off."""
    base = load_calibration("default")
    truth = calibration_from(base, TRUTH["a"])
    pts = _points("a", truth, DECODE, "decode")
    shared = {"compute_efficiency": 0.5, "memory_efficiency": 0.75, "layer_overhead_s": 3e-5,
              "request_overhead_s": 0.08}
    res = fit(pts, base, names=[*NAMES, "request_overhead_s"], start=shared, prior=shared,
              prior_weight=0.3, max_evals=40)
    assert res.values["request_overhead_s"] == pytest.approx(0.08, rel=1e-3)
    assert res.values["memory_efficiency"] == pytest.approx(0.7, rel=0.05)
    assert len(res.residuals) == len(pts)        # prior terms are not reported as residuals


def test_group_labels_and_axes():
    base = load_calibration("default")
    p = _engine_points(base, "a")[0]
    assert group_of(p, ("engine",)) == "a"
    assert group_of(p, ("engine", "model")) == "a-llama-3.1-70b"
    assert check_group_by(["gpu", "engine"]) == ("gpu", "engine")
    for bad in (["backend"], ["engine", "engine"]):
        with pytest.raises(BadInput, match="--group-by"):
            check_group_by(bad)


def test_cli_group_by(tmp_path):
    """calibrate --group-by refuses before the fit when no group has enough points (public.yaml:
    3; until 2026-12-05 it fitted, said 'nothing written' and exited 0); validate --group-by
    reports the per-engine table; a wrong axis exits 2."""
    from click.testing import CliRunner

    import cli
    from planner.catalog.schemas import CATALOG_DIR
    public = str(CATALOG_DIR / "measurements" / "public.yaml")
    r = CliRunner()
    res = r.invoke(cli.main, ["calibrate", public, "--group-by", "engine", "--out", str(tmp_path),
                              "--folds", "0"])
    assert res.exit_code == 2, res.output
    assert "--group-by engine: a profile of its own needs 40 points in its group and none has them" in res.output
    assert not list(tmp_path.iterdir())
    res = r.invoke(cli.main, ["calibrate", public, "--group-by", "engine", "--out",
                              str(tmp_path / "x.yaml"), "--folds", "0"])
    assert res.exit_code == 2 and "directory" in res.output
    res = r.invoke(cli.main, ["validate", public, "--group-by", "engine", "--folds", "2"])
    assert res.exit_code == 0, res.output
    assert "per-engine profiles" in res.output and "deepseek-in-house" in res.output
    res = r.invoke(cli.main, ["validate", public, "--group-by", "backend", "--folds", "0"])
    assert res.exit_code == 2 and "--group-by backend" in res.output


def vllm_runs(tmp_path):
    """A silicon CSV of the shipped subset's first 45 vLLM rows: one group of enough points."""
    import csv
    rows = [r for r in csv.DictReader(open("catalogs/measurements/silicon_sample_subset.csv"))
            if r["backend"] == "vllm"][:45]
    data = tmp_path / "runs.csv"
    with data.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return data


def test_group_by_refuses_a_users_file_in_out_before_the_fit(tmp_path, monkeypatch):
    """A file of the user's named as a group's profile (vllm.yaml) was refused only after the whole
    fit (15 s on 60 points, minutes on the shipped data); it is refused before fitting."""

    import pytest

    from planner.errors import BadInput
    from planner.fidelity import validate
    data = vllm_runs(tmp_path)
    out = tmp_path / "profiles"
    out.mkdir()
    (out / "vllm.yaml").write_text("my notes\n")
    monkeypatch.setattr(validate, "fit", lambda *a, **k: pytest.fail("fitted before refusing"))
    with pytest.raises(BadInput, match=r"vllm.yaml: exists and is not an output of plan"):
        validate.run_calibrate([str(data)], str(out), folds=0, group_by=("engine",))
    assert (out / "vllm.yaml").read_text() == "my notes\n"


def test_validate_group_by_reads_the_group_profiles_calibrate_wrote(tmp_path):
    """`calibrate --group-by engine --out DIR` wrote DIR/vllm.yaml, which `validate --group-by
    engine` never read: it predicted with the shipped vllm profile while its table said 'vllm'.
    `--profiles DIR` reads them (the table names each by its path), as --calibration DIR/vllm.yaml
    would for one engine."""

    from click.testing import CliRunner

    import cli
    from planner.fidelity.validate import run_validate
    data = vllm_runs(tmp_path)
    out = tmp_path / "profiles"
    out.mkdir()
    r = CliRunner().invoke(cli.main, ["calibrate", str(data), "--group-by", "engine", "--out", str(out),
                                      "--folds", "0"])
    assert r.exit_code == 0 and (out / "vllm.yaml").exists(), r.output
    mine = run_validate([str(data)], folds=0, group_by=("engine",), profiles=str(out))
    alone = run_validate([str(data)], str(out / "vllm.yaml"), folds=0)
    shipped = run_validate([str(data)], folds=0, group_by=("engine",))
    assert [x.predicted for x in mine.rows] == [x.predicted for x in alone.rows]
    assert [x.predicted for x in mine.rows] != [x.predicted for x in shipped.rows]
    assert mine.profiles == {"vllm": str(out / "vllm.yaml")} and shipped.profiles == {"vllm": "vllm"}
    r = CliRunner().invoke(cli.main, ["validate", str(data), "--profiles", str(out), "--folds", "0"])
    assert r.exit_code == 2 and "--profiles" in r.output and "needs --group-by" in r.output
    # a directory without the group's profile (a mistyped one, an empty one) predicts with the
    # --calibration profile, and says so (a hunt, 2026-12-05: silent, the table's 'vllm: default' alone)
    empty = tmp_path / "empty"
    empty.mkdir()
    import pytest

    from planner.errors import PlannerNotice
    with pytest.warns(PlannerNotice, match=r"--profiles .*empty: no profile vllm\.yaml there; that group is "
                                           r"predicted with default"):
        none = run_validate([str(data)], folds=0, group_by=("engine",), profiles=str(empty))
    assert none.profiles == {"vllm": "default"}


def test_calibrate_says_how_long_a_fit_of_many_points_takes(tmp_path, monkeypatch):
    """A user's 60,000-row CSV fitted for minutes without a word (only the shipped measurements were
    announced); past LONG_FIT_POINTS the fit says how long it takes, before it starts."""
    import pytest

    from planner.errors import PlannerNotice
    from planner.fidelity import validate
    data = vllm_runs(tmp_path)
    monkeypatch.setattr(validate, "LONG_FIT_POINTS", 10)
    monkeypatch.setattr(validate, "fit", lambda *a, **k: pytest.fail("stop after the note"))
    with pytest.warns(PlannerNotice, match=r"calibrate: \d+ points: the fit takes about 1 min on 2 cores \(the "
                                           r"shipped 2,138 take two\), then each of 5 folds as long again"):
        with pytest.raises(pytest.fail.Exception):
            validate.run_calibrate([str(data)], str(tmp_path / "p.yaml"), folds=5)
