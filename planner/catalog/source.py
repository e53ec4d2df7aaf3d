"""Reading catalog YAML fast: libyaml's parser when PyYAML has it, the same data as `read_yaml`.

The catalogs (GPUs, models, kernel curves, calibration profiles) are read on every `plan`
command; PyYAML's pure-Python parser spends ~0.15 s on them, libyaml ~0.02 s. Both build the
data with the same resolver and constructors. Anything libyaml cannot read (a missing file, a
syntax error) goes to `input.files.read_yaml`, which raises BadInput with line and column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from planner.input.files import read_yaml

_FAST = getattr(yaml, "CSafeLoader", None)


def read_catalog_yaml(path: str | Path) -> Any:
    """The parsed YAML of a catalog file (BadInput as `read_yaml` when it cannot be read)."""
    if _FAST is None:
        return read_yaml(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
        return yaml.load(text, Loader=_FAST)   # noqa: S506 (CSafeLoader is the safe loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return read_yaml(path)
