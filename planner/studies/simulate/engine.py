"""The event engine: prefill servers (Lindley in closed form, greedy batching) and the decode
engines (continuous batching, chunked prefill on colocated instances) run in time order."""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right

import numpy as np

from planner.studies.simulate.planfile import PlanPool
from planner.studies.simulate.tables import chunk_grid


# ----------------------------------------------------------------------------- prefill servers
def lindley_waits(arrivals: np.ndarray, service: np.ndarray) -> np.ndarray:
    """FIFO single-server waits: W₁ = 0, Wₙ₊₁ = max(0, Wₙ + Sₙ − (Aₙ₊₁ − Aₙ)), in closed form
    Wₙ = Uₙ − min_{k≤n} Uₖ with U the cumulative sum of Sₖ − (Aₖ₊₁ − Aₖ)."""
    if arrivals.size == 0:
        return np.zeros(0)
    u = np.concatenate([[0.0], np.cumsum(service[:-1] - np.diff(arrivals))])
    return u - np.minimum.accumulate(u)


def batched_server(arrivals: list[float], lengths: list[float], max_prompts: int, stages: int,
                   pass_s, per_prompt: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy batching: when the entry stage frees, take up to `max_prompts` waiting prompts,
    run one pass of `pass_s(k, mean length)`; the next batch may enter after pass/stages.
    `per_prompt`: the pass is the mean of `pass_s(k, sᵢ)` over its prompts' lengths instead (`pass_s`
    taking an array of lengths). The table holds passes of k prompts of one length, so that mean
    counts each prompt's own attention, quadratic in its length: Σsᵢ², not k·s̄².

    Returns per request (start, done) and per batch (start, entry-stage busy seconds) stacked.
    """
    n = len(arrivals)
    start = np.empty(n)
    done = np.empty(n)
    batches = []
    free, i = 0.0, 0
    cum = np.concatenate([[0.0], np.cumsum(lengths)]).tolist()
    lens = np.asarray(lengths, dtype=float)
    while i < n:
        t0 = arrivals[i] if arrivals[i] > free else free
        j = bisect_right(arrivals, t0, i, min(n, i + max_prompts))
        if per_prompt and j - i > 1:
            dt = float(pass_s(j - i, lens[i:j]).mean())
        else:
            dt = float(pass_s(j - i, (cum[j] - cum[i]) / (j - i)))
        start[i:j] = t0
        done[i:j] = t0 + dt
        free = t0 + dt / stages
        batches.append((t0, dt / stages))
        i = j
    return start, done, np.array(batches).reshape(-1, 2)


# ----------------------------------------------------------------------------- decode engines
class Engine:
    """Mutable state of one decode-capable instance during the run (internal to `simulate`)."""

    def __init__(self, pool: int, steps_s, cap: int, chunk: float, prefill_ids: list[int],
                 prefill_arrivals: list[float], uncached: list[float],
                 eager: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0), grid=None,
                 prompt_tokens: list[float] | None = None):
        self.pool, self.steps_s, self.cap, self.chunk = pool, steps_s, cap, chunk
        # the chunk sizes the table's columns hold (`tables.chunk_grid`)
        self.grid = [float(x) for x in (chunk_grid(chunk) if grid is None else grid)]
        # a step with prompt tokens: seconds per pass and per prompt, attention-DP ranks, and the
        # table's mean prompt (`tables.eager_parts`; a step of unknown prompts holds chunk/mean)
        self.eager_s, self.per_prompt_s, self.dp, self.prompt_mean = eager
        self.prompt_tokens = uncached if prompt_tokens is None else prompt_tokens   # each prompt's whole length
        self.p_ids, self.p_arr, self.unc = prefill_ids, prefill_arrivals, uncached
        self.p_next = 0
        self.p_left = uncached[0] if uncached else 0.0
        self.prefilling = 0       # prompts started here that decode here and are not yet prefilled
        self.clock = 0.0
        self.idle = True
        self.b = 0
        self.step = 0
        self.pending: list[tuple[float, int]] = []   # heap of (ready time, request)
        self.ends: dict[int, list[int]] = {}          # step index → requests finishing then
        self.firsts: dict[int, list[int]] = {}        # step index → requests whose first token it makes
        self.win_s = self.win_batch_s = self.win_tokens = self.win_chunk_s = 0.0

    def slot_free(self) -> bool:
        """Whether a request may take a batch slot: one arriving from prefill, or a prompt that will
        decode here. Like an engine's running-request limit (vLLM `max_num_seqs`, SGLang
        `max_running_requests`), such a prompt holds its slot from its first chunk, so it waits in
        the queue (its TTFT) rather than after its first token (its TPOT) when the batch is full."""
        return self.b + self.prefilling < self.cap

    def prompt_arrived(self, now: float) -> bool:
        """Whether the head of the prefill queue has arrived by `now` (a chunk can take from it)."""
        return self.p_next < len(self.p_arr) and self.p_arr[self.p_next] <= now

    def next_wake(self) -> float:
        """Earliest time something can happen on an idle instance."""
        a = self.pending[0][0] if self.pending else math.inf
        b = self.p_arr[self.p_next] if self.p_next < len(self.p_arr) else math.inf
        return min(a, b)

    def step_time(self, chunk: float, batch: int | None = None, prompts: float = 0.0) -> float:
        """Seconds of a step at the current batch (or `batch`) with `chunk` prefill tokens that are
        `prompts` prompts' worth (each piece its share of its prompt, as `perf.mixed_step` counts a
        chunk of the mean prompt; 0: chunk/mean), the eager pass's host time for at least one."""
        row = self.steps_s[self.b if batch is None else batch]
        if not self.chunk:
            return row
        if chunk == 0.0:   # the interpolation below at x = 0, without the arithmetic: row[0]
            return row[0]
        g = self.grid
        j = min(bisect_right(g, chunk), len(g) - 1) - 1
        f = (chunk - g[j]) / (g[j + 1] - g[j])
        held = prompts if prompts > 0 else max(chunk / self.prompt_mean, 1.0)
        return row[j] * (1 - f) + row[j + 1] * f + self.eager_s + max(held / self.dp, 1.0) * self.per_prompt_s


PHANTOM = -1   # a sequence already decoding when the run starts: it holds a slot and is not measured


def steady_batch(e: Engine, requests_per_s: float, mean_steps: float, prompt_tokens_per_s: float) -> float:
    """The instance's mean number of sequences in decode in steady state, by Little's law from its
    own step table and load: b = λ·E[steps]·t̄(b) (sequences in service = arrival rate × time in
    service), t̄(b) the mean step at batch b. On a colocated instance t̄ mixes steps with a full
    chunk of C prompt tokens, a share q that carries the prompt tokens arriving at rate r
    (q·C = r·t̄, t̄ = q·t_C + (1 − q)·t_0, so q = r·t_0 / (C − r·(t_C − t_0))), and steps
    without. The fixed point between the whole batches where λ·E[steps]·t̄ crosses b, at most the
    slots (an overloaded instance starts full); 0 without load."""
    if requests_per_s <= 0 or mean_steps <= 0:
        return 0.0

    def load(b: int) -> float:   # λ·E[steps]·t̄(b)
        t0 = e.step_time(0.0, b)
        if not e.chunk or prompt_tokens_per_s <= 0:
            return requests_per_s * mean_steps * t0
        tc = e.step_time(e.chunk, b)
        room = e.chunk - prompt_tokens_per_s * (tc - t0)
        q = 1.0 if room <= 0 else min(1.0, prompt_tokens_per_s * t0 / room)
        return requests_per_s * mean_steps * (q * tc + (1.0 - q) * t0)

    if load(e.cap) > e.cap:
        return float(e.cap)
    lo, hi = 0, e.cap            # load(lo) > lo (load(0) > 0) and load(hi) ≤ hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if load(mid) > mid else (lo, mid)
    g_lo, g_hi = load(lo), load(hi)
    slope = g_hi - g_lo
    return lo + (g_lo - lo) / (1.0 - slope) if slope < 1.0 else float(hi)


def start_full(e: Engine, rng: np.random.Generator, batch: float, steps: np.ndarray) -> None:
    """Start the instance with `batch` sequences already decoding (a whole number: the fractional
    part taken at random), as it holds them in steady state, instead of empty: an instance planned
    at nearly all its slots otherwise fills over several request lifetimes (the queue for its last
    slots relaxes slowly near the cap), longer than the measurement window's warm-up, and a run
    reads its batch light and its TPOT optimistic. Each such sequence has the steps left of a
    request caught in service: one drawn with probability ∝ its steps (`steps`: those of the
    instance's own requests), with a uniform share of them left (1 … steps)."""
    k = min(int(batch) + int(rng.random() < batch - int(batch)), e.cap)
    if k <= 0 or steps.size == 0:
        return
    w = steps.astype(float)
    left = (rng.random(k) * w[rng.choice(steps.size, size=k, p=w / w.sum())]).astype(np.int64) + 1
    for n in left.tolist():
        e.ends.setdefault(n - 1, []).append(PHANTOM)
    e.b = k


def _take_chunk(e: Engine, i: int, now: float, started: np.ndarray,
                here: list[int]) -> tuple[float, list[int], float]:
    """Up to C prompt tokens from the head of instance i's prefill queue (arrived by `now`),
    first come first served; a prompt that will decode on this instance starts only when a batch
    slot is free for it (`Engine.slot_free`). `here[r]`: the instance request r decodes on if it
    decodes at all, else -1.
    Returns the tokens taken, the prompts they complete and how many prompts' worth they are (each
    piece its share of its prompt)."""
    budget, done, held = e.chunk, [], 0.0
    while budget > 0 and e.prompt_arrived(now):
        r = e.p_ids[e.p_next]
        if math.isnan(started[r]):
            if here[r] == i:
                if not e.slot_free():
                    break
                e.prefilling += 1
            started[r] = now
        take = min(budget, e.p_left)
        held += take / e.prompt_tokens[e.p_next]
        budget -= take
        e.p_left -= take
        if e.p_left <= 1e-9:
            done.append(r)
            e.p_next += 1
            e.p_left = e.unc[e.p_next] if e.p_next < len(e.unc) else 0.0
    return e.chunk - budget, done, held


def run_engines(engines: list[Engine | None], steps_needed: np.ndarray, dec_inst: np.ndarray,
                kv_s: np.ndarray, tokens_per_step: np.ndarray, window: tuple[float, float],
                first: np.ndarray, finish: np.ndarray, started: np.ndarray) -> None:
    """Advance all decode-capable instances in time order (a heap of next step starts).

    Colocated prefills hand requests to other instances while the run goes on, so all
    engines share one clock order; requests from prefill pools are already in `pending`.
    `engines` is indexed by instance (None for prefill instances). Fills `first`
    (colocated prefills), `finish` and `started` in place.
    """
    heap = []
    here = np.where(steps_needed > 0, dec_inst, -1).tolist()
    for i, e in enumerate(engines):
        if e is None:
            continue
        heapq.heapify(e.pending)
        e.clock = 0.0 if e.b else e.next_wake()   # started full (`start_full`): it steps from 0
        e.idle = not e.b
        if e.clock < math.inf:
            heap.append((e.clock, i))
    heapq.heapify(heap)
    w0, w1 = window
    while heap:
        now, i = heapq.heappop(heap)
        e = engines[i]
        assert e is not None
        if now != e.clock:
            continue
        while e.pending and e.slot_free() and e.pending[0][0] <= now:
            _, r = heapq.heappop(e.pending)
            e.ends.setdefault(e.step + int(steps_needed[r]) - 1, []).append(r)
            e.b += 1
            if math.isnan(first[r]):   # nothing prefilled it (every prompt token cached): this step does
                started[r] = now
                e.firsts.setdefault(e.step, []).append(r)
        # a chunk only when a prompt has arrived (`_take_chunk` takes nothing otherwise)
        chunk, completed, held = _take_chunk(e, i, now, started, here) \
            if e.chunk and e.prompt_arrived(now) else (0.0, [], 0.0)
        if e.b == 0 and chunk == 0:
            e.idle, e.clock = True, e.next_wake()
            if e.clock <= now:   # the head prompt waits for a slot held by a request still in transfer
                e.clock = e.pending[0][0] if e.pending else math.inf
            if e.clock < math.inf:
                heapq.heappush(heap, (e.clock, i))
            continue
        e.idle = False
        dt = e.step_time(chunk, prompts=held)
        end = now + dt
        if w0 <= now <= w1:
            e.win_s += dt
            e.win_batch_s += e.b * dt
            e.win_tokens += e.b * tokens_per_step[e.pool]
            if chunk > 0:
                e.win_chunk_s += dt
        for r in e.firsts.pop(e.step, ()):
            first[r] = end
        finished = e.ends.pop(e.step, ())
        for r in finished:
            if r != PHANTOM:
                finish[r] = end
        e.b -= len(finished)
        e.step += 1
        for r in completed:
            first[r] = end
            if here[r] == i:   # decodes here: joins the batch from the next step, in its held slot
                e.prefilling -= 1
                e.ends.setdefault(e.step + int(steps_needed[r]) - 1, []).append(r)
                e.b += 1
                continue
            if steps_needed[r] == 0:
                finish[r] = end
                continue
            y = int(dec_inst[r])
            ready = end if y == i else end + kv_s[r]
            target = engines[y]
            assert target is not None  # decode routing gives prefill instances no weight
            heapq.heappush(target.pending, (ready, r))
            if target.idle and ready < target.clock:
                target.clock = ready
                heapq.heappush(heap, (ready, y))
        e.clock = end
        until = heap[0][0] if heap else math.inf
        if e.b and not completed and end < until:   # (at a high load another instance is next: no call)
            _plain_steps(e, until, window, tokens_per_step[e.pool])
        heapq.heappush(heap, (e.clock, i))


def _plain_steps(e: Engine, until: float, window: tuple[float, float], tokens: float) -> None:
    """Run engine e's next steps inline while each is a plain decode step that starts before any
    other instance's next event (`until`): no request finishes or gets its first token in it, none
    is admitted, no prompt has arrived for a chunk. Each is what the heap loop would do with it, in
    the same order of float operations, without its heap and queue work: an instance alone at a
    low load ran one Python loop turn per step (`qps: 0.5`, 1.6·10⁷ steps, 11 s). Past
    PLAIN_ONE_BY_ONE steps the rest of the run is taken in arrays (`_plain_run`)."""
    ends, firsts, pending = e.ends, e.firsts, e.pending
    dt = None
    for _ in range(PLAIN_ONE_BY_ONE):
        now = e.clock
        if now >= until or e.step in ends or e.step in firsts or \
                (pending and pending[0][0] <= now and e.slot_free()) or (e.chunk and e.prompt_arrived(now)):
            return
        if dt is None:   # only once a plain step is there: at a high load most calls end above
            dt = e.step_time(0.0, prompts=0.0)
        _count(e, now, dt, window, tokens)
        e.step += 1
        e.clock = now + dt
    if dt is not None and dt > 0 and len(ends) + len(firsts) <= PLAIN_ONE_BY_ONE:
        _plain_run(e, until, dt, window, tokens)


PLAIN_ONE_BY_ONE = 16   # plain steps taken one at a time before the rest is taken in arrays


def _count(e: Engine, now: float, dt: float, window: tuple[float, float], tokens: float) -> None:
    """A plain step's share of the measurement window's sums (as the heap loop adds it)."""
    if window[0] <= now <= window[1]:
        e.win_s += dt
        e.win_batch_s += e.b * dt
        e.win_tokens += e.b * tokens


def _plain_run(e: Engine, until: float, dt: float, window: tuple[float, float], tokens: float) -> None:
    """`_plain_steps` for a long run: its steps' start times and the window's sums by sequential
    accumulation in numpy (`np.add.accumulate` adds left to right, the floats of the loop), up to
    the first step that is not plain: the next step a request finishes or gets its first token in,
    or the first start at or after `until`, the head of the queue's ready time (with a slot free)
    or the next prompt's arrival (with chunks)."""
    stop = until
    if e.pending and e.slot_free():
        stop = min(stop, e.pending[0][0])
    if e.chunk and e.p_next < len(e.p_arr):
        stop = min(stop, e.p_arr[e.p_next])
    last = min(min(e.ends, default=math.inf), min(e.firsts, default=math.inf))   # a step not plain
    w0, w1 = window
    while e.clock < stop and e.step < last:
        n = int(min(last - e.step, PLAIN_CHUNK))
        starts = np.add.accumulate(np.concatenate(([e.clock], np.full(n, dt))))   # starts[j]: step j's start
        k = min(int(np.searchsorted(starts, stop, side="left")), n)              # steps 0 … k−1 start before stop
        a, z = (int(np.searchsorted(starts[:k], w0, side="left")),
                int(np.searchsorted(starts[:k], w1, side="right")))              # those inside the window
        if z > a:
            e.win_s = _added(e.win_s, dt, z - a)
            e.win_batch_s = _added(e.win_batch_s, e.b * dt, z - a)
            e.win_tokens = _added(e.win_tokens, e.b * tokens, z - a)
        e.step += k
        e.clock = float(starts[k])
        if k < n:
            return


PLAIN_CHUNK = 1 << 16   # steps of one array in `_plain_run`


def _added(total: float, x: float, n: int) -> float:
    """`total` with `x` added `n` times, left to right (the float a loop of `total += x` gives)."""
    return float(np.add.accumulate(np.concatenate(([total], np.full(n, x))))[-1])


def prefill_instance(arrivals: np.ndarray, s_in: np.ndarray, p: PlanPool, s_grid: np.ndarray,
                      table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, done, batches) of one prefill instance; Lindley in closed form when B = pp = 1."""
    if p.design_batch == 1 and p.parallelism.pp == 1:
        service = np.interp(s_in, s_grid, table[1])
        start = arrivals + lindley_waits(arrivals, service)
        return start, start + service, np.column_stack([start, service])

    def pass_s(k: int, s):
        return np.interp(s, s_grid, table[k])
    return batched_server(arrivals.tolist(), s_in.tolist(), p.design_batch, p.parallelism.pp, pass_s, per_prompt=True)
