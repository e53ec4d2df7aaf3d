"""planner.codecache: the code `plan` keeps between runs makes the same classes and annotations as
Python's own compile, and a missing, foreign or unwritable table only costs the time."""

from __future__ import annotations

import dataclasses
import marshal
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from planner import codecache

ROOT = Path(__file__).resolve().parents[1]


def _cached_run(tmp_path: Path, name: str) -> tuple[codecache.CompiledCode, type]:
    """A table at tmp_path, installed while the dataclass `name` is made, then saved."""
    code = codecache.CompiledCode(tmp_path / "t.marshal")
    saved = dataclasses.__dict__.get("exec"), typing.__dict__.get("compile")
    dataclasses.exec, typing.compile = code.exec, code.compile
    try:
        made = _make(name)
    finally:
        for module, name, old in ((dataclasses, "exec", saved[0]), (typing, "compile", saved[1])):
            if old is None:
                delattr(module, name)
            else:
                setattr(module, name, old)
    code.save()
    return code, made


def _make(name: str):
    cls = type(name, (), {"__annotations__": {"a": int, "b": "list[int]"}, "b": dataclasses.field(default=())})
    made = dataclasses.dataclass(frozen=True)(cls)
    typing.get_type_hints(made)   # a string annotation: typing's compile
    return made


@pytest.mark.skipif(not hasattr(dataclasses, "_create_fn"), reason="dataclasses without _create_fn (3.13 on)")
def test_cached_code_makes_the_same_classes(tmp_path):
    first, _ = _cached_run(tmp_path, "P")
    assert first.added > 0 and (tmp_path / "t.marshal").is_file()
    second, cls = _cached_run(tmp_path, "P")
    assert second.added == 0   # every text came from the table
    plain = _make("P")
    for c in (plain, cls):
        x = c(1, (2,))
        assert (repr(x), x == c(1, (2,)), hash(x) == hash(c(1, (2,)))) == ("P(a=1, b=(2,))", True, True)
        with pytest.raises(dataclasses.FrozenInstanceError):
            x.a = 2
    # annotations compiled as dataclasses itself compiles them: objects, not strings (no inherited
    # `from __future__ import annotations`)
    for c in (plain, cls):
        assert c.__init__.__annotations__["a"] is int and c.__init__.__annotations__["return"] is None
        assert typing.get_type_hints(c.__init__) == {"a": int, "b": list[int], "return": type(None)}


def test_a_foreign_or_broken_table_is_compiled_afresh(tmp_path):
    p = tmp_path / "t.marshal"
    p.write_bytes(marshal.dumps({("exec", "x = 1\n"): "not code"}))
    code = codecache.CompiledCode(p)
    ns: dict = {}
    code.exec("x = 1\n", ns)
    assert ns["x"] == 1 and code.added == 1
    p.write_bytes(b"\x00garbage")
    assert codecache.CompiledCode(p).code == {}
    p.write_bytes(marshal.dumps([1, 2]))
    assert codecache.CompiledCode(p).code == {}


def test_compile_passes_other_calls_through(tmp_path):
    code = codecache.CompiledCode(None)
    assert eval(code.compile("1 + 1", "<string>", "eval")) == 2   # noqa: S307 - a constant
    assert eval(code.compile("2", "f.py", "eval")) == 2   # noqa: S307 - not cached: another file name
    assert code.added == 1
    code.save()   # no path: nothing written, no error


def test_an_unwritable_directory_changes_nothing_but_speed(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory would go")
    code = codecache.CompiledCode(blocker / "cache" / "t.marshal")
    code.exec("y = 2\n", {})
    code.save()
    assert not (blocker / "cache").exists()


def test_plan_prints_the_same_with_and_without_the_table(tmp_path):
    """`plan solve` with no table, with the table it wrote, and with the cache off: the same bytes."""
    exe = Path(sys.executable).with_name("plan")
    if not exe.exists():
        pytest.skip("the plan executable is not installed beside this interpreter")
    outs = []
    for cache in (tmp_path / "c", tmp_path / "c", "off"):
        env = {**os.environ, "PLANNER_CACHE_DIR": str(cache)}
        r = subprocess.run([str(exe), "solve", "problems/deepseek_qps.yaml"], capture_output=True, text=True,
                           cwd=ROOT, env=env, check=True)
        outs.append(r.stdout)
    assert outs[0] == outs[1] == outs[2]
    assert [p.name.split("-")[1] for p in (tmp_path / "c").glob("compiled-*.marshal")] == ["solve"]


def test_a_rewritten_table_keeps_what_the_run_used(tmp_path):
    p = tmp_path / "t.marshal"
    first = codecache.CompiledCode(p)
    first.exec("a = 1\n", {})
    first.exec("b = 2\n", {})
    first.save()
    second = codecache.CompiledCode(p)
    second.exec("a = 1\n", {})
    second.exec("c = 3\n", {})   # new: the table is rewritten, without the unused "b = 2"
    second.save()
    assert sorted(s for _, s in codecache.CompiledCode(p).code) == ["a = 1\n", "c = 3\n"]


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_table_that_is_no_regular_file_is_not_read(tmp_path, kind):
    """A FIFO in the table's place made every `plan` command wait forever on the read (found
    checking the merge, 2026-12-06); /dev/zero linked there would fill memory. Neither is read."""
    p = tmp_path / "t.marshal"
    if kind == "fifo":
        os.mkfifo(p)
    else:
        p.symlink_to("/dev/zero")
    code = ("from pathlib import Path; from planner.codecache import CompiledCode; "
            f"print(len(CompiledCode(Path({str(p)!r})).code))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0 and r.stdout.strip() == "0", r.stderr
