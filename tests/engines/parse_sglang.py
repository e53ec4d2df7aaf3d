"""Parse launch commands with SGLang's own argument parser (run under an interpreter that has
SGLang installed; see docs/export.md, "Checking the commands with the engines' own parsers").

    python parse_sglang.py < commands.json > parsed.json   # {key: [argv, ...]} → {key: [result, ...]}
    python parse_sglang.py --flags                          # every option string, one per line

Each result: {"error": message or null, "unknown": [args the parser did not take], "args": the
parsed values of the options the planner sets}. Imports only SGLang and the standard library.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys

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
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            ns, unknown = parser().parse_known_args(args)
    except (argparse.ArgumentError, SystemExit) as e:
        return {"error": str(e), "unknown": [], "args": {}}
    return {"error": None, "unknown": unknown, "args": {k: getattr(ns, k, None) for k in KEYS}}


def main() -> None:
    if sys.argv[1:] == ["--flags"]:
        flags = sorted({s for a in parser()._actions for s in a.option_strings if s.startswith("--")})
        sys.stdout.write("\n".join(flags) + "\n")
        return
    commands = json.load(sys.stdin)
    json.dump({k: [parse(a) for a in argvs] for k, argvs in commands.items()}, sys.stdout)


if __name__ == "__main__":
    main()
