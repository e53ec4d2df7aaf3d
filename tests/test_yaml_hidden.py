"""YAML problem files read otherwise than they look (a hunt, 2026-12-05): line breaks only YAML
sees, merge keys past the duplicate-key check, control characters of keys and file names printed
raw in messages, and names of invisible characters only."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import cli

PROBLEM = ("model: llama-3.1-70b\nworkload:\n  qps: 50\n  input_tokens: 4000\n"
           "  output_tokens: 200   # tokens per answer{sep}  prefix_cache_hit_percent: 100\n"
           "slo: {{ttft: 2s, tpot: 50ms}}\ngpus: [h100]\n")


def run(*args) -> tuple[int, str]:
    r = CliRunner().invoke(cli.main, [str(a) for a in args])
    return r.exit_code, r.output


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("sep, named", [("\u2028", "U+2028 (LINE SEPARATOR)"),
                                        ("\u2029", "U+2029 (PARAGRAPH SEPARATOR)"),
                                        ("\x85", "U+0085 (NEXT LINE)")])
def test_a_line_break_only_yaml_sees_is_refused_naming_its_line(tmp_path, sep, named):
    """A hunt found a key after `#` and a U+2028, U+2029 or U+0085 read as live config: editors
    show `prefix_cache_hit_percent: 100` inside the comment, YAML breaks the line there and planned
    with it (exit 0, 194.40 RMB/h; 777.60 without it)."""
    code, out = run("solve", write(tmp_path, PROBLEM.format(sep=sep)))
    assert code == 2, out
    assert f"p.yaml: line 5: {named} is a line break to YAML but not to editors" in out, out
    assert "use a plain newline" in out and "Traceback" not in out and "RMB/h" not in out, out


def test_the_same_file_with_plain_newlines_still_plans(tmp_path):
    """The refusal is of the hidden break alone: the key on its own line is read, and plans."""
    code, out = run("solve", write(tmp_path, PROBLEM.format(sep="\n")))
    assert code == 0 and "RMB/h" in out, out
