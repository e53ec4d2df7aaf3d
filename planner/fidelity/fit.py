"""Fit the calibration parameters to measured points: robust least squares of log(pred/meas).

Glossary: `θ` the fitted parameters divided by their typical scale (so each is O(1)), `r_j =
log(pred_j/meas_j)` the residual of observation j (a point's decode or prefill tokens/s per
GPU), `Q` the number of quantities observed, `n_q` the observations of quantity q, `θ_f` the
fixed TTFT of architecture family f (a parameter named `request_overhead_s[f]`).

    minimise Σ_j ρ((w_j·r_j(θ))²) + Σ_f ρ((λ·(θ_f − θ_0))²)
    ρ = soft-L1 (robust: a few odd points do not drag the fit); w_j = √(n/(Q·n_q)) weighs each
    of the Q quantities equally; θ_f pulled (λ = FAMILY_PRIOR_WEIGHT) towards the shared θ_0,
    the value for families without measurements
    subject to 0 < η ≤ 1, latencies ≥ 0, 1 ≤ imbalance, 0 ≤ overlap ≤ 1

A group fit (crossval.fit_grouped) adds the prior term w·(θ − θ_prior) pulling it towards the
shared fit. Cross-validation and grouping are in `crossval`, the written profile in `profile`.
SciPy is imported inside `fit`, so `import planner` stays light.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from planner.catalog.calibration import CalibParam, Calibration
from planner.catalog.schemas import load_gpus, load_models
from planner.fidelity.measurements import SIDE, Point, Quantity, observations, predict

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
    "sequence_overhead_s": (1e-5, 0.0, 1e-3),
    "prefill_layer_overhead_s": (1e-4, 0.0, 1e-2),
    "prefill_moe_layer_overhead_s": (1e-4, 0.0, 1e-2),
    "prompt_overhead_s": (1e-2, 0.0, 1.0),
    "kv_bandwidth_scale": (1.0, 0.2, 1.5),
    "request_overhead_s": (5e-2, 0.0, 1.0),
    "moe_imbalance": (1.0, 1.0, 4.0),
    "gemm_efficiency_scale": (1.0, 0.05, 3.0),
    "comm_overlap": (0.5, 0.0, 1.0),
    "benchmark_requests_per_client": (10.0, 1.0, 200.0),
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
BOUND_SNAP = 1e-4         # a fitted value this close to a bound (in units of its scale) is the bound


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


# ------------------------------------------------------------------------------ parameters
def family_param(family: str) -> str:
    """Fit-parameter name of one family's fixed TTFT: 'request_overhead_s[deepseek_v3]'."""
    return f"request_overhead_s[{family}]"


def family_of(name: str) -> str | None:
    """The family of a per-family parameter name, None for a scalar parameter."""
    return name[len("request_overhead_s["):-1] if name.startswith("request_overhead_s[") else None


def _spec(name: str) -> tuple[float, float, float]:
    """(scale, lower, upper) of a fit parameter (per-family ones share request_overhead_s's)."""
    return FIT_PARAMS["request_overhead_s" if family_of(name) else name]


def param_value(calib: Calibration, name: str) -> float:
    """Value of fit parameter `name` in `calib` (a family without its own value: the shared one)."""
    fam = family_of(name)
    return calib.v(name) if fam is None else calib.request_overhead_for(fam)[0]


def calibration_from(base: Calibration, values: dict[str, float], source: str = "fit") -> Calibration:
    """`base` with `values` replaced, built without validation (hot path of the fit)."""
    fields = {k: getattr(base, k) for k in Calibration.model_fields if k not in ("name", "description")}
    families = dict(base.request_overhead_by_family_s)
    for k, v in values.items():
        p = CalibParam.model_construct(value=float(v), source=source, note=None)
        fam = family_of(k)
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
        if "ttft_s" in p.measured and p.mode in ("agg", "disagg"):
            n[models[p.model].arch.family] += 1
    return sorted(f for f, k in n.items() if k >= min_obs)


def free_params(points: list[Point]) -> list[str]:
    """FIT_PARAMS the points can inform: MoE terms need an MoE point, network terms a point
    with a multi-card stage, the inter-node latency a stage group wider than its scale-up
    domain (KV transfer alone would let it soak up the unmodelled per-request TTFT time)."""
    models, gpus = load_models(), load_gpus()
    moe = any(models[p.model].arch.is_moe for p in points)
    multi = any(p.par.stage_cards > 1 or p.par.pp > 1 for p in points)
    inter = any(p.par.stage_cards > gpus[p.gpu].domain_cards for p in points)
    skip = set()
    if not moe:
        skip |= {"moe_layer_overhead_s", "moe_imbalance", "prefill_moe_layer_overhead_s"}
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


def log_residuals(points: list[Point], obs: list[tuple[int, Quantity, float]],
                  calib: Calibration) -> np.ndarray:
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
    sides (decode: TPOT; prefill: TTFT and published prefill rates) weighs as much in the fit as
    the other however many points measure it."""
    if not QUANTITY_BALANCE:
        return np.ones(len(obs))
    n_q: dict[str, int] = defaultdict(int)
    for _, q, _ in obs:
        n_q[SIDE[q]] += 1
    return np.array([math.sqrt(len(obs) / (len(n_q) * n_q[SIDE[q]])) for _, q, _ in obs])


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
    fam_idx = np.array([j for j, k in enumerate(names) if family_of(k)], dtype=int)
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


def roofline_ratio(points: list[Point], calib: Calibration, roofline: Calibration,
                   select: Callable[[Point], bool],
                   quantity: Quantity = "decode_tok_s_per_gpu") -> float | None:
    """Geometric mean of roofline/calibrated predicted tokens/s over the selected points
    (how many times the roofline is optimistic), or None when nothing is selected."""
    obs = [(i, q, m) for i, q, m in observations(points) if q == quantity and select(points[i])]
    if not obs:
        return None
    ratio = predictions(points, obs, roofline) / predictions(points, obs, calib)
    return float(math.exp(np.mean(np.log(ratio))))
