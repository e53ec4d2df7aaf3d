"""Regenerate every golden output on purpose: `python -m tests.golden.regen [NAME-SUBSTRING ...]`.

Run it only when a change is meant to move numbers or text, then review `git diff tests/golden`
and say in the commit message why they moved.
"""

from __future__ import annotations

import sys

from tests.golden.cases import CASES, GOLDEN, run


def main(argv: list[str]) -> int:
    chosen = [c for c in CASES if not argv or any(a in c.name for a in argv)]
    for case in chosen:  # in order: simulate reads the solve goldens written before it
        out = run(case)
        if out.exit_code != case.exit_code:
            print(f"{case.name}: exit {out.exit_code}, expected {case.exit_code}\n{out.stderr}",
                  file=sys.stderr)
            return 1
        path = GOLDEN / case.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(out.stdout, encoding="utf-8")
        for f in case.files:
            case.file_golden(f).write_bytes(out.files[f])
        print(f"wrote {path.relative_to(GOLDEN.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
