"""`planner.report.export` (issue 16, items 1-3): engine commands, manifests, load test, validation.

Every exported launch command is read back with shlex: each flag must be in the engine's flag
list (planner/report/export/flags/, read from the engine's source at a pinned commit) and the
pool's TP, PP, DP and batch must be recoverable from it. Kubernetes manifests are validated with
kubernetes-validate (offline OpenAPI schemas, strict); the Dynamo resource against
tests/data/dynamo_dgd_schema.json (a structural subset of its CRD). The GPUs the manifests
request add up to the plan's cards per GPU type.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shlex
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
import yaml

from planner.errors import BadInput
from planner.report.export import EXPORT_MANIFEST, TARGETS, export, mixes_roles, render
from planner.report.export.manifests import NODE_LABEL

kubernetes_validate = pytest.importorskip("kubernetes_validate")

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "solve"
# rag_long_context_mixed: that example's plan of 2026-12-05 until collectives on cards without tables
# paid their reference's latency (MI300X decode, prefill and colocated pools beside an H100 prefill
# pool, 244.32 RMB/h), kept as a plan file: the example now plans on H100 and H20 alone
FROZEN = ROOT / "tests" / "data" / "plans"
PLANS = ["deepseek_qps", "llama70b_chat", "rag_long_context", "rag_long_context_mixed", "small_model_cheap_card",
         "fleet_mix", "deepseek_mtp", "deepseek_p99", "deepseek_b200_fp4_experts", "sxm_or_pcie"]
FLAGS = {"vllm": "vllm-0.11.0.txt", "sglang": "sglang-0.5.23.txt", "trtllm": "trtllm-serve.txt"}
# the flags of the engine version in the export's default image, where it is not the parser's version:
# a command must pass both (SGLang's parser 0.5.23 installs here; the image runs 0.5.3)
IMAGE_FLAGS = {"sglang": "sglang-0.5.3.txt"}


def plan(name: str) -> dict:
    """A golden plan, or a plan file kept as written on its day (tests/data/plans: plans whose
    pools the examples no longer give, e.g. MI300X beside H100; `*_disaggregated`: the examples'
    plans of 2026-12-04, all prefill and decode pools, which SGLang, TensorRT-LLM and Dynamo run,
    where since the refit of 2026-12-05 deepseek_qps, deepseek_mtp and small_model_cheap_card mix a
    colocated pool in at the same cost)."""
    frozen = FROZEN / f"{name}.json"
    return json.loads((frozen if frozen.exists() else GOLDEN / f"{name}.json").read_text(encoding="utf-8"))


K8S_VERSION = "1.30.0"
# (plan, target) an engine cannot realise: TensorRT-LLM is NVIDIA-only, rag_long_context_mixed prefills on MI300X
UNREALISABLE = {("rag_long_context_mixed", "trtllm")}
# plans whose colocated pools share a service with prefill/decode pools: SGLang and TensorRT-LLM run a
# server either colocated or as one side of a P/D pair, so they are refused (vLLM's take KV both ways)
def _mixed(name: str) -> bool:
    d = plan(name)
    return any(mixes_roles([SimpleNamespace(role=p["role"]) for p in d["pools"] if p.get("service", "") == key])
               for key in {p.get("service", "") for p in d["pools"]})


MIXED = {(p, t) for p in PLANS if _mixed(p) for t in ("sglang", "trtllm", "dynamo")}   # dynamo: a 2026-12-05 hunt
# manifests run every pod from one image: H100 and MI300X pools need a CUDA and a ROCm build
TWO_VENDORS = {("rag_long_context_mixed", "k8s"), ("rag_long_context_mixed", "dynamo")}


def flag_list(engine: str, name: str | None = None) -> set[str]:
    text = (ROOT / "planner/report/export/flags" / (name or FLAGS[engine])).read_text(encoding="utf-8")
    return {ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")}


def commands(files: dict[str, str]) -> dict[str, list[list[str]]]:
    """Every `exec` line of every pool script, re-read with shlex, by pool name, with the script's
    defaults (`: "${PORT:=8000}"`) in place of its per-instance references, as the shell runs it
    without a node script's settings."""
    out: dict[str, list[list[str]]] = {}
    for name, text in files.items():
        if not name.endswith(".sh") or name.startswith(("loadtest", "pd-router-", "launch-node")):
            continue
        defaults = dict(re.findall(r'^: "\$\{(\w+):=([^}]*)\}"$', text, flags=re.M))
        for line in text.splitlines():
            if "exec " in line:
                argv = shlex.split(line.split("exec ", 1)[1].rstrip(" ;"))
                for k, v in defaults.items():
                    argv = [a.replace("${" + k + "}", v) for a in argv]
                out.setdefault(name[:-3], []).append(argv)
    return out


def opts(argv: list[str]) -> dict[str, str | bool]:
    """--flag value / --flag (boolean) pairs of an argv."""
    out: dict[str, str | bool] = {}
    for i, a in enumerate(argv):
        if a.startswith("--"):
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            out[a] = nxt if nxt is not None and not nxt.startswith("--") else True
    return out


def recover(engine: str, argv: list[str]) -> tuple[int, int, int, int]:
    """(tp, pp, dp, sequences per instance) as the engine reads its command."""
    o = opts(argv)
    if engine == "vllm":
        dp = int(o["--data-parallel-size"])
        return int(o["--tensor-parallel-size"]), int(o["--pipeline-parallel-size"]), dp, int(o["--max-num-seqs"]) * dp
    if engine == "sglang":
        dp = int(o.get("--dp-size", 1)) if o.get("--enable-dp-attention") else 1
        return int(o["--tp-size"]) // dp, int(o["--pp-size"]), dp, int(o["--max-running-requests"])
    return int(o["--tp_size"]), int(o["--pp_size"]), 0, int(o["--max_batch_size"])


CASES = [(p, t) for p in PLANS for t in TARGETS]


# (plan, target) whose weights the engine cannot quantise from the catalog's checkpoint while loading:
# TensorRT-LLM (FP8 weights of a BF16 model) and every engine for FP4 experts beside FP8 attention;
# the export asks for --model-path to a checkpoint stored so (vLLM and SGLang get --quantization fp8)
NEEDS_CHECKPOINT = {("llama70b_chat", "trtllm"), ("rag_long_context", "trtllm"), ("rag_long_context_mixed", "trtllm"),
                    ("sxm_or_pcie", "trtllm"),
                    *(("deepseek_b200_fp4_experts", t) for t in TARGETS)}


@pytest.mark.parametrize(("name", "target"), CASES, ids=[f"{p}-{t}" for p, t in CASES])
def test_export_every_plan_every_target(name, target):
    d = plan(name)
    model_path = None
    if (name, target) in NEEDS_CHECKPOINT:
        with pytest.raises(BadInput, match=r"weight_dtype: the plan holds the weights in .*--model-path PATH"):
            render(d, target, source=f"{name}.json")
        model_path = "/models/checkpoint"
    if (name, target) in UNREALISABLE:
        with pytest.raises(BadInput, match=r"pools\[\d+\]\.gpu: TensorRT-LLM runs on NVIDIA GPUs only"):
            render(d, target, source=f"{name}.json", model_path=model_path)
        return
    if (name, target) in TWO_VENDORS:
        with pytest.raises(BadInput, match=r"pools on amd GPUs \(mi300x\) and nvidia GPUs \(h100\): one container"):
            render(d, target, source=f"{name}.json", model_path=model_path)
        return
    if (name, target) in MIXED:
        with pytest.raises(BadInput, match=r"colocated pools also take over prefill or decode work .* (never both|"
                                           r"either aggregated or one side of a prefill/decode pair)"):
            render(d, target, source=f"{name}.json", model_path=model_path)
        return
    files = render(d, target, source=f"{name}.json", model_path=model_path)
    assert {"README.txt", "router.json", "loadtest.sh", "loadtest-genai-perf.sh", "slo.json"} <= set(files)
    for f in files:
        assert f in files["README.txt"], f"README.txt does not describe {f}"
    if target in FLAGS:
        _check_commands(d, target, files)
    elif target == "k8s":
        _check_k8s(d, files["k8s.yaml"])
    else:
        _check_dynamo(d, files["dynamo.yaml"])
    _check_router(d, json.loads(files["router.json"]))
    _check_loadtest(d, files)


def _pools(d: dict) -> list[dict]:
    return d["pools"]


def _check_commands(d: dict, engine: str, files: dict[str, str]) -> None:
    known = flag_list(engine)
    if engine in IMAGE_FLAGS:
        known &= flag_list(engine, IMAGE_FLAGS[engine])
    cmds = commands(files)
    assert len(cmds) == len(_pools(d))
    for argv_list, pool in zip(cmds.values(), _pools(d)):
        for argv in argv_list:
            start = argv.index("trtllm-serve") if "trtllm-serve" in argv else 0
            bad = [a for a in argv[start:] if a.startswith("--") and a not in known]
            assert bad == [], f"{engine} has no flag {bad} (flags/{FLAGS[engine]}, {IMAGE_FLAGS.get(engine, '')})"
        par = pool["parallelism"]
        tp, pp, dp, seqs = recover(engine, argv_list[0])
        # the engine admits the plan's slots (its memory at the longest sequences), what the plan's
        # slot-wait model and the simulation let in: not the design batch (the seed's H20 decode pool:
        # 4,289, not 478, else requests wait for slots the plan did not count)
        b = pool["slots"] if pool["role"] != "prefill" else pool["design_batch"]   # prefill: prompts a pass
        assert b >= pool["batch"]
        d_ = par["dp"]
        if engine == "trtllm":   # --tp_size counts TP·DP; attention DP is enabled in the pool's YAML
            yml = yaml.safe_load(files[str(opts(argv_list[0])["--config"]).removeprefix("${DIR}/")])
            dp = d_ if yml["enable_attention_dp"] else 1
            assert (tp // dp, pp, dp, seqs * dp) == (par["tp"], par["pp"], d_, math.ceil(b / d_) * d_)
        elif engine == "vllm":
            assert (tp, pp, dp, seqs) == (par["tp"], par["pp"], d_, math.ceil(b / d_) * d_)
        else:
            assert (tp, pp, dp, seqs) == (par["tp"], par["pp"], d_, b)


def _gpu_of(selector: dict, labels: dict) -> str:
    assert any(k in NODE_LABEL.values() for k in selector), selector
    return labels["planner/gpu"]


def _check_k8s(d: dict, text: str) -> None:
    docs = list(yaml.safe_load_all(text))
    requested: Counter = Counter()
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)   # raises ValidationError
        if doc["kind"] in ("Deployment", "StatefulSet") and doc["metadata"]["labels"]["planner/role"] != "router":
            pod = doc["spec"]["template"]
            (c,) = pod["spec"]["containers"]
            gpu = _gpu_of(pod["spec"]["nodeSelector"], pod["metadata"]["labels"])
            res = c["resources"]["requests"]
            assert res == c["resources"]["limits"]
            (cards,) = [int(v) for k, v in res.items() if k.endswith("/gpu") or "Ascend" in k]
            requested[gpu] += doc["spec"]["replicas"] * cards
    assert dict(requested) == d["totals"]["cards"]


def _check_dynamo(d: dict, text: str) -> None:
    doc = yaml.safe_load(text)
    schema = json.loads((ROOT / "tests/data/dynamo_dgd_schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(doc, schema)
    requested: Counter = Counter()
    workers = [s for s in doc["spec"]["services"].values() if s["componentType"] == "worker"]
    assert len(workers) == len(_pools(d))
    for s, pool in zip(workers, _pools(d)):
        nodes = s.get("multinode", {}).get("nodeCount", 1)
        requested[pool["gpu"]] += s["replicas"] * nodes * int(s["resources"]["requests"]["gpu"])
        assert s["replicas"] == pool["instances"]
    assert dict(requested) == d["totals"]["cards"]


def _check_router(d: dict, r: dict) -> None:
    rows = [row for svc in r["services"].values() for row in svc]
    assert len(rows) == len(_pools(d))
    for svc in r["services"].values():
        for key in ("prefill_weight", "decode_weight"):
            assert sum(row[key] for row in svc) == pytest.approx(1.0)
    for row in rows:   # a row names its pool by index (services are keyed, so not in pool order)
        pool = _pools(d)[int(row["pool"].rsplit("-", 1)[1])]
        assert (row["prefill_weight"] > 0) == (pool["capacity_prefill_tokens_per_s"] > 0)
        assert row["gpu"] == pool["gpu"] and row["instances"] == pool["instances"]


def _check_loadtest(d: dict, files: dict[str, str]) -> None:
    services = d["services"] if d.get("kind") == "fleet" else [{"workload": d["workload"]}]
    lines = [ln for ln in files["loadtest.sh"].replace("\\\n", " ").splitlines() if ln.startswith("vllm bench")]
    assert len(lines) == len(services)
    for line, s in zip(lines, services):
        o = opts(shlex.split(line))
        w = s["workload"]
        assert float(o["--request-rate"]) == pytest.approx(w["qps"])
        prefix = int(o.get("--random-prefix-len", 0))
        assert int(o["--random-input-len"]) + prefix == round(w["input_tokens"])
        assert int(o["--random-output-len"]) == round(w["output_tokens"])
        assert int(o["--num-prompts"]) >= 180 * w["qps"]
    perf = [ln for ln in files["loadtest-genai-perf.sh"].replace("\\\n", " ").splitlines()
            if ln.startswith("genai-perf")]
    for line, s in zip(perf, services, strict=True):   # the same load: the cached share as a shared prefix
        o = opts(shlex.split(line))
        prefix = int(o.get("--prefix-prompt-length", 0))
        assert int(o["--synthetic-input-tokens-mean"]) + prefix == round(s["workload"]["input_tokens"])
        assert prefix == round(s["workload"]["prefix_cache_hit"] * s["workload"]["input_tokens"])
    slo = json.loads(files["slo.json"])
    assert all(len(v["limits_ms"]) == 2 for v in slo.values())


def test_deepseek_vllm_command_realises_the_plan():
    """deepseek_qps's prefill pool (H100 TP1·DP8·PP4 since the twenty-fourth session's pick among
    equal-cost plans, H800 TP1·DP8·PP2 under the profiles of 2026-12-04) spans four 8-card nodes:
    one command per node, the others headless from DP ranks 2, 4 and 6 (a rank's four pipeline
    stages on one node); a one-node decode pool gets no multi-node flags."""
    d = plan("deepseek_qps_disaggregated")
    assert [(p["role"], p["gpu"], p["cards_per_instance"]) for p in d["pools"]] == [
        ("decode", "h200", 8), ("decode", "h20", 16), ("prefill", "h100", 32)]   # the premise: pool 2 four nodes
    files = render(d, "vllm")
    ranks = commands(files)["prefill-h100-2"]                 # TP1·DP8·PP4: 32 cards = 4 nodes of 8
    o = opts(ranks[0])
    assert ranks[0][:3] == ["vllm", "serve", "deepseek-ai/DeepSeek-R1"]   # the catalog's repository, not its id
    assert o["--enable-expert-parallel"] is True
    assert o["--max-num-batched-tokens"] == "16000"           # 16 prompts × 1,000 tokens a pass
    assert json.loads(o["--kv-transfer-config"])["kv_connector"] == "NixlConnector"
    assert (o["--tensor-parallel-size"], o["--pipeline-parallel-size"], o["--data-parallel-size"]) == ("1", "4", "8")
    assert [opts(a)["--data-parallel-start-rank"] for a in ranks] == ["0", "2", "4", "6"]   # 2 DP ranks per node
    assert [a[-1] == "--headless" for a in ranks] == [False, True, True, True]
    (dec,) = commands(files)["decode-h200-0"]                 # one node: no multi-node flags
    assert "--data-parallel-start-rank" not in opts(dec)


def test_colocated_pool_gets_its_chunk():
    """rag_long_context's colocated MI300X pool prefills whole 16,000-token prompts per step (the
    plan's chunk; llama70b_chat, which checked 954-token chunks, now disaggregates)."""
    d = plan("rag_long_context_mixed")
    assert [p["chunk_tokens"] for p in d["pools"] if p["role"] == "colocated"] == [16000.0]
    vllm = commands(render(d, "vllm"))
    name = [k for k in vllm if k.startswith("colocated-mi300x")][0]
    o = opts(vllm[name][0])
    # vLLM's budget holds the step's decodes too: 16,000 prompt tokens + 69 sequences per DP rank (the
    # TP1·DP4 instance's 275 slots over its four ranks, as from 2026-12-04's nineteenth session until
    # the step in progress of its twenty-first and again since its twenty-fourth; the TP1·DP2
    # instances between had 33 a rank)
    assert o["--enable-chunked-prefill"] is True and o["--max-num-batched-tokens"] == "16069"
    assert o["--max-num-seqs"] == "69"
    d["pools"] = [p for p in d["pools"] if p["role"] == "colocated"]   # SGLang runs them alone (MIXED)
    d["mode"] = "colocated"   # as its pools make it now (plan files' mode is held to them)
    o = opts(commands(render(d, "sglang"))["colocated-mi300x-0"][0])
    # SGLang's is the instance's: with --enable-dp-attention it gives each of the DP4 ranks 64,000 // 4
    assert o["--chunked-prefill-size"] == "64000" and o["--dp-size"] == "4" and "--disaggregation-mode" not in o


def test_a_colocated_engine_of_several_prompt_lengths_takes_them_whole(llama70b_chat_colocated_json):
    """llama70b_chat's prompts of 800, 1,500 and 3,000 tokens, 40 % cached: the model's chunk is the
    mean uncached prompt (954 tokens), the engines' step budget the pass budget (16,384), so that a
    step takes every prompt that arrived during the one before, whole, as the plan models it
    (`colocated.engine_chunk_tokens`, `physics.packed`; the longest prompt, 1,800, until the
    twenty-fifth session)."""
    d = llama70b_chat_colocated_json
    pool = [p for p in d["pools"] if p["role"] == "colocated"][0]   # the first of its colocated pools
    assert (pool["chunk_tokens"], pool["engine_chunk_tokens"]) == (954.0, 16384.0)
    name = next(k for k in commands(render(d, "vllm")) if k.startswith("colocated"))
    # vLLM counts a step's decodes in the same budget: 16,384 prompt tokens + the 131 sequences a
    # TP2 instance admits (its slots; four TP2 instances since the twenty-seventh session left the
    # dominated L40S and A100 out, two TP4 ones of the same cost before, of 390 slots)
    assert pool["slots"] == 131
    assert opts(commands(render(d, "vllm"))[name][0])["--max-num-batched-tokens"] == "16515"
    assert opts(commands(render(d, "sglang"))[name][0])["--chunked-prefill-size"] == "16384"
    assert "--max_num_tokens 16515" in " ".join(commands(render(d, "trtllm", model_path="/m/fp8"))[name][0])
    older = dict(d, pools=[dict(p, engine_chunk_tokens=None) for p in d["pools"]])   # a plan before the key
    assert opts(commands(render(older, "vllm"))[name][0])["--max-num-batched-tokens"] == "1085"   # 954 + 131


def test_not_a_plan_is_bad_input():
    with pytest.raises(BadInput, match=r"x.json: not a plan file"):
        render({"hello": 1}, "vllm", source="x.json")
    d = plan("deepseek_qps_disaggregated")
    d["pools"][0]["cards_per_instance"] = 4
    with pytest.raises(BadInput, match=r"pools\[0\]\.cards_per_instance: 4 cards, but tp·pp·dp"):
        render(d, "k8s", source="x.json")
    with pytest.raises(BadInput, match="--target"):
        render(plan("deepseek_qps_disaggregated"), "ollama")
    day = json.loads((GOLDEN / "deepseek_day.json").read_text())   # its schedule: tests/test_export_schedule.py
    with pytest.raises(BadInput, match=r"day\.json: over the horizon it runs colocated pools \(periods 3, 5, 8, 23\)"):
        render(day, "sglang", source="day.json")
    render(day["comparison"]["static_peak_plan"], "vllm", source="peak.json")   # its static fleet, as a plan


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_k8s_and_dynamo_with_sglang(engine):
    d = plan("deepseek_qps_disaggregated")
    docs = list(yaml.safe_load_all(render(d, "k8s", engine=engine)["k8s.yaml"]))
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    _check_k8s(d, render(d, "k8s", engine=engine)["k8s.yaml"])
    _check_dynamo(d, render(d, "dynamo", engine=engine)["dynamo.yaml"])
    with pytest.raises(BadInput, match="--engine: 'trtllm' cannot be exported for target k8s"):
        render(d, "k8s", engine="trtllm")


def test_dynamo_service_keys_name_the_gpu_and_the_pool_apart():
    """The seed's pools as Dynamo services: the pool index follows 'Pool', so an H20 pool's key does
    not read as H200 ('DecodeH202' was pool 2 of H20 cards, 'PrefillH2000' pool 0 of H200)."""
    d = plan("deepseek_qps_disaggregated")
    services = yaml.safe_load(render(d, "dynamo")["dynamo.yaml"])["spec"]["services"]
    want = ["Frontend"] + [f"{p['role'].title()}{p['gpu'].title()}Pool{i}" for i, p in enumerate(d["pools"])]
    assert list(services) == want
    assert [(p["role"], p["gpu"]) for p in d["pools"]] == [("decode", "h200"), ("decode", "h20"), ("prefill", "h100")]
    assert want[1:] == ["DecodeH200Pool0", "DecodeH20Pool1", "PrefillH100Pool2"]


def test_kv_dtype_an_engine_lacks():
    d = plan("llama70b_chat")
    d["kv_dtype"] = "int8"
    with pytest.raises(BadInput, match="kv_dtype: vllm has no int8 KV cache"):
        render(d, "vllm", source="p.json")


def test_export_writes_all_or_nothing(tmp_path):
    out = tmp_path / "out"
    written = export(plan("deepseek_qps_disaggregated"), "k8s", "img:1", "/models/r1", out)
    assert {p.name for p in written} | {EXPORT_MANIFEST} == {p.name for p in out.iterdir()}
    lines = [ln.split("  ") for ln in (out / EXPORT_MANIFEST).read_text().splitlines()]   # as sha256sum writes
    assert [n for _, n in lines] == sorted(p.name for p in written)
    assert all(h == hashlib.sha256((out / n).read_bytes()).hexdigest() for h, n in lines)
    assert "image: img:1" in (out / "k8s.yaml").read_text()
    with pytest.raises(BadInput, match="exists and is not empty; pass --force"):
        export(plan("deepseek_qps_disaggregated"), "vllm", None, None, out)
    bad = tmp_path / "bad"
    with pytest.raises(BadInput, match="TensorRT-LLM runs on NVIDIA GPUs only"):
        export(plan("rag_long_context_mixed"), "trtllm", None, "/models/qwen3-fp8", bad)
    assert not bad.exists() and [p.name for p in tmp_path.iterdir()] == ["out"]
    export(plan("small_model_cheap_card"), "vllm", None, None, out, force=True)
    assert not (out / "k8s.yaml").exists()


def test_force_replaces_a_previous_export_only(tmp_path):
    """--force replaces an export (everything in the directory listed in its manifest), never a
    directory holding the user's own files or the input plan: refused, exit 2, nothing deleted."""
    from click.testing import CliRunner

    import cli
    src = Path(__file__).resolve().parent / "golden" / "solve" / "deepseek_qps.json"
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "sub" / "thesis.txt").write_text("important")
    with pytest.raises(BadInput, match="replaces only a previous export of plan, and it holds sub"):
        export(plan("deepseek_qps_disaggregated"), "vllm", None, None, mine, force=True)
    assert (mine / "sub" / "thesis.txt").read_text() == "important"
    inside = tmp_path / "inside"
    inside.mkdir()
    (inside / "plan.json").write_bytes(src.read_bytes())
    r = CliRunner().invoke(cli.main, ["export", str(inside / "plan.json"), "--target", "vllm", "--out",
                                      str(inside), "--force"])
    assert r.exit_code == 2 and "holds the input" in r.stderr and (inside / "plan.json").exists(), r.output
    out = tmp_path / "out"
    export(plan("deepseek_qps_disaggregated"), "vllm", None, None, out)
    (out / "notes.txt").write_text("added by hand")
    with pytest.raises(BadInput, match="it holds notes.txt"):
        export(plan("deepseek_qps_disaggregated"), "vllm", None, None, out, force=True)
    (out / "notes.txt").unlink()
    export(plan("deepseek_qps_disaggregated"), "sglang", None, None, out, force=True)   # a previous export: replaced
    assert not (out / "notes.txt").exists() and (out / EXPORT_MANIFEST).exists()


def test_force_keeps_an_exported_file_edited_since(tmp_path):
    """The scripts are there to be edited (a plan of several models needs its paths set by hand),
    and --force replaced the edits without a word (hostile-input hunt, 2026-12-06). The manifest
    holds each file's SHA-256 now; an edited file is refused by name, exit 2, nothing replaced.
    A manifest of names only (exports before) is replaced as before."""
    from click.testing import CliRunner

    import cli
    out = tmp_path / "out"
    export(plan("deepseek_qps_disaggregated"), "vllm", None, None, out)
    export(plan("deepseek_qps_disaggregated"), "k8s", None, None, out, force=True)   # unedited: replaced
    (out / "loadtest.sh").write_text((out / "loadtest.sh").read_text() + "# my change\n")
    src = Path(__file__).resolve().parent / "golden" / "solve" / "deepseek_qps.json"
    r = CliRunner().invoke(cli.main, ["export", str(src), "--target", "vllm", "--out", str(out), "--force"])
    assert r.exit_code == 2 and r.stderr == (f"error: {out}/loadtest.sh: edited since plan exported it; --force "
                                             f"would replace your edits: move it out, or choose a new or empty "
                                             f"directory\n"), r.output
    assert (out / "loadtest.sh").read_text().endswith("# my change\n") and (out / "k8s.yaml").exists()
    names = [ln.split("  ")[1] for ln in (out / EXPORT_MANIFEST).read_text().splitlines()]
    (out / EXPORT_MANIFEST).write_text("".join(f"{n}\n" for n in names))   # an export of before: names only
    export(plan("deepseek_qps_disaggregated"), "vllm", None, None, out, force=True)
    assert not (out / "k8s.yaml").exists()


def test_unwritable_out_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(BadInput, match=r"/file is a file, not a directory"):
        export(plan("deepseek_qps_disaggregated"), "vllm", None, None, blocker / "out")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_cli_export_writes_the_files_and_refuses_bad_input(tmp_path):
    """`plan export PLAN.json --target k8s --out DIR`: exit 0 with the manifests and README.txt;
    a problem file instead of a plan, or a non-empty --out without --force, is exit 2."""
    from click.testing import CliRunner

    import cli
    plan = Path(__file__).resolve().parent / "golden" / "solve" / "deepseek_qps.json"
    out = tmp_path / "k8s"
    r = CliRunner().invoke(cli.main, ["export", str(plan), "--target", "k8s", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "README.txt").exists() and any(out.glob("*.yaml"))
    again = CliRunner().invoke(cli.main, ["export", str(plan), "--target", "k8s", "--out", str(out)])
    assert again.exit_code == 2 and "--force" in again.stderr
    bad = CliRunner().invoke(cli.main, ["export", "problems/deepseek_qps.yaml", "--target", "vllm",
                                        "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_solve_export_writes_what_export_of_the_solved_plan_writes(tmp_path):
    """`plan solve P --export vllm --export-dir D` = `plan solve P --out plan.json` then `plan export
    plan.json --target vllm --out D`: the same files, byte for byte, but for the source named in
    README.txt. A non-empty --export-dir is refused before the solve (exit 2); a load profile's export
    is refused after it where the engine cannot run its pools (exit 2, nothing written; its schedule:
    tests/test_export_schedule.py)."""
    from click.testing import CliRunner

    import cli
    run = CliRunner().invoke
    src = "problems/llama70b_chat.yaml"
    one = tmp_path / "one"
    r = run(cli.main, ["solve", src, "--export", "vllm", "--export-dir", str(one)])
    assert r.exit_code == 0, r.output
    pj = tmp_path / "plan.json"
    assert run(cli.main, ["solve", src, "--out", str(pj)]).exit_code == 0
    two = tmp_path / "two"
    assert run(cli.main, ["export", str(pj), "--target", "vllm", "--out", str(two)]).exit_code == 0
    names = sorted(p.name for p in one.iterdir())
    assert names == sorted(p.name for p in two.iterdir()) and "loadtest.sh" in names
    for n in names:
        a, b = (one / n).read_text(), (two / n).read_text()
        if n == "README.txt":
            a, b = a.replace(src, "SRC"), b.replace(str(pj), "SRC")
        assert a == b, n
    again = run(cli.main, ["solve", src, "--export", "vllm", "--export-dir", str(one)])
    assert again.exit_code == 2 and "not empty" in again.stderr and "Plan for" not in again.output
    day = run(cli.main, ["solve", "problems/deepseek_day.yaml", "--export", "sglang", "--export-dir",
                         str(tmp_path / "d")])
    assert day.exit_code == 2 and "the plan solved from problems/deepseek_day.yaml: over the horizon" in day.stderr
    assert not (tmp_path / "d").exists()


def test_experts_are_spread_as_planned_whatever_the_attention_layout():
    """The plan models a MoE model's experts spread over all TP·DP cards; without the flag vLLM
    and SGLang would slice every expert over the TP group. A TP8 (DP1) DeepSeek pool therefore
    gets --enable-expert-parallel / --ep-size 8 too; a dense model gets neither."""
    d = plan("deepseek_qps_disaggregated")
    d["pools"][0]["parallelism"] = {"tp": 8, "pp": 1, "dp": 1, "label": "TP8"}
    d["pools"][0].update(design_batch=400, slots=500, batch=400)   # TP8 replicates the MLA cache: 610 fit
    (v,) = commands(render(d, "vllm"))["decode-h200-0"]
    assert opts(v)["--enable-expert-parallel"] is True and opts(v)["--data-parallel-size"] == "1"
    (s,) = commands(render(d, "sglang"))["decode-h200-0"]
    assert opts(s)["--ep-size"] == "8" and "--dp-size" not in opts(s) and "--enable-dp-attention" not in opts(s)
    dense = plan("sxm_or_pcie")   # Llama-3.1-70B
    (v,) = commands(render(dense, "vllm"))["decode-h100-1"]
    (s,) = commands(render(dense, "sglang"))["decode-h100-1"]
    assert "--enable-expert-parallel" not in opts(v) and "--ep-size" not in opts(s)


def test_vllm_multi_node_pipelines_say_their_experts_cross_nodes(recwarn):
    """The seed's 32-card TP1·DP8·PP4 prefill and 16-card TP1·DP8·PP2 decode were priced with a stage
    a node (EP8 inside it); vLLM puts each DP rank's whole pipeline on one node, so a stage's experts
    span every node (a first-hour walkthrough). The vLLM export says so in the script, README.txt and
    on stderr; SGLang, which runs stage k on node k, and single-node pools say nothing."""
    from planner.errors import PlannerNotice
    files = render(plan("deepseek_qps_disaggregated"), "vllm")
    notes = [str(w.message) for w in recwarn if issubclass(w.category, PlannerNotice)]
    assert [n.split(": ")[1] for n in notes if "pipeline" in n] == ["decode-h20-1", "prefill-h100-2"]
    assert "4 pipeline stages on one node (2 ranks a node), so each stage's expert all-to-all crosses all 4 nodes" \
        in notes[1]
    assert "# note: vLLM runs each data-parallel rank's 4 pipeline stages" in files["prefill-h100-2.sh"]
    assert "note:" not in files["decode-h200-0.sh"]
    assert files["README.txt"].count("  - prefill-h100-2: vLLM runs") == 1
    recwarn.clear()
    files = render(plan("deepseek_qps_disaggregated"), "sglang")   # (its router's even split is another note)
    assert not [w for w in recwarn if issubclass(w.category, PlannerNotice) and "pipeline" in str(w.message)]
    assert "pipeline stages on one node" not in files["README.txt"]


def test_an_edited_batch_no_memory_holds_is_refused_naming_the_pool():
    """A hand-edited plan with a design batch of 10⁷ was exported as --max-num-seqs 10000000 (a
    hostile-input hunt). An instance admitting more sequences than its memory holds even at the
    shortest prompt is refused before any file is written; the plan as written passes."""
    d = plan("deepseek_qps_disaggregated")
    render(d, "vllm")
    d["pools"][1].update(design_batch=10**7, slots=10**7)
    with pytest.raises(BadInput, match=r"plan: pools\[1\]: decode\[.*\]: slots 10,000,000 but 16 h20 card\(s\) "
                                       r"\(TP1·DP8·PP2\) hold at most [0-9,]+ sequences of 1001 tokens, the shortest"):
        render(d, "vllm")
    d = plan("deepseek_qps_disaggregated")
    d["pools"][2].update(design_batch=10**6)
    with pytest.raises(BadInput, match=r"pools\[2\]: prefill\[.*\]: design_batch 1,000,000 but .* sequences of "
                                       r"1000 tokens"):
        render(d, "sglang")


def test_a_name_with_a_newline_stays_inside_the_comment(tmp_path):
    """A problem name with a newline is refused at input (a name is one line), and in a hand-edited
    plan file too, a pool's name as well: nothing after a newline can run as a command."""
    from click.testing import CliRunner

    import cli
    p = tmp_path / "nl.yaml"
    p.write_text("name: |\n  chat service\n  touch PWNED #\nmodel: llama-3.1-8b\n"
                 "workload: {qps: 5, input_tokens: 500, output_tokens: 100}\nslo: {ttft: 2s, tpot: 50ms}\n"
                 "gpus: [h100]\n")
    out = tmp_path / "ex"
    r = CliRunner().invoke(cli.main, ["solve", str(p), "--export", "vllm", "--export-dir", str(out)])
    assert r.exit_code == 2 and "name: a name is one line" in r.stderr and not out.exists(), r.output
    d = plan("small_model_cheap_card")
    d["problem"] = "chat\ntouch PWNED #"
    with pytest.raises(BadInput, match="p.json: problem: a name is one line of printable text"):
        render(d, "vllm", source="p.json")
    d["problem"] = "chat"
    d["pools"][0]["name"] = d["pools"][0]["name"] + "\ntouch PWNED #"   # a pool's name too (2026-12-03:
    with pytest.raises(BadInput, match=r"p.json: pools\[0\].name: a name is one line"):   # it was kept on
        render(d, "vllm", source="p.json")                                            # the comment's line)


def test_a_tp_that_splits_heads_is_refused():
    """A hand-edited plan whose TP does not divide the model's attention heads (Llama-3.1-8B: 32)
    is a layout no engine runs: exit 2 naming the pool's field, for every engine."""
    d = plan("small_model_cheap_card")
    p = d["pools"][0]
    p["parallelism"]["tp"], p["parallelism"]["pp"], p["parallelism"]["dp"] = 3, 1, 1
    p["cards_per_instance"] = 3
    for target in ("vllm", "sglang", "trtllm"):
        with pytest.raises(BadInput, match=r"pools\[0\].parallelism.tp: TP3 does not divide .*32 attention heads"):
            render(d, target, source="p.json")


def test_weights_quantised_further_than_the_checkpoint(llama70b_chat_colocated_json):
    """llama70b_chat holds Llama-3.1-70B's BF16 weights in FP8: vLLM and SGLang quantise them while
    loading (--quantization fp8, right after the model), TensorRT-LLM cannot (exit 2 asking for a
    checkpoint); with --model-path the user names the checkpoint, and no flag is added. DeepSeek-R1
    is stored in FP8: its FP8 plan needs no flag. (The colocated-only plan: the example's own mixes
    decode and colocated pools since the twenty-fifth session, which SGLang does not run.)"""
    d = llama70b_chat_colocated_json
    for engine, head in (("vllm", ["vllm", "serve", "meta-llama/Llama-3.1-70B", "--quantization", "fp8"]),
                         ("sglang", ["python3", "-m", "sglang.launch_server", "--quantization", "fp8"])):
        for argv in (c for cmds in commands(render(d, engine)).values() for c in cmds):
            assert argv[:len(head)] == head, argv
        assert "--quantization" not in str(commands(render(d, engine, model_path="/models/l70b-fp8")))
    with pytest.raises(BadInput, match="the checkpoint of llama-3.1-70b is stored in bf16, and trtllm cannot"):
        render(d, "trtllm", source="p.json")
    assert "--quantization" not in str(commands(render(plan("deepseek_qps_disaggregated"), "vllm")))


def test_an_engine_loads_the_catalog_models_repository_or_a_config_json_s_folder():
    """A bare catalog id (`vllm serve deepseek-r1`) is no Hugging Face repository: engines failed to
    load it. The default model path is the catalog's `hf_repo`, a config.json's folder, or the
    Hugging Face id the problem wrote."""
    from planner.report.export import default_model_path
    assert default_model_path("deepseek-r1") == "deepseek-ai/DeepSeek-R1"
    assert default_model_path("Llama-3.1-8B") == "meta-llama/Llama-3.1-8B"
    assert default_model_path("/models/mine/config.json") == "/models/mine"
    assert default_model_path("some-org/some-model") == "some-org/some-model"


def test_a_colocated_pool_beside_prefill_pools_takes_kv_in_vllm():
    """router.json splits a service's prompts and generation over all its pools by capacity, so
    rag_long_context's colocated MI300X pool decodes prompts its prefill pools computed: its
    vLLM engine takes KV both ways (NixlConnector kv_both), besides chunked prefill."""
    vllm = commands(render(plan("rag_long_context_mixed"), "vllm"))
    for name in ("colocated-mi300x-3",):
        o = opts(vllm[name][0])
        assert o["--enable-chunked-prefill"] is True
        assert json.loads(o["--kv-transfer-config"]) == {"kv_connector": "NixlConnector", "kv_role": "kv_both"}
    o = opts(commands(render(plan("sxm_or_pcie"), "vllm"))["decode-h100-1"][0])   # not colocated: unchanged
    assert json.loads(o["--kv-transfer-config"])["kv_role"] == "kv_both"


def test_a_multi_node_sglang_instance_gets_the_leader_address(tmp_path):
    """`--dist-init-addr '${LEADER_ADDR}:5000'` was single-quoted, so the engine got those
    characters; the script run with a stand-in python3 passes the address."""
    import os
    import stat
    import subprocess
    d = plan("deepseek_qps_disaggregated")
    assert d["pools"][2]["cards_per_instance"] == 32   # pool 2 (H100 prefill, TP1·DP8·PP4) spans 4 nodes
    files = render(d, "sglang")
    script = tmp_path / "prefill.sh"
    script.write_text(files["prefill-h100-2.sh"])
    fake = tmp_path / "python3"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "NODE_RANK": "1", "LEADER_ADDR": "10.0.0.1"}
    argv = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, check=True).stdout.split("\n")
    assert argv[argv.index("--dist-init-addr") + 1] == "10.0.0.1:5000"
    assert argv[argv.index("--node-rank") + 1] == "1"


@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_every_launch_script_parses_under_bash_and_sh(tmp_path, shell):
    """A multi-node script's guard said "the instance's rank-0 node" inside "${LEADER_ADDR:?…}":
    dash ran it, bash read the apostrophe as an open quote and stopped with 'unexpected EOF'
    (every 2- and 4-node vLLM and SGLang script of the seed's plan). Every script of every target
    of the seed, the MTP and the fleet plans, run through `SHELL -n` (and once with the guard
    tripped, which must name the variable)."""
    import shutil
    import subprocess
    if shutil.which(shell) is None:
        pytest.skip(f"no {shell}")
    seen = multi = 0
    for name in ("deepseek_qps", "deepseek_mtp", "fleet_mix"):
        for target in ("vllm", "sglang", "trtllm"):
            try:
                files = render(plan(name), target, model_path="/m" if target == "trtllm" else None)
            except BadInput:   # a plan this engine cannot run (mixed colocated pools): refused elsewhere
                continue
            for fname, text in files.items():
                if not fname.endswith(".sh"):
                    continue
                f = tmp_path / fname
                f.write_text(text)
                r = subprocess.run([shell, "-n", str(f)], capture_output=True, text=True)
                assert r.returncode == 0, f"{name} {target} {fname}: {r.stderr}"
                seen += 1
                if "${LEADER_ADDR:?" in text or "${HOSTFILE:?" in text:
                    multi += 1
                    env = {"PATH": "/usr/bin:/bin", "NODE_RANK": "1"}
                    r = subprocess.run([shell, str(f)], capture_output=True, text=True, env=env)
                    assert r.returncode != 0 and ("LEADER_ADDR" in r.stderr or "HOSTFILE" in r.stderr), r.stderr
    assert seen >= 10 and multi >= 4


def test_tensorrt_llm_decode_with_mtp_budgets_the_draft_tokens():
    """A decode step of MTP with k draft tokens schedules 1 + k tokens per sequence: max_num_tokens
    was the batch alone (318 for 318 sequences with one draft token). deepseek_mtp decodes in three
    MTP pools since the profiles of 2026-12-04 (one before): one H200 node, and two- and four-node
    H100 instances started by mpirun; each is checked."""
    d = plan("deepseek_mtp_disaggregated")   # the example's plan of 2026-12-04 (it mixes a colocated pool in since)
    files = render(d, "trtllm")
    names = [k for k in commands(files) if k.startswith("decode-")]
    assert len(names) == 3
    for name in names:
        o = opts(commands(files)[name][0])
        pool = d["pools"][int(name.rsplit("-", 1)[1])]
        assert pool["role"] == "decode"
        k = pool["speculative"]["draft_tokens"]
        assert int(o["--max_num_tokens"]) == int(o["--max_batch_size"]) * (1 + k) and k >= 1, name


def test_long_service_names_keep_pools_apart():
    """Pool names were cut at 52 characters, index included: two classes named alike up to there
    shared a launch script (one pool lost) and a Kubernetes name; names outside ASCII gave
    invalid or empty names."""
    d = plan("fleet_mix")
    long = "customer-support-chat-assistant-for-the-european-market-"
    keys = {s["key"]: long + s["key"] for s in d["services"]}
    for s in d["services"]:
        s["key"] = keys[s["key"]]
    for p in d["pools"]:
        p["service"] = keys[p["service"]]
    files = render(d, "vllm")
    scripts = [f for f in files if f.endswith(".sh") and not f.startswith(("loadtest", "pd-router", "launch-node"))]
    assert len(scripts) == len(d["pools"]) and all(len(f) <= 48 + 3 for f in scripts), scripts
    pd = {k for k in keys.values() if {p["role"] for p in d["pools"] if p["service"] == k} == {"prefill", "decode"}}
    d_pd = {**d, "services": [s for s in d["services"] if s["key"] in pd],
            "pools": [p for p in d["pools"] if p["service"] in pd]}
    # one per P/D service: rag and chat+coding (router+summarise shares colocated units since the
    # refit of 2026-12-05; router a P/D service of its own from the twenty-fifth session's peaked
    # slots to it); names equal up to the cut already collided
    routers = [f for f in render(d_pd, "sglang") if f.startswith("pd-router")]
    assert len(routers) == len(pd) == 2 and len(set(routers)) == 2, routers
    k8s = list(yaml.safe_load_all(render(d, "k8s")["k8s.yaml"]))
    names = [(o["kind"], o["metadata"]["name"]) for o in k8s]
    assert len(names) == len(set(names))
    d = plan("deepseek_qps_disaggregated")   # a plan Dynamo runs: all prefill and decode pools
    d["problem"] = "聊天服务"
    graph = yaml.safe_load(render(d, "dynamo")["dynamo.yaml"])
    assert graph["metadata"]["name"] == "plan"


def test_manifests_need_an_image_built_for_the_pools_gpus():
    """AMD pods ran the CUDA build of vLLM (the default image), Dynamo's SGLang workers its vLLM
    runtime image: an AMD-only plan needs --image for k8s and is refused by Dynamo."""
    d = plan("rag_long_context_mixed")
    d["pools"] = [p for p in d["pools"] if p["gpu"] == "mi300x" and p["role"] == "colocated"]
    d["mode"] = "colocated"   # as its pools make it now (plan files' mode is held to them)
    with pytest.raises(BadInput, match=r"pools on mi300x: the default images are CUDA builds; give .* --image"):
        render(d, "k8s")
    assert "image: rocm/vllm:x" in render(d, "k8s", image="rocm/vllm:x")["k8s.yaml"]
    with pytest.raises(BadInput, match=r"pools on mi300x: Dynamo's runtime images are CUDA builds"):
        render(d, "dynamo", image="rocm/vllm:x")
    graph = yaml.safe_load(render(plan("deepseek_qps_disaggregated"), "dynamo", engine="sglang")["dynamo.yaml"])
    images = {s["extraPodSpec"]["mainContainer"]["image"] for s in graph["spec"]["services"].values()}
    assert images == {"nvcr.io/nvidia/ai-dynamo/sglang-runtime:0.6.0"}


@pytest.mark.parametrize("args, message", [
    (["--model-path", "a\nb"], "--model-path 'a\\nb': a path or Hugging Face id, without control characters"),
    (["--model-path", "--trust-remote-code"], "not starting with '-' (the engines would read it as a flag)"),
    (["--image", "--foo"], "--image '--foo': a container image reference does not start with '-'"),
])
def test_export_refuses_paths_and_images_an_engine_would_misread(tmp_path, args, message):
    """A newline split the script's command over two lines, '--trust-remote-code' became an engine
    flag and the model path vanished, '--foo' was written as the manifests' image."""
    from click.testing import CliRunner

    import cli
    r = CliRunner().invoke(cli.main, ["export", str(GOLDEN / "deepseek_qps.json"), "--target", "k8s",
                                      "--out", str(tmp_path / "x"), *args])
    assert r.exit_code == 2 and message in r.output, r.output
    assert not (tmp_path / "x").exists()


def test_the_load_tests_result_file_stays_in_its_directory():
    """A problem named '../../evil x' wrote `--result-filename 'result-../../evil x.json'`."""
    d = plan("llama70b_chat")
    d["problem"] = "../../evil x"
    for s in d.get("services", []):
        s["key"] = "../../evil x"
    text = render(d, "vllm")["loadtest.sh"]
    assert "result-evil-x.json" in text and "../" not in text.split("--result-filename", 1)[1].split()[0]


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["pools"][5].__setitem__("service", "nosuch"),
     "pools[5].service: 'nosuch' is not a service of this plan ('reasoning', 'rag', 'chat+coding', "
     "'router+summarise')"),
    (lambda d: d["services"][1].__setitem__("key", d["services"][0]["key"]),
     "services[].key: 'reasoning' is listed twice"),
    (lambda d: d.__setitem__("pools", [p for p in d["pools"] if p["service"] != "chat+coding"]),
     "services[2]: service 'chat+coding' has no pool in pools[]"),
    (lambda d: [s.__setitem__("key", ["x"]) for s in d["services"][:2]],
     "services[0].key: a service's key is text, got list"),
])
def test_a_fleet_plan_whose_pools_and_services_disagree(tmp_path, edit, message):
    """A pool naming no service made `plan export` fail with an internal error (KeyError) and
    `plan simulate` drop it without a word (the service's TTFT then looked 15 % worse)."""
    from click.testing import CliRunner

    import cli
    d = plan("fleet_mix")
    edit(d)
    (tmp_path / "p.json").write_text(json.dumps(d))
    for args in (["export", str(tmp_path / "p.json"), "--target", "vllm", "--out", str(tmp_path / "x")],
                 ["simulate", str(tmp_path / "p.json"), "--requests", "1000"]):
        r = CliRunner().invoke(cli.main, args)
        assert r.exit_code == 2 and message in r.output, r.output


def test_a_multi_node_tensorrt_llm_instance_is_started_on_its_hosts():
    """rank 0 ran `mpirun -n 16` without hosts, so all 16 ranks started on its own 8-card node; a
    dense model got --ep_size too. deepseek_qps's 32-card prefill pool (H100 TP1·DP8·PP4 since the
    twenty-fourth session, a 16-card H800 one under the profiles of 2026-12-04) is the multi-node
    instance."""
    d = plan("deepseek_qps_disaggregated")
    assert d["pools"][2]["cards_per_instance"] == 32
    files = render(d, "trtllm", model_path="/m")
    text = files["prefill-h100-2.sh"]
    assert ': "${HOSTFILE:?set HOSTFILE to an MPI host file of the 4 nodes of this instance' in text
    argv = commands(files)["prefill-h100-2"][0]
    assert argv[:4] == ["mpirun", "--hostfile", "${HOSTFILE}", "-n"] and 'mpirun --hostfile "${HOSTFILE}"' in text
    assert "--ep_size" in argv
    dense = commands(render(plan("small_model_cheap_card_disaggregated"), "trtllm", model_path="/m"))
    assert dense and all("--ep_size" not in argv for cmds in dense.values() for argv in cmds)


def test_small_export_messages(tmp_path):
    """A plan file holding `null` was 'the file is empty' to plan simulate, a 5,000-digit number Python's advice to
    call sys.set_int_max_str_digits(), --out under a file 'cannot write there (File exists)', and
    --image beside the script targets was accepted and named in their README as if used."""
    from click.testing import CliRunner

    import cli
    (tmp_path / "null.json").write_text("null\n")
    text = (GOLDEN / "deepseek_qps.json").read_text()
    n = plan("deepseek_qps_disaggregated")["pools"][0]["instances"]   # 7 since the profiles of 2026-12-04 (9 before)
    big = text.replace(f'"instances": {n}', '"instances": ' + "9" * 5000, 1)
    assert big != text                                  # the 5,000-digit number is in the file
    (tmp_path / "big.json").write_text(big)
    (tmp_path / "notes.txt").write_text("mine\n")
    golden = str(GOLDEN / "deepseek_qps.json")
    for args, message in (
            (["simulate", str(tmp_path / "null.json")], "null.json: holds null, not a mapping of keys"),
            (["export", str(tmp_path / "big.json"), "--target", "vllm", "--out", str(tmp_path / "a")],
             "big.json: a whole number of more than 4,300 digits"),
            (["export", golden, "--target", "vllm", "--out", str(tmp_path / "notes.txt" / "sub")],
             f"{tmp_path / 'notes.txt'} is a file, not a directory"),
            (["export", golden, "--target", "vllm", "--image", "foo:bar", "--out", str(tmp_path / "a")],
             "--image: the vllm scripts run on your hosts")):
        r = CliRunner().invoke(cli.main, args)
        assert r.exit_code == 2 and message in r.output, r.output
    assert (tmp_path / "notes.txt").read_text() == "mine\n" and not (tmp_path / "a").exists()


def test_an_export_directory_gets_the_mode_the_umask_allows(tmp_path):
    """The export is written in a mkdtemp directory and renamed into place, so it was private
    (0700): a manifest directory a deploy job or a colleague reads, made by plan, reads as any
    directory made under the user's umask (here 022: 0755)."""
    import os
    import stat
    old = os.umask(0o022)
    try:
        export(plan("deepseek_qps_disaggregated"), "vllm", None, None, tmp_path / "out")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755


def test_load_tests_of_services_whose_names_make_one_file_name_keep_both_results(tmp_path):
    """Classes '.' and '..' (valid names) both became 'result-service.json' in loadtest.sh, so the
    second class's run replaced the first's results (hostile-input hunt, 2026-12-04). Each
    service now writes its own file, and slo.json points at it."""
    from planner.input.load import load_any
    from planner.plan.solve import solve
    from planner.report.format import to_json
    from planner.report.json import plan_json
    p = tmp_path / "dots.yaml"
    p.write_text("classes:\n"
                 "  - {name: '..', model: llama-3.1-8b, workload: {qps: 5, input_tokens: 1000, output_tokens: 200},"
                 " slo: {ttft: 2s, tpot: 50ms}}\n"
                 "  - {name: '.', model: qwen3-32b, workload: {qps: 5, input_tokens: 1000, output_tokens: 200},"
                 " slo: {ttft: 2s, tpot: 50ms}}\nsharing: none\ngpus: [h100]\n")
    d = json.loads(to_json(plan_json(solve(load_any(p), str(p)))))
    export(d, "vllm", None, None, tmp_path / "out", source=str(p))
    script = (tmp_path / "out" / "loadtest.sh").read_text()
    names = [a.split()[0] for a in script.split("--result-filename ")[1:]]
    assert sorted(names) == ["result-service-2.json", "result-service.json"]
    slo = json.loads((tmp_path / "out" / "slo.json").read_text())
    assert sorted(v["result_file"] for v in slo.values()) == sorted(names)


def test_a_hand_edited_plan_that_cannot_load_is_not_exported(tmp_path, llama70b_chat_colocated_json):
    """A plan edited to other GPUs (Llama-3.1-70B's pools moved to RTX 4090s), or a colocated
    pool relabelled decode, was exported with exit 0 on every target, where plan simulate refused
    the first and planned the second (hostile-input hunt, 2026-12-04). Export now asks that each
    instance holds its weights and one request, and a decode pool takes no prompt chunks."""
    from planner.report.format import to_json
    moved = plan("llama70b_chat")   # its TP1 prefill pool first (70 GB of FP8 weights on one card)
    for q in moved["pools"]:
        q["gpu"] = "rtx4090"
    cards = moved["pools"][0]["cards_per_instance"]
    with pytest.raises(BadInput, match=rf"pools\[0\]: .* does not fit in the memory of {cards} rtx4090 card\(s\)"):
        export(moved, "vllm", None, None, tmp_path / "a", source="m.json")
    relabelled = json.loads(to_json(llama70b_chat_colocated_json))
    colocated = next(i for i, q in enumerate(relabelled["pools"]) if q["role"] == "colocated")
    relabelled["pools"][colocated]["role"] = "decode"
    relabelled["mode"] = "disaggregated" if all(q["role"] != "colocated" for q in relabelled["pools"]) else "mixed"
    with pytest.raises(BadInput, match=rf"pools\[{colocated}\]: chunk_tokens is .*; a decode pool takes no prompt"):
        export(relabelled, "vllm", None, None, tmp_path / "b", source="r.json")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_wholly_cached_plan_of_decode_pools_alone_exports_plain_vllm_servers(tmp_path):
    """Every prompt token cached: the plan is decode pools alone (their steps make the first token
    too) and no KV cache moves. vLLM's export ran them with the NIXL connector and SGLang's as
    `--disaggregation-mode decode` servers waiting for a prefill server the plan has none of
    (hostile-input hunt, 2026-12-04): vLLM now runs plain servers, and the engines that serve a
    decode side only beside a prefill side say so (exit 2), as for prefill pools alone."""
    from planner.input.load import load_any
    from planner.plan.solve import solve
    from planner.report.format import to_json
    from planner.report.json import plan_json
    text = (ROOT / "problems" / "small_model_cheap_card.yaml").read_text()
    p = tmp_path / "cached.yaml"
    p.write_text(text.replace("workload:\n", "workload:\n  prefix_cache_hit_percent: 100\n", 1))
    d = json.loads(to_json(plan_json(solve(load_any(p), str(p)))))
    assert {q["role"] for q in d["pools"]} == {"decode"}
    argvs = [a for cmds in commands(render(d, "vllm")).values() for a in cmds]
    assert argvs and all(a[:2] == ["vllm", "serve"] and "--kv-transfer-config" not in a for a in argvs)
    for target in ("sglang", "trtllm", "dynamo"):
        with pytest.raises(BadInput, match="every prompt token is cached, so the plan has decode pools and no "
                                           "prefill pool"):
            render(d, target, source="c.json", model_path="/m")


@pytest.mark.parametrize("value", [True, -1, 0, 10**17, None, "missing"])
def test_the_readme_counts_the_cards_the_pools_hold(value):
    """An edited `totals.cards` (a boolean, a negative or huge count, a missing GPU type) was copied
    into the export's README as the plan's cards (hostile-input hunt, 2026-12-04); the README
    states what the pools hold (12 RTX 4090s: six 1-card prefill and three TP2 decode instances
    since the forty-fifth session's fewer-pools stage; 14 before, one TP8 decode instance; 16
    between 2026-12-05's refit and its one-mode stage, two TP2 decode and six TP2 colocated
    instances; 14 before) whatever `totals` says."""
    d = plan("small_model_cheap_card")
    if value == "missing":
        d["totals"]["cards"] = {}
    else:
        d["totals"]["cards"]["rtx4090"] = value
    assert sum(p["instances"] * p["cards_per_instance"] for p in d["pools"]) == 12
    readme = render(d, "vllm", source="p.json")["README.txt"]
    assert "  cards per GPU type: rtx4090 12\n" in readme


def test_the_engine_option_offers_only_what_manifests_can_run(tmp_path):
    """`plan export --help` offered `--engine trtllm`, which every dynamo and k8s export refused
    (first-hour hunt, 2026-12-04): the choice lists vllm and sglang, and trtllm is refused by the
    option itself."""
    from click.testing import CliRunner

    from cli import main
    r = CliRunner().invoke(main, ["export", "--help"])
    assert "[vllm|sglang]" in r.output and "--target trtllm" in r.output
    p = tmp_path / "p.json"
    p.write_text(json.dumps(plan("llama70b_chat")))
    r = CliRunner().invoke(main, ["export", str(p), "--target", "k8s", "--engine", "trtllm",
                                  "--out", str(tmp_path / "d")])
    assert r.exit_code == 2 and "'trtllm' is not one of 'vllm', 'sglang'" in r.output, r.output


def _solved(tmp_path, text: str) -> dict:
    from planner.input.load import load_any
    from planner.plan.solve import solve
    from planner.report.format import to_json
    from planner.report.json import plan_json
    p = tmp_path / "p.yaml"
    p.write_text(text)
    return json.loads(to_json(plan_json(solve(load_any(p), str(p)))))


def test_a_checkpoint_storing_its_experts_apart_exports_at_its_own_precisions(tmp_path):
    """gpt-oss-20b's checkpoint stores its experts in MXFP4 beside BF16: a plan at those precisions
    was refused by every target ('the checkpoint … is stored in bf16, and vllm cannot quantise it'),
    the plan's parts compared with the BF16 alone (a hostile-input hunt). It exports with no
    --quantization; an FP8 plan is refused (vLLM will not re-quantise an MXFP4 checkpoint), and so
    is one with BF16 experts (no engine upcasts them while loading)."""
    base = "model: gpt-oss-20b\nworkload: {qps: 10, input_tokens: 1000, output_tokens: 500}\n" \
           "slo: {ttft: 2s, tpot: 50ms}\ngpus: [h100]\n"
    d = _solved(tmp_path, base)
    assert (d["weight_dtype"], d["expert_dtype"]) == ("bf16", "fp4")
    for engine in ("vllm", "sglang"):
        assert "--quantization" not in str(commands(render(d, engine)))
    for extra, stored in (("precision: {weights: fp8}\n", "fp8"),
                          ("precision: {weights: bf16, experts: bf16}\n", "bf16")):
        with pytest.raises(BadInput, match=rf"the plan holds the weights in {stored}, the checkpoint of gpt-oss-20b "
                                           r"is stored in bf16/fp4, and vllm cannot quantise it"):
            render(_solved(tmp_path, base + extra), "vllm", source="p.json")


def test_kubernetes_names_start_with_a_letter_and_leave_room_for_their_suffixes():
    """A class '1st.Class_A' gave a Service '1st-class-a-…', which the API server refuses (a
    DNS-1035 label starts with a letter); a 64-character class name gave 55-character StatefulSets
    ('…-r0'), whose pods' controller-revision-hash label passes 63 characters: none was created.
    kubernetes-validate checks neither (a 2026-12-05 hunt)."""
    import re
    d = plan("fleet_mix")
    keys = {s["key"]: n for s, n in zip(d["services"], ["1st.Class_A", "x" * 64, "2nd", "3rd", "4th", "5th", "6th"])}
    for s in d["services"]:
        s["key"] = keys[s["key"]]
    for p in d["pools"]:
        p["service"] = keys[p["service"]]
    objs = list(yaml.safe_load_all(render(d, "k8s")["k8s.yaml"]))
    for o in objs:
        name = o["metadata"]["name"]
        assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name), name
        if o["kind"] == "StatefulSet":
            assert len(name) <= 52, name


def test_an_even_router_over_unlike_instances_is_said(recwarn):
    """trtllm-serve's disaggregated config and SGLang's router share a role's requests evenly over
    its instances: the seed's H20 decode instance, planned 4.7 % of decode beside seven H200 ones
    at 13.6 %, would get 12.5 %, 2.6× its planned load, and nothing said so (a 2026-12-05 hunt)."""
    from planner.errors import PlannerNotice
    d = plan("deepseek_qps_disaggregated")
    trt = render(d, "trtllm", source="q.json")
    yaml_name = next(f for f in trt if f.startswith("disagg-"))
    assert trt[yaml_name].startswith("# note: the router shares decode requests evenly over its 8 instances (each "
                                     "12.5%), but the plan gives decode-h20-1's instances 4.7% each, 13.6% at most: "
                                     "they would get 2.6× their planned load")
    assert yaml.safe_load(trt[yaml_name])["generation_servers"]["num_instances"] == 8
    sg = render(d, "sglang", source="q.json")
    assert "# note: the router shares decode requests evenly" in next(v for f, v in sg.items()
                                                                     if f.startswith("pd-router-"))
    notes = [str(w.message) for w in recwarn if issubclass(w.category, PlannerNotice)]
    assert sum("the router shares decode requests evenly" in n for n in notes) == 2
    router = json.loads(trt["router.json"])["services"]
    shares = sorted(p["decode_weight_per_instance"] for s in router.values() for p in s if p["role"] == "decode")
    assert shares[0] == pytest.approx(0.0474, abs=5e-4) and shares[-1] == pytest.approx(0.136, abs=5e-4)


def test_services_sharing_a_model_are_asked_for_by_names_of_their_own():
    """fleet_mix serves deepseek-r1 to 'reasoning' (TPOT 30 ms, pools of its own) and to
    'chat+coding' (50 ms): Dynamo's frontend routes by model name, and every worker said
    deepseek-r1, so reasoning requests could land on chat pools; the load test asked every service
    for the same name too (a 2026-12-05 hunt). Services sharing a model are named model-service."""
    d = plan("fleet_mix")
    graph = yaml.safe_load(render(d, "dynamo")["dynamo.yaml"])
    by_service: dict[str, set[str]] = {}
    for name, svc in graph["spec"]["services"].items():
        args = svc.get("extraPodSpec", {}).get("mainContainer", {}).get("args", [])
        if "--served-model-name" in args:
            by_service.setdefault(name, set()).add(args[args.index("--served-model-name") + 1])
    served = {n for names in by_service.values() for n in names}
    # (router and summarise share one service since the refit of 2026-12-05: Llama's name is its own)
    assert {"deepseek-r1-reasoning", "deepseek-r1-chat-coding", "llama-3.1-8b"} <= served
    assert "deepseek-r1" not in served
    files = render(d, "vllm")
    asked = re.findall(r"--model (\S+)", files["loadtest.sh"])
    assert sorted(asked) == sorted(json.loads(files["slo.json"])[k]["model"] for k in json.loads(files["slo.json"]))
    for pool, argvs in commands(files).items():
        for argv in argvs:
            assert argv[argv.index("--served-model-name") + 1] in asked, pool
    single = render(plan("deepseek_qps_disaggregated"), "vllm")   # one service: its model's own name
    assert re.findall(r"--model (\S+)", single["loadtest.sh"]) == ["deepseek-r1"]


def test_a_load_test_at_a_trickle_of_requests_lasts_an_hour_at_most():
    """0.001 req/s asked for the 200 prompts of a load test's statistics: 55 hours of arrivals."""
    from planner.report.export.loadtest import prompts
    assert prompts(0.001) == 4 and prompts(0.0001) == 1       # an hour of arrivals, at least one
    assert prompts(0.5) == 200 and prompts(10) == 1800        # the statistics' 200, or three minutes


@pytest.mark.parametrize("image", ["reg.io/a'b", "reg.io/a:b$(id)", "reg.io/a:{b}#c", 'reg.io/a:"b', "a//b",
                                   "UPPER/x", "Team/vllm:1"])
def test_an_image_that_is_no_image_reference_is_refused(tmp_path, image):
    """Only spaces and control characters were refused: quotes, $(…) and braces were written into
    the manifests (a 2026-12-05 hunt)."""
    from click.testing import CliRunner

    import cli
    src = Path(__file__).resolve().parent / "golden" / "solve" / "deepseek_qps.json"
    r = CliRunner().invoke(cli.main, ["export", str(src), "--target", "k8s", "--image", image,
                                      "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "not a container image reference" in r.output, r.output
    assert not (tmp_path / "x").exists()
    ok = CliRunner().invoke(cli.main, ["export", str(src), "--target", "k8s", "--out", str(tmp_path / "y"),
                                       "--image", "registry.example.com:5000/team/vllm-openai:v0.11.0"])
    assert ok.exit_code == 0, ok.output


def test_an_image_reference_names_a_registry_only_with_a_dot_a_port_or_localhost():
    """`UPPER/x` was taken for a registry named UPPER: a first part without a dot, a port or the
    name localhost is a path, lower-case as every path part (the reference grammar's rule)."""
    from cli import IMAGE_REFERENCE
    ok = ["vllm/vllm-openai:v0.11.0", "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.4.0", "localhost/x",
          "localhost:5000/team/img", "Registry.Example.com/team/img", "myreg:5000/img", "lmsysorg/sglang@sha256:"
          + "a" * 64]
    bad = ["UPPER/x", "Localhost/x", "Team/vllm", "reg/Team/x"]
    assert [i for i in ok if not IMAGE_REFERENCE.fullmatch(i)] == []
    assert [i for i in bad if IMAGE_REFERENCE.fullmatch(i)] == []


def test_services_whose_names_cut_alike_still_get_names_of_their_own():
    """Classes 'chat' and 'chat.' of one model both became '<model>-chat'."""
    from types import SimpleNamespace

    from planner.report.export import served_names
    svc = [SimpleNamespace(key=k, plan=SimpleNamespace(model="m")) for k in ("chat", "chat.", "code")]
    assert served_names(SimpleNamespace(services=svc)) == {"chat": "m-chat", "chat.": "m-chat-1", "code": "m-code"}
    one = [SimpleNamespace(key="chat", plan=SimpleNamespace(model="m")),
           SimpleNamespace(key="code", plan=SimpleNamespace(model="n"))]
    assert served_names(SimpleNamespace(services=one)) == {"chat": "m", "code": "n"}


def test_an_unwritable_out_is_said_before_the_plans_notes_and_a_refused_plan_leaves_no_directory(tmp_path):
    """`--out /proc/x` printed the router's and vLLM's notes about the plan, then "cannot write
    there"; the place is now checked first. A plan the target refuses leaves none of the
    directories made for --out."""
    from click.testing import CliRunner

    import cli
    src = GOLDEN / "deepseek_qps.json"
    blocked = tmp_path / "file"
    blocked.write_text("mine", encoding="utf-8")
    r = CliRunner().invoke(cli.main, ["export", str(src), "--target", "vllm", "--out", str(blocked / "x")])
    assert r.exit_code == 2 and "note:" not in r.output and "is a file, not a directory" in r.output, r.output
    amd = tmp_path / "amd.json"
    d = plan("rag_long_context_mixed")
    d["pools"] = [p for p in d["pools"] if p["gpu"] == "mi300x" and p["role"] == "colocated"]
    d["mode"] = "colocated"   # as its pools make it now (plan files' mode is held to them)
    amd.write_text(json.dumps(d), encoding="utf-8")
    r = CliRunner().invoke(cli.main, ["export", str(amd), "--target", "k8s", "--out", str(tmp_path / "a" / "b" / "c")])
    assert r.exit_code == 2 and "default images are CUDA builds" in r.output, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["amd.json", "file"]


def test_a_group_over_two_nodes_runs_on_a_ray_cluster_under_vllm():
    """deepseek_day's busiest hour decodes on an H20 TP8·PP2 instance: one tensor·pipeline group over
    two 8-card nodes, which vLLM runs on a Ray cluster (it was refused: 'vLLM needs Ray'). Rank 0
    starts the head and `vllm serve … --distributed-executor-backend ray`; rank 1 joins and blocks.
    In k8s, rank 0's StatefulSet runs the head before the engine's own argv ("$0" "$@"), rank 1's
    `ray start` at the leader's DNS name; every object passes the schemas. Dynamo's graph sets up no
    Ray cluster: refused. Groups over nodes beside data-parallel ranks stay refused (one rank only)."""
    from planner.studies.simulate.fleet import period_plan
    d = period_plan(json.loads((GOLDEN / "deepseek_day.json").read_text()), 20, "day.json")
    (k,) = [k for k, p in enumerate(d["pools"]) if (p["parallelism"]["tp"], p["parallelism"]["pp"]) == (8, 2)]
    files = render(d, "vllm", source="h20.json")
    name = next(n for n in commands(files) if n.startswith(f"decode-h20-{k}"))
    script = files[f"{name}.sh"]
    assert "  0) ray start --head --port=6379 && exec vllm serve " in script
    import subprocess
    for sh in ("sh", "bash"):   # the case branches parse (no shell runs the commands)
        assert subprocess.run([sh, "-n"], input=script, text=True, capture_output=True).returncode == 0, sh
    head, worker = commands(files)[name]
    assert (opts(head)["--tensor-parallel-size"], opts(head)["--pipeline-parallel-size"],
            opts(head)["--data-parallel-size"], opts(head)["--distributed-executor-backend"]) == ("8", "2", "1", "ray")
    assert worker == ["ray", "start", "--address=${LEADER_ADDR}:6379", "--block"]
    assert [a for a in head if a.startswith("--") and a not in flag_list("vllm")] == []   # vLLM 0.11.0's flags
    docs = list(yaml.safe_load_all(render(d, "k8s", source="h20.json")["k8s.yaml"]))
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    ranks = {doc["metadata"]["name"]: doc["spec"]["template"]["spec"]["containers"][0] for doc in docs
             if doc["kind"] == "StatefulSet" and doc["metadata"]["name"].startswith(name)}
    r0, r1 = ranks[f"{name}-r0"], ranks[f"{name}-r1"]
    assert r0["command"] == ["sh"] and r0["args"][:2] == ["-c", 'ray start --head --port=6379 && exec "$0" "$@"']
    assert r0["args"][2:] == head
    assert r1["command"] == ["ray"] and r1["args"] == ["start", "--address=$(LEADER_ADDR):6379", "--block"]
    assert f"{name}: its TP8·PP2 group spans 2 nodes: a Ray cluster over them" in files["README.txt"]
    with pytest.raises(BadInput, match=rf"h20\.json: pools\[{k}\]\.parallelism: a TP8·PP2 group over 2 nodes, which "
                                       r"vLLM runs on a Ray cluster"):
        render(d, "dynamo", source="h20.json")
    d["pools"][k]["parallelism"] = {"tp": 8, "pp": 2, "dp": 2, "label": "TP8·DP2·PP2"}
    d["pools"][k]["cards_per_instance"] = 32
    for target in ("vllm", "k8s"):
        with pytest.raises(BadInput, match=r"pools\[\d+\]\.parallelism: TP8·PP2 groups span 16 cards.*beside 2 "
                                           r"data-parallel ranks.*or --engine sglang in manifests"):
            render(d, target, source="h20.json")
    assert "k8s.yaml" in render(d, "k8s", engine="sglang", source="h20.json")   # the way out it names


def test_each_default_image_runs_the_engine_version_whose_flags_are_checked():
    """The default images' engine versions (and those inside Dynamo's runtime images) are those of
    the flag lists the commands are checked against (the image's own list where the parser's
    version differs): bumping an image without its flag list would let a flag the image's engine
    does not know through."""
    from planner.report.export import DEFAULT_IMAGE, DYNAMO_IMAGE, DYNAMO_IMAGE_ENGINE
    for engine, image in DEFAULT_IMAGE.items():
        if engine == "trtllm":   # its list is read from a pinned source commit, not a version
            continue
        version = re.search(r":v?(\d+\.\d+\.\d+)", image).group(1)
        assert IMAGE_FLAGS.get(engine, FLAGS[engine]) == f"{engine}-{version}.txt", (engine, image)
    for engine, image in DYNAMO_IMAGE.items():   # Dynamo's runtime images likewise (vLLM 0.11.0; SGLang
        # 0.5.3.post2, a patch of 0.5.3)
        version = DYNAMO_IMAGE_ENGINE[image].split(".post")[0]
        assert IMAGE_FLAGS.get(engine, FLAGS[engine]) == f"{engine}-{version}.txt", (engine, image)
    # the SGLang image's list is the older one: every flag the export uses today is in both
    old, new = flag_list("sglang", IMAGE_FLAGS["sglang"]), flag_list("sglang")
    assert {"--enable-dp-attention", "--ep-size", "--disaggregation-mode", "--speculative-num-draft-tokens"} <= old
    assert len(old) == 254 and len(new - old) > 100   # 0.5.23 added options 0.5.3 lacks (e.g. --attn-cp-size)
    assert "--attn-cp-size" in new and "--attn-cp-size" not in old
