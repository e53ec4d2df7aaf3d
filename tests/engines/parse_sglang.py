"""Parse launch commands with SGLang's own argument parser (run under an interpreter that has
SGLang installed; see docs/export.md, "Checking the commands with the engines' own parsers").

    python parse_sglang.py < commands.json > parsed.json   # {key: [argv, ...]} → {key: [result, ...]}
    python parse_sglang.py --flags                          # every option string, one per line

Each result (engine_cli.parse_quietly): {"error": message or null, "unknown": [args the parser
did not take], "args": the parsed values of the options the planner sets}. Imports only SGLang and
the standard library.
"""

from __future__ import annotations

import argparse

from engine_cli import main, parse_quietly  # beside this script
from sglang.srt.server_args import ServerArgs

KEYS = ("model_path", "tp_size", "pp_size", "dp_size", "ep_size", "enable_dp_attention", "max_running_requests",
        "chunked_prefill_size", "max_prefill_tokens", "mem_fraction_static", "kv_cache_dtype",
        "disaggregation_mode", "disaggregation_transfer_backend", "speculative_algorithm",
        "speculative_num_steps", "speculative_eagle_topk", "speculative_num_draft_tokens", "nnodes", "node_rank")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(exit_on_error=False)
    ServerArgs.add_cli_args(p)
    return p


def parse(argv: list[str]) -> dict:
    args = argv[argv.index("sglang.launch_server") + 1:] if "sglang.launch_server" in argv else argv
    return parse_quietly(parser(), args, lambda ns: {k: getattr(ns, k, None) for k in KEYS})


if __name__ == "__main__":
    main(parser, parse)
