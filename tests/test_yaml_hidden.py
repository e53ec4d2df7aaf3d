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


def workload(tmp_path: Path, lines: str) -> Path:
    """A problem whose `workload:` mapping is `lines` (indented by two spaces)."""
    return write(tmp_path, f"model: llama-3.1-8b\nworkload:\n{lines}slo: {{ttft: 2s, tpot: 50ms}}\ngpus: [h100]\n")


@pytest.mark.parametrize("lines, message", [
    ("  <<: {qps: 10, qps: 20, input_tokens: 1000, output_tokens: 200}\n",
     "p.yaml: YAML syntax error at line 3, column 17: duplicate key 'qps' (first at line 3 column 8, "
     "again at column 17)"),
    ("  <<: &b\n    qps: 10\n    input_tokens: 1000\n    qps: 20\n    output_tokens: 200\n",
     "p.yaml: YAML syntax error at line 6, column 5: duplicate key 'qps' (first at line 4, again at line 6)"),
    ("  <<: [{qps: 5, input_tokens: 1000, input_tokens: 9, output_tokens: 200}]\n",
     "duplicate key 'input_tokens' (first at line 3 column 17, again at column 37)"),
    ("  <<: {qps: 10, input_tokens: 1000, output_tokens: 200}\n  <<: {qps: 20}\n",
     "p.yaml: YAML syntax error at line 4, column 3: duplicate key '<<' (first at line 3, again at line 4); "
     "merge several mappings with one key, `<<: [*a, *b]`")])
def test_a_key_written_twice_in_a_merge_is_refused_naming_both_lines(tmp_path, lines, message):
    """A hunt found merge keys past the duplicate-key check: `<<: {qps: 10, qps: 20, …}` planned at
    20 req/s (exit 0) where the same duplicate without the merge is exit 2, and of two `<<` keys in
    one mapping the later was taken without a word."""
    code, out = run("solve", workload(tmp_path, lines))
    assert code == 2 and message in out, out
    assert "Traceback" not in out and "RMB/h" not in out, out


def test_merges_follow_the_yaml_spec_earlier_mappings_and_own_keys_win(tmp_path):
    """A hunt found `<<: [{qps: 10}, {qps: 5, …}]` planned at 5 req/s: the YAML merge spec gives the
    earlier mapping's 10. A mapping's own keys still win over merged ones (no duplicate), and a
    merged mapping that merges another keeps its own value for a key both have."""
    from planner.input.files import read_yaml
    p = write(tmp_path, "a: &a {qps: 1, input_tokens: 1000}\nb: &b {<<: *a, qps: 2}\n"
                        "first: {<<: [{qps: 10}, {qps: 5, input_tokens: 1000}]}\n"
                        "own: {<<: *a, qps: 20}\nnested: {<<: *b}\nlisted: {<<: [*b, *a]}\n", "m.yaml")
    data = read_yaml(p)
    assert data["first"] == {"qps": 10, "input_tokens": 1000}
    assert data["own"] == {"qps": 20, "input_tokens": 1000}
    assert data["b"] == data["nested"] == data["listed"] == {"qps": 2, "input_tokens": 1000}
    lines = "  <<: [{qps: 10}, {qps: 5, input_tokens: 1000, output_tokens: 200}]\n"
    code, out = run("solve", workload(tmp_path, lines))
    assert code == 0 and "10 req/s" in out, out


RAW = ["\r", "\x1b", "\x07", "\x00", "\x7f", "\x9b", "\u2028", "\u202e"]   # none may reach a terminal


def message(p: Path) -> str:
    """The message of the BadInput `plan solve` raises for `p`, as the CLI prints it (click's echo
    strips escape sequences when not printing to a terminal, so the message itself is read)."""
    from planner.errors import BadInput, clipped
    from planner.input.load import load_problem
    with pytest.raises(BadInput) as e:
        load_problem(p)
    return clipped(str(e.value))


@pytest.mark.parametrize("key, shown", [
    ("\\rplan: all good     ", "\\rplan: all good     "), ("\\e[2Jqps", "\\x1b[2Jqps"),
    ("\\e]0;owned\\a", "\\x1b]0;owned\\x07"), ("a\\0b\\x7f", "a\\x00b\\x7f"), ("\\x9b2J", "\\x9b2J"),
    ("\\L\\u202eqps", "\\u2028\\u202eqps"), ("qps\\np.yaml: all good", "qps\\np.yaml: all good")])
def test_a_keys_control_characters_are_escaped_in_the_field_path(tmp_path, key, shown):
    """A hunt found an unknown key's control characters printed raw in the field path (its value
    part, `unknown key '…'`, was escaped): `"\\rplan: all good     ": 1` wrote over the file name
    with a carriage return, `"\\e[2Jqps"` cleared the terminal; also OSC, BEL, NUL, DEL, U+009B,
    U+2028 and U+202E; a newline made a line of its own."""
    p = write(tmp_path, f'model: llama-3.1-8b\nworkload: {{"{key}": 1, qps: 10, input_tokens: 1000, '
                        f'output_tokens: 200}}\nslo: {{ttft: 2s, tpot: 50ms}}\ngpus: [h100]\n"{key}": 1\n')
    out = message(p)
    assert f"p.yaml: workload.{shown}: unknown key '{shown}'." in out, out
    assert f"p.yaml: {shown}: unknown key '{shown}'." in out, out
    assert not any(ch in out for ch in RAW), repr(out)


def test_a_file_names_control_characters_are_escaped(tmp_path):
    """A hunt found `plan solve $'evil\\r\\e]0;T\\a.yaml'` echoing the file name raw: a carriage
    return, then an escape sequence setting the terminal's title, before every line of the
    message; a newline in the name made a second `error:` line of it."""
    bad = write(tmp_path, "model: llama-3.1-8b\nworkload: {qps: 10}\n", "evil\r\x1b]0;T\x07.yaml")
    out = message(bad)
    assert "evil\\r\\x1b]0;T\\x07.yaml: workload.input_tokens: required field is missing" in out, out
    code, out = run("solve", tmp_path / "nope\r\x1b]0;T\x07.yaml")
    assert code == 2 and "nope\\r\\x1b]0;T\\x07.yaml: file not found" in out, repr(out)
    code, out = run("solve", tmp_path / "nope\nerror: all good.yaml")
    assert code == 2 and "nope\\nerror: all good.yaml: file not found" in out and out.count("\n") == 1, out
    assert not any(ch in text for text in (out, message(bad)) for ch in RAW), repr(out)


def named(tmp_path: Path, name: str) -> Path:
    """A problem file whose `name:` is `name`, written with YAML escapes (\\uXXXX)."""
    return write(tmp_path, f'name: "{name}"\nmodel: llama-3.1-8b\nworkload: {{qps: 10, input_tokens: 1000, '
                           f'output_tokens: 200}}\nslo: {{ttft: 2s, tpot: 50ms}}\ngpus: [h100]\n')


@pytest.mark.parametrize("name, reason", [
    ("\\u200d", "it holds nothing visible, only U+200D (ZERO WIDTH JOINER): give a name one can read"),
    ("\\u034f", "it holds nothing visible, only U+034F (COMBINING GRAPHEME JOINER): give a name one can read"),
    ("\\u200c\\u0301\\ufe0f", "it holds nothing visible, only U+200C (ZERO WIDTH NON-JOINER) and other characters "
                              "that show nothing"),
    ("\\u3164", "it holds the invisible blank letter U+3164 (HANGUL FILLER)"),
    ("\\u115f", "it holds the invisible blank letter U+115F (HANGUL CHOSEONG FILLER)"),
    ("h100\\uffa0", "it holds the invisible blank letter U+FFA0 (HALFWIDTH HANGUL FILLER)"),
    ("\\u200b", "it holds the invisible format character U+200B (ZERO WIDTH SPACE)"),
    ("\\u00ad", "it holds the invisible format character U+00AD (SOFT HYPHEN)")])
def test_a_name_that_shows_nothing_is_refused(tmp_path, name, reason):
    """A hunt found names of invisible characters only accepted (exit 0, a plan headed by a blank
    name): the joiner U+200D, the Hangul fillers U+3164 and U+115F, the combining grapheme joiner
    U+034F, where U+200B, U+2060 and U+00AD were refused as format characters."""
    code, out = run("solve", named(tmp_path, name))
    assert code == 2 and f"p.yaml: name: a name is printable text; {reason}" in out, out
    assert "Plan for" not in out, out


@pytest.mark.parametrize("name, shown", [
    ("\\U0001F468\\u200d\\U0001F469", "\U0001F468\u200d\U0001F469"), ("cafe\\u0301", "cafe\u0301"),
    ("\\u0645\\u06cc\\u200c\\u062e", "\u0645\u06cc\u200c\u062e"), ("\\u2764\\ufe0f", "\u2764\ufe0f"),
    ("\\ud55c\\uad6d", "\ud55c\uad6d")])
def test_joiners_and_marks_inside_a_visible_name_are_still_read(tmp_path, name, shown):
    """The joiners, combining marks and variation selectors that emoji, accented, Persian and
    Korean names need stay accepted beside a visible character."""
    code, out = run("solve", named(tmp_path, name))
    assert code == 0 and f"Plan for {shown}: llama-3.1-8b" in out, out
