"""Where each instance of a script export runs: nodes named `<gpu>-node-<k>`, and the cards and
ports of instances that share one.

The plan rents whole nodes and fills them with instances of any size: `llama70b_chat` runs three
1-card prefill instances and two TP2 decode instances on one 8-card H100 node. Started alike, each
would take the node's first cards and the engine's default ports (until 2026-12-06 the scripts
set neither). Here every GPU type's instances are placed first-fit decreasing (the largest first,
each on the lowest-numbered node with room, on its lowest free cards): an instance wider than a node
takes whole nodes, one per rank, rank 0 first; the others share nodes, the j-th instance on a node
(its `slot`) listening on the engine's port + j, an SGLang prefill server's bootstrap port on
8998 + j, vLLM's NIXL side channel on 5600 + its first card's index (vLLM adds DP rank × TP to it).
The node names are placeholders the operator maps to hosts (or names hosts after); router.json and
the routers address each instance as `<node>:<port>`. `placement.csv` lists every instance's node
ranks, `sh launch-node.sh NODE` starts a node's with their settings. Kubernetes and Dynamo schedule
pods themselves and use none of this.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from planner.errors import BadInput
from planner.report.export.engines import BOOTSTRAP_PORT, PoolLaunch

NIXL_SIDE_PORT = 5600          # vLLM's VLLM_NIXL_SIDE_CHANNEL_PORT default
MAX_PLACED_INSTANCES = 1_000_000   # a row each in placement.csv (~120 MB, ~15 s); 15 million held 11 GB after 200 s


@dataclass(frozen=True)
class Seat:
    """One node rank of one instance: its node, cards on it, and slot (order among the node's instances)."""

    pool: str
    instance: int
    rank: int
    node: str
    cards: tuple[int, ...]
    slot: int
    whole: bool                # the rank takes the whole node (a multi-node instance, or one as wide as a node)


def node_name(gpu: str, k: int) -> str:
    return f"{gpu}-node-{k}"


def check_placeable(pls: list[PoolLaunch], source: str, target: str) -> None:
    """BadInput when the plan has more instances than a script export places (MAX_PLACED_INSTANCES)."""
    total = sum(pl.pool.instances for pl in pls)
    if total > MAX_PLACED_INSTANCES:
        raise BadInput(f"{source}: pools: {total:,} instances; --target {target} names a node, cards and ports "
                       f"for each in placement.csv, at most {MAX_PLACED_INSTANCES:,}: export it with --target k8s "
                       f"or dynamo, whose schedulers place the pods")


def place(pls: list[PoolLaunch]) -> list[Seat]:
    """Every instance's seats, per GPU type first-fit decreasing (pools in the plan's order, instances in
    index order among equals: the same plan gives the same placement)."""
    seats: list[Seat] = []
    for gpu in dict.fromkeys(pl.gpu.id for pl in pls):
        mine = [pl for pl in pls if pl.gpu.id == gpu]
        per_node = mine[0].gpu.node_cards
        free: list[list[int]] = []       # free card indices per node
        used: list[int] = []             # instances placed per node (the next slot)
        room: list[list[int]] = [[] for _ in range(per_node + 1)]   # heaps of node indices by free cards
        work = sorted(((pl, k) for pl in mine for k in range(pl.pool.instances)),
                      key=lambda t: -t[0].pool.cards_per_instance)
        for pl, k in work:
            if pl.nodes > 1 or pl.cards_per_node >= per_node:
                for r in range(pl.nodes):
                    free.append([])
                    used.append(1)
                    seats.append(Seat(pl.name, k, r, node_name(gpu, len(free) - 1), tuple(range(per_node)), 0, True))
                continue
            need = pl.cards_per_node
            fits = [h[0] for h in room[need:] if h]   # the lowest-numbered node of each amount of room
            if fits:
                n = min(fits)
                heapq.heappop(room[len(free[n])])
            else:
                free.append(list(range(per_node)))
                used.append(0)
                n = len(free) - 1
            cards = tuple(free[n][:need])
            free[n] = free[n][need:]
            heapq.heappush(room[len(free[n])], n)
            seats.append(Seat(pl.name, k, 0, node_name(gpu, n), cards, used[n], False))
            used[n] += 1
    return seats


def nodes_used(seats: list[Seat]) -> dict[str, int]:
    """Nodes per GPU type the placement takes (node names are `<gpu>-node-<k>`)."""
    out: dict[str, int] = {}
    for s in seats:
        gpu, k = s.node.rsplit("-node-", 1)
        out[gpu] = max(out.get(gpu, 0), int(k) + 1)
    return out


def port(pl: PoolLaunch, s: Seat) -> int:
    return pl.port + s.slot


def leaders(seats: list[Seat]) -> dict[tuple[str, int], Seat]:
    """Each instance's rank-0 seat, by (pool, instance)."""
    return {(s.pool, s.instance): s for s in seats if s.rank == 0}


def bootstrap_port(s: Seat) -> int:
    return BOOTSTRAP_PORT + s.slot


HEADER = "node,gpu,pool,instance,rank,cards,port,nixl_port,bootstrap_port,leader"

# run as `sh launch-node.sh NODE` on that node: every placement.csv row of NODE started in the
# background with its settings (one script for any number of nodes: per-node scripts of a plan of
# 350,000 instances were half a million files, 2.2 GB); a multi-node TensorRT-LLM instance gets an MPI
# host file of its nodes, rank 0 first
LAUNCHER = r"""#!/bin/sh
# start the instances placement.csv puts on node NODE (a placeholder name: <gpu>-node-<k>); run on that node
node="${1:?usage: sh launch-node.sh NODE (a node of placement.csv)}"
cd "$(dirname "$0")" || exit 1
grep -q "^$node," placement.csv || { echo "$node: no such node in placement.csv" >&2; exit 2; }
{ read -r header   # the rows in this shell (not a pipeline's subshell), so that `wait` waits for them
while IFS=, read -r n gpu pool k rank cards port nixl boot leader; do
  [ "$n" = "$node" ] || continue
  hosts=""
  if grep -q 'HOSTFILE' "./$pool.sh"; then
    hosts="${TMPDIR:-/tmp}/hosts-$pool-$k.txt"
    awk -F, -v p="$pool" -v i="$k" 'NR > 1 && $3 == p && $4 == i { print $1 " slots=" split($6, c, " ") }' \
      placement.csv > "$hosts"
  fi
  GPUS=$(echo "$cards" | tr ' ' ',') PORT="$port" NIXL_PORT="$nixl" BOOTSTRAP_PORT="$boot" NODE_RANK="$rank" \
    LEADER_ADDR="$leader" HOSTFILE="$hosts" sh "./$pool.sh" < /dev/null &
done
wait; } < placement.csv
"""


def placement_files(pls: list[PoolLaunch], seats: list[Seat]) -> dict[str, str]:
    """`placement.csv` (a row per node rank of each instance: its node, cards and ports) and
    `launch-node.sh` that starts a node's rows."""
    by = {pl.name: pl for pl in pls}
    lead = leaders(seats)
    rows = [HEADER]
    for s in seats:
        pl = by[s.pool]
        rows.append(f"{s.node},{pl.gpu.id},{pl.name},{s.instance},{s.rank},{' '.join(map(str, s.cards))},"
                    f"{port(pl, s)},{NIXL_SIDE_PORT + s.cards[0]},{bootstrap_port(s)},"
                    f"{lead[(s.pool, s.instance)].node}")
    return {"placement.csv": "\n".join(rows) + "\n", "launch-node.sh": LAUNCHER}


def shortfall(pls: list[PoolLaunch], seats: list[Seat], planned: dict[str, int]) -> list[str]:
    """Notes where whole instances need more nodes than the plan priced (its cards rounded up to
    nodes; an instance cannot straddle two nodes)."""
    used = nodes_used(seats)
    per_node = {pl.gpu.id: pl.gpu.node_cards for pl in pls}
    out = []
    for g, n in used.items():
        priced = -(-planned.get(g, 0) // per_node[g])
        if n > priced:
            out.append(f"{g}: the instances fill {n} nodes where the plan's {planned.get(g, 0)} cards fill "
                       f"{priced}: an instance cannot be split over two nodes; rent {n} or re-plan")
    return out


def instance_addresses(pls: list[PoolLaunch], seats: list[Seat]) -> dict[tuple[str, int], tuple[str, int]]:
    """(pool, instance) → (its server's URL `http://<node>:<port>`, its SGLang bootstrap port)."""
    by = {pl.name: pl for pl in pls}
    return {key: (f"http://{s.node}:{port(by[s.pool], s)}", bootstrap_port(s)) for key, s in leaders(seats).items()}
