"""The batching prefill queue (`bulk_queue`) tabulated, so that every candidate reads it in numpy.

`bulk_queue.solve_chain` takes 10–400 ms a point; a planning run needs the TTFT of hundreds of
prefill shapes at every utilisation. The chain's answers depend on three numbers only (times in
units of the full batch's entry-stage time T_B): the batch limit B (2, 4, … 256: the candidates
try powers of two), the pass of one prompt as a share of the full pass g = T_1/T_B ∈ [1/B, 1]
(25 points evenly in ln g: what matters at light load is λ·T_1, so g is resolved by ratio) and
the utilisation ρ = λ·T_B/B at x = −ln(1 − ρ) = 0 and 63 points geometric from 5·10⁻⁴ to
ln 100 (ρ = 0 … 0.99; the light-load end changes fastest for large B). Waits are stored as
wait·(1 − ρ), smooth where the wait itself diverges, and read bilinearly in (ln g, x);
tests/test_bulk_queue.py checks the table against fresh solves between its grid points.

Regenerate (about twenty minutes on 2 shared cores): `python -m planner.physics.bulk_table`.
"""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from planner.physics.bulk_queue import QUANTILES, STAGES, solve_chain

TABLE_PATH = Path(__file__).with_name("bulk_queue.npy")   # uncompressed: mapped, not unpacked
BATCHES = (2, 4, 8, 16, 32, 64, 128, 256)
ONE_POINTS = 25                           # grid of ln g from ln(1/B) to 0
X_MAX = math.log(100.0)
XS = np.concatenate([[0.0], np.geomspace(5e-4, X_MAX, 63)])
RHO_MAX = 1.0 - math.exp(-X_MAX)          # 0.99: the largest utilisation the table holds
QNAMES = tuple(f"p{round(q * 100)}" for q in QUANTILES)
FIELDS = (("wait", "ridden", "busy", "mean_batch") + tuple(f"wait_{q}" for q in QNAMES)
          + tuple(f"ttft_{q}_pp{pp}" for pp in STAGES for q in QNAMES))
FIELD_INDEX = {name: k for k, name in enumerate(FIELDS)}


def one_grid(batch: int) -> np.ndarray:
    """The g = T_1/T_B points of one B."""
    return np.exp(np.linspace(math.log(1.0 / batch), 0.0, ONE_POINTS))


def fixed_share(batch, one):
    """r of the affine pass T_k = T_B·(r + (1 − r)·k/B) through T_1 = g·T_B, clipped to [0, 1]."""
    return np.clip((np.asarray(batch) * np.asarray(one) - 1.0) / (np.asarray(batch) - 1.0), 0.0, 1.0)


def _row(batch: int, one: float) -> np.ndarray:
    """Every field at every x for one (B, g): shape (len(FIELDS), len(XS))."""
    share = float(fixed_share(batch, one))
    out = np.empty((len(FIELDS), len(XS)))
    alone = share + (1.0 - share) / batch
    out[:, 0] = ([0.0, alone, 0.0, 1.0] + [0.0] * len(QUANTILES)                     # ρ = 0
                 + [pp * alone for pp in STAGES for _ in QUANTILES])
    for j, x in enumerate(XS[1:], start=1):
        rho = 1.0 - math.exp(-x)
        s = solve_chain(rho, batch, share)
        out[:, j] = [s.wait * (1 - rho), s.pass_ridden, s.busy, s.mean_batch,
                     *(q * (1 - rho) for q in s.wait_quantiles),
                     *(q * (1 - rho) for pp in STAGES for q in s.ttft_quantiles[pp])]
    return out


def build() -> np.ndarray:
    """The whole table: shape (len(BATCHES), ONE_POINTS, len(FIELDS), len(XS))."""
    from concurrent.futures import ProcessPoolExecutor
    jobs = [(b, float(g)) for b in BATCHES for g in one_grid(b)]
    with ProcessPoolExecutor() as pool:
        rows = list(pool.map(_row, *zip(*jobs)))
    return np.array(rows).reshape(len(BATCHES), ONE_POINTS, len(FIELDS), len(XS))


@functools.cache
def table() -> np.ndarray:
    """The shipped table (loaded once), mapped read-only: a run reads a few hundred of its 358,400
    values, so mapping the file (~0.5 ms) beats reading its 2.8 MB (~2-6 ms); a plain ndarray view."""
    t = np.load(TABLE_PATH, mmap_mode="r").view(np.ndarray)
    if t.shape != (len(BATCHES), ONE_POINTS, len(FIELDS), len(XS)):
        raise RuntimeError(f"{TABLE_PATH}: shape {t.shape} does not match the table's axes; rebuild it "
                           f"with python -m planner.physics.bulk_table")
    return t


@dataclass(frozen=True)
class BulkLookup:
    """The tabulated chain read at arrays of (B, g, ρ, pp); waits in units of T_B (not scaled by
    1 − ρ). Fields are interpolated when asked for: a planning run reads only its statistic's."""

    b: np.ndarray              # row of each B in the table
    i0: np.ndarray             # bilinear cell in ln g and its weight
    fr: np.ndarray
    j0: np.ndarray             # bilinear cell in x and its weight
    fx: np.ndarray
    inv: np.ndarray            # 1/(1 − ρ)
    stages: np.ndarray

    def field(self, name: str) -> np.ndarray:
        """One tabulated field, bilinear in (ln g, x), as stored (waits × (1 − ρ))."""
        t, at = table().reshape(-1), self.corner + FIELD_INDEX[name] * len(XS)   # t[b, i0, k, j0], flat
        row = len(FIELDS) * len(XS)                                              # i0 → i0 + 1
        fr_, fx_ = self.weights
        return (fr_ * (fx_ * t[at] + self.fx * t[at + 1])
                + self.fr * (fx_ * t[at + row] + self.fx * t[at + row + 1]))

    @functools.cached_property
    def weights(self) -> tuple[np.ndarray, np.ndarray]:
        """(1 − fr, 1 − fx): the bilinear weights of the cells' lower corners, the same for every field."""
        return 1 - self.fr, 1 - self.fx

    @functools.cached_property
    def corner(self) -> np.ndarray:
        """The flat index of each point's cell corner (b, i0, field 0, j0) in the table."""
        return ((self.b * ONE_POINTS + self.i0) * len(FIELDS)) * len(XS) + self.j0

    @property
    def wait(self) -> np.ndarray:
        return self.field("wait") * self.inv

    @property
    def ridden(self) -> np.ndarray:
        return self.field("ridden")

    @property
    def busy(self) -> np.ndarray:
        return self.field("busy")

    @property
    def mean_batch(self) -> np.ndarray:
        return self.field("mean_batch")

    def wait_quantile(self, q: str) -> np.ndarray:
        """The wait's quantile 'p50' … 'p99'."""
        return self.field(f"wait_{q}") * self.inv

    def ttft_quantile(self, q: str) -> np.ndarray:
        """The quantile of wait + pp × pass ridden at the servers' pp."""
        return _in_stages([self.field(f"ttft_{q}_pp{pp}") for pp in STAGES], self.stages) * self.inv


def batch_index(batch: np.ndarray) -> np.ndarray:
    """Row of each B in BATCHES (B must be one of them)."""
    idx = np.round(np.log2(np.asarray(batch, dtype=float))).astype(int) - 1
    if np.any(idx < 0) or np.any(idx >= len(BATCHES)) or np.any(2 ** (idx + 1) != np.asarray(batch)):
        raise ValueError(f"prompts per pass must be one of {BATCHES}, got {np.asarray(batch).tolist()}")
    return idx


def lookup(batch, one, rho, stages=1) -> BulkLookup:
    """Bilinear read of the table in (ln g, x = −ln(1 − ρ)) at broadcastable arrays of B, g = T_1/T_B,
    ρ ≤ RHO_MAX and pipeline stages (g is clipped to [1/B, 1], the range of a pass that grows
    with its size). TTFT quantiles between tabulated stages are interpolated in log₂ pp, beyond 16
    extrapolated linearly in pp (the own pass then dominates, and it is linear in pp). The cell in
    ln g is found at the shape of (B, g), the cell in x at ρ's, and the fields broadcast them: a ρ
    search's servers as a column against a row of ρ (`prefill_queue._bulk_max_rho`) find each
    server's cell once, not once per ρ (the same operations per element, so the same floats)."""
    batch, one = np.broadcast_arrays(np.asarray(batch), np.asarray(one, dtype=float))
    rho, stages = np.asarray(rho, dtype=float), np.asarray(stages, dtype=float)
    b = batch_index(batch)
    lo = -np.log(batch.astype(float))
    rs = (np.clip(np.log(np.maximum(one, 1e-300)), lo, 0.0) - lo) / -lo * (ONE_POINTS - 1)
    i0 = np.minimum(np.floor(rs).astype(int), ONE_POINTS - 2)
    x = -np.log1p(-np.clip(rho, 0.0, RHO_MAX))
    j0 = np.clip(np.searchsorted(XS, x, side="right") - 1, 0, len(XS) - 2)
    return BulkLookup(b, i0, rs - i0, j0, (x - XS[j0]) / (XS[j0 + 1] - XS[j0]),
                      1.0 / (1.0 - np.clip(rho, 0.0, RHO_MAX)), stages)


def _in_stages(values: list[np.ndarray], stages: np.ndarray) -> np.ndarray:
    """Values tabulated at STAGES (1, 2, 4, 8, 16) read at `stages`: linear in log₂ pp inside,
    linear in pp beyond the last."""
    lg = np.log2(np.maximum(stages, 1.0))
    k = np.clip(np.floor(lg).astype(int), 0, len(STAGES) - 2)
    f = np.where(stages > STAGES[-1], (stages - STAGES[-2]) / (STAGES[-1] - STAGES[-2]), lg - k)
    stack = np.stack(values)
    lo = np.take_along_axis(stack, k[None], 0)[0]
    hi = np.take_along_axis(stack, (k + 1)[None], 0)[0]
    return lo + f * (hi - lo)


def main() -> None:
    """Write TABLE_PATH."""
    np.save(TABLE_PATH, build())
    sys.stderr.write(f"wrote {TABLE_PATH}\n")


if __name__ == "__main__":
    main()
