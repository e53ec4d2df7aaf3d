"""What Python compiles from text while `plan` starts, kept between runs; and where planner caches.

Python 3.11's `dataclasses` writes each class's `__init__`, `__repr__`, `__eq__`, `__hash__` (and,
frozen, `__setattr__` and `__delattr__`) as source text and compiles each with `exec`: ~0.1 ms a
method, ~35 ms of a `plan solve` that creates ~100 dataclasses (planner's, pydantic's, PuLP's)
while it imports, and `typing.ForwardRef` compiles every string annotation (~9 ms more). `plan`
(cli.run, one short-lived process) gives those two modules an `exec` and a `compile` that look
each text up among what earlier runs compiled (code objects, marshalled as .pyc files hold them)
and compile only the new ones: the same text compiled the same way is the same code, so the
classes are the same. Both hooks are module globals that shadow a builtin, in modules that look
the builtin up by name; `re`'s pattern compilation (~13 ms more) is left alone: caching it would
mean replacing `re._compiler`'s private `_sre` calls, which change between Python releases.
A table per command, keyed by the interpreter (implementation, release, optimisation level); a
missing, unreadable or foreign file is a table of none, and one that cannot be written costs
speed, nothing else. Tests and library users never install it.
"""

from __future__ import annotations

import builtins
import os
import sys
from pathlib import Path
from types import CodeType

OFF = ("", "off", "0", "no", "n", "false", "f", "none", "disable", "disabled")   # PLANNER_CACHE_DIR: no cache
MAX_ENTRIES = 8192   # texts a run keeps (beyond it compiles the rest); a table holds one run's texts


def cache_dir() -> Path | None:
    """The cache directory, or None when turned off or when there is no home to put it in (a
    container whose user has no home directory: planning goes on without the cache)."""
    env = os.environ.get("PLANNER_CACHE_DIR")
    try:
        if env is not None:
            # the words that turn a switch off ('false' made ./false/ and filled it with the cache)
            return None if env.strip().lower() in OFF else Path(env).expanduser()
        base = os.environ.get("XDG_CACHE_HOME", "")
        if not os.path.isabs(base):   # unset, or relative: ignored, as the XDG spec says (not the working directory)
            if not Path.home().is_absolute():   # HOME=rel: no home to put it in either
                return None
            base = str(Path.home() / ".cache")
        return Path(base) / "planner"
    except (RuntimeError, KeyError, OSError):   # no $HOME and no passwd entry, or '~nosuchuser/x'
        return None


class CompiledCode:
    """Source texts compiled once across runs: an `exec` for `dataclasses`, a `compile` for
    `typing` (whose ForwardRef compiles every string annotation pydantic evaluates, ~9 ms of a
    solve), both modules without __future__ imports, so their texts compile with flags 0."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.code: dict[tuple, CodeType] = {}
        self.added = 0
        self.used: set[tuple] = set()   # what this run looked up: a table rewritten keeps only these
        if path is not None:
            try:
                table = _read_table(path)
                if isinstance(table, dict):
                    self.code = table
            except Exception:   # noqa: BLE001 - missing, truncated or not ours: compile afresh
                pass

    def compiled(self, source: str, mode: str):
        """`source` compiled in `mode` ('exec' or 'eval') as from a module without __future__ imports."""
        code = self.code.get((mode, source))
        self.used.add((mode, source))
        if type(code) is not CodeType:   # absent, or a table of something else: compile it
            code = builtins.compile(source, "<string>", mode, dont_inherit=True)
            if len(self.used) <= MAX_ENTRIES:   # this run's texts: a table filled by others is rewritten
                self.code[mode, source] = code
                self.added += 1
        return code

    def exec(self, source, globals=None, locals=None, /):   # noqa: A002 - exec's own parameters
        if isinstance(source, str):
            source = self.compiled(source, "exec")
        return builtins.exec(source, globals, locals)  # noqa: S102 - exec's own behaviour

    def compile(self, source, filename, mode, flags=0, dont_inherit=False, optimize=-1):  # noqa: ARG002
        if isinstance(source, str) and filename == "<string>" and mode == "eval" and not flags and optimize == -1:
            return self.compiled(source, "eval")
        return builtins.compile(source, filename, mode, flags, True, optimize)   # the caller inherits none

    def save(self) -> None:
        """Write the table (atomically) when this run compiled texts it did not hold, with what
        this run used (texts of classes since edited or removed go); give up quietly on any error."""
        if self.path is None or not self.added:
            return
        import marshal
        try:
            kept = {k: v for k, v in self.code.items() if k in self.used}
            write_atomically(self.path, lambda f: marshal.dump(kept, f))
        except Exception:   # noqa: BLE001 - a read-only home or full disk costs speed, nothing else
            pass


def write_atomically(path: Path, dump) -> None:
    """`dump(file)` written to a temporary file beside `path`, then renamed onto it: a reader sees the old
    file or the whole new one, never a part (two `plan` processes may write at once). Raises what the
    writing raises; the temporary file does not stay behind. The caches' one writer (this table, and
    `catalog.cache`'s entries); not `input.files.atomic_write`, whose checks guard a user's outputs
    and whose module imports PyYAML and pydantic, which `plan` must not before the cache is in place."""
    import tempfile
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            dump(f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


MAX_TABLE_BYTES = 64 << 20   # a table of MAX_ENTRIES texts is a few MB; anything larger is not ours


def _read_table(path: Path):
    """The marshalled table at `path`, or None when it is not a regular file of at most MAX_TABLE_BYTES."""
    import marshal
    return read_regular(path, marshal.load, MAX_TABLE_BYTES)


def read_regular(path: Path, load, max_bytes: int | None = None):
    """`load(file)` of the file at `path`, or None when it is not a regular file (of at most
    `max_bytes`): opened without blocking and checked on the open file, since a FIFO put in its
    place made every `plan` command wait forever, and /dev/zero linked there would fill memory.
    Raises what opening or `load` raises. The caches' one reader (this table, `catalog.cache`'s entries)."""
    import stat
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (max_bytes is not None and st.st_size > max_bytes):
            return None
        return load(f)


def table_path(command: str) -> Path | None:
    """This interpreter's table for `command` in the cache directory (None: no cache): one per
    command, so that a solve does not read what `plan calibrate` or `plan simulate` compiled."""
    directory = cache_dir()
    if directory is None:
        return None
    v = sys.version_info   # marshal's code format is the interpreter's (each release its own here)
    key = f"{sys.implementation.cache_tag}-{'.'.join(map(str, v[:3]))}{v.releaselevel}{v.serial}-O{sys.flags.optimize}"
    return directory / f"compiled-{command}-{key}.marshal"


def install(command: str) -> CompiledCode | None:
    """Give `dataclasses` the caching `exec` and `typing` the caching `compile` (before the commands
    import their modules); None on a Python whose dataclasses make methods otherwise (3.13 on)."""
    import dataclasses
    import typing
    if not hasattr(dataclasses, "_create_fn"):
        return None
    code = CompiledCode(table_path(command))
    dataclasses.exec = code.exec        # module globals: they shadow the builtins in those modules alone
    typing.compile = code.compile
    return code
