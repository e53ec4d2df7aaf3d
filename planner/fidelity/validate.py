"""The studies behind `plan calibrate` and `plan validate`: load points, fit or evaluate.

`run_calibrate` fits, cross-validates and writes the profile(s), returning a `Calibrated`;
`run_validate` predicts every measured point and returns a `Validation`. Errors are relative
errors as fractions; planner.report.fidelity renders both (text, JSON, the parity plot). The
click commands in `cli.py` parse arguments, call these, and render. SciPy is imported inside
`fit.fit`.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from planner.catalog.calibration import Calibration, is_profile_data, load_calibration
from planner.catalog.schemas import CATALOG_DIR
from planner.errors import BadInput, shown_text
from planner.fidelity.crossval import (
    MIN_GROUP_POINTS,
    CVResult,
    Row,
    Summary,
    check_group_by,
    cross_validate,
    fit_grouped,
    group_of,
    rows,
    summarise,
)
from planner.fidelity.fit import FitResult, fit, free_params, param_value, ttft_families, without_families
from planner.fidelity.measurements import LoadReport, default_measurement_files, load_points
from planner.fidelity.points import Point
from planner.fidelity.profile import profile_yaml
from planner.input.files import atomic_write, check_out_dir, check_set, check_writable, read_yaml, write_set
from planner.input.owned import check_named
from planner.input.values import one_line_name
from planner.input.yamltext import YAML_SUFFIXES, is_yaml_name


@dataclass(frozen=True)
class Validation:
    """Everything `plan validate` reports."""

    calibration: str
    files: list[str]
    load: LoadReport
    rows: list[Row]
    summary: list[Summary]
    cv_folds: int
    seconds: float
    group_by: tuple[str, ...] = ()
    profiles: dict[str, str] | None = None   # group label → profile that predicts its points
    calib_of: Callable[[Point], Calibration] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class GroupProfile:
    """One profile written by `plan calibrate --group-by`: its fit, the cross-validated summary
    over its group's points, and the file written."""

    fit: FitResult
    summary: list[Summary]
    path: str


@dataclass(frozen=True)
class Calibrated:
    """Everything `plan calibrate` reports."""

    fit: FitResult              # the shared fit
    summary: list[Summary]      # over all points, each predicted by its group's profile
    load: LoadReport
    out: str                    # --out as given: the profile, or with --group-by its directory
    groups: dict[str, GroupProfile] | None = None   # label → written profile; None: no --group-by


def _files(paths: tuple[str, ...] | list[str]) -> list[str]:
    """Given measurement files, or the catalog's when none are given."""
    return [str(p) for p in (paths or default_measurement_files())]


def _check_folds(points: list, folds: int, files: list[str]) -> None:
    """Cross-validation holds out whole configurations (crossval.cv_folds): with every point from
    one configuration, a fold would train on nothing. BadInput saying so, instead of the fit's
    'no measured points' (naming the files read)."""
    groups = {p.group for p in points}
    if folds > 1 and len(groups) == 1 and points:
        raise BadInput(f"{', '.join(files)}: {len(points)} point(s), all from one configuration "
                       f"({next(iter(groups))}): "
                       f"cross-validation holds out whole configurations and needs at least two; "
                       f"add --folds 0, or measure another configuration too")


LONG_FIT_POINTS = 1000   # a user's measurements past which calibrate says how long its fit takes


def run_calibrate(paths: list[str], out: str, base_name: str = "default", name: str | None = None,
                  folds: int = 5, group_by: tuple[str, ...] = (), force: bool = False,
                  deployment: str | None = None) -> Calibrated:
    """Fit to `paths`, cross-validate, and write the profile to `out` (never over an input).

    With `group_by` (e.g. ("engine",)), `out` is a directory and one profile per group with
    enough points is written there as LABEL.yaml (e.g. sglang.yaml); the shared fit is not
    written, and `groups` of the result lists the profiles written. `deployment`: the YAML
    saying what benchmark-tool files measured (bench_files.BenchDeployment)."""
    files = _files(paths)
    by = check_group_by(group_by) if group_by else ()
    out_p = Path(out)
    if by:
        if not out_p.is_dir():
            why = "is a file" if out_p.exists() else "does not exist"
            raise BadInput(f"--out {out}: {why}; with --group-by, --out is the directory the profiles go to "
                           f"(an existing one)")
    else:   # '.yaml' alone is a hidden file without a suffix: told "must be a .yaml file"
        check_named("--out", out, YAML_SUFFIXES, "the profile's file is NAME{name}, and NAME becomes the "
                    "profile's name")
        if is_yaml_name(out_p) and out_p.suffix not in YAML_SUFFIXES:
            raise BadInput(f"--out {out}: write the suffix {out_p.suffix.lower()} in lower case: a problem names a "
                           f"profile by its name, found as NAME.yaml (or give --calibration the file's path)")
        if out_p.suffix not in YAML_SUFFIXES:
            raise BadInput(f"--out {out}: the profile must be a .yaml file")
    base_file = Path(base_name) if is_yaml_name(base_name) else \
        Path(CATALOG_DIR / "calibration" / f"{base_name}.yaml")
    protect = (*files, base_file, *([deployment] if deployment else []))
    (check_out_dir if by else check_writable)(out_p, protect, force, catalog=PROFILES)
    if not by and not force and out_p.is_file() and not _is_profile(out_p):
        raise BadInput(f"--out {out}: exists and is not a calibration profile; refusing to overwrite it "
                       f"(add --force to replace it)")
    if not by and not name:   # the file name becomes the profile's name, printed in every plan
        try:
            one_line_name(out_p.stem)
        except ValueError as e:
            raise BadInput(f"--out {out!r}: the file name becomes the profile's name; {e}") from None
        if not SAFE_LABEL.fullmatch(out_p.stem):   # held to --name's rule: '-.yaml' named a profile '-'
            raise BadInput(f"--out {out!r}: the file name becomes the profile's name, {out_p.stem!r}, which no "
                           f"problem can name (calibration: NAME): letters, digits and '.', '_', '+', '-', starting "
                           f"with a letter or digit; rename the file or give --name")
    shipped = CATALOG_DIR / "calibration" / f"{name or out_p.stem}.yaml"
    if not by and shipped.exists() and out_p.resolve() != shipped.resolve():
        raise BadInput(f"--name {name or out_p.stem}: the name of a shipped profile ({shipped.name}); plans made with "
                       f"this fit would print it as that one: give it a name of its own (--name)")
    if not by and name and name != out_p.stem and out_p.parent.resolve() in (
            (CATALOG_DIR / "calibration").resolve(), (Path.cwd() / "catalogs" / "calibration").resolve()):
        raise BadInput(f"--name {name}: the profile goes to {out}, where problems name it by its file "
                       f"(calibration: {out_p.stem}) and a profile's name must be its file's; drop --name, "
                       f"or write --out {out_p.with_name(name + out_p.suffix)}")
    points, report = load_points(files, deployment)
    if not points:   # the fit's own message pointed to a summary no one printed
        raise BadInput(f"{', '.join(files)}: no measured point to fit ("
                       + "; ".join(line.strip() for line in report.lines()) + ")")
    _check_folds(points, folds, files)
    if paths and len(points) >= LONG_FIT_POINTS:   # 60,000 rows fitted for minutes without a word
        import warnings

        from planner.errors import PlannerNotice
        then = f", then each of {folds} folds as long again" if folds > 1 else ""
        warnings.warn(f"calibrate: {len(points):,} points: the fit takes about {max(1, round(len(points) / 1000))} "
                      f"min on 2 cores (the shipped 2,138 take two){then}", PlannerNotice, stacklevel=2)
    if by:
        _check_labels(points, by)
        _check_group_sizes(points, by)
        sizes = Counter(group_of(p, by) for p in points)   # the profiles the fit will write: checked now,
        check_set(out_p, tuple(f"{k}.yaml" for k, n in sorted(sizes.items()) if n >= MIN_GROUP_POINTS),
                  protect, force, PROFILES)   # not refused after minutes of fitting
    base_full = load_calibration(base_name)
    base = without_families(base_full)
    result = fit(points, base)
    kept = _unmeasured_families(base_full, points) if paths else base
    grouped = fit_grouped(points, base, by, shared=result) if by else None
    # each fold starts from the base, which saw none of its points (started at the fit to all points,
    # four points in two folds read 15 % / 10 % where validate from the same base read 27 % / 59 %)
    cv = cross_validate(points, base, k=folds, by=by) if folds > 1 else None
    all_rows = rows(points, grouped.calibration_for if grouped else result.calibration, cv)
    summary = summarise(all_rows)
    if grouped is None:
        atomic_write(out_p, profile_yaml(result, kept, name or out_p.stem, files, summary,
                                         cv_rows=all_rows if cv else None), protect=protect, force=force,
                     catalog=PROFILES)
        return Calibrated(result, summary, report, out)
    written: dict[str, GroupProfile] = {}
    texts: dict[str, str] = {}
    for label, res in grouped.groups.items():
        mine = [r for r in all_rows if group_of(r.point, by) == label]
        texts[f"{label}.yaml"] = profile_yaml(res, kept, label, files, summarise(mine), group=(by, label),
                                              shared=result, cv_rows=mine if cv else None)
        written[label] = GroupProfile(res, summarise(mine), str(out_p / f"{label}.yaml"))
    if texts:
        write_set(out_p, texts, protect=protect, force=force, catalog=PROFILES)
    return Calibrated(result, summary, report, out, written)


def _unmeasured_families(base: Calibration, points: list) -> Calibration:
    """`base` keeping the fixed TTFT of the architecture families the points do not measure. A
    family they measure takes the fit's: its own where it has enough TTFT points for one
    (fit.ttft_families), else the shared `request_overhead_s`. Kept, the base's entry overrode the
    fit in every plan of that family: three vLLM runs of Llama-3.1-70B fitted a fixed TTFT of 264 ms
    (1.8 % median error) and the profile predicted their TTFT 43 % low with the base's 55 ms."""
    measured = set(ttft_families(points, min_obs=1))
    return base.model_copy(update={"request_overhead_by_family_s": {
        f: p for f, p in base.request_overhead_by_family_s.items() if f not in measured}})


PROFILES = "calibration"   # the part of the shipped catalogs a profile may be written into (with --force)

# a group's label names its profile file (LABEL.yaml in --out): no path separators, no dot-names
SAFE_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")


def _check_labels(points, by: tuple[str, ...]) -> None:
    """BadInput when a group label (an engine name as the measurements spell it) cannot be a file
    name inside --out, e.g. '../escaped' or '/tmp/x': it would write outside the directory."""
    for label in sorted({group_of(p, by) for p in points}):
        if not SAFE_LABEL.fullmatch(label):
            raise BadInput(f"--group-by {','.join(by)}: group label {label!r} (the measurements' "
                           f"{'/'.join(by)}, or the deployment YAML's) cannot name a profile file: use letters, "
                           f"digits and '.', '_', '+', '-', starting with a letter or digit")


def _check_group_sizes(points, by: tuple[str, ...]) -> None:
    """BadInput before the fit when no group has the points for a profile of its own: the fit ran,
    printed 'nothing written' and exited 0 (a hostile-input hunt)."""
    sizes = Counter(group_of(p, by) for p in points)
    if max(sizes.values(), default=0) < MIN_GROUP_POINTS:
        shown = ", ".join(f"{k}: {n}" for k, n in sorted(sizes.items()))
        raise BadInput(f"--group-by {','.join(by)}: a profile of its own needs {MIN_GROUP_POINTS} points in its "
                       f"group and none has them ({shown}); fit one profile without --group-by")


def _is_profile(path: Path) -> bool:
    """Whether an existing file reads as a calibration profile (a mapping with its parameters)."""
    try:
        data = read_yaml(path)
    except BadInput:
        return False
    return is_profile_data(data)


def group_profiles(points: list, by: tuple[str, ...], fallback: Calibration,
                   directory: Path | None = None) -> tuple[dict[str, Calibration], dict[str, str]]:
    """Per group label among `points`: the profile named after it in `directory` (`plan calibrate
    --group-by --out DIR`; default the catalog's, catalogs/calibration/LABEL.yaml), else
    `fallback`; and the names used (a profile of `directory` by its path: its own name is its
    label, a shipped profile's too). A label that cannot name a profile file (SAFE_LABEL:
    '/tmp/x', '../x') has none: as a path it loaded a profile from anywhere the measurements'
    engine column pointed."""
    cal: dict[str, Calibration] = {}
    names: dict[str, str] = {}
    for label in sorted({group_of(p, by) for p in points}):
        own = (directory or CATALOG_DIR / "calibration") / f"{label}.yaml"
        if SAFE_LABEL.fullmatch(label) and own.exists():
            cal[label] = load_calibration(str(own) if directory else label)
            names[label] = str(own) if directory else label
        else:
            cal[label], names[label] = fallback, fallback.name
    missing = [f"{label}.yaml" for label in names if names[label] == fallback.name]
    if directory is not None and missing:   # a mistyped --profiles read as 'predicted by the default' (a hunt)
        import warnings

        from planner.errors import PlannerNotice
        warnings.warn(f"--profiles {directory}: no profile {', '.join(missing[:4])}{' …' if len(missing) > 4 else ''} "
                      f"there; {'those groups are' if len(missing) > 1 else 'that group is'} predicted with "
                      f"{fallback.name}", PlannerNotice, stacklevel=2)
    return cal, names


def run_validate(paths: list[str], calibration: str = "default", folds: int = 5,
                 group_by: tuple[str, ...] = (), deployment: str | None = None,
                 profiles: str | None = None) -> Validation:
    """Predicted vs measured under `calibration`, with k-fold CV refits started from it.

    With `group_by`, each point is predicted by its group's profile (in the directory `profiles`,
    default the catalog's; fallback: `calibration`), and the CV refits per group inside each fold
    (crossval.cross_validate)."""
    t0 = time.perf_counter()
    files = _files(paths)
    by = check_group_by(group_by) if group_by else ()
    if profiles is not None and not by:
        raise BadInput(f"--profiles {shown_text(profiles)}: the directory of per-group profiles needs --group-by")
    if profiles is not None and not Path(profiles).is_dir():
        raise BadInput(f"--profiles {shown_text(profiles)}: not a directory (plan calibrate --group-by --out DIR "
                       f"writes one)")
    points, report = load_points(files, deployment)
    if not points:   # an empty report would read as a model without error
        raise BadInput(f"{', '.join(files)}: no measured point to validate against ("
                       + "; ".join(line.strip() for line in report.lines()) + ")")
    _check_folds(points, folds, files)
    calib = load_calibration(calibration)
    cv: CVResult | None = None
    if folds > 1:
        start = {k: param_value(calib, k) for k in free_params(points)}
        cv = cross_validate(points, calib, k=folds, start=start, by=by)
    used: dict[str, str] | None = None
    if by:
        cal, used = group_profiles(points, by, calib, Path(profiles) if profiles is not None else None)

        def calib_of(p: Point) -> Calibration:
            return cal[group_of(p, by)]
    else:
        def calib_of(p: Point) -> Calibration:
            return calib
    rs = rows(points, calib_of, cv)
    done = min(folds, len({p.group for p in points})) if folds > 1 else 0   # folds hold whole configurations
    return Validation(calib.name, files, report, rs, summarise(rs), done, time.perf_counter() - t0,
                      by, used, calib_of)


def check_calibration_name(name: str) -> Calibration:
    """The profile, or BadInput naming the available ones (delegates to load_calibration)."""
    return load_calibration(name)
