"""What candidate generation produces, and what its parts share: the `Candidate` (one way to run
one instance, at its operating point), the `Rejected` shape/role with the value it reaches, the
memo of pure physics results that sweeps and what-ifs re-use, and the problem's `Deployment` of a
shape. `candidates` (decode, colocated, `generate`) and `prefill` build on it.

Glossary: a *shape* is (GPU type, Parallelism); a *candidate* is a shape in a role
(prefill, decode, colocated) at an operating point (decode batch `b`, prefill prompts per
pass `B`, colocated chunk `C` tokens per step).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
from dataclasses import astuple, dataclass
from typing import Literal

from planner.physics import many, perf
from planner.physics.perf import Deployment, Parallelism, Speculation
from planner.physics.prefill_queue import Servers
from planner.plan.resolve import GPUOption, Resolved

Role = Literal["prefill", "decode", "colocated"]


@dataclass(frozen=True)
class Candidate:
    """One way to run one instance, with its capacity and latency at the design point."""

    role: Role
    gpu: str
    par: Parallelism
    batch: int                 # decode: sequences in flight; prefill: prompts per pass
    chunk_tokens: float        # colocated: prefill tokens per step; else 0
    prefill_tok_s: float       # usable prefill capacity (= ρ_max · raw), uncached tokens/s
    prefill_raw_tok_s: float   # prefill capacity at 100 % utilisation
    decode_tok_s: float        # output tokens/s at the design batch
    rho_max: float             # largest prefill utilisation meeting the TTFT limit
    pass_s: float              # prefill service time of one pass (D)
    ttft_s: float              # TTFT at ρ_max for the SLO statistic
    tpot_s: float              # TPOT of the SLO's statistic at the design (mean) batch (decode, colocated)
    kv_transfer_s: float       # disaggregated prefill only
    nic_bytes_per_s: float     # NIC bandwidth of the whole instance
    memory_per_card_bytes: float
    bound: str
    limited_by: str = ""       # what stops this operating point going further: tpot, memory, ttft, nic,
                               # utilization (prefill at serving.max_utilization_percent)
    spec: Speculation | None = None   # speculative decoding of the instance (decode, colocated)
    pass_one_s: float = 0.0    # prefill: the pass of one prompt (D_1, for the batching queue); else 0

    def server(self) -> Servers:
        """The prefill server this candidate's TTFT is computed on (`physics.prefill_queue`)."""
        if self.role == "prefill":
            return Servers.of(self.batch, self.par.pp, self.pass_s, self.pass_one_s or self.pass_s)
        return Servers.single(self.pass_s)

    @property
    def cards(self) -> int:
        return self.par.cards

    @property
    def name(self) -> str:
        """Row name for the MILP and reports, e.g. 'decode[h200-TP8-b305]'."""
        op = f"b{self.batch}" if self.role != "prefill" else f"B{self.batch}"
        if self.role == "colocated":
            op += f"-c{int(self.chunk_tokens)}"
        if self.spec is not None:
            op += f"-{self.spec.label()}"
        return f"{self.role}[{self.gpu}-{self.par.label()}-{op}]"


@dataclass(frozen=True)
class Rejected:
    """A shape/role that cannot serve: why, the best value it reaches, and the limit."""

    role: Role
    gpu: str
    par: Parallelism
    reason: Literal["memory", "tpot", "ttft", "budget"]   # budget: a prompt past the pass budget
    value: float
    limit: float
    detail: str
    slots: bool = False   # tpot: an instance below one sequence (too few slots, or the others' steps) breaks it


@dataclass(frozen=True)
class CandidateSet:
    candidates: tuple[Candidate, ...]
    rejected: tuple[Rejected, ...]
    shapes: int = 0


# ------------------------------------------------------------------------------ memoisation
MEMO_MAX_ENTRIES = 200_000  # a 4-GPU DeepSeek problem needs ~12k per TTFT limit
memo_table: dict[tuple, tuple] = {}


@contextlib.contextmanager
def gc_paused():
    """Python's cyclic garbage collector off for the block (as it was after): candidate generation
    allocates millions of small tuples and results and builds no cycles worth collecting (the 4 × 12
    fleet on 11 GPU types: ~650 objects in 1,300 collections), yet each collection walks every object
    alive — the memo's ~100,000 entries among them — and took ~0.3 of its 2.5 s. Nothing computed
    depends on it. The objects the block made are moved to the oldest generation as they are (a
    freeze and thaw: a list splice), not walked by the young collection that re-enabling it starts
    at the next allocation (~60 ms after the 4 × 12 fleet: every object it keeps); a full
    collection still reaches them. Skipped where a caller has frozen objects (the thaw would
    release them too). The freed heap is kept from then on (`keep_heap`)."""
    was = gc.isenabled()
    gc.disable()
    keep_heap()
    try:
        yield
    finally:
        if was:
            if not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()


HEAP_KEPT_BYTES = 64 << 20      # freed heap glibc keeps for the next arrays instead of returning it
HEAP_MMAP_FROM_BYTES = 4 << 20  # arrays from this size on mapped from the system, smaller ones from the heap
_heap = {"kept": False}


def keep_heap() -> None:
    """Once per process, glibc's allocator keeps up to HEAP_KEPT_BYTES of freed heap (M_TRIM_THRESHOLD) and
    serves arrays below HEAP_MMAP_FROM_BYTES from it (M_MMAP_THRESHOLD). Its defaults adapt as arrays are
    freed, but a grid's arrays (10⁴–10⁵ points, ~0.1–1 MB each) were returned to the system as they were
    freed and faulted in again as the next were made: 190,000 page faults and ~0.2 s of system time in
    the 4 × 12 fleet's 2.1 s on 11 GPU types, 47,000 with these. No value depends on it; elsewhere than
    glibc (no `mallopt`) it does nothing."""
    if _heap["kept"]:
        return
    _heap["kept"] = True
    try:
        import ctypes
        mallopt = ctypes.CDLL(None).mallopt
    except (ImportError, OSError, AttributeError, TypeError):   # no ctypes, no C library, or no mallopt in it
        return
    mallopt(-1, HEAP_KEPT_BYTES)        # M_TRIM_THRESHOLD
    mallopt(-3, HEAP_MMAP_FROM_BYTES)   # M_MMAP_THRESHOLD


def clear_memo() -> None:
    """Forget memoised physics results, the deployments that keep derived values and the shape
    groups (benchmarks time candidate generation from scratch)."""
    memo_table.clear()
    deployments.clear()
    many.groups_table.clear()


def _key(name: str, dep: Deployment, args: tuple) -> tuple:
    """Memo key: the identity of the deployment's catalog objects (loaded once per process and never
    mutated), the rest of the deployment (that part built once per deployment), and the values and
    types of everything else. The layout and the speculation enter as their fields' values: a tuple
    of numbers and strings hashes in C, where a dataclass's generated `__hash__` is a Python call
    (two of them per look-up, ~110,000 look-ups on the 4 × 12 fleet). That part enters as the number
    `_part_id` gives it, not hashed again at every look-up."""
    part = dep.derived.get("memo_key")
    if part is None:
        spec = None if dep.spec is None else (type(dep.spec), *astuple(dep.spec))
        part = dep.derived["memo_key"] = _part_id((id(dep.model), id(dep.gpu), id(dep.calib), *astuple(dep.par),
                                                   dep.weight_dtype, dep.expert_dtype, dep.part_dtypes,
                                                   dep.kv_dtype, spec))
    return (name, part, args, tuple(map(type, args)))  # 1 and 1.0 stay apart


PART_IDS_MAX_ENTRIES = 8192   # as `DEPLOYMENTS_MAX_ENTRIES`: one per distinct deployment
part_ids: dict[tuple, int] = {}
_next_part_id = itertools.count()


def _part_id(part: tuple) -> int:
    """A number for each distinct memo-key part of a deployment (equal parts, one number): a number
    is never given twice, even after the table is cleared (a part seen again then gets a new one, so
    its memo entries are only made again), so two parts never share one. Ids of catalog objects in a
    part stay theirs while any memo entry under its number exists (the entry keeps them alive)."""
    got = part_ids.get(part)
    if got is None:
        if len(part_ids) >= PART_IDS_MAX_ENTRIES:
            part_ids.clear()
        got = part_ids[part] = next(_next_part_id)
    return got


def recall(name: str, dep: Deployment, args: tuple):
    """The memoised value of (name, dep, args), or None."""
    return _recall(_key(name, dep, args))


def _recall(key: tuple):
    """The memoised value under `key`, or None."""
    hit = memo_table.get(key)
    return None if hit is None else hit[1]


def remember(name: str, dep: Deployment, args: tuple, value) -> None:
    """Memoise `value` for (name, dep, args)."""
    _store(_key(name, dep, args), dep, value)


def _store(key: tuple, dep: Deployment, value) -> None:
    """Memoise `value` under `key`; the entry keeps the catalog objects alive, so an id cannot be
    reused while its entry exists."""
    if len(memo_table) >= MEMO_MAX_ENTRIES:
        memo_table.clear()
    memo_table[key] = ((dep.model, dep.gpu, dep.calib), value)


def memoised(fn, dep: Deployment, *args):
    """fn(dep, *args) of a pure `perf` function, memoised for sweeps that re-solve one problem.
    Results are the very values fn returns."""
    key = _key(fn.__name__, dep, args)
    value = _recall(key)
    if value is None:
        value = fn(dep, *args)
        _store(key, dep, value)
    return value


DEPLOYMENTS_MAX_ENTRIES = 8192   # a 28-service fleet on 11 GPU types builds ~570 distinct deployments
deployments: dict[tuple, Deployment] = {}


def deployment(res: Resolved, opt: GPUOption, par: Parallelism, spec: Speculation | None = None) -> Deployment:
    """One instance of the problem's model on GPU type `opt` with layout `par` (what perf evaluates):
    one object per catalog objects (by identity), layout, precisions and speculation, so the values kept
    with it (`Deployment.derived`, its weights) are computed once for every service of a fleet that asks
    for it (the 4 × 12 fleet built 16,016 deployments of 572 distinct ones). A deployment is frozen, and
    the entry holds the catalog objects, so an id cannot be reused while its entry exists."""
    key = (id(res.model), id(opt.gpu), id(res.calib), par, res.weight_dtype, res.kv_dtype, spec,
           res.expert_dtype, res.part_dtypes)
    got = deployments.get(key)
    if got is None:
        if len(deployments) >= DEPLOYMENTS_MAX_ENTRIES:
            deployments.clear()
        got = deployments[key] = Deployment(res.model, opt.gpu, par, res.calib, res.weight_dtype, res.kv_dtype,
                                            spec, res.expert_dtype, res.part_dtypes)
    return got


def kv_nic_limit_tok_s(dep: Deployment, kv_tokens_per_token: float) -> float:
    """Tokens/s whose KV the instance's NICs can ship: cards·NIC·η_n / (kv_bytes_per_token·ratio)."""
    per_token = perf.kv_bytes_per_token(dep.arch, dep.kv_dtype) * kv_tokens_per_token
    return dep.cards * dep.gpu.nic_bytes_per_s * dep.calib.v("network_efficiency") / per_token


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `name#2`, `name#3` … when a pool of the same plan already has it, and add the
    result to `taken`. A candidate's name gives its role, GPU, layout, batch and chunk; two
    colocated operating points of one shape can share them and differ only in their share of
    prompt tokens per step (fleet_day's H20 batch pools), and a pool's name must identify it in
    the JSON, the checks and the simulation.

    >>> taken = set(); [unique_name(n, taken) for n in ("a", "b", "a", "a")]
    ['a', 'b', 'a#2', 'a#3']
    """
    out, k = name, 1
    while out in taken:
        k += 1
        out = f"{name}#{k}"
    taken.add(out)
    return out
