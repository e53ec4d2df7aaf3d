"""Cross-validation and per-group fits: measure the fitted model's error honestly.

Glossary: `k` the number of cross-validation folds; a fold holds whole configurations
(`Point.group`), so near-duplicate points never sit on both sides of a split; a group is the
points sharing a label on the `by` axes (e.g. per engine, `by = ("engine",)`, label 'sglang').

The default profile is one parameter set shared by all GPUs and engines; `fit_grouped` adds one
profile per group, each fitted to its group's points starting from (and pulled towards, weight
GROUP_PRIOR_WEIGHT) the shared fit, for groups with at least MIN_GROUP_POINTS points; smaller
groups keep the shared fit. `cross_validate` predicts each fold's points by a fit (shared, or
grouped) to the other folds only. `rows`, `summarise` and `breakdown` tabulate measured against
predicted (relative errors as fractions; display is the report's).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from planner.catalog.calibration import Calibration
from planner.fidelity.fit import (
    MAX_FUNCTION_EVALS,
    FitResult,
    fit,
    free_params,
    predictions,
    without_families,
)
from planner.fidelity.measurements import QUANTITIES, Point, Quantity, observations

CV_FOLDS = 5
MIN_GROUP_POINTS = 40     # a group with fewer (training) points gets no profile of its own
GROUP_PRIOR_WEIGHT = 1.0  # pull of a group fit towards the shared values (θ units; see fit.fit)

# what a grouped calibration can be grouped by: a point → its label on that axis
GROUP_KEYS: dict[str, Callable[[Point], str]] = {
    "engine": lambda p: p.engine,
    "gpu": lambda p: p.gpu,
    "model": lambda p: p.model,
}


@dataclass(frozen=True)
class Row:
    """One observation: measured against predicted (fit or cross-validated)."""

    point: Point
    quantity: Quantity
    measured: float
    predicted: float
    cv_predicted: float | None = None

    @property
    def error(self) -> float:
        """Relative error (pred − meas)/meas."""
        return self.predicted / self.measured - 1.0

    @property
    def cv_error(self) -> float | None:
        """Cross-validated relative error, when cross-validation ran."""
        return None if self.cv_predicted is None else self.cv_predicted / self.measured - 1.0


@dataclass(frozen=True)
class CVResult:
    """k-fold cross-validation: each observation predicted by a fit that never saw its point."""

    predicted: np.ndarray          # per observation
    folds: list[list[int]]         # point indices held out in each fold
    train_sets: list[frozenset[int]]


# ------------------------------------------------------------------------ cross-validation
def cv_folds(points: list[Point], k: int = CV_FOLDS) -> list[list[int]]:
    """Point indices per fold, grouped by configuration (`Point.group`) so near-duplicate points
    share a fold; groups go largest first to the fold with the fewest points (deterministic)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(points):
        groups[p.group].append(i)
    folds: list[list[int]] = [[] for _ in range(min(k, len(groups)))]
    for g in sorted(groups, key=lambda g: (-len(groups[g]), g)):
        min(folds, key=len).extend(groups[g])
    return [sorted(f) for f in folds]


def group_of(p: Point, by: tuple[str, ...]) -> str:
    """The label of `p`'s group, e.g. 'sglang' (by engine) or 'trtllm-llama-3.1-70b'."""
    return "-".join(GROUP_KEYS[k](p) for k in by)


def check_group_by(by: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """`by` as a tuple of known axes, read in any case ('GPU' is 'gpu'), or BadInput naming the known
    ones and repeating what was written."""
    from planner.errors import BadInput, shown_text
    given, by = tuple(by), tuple(k.lower() for k in by)
    bad = [k for k in by if k not in GROUP_KEYS]
    if bad or len(set(by)) != len(by):
        raise BadInput(f"--group-by {shown_text(','.join(given))}: use one or more of {', '.join(GROUP_KEYS)}, "
                       "comma-separated, each once")
    return by


@dataclass(frozen=True)
class GroupedFit:
    """A shared fit plus one fit per group with enough points; a point of any other group is
    predicted by the shared fit."""

    by: tuple[str, ...]
    shared: FitResult
    groups: dict[str, FitResult]

    def calibration_for(self, p: Point) -> Calibration:
        """The calibration that predicts `p`: its group's, else the shared one."""
        got = self.groups.get(group_of(p, self.by)) if self.by else None
        return (got or self.shared).calibration


def fit_grouped(points: list[Point], base: Calibration, by: tuple[str, ...],
                min_points: int = MIN_GROUP_POINTS, max_evals: int = MAX_FUNCTION_EVALS,
                start: dict[str, float] | None = None, fit_fn: Callable[..., FitResult] = fit,
                shared: FitResult | None = None, prior_weight: float = GROUP_PRIOR_WEIGHT) -> GroupedFit:
    """The shared fit (`shared`, or fitted here from `start`), then each group of ≥ `min_points`
    points fitted alone, starting from and pulled towards (prior_weight) the shared values;
    parameters its points cannot inform (free_params) keep the shared fit's values."""
    if shared is None:
        shared = fit_fn(points, base, max_evals=max_evals, start=start, names=free_params(points))
    members: dict[str, list[Point]] = defaultdict(list)
    for p in points:
        members[group_of(p, by)].append(p)
    groups = {g: fit_fn(sub, shared.calibration, max_evals=max_evals, names=free_params(sub),
                        prior=shared.values, prior_weight=prior_weight)
              for g, sub in sorted(members.items()) if by and len(sub) >= min_points}
    return GroupedFit(by, shared, groups)


def cross_validate(points: list[Point], base: Calibration, k: int = CV_FOLDS,
                   fit_fn: Callable[..., FitResult] = fit, start: dict[str, float] | None = None,
                   max_evals: int = MAX_FUNCTION_EVALS // 3, by: tuple[str, ...] = (),
                   min_points: int = MIN_GROUP_POINTS, prior_weight: float = GROUP_PRIOR_WEIGHT) -> CVResult:
    """Each fold's points predicted by a fit to the other folds (warm-started at `start`).

    With `by`, the fit of a fold is fit_grouped on the fold's training points: a held-out point
    is predicted by its group's profile fitted without it (or by the fold's shared fit when its
    group has fewer than `min_points` training points). No fit ever sees a held-out point:
    group fits start from the fold's own shared fit, not from a fit to all points."""
    obs = observations(points)
    pred = np.full(len(obs), np.nan)
    folds = cv_folds(points, k)
    base = without_families(base)
    train_sets = []
    for held in folds:
        held_set = set(held)
        train_idx = [i for i in range(len(points)) if i not in held_set]
        train_sets.append(frozenset(train_idx))
        train = [points[i] for i in train_idx]
        shared = fit_fn(train, base, max_evals=max_evals, start=start, names=free_params(train))
        grouped = fit_grouped(train, base, by, min_points, max_evals, fit_fn=fit_fn, shared=shared,
                              prior_weight=prior_weight)
        rows_held = [j for j, (i, _, _) in enumerate(obs) if i in held_set]
        pred[rows_held] = predictions(points, [obs[j] for j in rows_held], grouped.calibration_for)
    return CVResult(pred, folds, train_sets)


# ------------------------------------------------------------- measured against predicted
def rows(points: list[Point], calib: Calibration | Callable[[Point], Calibration],
         cv: CVResult | None = None) -> list[Row]:
    """Measured vs predicted for every observation (`calib`: one profile, or one per point)."""
    obs = observations(points)
    pred = predictions(points, obs, calib)
    return [Row(points[i], q, m, float(pred[j]), None if cv is None else float(cv.predicted[j]))
            for j, (i, q, m) in enumerate(obs)]


@dataclass(frozen=True)
class Summary:
    """Absolute relative errors of one quantity: median and max, fit and cross-validated."""

    quantity: str
    n: int
    median_abs: float
    max_abs: float
    cv_median_abs: float | None
    p90_abs: float
    cv_p90_abs: float | None
    cv_max_abs: float | None
    within_15: float            # share of points within ±15 % (CV when available)
    within_30: float


def summarise(rs: list[Row]) -> list[Summary]:
    """One Summary per quantity present in `rs`, plus 'all'."""
    out = []
    for q in [*QUANTITIES, "all"]:
        sel = [r for r in rs if q == "all" or r.quantity == q]
        if not sel:
            continue
        e = np.abs([r.error for r in sel])
        cv = [r.cv_error for r in sel if r.cv_error is not None]
        ce = np.abs(cv) if cv else None
        ref = ce if ce is not None else e
        out.append(Summary(q, len(sel), float(np.median(e)), float(e.max()),
                           None if ce is None else float(np.median(ce)),
                           float(np.percentile(e, 90)), None if ce is None else float(np.percentile(ce, 90)),
                           None if ce is None else float(ce.max()),
                           float(np.mean(ref <= 0.15)), float(np.mean(ref <= 0.30))))
    return out


def breakdown(rs: list[Row], key: Callable[[Row], str]) -> dict[str, tuple[int, float, float | None, float]]:
    """Per key (e.g. model/GPU/engine): (observations, median |fit error|, median |CV error|,
    p90 |error| — cross-validated when available)."""
    by: dict[str, list[Row]] = defaultdict(list)
    for r in rs:
        by[key(r)].append(r)
    out = {}
    for k, sel in sorted(by.items()):
        cv = [abs(r.cv_error) for r in sel if r.cv_error is not None]
        fit = [abs(r.error) for r in sel]
        out[k] = (len(sel), float(np.median(fit)), float(np.median(cv)) if cv else None,
                  float(np.percentile(cv if cv else fit, 90)))
    return out


