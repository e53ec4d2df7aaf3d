"""Exported launch commands read by the engines' own argument parsers (issue 16, item 3).

SGLang's parser (`ServerArgs.add_cli_args`) and vLLM's (`make_arg_parser`, what `vllm serve` uses)
build on a CPU machine but need the engines and PyTorch, far more than the test environment should
carry, so they run in an interpreter of their own: set PLANNER_ENGINE_PYTHON to a Python that has
SGLang 0.5.23 and vLLM 0.11.0 installed (docs/export.md says how; pinned in
tests/engines/requirements-parsers.txt). Without it these tests are skipped and the flag-list
check of tests/test_export.py stands alone. TensorRT-LLM has no CPU build: its flags are checked
against the list read from its source only.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from planner.catalog.schemas import get_model
from planner.report.export import mixes_roles, render
from tests.test_export import MIXED, NEEDS_CHECKPOINT, PLANS, TWO_VENDORS, UNREALISABLE, commands, plan

ROOT = Path(__file__).resolve().parents[1]
ENGINE_PYTHON = os.environ.get("PLANNER_ENGINE_PYTHON")
EXAMPLES = PLANS
REFUSED = MIXED | UNREALISABLE | TWO_VENDORS     # what the export refuses to render (tests/test_export.py)


def runnable(engine: str) -> list[str]:
    """The example plans `engine` can run."""
    return [name for name in EXAMPLES if (name, engine) not in REFUSED]

pytestmark = pytest.mark.skipif(not ENGINE_PYTHON, reason="PLANNER_ENGINE_PYTHON not set (the engines' own parsers)")
VERSIONS = {"sglang": "0.5.23", "vllm": "0.11.0"}


def _parse(engine: str, cmds: dict[str, list[list[str]]]) -> dict[str, list[dict]]:
    out = subprocess.run([ENGINE_PYTHON, str(ROOT / f"tests/engines/parse_{engine}.py")], input=json.dumps(cmds),
                         capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout)


def _parsed(engine: str) -> dict[str, tuple[dict, list[tuple[dict, list[dict]]]]]:
    """Per example plan the engine can run (the export refuses the others: tests/test_export.py),
    its JSON and, per pool, the parser's reading of each node's command."""
    plans = {name: plan(name) for name in runnable(engine)}
    cmds = {name: commands(render(d, engine, model_path="/models/checkpoint"
                                  if (name, engine) in NEEDS_CHECKPOINT else None))
            for name, d in plans.items()}
    flat = {f"{name}/{pool}": argvs for name, c in cmds.items() for pool, argvs in c.items()}
    got = _parse(engine, flat)
    return {name: (d, [(pool, got[f"{name}/{key}"]) for pool, key in zip(d["pools"], cmds[name])])
            for name, d in plans.items()}


@pytest.fixture(scope="module")
def sglang() -> dict:
    return _parsed("sglang")


@pytest.fixture(scope="module")
def vllm() -> dict:
    return _parsed("vllm")


def _engine_batch(pool: dict) -> int:
    """Sequences an instance admits: the plan's slots (`PlanPool.engine_batch`); a prefill pool's, the
    prompts of a pass (its design batch)."""
    return pool["slots"] if pool["role"] != "prefill" else pool["design_batch"]


@pytest.mark.parametrize("engine", sorted(VERSIONS))
def test_engine_versions_are_the_pinned_ones(engine):
    out = subprocess.run([ENGINE_PYTHON, "-c", f"import importlib.metadata as m; print(m.version('{engine}'))"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == VERSIONS[engine]


@pytest.mark.parametrize("name", runnable("sglang"))
def test_every_sglang_command_parses_to_the_pool(sglang, name):
    """No flag the parser does not know, no value it refuses, and the values it reads realise
    the pool: tp-size = TP·DP (SGLang counts attention-DP ranks in it), dp-size = DP with DP
    attention, pp-size, experts spread over TP·DP (ep-size), the engine batch as
    max-running-requests, the disaggregation role, MTP as EAGLE steps."""
    d, pools = sglang[name]
    assert pools
    for pool, results in pools:
        par = pool["parallelism"]
        for r in results:
            assert r["error"] is None and r["unknown"] == [], (pool["name"], r)
            a = r["args"]
            assert (a["tp_size"], a["pp_size"]) == (par["tp"] * par["dp"], par["pp"])
            assert a["dp_size"] == par["dp"] and a["enable_dp_attention"] == (par["dp"] > 1)
            if pool["role"] != "prefill":
                assert a["max_running_requests"] == _engine_batch(pool)
            assert a["disaggregation_mode"] == {"prefill": "prefill", "decode": "decode"}.get(pool["role"], "null")
            spec = pool["speculative"]
            if spec is None:
                assert a["speculative_algorithm"] is None
            else:
                assert (a["speculative_algorithm"], a["speculative_num_steps"]) == ("EAGLE", spec["draft_tokens"])
                assert a["speculative_num_draft_tokens"] == spec["draft_tokens"] + 1


@pytest.mark.parametrize("name", runnable("vllm"))
def test_every_vllm_command_parses_to_the_pool(vllm, name):
    """vLLM's `vllm serve` parser: no unknown flag or refused value; TP, PP and DP as planned (the
    DP ranks split over nodes add up to DP), experts spread over TP·DP cards for a MoE model on
    more than one card, max-num-seqs per DP rank = ⌈engine batch / DP⌉, KV transfer over NIXL for
    a disaggregated pool, MTP as deepseek_mtp with k tokens."""
    d, pools = vllm[name]
    assert pools
    for pool, results in pools:
        par = pool["parallelism"]
        moe = get_model(pool.get("model") or d["model"]).arch.is_moe
        local = 0
        for r in results:
            assert r["error"] is None and r["unknown"] == [], (pool["name"], r)
            a = r["args"]
            assert (a["tensor_parallel_size"], a["pipeline_parallel_size"], a["data_parallel_size"]) == \
                (par["tp"], par["pp"], par["dp"])
            local += a["data_parallel_size_local"] or par["dp"] // len(results)
            assert a["enable_expert_parallel"] == (moe and par["tp"] * par["dp"] > 1)
            assert a["max_num_seqs"] == math.ceil(_engine_batch(pool) / par["dp"])
            kv = a["kv_transfer_config"]
            # a colocated engine in a service that also has prefill/decode pools hands KV both ways
            # (kv_both); a colocated engine of a service of its own moves none
            mixed = mixes_roles([SimpleNamespace(role=p["role"]) for p in d["pools"]
                                 if p.get("service", "") == pool.get("service", "")])
            assert (kv is not None and kv["kv_connector"] == "NixlConnector") == (pool["role"] != "colocated" or mixed)
            if pool["role"] == "colocated" and mixed:
                assert kv["kv_role"] == "kv_both"
            spec = pool["speculative"]
            mtp = None if spec is None else {"method": "deepseek_mtp", "num_speculative_tokens": spec["draft_tokens"]}
            assert a["speculative_config"] == mtp
        assert local == par["dp"]


@pytest.mark.parametrize("engine", sorted(VERSIONS))
def test_flag_list_is_the_parsers(engine):
    """planner/report/export/flags/<engine>-<version>.txt is exactly what the engine's parser lists
    (regenerate with `$PLANNER_ENGINE_PYTHON tests/engines/parse_<engine>.py --flags`)."""
    out = subprocess.run([ENGINE_PYTHON, str(ROOT / f"tests/engines/parse_{engine}.py"), "--flags"],
                         capture_output=True, text=True, check=True).stdout.split()
    text = (ROOT / f"planner/report/export/flags/{engine}-{VERSIONS[engine]}.txt").read_text()
    listed = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    assert listed == out
