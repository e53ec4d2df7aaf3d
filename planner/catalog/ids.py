"""How a name a user writes maps to a catalog id."""

from __future__ import annotations


def gpu_key(name: str) -> str:
    """The catalog id a GPU name as written stands for ('H100 ' → 'h100'): what `schemas.get_gpu`
    looks up, and what every comparison of a problem's GPU names with candidates' must use (a sweep
    of `gpus: [H100, L40S]` found no candidate for its 'H100' curve; a break-even of ' l40s' none)."""
    return name.strip().lower()


def model_key(name: str) -> str:
    """The catalog id a model name as written stands for ('Llama-3.1-70B' → 'llama-3.1-70b'): what
    `schemas.get_model` looks up before trying the name as a config.json path."""
    return name.strip().lower()
