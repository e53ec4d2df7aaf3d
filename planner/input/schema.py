"""Building blocks of every file a user writes (and of the catalogs): a strict, frozen base model
and the precisions a number can be stored in. Unknown keys are errors everywhere."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Precision = Literal["bf16", "fp16", "fp8", "int8", "fp4"]


class Strict(BaseModel):
    """Frozen model that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)
