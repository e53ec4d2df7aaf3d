"""Validated catalog files kept between runs, so a `plan solve` does not re-parse and re-validate
the same YAML every time (about 30 ms of a 0.4 s solve: the pydantic schemas of the GPU, model and
kernel catalogs are built on first use, then every field is checked).

An entry is the pickled result of loading one file, under a key made of the file's bytes
(SHA-256), this package's source files (path, size, mtime: a changed schema or loader is a new key)
and the Python and pydantic versions. Any change to any of them misses, and the file is loaded and
validated again; a cache that cannot be read or written is skipped without a word (the loaded
value is the same either way), and so is an entry that is not a regular file or not a record this
code wrote. Only values that passed validation are stored, so an error in a catalog file is
reported exactly as without the cache.

Where (`planner.codecache.cache_dir`): `$PLANNER_CACHE_DIR`, else `$XDG_CACHE_HOME/planner`, else
`~/.cache/planner`; `PLANNER_CACHE_DIR=off` turns it off. The entries are written by this user's own runs and read
with pickle, as pip and pytest read theirs: do not point the variable at a directory others write.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import re
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from planner.codecache import cache_dir, read_regular, write_atomically
from planner.input.files import MAX_INPUT_BYTES

T = TypeVar("T")

PACKAGE_DIR = Path(__file__).resolve().parent.parent
FORMAT = 2   # bump when the entry layout changes (2: the value inside a (FORMAT, kind, value) record)
KEEP = 16    # entries kept per kind (the oldest go when a new one is written)


@functools.cache
def code_key() -> str:
    """A digest of this package's sources (relative path, size, mtime of every .py) and of the
    Python and pydantic versions: what the pickled objects' classes and loaders depend on."""
    import pydantic
    h = hashlib.sha256(f"{FORMAT}|{sys.version}|{pydantic.VERSION}".encode())
    root = str(PACKAGE_DIR)
    sources = []   # os.walk, not Path.rglob and relative_to: a third of the time (~2 ms of a plan command)
    for directory, _, files in os.walk(root):
        parts = tuple(directory[len(root) + 1:].split(os.sep)) if directory != root else ()
        sources += [(*parts, f) for f in files if f.endswith(".py")]
    for parts in sorted(sources):   # as Path.rglob's paths sort: part by part
        st = os.stat(os.path.join(root, *parts))
        h.update(f"|{'/'.join(parts)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def entry_path(directory: Path, kind: str, data: bytes) -> Path:
    """Where the entry of `kind` loaded from `data` (the file's bytes) lives."""
    h = hashlib.sha256(code_key().encode())
    h.update(data)
    return directory / f"{kind}-{h.hexdigest()[:32]}.pickle"


def cached_load(path: str | Path, kind: str, load: Callable[[], T]) -> T:
    """`load()` (which reads and validates `path`), or its result stored by an earlier run for the
    same file contents and code. A file that is not a regular file of at most MAX_INPUT_BYTES, or
    cannot be read, is left to `load()` to report (a FIFO would block a plain read)."""
    directory = cache_dir()
    if directory is None:
        return load()
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_INPUT_BYTES:
            return load()
        entry = entry_path(directory, kind, Path(path).read_bytes())
    except OSError:   # the file, or a source file keyed on, vanished or cannot be read
        return load()
    try:
        record = read_regular(entry, pickle.load)   # a FIFO put there would block a plain read
        if isinstance(record, tuple) and len(record) == 3 and record[:2] == (FORMAT, kind):   # our own entry
            return record[2]
    except Exception:   # noqa: BLE001 - missing, truncated, stale or not an entry: load afresh
        pass
    value = load()
    _store(entry, (FORMAT, kind, value))
    return value


def _store(entry: Path, value: object) -> None:
    """Write atomically (a temporary file renamed into place); give up quietly on any error."""
    try:
        write_atomically(entry, lambda f: pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL))
        kind = entry.name.rsplit("-", 1)[0]   # ours alone: `models-v1.pickle` of the user's went too
        ours = re.compile(re.escape(kind) + r"-[0-9a-f]{32}\.pickle")
        old = sorted((p for p in entry.parent.glob(f"{kind}-*.pickle") if ours.fullmatch(p.name)),
                     key=lambda p: p.stat().st_mtime_ns)
        for p in old[:-KEEP]:
            p.unlink()
    except Exception:   # noqa: BLE001 - a read-only home or full disk costs speed, nothing else
        pass
