"""Which existing files an `--out` may replace without --force: what plan wrote before, never a
file of the user's (a problem file, notes) that happens to sit at the path."""

from __future__ import annotations

from pathlib import Path

# how an output of plan begins (CSV headers, chart documents) or what it holds (JSON keys)
OUTPUT_STARTS = (b"curve,point,", b"scenario,file,", b"<!DOCTYPE html>", b"<?xml", b"<svg")
OUTPUT_JSON_KEYS = (b'"schema_version"', b'"$schema"', b'"scenarios"')
OUTPUT_SCAN_BYTES = 64 << 20   # a plan JSON this large is not one a user wrote by hand


def written_by_planner(path: Path) -> bool:
    """Whether an existing file may be replaced without --force: empty, or what plan writes — a
    JSON output (plan, frontier, what-if, schema: one of OUTPUT_JSON_KEYS), a CSV table of sweep or
    what-if, an HTML or SVG chart, a PNG drawn by matplotlib, a calibration profile. Anything
    else (a problem file, notes) is the user's and is never replaced by accident."""
    try:
        if path.stat().st_size > OUTPUT_SCAN_BYTES:
            return False
        data = path.read_bytes()
    except OSError:
        return False
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head or head.startswith(OUTPUT_STARTS):
        return True
    if head.startswith(b"{"):
        return any(k in data for k in OUTPUT_JSON_KEYS)
    if head.startswith(b"\x89PNG"):
        return b"Matplotlib" in data[:4096]
    return head.startswith(b"compute_efficiency:") or b"\ncompute_efficiency:" in data[:65536]
