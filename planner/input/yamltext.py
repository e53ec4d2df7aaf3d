"""What YAML reads otherwise than a person wrote it, undone for the planner's files: base-60
numbers and escaped surrogate pairs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from planner.errors import BadInput

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
