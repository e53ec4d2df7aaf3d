"""What a simulation run gives: statistics per pool, per class and overall, and SLO violations.

`SimResult.as_dict()` gives the JSON keys (docs/studies.md, "Checking a plan by simulation").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from planner.studies.simulate.planfile import PlanSLO

WARMUP_FRACTION = 0.05     # share of the arrival span left out of statistics at each end


@dataclass(frozen=True)
class Summary:
    """Mean and percentiles of a sample of times (seconds)."""

    mean: float
    p50: float
    p90: float
    p95: float
    p99: float

    @classmethod
    def of(cls, x: np.ndarray) -> Summary | None:
        """Summary of `x`, or None when it is empty."""
        if x.size == 0:
            return None
        p50, p90, p95, p99 = np.percentile(x, [50, 90, 95, 99])
        return cls(float(x.mean()), float(p50), float(p90), float(p95), float(p99))

    def get(self, statistic: str) -> float:
        """Value of 'mean', 'p50', 'p90', 'p95' or 'p99'."""
        return getattr(self, statistic)

    def as_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "p50": self.p50, "p90": self.p90, "p95": self.p95, "p99": self.p99}


@dataclass(frozen=True)
class PoolResult:
    """One pool: simulated statistics beside the analytic values the MILP used."""

    name: str
    role: str
    gpu: str
    instances: int
    analytic_ttft_s: float | None
    analytic_tpot_s: float | None
    analytic_utilization: float
    analytic_batch: float
    ttft: Summary | None
    tpot: Summary | None
    queue_wait: Summary | None     # arrival → start of its prefill
    utilization: float | None      # prefill: busy share of the entry stage; decode: load/capacity;
                                   # colocated: share of time in steps carrying a prompt chunk
    batch: float | None            # time-averaged decode batch

    def as_dict(self) -> dict[str, Any]:
        def s(x: Summary | None):
            return None if x is None else x.as_dict()
        return {"name": self.name, "role": self.role, "gpu": self.gpu, "instances": self.instances,
                "analytic": {"ttft_s": self.analytic_ttft_s, "tpot_s": self.analytic_tpot_s,
                             "utilization": self.analytic_utilization, "batch": self.analytic_batch},
                "simulated": {"ttft_s": s(self.ttft), "tpot_s": s(self.tpot),
                              "queue_wait_s": s(self.queue_wait), "utilization": self.utilization,
                              "batch": self.batch}}


@dataclass(frozen=True)
class ClassResult:
    """One request class in shared pools: its simulated TTFT and TPOT against its own SLO."""

    name: str
    slo: PlanSLO
    requests: int
    ttft: Summary
    tpot: Summary | None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "slo": self.slo.model_dump(), "measured_requests": self.requests,
                "ttft_s": self.ttft.as_dict(), "tpot_s": None if self.tpot is None else self.tpot.as_dict()}


@dataclass(frozen=True)
class Violation:
    """A simulated statistic above its SLO, for all requests ('all') or one pool. `stderr_s`: the
    statistic's standard error in this run (`batch_error`; None when it cannot be estimated)."""

    scope: str
    metric: Literal["ttft", "tpot"]
    statistic: str
    value_s: float
    limit_s: float
    stderr_s: float | None = None

    @property
    def within_noise(self) -> bool:
        """Above its limit by less than two standard errors: this run cannot tell it from a pass."""
        return self.stderr_s is not None and self.value_s - self.limit_s < NOISE_SIGMAS * self.stderr_s

    def as_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "metric": self.metric, "statistic": self.statistic,
                "value_s": self.value_s, "limit_s": self.limit_s, "stderr_s": self.stderr_s}


NOISE_SIGMAS = 2.0      # a violation closer to its limit than this many standard errors is within noise
ERROR_BATCHES = 20      # consecutive batches of a scope's requests for `batch_error`
QUANTILE_TAIL = 10      # a batch's quantile q needs 10/(1 − q) values (10 beyond it)


def batch_error(x: np.ndarray, statistic: str, batches: int = ERROR_BATCHES) -> float | None:
    """Standard error of a statistic of `x`, values in arrival order, by batch means: the values
    cut into `batches` consecutive batches, the statistic of each, their standard deviation over
    √batches. Consecutive requests of a busy queue wait alike, so the plain σ/√n of the values
    understates the error many-fold; batches long beside the queue's memory are nearly
    independent. None when a batch holds fewer than QUANTILE_TAIL/(1 − q) values of its quantile q
    (or fewer than QUANTILE_TAIL for the mean).

    >>> batch_error(np.repeat([1.0, 3.0], 100), "mean", batches=2)   # batch means 1 and 3: σ = √2
    1.0
    """
    x = x[np.isfinite(x)]
    q = {"mean": None, "p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}[statistic]
    need = QUANTILE_TAIL if q is None else round(QUANTILE_TAIL / (1.0 - q))
    if batches < 2 or x.size < batches * need:
        return None
    parts = np.array_split(x, batches)
    stats = np.array([p.mean() if q is None else np.percentile(p, 100.0 * q) for p in parts])
    return float(stats.std(ddof=1) / np.sqrt(batches))


@dataclass(frozen=True)
class SimResult:
    """Outcome of one simulation run; `as_dict()` gives the JSON keys (docs/studies.md, "Checking a plan
    by simulation")."""

    problem: str
    requests: int
    measured_requests: int
    seed: int
    simulated_seconds: float
    slo: PlanSLO
    ttft: Summary
    tpot: Summary | None
    pools: tuple[PoolResult, ...]
    violations: tuple[Violation, ...]
    classes: tuple[ClassResult, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict[str, Any]:
        return {"problem": self.problem, "requests": self.requests,
                "measured_requests": self.measured_requests, "seed": self.seed,
                "warmup_fraction": WARMUP_FRACTION, "simulated_seconds": self.simulated_seconds,
                "slo": self.slo.model_dump(),
                "ttft_s": self.ttft.as_dict(), "tpot_s": None if self.tpot is None else self.tpot.as_dict(),
                "pools": [p.as_dict() for p in self.pools],
                "violations": [v.as_dict() for v in self.violations], "passed": self.passed,
                **({"classes": [c.as_dict() for c in self.classes]} if self.classes else {})}
