"""The command outputs the README and docs show verbatim are the golden files' (so a change that
moves a plan and regenerates the goldens fails here until the docs are rerun too); the excerpts they
quote are lines of them, and the `plan eval` outputs they show are run."""

import shlex
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


def quoted_block(doc: Path, first: str) -> list[str]:
    """The lines of the fenced block in which a line starts with `first`, from that line to the
    block's end."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(first))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("```"))
    return lines[start:end]


@pytest.mark.parametrize("doc, first, golden, until", [
    ("docs/optimisation.md", "decode+mtp1  h200", "solve/deepseek_mtp.txt", None),
    ("docs/horizon.md", "load from trace ", "solve/deepseek_trace.txt", None),
    ("docs/horizon.md", "Horizon plan for fleet-day:", "solve/fleet_day.txt", None),
    ("docs/studies.md", "scenario         status", "whatif/deepseek_all.txt", "Break-even rental prices"),
])
def test_the_lines_the_docs_quote_are_the_golden_files(doc, first, golden, until):
    """Excerpts of outputs (rows cut at `…`, a table's rows in another order, lines left out) are
    lines of the golden output: each quoted line, up to a `…` that cuts it, starts a golden line."""
    produced = (ROOT / "tests" / "golden" / golden).read_text(encoding="utf-8").splitlines()
    block = quoted_block(ROOT / doc, first)
    if until:
        block = block[:next(i for i, ln in enumerate(block) if ln.startswith(until))]
    for line in block:
        shown = line.split("…")[0].rstrip()
        if shown:
            assert any(g.startswith(shown) for g in produced), f"{doc}: {line!r} is not in {golden}"


@pytest.mark.parametrize("doc, command", [
    ("docs/reference.md", "plan eval --model deepseek-r1 --gpu h200 --cards 8 --batch 64 "
                          "--input-len 1000 --output-len 1000"),
    ("docs/reference.md", "plan eval --model deepseek-r1 --gpu h200 --cards 8 --tp 1 --dp 8 --batch 256 "
                          "--concurrency 256 --requests-per-client 4"),
])
def test_the_docs_plan_eval_outputs_are_what_it_prints(doc, command):
    """`plan eval` has no golden file of these configurations: the command is run (under a second
    each). A block that opens with `...` shows the output's last lines."""
    from tests.golden.cases import Case, run
    shown = shown_output(ROOT / doc, command).splitlines()
    out = run(Case("doc", tuple(shlex.split(command)[1:]))).stdout.rstrip("\n").splitlines()
    if shown[0] in ("...", "…"):
        shown, out = shown[1:], out[-(len(shown) - 1):]
    assert out == shown
