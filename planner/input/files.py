"""Read user-written YAML/JSON and turn pydantic errors into one message naming file, field, reason."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import stat
import tempfile
import warnings
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from planner.errors import BadInput, PlannerDeprecation, cleaned_on_termination, not_utf8, shown_text, unexpanded
from planner.input.messages import describe_validation_error as describe_validation_error
from planner.input.yamltext import (
    ESCAPED_SURROGATE,
    LegacyNumber,
    UniqueKeys,
    decimal_ints_only,
    joined_surrogates,
    refuse_hidden_breaks,
    syntax_problem,
    without_sexagesimal,
)

MAX_INPUT_BYTES = 5_000_000   # a planner input is a few kB; bigger is a wrong file or an attack
MAX_DEPTH = 64                # a planner input nests about 6 levels; deeper is never a plan
MAX_NODES = 100_000           # values beyond those written out (aliases repeat shared ones)
SHIPPED = Path(__file__).resolve().parents[2] / "catalogs"   # the shipped catalogs and profiles


def read_text(p: Path, kind: str) -> str:
    """The text of a regular file of at most MAX_INPUT_BYTES; BadInput naming the file otherwise."""
    if not p.exists():
        raise BadInput(f"{shown_text(p)}: " + ("a symbolic link to nothing (its target is missing, or links loop)"
                                   if p.is_symlink() else "file not found" + unexpanded(p)))
    if p.is_dir():
        raise BadInput(f"{shown_text(p)}: is a directory, expected a {kind} file")
    try:
        st = p.stat()
        if not stat.S_ISREG(st.st_mode):   # a FIFO or a device would block or never end
            raise BadInput(f"{shown_text(p)}: not a regular file (a pipe, device or socket); expected a {kind} file")
        if st.st_size > MAX_INPUT_BYTES:
            raise BadInput(f"{shown_text(p)}: {st.st_size:,} bytes; input files are limited to "
                           f"{MAX_INPUT_BYTES:,} bytes (5 MB)")
        data = p.read_bytes()
        return data.decode("utf-8-sig")   # a byte-order mark (Excel's "CSV UTF-8") is not text
    except UnicodeDecodeError:
        raise BadInput(f"{shown_text(p)}: {not_utf8(data)}") from None
    except OSError as e:
        raise BadInput(f"{shown_text(p)}: cannot read the file ({e})") from None


@contextlib.contextmanager
def csv_errors(p: Path | str):
    """The csv module's own errors (a cell past its 131,072-character limit, a quote never closed,
    a NUL byte) as BadInput naming the file, not an internal error (exit 5)."""
    try:
        yield
    except csv.Error as e:
        raise BadInput(f"{shown_text(p)}: not a readable CSV ({e}; a quote never closed, or a cell of more than "
                       f"{csv.field_size_limit():,} characters)") from None


class _PyLoader(UniqueKeys, yaml.SafeLoader):
    """Pure-Python parser: slow, but its syntax errors are the clearer ones."""


class _FastLoader(UniqueKeys, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's C parser when installed (about 10x faster on big files)."""


without_sexagesimal(_PyLoader, _FastLoader)
decimal_ints_only(_PyLoader, _FastLoader)


# a file name of bytes that are not UTF-8 (b'lat\xe9.yaml') reaches Python as a lone surrogate
# ('lat\udce9.yaml'); a table or JSON that names it (whatif's CSV, a sweep's reasons) writes it as
# its escape, as every message prints it: strict UTF-8 stopped the write with exit 5
TEXT_ERRORS = "backslashreplace"

CLEAR_ERRORS_BELOW = 256_000   # bytes: a syntax error in a smaller file is re-read for the clearer message


def _too_deep(p: Path) -> BadInput:
    """The error of a file nested past MAX_DEPTH (YAML, JSON, or past the walk of either)."""
    return BadInput(f"{shown_text(p)}: nested more than {MAX_DEPTH} levels deep; no planner file nests that deep")


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file; a missing file, a syntax error, a duplicate key or absurd size or
    nesting is BadInput with the line and column where known."""
    p = Path(path)
    text = read_text(p, "YAML")
    refuse_hidden_breaks(text, p)
    try:
        try:
            data = yaml.load(text, Loader=_FastLoader)  # noqa: S506 - a safe loader
        except yaml.YAMLError:
            if len(text) > CLEAR_ERRORS_BELOW:
                raise
            data = yaml.load(text, Loader=_PyLoader)  # noqa: S506 - raises again, in clearer words
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise BadInput(f"{shown_text(p)}: YAML syntax error{where}: {syntax_problem(e)}") from None
    except LegacyNumber as e:
        raise BadInput(f"{shown_text(p)}: line {e.mark.line + 1}, column {e.mark.column + 1}: {e}") from None
    except RecursionError:
        raise _too_deep(p) from None
    except (ValueError, OverflowError) as e:   # a scalar YAML types but cannot build: 2026-13-45, 10**5000
        raise BadInput(f"{shown_text(p)}: a value YAML cannot read: {_unreadable(e)}; "
                       f"quote it to keep it as text") from None
    data = _shallow(data, p, len(text))   # without aliases a value takes at least a character
    return joined_surrogates(data, p) if ESCAPED_SURROGATE.search(text) else data


def _unreadable(e: Exception) -> str:
    """Why PyYAML could not build a scalar it recognised (a date, a number), in a few words."""
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    if "integer string conversion" in msg:
        return "a whole number of more than 4,300 digits"
    return f"a date or number out of range ({msg[:100]})"


def _shallow(data: Any, p: Path, budget: int = 0) -> Any:
    """`data` unless it nests deeper than MAX_DEPTH or, with YAML aliases repeating shared
    lists and mappings, expands to more than MAX_NODES + `budget` values (a file of nested
    aliases, a few hundred bytes, can stand for billions: every later walk would never end).
    Checked without recursion, stopping at the first value over either limit."""
    limit = MAX_NODES + budget
    stack = [(data, 1)]
    seen = 0
    while stack:
        x, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _self_holding(p) if _holds_itself(data) else _too_deep(p)
        seen += 1
        if seen > limit:
            raise BadInput(f"{shown_text(p)}: its YAML aliases (*name) expand to more than {limit:,} values; "
                           f"no planner file is that big (repeat the values, or refer to fewer aliases)")
        if isinstance(x, dict):
            stack += [(v, depth + 1) for v in x.values()]
        elif isinstance(x, list):
            stack += [(v, depth + 1) for v in x]
    return data


def _holds_itself(data: Any) -> bool:
    """True when a list or mapping holds itself (`a: &a [*a]`: YAML aliases make loops, which
    read as endless nesting). A walk without recursion, marking the containers on its path."""
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        x, leaving = stack.pop()
        if leaving:
            on_path.discard(id(x))
            continue
        if not isinstance(x, (dict, list)):
            continue
        if id(x) in on_path:
            return True
        on_path.add(id(x))
        stack.append((x, True))
        stack += [(v, False) for v in (x.values() if isinstance(x, dict) else x)]
    return False


def _self_holding(p: Path) -> BadInput:
    return BadInput(f"{shown_text(p)}: a YAML alias (*name) stands inside the mapping or list its anchor (&name) "
                    f"marks, so the value would hold itself without end; write the values out instead")


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict:
    """A JSON object, refusing a key written twice (json keeps the last one silently)."""
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def read_json(path: str | Path, empty_why: str = "") -> Any:
    """Parse a JSON file; a missing file, a syntax error, a duplicate key or absurd size or
    nesting is BadInput with the line and column where known. NaN and Infinity (which Python's
    json accepts) are read as such and refused by the schemas. `empty_why`: what an empty file
    usually means, added to the message that says it is empty."""
    p = Path(path)
    try:
        if not (text := read_text(p, "JSON")).strip():   # was 'not valid JSON at line 1, column 1: Expecting value'
            raise BadInput(f"{shown_text(p)}: the file is empty{empty_why}")
        return loads_json(text, p)
    except json.JSONDecodeError as e:
        raise BadInput(f"{shown_text(p)}: not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None


def read_plan_json(path: str | Path) -> Any:
    """read_json of a plan file; a problem YAML given instead is said so in one line (it read 'not
    valid JSON at line 1, column 1: Expecting value', a hunt)."""
    try:
        return read_json(path, ", as `plan solve … --json > FILE` leaves it when it stops on an error")
    except BadInput as e:
        if "not valid JSON" not in str(e):
            raise
        try:
            data = read_yaml(path)
        except BadInput:
            raise e from None
        if isinstance(data, dict) and ("model" in data or "classes" in data):
            raise BadInput(f"{shown_text(Path(path))}: a problem file, given as a plan; solve it first: plan solve "
                           f"{shown_text(Path(path))} --out plan.json") from None
        raise


def loads_json(text: str, p: Path) -> Any:
    """JSON text from file `p` with read_json's guards: a duplicate key or absurd nesting is
    BadInput; a syntax error stays json.JSONDecodeError for the caller (e.g. to try JSON lines)."""
    try:
        data = json.loads(text, object_pairs_hook=_unique_pairs)
    except json.JSONDecodeError:
        raise
    except ValueError as e:   # json's int limit: "Exceeds the limit (4300 digits) …; use sys.set_int_max_str_digits()"
        why = "a whole number of more than 4,300 digits" if "digits" in str(e) else str(e)
        raise BadInput(f"{shown_text(p)}: {why}") from None
    except RecursionError:
        raise _too_deep(p) from None
    data = _shallow(data, p, len(text))
    return joined_surrogates(data, p) if ESCAPED_SURROGATE.search(text) else data


def validate(model: type[BaseModel], data: Any, source: str, at: str = ""):
    """model.model_validate(data), with errors raised as BadInput naming `source` (and `at`, the
    path of `data` inside that file when it is a part of it)."""
    name = shown_text(source)   # the file as named in messages: a newline or escape in it escaped
    if data is None:   # an empty YAML file reads as null, as does a JSON file holding only `null`
        empty = not Path(source).is_file() or Path(source).stat().st_size == 0 or source.endswith((".yaml", ".yml"))
        raise BadInput(f"{name}: {at}: empty" if at else f"{name}: the file is empty" if empty
                       else f"{name}: holds null, not a mapping of keys")
    if not isinstance(data, dict):
        if at:
            raise BadInput(f"{name}: {at}: expected a mapping of keys, got {type(data).__name__}")
        raise BadInput(f"{name}: expected a mapping of keys at the top level, got {type(data).__name__}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PlannerDeprecation)
        try:
            out = model.model_validate(data)
        except ValidationError as e:
            raise BadInput(describe_validation_error(source, e, model, at)) from None
    for note in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, PlannerDeprecation)):
        warnings.warn(f"{name}: {note}", PlannerDeprecation, stacklevel=2)
    for w in caught:
        if not issubclass(w.category, PlannerDeprecation):
            warnings.warn(w.message, w.category, stacklevel=2)
    return out


Protected = str | Path | tuple[str | Path, str]   # an input file, or (file, what it is for the message)


def _shell_quoted(path: Path) -> str:
    """`path` as a shell word ('new dir' quoted: the hint `mkdir -p …/new dir` made two folders).

    >>> _shell_quoted(Path("new/dir")), _shell_quoted(Path("new dir"))
    ('new/dir', "'new dir'")
    """
    import shlex
    return shlex.quote(str(path))


def check_writable(path: str | Path, protect: tuple[Protected, ...] = (), force: bool = False,
                   catalog: str | None = None, new: str | bytes | None = None) -> Path:
    """BadInput unless `path` may be written; returns its directory. Called before long work, so
    a bad --out fails fast. The directory must exist and be writable; the target must be absent
    or a regular file (a FIFO, device or directory is never replaced); an input file (`protect`:
    paths, or (path, what it is) to name it in the message) is never overwritten. Among the shipped
    catalogs only what a command derives for them is written (`catalog`: the part of catalogs/ it
    writes, "calibration" for `plan calibrate`), and a shipped file is replaced only with --force:
    a plan, chart or problem written over catalogs/gpus.yaml or the default profile left every
    command failing. An existing file plan wrote is replaced without --force, and with `new` (the
    content about to be written) only by an output of its kind (`owned.same_kind`)."""
    p = Path(path)
    refuse_catalog_target(p, catalog)
    for item in protect:
        q, what = item if isinstance(item, tuple) else (item, "the input file")
        if Path(q).exists() and p.exists() and os.path.samefile(p, q):
            raise BadInput(f"{p}: refusing to overwrite {what}; choose another output path")
    if p.is_symlink():
        raise BadInput(f"{p}: is a symbolic link; give the file's own path (plan renames a new file into "
                       f"place, which would replace the link, not its target)")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise BadInput(f"{p}: {parent} is a file, not a directory" if parent.exists() else
                       f"{p}: directory {parent} does not exist (create it first: mkdir -p {_shell_quoted(parent)})")
    if not os.access(parent, os.W_OK | os.X_OK) or not _can_create_in(parent):
        if os.stat(parent).st_nlink == 0:   # removed while open: a shell's current directory after `rm -r` of it
            raise BadInput(f"{p}: directory {parent} no longer exists (deleted since the shell entered it); "
                           f"cd into a directory that exists")
        raise BadInput(f"{p}: directory {parent} is not writable")
    if p.is_dir():
        raise BadInput(f"{p}: is a directory; give a file name")
    if p.exists() and not stat.S_ISREG(p.stat().st_mode):
        raise BadInput(f"{p}: not a regular file (a pipe, device or socket); refusing to replace it")
    if p.exists() and not force and p.resolve().is_relative_to(SHIPPED):
        raise BadInput(f"{p}: a shipped catalog file or calibration profile; refusing to overwrite it "
                       f"(add --force to replace it)")
    if p.exists() and not force:
        from planner.input.owned import existing_kind, same_kind
        kind = existing_kind(p)
        if kind is None:
            raise BadInput(f"{p}: exists and is not an output of plan (a plan, schema, table or chart it "
                           f"wrote); refusing to replace it (add --force to replace it)")
        if new is not None and not same_kind(kind, new):   # `new`: the content about to be written
            raise BadInput(f"{p}: an output of plan of another kind (a calibration profile, plan, table or "
                           f"chart); refusing to replace it with this one (add --force to replace it)")
    return parent


def refuse_catalog_target(p: Path, catalog: str | None = None) -> None:
    """BadInput when `p` lies among the shipped catalogs outside the part `catalog` (None: none)."""
    try:
        target = p.resolve()
    except (OSError, RuntimeError):   # a symlink loop: refused below as a link
        return
    if target.is_relative_to(SHIPPED) and not (catalog and target.is_relative_to(SHIPPED / catalog)):
        raise BadInput(f"{p}: inside the shipped catalogs ({SHIPPED}), which plan reads on every run; refusing to "
                       f"write this output there, even with --force (only `plan calibrate --out` writes "
                       f"calibration profiles into catalogs/calibration)")


NAME_BYTES = 100   # of an output's name, in the name of its temporary beside it


def temporary_prefix(name: str) -> str:
    """'.NAME.', NAME cut to NAME_BYTES bytes, for the temporary file or directory beside an output:
    a name of 241–255 bytes (one the file system takes) made a temporary name past its 255 and was
    refused, 'File name too long', after the solve (hostile-input round fourteen)."""
    return f".{os.fsdecode(os.fsencode(name)[:NAME_BYTES])}."


def _can_create_in(directory: Path) -> bool:
    """Whether a file can really be created in `directory` (os.access says yes to root on
    read-only or virtual file systems such as /proc): create an empty temporary file there, on Linux
    one without a name (O_TMPFILE), elsewhere one removed as soon as it is made. A named probe
    (`.planner-probe.XXXX.tmp`) stayed beside the output when a kill came between its two steps."""
    try:
        with tempfile.TemporaryFile(dir=directory, prefix=".planner-probe.", suffix=".tmp"):
            return True
    except OSError:
        return False


def check_out_dir(path: str | Path, protect: tuple[Protected, ...] = (), force: bool = False,
                  catalog: str | None = None) -> Path:
    """BadInput unless a directory of outputs may be written at `path` (it exists as a writable
    directory, or its parent does); called before long work."""
    d = Path(path)
    if d.exists() and not d.is_dir():
        raise BadInput(f"--out {d}: exists and is not a directory")
    check_writable(d / "_", protect, force, catalog) if d.exists() else check_writable(d, protect, force, catalog)
    return d


@cleaned_on_termination()
def atomic_write(path: str | Path, text: str | bytes, protect: tuple[Protected, ...] = (),
                 force: bool = False, catalog: str | None = None) -> None:
    """Write `text` (str or bytes) to `path` via a temporary file and rename; refuse to overwrite
    `protect`ed inputs, so a crash leaves the old file or the new one, never half of one."""
    p = Path(path)
    parent = check_writable(p, protect, force, catalog, new=text)
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=temporary_prefix(p.name), suffix=".tmp")
    except OSError as e:
        raise BadInput(f"{p}: cannot write it ({e.strerror or e})") from None
    try:
        give_usual_mode(tmp)
        with (os.fdopen(fd, "wb") if isinstance(text, bytes)
              else os.fdopen(fd, "w", encoding="utf-8", errors=TEXT_ERRORS)) as f:
            f.write(text)
        os.replace(tmp, p)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError):   # a full disk, a file-size limit: name the output, not only the errno
            raise BadInput(f"{p}: cannot write it ({e.strerror or e}); "
                           f"{'the file is unchanged' if p.exists() else 'nothing was written'}") from None
        raise


def check_set(directory: str | Path, names: tuple[str, ...], protect: tuple[Protected, ...] = (),
              force: bool = False, catalog: str | None = None,
              new: dict[str, str | bytes] | None = None) -> Path:
    """BadInput unless every file of a set may be written into `directory` (`check_out_dir`, then
    each name's own check): called before long work too, so that a sweep does not run its solves
    only to refuse a frontier.csv of the user's at the end. `new`: a file's content, or one of its
    kind (`check_writable`: an output of plan of another kind is kept; a sweep's frontier.json
    replaced a plan JSON of that name, where plan solve refused the reverse)."""
    d = check_out_dir(directory, protect, force, catalog)
    for name in names:
        if Path(name).name != name or name in (".", "..") or "\\" in name:
            raise BadInput(f"{name!r}: not a plain file name; refusing to write outside {d}")
        if d.exists():
            check_writable(d / name, protect, force, catalog, new=(new or {}).get(name))
    return d


@cleaned_on_termination()
def write_set(directory: str | Path, files: dict[str, str | bytes], protect: tuple[Protected, ...] = (),
              force: bool = False, catalog: str | None = None) -> list[str]:
    """Write several files into `directory` as one set: all are written into a temporary
    directory beside them first, then moved into place (a new directory is renamed in whole), so
    a kill during the writing leaves the old set; only the renames themselves, microseconds, can
    be interrupted. Returns the paths written."""
    d = check_set(directory, tuple(files), protect, force, catalog, files)
    staging = Path(tempfile.mkdtemp(dir=d if d.exists() else (d.parent if str(d.parent) else "."),
                                    prefix=temporary_prefix(d.name), suffix=".tmp"))
    try:
        for name, content in files.items():
            q = staging / name
            try:
                q.write_bytes(content) if isinstance(content, bytes) else q.write_text(content, encoding="utf-8",
                                                                                      errors=TEXT_ERRORS)
            except OSError as e:   # a full disk, a file-size limit: the set stays as it was
                kept = "no file of the set was replaced" if d.exists() else "nothing was written"
                raise BadInput(f"{d / name}: cannot write it ({e.strerror or e}); {kept}") from None
            give_usual_mode(q)
        if not d.exists():
            give_usual_mode(staging, 0o777)
            os.rename(staging, d)
        else:
            for name in files:
                os.replace(staging / name, d / name)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return [str(d / name) for name in files]


def give_usual_mode(path: str | Path, mode: int = 0o666) -> None:
    """mkstemp/mkdtemp make private files; give the file the mode the umask allows."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)
