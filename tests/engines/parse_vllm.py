"""Parse `vllm serve` commands with vLLM's own argument parser (run under an interpreter that has
vLLM installed; see docs/export.md, "Checking the commands with the engines' own parsers").

    python parse_vllm.py < commands.json > parsed.json   # {key: [argv, ...]} → {key: [result, ...]}
    python parse_vllm.py --flags                          # every option string, one per line

vLLM picks its platform when the parser fills in defaults; a CPU build says so in its version
string, the CUDA build on PyPI looks for a GPU. Here the CPU platform is selected before the
parser is built, as a CPU build of vLLM would (its CPU wheels are not on PyPI); the parser itself
is vLLM's `make_arg_parser`, the one `vllm serve` uses. Imports only vLLM and the standard library.
"""

from __future__ import annotations

import logging
import os

from engine_cli import main, parse_quietly  # beside this script

os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
logging.disable(logging.WARNING)

import vllm.platforms as platforms  # noqa: E402
from vllm.platforms.cpu import CpuPlatform  # noqa: E402

platforms._current_platform = CpuPlatform()

from vllm.entrypoints.openai.cli_args import make_arg_parser  # noqa: E402
from vllm.utils import FlexibleArgumentParser  # noqa: E402

KEYS = ("model_tag", "tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size",
        "data_parallel_size_local", "data_parallel_start_rank", "headless", "enable_expert_parallel",
        "max_num_seqs", "max_num_batched_tokens", "enable_chunked_prefill", "gpu_memory_utilization",
        "kv_cache_dtype", "kv_transfer_config", "speculative_config")


def parser():
    return make_arg_parser(FlexibleArgumentParser(exit_on_error=False))


def _plain(v):
    """A parsed value as JSON (config objects as their dict)."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    for attr in ("model_dump", "to_dict"):
        if hasattr(v, attr):
            return _plain(getattr(v, attr)())
    if hasattr(v, "__dict__"):
        return {k: _plain(x) for k, x in vars(v).items() if not k.startswith("_")}
    return str(v)


def parse(argv: list[str]) -> dict:
    args = argv[argv.index("serve") + 1:] if "serve" in argv else argv
    return parse_quietly(parser(), args, lambda ns: {k: _plain(getattr(ns, k, None)) for k in KEYS})


if __name__ == "__main__":
    main(parser, parse)
