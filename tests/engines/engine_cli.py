"""What the engine-parser scripts share (run under the engines' own interpreter; imports only the
standard library): read {key: [argv, ...]} on stdin and write {key: [result, ...]}, or list the
parser's flags with --flags."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Callable


def parse_quietly(parser: argparse.ArgumentParser, args: list[str], read: Callable) -> dict:
    """{"error", "unknown", "args"} of one command: `read(namespace)` gives the args the planner sets;
    the parser's own messages are swallowed, a refusal becomes the error."""
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            ns, unknown = parser.parse_known_args(args)
    except (Exception, SystemExit) as e:   # argparse.ArgumentError, or a value a type refused
        return {"error": f"{type(e).__name__}: {e}", "unknown": [], "args": {}}
    return {"error": None, "unknown": unknown, "args": read(ns)}


def main(parser: Callable[[], argparse.ArgumentParser], parse: Callable[[list[str]], dict]) -> None:
    if sys.argv[1:] == ["--flags"]:
        flags = sorted({s for a in parser()._actions for s in a.option_strings if s.startswith("--")})
        sys.stdout.write("\n".join(flags) + "\n")
        return
    commands = json.load(sys.stdin)
    json.dump({k: [parse(a) for a in argvs] for k, argvs in commands.items()}, sys.stdout)
