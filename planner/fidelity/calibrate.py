"""Fit the calibration profile to measured points, and measure the model's error honestly.

Glossary: `θ` the fitted parameters divided by their typical scale (so each is O(1)), `r_j =
log(pred_j/meas_j)` the residual of observation j (a point's decode or prefill tokens/s per
GPU), `k` the number of cross-validation folds. The default profile is one parameter set shared by all
GPUs and engines; `fit_grouped` adds one profile per group of points (e.g. per engine, `by =
("engine",)`), each fitted to its group's points starting from the shared fit, for groups with
at least MIN_GROUP_POINTS points; smaller groups keep the shared fit.

    minimise Σ_j ρ((w_j·r_j(θ))²) + Σ_f ρ((λ·(θ_f − θ_0))²)
    ρ = soft-L1 (robust: a few odd points do not drag the fit); w_j = √(n/(Q·n_q)) weighs each
    of the Q quantities equally; θ_f the fixed TTFT of architecture family f, pulled (λ =
    FAMILY_PRIOR_WEIGHT) towards the shared θ_0, the value for families without measurements
    subject to 0 < η ≤ 1, latencies ≥ 0, 1 ≤ imbalance, 0 ≤ overlap ≤ 1

SciPy is imported inside the functions that use it, so `import planner` stays light.
"""

from __future__ import annotations

import datetime as _dt
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

import numpy as np

from planner.catalog.schemas import CalibParam, Calibration, load_gpus, load_models
from planner.fidelity.measurements import QUANTITIES, Point, Quantity, observations, predict

# parameter → (typical scale, lower bound, upper bound); values in SI
FIT_PARAMS: dict[str, tuple[float, float, float]] = {
    "compute_efficiency": (0.5, 1e-3, 1.0),
    "memory_efficiency": (0.5, 1e-3, 1.0),
    "network_efficiency": (0.5, 1e-3, 1.0),
    "collective_latency_intra_s": (1e-5, 0.0, 1e-3),
    "collective_latency_inter_s": (3e-5, 0.0, 1e-2),
    "layer_overhead_s": (1e-5, 0.0, 1e-3),
    "moe_layer_overhead_s": (1e-4, 0.0, 1e-2),
    "step_overhead_s": (1e-3, 0.0, 1e-1),
    "request_overhead_s": (5e-2, 0.0, 1.0),
    "moe_imbalance": (1.0, 1.0, 4.0),
    "expert_compute_efficiency": (0.5, 1e-2, 1.0),
    "comm_overlap": (0.5, 0.0, 1.0),
}
# request_overhead_s[FAMILY]: the fixed TTFT of one architecture family, fitted when the training
# points hold at least MIN_FAMILY_TTFT TTFT observations of it, and pulled towards the shared
# request_overhead_s with weight FAMILY_PRIOR_WEIGHT (θ units), so the shared value is their centre:
# the fallback for a family without measurements
MIN_FAMILY_TTFT = 10
FAMILY_PRIOR_WEIGHT = 0.1
QUANTITY_BALANCE = True   # weigh decode and prefill observations equally (quantity_weights)
SOFT_L1_SCALE = 0.15      # residuals (log ratio) beyond ≈15 % are down-weighted by soft-L1
MAX_FUNCTION_EVALS = 60   # iterations cap of the full fit (each costs one Jacobian)
CV_FOLDS = 5
BOUND_SNAP = 1e-4         # a fitted value this close to a bound (in units of its scale) is the bound
MIN_GROUP_POINTS = 40     # a group with fewer (training) points gets no profile of its own
GROUP_PRIOR_WEIGHT = 1.0  # pull of a group fit towards the shared values (θ units; see fit)

# what a grouped calibration can be grouped by: a point → its label on that axis
GROUP_KEYS: dict[str, Callable[[Point], str]] = {
    "engine": lambda p: p.engine,
    "gpu": lambda p: p.gpu,
    "model": lambda p: p.model,
}


@dataclass(frozen=True)
class FitResult:
    """A fitted calibration, its residuals on the training points, and what the fit cost."""

    calibration: Calibration
    values: dict[str, float]
    residuals: np.ndarray      # log(pred/meas) per observation
    n_points: int
    n_observations: int
    evaluations: int
    seconds: float


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


# ------------------------------------------------------------------------------ parameters
def family_param(family: str) -> str:
    """Fit-parameter name of one family's fixed TTFT: 'request_overhead_s[deepseek_v3]'."""
    return f"request_overhead_s[{family}]"


def _family(name: str) -> str | None:
    """The family of a per-family parameter name, None for a scalar parameter."""
    return name[len("request_overhead_s["):-1] if name.startswith("request_overhead_s[") else None


def _spec(name: str) -> tuple[float, float, float]:
    """(scale, lower, upper) of a fit parameter (per-family ones share request_overhead_s's)."""
    return FIT_PARAMS["request_overhead_s" if _family(name) else name]


def param_value(calib: Calibration, name: str) -> float:
    """Value of fit parameter `name` in `calib` (a family without its own value: the shared one)."""
    fam = _family(name)
    return calib.v(name) if fam is None else calib.request_overhead_for(fam)[0]


def calibration_from(base: Calibration, values: dict[str, float], source: str = "fit") -> Calibration:
    """`base` with `values` replaced, built without validation (hot path of the fit)."""
    fields = {k: getattr(base, k) for k in Calibration.model_fields if k not in ("name", "description")}
    families = dict(base.request_overhead_by_family_s)
    for k, v in values.items():
        p = CalibParam.model_construct(value=float(v), source=source, note=None)
        fam = _family(k)
        if fam is None:
            fields[k] = p
        else:
            families[fam] = p
    fields["request_overhead_by_family_s"] = families
    return Calibration.model_construct(name=base.name, description=base.description, **fields)


def ttft_families(points: list[Point], min_obs: int = MIN_FAMILY_TTFT) -> list[str]:
    """Architecture families with at least `min_obs` TTFT observations (prefill tokens/s of an
    agg or disagg point, whose prediction includes the request overhead)."""
    models = load_models()
    n: dict[str, int] = defaultdict(int)
    for p in points:
        if "prefill_tok_s_per_gpu" in p.measured and p.mode in ("agg", "disagg"):
            n[models[p.model].arch.family] += 1
    return sorted(f for f, k in n.items() if k >= min_obs)


def free_params(points: list[Point]) -> list[str]:
    """FIT_PARAMS the points can inform: MoE terms need an MoE point, network terms a point
    with a multi-card stage, the inter-node latency a stage group wider than its scale-up
    domain (KV transfer alone would let it soak up the unmodelled per-request TTFT time)."""
    from planner.catalog.schemas import load_gpus, load_models
    models, gpus = load_models(), load_gpus()
    moe = any(models[p.model].arch.is_moe for p in points)
    multi = any(p.par.stage_cards > 1 or p.par.pp > 1 for p in points)
    inter = any(p.par.stage_cards > gpus[p.gpu].domain_cards for p in points)
    skip = set()
    if not moe:
        skip |= {"moe_layer_overhead_s", "moe_imbalance", "expert_compute_efficiency"}
    if not multi:
        skip |= {"network_efficiency", "collective_latency_intra_s", "comm_overlap"}
    if not inter:
        skip.add("collective_latency_inter_s")
    return [k for k in FIT_PARAMS if k not in skip] + [family_param(f) for f in ttft_families(points)]


def _theta0(base: Calibration, names: list[str]) -> np.ndarray:
    """Start point θ = value/scale, clipped inside the bounds."""
    return np.array([min(max(param_value(base, k), _spec(k)[1]), _spec(k)[2]) / _spec(k)[0]
                     for k in names])


def _values(theta: np.ndarray, names: list[str]) -> dict[str, float]:
    """θ → SI parameter values: value = θ·scale."""
    return {k: float(t) * _spec(k)[0] for t, k in zip(theta, names)}


def _bounds(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Bounds in θ units: bound/scale."""
    return (np.array([_spec(k)[1] / _spec(k)[0] for k in names]),
            np.array([_spec(k)[2] / _spec(k)[0] for k in names]))


# ---------------------------------------------------------------------------- predictions
def predictions(points: list[Point], obs: list[tuple[int, Quantity, float]],
                calib: Calibration | Callable[[Point], Calibration]) -> np.ndarray:
    """Predicted value of each observation under `calib` (one profile, or one per point)."""
    models, gpus = load_models(), load_gpus()
    of = calib if callable(calib) else (lambda p: calib)
    return np.array([predict(points[i], q, of(points[i]), models, gpus) for i, q, _ in obs])


def log_residuals(points: list[Point], obs: list[tuple[int, Quantity, float]], calib: Calibration) -> np.ndarray:
    """r_j = log(pred_j / meas_j)."""
    meas = np.array([m for _, _, m in obs])
    return np.log(predictions(points, obs, calib) / meas)


def _snap_to_bounds(values: dict[str, float]) -> dict[str, float]:
    """Values within BOUND_SNAP·scale of a bound are set to it (1e-13 s is a fitted 0)."""
    out = {}
    for k, v in values.items():
        scale, lo, hi = _spec(k)
        out[k] = lo if abs(v - lo) < BOUND_SNAP * scale else hi if abs(v - hi) < BOUND_SNAP * scale else v
    return out


# ------------------------------------------------------------------------------------- fit
def quantity_weights(obs: list[tuple[int, Quantity, float]]) -> np.ndarray:
    """Residual weight of each observation: sqrt(n/(Q·n_q)) (QUANTITY_BALANCE), so each of the Q
    quantities weighs as much in the fit as the others however many points measure it."""
    if not QUANTITY_BALANCE:
        return np.ones(len(obs))
    n_q: dict[str, int] = defaultdict(int)
    for _, q, _ in obs:
        n_q[q] += 1
    return np.array([math.sqrt(len(obs) / (len(n_q) * n_q[q])) for _, q, _ in obs])


def fit(points: list[Point], base: Calibration, max_evals: int = MAX_FUNCTION_EVALS,
        start: dict[str, float] | None = None, names: list[str] | None = None,
        prior: dict[str, float] | None = None, prior_weight: float = 0.0) -> FitResult:
    """Robust least squares of log(pred/meas) over `names` (default: free_params), starting
    from `base` (or `start`); parameters not fitted keep base's values. With `prior` (values)
    and prior_weight w > 0, each fitted parameter adds the residual w·(θ − θ_prior): a group
    fit stays at the shared values where its own points say little (e.g. no prefill point
    left to pin request_overhead_s)."""
    from scipy.optimize import least_squares

    t0 = time.perf_counter()
    obs = observations(points)
    if not obs:
        from planner.errors import BadInput
        raise BadInput("no measured points to fit (every row was dropped; see the load summary)")
    names = names if names is not None else free_params(points)
    x0 = _theta0(calibration_from(base, start) if start else base, names)
    lo, hi = _bounds(names)

    theta_prior = _theta0(calibration_from(base, prior), names) if prior and prior_weight > 0 else None
    weights = quantity_weights(obs)
    fam_idx = np.array([j for j, k in enumerate(names) if _family(k)], dtype=int)
    shared_idx = names.index("request_overhead_s") if "request_overhead_s" in names else None
    shared_fixed = base.v("request_overhead_s") / _spec("request_overhead_s")[0]

    def resid(theta: np.ndarray) -> np.ndarray:
        """Residual vector: observations, the family pull towards the shared fixed TTFT, then
        the group prior terms if any."""
        r = [weights * log_residuals(points, obs, calibration_from(base, _values(theta, names)))]
        if fam_idx.size:
            centre = theta[shared_idx] if shared_idx is not None else shared_fixed
            r.append(FAMILY_PRIOR_WEIGHT * (theta[fam_idx] - centre))
        if theta_prior is not None:
            r.append(prior_weight * (theta - theta_prior))
        return np.concatenate(r)

    sol = least_squares(resid, x0, bounds=(lo, hi), loss="soft_l1", f_scale=SOFT_L1_SCALE,
                        max_nfev=max_evals, x_scale=1.0, diff_step=1e-3)
    values = _snap_to_bounds(_values(sol.x, names))
    return FitResult(calibration_from(base, values), values, sol.fun[:len(obs)], len(points), len(obs),
                     int(sol.nfev), time.perf_counter() - t0)


def without_families(calib: Calibration) -> Calibration:
    """`calib` without per-family fixed TTFTs (a fresh fit must not inherit values fitted to
    points it is tested on)."""
    return calib.model_copy(update={"request_overhead_by_family_s": {}})


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
    """`by` as a tuple of known axes, or BadInput naming the known ones."""
    from planner.errors import BadInput
    by = tuple(by)
    bad = [k for k in by if k not in GROUP_KEYS]
    if bad or len(set(by)) != len(by):
        raise BadInput(f"--group-by {','.join(by)}: use one or more of {', '.join(GROUP_KEYS)}, "
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


# ------------------------------------------------------------------------------ reporting
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
                           None if ce is None else float(ce.max()),
                           float(np.mean(ref <= 0.15)), float(np.mean(ref <= 0.30))))
    return out


def breakdown(rs: list[Row], key: Callable[[Row], str]) -> dict[str, tuple[int, float, float | None]]:
    """Per key (e.g. model/GPU/engine): (observations, median |fit error|, median |CV error|)."""
    by: dict[str, list[Row]] = defaultdict(list)
    for r in rs:
        by[key(r)].append(r)
    out = {}
    for k, sel in sorted(by.items()):
        cv = [abs(r.cv_error) for r in sel if r.cv_error is not None]
        out[k] = (len(sel), float(np.median([abs(r.error) for r in sel])),
                  float(np.median(cv)) if cv else None)
    return out


# ----------------------------------------------------------------------------- the profile
def profile_yaml(result: FitResult, base: Calibration, name: str, files: list[str],
                 cv_summary: list[Summary] | None, today: _dt.date | None = None,
                 group: tuple[tuple[str, ...], str] | None = None,
                 shared: FitResult | None = None) -> str:
    """The fitted profile as YAML text (catalog schema): each fitted parameter's source names
    the fit, its note the cross-validated error; unfitted parameters keep base's entries.
    A group profile (`group` = (axes, label)) says whose points it was fitted to; parameters its
    points cannot inform come from the `shared` fit."""
    import yaml

    day = (today or _dt.date.today()).isoformat()
    files_text = ", ".join(_display(f) for f in files)
    if group:
        axes, label = group
        who = f"{result.n_points} points of {'/'.join(axes)} {label}"
        src = f"fit to catalogs/measurements ({who}, {day}), plan calibrate --group-by {','.join(axes)}"
        description = (f"Fitted by robust least squares to the {who} ({files_text}); parameters "
                       "these points cannot inform keep the shared fit's values.")
    else:
        src = f"fit to catalogs/measurements ({result.n_points} points, {day}), plan calibrate"
        description = (f"Fitted by robust least squares to {result.n_points} measured points "
                       f"({files_text}); one parameter set for all GPUs and engines.")
    shared_src = (f"shared fit to catalogs/measurements ({shared.n_points} points, {day}), plan calibrate"
                  if shared else None)
    cv_note = "; ".join(f"{s.quantity}: CV median |err| {s.cv_median_abs:.1%}, max {s.cv_max_abs:.0%}"
                        for s in (cv_summary or []) if s.cv_median_abs is not None and s.quantity != "all")
    data: dict = {"name": name, "description": description}
    for k in Calibration.model_fields:
        if k in ("name", "description"):
            continue
        if k == "request_overhead_by_family_s":
            data[k] = _family_entries(result, base, shared, src, shared_src, cv_note)
            continue
        if k in result.values:
            v = result.values[k]
            data[k] = {"value": float(f"{v:.4g}"), "source": src,
                       "note": cv_note or "cross-validation not run"}
        elif shared is not None and k in shared.values:
            data[k] = {"value": float(f"{shared.values[k]:.4g}"), "source": shared_src,
                       "note": "not informed by this group's points"}
        else:
            p = getattr(base, k)
            data[k] = {"value": p.value, "source": p.source, **({"note": p.note} if p.note else {})}
    header = ("# Calibration profile written by `plan calibrate`; edit by refitting, not by hand.\n"
              "# Cross-validated errors and the points are described in the README, section How accurate is it?\n")
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _family_entries(result: FitResult, base: Calibration, shared: FitResult | None, src: str,
                    shared_src: str | None, cv_note: str) -> dict[str, dict]:
    """The per-family fixed TTFTs of a written profile: fitted here, else from the shared fit,
    else base's entries."""
    out: dict[str, dict] = {f: p.model_dump(exclude_none=True)
                            for f, p in base.request_overhead_by_family_s.items()}
    if shared is not None:
        out.update({_family(k): {"value": float(f"{v:.4g}"), "source": shared_src,
                                 "note": "not informed by this group's points"}
                    for k, v in shared.values.items() if _family(k)})
    out.update({_family(k): {"value": float(f"{v:.4g}"), "source": src,
                             "note": "fixed TTFT of this architecture family; " + (cv_note or "cross-validation not run")}
                for k, v in result.values.items() if _family(k)})
    return dict(sorted(out.items()))


def _display(path: str) -> str:
    """Path relative to the repository when inside it, else as given."""
    from pathlib import Path

    from planner.catalog.schemas import CATALOG_DIR
    p = Path(path).resolve()
    try:
        return str(p.relative_to(CATALOG_DIR.parent))
    except ValueError:
        return str(path)


def roofline_ratio(points: list[Point], calib: Calibration, roofline: Calibration,
                   select: Callable[[Point], bool], quantity: Quantity = "decode_tok_s_per_gpu") -> float | None:
    """Geometric mean of roofline/calibrated predicted tokens/s over the selected points
    (how many times the roofline is optimistic), or None when nothing is selected."""
    obs = [(i, q, m) for i, q, m in observations(points) if q == quantity and select(points[i])]
    if not obs:
        return None
    ratio = predictions(points, obs, roofline) / predictions(points, obs, calib)
    return float(math.exp(np.mean(np.log(ratio))))
