"""`serving.speculative`: speculative decoding as a problem file writes it (docs/optimisation.md,
"Speculative decoding")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from planner.input.schema import Strict

MTP_ACCEPTANCE = 0.85   # DeepSeek-V3 technical report (arXiv:2412.19437, §5.4.3): the second token's
                        # acceptance rate of its MTP module "ranges between 85% and 90%"; the low end


class Speculative(Strict):
    """Speculative decoding (docs/optimisation.md, "Speculative decoding"): a one-layer draft (the
    model's MTP module, or an EAGLE head) proposes `draft_tokens` tokens per step, each accepted
    with probability `acceptance`; `use: auto` lets the MILP turn it on or off per pool."""

    method: Literal["mtp", "eagle"] = Field(description="mtp: the model's own multi-token-prediction "
                                                        "layers; eagle: an EAGLE draft head (one layer)")
    draft_tokens: Annotated[int, Field(ge=1, le=8, strict=True)] = Field(
        1, description="tokens the draft proposes per step (k)")
    acceptance: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] | None = Field(
        None, description="probability each proposed token is accepted (α); default for mtp 0.85 "
                          "(DeepSeek-V3 report), required for eagle")
    use: Literal["auto", "on"] = Field("auto", description="auto: the MILP chooses per pool; on: every "
                                                           "decode and colocated pool uses it")

    @field_validator("use", mode="before")
    @classmethod
    def _on_unquoted(cls, v: Any) -> Any:
        """`use: on` as the docs write it: YAML 1.1 reads an unquoted on as true."""
        if v is True:
            return "on"
        if v is False:
            raise ValueError("off (YAML reads an unquoted on/off as true/false): to plan without speculative "
                             "decoding, remove serving.speculative")
        return v

    @model_validator(mode="after")
    def _acceptance_known(self) -> Speculative:
        if self.acceptance is None and self.method != "mtp":
            raise ValueError(f"acceptance: required for {self.method} (no published default is kept)")
        return self

    @property
    def alpha(self) -> float:
        return self.acceptance if self.acceptance is not None else MTP_ACCEPTANCE
