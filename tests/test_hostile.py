"""Hostile input (issue 20): every number has a domain, every file error is one message, every
output path is checked before the work, and the CLI's one boundary maps what is left to an exit
code without a traceback. The last test is a hypothesis fuzzer over the problem schema and flags.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cli
from planner.input.files import MAX_INPUT_BYTES

SEED = Path(__file__).resolve().parents[1] / "problems" / "deepseek_qps.yaml"
SMALL = {
    "name": "hostile", "model": "llama-3.1-8b",
    "workload": {"qps": 5, "input_tokens": 500, "output_tokens": 100},
    "slo": {"ttft": "2s", "tpot": "50ms"},
    "gpus": ["h100"],
    "solver": {"time_limit": "5s"},
}


def run(*args) -> tuple[int, str]:
    r = CliRunner().invoke(cli.main, [str(a) for a in args])
    return r.exit_code, r.output


def write(tmp_path: Path, data, name: str = "p.yaml") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return p


def with_(path: tuple, value) -> dict:
    d = json.loads(json.dumps(SMALL))
    parent = d
    for k in path[:-1]:
        parent = parent[k]
    parent[path[-1]] = value
    return d


# ------------------------------------------------------------------------- numbers
@pytest.mark.parametrize("path, value, expected", [
    (("workload", "qps"), True, "workload.qps: true/false is not a number"),
    (("workload", "input_tokens"), False, "workload.input_tokens: true/false is not a number"),
    (("workload", "qps"), float("nan"), "workload.qps: Input should be a finite number"),
    (("workload", "qps"), float("inf"), "workload.qps: Input should be a finite number"),
    (("workload", "prefix_cache_hit_percent"), float("nan"), "Input should be a finite number"),
    (("workload", "input_tokens"), {"values": [100, 200], "weights": [1, float("inf")]},
     "workload.input_tokens.weights[1]: Input should be a finite number"),
    (("calibration_overrides",), {"compute_efficiency": float("nan")},
     "calibration_overrides.compute_efficiency: Input should be a finite number"),
    # the key named as in the line below ("element .compute_efficiency" before)
    (("calibration_overrides",), {"compute_efficiency": True},
     "p.yaml: calibration_overrides: compute_efficiency: true/false is not a number"),
    # out of the parameter's domain: the file and field once ("calibration_overrides: calibration
    # overrides: compute_efficiency" before)
    (("calibration_overrides",), {"compute_efficiency": 5},
     "p.yaml: calibration_overrides: compute_efficiency: must be a fraction of the peak: in [0.001, 1], got 5.0"),
])
def test_numbers_have_a_domain(tmp_path, path, value, expected):
    code, out = run("solve", write(tmp_path, with_(path, value)))
    assert code == 2 and expected in out and "Traceback" not in out, out


@pytest.mark.parametrize("value, ok", [("'yes'", False), ("1", False), ("'false'", False), ("yes", True),
                                       ("false", True)])
def test_a_switch_is_true_or_false(tmp_path, value, ok):
    """A switch is YAML's true/false (yes/no, on/off unquoted), not a string or a number, as a number
    is never a boolean."""
    fleet = {**{k: v for k, v in SMALL.items() if k not in ("model", "workload", "slo")},
             "classes": [{"name": "a", "model": SMALL["model"], "workload": SMALL["workload"], "slo": SMALL["slo"]}]}
    p = write(tmp_path, yaml.safe_dump(fleet) + f"prune_dominated: {value}\n")
    code, out = run("solve", p)
    assert (code == 0) if ok else (code == 2 and "prune_dominated: Input should be a valid boolean" in out), out
    profile = yaml.safe_load((Path(__file__).resolve().parents[1] / "catalogs/calibration/default.yaml").read_text())
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump({**profile, "kernel_curves": yaml.safe_load(value)}))
    code, out = run("solve", write(tmp_path, {**SMALL, "calibration": str(tmp_path / "mine.yaml")}, "q.yaml"))
    assert (code == 0) if ok else (code == 2 and "kernel_curves: Input should be a valid boolean" in out), out


def test_duplicate_yaml_key_names_both_lines(tmp_path):
    text = SEED.read_text().replace("  qps: 200", "  qps: 200\n  qps: 300")
    code, out = run("solve", write(tmp_path, text))
    assert code == 2 and "duplicate key 'qps' (first at line 10, again at line 11)" in out, out


@pytest.mark.parametrize("flow, key, cols", [
    ("slo: {ttft: 2s, tpot: 50ms, ttft: 3s}", "ttft", (7, 29)),
    ("gpus: [{id: h100, id: h200}]", "id", (9, 19))])
def test_duplicate_key_in_a_flow_mapping_is_refused(tmp_path, flow, key, cols):
    """A flow mapping's keys share a line, and the duplicate check compared lines: `slo: {ttft: 2s,
    tpot: 50ms, ttft: 3s}` planned at 3 s, and `[{id: h100, id: h200}]` on H200 (a hunt,
    2026-12-04). Key nodes are now told apart by line and column."""
    text = "model: llama-3.1-8b\nworkload: {qps: 10, input_tokens: 1000, output_tokens: 200}\n" \
           "slo: {ttft: 2s, tpot: 50ms}\ngpus: [h100]\n"
    field = flow.split(":")[0]
    text = "\n".join(flow if line.startswith(field + ":") else line for line in text.splitlines()) + "\n"
    code, out = run("solve", write(tmp_path, text))
    assert code == 2 and f"duplicate key '{key}' (first at line" in out, out
    assert f"column {cols[0]}, again at column {cols[1]}" in out, out
    merged = "base: &b {qps: 10, input_tokens: 1000, output_tokens: 200}\nmodel: llama-3.1-8b\n" \
             "workload:\n  <<: *b\n  qps: 20\nslo: {ttft: 2s, tpot: 50ms}\ngpus: [h100]\n"
    from planner.input.files import read_yaml
    p = tmp_path / "merged.yaml"
    p.write_text(merged)
    assert read_yaml(p)["workload"]["qps"] == 20   # a merge key's value overridden is no duplicate


@pytest.mark.parametrize("field, value", [("head_dim", 0), ("kv_lora_rank", -1), ("intermediate_size", 0),
                                          ("num_experts_per_tok", 0), ("hidden_size", True)])
def test_bad_config_json_numbers_are_exit_2(tmp_path, field, value):
    from planner.catalog.schemas import load_models
    cfg = load_models()["deepseek-v3"]
    path = tmp_path / "config.json"
    from planner.catalog.schemas import CATALOG_DIR
    entry = next(m for m in yaml.safe_load((CATALOG_DIR / "models.yaml").read_text())["models"]
                 if m["id"] == cfg.id)
    path.write_text(json.dumps({**entry["config"], field: value}))
    code, out = run("eval", "--model", path, "--gpu", "h200")
    assert code == 2 and f"{field}:" in out and "Traceback" not in out, out


@pytest.mark.parametrize("args, expected", [
    (("eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--pp", "0"), "'--pp'"),
    (("whatif", SEED, "--time-limit", "-1"), "'--time-limit'"),
    (("simulate", SEED, "--requests", "1000000000"), "'--requests'"),
    (("sweep", SEED, "--tpot", "20ms:50ms", "--points", "100000", "--out", "x"), "'--points'"),
])
def test_out_of_range_options_are_usage_errors(args, expected):
    code, out = run(*args)
    assert code == 2 and expected in out, out


def test_full_prefix_cache_hit_and_tiny_qps_work(tmp_path):
    hit = with_(("workload", "prefix_cache_hit_percent"), 100)
    code, out = run("solve", write(tmp_path, hit))
    assert code == 0 and "PASSED" in out, out
    code, out = run("eval", "--model", "llama-3.1-8b", "--gpu", "h100", "--prefix-hit", "1")
    assert code == 0, out
    code, out = run("solve", write(tmp_path, with_(("workload", "qps"), 1e-12), "tiny.yaml"))
    assert code == 0 and "PASSED" in out, out


def test_simulate_refuses_nan_in_a_plan(tmp_path):
    plan = tmp_path / "plan.json"
    assert run("solve", write(tmp_path, SMALL), "--out", plan)[0] == 0
    d = json.loads(plan.read_text())
    d["calibration_overrides"] = {"compute_efficiency": float("nan")}
    plan.write_text(json.dumps(d))
    code, out = run("simulate", plan, "--requests", "200")
    assert code == 2 and "finite" in out and "met" not in out, out


# --------------------------------------------------------------------------- files
def test_deep_nesting_and_size_limits(tmp_path):
    code, out = run("solve", write(tmp_path, "a: " + "[" * 1000 + "]" * 1000 + "\n"))
    assert code == 2 and "nested more than" in out and "Traceback" not in out, out
    deep = tmp_path / "deep.json"
    deep.write_text('{"a": ' + "[" * 1000 + "]" * 1000 + "}")
    code, out = run("simulate", deep)
    assert code == 2 and "nested more than" in out, out
    big = tmp_path / "big.yaml"
    big.write_text("# x\n" * (MAX_INPUT_BYTES // 4 + 1))
    code, out = run("solve", big)
    assert code == 2 and "limited to 5,000,000 bytes" in out, out


def test_yaml_alias_bomb_is_refused_quickly(tmp_path):
    """Nine levels of nine aliases: a few hundred bytes standing for 9**9 values, which kept
    every walk of the data at 100 % CPU forever; refused before any walk goes far."""
    import time
    lines, prev = ["a: &a [x,x,x,x,x,x,x,x,x]"], "a"
    for c in "bcdefghi":
        lines.append(f"{c}: &{c} [" + ",".join([f"*{prev}"] * 9) + "]")
        prev = c
    bomb = write(tmp_path, "\n".join(lines) + "\n" + yaml.safe_dump(SMALL))
    start = time.monotonic()
    code, out = run("solve", bomb)
    assert code == 2 and "aliases (*name) expand to more than" in out and str(bomb) in out, out
    assert time.monotonic() - start < 10
    # a few aliases of a shared mapping, as people write them, still load
    ok = write(tmp_path, "x: &s {a: 1, b: [1, 2, 3]}\ny: [*s, *s, *s, *s]\n", "ok.yaml")
    from planner.input.files import read_yaml
    assert read_yaml(ok)["y"][3]["b"] == [1, 2, 3]


def test_out_into_a_read_only_directory_fails_before_the_work(tmp_path, monkeypatch):
    """A directory the user cannot write: exit 2 before the solve. Root writes anywhere (CI runs as
    root), so the permission check itself is made to see the directory as read-only."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == ro and mode & os.W_OK
                        else real(p, mode, **kw))
    code, out = run("solve", SEED, "--out", ro / "plan.json")
    assert code == 2 and "is not writable" in out, out
    assert not (ro / "plan.json").exists()


def test_out_where_files_cannot_be_created_fails_before_the_work(tmp_path, monkeypatch):
    """A directory that permission bits call writable but where no file can be created (root
    on /proc, a read-only mount): exit 2 naming the path before the work, never a message about
    a temporary file after it. Creation is made to fail with the error such a file system gives."""
    d = tmp_path / "virtual"
    d.mkdir()

    def refusing(real):
        def refuse(*a, dir=None, **kw):
            if dir is not None and Path(dir) == d:
                raise OSError(30, "Read-only file system")
            return real(*a, dir=dir, **kw)
        return refuse
    for name in ("mkstemp", "TemporaryFile"):   # the output's temporary, and the probe (an unnamed file)
        monkeypatch.setattr(tempfile, name, refusing(getattr(tempfile, name)))
    code, out = run("solve", SEED, "--out", d / "plan.json")
    assert code == 2 and f"{d / 'plan.json'}: directory {d} is not writable" in out, out
    assert "Plan for" not in out and list(d.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_out_never_replaces_a_fifo_and_a_fifo_is_not_read(tmp_path):
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    code, out = run("solve", SEED, "--out", fifo)
    assert code == 2 and "not a regular file" in out and stat.S_ISFIFO(os.stat(fifo).st_mode), out
    code, out = run("solve", fifo)
    assert code == 2 and "not a regular file" in out, out


def test_shipped_profiles_and_unrelated_files_are_protected(tmp_path):
    from planner.catalog.schemas import CATALOG_DIR
    public = CATALOG_DIR / "measurements" / "public.yaml"
    profile = CATALOG_DIR / "calibration" / "sglang.yaml"
    before = profile.read_bytes()
    code, out = run("calibrate", public, "--out", profile, "--folds", "0")
    assert code == 2 and "--force" in out and profile.read_bytes() == before, out
    other = write(tmp_path, SMALL, "problem.yaml")
    code, out = run("calibrate", public, "--out", other, "--folds", "0")
    assert code == 2 and "is not an output of plan" in out and yaml.safe_load(other.read_text()) == SMALL, out


@pytest.mark.parametrize("args, target", [
    (("solve", SEED, "--out"), "gpus.yaml"),                       # a plan over the GPU catalog
    (("solve", SEED, "--out"), "calibration/default.yaml"),        # … over the profile it reads
    (("init", "--out"), "calibration/default.yaml"),               # a problem file
    (("schema", "--out"), "models.yaml"),                          # a JSON Schema
    (("sweep", SEED, "--tpot", "40ms:50ms", "--points", "2", "--out"), "calibration/sweeps"),
    (("export", "__PLAN__", "--target", "vllm", "--out"), "deploy"),
    (("calibrate", "__PUBLIC__", "--folds", "0", "--out"), "gpus.yaml"),   # a profile outside calibration/
])
def test_nothing_but_a_profile_is_written_among_the_shipped_catalogs_even_with_force(tmp_path, args, target):
    """`--force` let `plan solve --out catalogs/gpus.yaml` and `plan init --out
    catalogs/calibration/default.yaml` replace the catalogs every command reads (each later run
    exited 2). Now only `plan calibrate` writes there, and only profiles into catalogs/calibration
    (a shipped one replaced with --force; tests/test_hostile: protected without it)."""
    from planner.catalog.schemas import CATALOG_DIR
    plan = tmp_path / "plan.json"
    if "__PLAN__" in args:
        assert run("solve", small_file(tmp_path), "--out", plan)[0] == 0
    args = tuple({"__PLAN__": plan, "__PUBLIC__": CATALOG_DIR / "measurements" / "public.yaml"}.get(a, a)
                 for a in args)
    out_path = CATALOG_DIR / target
    before = {p: p.read_bytes() for p in CATALOG_DIR.rglob("*") if p.is_file()}
    try:
        code, out = run(*args, out_path, "--force")
        after = {p: p.read_bytes() for p in CATALOG_DIR.rglob("*") if p.is_file()}
    finally:   # were it written after all, put the catalogs back for the rest of the suite
        for p, b in before.items():
            if not p.is_file() or p.read_bytes() != b:
                p.write_bytes(b)
        for p in sorted(CATALOG_DIR.rglob("*"), reverse=True):
            if p not in before and (p.is_file() or not any(p.iterdir())) and p != CATALOG_DIR:
                p.unlink() if p.is_file() else p.rmdir()
    assert code == 2 and "inside the shipped catalogs" in out, out
    assert after == before


def small_file(tmp_path):
    return write(tmp_path, SMALL, "small.yaml")


def test_validate_never_draws_over_its_deployment_yaml(tmp_path):
    """`plan validate RUN.json --deployment D --out-plot D --force` replaced the deployment YAML
    (named .png) with the parity plot: an input, refused like the measurement files."""
    data = SEED.parents[1] / "tests" / "data" / "bench"
    dep = tmp_path / "dep.png"
    dep.write_bytes((data / "dep.yaml").read_bytes())
    code, out = run("validate", data / "vllm_sample.json", "--deployment", dep, "--folds", "0",
                    "--out-plot", dep, "--force")
    assert code == 2 and "refusing to overwrite the input file" in out, out
    assert dep.read_bytes() == (data / "dep.yaml").read_bytes()


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_a_terminal_that_is_not_utf8_gets_question_marks_not_exit_5(tmp_path, encoding):
    """`≤`, `×` and `·` could not be encoded on a latin-1 or cp1252 stdout: exit 5 (UnicodeEncodeError)."""
    p = subprocess.run([sys.executable, str(SEED.parents[1] / "cli.py"), "solve", str(small_file(tmp_path))],
                       capture_output=True, env={**os.environ, "PYTHONIOENCODING": encoding}, timeout=120)
    assert p.returncode == 0, p.stderr
    assert b"TTFT ? " in p.stdout and "Plan for".encode(encoding) in p.stdout


def test_a_chart_without_a_matplotlib_config_dir_is_drawn_without_its_warning(tmp_path):
    """A read-only home or an unusable MPLCONFIGDIR: matplotlib printed three lines about a
    temporary cache directory beside plan's own output; the chart is drawn all the same."""
    not_a_dir = tmp_path / "f"
    not_a_dir.write_text("")
    png = tmp_path / "w.png"
    p = subprocess.run([sys.executable, str(SEED.parents[1] / "cli.py"), "whatif", str(small_file(tmp_path)),
                        str(SEED.parent / "whatif" / "traffic_3x.yaml"), "--plot", str(png)],
                       capture_output=True, text=True, env={**os.environ, "MPLCONFIGDIR": str(not_a_dir)}, timeout=300)
    assert p.returncode == 0 and png.read_bytes()[:4] == b"\x89PNG", p.stderr
    assert p.stderr.strip() == f"wrote {png}", p.stderr


def test_both_standard_streams_closed_is_exit_1_not_120():
    """`plan catalog gpus >&- 2>&-` exited 120 (Python's last flush of a closed stderr); with
    stdout closed the output has nowhere to go, exit 1 as with stdout alone closed; an error then
    keeps its own code."""
    import shlex
    cmd = f"{shlex.quote(sys.executable)} {shlex.quote(str(SEED.parents[1] / 'cli.py'))}"
    assert subprocess.run(f"{cmd} catalog gpus >&- 2>&-", shell=True, timeout=120).returncode == 1
    assert subprocess.run(f"{cmd} solve /nonexistent.yaml 2>&-", shell=True, timeout=120,
                          capture_output=True).returncode == 2


def _under_file_limit(limit_bytes: int):
    """preexec_fn: the child may write files of at most `limit_bytes` (`ulimit -f`), and is not killed
    by SIGXFSZ when it tries to write more (Python ignores that signal, as `plan` does)."""
    import resource
    import signal

    def set_limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return set_limit


def test_output_cut_by_a_file_size_limit_or_a_full_disk_is_exit_2_naming_it(tmp_path):
    """`plan solve --json > f` under `ulimit -f` exited 0 with the JSON cut at the limit (Python's
    writer took the short write as done); `> /dev/full` said "No space left on device" without
    naming the output; `--out` under the limit named no file either. Each is now exit 2 naming it,
    and `--out` keeps the file that was there."""
    cli_py = str(SEED.parents[1] / "cli.py")
    with open(tmp_path / "cut.json", "w") as out:
        p = subprocess.run([sys.executable, cli_py, "solve", str(SEED), "--json"], stdout=out, stderr=subprocess.PIPE,
                           text=True, timeout=300, preexec_fn=_under_file_limit(4096))  # noqa: PLW1509
    assert p.returncode == 2, p.stderr
    assert p.stderr == "error: standard output: File too large (a file or system operation failed)\n", p.stderr
    with open("/dev/full", "w") as full:
        p = subprocess.run([sys.executable, cli_py, "solve", str(SEED)], stdout=full, stderr=subprocess.PIPE,
                           text=True, timeout=300)
    assert p.returncode == 2, p.stderr
    assert p.stderr == "error: standard output: No space left on device (a file or system operation failed)\n"
    kept = tmp_path / "plan.json"
    subprocess.run([sys.executable, cli_py, "solve", str(SEED), "--json", "--out", str(kept)], check=True,
                   capture_output=True, timeout=300)
    before = kept.read_bytes()
    p = subprocess.run([sys.executable, cli_py, "solve", str(SEED), "--json", "--out", str(kept)],
                       capture_output=True, text=True, timeout=300, preexec_fn=_under_file_limit(4096))  # noqa: PLW1509
    assert p.returncode == 2, p.stderr
    assert p.stderr == f"error: {kept}: cannot write it (File too large); the file is unchanged\n", p.stderr
    assert kept.read_bytes() == before and len(before) > 4096
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".")] == []   # no temporary file left


@pytest.mark.parametrize("args", [["--version"], ["-h"], ["solve", "--help"]])
def test_version_and_help_to_a_full_disk_or_a_closed_stdout_are_the_commands_exits(args):
    """`plan --version > /dev/full` and `plan -h > /dev/full` printed a traceback (exit 120): they
    write while click parses, before the error boundary; `plan --version >&-` exited 0 (a hunt)."""
    cli_py = str(SEED.parents[1] / "cli.py")
    with open("/dev/full", "w") as full:
        p = subprocess.run([sys.executable, cli_py, *args], stdout=full, stderr=subprocess.PIPE, text=True,
                           timeout=60)
    assert p.returncode == 2, p.stderr
    assert p.stderr == "error: standard output: No space left on device (a file or system operation failed)\n"
    p = subprocess.run([sys.executable, cli_py, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       timeout=60, preexec_fn=lambda: os.close(1))  # noqa: PLW1509 - a test's child
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr


def test_an_address_space_limit_too_small_to_start_is_exit_2_in_one_line():
    """Under `ulimit -v` of 60 MB numpy's import failed with its page of troubleshooting text (exit 5),
    at 100 MB OpenBLAS ended the process from C (exit 1): both are now one line, exit 2."""
    import resource
    cli_py = str(SEED.parents[1] / "cli.py")
    for limit_mib in (60, 100):
        def set_limit(n=limit_mib * 2**20):
            resource.setrlimit(resource.RLIMIT_AS, (n, n))
        p = subprocess.run([sys.executable, cli_py, "solve", str(SEED)], capture_output=True, text=True,
                           timeout=120, preexec_fn=set_limit)  # noqa: PLW1509 - a test's child
        assert p.returncode == 2, p.stderr
        assert p.stderr == (f"error: out of memory: the address-space limit (ulimit -v) is {limit_mib} MiB; plan "
                            f"needs at least 128 MiB to start; raise it\n"), p.stderr


# ------------------------------------------------------------------- the boundary
def test_an_unforeseen_error_is_exit_5_without_traceback(monkeypatch):
    import planner.physics.evaluate as ev

    def boom(*a, **k):
        raise ZeroDivisionError("float division by zero")
    monkeypatch.setattr(ev, "evaluate", boom)
    code, out = run("eval", "--model", "llama-3.1-8b", "--gpu", "h100")
    assert code == 5 and "internal error: ZeroDivisionError" in out and "report" in out
    assert "Traceback" not in out
    r = CliRunner().invoke(cli.main, ["--debug", "eval", "--model", "llama-3.1-8b", "--gpu", "h100"])
    assert r.exit_code == 5 and "Traceback" in r.output


@pytest.mark.parametrize("exc, code, text", [
    (KeyboardInterrupt(), 130, "error: interrupted"),
    (MemoryError(), 2, "out of memory"),
    (RecursionError(), 2, "nested too deeply"),
    (OSError(28, "No space left on device", "plan.json"), 2, "plan.json: No space left on device"),
])
def test_environment_failures_are_one_line(monkeypatch, exc, code, text):
    import planner.physics.evaluate as ev

    def fail(*a, **k):
        raise exc
    monkeypatch.setattr(ev, "evaluate", fail)
    got, out = run("eval", "--model", "llama-3.1-8b", "--gpu", "h100")
    assert got == code and text in out and "Traceback" not in out, out


def _cli(args: list[str], **popen) -> subprocess.Popen:
    root = Path(cli.__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.Popen([sys.executable, str(root / "cli.py"), *args], cwd=root, env=env,
                            stderr=subprocess.PIPE, text=True, **popen)


def test_broken_pipe_exits_1_quietly():
    """`plan solve ... | true`: the reader is gone before the plan is printed; that is exit 1
    with nothing on stderr (it was exit 2 'error: Broken pipe (a file or system operation failed)')."""
    proc = _cli(["solve", str(SEED), "--checks"], stdout=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 1, err
    assert err == "", err


def test_closed_stdout_exits_1_quietly():
    """`plan solve ... >&-` (descriptor 1 closed): exit 1 without a traceback (it was exit 5,
    AttributeError: 'NoneType' object has no attribute 'flush')."""
    proc = _cli(["solve", str(SEED)], preexec_fn=lambda: os.close(1))  # noqa: PLW1509 - a test's child
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 1, err
    assert "Traceback" not in err and "internal error" not in err and "error" not in err, err


def test_dask_address_that_is_not_a_scheduler_fails_fast(tmp_path):
    import socket
    import time

    from planner.errors import BadInput
    from planner.studies.execute import probe_scheduler
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(BadInput, match="does not answer as a Dask scheduler"):
        probe_scheduler(f"tcp://127.0.0.1:{port}", timeout_s=0.5)
    srv.close()
    assert time.monotonic() - t0 < 5


def test_characters_beyond_the_basic_plane_and_lone_surrogate_escapes(tmp_path):
    """JSON writes U+10000 as two escapes, which YAML (the problem reader) reads one by one; the
    pair is joined (the fuzzer's case: a bool override under such a key is then an ordinary exit
    2), and a lone half is refused as invalid Unicode, exit 2 naming the file, never exit 5."""
    d = json.loads(json.dumps(SMALL))
    d["name"] = "chat \U0001F600"
    d["calibration_overrides"] = {"\U00010000": True}
    p = tmp_path / "p.json"
    p.write_text(json.dumps(d))             # ensure_ascii: "\ud83d\ude00"
    r = CliRunner().invoke(cli.main, ["solve", str(p)])
    assert r.exit_code == 2 and "calibration_overrides" in r.output and "\U00010000" in r.output
    del d["calibration_overrides"]
    p.write_text(json.dumps(d))
    r = CliRunner().invoke(cli.main, ["solve", str(p), "--json"])
    assert r.exit_code == 0 and json.loads(r.output[r.output.index("{"):])["problem"] == "chat \U0001F600"
    p.write_text(json.dumps(d).replace("\\ud83d\\ude00", "\\ud83d"))
    r = CliRunner().invoke(cli.main, ["solve", str(p)])
    assert r.exit_code == 2 and f"{p}: the text" in r.output and "not valid Unicode" in r.output


# -------------------------------------------------------------------------- fuzzer
EDGE_NUMBERS = st.sampled_from([0, -0.0, 5e-324, 1e-12, 1e308, float("nan"), float("inf"), float("-inf"),
                                True, False, -1, 1, 10**30, "1e999", "50ms", "2 s", "5O", "1e3kW", "-2s"])
LEAF = st.one_of(EDGE_NUMBERS, st.text(max_size=8), st.none(), st.integers(-10**6, 10**6),
                 st.floats(allow_nan=True, allow_infinity=True))
RANDOM = st.recursive(LEAF, lambda c: st.one_of(st.lists(c, max_size=3),
                                               st.dictionaries(st.text(max_size=6), c, max_size=3)),
                      max_leaves=6)
FIELDS = [("workload", "qps"), ("workload", "input_tokens"), ("workload", "output_tokens"),
          ("workload", "prefix_cache_hit_percent"), ("slo", "ttft"), ("slo", "tpot"), ("solver", "time_limit"),
          ("gpus",), ("model",), ("name",), ("limits",), ("serving",), ("pricing",), ("calibration_overrides",)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.sampled_from(FIELDS), st.one_of(EDGE_NUMBERS, RANDOM)), min_size=1, max_size=3),
       flags=st.lists(st.sampled_from([["--time-limit", "0.5"], ["--json"], ["--checks"], ["--time-limit", "nan"],
                                       ["--solver", "cbc"], ["--time-limit", "-0.0"]]), max_size=2))
def test_fuzzed_problems_exit_0_2_or_3_without_traceback(tmp_path, edits, flags):
    """Random values at the edges of every domain, and random structures, in the problem's
    fields; random flags. `plan solve` exits 0, 2 or 3 and never prints a traceback."""
    d = json.loads(json.dumps(SMALL))
    for path, value in edits:
        parent = d
        for k in path[:-1]:
            parent = parent.setdefault(k, {}) if isinstance(parent, dict) else {}
        if isinstance(parent, dict):
            parent[path[-1]] = value
    p = tmp_path / "fuzz.json"   # JSON keeps NaN and inf exactly as written; YAML reads it too
    p.write_text(json.dumps(d))
    r = CliRunner().invoke(cli.main, ["solve", str(p), *[a for f in flags for a in f]])
    assert r.exit_code in (0, 2, 3), (d, flags, r.output, r.exception)
    assert "Traceback" not in r.output


def test_out_never_replaces_a_users_file_without_force(tmp_path):
    """--out replaces what plan wrote before (a plan JSON, here twice), never a file of the user's
    (notes, a problem file) unless --force: exit 2 and the file is untouched."""
    prob = write(tmp_path, SMALL, "problem.yaml")
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    code, out = run("solve", prob, "--out", notes)
    assert code == 2 and "is not an output of plan" in out and notes.read_text() == "my notes\n", out
    other = write(tmp_path, SMALL, "other.yaml")
    code, out = run("schema", "--out", other)
    assert code == 2 and yaml.safe_load(other.read_text()) == SMALL, out
    plan = tmp_path / "plan.json"
    for _ in range(2):
        code, out = run("solve", prob, "--out", plan)
        assert code == 0, out
    code, out = run("solve", prob, "--out", notes, "--force")
    assert code == 0 and '"schema_version"' in notes.read_text(), out


def test_a_problem_file_as_calibration_is_one_message(tmp_path):
    """--calibration with a problem file: one line saying it is not a profile (exit 2), not a line
    per missing parameter."""
    prob = write(tmp_path, SMALL, "problem.yaml")
    code, out = run("solve", prob, "--calibration", prob)
    assert code == 2 and "not a calibration profile (it reads as a problem file)" in out, out
    assert "required field is missing" not in out


def test_a_model_or_trace_name_too_long_for_a_path_names_its_field(tmp_path):
    """A 256-character model id, or trace file name, is longer than a file name may be: the path
    checks raised 'File name too long' and the message named neither the problem file nor the
    field, echoing the whole value (hostile-input hunt, 2026-12-04)."""
    long = "x" * 300
    code, out = run("solve", write(tmp_path, {**SMALL, "model": long}))
    assert code == 2 and "p.yaml: model: unknown model 'xxxx" in out and "(300 characters)" in out, out
    assert len(out) < 1000, out
    trace = {**SMALL, "workload": {"trace": {"file": long + ".csv"}}}
    code, out = run("solve", write(tmp_path, trace, "t.yaml"))
    assert code == 2 and "t.yaml: workload.trace.file:" in out and "cannot be a file name here" in out, out


@pytest.mark.parametrize("workload, line", [
    ({"qps": 10, "input_tokens": "1e9", "output_tokens": 200},
     "p.yaml: workload.input_tokens: Input should be a valid integer, unable to parse string as an integer, "
     "or a mapping of its fields (got '1e9')"),
    ({"qps": 10, "input_tokens": 100, "output_tokens": 200, 1: 2},
     "p.yaml: workload: key 1 is not a name; keys are names (quote it if it is meant as one)")])
def test_one_line_per_problem_in_the_users_words(tmp_path, workload, line):
    """A value no branch of a union accepts was two lines, the second naming an internal class
    ('… instance of LengthDist'); a key YAML read as a number read like a list index ('[1]: Keys
    should be strings'; hostile-input hunt, 2026-12-04). Now one line each, in the file's terms."""
    code, out = run("solve", write(tmp_path, {**SMALL, "workload": workload}))
    assert code == 2 and out.strip() == f"error: {tmp_path / line}", out


@pytest.mark.parametrize("key, shown", [("1.5: 3", "1.5"), ("null: 3", "null"), ("~: 3", "null"),
                                        ("2026-01-01: 3", "2026-01-01"), ("true: 3", "true")])
@pytest.mark.parametrize("where", ["top", "workload"])
def test_a_key_yaml_reads_as_a_float_null_date_or_boolean_is_named_as_written(tmp_path, key, shown, where):
    """`1.5: 3`, `null: 3` or `2026-01-01: 3` at the top of a problem was exit 5 (IndexError: the
    message looked for the key in a path that had dropped it; a hostile-input hunt). Each is one
    line naming the key as the file wrote it."""
    text = yaml.safe_dump(SMALL, sort_keys=False)
    text = text + key + "\n" if where == "top" else text.replace("workload:\n", f"workload:\n  {key}\n", 1)
    code, out = run("solve", write(tmp_path, text))
    place = "(top level)" if where == "top" else "workload"
    assert code == 2 and out.strip() == (f"error: {tmp_path / 'p.yaml'}: {place}: key {shown} is not a name; keys "
                                         f"are names (quote it if it is meant as one)"), out


@pytest.mark.parametrize("par, reason", [
    ({"tp": [3]}, "tp 3: instances take a divisor of a node's cards, or whole nodes"),
    ({"pp": [64]}, "pp 64: the model has 32 layers"),
    ({"dp": [2], "tp": [1]}, "dp 2: attention data parallelism needs a mixture-of-experts model"),
    ({"tp": [16]}, "tp 16 is beyond the scale-up domain of every GPU type (8 cards at most)")])
def test_allowed_degrees_that_fit_no_layout_name_the_field(tmp_path, par, reason):
    """serving.parallelism degrees that leave no layout on any GPU type exited 3 with 'no candidate
    meets the limits (prefill, decode)', naming no field and no reason (hostile-input hunt,
    2026-12-04): it is the user's setting, so exit 2 naming it and why each degree never fits."""
    code, out = run("solve", write(tmp_path, {**SMALL, "gpus": ["h100"], "serving": {"parallelism": par}}))
    assert code == 2 and f"p.yaml: serving.parallelism: {reason}" in out, out


def test_an_input_price_alone_makes_revenue(tmp_path):
    """pricing.sell_per_million_input_tokens without an output price was silently ignored: no
    revenue line, no note (hostile-input hunt, 2026-12-04). Output tokens now sell at 0 beside it:
    5 req/s × 500 tokens × 3600 s × 5 per million = 45 an hour."""
    code, out = run("solve", write(tmp_path, {**SMALL, "pricing": {"sell_per_million_input_tokens": 5}}))
    assert code == 0 and "Revenue: 45.00 RMB/h" in out, out


@pytest.mark.parametrize("n, ok", [(10**18, True), (10**18 + 1, False)])
def test_whole_numbers_above_ten_to_the_eighteen_are_refused(tmp_path, n, ok):
    """docs/robustness.md: a whole number beyond 10¹⁸ in a field with no bound of its own is refused;
    the check counted bits (2^60 ≈ 1.15·10¹⁸), so 10¹⁸ + 1 passed (hostile-input hunt, 2026-12-04)."""
    code, out = run("solve", write(tmp_path, {**SMALL, "limits": {"max_pool_shapes": n}}))
    assert (code == 0) if ok else (code == 2 and "limits.max_pool_shapes: too large; no planner value is above "
                                   "10^18" in out), out


def test_a_profile_whose_busiest_period_is_below_the_rate_floor_is_refused(tmp_path):
    """A single QPS below 1e-15 req/s is refused; a profile whose busiest period was 1e-16 was
    planned (hostile-input hunt, 2026-12-04). The same floor now holds for the busiest period."""
    w = {**SMALL["workload"], "qps": 10, "profile": {"qps_fraction": [1e-17] * 24}}
    code, out = run("solve", write(tmp_path, {**SMALL, "workload": w}))
    assert code == 2 and "workload: profile: period 0 asks for 1e-16 requests/s, below 1e-15" in out, out
