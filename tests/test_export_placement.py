"""Where the script exports start each instance (`planner.report.export.placement`): instances that
share a node get disjoint cards and their own ports, each node's script starts exactly its
instances, and the routers address each instance where it listens. A 2026-12-06 hunt found every
instance of `llama70b_chat`'s 1-card prefill and TP2 decode pools started on the same cards and ports
of its one H100 node; vLLM's NIXL side channel advertised `localhost` to decode instances elsewhere.

The node scripts are run for real with stand-in engines on PATH that record their argv and the
environment the engines read.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import stat
import subprocess
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from planner.report.export import render
from planner.report.export.placement import place, shortfall
from tests.test_export import opts, plan


def _placement(files: dict[str, str]) -> list[dict]:
    return list(csv.DictReader(io.StringIO(files["placement.csv"])))


@pytest.mark.parametrize("target", ["vllm", "sglang", "trtllm"])
def test_instances_sharing_a_node_get_their_own_cards_and_ports(target):
    d = plan("llama70b_chat")   # 2 × TP2 prefill and 2 × TP2 decode on one 8-card H100 node (3 × 1-card
    # prefill before the forty-fifth session's fewer-pools stage: 7 cards)
    files = render(d, target, model_path="/models/llama-3.1-70b-fp8")
    rows = _placement(files)
    assert Counter(r["pool"].rsplit("-", 1)[1] for r in rows) == Counter(
        {str(i): p["instances"] for i, p in enumerate(d["pools"])})
    assert {r["node"] for r in rows} == {"h100-node-0"}   # the plan's 8 cards: one node, as priced
    cards = [c for r in rows for c in r["cards"].split()]
    assert len(cards) == len(set(cards)) == 8 and all(0 <= int(c) < 8 for c in cards)
    assert len({r["port"] for r in rows}) == len(rows)
    assert len({r["nixl_port"] for r in rows}) == len({r["bootstrap_port"] for r in rows}) == len(rows)
    for name, text in files.items():
        if name.endswith(".sh"):
            assert subprocess.run(["sh", "-n"], input=text, text=True).returncode == 0, name
    router = json.loads(files["router.json"])
    urls = sorted(u for rows_ in router["services"].values() for row in rows_ for u in row["instance_urls"])
    assert urls == sorted(f"http://{r['node']}:{r['port']}" for r in rows)


def test_the_engine_routers_address_each_instance_where_it_listens():
    d = plan("llama70b_chat")
    files = render(d, "sglang", model_path="/models/llama-3.1-70b-fp8")
    rows = {(r["pool"], r["instance"]): r for r in _placement(files)}
    router = shlex.split(next(v for k, v in files.items() if k.startswith("pd-router-")).splitlines()[-1][5:])
    prefills = [router[i + 1:i + 3] for i, a in enumerate(router) if a == "--prefill"]
    assert len(prefills) == 2
    for k, (url, boot) in enumerate(prefills):
        r = rows[("prefill-h100-0", str(k))]
        assert url == f"http://h100-node-0:{r['port']}" and boot == r["bootstrap_port"]
    assert len({b for _, b in prefills}) == 2
    assert opts(router)["--host"] == "0.0.0.0" and opts(router)["--port"] == "8000"   # not 127.0.0.1:30000
    cfg = files["disagg-llama70b-chat.yaml"] if "disagg-llama70b-chat.yaml" in files else None
    assert cfg is None   # SGLang's router, not TensorRT-LLM's
    trt = render(d, "trtllm", model_path="/models/llama-3.1-70b-fp8")
    rows = _placement(trt)
    text = trt["disagg-llama70b-chat.yaml"]
    for r in rows:
        assert f"- {r['node']}:{r['port']}" in text


RECORD = """import json, os, sys
with open(os.environ["LOG"], "a") as f:
    f.write(json.dumps({"argv": sys.argv[2:], "gpus": os.environ.get("CUDA_VISIBLE_DEVICES"),
                        "nixl_port": os.environ.get("VLLM_NIXL_SIDE_CHANNEL_PORT"),
                        "nixl_host": os.environ.get("VLLM_NIXL_SIDE_CHANNEL_HOST")}) + "\\n")
"""


def _fake_engines(tmp: Path) -> dict[str, str]:
    """PATH with `vllm`, `python3`, `trtllm-serve`, `mpirun` stand-ins that append their argv and the device
    and NIXL variables to $LOG, one JSON line each."""
    bin_ = tmp / "bin"
    bin_.mkdir()
    real = subprocess.run(["sh", "-c", "command -v python3"], capture_output=True, text=True).stdout.strip()
    (tmp / "record.py").write_text(RECORD)
    for exe in ("vllm", "python3", "trtllm-serve", "mpirun"):
        f = bin_ / exe
        f.write_text(f'#!/bin/sh\nexec {real} {tmp / "record.py"} "$0" "$@"\n')
        f.chmod(f.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}", "LOG": str(tmp / "log")}


@pytest.mark.parametrize("target", ["vllm", "sglang"])
def test_a_nodes_script_starts_its_instances_on_their_cards(tmp_path, target):
    d = plan("llama70b_chat")
    files = render(d, target, model_path="/models/llama-3.1-70b-fp8")
    out = tmp_path / "x"
    out.mkdir()
    for name, text in files.items():
        (out / name).write_text(text)
    env = _fake_engines(tmp_path)
    subprocess.run(["sh", str(out / "launch-node.sh"), "h100-node-0"], env=env, check=True, timeout=60)
    runs = [json.loads(ln) for ln in (tmp_path / "log").read_text().splitlines()]
    rows = _placement(files)
    assert len(runs) == len(rows)
    got = sorted((r["gpus"], opts(r["argv"])["--port"]) for r in runs)
    assert got == sorted((r["cards"].replace(" ", ","), r["port"]) for r in rows)
    if target == "vllm":   # each instance its own side channel, announced at an address others reach
        assert len({r["nixl_port"] for r in runs}) == len(runs)
        host = subprocess.run(["sh", "-c", "hostname -I | cut -d' ' -f1"], capture_output=True,
                              text=True).stdout.strip()
        assert all(r["nixl_host"] == host and r["nixl_host"] != "localhost" for r in runs)
    else:
        boots = [opts(r["argv"]).get("--disaggregation-bootstrap-port") for r in runs]
        assert len({b for b in boots if b}) == 2   # the two prefill servers' bootstrap ports, apart


def test_multi_node_instances_take_whole_nodes_and_mpi_gets_their_host_file(tmp_path):
    d = plan("deepseek_qps_disaggregated")
    files = render(d, "trtllm")
    rows = _placement(files)
    assert all(r["cards"] == "0 1 2 3 4 5 6 7" for r in rows)   # every instance here is a node or more
    wide = [(i, p) for i, p in enumerate(d["pools"]) if p["cards_per_instance"] > 8]
    assert wide
    out = tmp_path / "x"
    out.mkdir()
    for name, text in files.items():
        (out / name).write_text(text)
    for i, p in wide:
        name = next(r["pool"] for r in rows if r["pool"].endswith(f"-{i}"))
        for k in range(p["instances"]):
            mine = [r for r in rows if r["pool"] == name and r["instance"] == str(k)]
            assert [r["rank"] for r in mine] == [str(n) for n in range(p["cards_per_instance"] // 8)]
            assert {r["leader"] for r in mine} == {mine[0]["node"]} and len({r["node"] for r in mine}) == len(mine)
    env = _fake_engines(tmp_path) | {"TMPDIR": str(tmp_path)}
    i, p = wide[0]
    name = next(r["pool"] for r in rows if r["pool"].endswith(f"-{i}"))
    rank0 = next(r for r in rows if r["pool"] == name and r["rank"] == "0")
    subprocess.run(["sh", str(out / "launch-node.sh"), rank0["node"]], env=env, check=True, timeout=60)
    hosts = (tmp_path / f"hosts-{name}-{rank0['instance']}.txt").read_text()
    assert hosts == "".join(f"{r['node']} slots=8\n" for r in rows
                            if r["pool"] == name and r["instance"] == rank0["instance"])
    runs = [json.loads(ln) for ln in (tmp_path / "log").read_text().splitlines()]
    assert [r["argv"][:3] for r in runs] == [["--hostfile", str(tmp_path / f"hosts-{name}-{rank0['instance']}.txt"),
                                              "-n"]]
    script = files[f"{name}.sh"]
    assert 'DIR=$(cd "$(dirname "$0")" && pwd)' in script and '--config "${DIR}"/' in script
    assert "*) echo" in script   # an unknown NODE_RANK is an error, not a silent exit 0
    bad = subprocess.run(["sh", str(out / "launch-node.sh"), "h100-node-99"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "h100-node-99: no such node in placement.csv" in bad.stderr


def _pl(name: str, cards: int, n: int, per_node: int = 8):
    return SimpleNamespace(name=name, gpu=SimpleNamespace(id="h100", node_cards=per_node),
                           pool=SimpleNamespace(instances=n, cards_per_instance=cards),
                           nodes=max(1, cards // per_node), cards_per_node=min(cards, per_node))


def test_first_fit_decreasing_by_hand():
    seats = place([_pl("a", 1, 2), _pl("b", 4, 1), _pl("c", 2, 3), _pl("d", 16, 1)])
    by = [(s.pool, s.instance, s.rank, s.node, s.cards, s.slot) for s in seats]
    assert by == [("d", 0, 0, "h100-node-0", tuple(range(8)), 0), ("d", 0, 1, "h100-node-1", tuple(range(8)), 0),
                  ("b", 0, 0, "h100-node-2", (0, 1, 2, 3), 0), ("c", 0, 0, "h100-node-2", (4, 5), 1),
                  ("c", 1, 0, "h100-node-2", (6, 7), 2), ("c", 2, 0, "h100-node-3", (0, 1), 0),
                  ("a", 0, 0, "h100-node-3", (2,), 1), ("a", 1, 0, "h100-node-3", (3,), 2)]
    # three 5-card instances and one card: 16 cards, two nodes priced, three needed
    pls = [_pl("e", 5, 3), _pl("f", 1, 1)]
    notes = shortfall(pls, place(pls), {"h100": 16})
    assert notes == ["h100: the instances fill 3 nodes where the plan's 16 cards fill 2: an instance cannot be "
                     "split over two nodes; rent 3 or re-plan"]
    assert shortfall(pls, place(pls), {"h100": 24}) == []


def test_a_plan_of_more_instances_than_a_script_export_places_is_refused_at_once(tmp_path):
    """A hunt (2026-12-07): `plan export --target vllm` of a plan of 15,072,844 instances (Llama-3.1-8B at
    10⁹ req/s) held 11.3 GB after 200 s, placing each instance on a named node. A script export now
    refuses a plan beyond MAX_PLACED_INSTANCES at once, exit 2, and names the targets whose schedulers
    place the pods; k8s exports the same plan."""
    from click.testing import CliRunner

    from cli import main
    from planner.report.export.placement import MAX_PLACED_INSTANCES
    problem = tmp_path / "big.yaml"
    problem.write_text("name: big\nmodel: llama-3.1-8b\nworkload: {qps: 1e9, input_tokens: 500, output_tokens: 150}\n"
                       "slo: {ttft: 500ms, tpot: 30ms}\ngpus: [h100]\n")
    out = tmp_path / "big.json"
    assert CliRunner().invoke(main, ["solve", str(problem), "--out", str(out)]).exit_code == 0
    total = sum(p["instances"] for p in json.loads(out.read_text())["pools"])
    assert total > MAX_PLACED_INSTANCES == 1_000_000
    r = CliRunner().invoke(main, ["export", str(out), "--target", "vllm", "--out", str(tmp_path / "v")])
    assert r.exit_code == 2 and f"pools: {total:,} instances; --target vllm names a node" in r.output \
        and "--target k8s or dynamo" in r.output, r.output
    assert not (tmp_path / "v").exists()
    r = CliRunner().invoke(main, ["export", str(out), "--target", "k8s", "--out", str(tmp_path / "k")])
    assert r.exit_code == 0, r.output
