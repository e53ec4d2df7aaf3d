"""What YAML reads otherwise than a person wrote it, undone for the planner's files: base-60
numbers, octal, hexadecimal and binary numbers, escaped surrogate pairs, line breaks that only
YAML sees, and keys written twice (merge keys' too)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from planner.errors import SHOWN_CHARS, BadInput, shown_text, shown_value

INT_TAG, FLOAT_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"
BINARY_TAG = "tag:yaml.org,2002:binary"
SET_TAG = "tag:yaml.org,2002:set"
YAML_SUFFIXES = (".yaml", ".yml")   # a YAML file's name ends in one of these


def syntax_problem(e: yaml.YAMLError) -> str:
    """What PyYAML's error says is wrong, with ' (in the flow sequence started at line 10, column 8)'
    when it knows where that began. A second document (a `---` line after a first) is said so:
    PyYAML's 'but found another document (expected a single document in the stream …)' named
    neither the `---` nor what to do (hostile-input round fourteen)."""
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    if problem == "but found another document":
        return ("a second YAML document begins here (a '---' line after the first); a planner file is one "
                "document: delete the '---' line, or put each document in a file of its own")
    ctx, mark = getattr(e, "context", None), getattr(e, "context_mark", None)
    if not ctx or mark is None:
        return problem
    return f"{problem} ({ctx.removeprefix('while ')} started at line {mark.line + 1}, column {mark.column + 1})"


def is_yaml_name(path: str | Path) -> bool:
    """Whether `path` names a YAML file by its suffix, in any case: measurement files, calibration
    profiles and a calibrate --base (`runs.YML` was 'not a benchmark file', `profile.YAML` 'not a
    .yaml file')."""
    return Path(path).suffix.lower() in YAML_SUFFIXES


class UniqueKeys:
    """Mixin for a safe YAML loader: a key written twice in one mapping is an error naming both
    lines (plain YAML loading silently keeps the last value), in a mapping merged in with `<<`
    too, and `<<` itself twice; merges follow the YAML merge spec, where the mapping's own keys
    win, then the earlier of the merged mappings. PyYAML checked nothing inside merged mappings
    (`<<: {qps: 10, qps: 20}` planned at 20), kept the later of two `<<` keys and, from 6.0.2 on,
    the later of `<<: [{qps: 10}, {qps: 5}]` (a hunt, 2026-12-05)."""

    def construct_mapping(self, node, deep=False):
        self.flatten_mapping(node)
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]

    def flatten_mapping(self, node) -> None:
        """Check the keys of `node` as written, then put the pairs of its merged mappings first:
        once per node (an alias merged twice, or merged before its own construction, is checked
        on the keys it was written with, never on its merged ones)."""
        done = self.__dict__.setdefault("_flattened", set())
        if id(node) in done:
            return
        done.add(id(node))
        self._refuse_duplicates(node)
        merges = [v for k, v in node.value if k.tag == MERGE_TAG]
        if not merges:
            return super().flatten_mapping(node)  # type: ignore[misc]
        merged = self._first_of_each_key(self._merged(node, merges[0]))
        node.value = [pair for pair in node.value if pair[0].tag != MERGE_TAG]
        super().flatten_mapping(node)  # type: ignore[misc]
        node.value = merged + node.value   # a later pair wins: the mapping's own keys

    def _merged(self, node, value) -> list:
        """The mappings `<<: value` merges, each flattened (checked, its own merges done)."""
        subs = value.value if isinstance(value, yaml.SequenceNode) else [value]
        for sub in subs:
            if not isinstance(sub, yaml.MappingNode):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"expected a mapping or list of mappings for merging, but found {sub.id}", sub.start_mark)
            self.flatten_mapping(sub)
        return subs

    def _first_of_each_key(self, subs: list) -> list:
        """The pairs of the merged mappings, one per key: an earlier mapping wins, and within one
        (flattened: its merged pairs, then its own) the last pair, as in the mapping it makes."""
        seen, kept = set(), set()
        for sub in subs:
            for pair in reversed(sub.value):
                if pair[0].tag == MERGE_TAG:   # a mapping merged into itself (`&a {<<: *a}`)
                    continue
                key = self.construct_object(pair[0]) if isinstance(pair[0], yaml.ScalarNode) else pair[0]
                try:
                    if key in seen:
                        continue
                    seen.add(key)
                except TypeError:   # an unhashable key: SafeConstructor reports it
                    pass
                kept.add(id(pair))
        return [pair for sub in subs for pair in sub.value if id(pair) in kept]

    def _refuse_duplicates(self, node) -> None:
        """ConstructorError at the second of two equal keys of `node` as written, naming both."""
        texts = [k.value for k, _ in node.value if k.tag == STR_TAG and isinstance(k, yaml.ScalarNode)]
        if len(texts) == len(node.value) == len(set(texts)):   # distinct text keys (a str key is its text)
            return
        seen: dict = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = "<<" if key_node.tag == MERGE_TAG else self.construct_object(key_node)
            at = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            try:
                first = seen.setdefault(key, at)
            except TypeError:   # an unhashable key: SafeConstructor reports it
                continue
            if first != at:   # another key node (a flow mapping's keys share a line)
                where = (f"line {first[0]}, again at line {at[0]}" if first[0] != at[0] else
                         f"line {first[0]} column {first[1]}, again at column {at[1]}")
                hint = "; merge several mappings with one key, `<<: [*a, *b]`" if key == "<<" else ""
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at {where}){hint}", key_node.start_mark)


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
    """A scalar YAML 1.1 reads as other than what it shows (a number in another base, bytes);
    `mark` is where it was written."""

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
        shown = _shown(text)
        raise LegacyNumber(f"{shown} is {kind} number in YAML 1.1 ({shown_value(value)}); {advice}", node.start_mark)
    if ":" in text:
        _base_60(loader.construct_yaml_int(node), text, node)
    return loader.construct_yaml_int(node)


def _float(loader, node):
    if ":" in str(node.value):
        _base_60(loader.construct_yaml_float(node), str(node.value), node)
    return loader.construct_yaml_float(node)


def _base_60(value, text: str, node) -> None:
    """Refuse a number written in base 60. The implicit resolvers leave a plain `3:20` text
    (`without_sexagesimal`), but an explicit tag, `!!int 3:20` or `!!float 1:30.5`, still had
    YAML 1.1 read 200 and 90.5 and plan with them at exit 0 (sixth hostile round)."""
    raise LegacyNumber(f"{_shown(text)} is a base-60 number in YAML 1.1 ({shown_value(value)}); write "
                       f"{shown_value(value)}", node.start_mark)


def _shown(text: str) -> str:
    """A scalar's text as a message shows it: at most SHOWN_CHARS characters."""
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 1] + "…"


def _binary(loader, node):
    """Refuse `!!binary`: no planner value is bytes, and the schema's message showed Python's b'…'."""
    raise LegacyNumber("!!binary data: no planner value is binary; write the value itself", node.start_mark)


def _set(loader, node):
    """Refuse `!!set {100: null, 200: null}`: read as a list, in hash order (200 first), beside its
    `weights: [1, 3]` it planned 200 tokens at weight 1 (a hunt, 2026-12-07); a set has no order."""
    raise LegacyNumber("!!set: a set has no order, and planner lists do (a value a period, a weight a "
                       "length); write a list, [a, b, …]", node.start_mark)


def decimal_ints_only(*loaders: type) -> None:
    """Give each loader number constructors that refuse a plain number with a leading 0 (octal),
    0x (hexadecimal) or 0b (binary), or a tagged one in base 60 (`!!int 3:20`), each read in
    another base than anyone writing a rate means; and `!!binary` and `!!set` constructors that refuse."""
    for cls in loaders:
        cls.add_constructor(INT_TAG, _int)
        cls.add_constructor(FLOAT_TAG, _float)
        cls.add_constructor(BINARY_TAG, _binary)
        cls.add_constructor(SET_TAG, _set)


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
            raise BadInput(f"{shown_text(p)}: the text {x.encode('unicode_escape').decode()!r} holds half of a UTF-16 "
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
HIDDEN_BREAK = re.compile("[" + "".join(HIDDEN_BREAKS) + "]")


def refuse_hidden_breaks(text: str, p: Path) -> None:
    """BadInput naming the line of the first line break YAML reads but editors do not show: what
    YAML then reads (a key after a comment, a value cut in two) is not what the file shows. Refused
    anywhere, quoted text too: a planner file has no use for them, and the escape "\\u2028" in
    double quotes still writes one."""
    m = HIDDEN_BREAK.search(text)
    if m:
        line = text.count("\n", 0, m.start()) + 1
        raise BadInput(f"{shown_text(p)}: line {line}: {HIDDEN_BREAKS[m.group()]} is a line break to YAML but not to "
                       f"editors, which show what follows it on the same line (in a comment, say); "
                       f"use a plain newline")
