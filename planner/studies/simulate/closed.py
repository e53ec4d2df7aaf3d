"""A closed-loop benchmark, event by event: `c` clients each send a request, wait for its last
token and send the next, `k` requests each (what `vllm bench serve --max-concurrency c` and
SGLang's bench_serving at a fixed concurrency do). It runs the step model of `physics` — the
same `mixed_step`, `decode_step`, `prefill_pass` and KV transfer as the analytic closed-loop
model in `physics.benchmark` — without its mean-value approximations, to check them.

Agg: one colocated instance. A request takes a decode slot (at most the running batch whose KV
fits, `benchmark.running_batch`) or waits for one, FIFO; admitted prompts are prefilled in
chunks of up to the token budget per step beside the decode batch (an engine that prefills first,
`Benchmark.prefill_first`, runs a step of prompt chunks alone while prompts wait); the first
token comes at the end of the step that finishes the prompt, then the sequence decodes one step
at a time (`tokens_per_step` tokens per step).
Disagg: `prefill_workers` prefill instances (client i's requests go to worker i mod W) pack up
to ⌊C/s⌋ waiting prompts per pass; the KV moves to a decode worker (one per `batch` clients)
where a slot was reserved when the request was sent.
Every request has the benchmark's fixed lengths; decode steps run at the mean context
isl + osl/2, as in the analytic model. TTFT adds the fixed per-request time; TPOT is
(last token − TTFT)/(osl − 1), as benchmark tools report it.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from planner.errors import BadInput
from planner.physics.benchmark import Benchmark, running_batch, tpot, ttft
from planner.physics.deployment import Deployment
from planner.physics.perf import decode_step, kv_transfer_time, mixed_step, prefill_pass, request_overhead_s
from planner.studies.simulate.results import Summary

MAX_REQUESTS = 200_000   # clients × requests each; the run's memory and time grow with it


@dataclass(frozen=True)
class ClosedLoopResult:
    """Simulated statistics of one closed-loop benchmark (seconds; tokens/s over the run)."""

    requests: int
    ttft: Summary
    tpot: Summary | None
    duration_s: float
    output_tokens_per_s: float

    def as_dict(self) -> dict:
        return {"requests": self.requests, "ttft_s": self.ttft.as_dict(),
                "tpot_s": self.tpot.as_dict() if self.tpot else None,
                "duration_s": self.duration_s, "output_tokens_per_s": self.output_tokens_per_s}


@dataclass
class _Instance:
    """An agg instance or a decode worker during the run."""

    cap: int
    used: int = 0                       # slots held (admitted, not finished)
    b: int = 0                          # sequences decoding
    step: int = 0                       # decode steps run
    busy: bool = False
    prompts: deque = field(default_factory=deque)    # agg: [request, uncached tokens left]
    joining: list = field(default_factory=list)      # sequences that decode from the next step
    ends: dict = field(default_factory=dict)         # decode step index → requests ending then


@dataclass
class _PrefillWorker:
    queue: deque = field(default_factory=deque)
    busy: bool = False


def requests_per_client(clients: int, k: float) -> list[int]:
    """Requests each client sends: ⌈k⌉ for the first round(frac·clients), ⌊k⌋ for the rest, so the
    mean is k (to 1/clients); at least one each.

    >>> requests_per_client(4, 2.5)
    [3, 3, 2, 2]
    """
    lo = max(1, math.floor(k))
    extra = round((k - math.floor(k)) * clients) if k >= 1 else 0
    return [lo + 1 if i < extra else lo for i in range(clients)]


def simulate_benchmark(bm: Benchmark, dep: Deployment, prefill_dep: Deployment | None = None,
                       k: float | None = None) -> ClosedLoopResult:
    """Run the closed loop of `bm` on `dep` (agg instance or decode worker) and `prefill_dep`
    (disagg prefill worker; None: `dep`); `k` requests per client (None: the calibration's
    benchmark_requests_per_client)."""
    pd = prefill_dep if prefill_dep is not None else dep
    k = pd.calib.v("benchmark_requests_per_client") if k is None else k
    clients = max(1, round(bm.total_clients))
    sends = requests_per_client(clients, k)
    n = sum(sends)
    if n > MAX_REQUESTS:
        raise ValueError(f"{clients} clients × {k:g} requests = {n} requests, more than {MAX_REQUESTS:,}")
    return _Loop(bm, dep, pd, clients, sends).run()


class _Loop:
    """State and events of one run (internal to simulate_benchmark)."""

    def __init__(self, bm: Benchmark, dep: Deployment, pd: Deployment, clients: int, sends: list[int]):
        self.bm, self.dep, self.pd = bm, dep, pd
        self.left = list(sends)
        n = sum(sends)
        self.sent, self.first, self.finish = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
        self.client = np.zeros(n, dtype=np.int64)
        self.home = np.zeros(n, dtype=np.int64)           # instance index of each request
        self.next_id = 0
        cap = max(1, int(running_batch(bm, dep)))
        workers = 1 if bm.mode == "agg" else max(1, round(bm.total_clients / max(bm.batch, 1.0)))
        self.insts = [_Instance(cap) for _ in range(workers)]
        self.pre = [_PrefillWorker() for _ in range(bm.prefill_workers if bm.mode == "disagg" else 0)]
        self.waiting: deque = deque()
        self.steps_needed = math.ceil(max(bm.osl - 1.0, 0.0) / bm.tokens_per_step)
        self.ctx = bm.context_tokens
        # an engine computes at least a prompt's last token to sample its first output token, so a
        # wholly cached prompt still takes one token of a step (with none, it was never scheduled)
        self.uncached = max(bm.uncached_tokens, 1.0)
        self.packed = int(max(1.0, bm.budget_tokens // self.uncached))
        self.kv_s = kv_transfer_time(pd, bm.isl) if bm.mode == "disagg" else 0.0
        self.heap: list = []
        self.seq = 0
        self.cache: dict = {}
        self.now = 0.0
        for c in range(clients):
            self.send(c, 0.0)
        self.admit()

    # ------------------------------------------------------------------ events
    def push(self, t: float, kind: str, x: int, payload=None) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, x, payload))

    def run(self) -> ClosedLoopResult:
        while self.heap:
            t, _, kind, x, payload = heapq.heappop(self.heap)
            self.now = t
            if kind == "step":
                self.step_end(x, *payload)
            elif kind == "pass":
                self.pass_end(x, payload)
            else:   # "kv": a prefilled request reaches its decode worker
                self.insts[self.home[x]].joining.append(x)
                self.kick(int(self.home[x]))
        return self.result()

    def result(self) -> ClosedLoopResult:
        ttft = self.first + request_overhead_s(self.pd) - self.sent
        tpot = None
        if self.bm.osl > 1:
            # last token − first token on the engine's clock: the fixed time per request delays both
            # (it was subtracted from the decode span before: overhead/(osl − 1) too fast)
            tpot = Summary.of((self.finish - self.first) / (self.bm.osl - 1.0))
        span = float(np.nanmax(self.finish))
        summary = Summary.of(ttft)
        assert summary is not None
        return ClosedLoopResult(len(self.sent), summary, tpot, span, len(self.sent) * self.bm.osl / span)

    def send(self, c: int, t: float) -> None:
        """Client c sends its next request at t: it queues for a slot (`admit` gives the slots)."""
        if not self.left[c]:
            return
        self.left[c] -= 1
        r = self.next_id
        self.next_id += 1
        self.sent[r], self.client[r] = t, c
        self.waiting.append(r)

    def admit(self) -> None:
        """Waiting requests take free slots, FIFO (disagg: the decode worker with most room)."""
        while self.waiting:
            i = max(range(len(self.insts)), key=lambda j: self.insts[j].cap - self.insts[j].used)
            inst = self.insts[i]
            if inst.used >= inst.cap:
                return
            r = self.waiting.popleft()
            inst.used += 1
            self.home[r] = i
            if self.bm.mode == "agg":
                inst.prompts.append([r, self.uncached])
                self.kick(i)
            else:
                w = int(self.client[r]) % len(self.pre)
                self.pre[w].queue.append(r)
                self.start_pass(w)

    def done(self, r: int, t: float) -> None:
        """Request r's last token at t: its slot frees, its client sends the next, and the head of
        the queue takes the slot."""
        self.finish[r] = t
        self.insts[self.home[r]].used -= 1
        self.send(int(self.client[r]), t)
        self.admit()

    # ------------------------------------------------------------------ prefill workers (disagg)
    def start_pass(self, w: int) -> None:
        pw = self.pre[w]
        if pw.busy or not pw.queue:
            return
        batch = [pw.queue.popleft() for _ in range(min(self.packed, len(pw.queue)))]
        key = ("pass", len(batch))
        if key not in self.cache:
            u = self.uncached
            self.cache[key] = prefill_pass(self.pd, float(len(batch)), u, max(self.bm.isl - u, 0.0)).time_s
        pw.busy = True
        self.push(self.now + self.cache[key], "pass", w, batch)

    def pass_end(self, w: int, batch: list[int]) -> None:
        self.pre[w].busy = False
        for r in batch:
            self.first[r] = self.now + self.kv_s
            if self.steps_needed == 0:
                self.done(r, self.first[r])
            else:
                self.push(self.now + self.kv_s, "kv", r)
        self.start_pass(w)

    # ------------------------------------------------------------------ agg instances, decode workers
    def kick(self, i: int) -> None:
        if not self.insts[i].busy:
            self.start_step(i)

    def step_time(self, b: int, chunk: float) -> float:
        key = (b, chunk)
        if key not in self.cache:
            self.cache[key] = (mixed_step(self.dep, float(b), self.ctx, chunk, self.bm.isl).time_s if chunk
                               else decode_step(self.dep, float(b), self.ctx).time_s)
        return self.cache[key]

    def start_step(self, i: int) -> None:
        inst = self.insts[i]
        for r in inst.joining:
            inst.ends.setdefault(inst.step + self.steps_needed - 1, []).append(r)
        inst.b += len(inst.joining)
        inst.joining = []
        chunk, completed = self.take_chunk(inst)
        decodes = not (self.bm.prefill_first and chunk)   # a prefill-first engine's prompt step decodes nothing
        b = inst.b if decodes else 0
        if b == 0 and not chunk:
            inst.busy = False
            return
        inst.busy = True
        k = self.plain_steps(inst, b, chunk)
        self.push(self.now + k * self.step_time(b, chunk), "step", i, (decodes, completed, k))

    def plain_steps(self, inst: _Instance, b: int, chunk: float) -> int:
        """Steps the instance runs before anything changes, as one event: a decode step without a
        chunk, no prompt admitted and none joining, repeats until the step whose end finishes a
        request (only a finished request sends, admits or frees a slot; a disaggregated loop's
        prefill workers may hand over a request at any time, so there only with no event pending).
        One event per step made a 1M-token answer at 64 clients run 130 s; the times are the same
        steps', summed as k × step."""
        if chunk or not b or inst.prompts or inst.joining or not inst.ends or (self.bm.mode != "agg" and self.heap):
            return 1
        return max(1, min(inst.ends) - inst.step + 1)

    def take_chunk(self, inst: _Instance) -> tuple[float, list[int]]:
        """Up to the token budget from the head of the instance's admitted prompts."""
        budget, completed = self.bm.budget_tokens, []
        while budget > 0 and inst.prompts:
            head = inst.prompts[0]
            take = min(budget, head[1])
            budget -= take
            head[1] -= take
            if head[1] <= 1e-9:
                completed.append(head[0])
                inst.prompts.popleft()
        return self.bm.budget_tokens - budget, completed

    def step_end(self, i: int, decodes: bool, completed: list[int], k: int = 1) -> None:
        inst = self.insts[i]
        inst.step += k - 1   # the plain steps before this one (`plain_steps`)
        if decodes and inst.b:
            ended = inst.ends.pop(inst.step, [])
            inst.step += 1
            inst.b -= len(ended)
            for r in ended:
                self.done(r, self.now)
        elif decodes:
            inst.step += 1
        for r in completed:
            self.first[r] = self.now
            if self.steps_needed == 0:
                self.done(r, self.now)
            else:
                inst.joining.append(r)
        self.start_step(i)


def benchmark_check(dep: Deployment, input_tokens: float, output_tokens: float, concurrency: int,
                    prefix_hit: float = 0.0, k: float | None = None) -> dict:
    """A closed-loop benchmark of one colocated instance at `concurrency` (what
    `vllm bench serve --max-concurrency c` measures against it, fixed lengths): the analytic
    formula's TTFT and TPOT (`physics.benchmark`, what the fit uses) beside this simulation of the
    same loop. `k`: requests per client (None: the calibration's benchmark_requests_per_client)."""
    k = dep.calib.v("benchmark_requests_per_client") if k is None else k
    n = sum(requests_per_client(concurrency, k))
    if n > MAX_REQUESTS:
        raise BadInput(f"--concurrency {concurrency} × --requests-per-client {k:g} = {n:,} requests; the "
                       f"simulation runs at most {MAX_REQUESTS:,}")
    bm = Benchmark("agg", float(input_tokens), float(output_tokens), float(concurrency), float(concurrency),
                   cached_fraction=prefix_hit)
    sim = simulate_benchmark(bm, dep, k=k)
    return {"concurrency": concurrency, "requests_per_client": k, "running_batch": running_batch(bm, dep),
            "formula": {"ttft_s": ttft(bm, dep), "tpot_s": tpot(bm, dep)}, "simulated": sim.as_dict()}
