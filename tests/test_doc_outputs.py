"""The command outputs the README and docs show verbatim are the golden files' (so a change that
moves a plan and regenerates the goldens fails here until the docs are rerun too)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "solve"


def shown_output(doc: Path, command: str) -> str:
    """The lines a fenced block shows after `$ <command>`, up to the block's end."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"$ {command}") + 1
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("```"))
    return "\n".join(lines[start:end]).rstrip("\n")


@pytest.mark.parametrize("doc, command, golden", [
    ("README.md", "plan solve problems/deepseek_qps.yaml", "deepseek_qps.txt"),
    ("docs/fleets.md", "plan solve problems/fleet_mix.yaml", "fleet_mix.txt"),
])
def test_the_docs_show_the_golden_output(doc, command, golden):
    assert shown_output(ROOT / doc, command) == (GOLDEN / golden).read_text(encoding="utf-8").rstrip("\n")
