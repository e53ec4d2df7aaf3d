"""The export directory: where `plan export` (and `plan solve --export`) may write, and when
`--force` may replace what is there (a previous export, never a directory of the user's files)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from planner.errors import BadInput
from planner.input.files import refuse_catalog_target

EXPORT_MANIFEST = ".planner-export"   # in every export directory: the files the export wrote, one per line
_LINE = re.compile(r"([0-9a-f]{64})  (.+)")   # a manifest line: SHA-256, two spaces, the name


def check_out_dir(out_dir: str | Path, force: bool = False, protect: tuple[str | Path, ...] = ()) -> Path:
    """The export directory, refused when it exists and is not empty, unless `force` and it holds a
    previous export and nothing else (its EXPORT_MANIFEST lists every file in it) and none of the
    `protect`ed inputs: `--force` replaces an export, never a directory of the user's files. Called
    before the work by `plan solve --export` too."""
    out = Path(out_dir)
    if out.is_symlink():   # the export is renamed into place: that would replace the link, not its target
        raise BadInput(f"{out}: is a symbolic link; give the directory's own path")
    try:
        out.resolve()
    except (RuntimeError, OSError) as e:   # a loop of links above it
        raise BadInput(f"{out}: cannot be resolved ({e}); give a directory's own path") from None
    refuse_catalog_target(out)   # never inside the shipped catalogs
    above = next((a for a in out.parents if a.exists()), None)   # the directories to be made go under it
    if above is not None and not above.is_dir():
        raise BadInput(f"{out}: {above} is a file, not a directory")
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return out
    if not out.is_dir():
        raise BadInput(f"{out}: exists and is not a directory")
    inside = [str(p) for p in protect if _within(Path(p), out)]
    if inside:   # before the advice to pass --force, which would then refuse (a loop a hunt walked into)
        raise BadInput(f"{out}: holds the input {inside[0]}; --force would delete it: export somewhere else")
    if not force:
        raise BadInput(f"{out}: exists and is not empty; pass --force to replace a previous export there")
    entries = _entries(out)   # the previous export's manifest, read once
    foreign = sorted(set(p.name for p in out.iterdir()) - {n for n, _ in entries} - {EXPORT_MANIFEST})
    if not (out / EXPORT_MANIFEST).is_file() or foreign:
        what = f"it holds {', '.join(foreign[:3])}{' …' if len(foreign) > 3 else ''}" if foreign else \
            "it has no export manifest"
        raise BadInput(f"{out}: --force replaces only a previous export of plan, and {what}; "
                       f"choose a new or empty directory")
    _only_files(out)
    _unedited(out, entries)
    return out


def manifest_text(files: dict[str, str]) -> str:
    """The manifest of an export: `SHA-256  name` a line, as sha256sum writes them (`sha256sum -c
    .planner-export` checks an export), so that --force can tell a file edited since."""
    return "".join(f"{hashlib.sha256(files[n].encode('utf-8')).hexdigest()}  {n}\n" for n in sorted(files))


def _unedited(out: Path, entries: list[tuple[str, str | None]]) -> None:
    """BadInput naming the first file of a previous export whose content is no longer what the export
    wrote (its manifest's SHA-256): the scripts are there to be edited (a plan of several models
    needs its paths set by hand), and --force replaced the edits without a word. `entries`: its
    manifest (`_entries`)."""
    for name, digest in entries:
        f = out / name
        if digest is not None and f.is_file() and hashlib.sha256(f.read_bytes()).hexdigest() != digest:
            raise BadInput(f"{f}: edited since plan exported it; --force would replace your edits: move it "
                           f"out, or choose a new or empty directory")


def _only_files(out: Path) -> None:
    """BadInput naming the first entry of a previous export that is not a regular file: an export
    writes files only, so a directory (or link, pipe …) of the manifest's names is the user's, and
    replacing the export deletes it with everything in it (a folder made where slo.json was, or a
    name appended to the manifest, lost the user's files under it to --force)."""
    for p in sorted(out.iterdir()):
        if p.is_symlink() or not p.is_file():
            what = "a directory" if p.is_dir() and not p.is_symlink() else "not a regular file"
            raise BadInput(f"{p}: is {what}, and an export writes files only: it is not the export's, and "
                           f"--force would delete it; move it out, or choose a new or empty directory")


def _entries(out: Path) -> list[tuple[str, str | None]]:
    """(name, SHA-256) of each file a previous export listed; the digest None in a manifest of names
    only (exports before 2026-12-06); none when unreadable."""
    try:
        lines = [n for n in (out / EXPORT_MANIFEST).read_text(encoding="utf-8").splitlines() if n]
    except (OSError, UnicodeDecodeError):
        return []
    return [(m.group(2), m.group(1)) if (m := _LINE.fullmatch(n)) else (n, None) for n in lines]


def _within(path: Path, directory: Path) -> bool:
    """Whether `path` (an input file) lies in `directory` or below it."""
    try:
        path.resolve().relative_to(directory.resolve())
        return True
    except (ValueError, OSError):
        return False
