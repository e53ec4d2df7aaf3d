"""Applying a what-if scenario to a base problem: the overlay resolved into a new Problem.

The scenario's schema (what a user writes) is planner.input.scenario; this module is the step
that needs the GPU catalog: GPU names are matched through its aliases, a percentage price change
applies to the catalog price when the base sets none, and `buy:` prices owned cards from the
bought GPU's node size and board power.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from planner.catalog.schemas import GPU, get_gpu, load_gpus
from planner.errors import BadInput, plural
from planner.input.files import describe_validation_error, validate
from planner.input.problem import GPUChoice, Pricing, Problem
from planner.input.scenario import HOURS_PER_MONTH, Buy, GPUEdit, GPUUpdate, Scenario, WorkloadEdit
from planner.input.values import MAX_PRICE
from planner.plan.resolve import NOTED_CAPS, card_cap


class NoGPUsLeft(BadInput):
    """A scenario whose edits leave the base no GPU type: bad input, except on the rent side of a
    rent-or-buy comparison, where the scenario without its purchase has nothing left to rent."""


@dataclass(frozen=True)
class OwnedCost:
    """What one owned card costs per hour, split into amortisation and electricity."""

    amortisation_per_gpu_hour: float
    power_per_gpu_hour: float

    @property
    def total(self) -> float:
        return self.amortisation_per_gpu_hour + self.power_per_gpu_hour


def owned_cost(buy: Buy, gpu: GPU) -> OwnedCost:
    """Purchase price spread evenly over the months, plus board power·PUE at the electricity price."""
    amort = buy.price_per_node / (buy.months * HOURS_PER_MONTH) / gpu.node_cards
    power = gpu.power_w * buy.pue / 1e3 * buy.electricity_per_kwh
    return OwnedCost(amort, power)


def apply(base: Problem, s: Scenario, source: str = "scenario") -> Problem:
    """The base problem with the scenario's changes; a new Problem, validated like a file. Every
    model built on the way is checked here, so a value the merged sections refuse (e.g. an
    exchange rate on an RMB base) is BadInput naming the scenario file, never a bare
    pydantic error."""
    try:
        return _apply(base, s, source)
    except ValidationError as e:   # a model built without validate(): still the user's values
        raise BadInput(describe_validation_error(f"{source} (applied to the base)", e, Problem)) from None


def _apply(base: Problem, s: Scenario, source: str) -> Problem:
    data = base.model_dump()
    for section in ("slo", "serving", "limits", "pricing"):
        data[section] = {**data[section], **getattr(s, section).model_dump(exclude_none=True)}
    # `limits.power: null` lifts the base's cap (every other null is refused as the file is read)
    data["limits"].update({f: None for f in s.limits.model_fields_set if getattr(s.limits, f) is None})
    data["workload"] = _workload(data["workload"], s.workload, source)
    catalog = load_gpus()
    pricing = validate(Pricing, data["pricing"], f"{source} (applied to the base)", at="pricing")
    data["gpus"] = _gpus(data["gpus"], s.gpus, catalog, source, pricing)
    if s.buy is not None:
        data["gpus"] = _buy(data["gpus"], s.buy, catalog, source, s.gpus.update, pricing,
                            removed={_key(g, catalog) for g in s.gpus.remove})
        data["limits"] = _budget_after_purchase(data["limits"], s.buy, catalog, source)
    if not data["gpus"]:   # else the merged problem's 'gpus: List should have at least 1 item' (a hunt)
        listed = ", ".join(str(g.id) for g in base.gpus)
        raise NoGPUsLeft(f"{source}: gpus.remove: removes every GPU type of the base ({listed}) and adds or buys "
                       f"none; a plan needs at least one (gpus.set replaces the list)")
    if s.name:
        data["name"] = s.name
    try:
        problem = validate(Problem, data, f"{source} (applied to the base)")
        for j, g in enumerate(problem.gpus):   # owned nodes within the caps, before any solve
            card_cap(g, get_gpu(g.id, catalog), f"{source} (applied to the base): gpus[{j}]")
        _note_caps(problem, s.gpus, source, catalog)
        return problem
    except BadInput as e:
        raise BadInput(_as_written(str(e), source, data["gpus"], s.gpus, catalog)) from None


def _note_caps(problem: Problem, e: GPUEdit, source: str, catalog: dict[str, GPU]) -> None:
    """The caps the scenario writes that are not whole nodes, noted as it writes them
    (`gpus.update.h100.max_cards`): its solve noted the merged problem's `gpus[3].max_cards`, a
    field the scenario has not. A cap it carries from the base is the base's note."""
    written = [*((g.id, f"gpus.set[{i}]", g.model_fields_set) for i, g in enumerate(e.set or ())),
               *((gid, f"gpus.update.{gid}", u.model_fields_set) for gid, u in e.update.items()),
               *((g.id, f"gpus.add[{i}]", g.model_fields_set) for i, g in enumerate(e.add))]
    keys = [_key(g.id, catalog) for g in problem.gpus]
    for gid, path, fields in written:
        if (caps := [k for k in NOTED_CAPS if k in fields]) and (k := _key(gid, catalog)) in keys:
            card_cap(problem.gpus[keys.index(k)], catalog[k], f"{source}: {path}", note=caps)


def _as_written(message: str, source: str, gpus: list[dict], e: GPUEdit, catalog: dict[str, GPU]) -> str:
    """A merged problem's message about `gpus[j].field` told as the scenario wrote it,
    `gpus.update.<id>.field`, where the scenario's update set that field (it named the merged
    list's index: 'gpus[0].max_cards_per_period: 3 values', a hunt), and `gpus.set[i]` or
    `gpus.add[i]` for an entry the scenario wrote whole (`add: [{id: b200, owned_nodes: 99, …}]`
    was told as the merged `gpus[5].owned_nodes`, a hunt of 2026-12-07)."""
    keys = [_key(g["id"], catalog) for g in gpus]
    for path, entries in (("gpus.set", e.set or []), ("gpus.add", e.add)):   # each id once (`_gpus`)
        for i, g in enumerate(entries):
            if (k := _key(g.id, catalog)) in keys:   # 'gpus[1]' is no part of 'gpus[10]': the bracket ends it
                message = message.replace(f"{source} (applied to the base): gpus[{keys.index(k)}]",
                                          f"{source}: {path}[{i}]")
    for gid, upd in e.update.items():
        if (k := _key(gid, catalog)) not in keys:
            continue
        j = keys.index(k)
        for field in upd.model_dump(exclude_none=True):
            for merged, written in ((f"gpus[{j}].{field}", f"gpus.update.{gid}.{field}"),   # its value, or
                                    (f"gpus[{j}]: {field}", f"gpus.update.{gid}: {field}")):   # beside another
                message = message.replace(f"{source} (applied to the base): {merged}", f"{source}: {written}")
    return message


def _workload(base: dict, w: WorkloadEdit, source: str = "scenario") -> dict:
    """Key-by-key merge; qps_multiplier scales the (possibly new) qps, and a load profile's QPS
    per period when it gives them in requests/s (fractions follow workload.qps). Lengths a
    scenario writes replace the profile's per-period ones too (a trace's), and a new qps on a
    profile in requests/s is refused: each period's QPS is the profile's (scale it with
    qps_multiplier), where it was dropped without a word."""
    prof = base.get("profile")
    if w.qps is not None and prof and prof.get("qps") is not None:
        raise BadInput(f"{source}: workload.qps: the base's load profile gives each period's requests/s "
                       f"(busiest {max(prof['qps']):g}); scale it with workload.qps_multiplier")
    out = {**base, **w.model_dump(exclude_none=True, exclude={"qps_multiplier"})}
    if prof:
        drop = [k for k in ("input_tokens", "output_tokens") if getattr(w, k) is not None]
        out["profile"] = {**prof, **{k: None for k in drop}}
    if w.qps_multiplier is not None:
        out["qps"] = out["qps"] * w.qps_multiplier
        prof = out.get("profile")
        if prof and prof.get("qps") is not None:
            out["profile"] = {**prof, "qps": [q * w.qps_multiplier for q in prof["qps"]]}
    return out


def _key(gpu_id: str, catalog: dict[str, GPU]) -> str:
    """Catalog id of a GPU name (aliases and case resolved), or the name itself when unknown."""
    try:
        return get_gpu(gpu_id, catalog).id
    except BadInput:
        return gpu_id.lower()


def _index(gpus: list[dict], gpu_id: str, catalog: dict[str, GPU], where: str, base: list[dict]) -> int:
    """Index of `gpu_id` in `gpus` (the base's list less what the scenario removed); the message lists `base`."""
    keys = [_key(g["id"], catalog) for g in gpus]
    k = _key(gpu_id, catalog)
    if k not in keys:
        listed = ", ".join(g["id"] for g in base)
        raise BadInput(f"{where}: GPU {gpu_id!r} is not in the base list ({listed})")
    return keys.index(k)


def _gpus(base: list[dict], e: GPUEdit, catalog: dict[str, GPU], source: str, pricing: Pricing) -> list[dict]:
    """Replace, or remove → update → add; every name is checked against the list it edits."""
    if e.set is not None:   # each name checked here: the merged problem would blame gpus[i].id
        named: dict[str, int] = {}
        for i, g in enumerate(e.set):
            k = _catalog_gpu(g.id, catalog, f"{source}: gpus.set[{i}]").id
            if k in named:   # 'st.yaml (applied to the base): gpus: GPU 'H100' is listed twice'
                raise BadInput(f"{source}: gpus.set[{i}]: GPU {g.id!r} is listed already at gpus.set[{named[k]}]; "
                               f"name each GPU once")
            named[k] = i
        return [g.model_dump() for g in e.set]
    out = [dict(g) for g in base]
    # a GPU removed already is named as such: `remove: [h100, H100]`, or an update of a removed GPU,
    # was told "GPU 'H100' is not in the base list (h20)" of a base listing h100 (a hunt, 2026-12-06)
    removed: dict[str, int] = {}
    for i, gid in enumerate(e.remove):
        if (k := _key(gid, catalog)) in removed:
            raise BadInput(f"{source}: gpus.remove[{i}]: GPU {gid!r} is removed already by gpus.remove[{removed[k]}]; "
                           f"name each GPU once")
        out.pop(_index(out, gid, catalog, f"{source}: gpus.remove[{i}]", base))
        removed[k] = i
    seen: dict[str, str] = {}
    for gid, upd in e.update.items():
        where = f"{source}: gpus.update.{gid}"
        if (k := _key(gid, catalog)) in seen:   # both were applied: a -10 % twice made -19 %
            raise BadInput(f"{where}: the GPU of gpus.update.{seen[k]} too; give each GPU's changes once")
        if k in removed:
            raise BadInput(f"{where}: GPU {gid!r} is removed by gpus.remove[{removed[k]}]; update it or remove "
                           f"it, not both")
        seen[k] = gid
        j = _index(out, gid, catalog, where, base)
        out[j] = _updated(out[j], upd, catalog, where, pricing)
    # each added name checked here, as gpus.set's: `add: [h999]` was told 'unknown GPU' without the file
    # or a field, and a GPU the base lists, or one added twice, 'gpus: GPU 'H100' is listed twice' of the
    # merged problem (a hunt, 2026-12-07)
    listed = {_key(g["id"], catalog): g["id"] for g in out}   # the base's list less what the scenario removed
    added: dict[str, int] = {}
    for i, g in enumerate(e.add):
        where = f"{source}: gpus.add[{i}]"
        k = _catalog_gpu(g.id, catalog, where).id
        if k in added:
            raise BadInput(f"{where}: GPU {g.id!r} is added already by gpus.add[{added[k]}]; name each GPU once")
        if k in listed:
            raise BadInput(f"{where}: GPU {g.id!r} is in the base list already ({', '.join(listed.values())}); "
                           f"change its entry with gpus.update.{listed[k]} (or remove it and add it anew)")
        added[k] = i
    out += [g.model_dump() for g in e.add]
    return out


def _updated(choice: dict, u: GPUUpdate, catalog: dict[str, GPU], where: str, pricing: Pricing) -> dict:
    """One GPU entry with the update's fields; a percentage applies to the base's effective price
    (the catalog's RMB price converted to the problem's currency when the base sets none)."""
    new = {**choice, **u.model_dump(exclude_none=True, exclude={"price_change_percent"})}
    if u.price_change_percent is not None:
        price = choice["price_per_gpu_hour"]
        if price is None:
            listed = _catalog_gpu(choice["id"], catalog, where).price_in(pricing.gpu_market)
            price = listed.value * _rate(pricing, where)
        new["price_per_gpu_hour"] = price * (1.0 + u.price_change_percent / 100.0)
    return new


def _rate(pricing: Pricing, where: str) -> float:
    """Units of the problem's currency per RMB; BadInput when a catalog price needs one and none is given."""
    rate = pricing.rate_per_rmb()
    if rate is None:
        raise BadInput(f"{where}.price_change_percent: the base prices in {pricing.currency} and this GPU's "
                       f"price comes from the catalog, in RMB; give pricing.exchange_rate_per_rmb "
                       f"({pricing.currency} per RMB) in the base or the scenario")
    return rate


def _catalog_gpu(gpu_id: str, catalog: dict[str, GPU], where: str) -> GPU:
    try:
        return get_gpu(gpu_id, catalog)
    except BadInput as e:
        raise BadInput(f"{where}: {e}") from None


def _buy(gpus: list[dict], b: Buy, catalog: dict[str, GPU], source: str, updates: dict,
         pricing: Pricing, removed: set[str] = frozenset()) -> list[dict]:
    """Owned nodes on the bought GPU type (added to the list if absent), priced at what using one
    costs once it is bought: its electricity. The amortisation is paid whether a node runs or not,
    so it is the scenario's fixed cost (whatif.Outcome), not the MILP's: priced per node used, a
    purchase dearer per hour than renting was left idle while the plan rented. BadInput when the
    scenario's `gpus.update` (`updates`) also sets owned nodes of that type. A type the scenario
    removes (`removed`, catalog ids) and buys is added with the bought nodes alone (max_nodes):
    `remove: [h20]` with `buy: {gpu: h20, nodes: 2}` rented a third H20 node beside the two bought
    (a hostile-input hunt, 2026-12-07)."""
    where = f"{source}: buy.gpu"
    gpu = _catalog_gpu(b.gpu, catalog, where)
    for key, upd in updates.items():   # one inventory given twice: the plan took buy's, rent-or-buy both
        owned = upd.owned_nodes is not None or upd.owned_cost_per_gpu_hour is not None
        if owned and _key(key, catalog) == gpu.id:
            raise BadInput(f"{source}: gpus.update.{key}: owned nodes of the GPU that buy: purchases; give them "
                           f"one way (buy: prices them from the purchase)")
    oc = owned_cost(b, gpu)
    parts = ((oc.power_per_gpu_hour, "electricity_per_kwh"), (oc.amortisation_per_gpu_hour, "price_per_node"))
    for part, name in parts:
        if part > MAX_PRICE:   # named here: the merged problem would blame gpus[…].owned_cost_per_gpu_hour
            raise BadInput(f"{source}: buy.{name}: {getattr(b, name):g} makes a bought {gpu.id} card cost "
                           f"{part:.3g} an hour, above {MAX_PRICE:g} a card-hour; no real "
                           f"price is that large")
    cost = oc.power_per_gpu_hour   # the purchase is sunk: running a bought card costs its power
    keys = [_key(g["id"], catalog) for g in gpus]
    entry = {"owned_nodes": b.nodes, "owned_cost_per_gpu_hour": cost}
    j = keys.index(gpu.id) if gpu.id in keys else None
    if j is not None and gpus[j].get("owned_nodes"):
        # one GPU entry has one owned cost: the base's own nodes at theirs and the bought ones at their
        # electricity cannot both be held (the purchase replaced the base's nodes without a word)
        raise BadInput(f"{source}: buy.gpu: the base already owns {gpus[j]['owned_nodes']} {gpu.id} node(s) "
                       f"(gpus[{j}].owned_nodes); one GPU entry holds one owned cost, so buying more of it cannot "
                       f"be priced beside them: buy another GPU type, or give the total as gpus.update.{gpu.id}"
                       f".owned_nodes with one owned_cost_per_gpu_hour")
    if j is not None:
        caps = [c for c in (gpus[j].get("max_cards"),
                            None if gpus[j].get("max_nodes") is None else gpus[j]["max_nodes"] * gpu.node_cards)
                if c is not None]
        if caps and b.nodes * gpu.node_cards > min(caps):   # named here: resolve would blame gpus[j].owned_nodes
            raise BadInput(f"{source}: buy.nodes: {b.nodes} node(s) of {gpu.id} "
                           f"({plural(b.nodes * gpu.node_cards, 'card')}) exceed the base's availability cap of "
                           f"{plural(min(caps), 'card')} (gpus[{j}]: max_cards/max_nodes); buy fewer, or raise the "
                           f"cap in gpus.update")
        return [({**g, **entry} if i == j else g) for i, g in enumerate(gpus)]
    if pricing.rate_per_rmb() is None:
        # named here: the merged problem blamed pricing.exchange_rate_per_rmb of gpus[4], an entry no file has
        raise BadInput(f"{source}: buy.gpu: {gpu.id} is not in the base's gpus, so renting more of it than the "
                       f"{b.nodes} bought node(s) takes the catalog's price, in RMB, while the base prices in "
                       f"{pricing.currency}; list it with its price (gpus: {{add: [{{id: {gpu.id}, "
                       f"price_per_gpu_hour: …}}]}}) or give pricing.exchange_rate_per_rmb")
    if gpu.id in removed:   # none rented: the scenario took the type out of the list
        entry["max_nodes"] = b.nodes
    return gpus + [{**GPUChoice(id=gpu.id).model_dump(), **entry}]


def _budget_after_purchase(limits: dict, b: Buy, catalog: dict[str, GPU], source: str) -> dict:
    """The budget per hour left to the plan once the purchase's amortisation is paid: the
    scenario's cost is the plan's plus that fixed amortisation (whatif.Outcome), and the budget
    holds the whole of it (the plan alone was held to it: 119.58 an hour reported 'optimal' under
    a budget of 60, of which 115.74 amortisation, a hunt). BadInput when the amortisation alone
    exceeds the budget."""
    budget = limits.get("budget_per_hour")
    if budget is None:
        return limits
    gpu = _catalog_gpu(b.gpu, catalog, f"{source}: buy.gpu")
    amortisation = b.nodes * gpu.node_cards * owned_cost(b, gpu).amortisation_per_gpu_hour
    if amortisation >= budget:
        raise BadInput(f"{source}: limits.budget_per_hour: {budget:,.2f} an hour cannot pay the purchase's "
                       f"amortisation of {amortisation:,.2f} an hour ({b.nodes} {gpu.id} node(s) at "
                       f"{b.price_per_node:,.0f} over {b.months} months), which the scenario's cost includes; "
                       f"raise the budget or buy fewer nodes")
    return {**limits, "budget_per_hour": budget - amortisation}


def renting_instead(base: Problem, s: Scenario, source: str) -> Problem | None:
    """The scenario applied without its purchase (the rent side of rent-or-buy), or None when that
    leaves no GPU type to rent: the scenario removed every type and bought one."""
    try:
        return apply(base, without_buy(s), source)
    except NoGPUsLeft:
        return None


def without_buy(s: Scenario) -> Scenario:
    """The same scenario renting instead of buying (the other side of rent-or-buy)."""
    return s.model_copy(update={"buy": None})


__all__ = ["NoGPUsLeft", "OwnedCost", "apply", "owned_cost", "renting_instead", "without_buy"]
