"""Measured serving points in one frozen type, whatever file they came from.

Glossary: `c` concurrency (requests in flight), `b` decode batch of one instance (sequences,
summed over its attention-DP ranks), `isl`/`osl` input/output tokens, TPOT/TTFT in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from planner.physics.perf import Parallelism

Quantity = Literal["decode_tok_s_per_gpu", "ttft_s", "prefill_tok_s_per_gpu"]
QUANTITIES: tuple[Quantity, ...] = ("decode_tok_s_per_gpu", "ttft_s", "prefill_tok_s_per_gpu")
SIDE: dict[str, str] = {"decode_tok_s_per_gpu": "decode", "ttft_s": "prefill", "prefill_tok_s_per_gpu": "prefill"}
Mode = Literal["agg", "disagg", "decode", "prefill"]
# what a measured run can be, for every reader of measurements: keyword → (name in messages,
# lowest, highest); no engine answers in under a millisecond or streams a user more than 10,000
# tokens a second: a TTFT of 62 µs is a file written in seconds, read as ms
RUN_DOMAIN = {"concurrency": ("concurrency", 1e-3, 1e6), "isl": ("input tokens", 1.0, 1e7),
              "osl": ("output tokens", 1.0, 1e7), "ttft_s": ("TTFT (s)", 1e-3, 1e5),
              "tpot_s": ("TPOT (s)", 1e-4, 1e3)}

@dataclass(frozen=True)
class Point:
    """One measured operating point of one instance, in SI units, with where it came from."""

    id: str
    origin: str                     # file it was read from
    source: str                     # URL / paper+table / CSV provenance
    kind: Literal["measured", "vendor_claim"]
    model: str                      # catalog model id
    gpu: str                        # catalog GPU id
    engine: str
    engine_version: str
    weight_dtype: str
    kv_dtype: str
    mode: Mode
    par: Parallelism                # agg worker, decode worker, or prefill worker (mode prefill)
    isl: float
    osl: float
    concurrency: float              # requests in flight on this instance
    batch: float                    # decode sequences on this instance (over all its dp ranks)
    prefill_par: Parallelism | None = None
    prefill_prompts: float = 1.0    # prompts in one prefill pass (mode prefill)
    cached_fraction: float = 0.0    # prefix-cache hit fraction of the input
    tokens_per_step: float = 1.0    # accepted tokens per decode step (MTP)
    prefill_workers: int = 1        # disagg: prefill instances sharing the requests
    clients: float = 0.0            # requests in flight over all workers (0: `concurrency`)
    ttft_s: float | None = None
    tpot_s: float | None = None
    measured: dict[str, float] = field(default_factory=dict)  # Quantity → value
    group: str = ""                 # configuration key: points of one configuration share a CV fold
    recorded_par: Parallelism | None = None   # the file's layout where `par` reads it otherwise (attention DP)

    @property
    def cards(self) -> int:
        return self.par.cards

    @property
    def context_tokens(self) -> float:
        """Mean decode context: isl + osl/2."""
        return self.isl + self.osl / 2.0


@dataclass(frozen=True)
class LoadReport:
    """How many rows were read, kept, and dropped for which reason."""

    read: int
    kept: int
    dropped: dict[str, int]
    reread: dict[str, int] = field(default_factory=dict)   # kept, but read otherwise than recorded: why → count

    def lines(self) -> list[str]:
        """Human-readable summary, one reason per line."""
        out = [f"read {self.read} row{'s' if self.read != 1 else ''}, kept {self.kept} point"
               f"{'s' if self.kept != 1 else ''}, dropped {self.read - self.kept}"]
        out += [f"  dropped {n:5d}: {why}" for why, n in sorted(self.dropped.items(), key=lambda x: -x[1])]
        out += [f"  re-read {n:5d}: {why}" for why, n in sorted(self.reread.items(), key=lambda x: -x[1])]
        return out


def with_group(p: Point, group: str) -> Point:
    """A copy of `p` in another CV group (tests)."""
    return replace(p, group=group)


def measured_of(batch: float, tpot_s: float, ttft_s: float, osl: float, par: Parallelism) -> dict[str, float]:
    """The quantities a run measures; one-token answers have no time between tokens, so no decode
    rate (a row of osl 1 entered the fit as a decode point: memory efficiency 0.80 → 0.97, a hunt)."""
    return {**({"decode_tok_s_per_gpu": batch / (tpot_s * par.cards)} if osl >= 2 else {}), "ttft_s": ttft_s}
