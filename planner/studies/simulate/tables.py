"""The physics of a simulated plan: each pool's Deployment rebuilt from the catalog, and its
prefill-pass and step times tabulated on a grid (the engines interpolate them)."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass

import numpy as np

from planner.catalog.calibration import Calibration, load_calibration
from planner.catalog.schemas import GPU, Model, get_gpu, get_model
from planner.errors import BadInput
from planner.input.schema import Precision
from planner.physics import perf
from planner.physics.deployment import kv_bytes_per_sequence
from planner.physics.perf import Deployment, Parallelism, Speculation
from planner.studies.simulate.planfile import PlanFile

DENSE_BATCH_UPTO = 32      # batch sizes tabulated one by one; geometric beyond
GEOMETRIC_POINTS = 48      # grid points from DENSE_BATCH_UPTO to the largest batch
LENGTH_GRID_POINTS = 32    # prompt lengths tabulated when the workload has more values
CHUNK_GRID_POINTS = 13     # colocated prefill chunk sizes tabulated from 0 to C, C·(j/12)², and the
# workload's own uncached prompt lengths: dense where a step's compute still hides under its weight
# read (a linear grid of 9 read a lone 300-token prompt's step of Llama-3.1-8B on H100 24 % slow,
# interpolating across the roofline's knee)


@dataclass(frozen=True)
class SimCatalog:
    """Catalog objects a caller has already resolved, used instead of looking the plan's names
    up again: the plan's model, its pools' GPUs by catalog id (lower case, as `get_gpu` looks
    them up) and the calibration as the plan was solved with it (overrides already applied,
    as `Resolved.calib` holds it; the plan's `calibration_overrides` are not applied again)."""

    model: Model
    gpus: dict[str, GPU]
    calibration: Calibration


@dataclass(frozen=True)
class SimPhysics:
    """Shared look-ups: the model, calibration and workload numbers every pool needs."""

    plan: PlanFile
    deployments: tuple[Deployment, ...]        # one per pool
    lengths_in: tuple[np.ndarray, np.ndarray]  # (values, probabilities)
    lengths_out: tuple[np.ndarray, np.ndarray]
    tokens_per_step: tuple[float, ...]         # a: accepted tokens per decode step, per pool


def check_model_id(plan: PlanFile, model_id: str, source: str) -> None:
    """BadInput unless the plan's `model` is the model its `model_source` resolves to, as plan solve
    writes it: the simulation and the export's weights follow the source, the served name, router and
    load test the `model`, so an edited one (`llama-9` beside llama-3.1-8b) was exported as if served."""
    if plan.model != model_id:
        src = f"its model_source {plan.model_source!r} is" if plan.model_source else "the catalog names it"
        raise BadInput(f"{source}: model: {plan.model!r}, but {src} model {model_id!r}; plan solve writes "
                       f"the model it planned (edit both, or re-solve)")


def _catalog(source: str, field: str, fn):
    """Run a catalog look-up; a BadInput names the plan file and field."""
    try:
        return fn()
    except BadInput as e:
        raise BadInput(f"{source}: {field}: {e}") from None


def distribution(pairs: list[list[float]] | None, mean: float) -> tuple[np.ndarray, np.ndarray]:
    """(values, probabilities) of a length distribution; the mean alone when the plan lacks it."""
    if not pairs:
        return np.array([mean]), np.array([1.0])
    v = np.array([p[0] for p in pairs])
    w = np.array([p[1] for p in pairs])
    return v, w / w.sum()


def prompt_cv2(plan: PlanFile, lengths_in: tuple[np.ndarray, np.ndarray]) -> float:
    """Squared coefficient of variation of the plan's prompt lengths (a fleet service's: the mix of
    its classes by their requests/s), as the planner's `WorkloadContext.cv2`: a colocated pool's
    chunk steps charge each prompt token the mean keys E[L²]/(2E[L]) (`perf.mixed_step`)."""
    if plan.classes:
        parts = [(k.qps, *distribution(k.input_distribution, k.input_tokens)) for k in plan.classes]
        total = sum(q for q, _, _ in parts)
        v = np.concatenate([vals for _, vals, _ in parts])
        p = np.concatenate([q / total * probs for q, _, probs in parts])
    else:
        v, p = lengths_in
    mean = float(np.dot(p, v))
    return float(np.dot(p, (v - mean) ** 2)) / mean**2 if mean > 0 else 0.0


def _check_layout(model, par: Parallelism, spec, where: str) -> None:
    """BadInput for a layout or speculation a problem's candidates never take for this model, as
    `plan eval` and serving.parallelism refuse them: a plan's model swapped by hand (DeepSeek's
    pools on Llama-3.1-8B exported `--dp-size 8 --enable-dp-attention`, MTP on Llama simulated)."""
    a = model.arch
    if a.heads % par.tp:
        raise BadInput(f"{where}.parallelism.tp: TP{par.tp} does not divide {model.id}'s {a.heads} attention heads")
    if par.pp > a.layers:
        raise BadInput(f"{where}.parallelism.pp: {par.pp} stages, more than {model.id}'s {a.layers} layers")
    if par.dp > 1 and not a.is_moe:
        raise BadInput(f"{where}.parallelism.dp: {par.dp}: attention data parallelism needs a mixture-of-experts "
                       f"model; {model.id} is dense")
    if spec is not None and spec.method == "mtp" and a.mtp_layers < 1:
        raise BadInput(f"{where}.speculative.method: mtp, but {model.id} has no multi-token-prediction layers")


def _profile_named(name: str) -> str:
    """The profile a plan's `calibration` names, without what plan solve appends to it: '+overrides'
    (`Calibration.with_overrides`) and '@P%' (`plan.resolve.at_confidence`).

    >>> _profile_named("default+overrides@90%"), _profile_named("mine@99.5%"), _profile_named("a@b")
    ('default', 'mine', 'a@b')
    """
    base, at, pct = name.rpartition("@")
    if at and pct.endswith("%"):
        try:
            float(pct[:-1])
            name = base
        except ValueError:
            pass
    return name.removesuffix("+overrides")


def physics(plan: PlanFile, source: str, resolved: SimCatalog | None = None) -> SimPhysics:
    """Rebuild each pool's Deployment from catalog look-ups (model, GPU, calibration), or from
    the objects in `resolved` when the caller already holds them."""
    if resolved is None:
        model = _catalog(source, "model", lambda: get_model(plan.model_source or plan.model))
        check_model_id(plan, model.id, source)
        calib = _catalog(source, "calibration_source" if plan.calibration_source else "calibration",
                         lambda: load_calibration(plan.calibration_source or plan.calibration))
        # the name the README prints: the profile read, as plan solve names it ('+overrides' beside
        # calibration_overrides, '@90%' under slo.confidence; overrides added by hand are simulated as
        # a what-if), never one that names another profile
        if plan.calibration_source and _profile_named(plan.calibration) != calib.name:
            raise BadInput(f"{source}: calibration: {plan.calibration!r}, but the profile the plan was solved with "
                           f"(calibration_source {plan.calibration_source!r}) is named {calib.name!r}; plan solve "
                           f"writes the name of the profile it read: write it back, or re-solve the problem with "
                           f"the profile you mean")
        if plan.calibration_overrides:
            calib = _catalog(source, "calibration_overrides",
                             lambda: calib.with_overrides(plan.calibration_overrides))
        gpus = None   # get_gpu's own catalog
    else:
        model, calib, gpus = resolved.model, resolved.calibration, resolved.gpus
        if model.id != plan.model:
            raise BadInput(f"{source}: model: the plan is for {plan.model!r}, the resolved model "
                           f"is {model.id!r}")
    deps = []
    for i, p in enumerate(plan.pools):
        gpu = _catalog(source, f"pools[{i}].gpu", lambda p=p: get_gpu(p.gpu, gpus))
        par = Parallelism(tp=p.parallelism.tp, pp=p.parallelism.pp, dp=p.parallelism.dp)
        _check_layout(model, par, p.speculative, f"{source}: pools[{i}]")
        s = p.speculative
        spec = None if s is None else Speculation(s.method, s.draft_tokens, s.acceptance)
        deps.append(Deployment(model, gpu, par, calib, plan.weight_dtype, plan.kv_dtype, spec, plan.expert_dtype,
                               tuple(plan.part_dtypes.items())))
    w = plan.workload
    lengths_in, lengths_out = distribution(w.input_distribution, w.input_tokens), \
        distribution(w.output_distribution, w.output_tokens)
    if resolved is None:   # a plan file's lengths, as a problem's are noted (200,000-token answers on Llama-3.1-8B)
        from planner.plan.services import note_past_context
        note_past_context(model, float(lengths_in[0].max() + lengths_out[0].max()), source)
    return SimPhysics(plan, tuple(deps), lengths_in, lengths_out, tuple(perf.tokens_per_step(d) for d in deps))


DTYPES = typing.get_args(Precision)   # a plan's weight_dtype, expert_dtype and kv_dtype


def _contexts(ph: SimPhysics) -> tuple[float, float]:
    """(mean prompt, longest prompt and answer) of the plan's workload: the sequences plan solve
    sizes a prefill pool's memory for, and the other pools' (`plan.verify.pool_state`)."""
    return float(np.dot(*ph.lengths_in)), float(ph.lengths_in[0].max() + ph.lengths_out[0].max())


def _sequences_held(memory_per_card_bytes: float, dep: Deployment, ctx: float) -> float:
    """How many sequences of `ctx` tokens a card's `memory_per_card_bytes` holds beside its weights
    under `dep` (0 where a sequence holds no KV)."""
    per_seq = kv_bytes_per_sequence(dep, ctx)
    return (memory_per_card_bytes - perf.memory_use(dep, 0, ctx).weights_bytes) / per_seq if per_seq > 0 else 0.0


def _sized_at(ph: SimPhysics, deps: tuple[Deployment, ...]) -> bool:
    """Whether every pool's `memory_per_card_bytes` is its weights a card and a whole number of
    sequences' KV under `deps`, as plan solve sizes them (`_contexts`)."""
    mean_in, peak = _contexts(ph)
    for p, dep in zip(ph.plan.pools, deps):
        if p.memory_per_card_bytes is None:
            continue
        k = _sequences_held(p.memory_per_card_bytes, dep, mean_in if p.role == "prefill" else peak)
        if k < -1e-6 or abs(k - round(k)) > 1e-6 * max(1.0, k):
            return False
    return True


def _kv_sized_at(ph: SimPhysics, deps: tuple[Deployment, ...]) -> bool | None:
    """Whether the pools' own figures agree with a sequence's KV under `deps` (None: no pool says):
    a prefill pool's memory holds its design batch of mean prompts, as plan solve sizes it; a pool's
    `slots` are the sequences its memory holds at the longest prompt and answer (`deployment.max_batch`)."""
    mean_in, peak = _contexts(ph)
    said = False
    for p, dep in zip(ph.plan.pools, deps):
        if p.role == "prefill" and p.memory_per_card_bytes is not None:
            said = True
            k = _sequences_held(p.memory_per_card_bytes, dep, mean_in)
            if abs(k - p.design_batch) > 1e-6 * max(1.0, k):
                return False
        elif p.role != "prefill" and p.slots is not None:
            said = True
            if perf.max_batch(dep, peak) != p.slots:
                return False
    return True if said else None


def check_precision(ph: SimPhysics, source: str) -> None:
    """BadInput when the pools' `memory_per_card_bytes` are the model's weights at another
    `weight_dtype` (or `expert_dtype`) than the plan's, and not at its own: the precision
    edited by hand after the pools were sized (bf16 → fp4 was simulated with FP4 steps, TPOT 3.1 ms
    against 7.2 ms planned, "every SLO statistic met", at exit 0; plan export refused it only as no
    engine quantises to FP4). A plan without the key, or whose memory no precision explains (an
    older plan), is not judged. `kv_dtype` is judged by what the memory holds rather than its
    total (bf16 → fp8 halves a sequence's KV, and the memory is then as whole a number of sequences,
    twice as many): a prefill pool's design batch and the others' `slots` (`_kv_sized_at`);
    kv_dtype bf16 → fp8 on a bf16 plan was simulated and exported at exit 0."""
    plan = ph.plan
    if not _sized_at(ph, ph.deployments):
        fields = [("weight_dtype", "weights", plan.weight_dtype)]
        if ph.deployments[0].arch.is_moe:
            fields.append(("expert_dtype", "experts", plan.expert_dtype or plan.weight_dtype))
        for field, key, wrote in fields:
            for d in DTYPES:
                if d != wrote and _sized_at(ph, tuple(dataclasses.replace(x, **{field: d}) for x in ph.deployments)):
                    what = "weights" if key == "weights" else "routed experts"
                    raise BadInput(f"{source}: {field}: {wrote}, but the pools were sized for {d} {what} (their "
                                   f"memory_per_card_bytes hold the {what} at {d}; a hand edit?): write back "
                                   f"{field}: {d}, or re-solve the problem with precision.{key}: {wrote}")
        return
    if _kv_sized_at(ph, ph.deployments) is not False:
        return
    for d in DTYPES:
        if d != plan.kv_dtype and _kv_sized_at(ph, tuple(dataclasses.replace(x, kv_dtype=d)
                                                         for x in ph.deployments)):
            raise BadInput(f"{source}: kv_dtype: {plan.kv_dtype}, but the pools were sized for a {d} KV cache "
                           f"(their memory_per_card_bytes and slots hold sequences at {d}; a hand edit?): write "
                           f"back kv_dtype: {d}, or re-solve the problem with precision.kv: {plan.kv_dtype}")


def check_fits(ph: SimPhysics, source: str) -> None:
    """BadInput naming the pool whose instance cannot hold one request at the longest prompt and
    answer of the plan's workload (its weights and that sequence's KV in the card's memory), or
    admits more sequences than fit even at the shortest: a plan whose GPU, model or batch was
    edited by hand. `plan simulate` refuses the first kind as it starts a pool (it admits by
    memory, not by the plan's batch); `plan export` asks here first, so that no engine is
    launched that cannot load or is told to admit what it cannot hold."""
    check_precision(ph, source)
    longest_in, shortest_in = float(ph.lengths_in[0].max()), float(ph.lengths_in[0].min())
    for k, (p, dep) in enumerate(zip(ph.plan.pools, ph.deployments)):
        ctx = longest_in if p.role == "prefill" else longest_in + float(ph.lengths_out[0].max())
        if perf.max_batch(dep, ctx) < 1:   # a prefill instance holds the prompt; the others the answer too
            raise BadInput(f"{source}: pools[{k}]: {p.name}: one sequence of {ctx:g} tokens does not fit "
                           f"in the memory of {dep.par.cards} {p.gpu} card(s) ({dep.par.label()}); "
                           f"re-solve the problem")
        # what an engine is told to admit (--max-num-seqs), against the most sequences its memory holds
        # even at the shortest prompt (+ one token): more is an edited plan, a flag no engine can honour
        admits, what = (p.design_batch, "design_batch") if p.role == "prefill" else \
            (p.engine_batch, "slots" if p.slots is not None else "design_batch")
        short = shortest_in if p.role == "prefill" else shortest_in + 1.0
        if admits > (most := perf.max_batch(dep, short)):
            raise BadInput(f"{source}: pools[{k}]: {p.name}: {what} {admits:,} but {dep.par.cards} {p.gpu} "
                           f"card(s) ({dep.par.label()}) hold at most {most:,} sequences of {short:g} tokens, "
                           f"the shortest; re-solve the problem")


def batch_grid(limit: int) -> np.ndarray:
    """Batch sizes to tabulate: 1…DENSE_BATCH_UPTO one by one, then geometric up to `limit`."""
    dense = np.arange(1, min(limit, DENSE_BATCH_UPTO) + 1)
    if limit <= DENSE_BATCH_UPTO:
        return dense
    geo = np.geomspace(DENSE_BATCH_UPTO, limit, GEOMETRIC_POINTS).round().astype(int)
    return np.unique(np.concatenate([dense, geo, [limit]]))


def _fill(grid: np.ndarray, values: list[float], limit: int) -> np.ndarray:
    """Values at 0…limit by linear interpolation of a tabulated grid (0 takes grid[0]'s value)."""
    return np.interp(np.arange(limit + 1), grid, values)


def length_grid(values: np.ndarray) -> np.ndarray:
    """Prompt lengths to tabulate: the workload's own values, or a geometric grid over them."""
    u = np.unique(values)
    if u.size <= LENGTH_GRID_POINTS:
        return u
    return np.geomspace(u[0], u[-1], LENGTH_GRID_POINTS)


def prefill_table(dep: Deployment, max_prompts: int, s_grid: np.ndarray, hit: float) -> np.ndarray:
    """Seconds of one prefill pass, [k prompts 0…B, prompt length on s_grid]; row 0 unused."""
    ks = batch_grid(max_prompts)
    cols = []
    for s in s_grid:
        t = [perf.prefill_pass(dep, k, s * (1 - hit), s * hit).time_s for k in ks]
        cols.append(_fill(ks, t, max_prompts))
    return np.stack(cols, axis=1)


def decode_table(dep: Deployment, cap: int, ctx: float) -> list[float]:
    """Seconds of one decode step at batch 0…cap (mean decode context `ctx`)."""
    bs = batch_grid(cap)
    return _fill(bs, [perf.decode_step(dep, b, ctx).time_s for b in bs], cap).tolist()


def mixed_table(dep: Deployment, cap: int, ctx: float, chunk: float, prompt: float,
                prompt_cv2: float = 0.0, lengths=()) -> list[list[float]]:
    """Seconds of one chunked-prefill step, [batch 0…cap][chunk on `chunk_grid(C, lengths)`],
    a chunk's attention at the mean keys of the workload's prompt tokens (`prompt_cv2`)."""
    bs = np.concatenate([[0], batch_grid(cap)])
    cols = []
    fixed_s, per_prompt_s, dp = eager_parts(dep)
    for c in chunk_grid(chunk, lengths):
        t = [perf.mixed_step(dep, b, ctx, c, prompt, prompt_cv2).time_s if b or c else 0.0 for b in bs]
        if c == 0:
            t[0] = t[1]  # an idle step never runs; keep the table monotone
        else:   # without the eager pass, which the engine adds for the prompts each step really holds
            t = [x - fixed_s - max(max(c / max(prompt, 1.0), 1.0) / dp, 1.0) * per_prompt_s for x in t]
        cols.append(np.interp(np.arange(cap + 1), bs, t))
    return np.stack(cols, axis=1).tolist()


def chunk_grid(chunk: float, lengths=()) -> np.ndarray:
    """The chunk sizes `mixed_table` tabulates: C·(j/(n − 1))², j = 0 … n − 1 (n = CHUNK_GRID_POINTS),
    and the `lengths` (uncached prompt tokens) below C, so that a step of one prompt is read exactly."""
    grid = chunk * (np.arange(CHUNK_GRID_POINTS) / (CHUNK_GRID_POINTS - 1)) ** 2
    inside = [x for x in lengths if 0 < x < chunk]
    return np.unique(np.concatenate([grid, inside])) if inside else grid


def eager_parts(dep: Deployment) -> tuple[float, float, float]:
    """(seconds per pass, seconds per prompt, attention-DP ranks) of the eager-pass overhead a step
    with prompt tokens pays (`perf.eager_terms`, at the step-time scale of `perf.mixed_step`): the
    engine adds it per step for the prompts that step holds. Tabulated inside the step at the mean
    prompt, a step of one 8,000-token prompt among 300-token ones (mean 870) paid nine prompts' host time, and a
    300-token step a third of the per-pass time (interpolated from an empty chunk)."""
    layers, moe, _ = perf.eager_terms(dep, 1.0)
    scale = dep.calib.v("decode_time_scale")
    return (layers + moe) * scale, dep.calib.v("prompt_overhead_s") * scale, float(dep.par.dp)
