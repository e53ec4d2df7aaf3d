"""What YAML reads otherwise than a person wrote it, undone for the planner's files: base-60
numbers, octal, hexadecimal and binary numbers, escaped surrogate pairs, and line breaks that
only YAML sees."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from planner.errors import SHOWN_CHARS, BadInput, shown_value

INT_TAG, FLOAT_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"


class _NoColon:
    """A YAML number resolver that does not match text with a colon: YAML 1.1 reads `3:20` as the
    base-60 number 200 (and `1:30` as 90), which no one writing a rate or a time means."""

    def __init__(self, regexp: re.Pattern) -> None:
        self.regexp = regexp

    def match(self, value: str):
        return None if ":" in value else self.regexp.match(value)


def without_sexagesimal(*loaders: type) -> None:
    """Give each loader class number resolvers that leave `3:20` a string (which the schema then
    refuses as not a number) instead of the base-60 number 200."""
    for cls in loaders:
        cls.yaml_implicit_resolvers = {
            first: [(tag, _NoColon(rx) if tag in (INT_TAG, FLOAT_TAG) else rx) for tag, rx in resolvers]
            for first, resolvers in cls.yaml_implicit_resolvers.items()}


# YAML 1.1 reads a plain 010 as octal (8), 0x10 as hexadecimal (16), 0b10 as binary (2): `qps: 010`
# planned for 8 requests/s without a word (hostile-input hunt, 2026-12-04)
LEGACY_INT = re.compile(r"[-+]?0(?:[0-7_]+|x[0-9a-fA-F_]+|b[01_]+)")
BASES = {"x": "a hexadecimal", "b": "a binary"}


class LegacyNumber(ValueError):
    """A plain scalar YAML 1.1 reads as a number in another base; `mark` is where it was written."""

    def __init__(self, message: str, mark) -> None:
        super().__init__(message)
        self.mark = mark


def _int(loader, node):
    text = str(node.value)
    if LEGACY_INT.fullmatch(text):
        value = int(loader.construct_yaml_int(node))
        kind = BASES.get(text.lstrip("+-")[1:2], "an octal")
        if abs(value) >= 10 ** 18 or len(text) > 40:   # beyond every planner value (or zeros), perhaps unprintable
            advice = "no planner value is that large" if value else "write 0"
        else:
            decimal = int(text.replace("_", "")) if kind == "an octal" else value   # int() reads 010 as ten
            advice = f"write {value}" + (f", or {decimal} for the decimal number" if decimal != value else "")
        shown = text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 1] + "…"
        raise LegacyNumber(f"{shown} is {kind} number in YAML 1.1 ({shown_value(value)}); {advice}", node.start_mark)
    return loader.construct_yaml_int(node)


def decimal_ints_only(*loaders: type) -> None:
    """Give each loader an int constructor that refuses a plain number with a leading 0 (octal),
    0x (hexadecimal) or 0b (binary), read in another base than anyone writing a rate means."""
    for cls in loaders:
        cls.add_constructor(INT_TAG, _int)


# JSON writes a character beyond U+FFFF as two escapes ("\ud800\udc00"); YAML reads each escape
# alone, leaving halves of a pair that no encoder accepts (json joins pairs but keeps a lone half)
ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def joined_surrogates(x: Any, p: Path) -> Any:
    """`x` with every escaped surrogate pair joined into its character (depth already checked);
    a half without its partner is not Unicode: BadInput."""
    if isinstance(x, str):
        try:
            return x.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeDecodeError:
            raise BadInput(f"{p}: the text {x.encode('unicode_escape').decode()!r} holds half of a UTF-16 "
                           f"surrogate pair (an escape like \\ud800 without its partner): not valid Unicode") from None
    if isinstance(x, dict):
        return {joined_surrogates(k, p): joined_surrogates(v, p) for k, v in x.items()}
    if isinstance(x, list):
        return [joined_surrogates(v, p) for v in x]
    return x


# YAML 1.1 breaks lines at U+0085, U+2028 and U+2029 as at a newline; editors, `cat` and diffs do
# not: `output_tokens: 200   # tokens per answer<U+2028>  prefix_cache_hit_percent: 100` showed
# the key inside the comment but planned with it (194.40 RMB/h instead of 777.60; a hunt, 2026-12-05)
HIDDEN_BREAKS = {"\x85": "U+0085 (NEXT LINE)", "\u2028": "U+2028 (LINE SEPARATOR)",
                 "\u2029": "U+2029 (PARAGRAPH SEPARATOR)"}
HIDDEN_BREAK = re.compile("[\x85\u2028\u2029]")


def refuse_hidden_breaks(text: str, p: Path) -> None:
    """BadInput naming the line of the first line break YAML reads but editors do not show: what
    YAML then reads (a key after a comment, a value cut in two) is not what the file shows. Refused
    anywhere, quoted text too: a planner file has no use for them, and the escape "\\u2028" in
    double quotes still writes one."""
    m = HIDDEN_BREAK.search(text)
    if m:
        line = text.count("\n", 0, m.start()) + 1
        raise BadInput(f"{p}: line {line}: {HIDDEN_BREAKS[m.group()]} is a line break to YAML but not to "
                       f"editors, which show what follows it on the same line (in a comment, say); "
                       f"use a plain newline")
