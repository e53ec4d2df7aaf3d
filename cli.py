"""`plan`: the command line. Parses arguments, calls the library, renders; nothing else.

Exit codes: 0 ok, 1 standard output closed or a broken pipe (`plan ... | head`: quietly, as
click does), 2 bad input or usage, 3 infeasible, 4 verification failed, 5 internal error (a bug:
please report it with the input file), 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

from planner import starting  # first: a Ctrl-C while plan starts is held (planner/starting.py)

# isort: split
import io
import json
import os
import re
import sys
import types
import warnings
from pathlib import Path
from typing import NoReturn

import click

from planner.errors import (
    NOTED,
    BadInput,
    PlannerDeprecation,
    PlannerError,
    PlannerNotice,
    printable_lines,
    thousands_hint,
)

INTERNAL_ERROR = 5
INTERRUPTED = 130   # 128 + SIGINT, as shells report it
# = planner.studies.simulate.run.MAX_REQUESTS, not imported so that other commands start without the
# simulator (tests/test_simulate.py checks that they agree)
MAX_SIM_REQUESTS = 5_000_000
MAX_POINTS = 1_000             # values per sweep axis (the product is capped in studies.sweep)
# = planner.input.values.MAX_SECONDS, a problem file's solver.time_limit's bound (a test checks): the
# flag took 1e300 where the file refused it (hostile-input hunt, 2026-12-04)
MAX_TIME_LIMIT = 1e7


class AsciiDigits:
    """A number option written in ASCII: click reads '٣٠٠٠' and '８' as numbers and '1_6' as 16
    (Python's int and float do), which a file's values and a sweep's axes refuse (hunts of the
    options, 2026-12-04 and -06)."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and (not value.isascii() or "_" in value):
            self.fail(f"{value!r}: write the number in ASCII digits (0-9), without '_'", param, ctx)
        if hint := thousands_hint(value):   # '--qps 1,250': click said 'not a valid float range'
            self.fail(f"{value!r}{hint}", param, ctx)
        return super().convert(value, param, ctx)


class IntRange(AsciiDigits, click.IntRange):
    """click's IntRange, of ASCII digits."""


class FiniteFloatRange(AsciiDigits, click.FloatRange):
    """click's FloatRange, of ASCII digits, refusing NaN and ±inf as well: NaN compares false with
    every bound, so FloatRange lets it through (and inf past an open upper end)."""

    def convert(self, value, param, ctx):
        import math
        try:   # before the range: '1e400' is read as inf, and the range said 'inf is not in the range …'
            finite = math.isfinite(float(value))
        except (TypeError, ValueError):
            finite = True   # not a number: click's own message
        if not finite:
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(value, param, ctx)


class Duration(FiniteFloatRange):
    """Seconds, or a duration written as a problem file writes one ('30s', '2min', '500ms'): `--time-limit
    30s` was refused as 'not a valid float range' where `solver: {time_limit: 30s}` is read."""

    name = "duration"

    def convert(self, value, param, ctx):
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:   # not a bare number: a quantity with its unit, or an error naming the units
                from planner.input.units import UnitError, parse_quantity
                try:
                    value = repr(parse_quantity(value, "time"))
                except UnitError as e:
                    self.fail(str(e), param, ctx)
        return super().convert(value, param, ctx)


class Ratio(FiniteFloatRange):
    """A share from 0 to 1, or a percentage ('50%' is 0.5), as a problem file's `…_percent` fields take."""

    name = "ratio"

    def convert(self, value, param, ctx):
        if isinstance(value, str):
            if hint := thousands_hint(value):   # before the float check below, as AsciiDigits says it
                self.fail(f"{value!r}{hint}", param, ctx)
            percent = value.strip().endswith("%")
            number = value.strip()[:-1] if percent else value
            try:
                float(number)
            except ValueError:   # click said "'' is not a valid float range" of '%'
                self.fail(f"{value!r} is not a number from {self.min:g} to {self.max:g} or a percentage such as 50%",
                          param, ctx)
            if percent:   # ASCII, finite, within 0–100 %
                return FiniteFloatRange(self.min * 100, self.max * 100).convert(number, param, ctx) / 100.0
        return super().convert(value, param, ctx)


def _refuse_repeated_options(cmd: click.Command, args: list[str], ctx: click.Context) -> None:
    """A usage error for an option of one value given twice: click keeps the last without a word
    (`--tpot 20ms,30ms --tpot 40ms` swept 40 ms alone, `--out a.json --out b.json` wrote b.json,
    a hunt). Options that take several (`multiple`) and flags may repeat."""
    takes = {o: p for p in cmd.params if isinstance(p, click.Option) and not (p.multiple or p.is_flag or p.count)
             for o in p.opts}
    seen: dict[str, str] = {}
    i = 0
    while i < len(args) and args[i] != "--":
        key = args[i].split("=", 1)[0]
        if key not in takes:
            i += 1
            continue
        name = takes[key].name or key
        if name in seen:
            raise click.UsageError(f"{key}: given twice; only the last value would be read: give it once", ctx)
        seen[name] = key
        i += 1 if "=" in args[i] else 1 + takes[key].nargs


class PlanGroup(click.Group):
    """The CLI's one error boundary: the project's errors map to their exit codes, the
    environment's (a full disk, a read-only directory, memory, a solver library) to one line
    naming what failed, Ctrl-C to 130, anything else to exit 5 with a request for a bug report.
    The traceback is printed only with `plan --debug`. Usage errors are exit 2 (click)."""

    def main(self, *args, **kwargs):
        """The streams made safe before click parses: `--version` and `--help` write while parsing,
        before `invoke`, and `plan --version > /dev/full` ended in a traceback (exit 120), with
        stdout closed in exit 0."""
        if sys.stdout is None:   # started with stdout closed (`>&-`)
            _stdout_closed()
        if sys.stderr is None:   # stderr closed too (`2>&-`): messages go nowhere, not to an exit 120
            _stderr_closed()
        try:
            return super().main(*args, **kwargs)
        except BrokenPipeError:
            raise
        except OSError as e:   # only parsing's own output gets here: invoke's errors are handled below
            _stdout_failed(e)
            what = f"{e.filename}: " if getattr(e, "filename", None) else ""
            click.echo(f"error: {what}{e.strerror or e} (a file or system operation failed)", err=True)
            sys.exit(2)

    def make_context(self, *args, **kwargs) -> click.Context:
        """A Ctrl-C while click parses the command line: exit 130 as in a command (click's own
        answer is 'Aborted!' and exit 1)."""
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt:
            _exit_interrupted()

    def resolve_command(self, ctx: click.Context, args):
        name, cmd, rest = super().resolve_command(ctx, args)
        if cmd is not None:   # the command's own context: its usage line, not the group's (`plan [OPTIONS] COMMAND`)
            _refuse_repeated_options(cmd, rest, click.Context(cmd, info_name=name, parent=ctx))
        return name, cmd, rest

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PlannerError as e:
            self._fail(ctx, e, e.exit_code, str(e))
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:   # the reader went away (`| head`): click's main exits 1 quietly
            raise
        except KeyboardInterrupt as e:
            self._fail(ctx, e, INTERRUPTED, "interrupted")
        except RecursionError as e:
            self._fail(ctx, e, 2, "the input is nested too deeply to process")
        except MemoryError as e:
            self._fail(ctx, e, 2, "out of memory: the input or the requested work is too large "
                                  f"for this machine{_address_space_limit()}; reduce it")
        except OSError as e:
            what = f"{e.filename}: " if getattr(e, "filename", None) else ""
            _stdout_failed(e)
            if not what and _cwd_gone():   # os.getcwd's error names no file: 'No such file or directory' alone
                self._fail(ctx, e, 2, "the current directory no longer exists (deleted or moved since the shell "
                                      "entered it); cd into a directory that exists and run plan again")
            self._fail(ctx, e, 2, f"{what}{e.strerror or e} (a file or system operation failed)")
        except Exception as e:  # noqa: BLE001 - the boundary: anything unforeseen is a bug
            if type(e).__module__.split(".")[0] in ("pulp", "highspy"):
                self._fail(ctx, e, INTERNAL_ERROR, f"the MILP solver library failed: {type(e).__name__}: {e}; "
                                                   f"try the other solver (--solver cbc or highs)")
            self._fail(ctx, e, INTERNAL_ERROR,
                       f"internal error: {type(e).__name__}: {e}\n"
                       f"This is a bug in planner: please report it with the command line and its "
                       f"input file(s); `plan --debug ...` prints the traceback to include.")

    @staticmethod
    def _fail(ctx: click.Context, exc: BaseException, code: int, message: str) -> None:
        """Print the message (and the traceback with --debug), exit with `code`."""
        if ctx.params.get("debug"):
            import traceback
            traceback.print_exception(exc, file=sys.stderr)
        from planner.errors import clipped
        click.echo(f"error: {clipped(message)}" if message else "", err=True)
        ctx.exit(code)


def _cwd_gone() -> bool:
    """Whether the current directory was deleted under the process: plan looks beside it for a
    problem's relative files and for ./catalogs, and `plan solve /abs/p.yaml` run in a deleted
    directory said only `No such file or directory (a file or system operation failed)`."""
    import os
    try:
        os.getcwd()
    except FileNotFoundError:
        return True
    return False


STDOUT = "standard output"   # the file name of an OSError writing it (`_WholeWrites`)


def _stdout_failed(e: OSError) -> None:
    """After an error writing standard output (a full disk, a file-size limit under `> file`), make
    it a sink: the text still buffered would fail the exit's own flush a second time."""
    if e.filename == STDOUT:
        import os
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - held for the process's life


class _WholeWrites(io.RawIOBase):
    """Descriptor 1 written in whole or with an error naming it: a short write (a full disk, `ulimit
    -f`) is continued, so its error is raised. Python's own file writer took the short write as done
    and `plan solve --json > f` under a file-size limit exited 0 with the JSON cut at the limit."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        import os
        return os.isatty(self.fd)

    def write(self, b) -> int:
        import os
        view, n = memoryview(b).cast("B"), 0
        try:
            while n < len(view):
                n += os.write(self.fd, view[n:])
        except BlockingIOError:
            raise
        except OSError as e:   # BrokenPipeError stays itself (`| head`: exit 1, quietly)
            raise type(e)(e.errno, e.strerror, STDOUT) from None
        return n


def _whole_stdout() -> None:
    """sys.stdout over `_WholeWrites`, with the encoding, error policy and line buffering it had."""
    out = sys.stdout
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):   # not a descriptor (a test's capture): left as it is
        return
    out.flush()
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(_WholeWrites(fd)), encoding=out.encoding, errors=out.errors,
                                  line_buffering=out.line_buffering)


class _ClosedStdout:
    """sys.stdout when file descriptor 1 was closed: writing is a broken pipe (exit 1, quietly,
    like `| head`), flushing is nothing; work that prints nothing (e.g. `--out` only) succeeds."""

    def write(self, _text: str) -> int:
        import errno
        raise BrokenPipeError(errno.EPIPE, "standard output is closed")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _devnull_at(fd: int) -> None:
    """Open /dev/null as descriptor `fd` (closed at start-up: the lowest free one is taken first)."""
    import os
    new = os.open(os.devnull, os.O_WRONLY)
    if new != fd:
        os.dup2(new, fd)
        os.close(new)


def _stdout_closed() -> None:
    """Point descriptor 1 at /dev/null (solver libraries print to it from C) and make writes to
    sys.stdout a broken pipe."""
    _devnull_at(1)
    sys.stdout = _ClosedStdout()  # type: ignore[assignment]


def _stderr_closed() -> None:
    """Point descriptor 2 at /dev/null and sys.stderr at a sink: with it closed, Python's last flush
    at exit failed and the process ended with 120 whatever the command did."""
    import os
    _devnull_at(2)
    sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - held for the process's life


def _one_line_option(option: str, value: str, noun: str = "a name") -> None:
    """BadInput unless an option's value is one line of printable text (it is printed in headers and
    written into plans and profiles: a newline or an escape would garble them)."""
    from planner.errors import BadInput
    from planner.input.values import one_line_name
    try:
        one_line_name(value)
    except ValueError as e:   # not every option is a name: `--tpot '1s\n'` read "a name is one line …"
        raise BadInput(f"--{option} {value!r}: {str(e).replace('a name is', f'{noun} is', 1)}") from None


def _version() -> str:
    """The installed package's version (pyproject.toml), or a note when planner is not installed."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("planner")
    except PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def _print_version(ctx: click.Context, _param, value: bool) -> None:
    """`plan --version`: read the installed version only when asked (importlib.metadata costs
    ~30 ms of every command's start-up otherwise)."""
    if value and not ctx.resilient_parsing:
        click.echo(f"plan {_version()}")
        ctx.exit()


def _choice(*values: str) -> click.Choice:
    """One of `values`, in any case ('--solver HIGHS', '--kind Problem'), read as written in the list."""
    return click.Choice(list(values), case_sensitive=False)


@click.group(cls=PlanGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
@click.option("--debug", is_flag=True, help="print the Python traceback of an error (for bug reports)")
def main(debug: bool) -> None:
    """Capacity planner for LLM inference: which GPUs, how many prefill and decode instances,
    and what a million tokens costs."""
    warnings.showwarning = _show_warning
    _GLYPHS.clear()
    _NOTES.clear()
    NOTED.clear()


_python_showwarning = warnings.showwarning
# matplotlib warns once per character its font lacks ("Glyph 26085 (\N{CJK UNIFIED IDEOGRAPH-65E5})
# missing from font(s) DejaVu Sans."), each as two lines of Python: a name in Chinese printed a dozen
_GLYPH = re.compile(r"Glyph \d+ \((.*)\) missing from font\(s\) (.+?)\.?")
_GLYPHS: list[str] = []
_NOTES: set[str] = set()   # notes printed in this run: a second of the same text is not (a simulation
                           # run again at the request count it needs said its notes twice)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A deprecated key is one line on stderr ('warning: FILE: old is deprecated; write new');
    other warnings as Python shows them. A file name or key in it is printed escaped."""
    if issubclass(category, PlannerDeprecation):
        click.echo(f"warning: {printable_lines(str(message))}", err=True)
    elif issubclass(category, PlannerNotice):
        if str(message) not in _NOTES:
            _NOTES.add(str(message))
            click.echo(f"note: {printable_lines(str(message))}", err=True)
    elif (m := _GLYPH.fullmatch(str(message))) is not None:   # one line for all of them
        if not _GLYPHS:
            try:
                ch = m.group(1).encode("ascii").decode("unicode_escape")   # '\N{…}' → the character
                first = f"'{ch}', U+{ord(ch):04X}" if len(ch) == 1 else m.group(1)
            except (UnicodeError, ValueError):
                first = m.group(1)
            click.echo(f"note: the chart's font ({m.group(2)}) cannot draw some characters of a name (the first: "
                       f"{printable_lines(first)}); the chart shows them as empty boxes", err=True)
        _GLYPHS.append(m.group(1))
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


class OutPath(click.Path):
    """An output path option: an empty one (`--out ""`, a shell variable left unset) is a usage
    error, not 'no file' (which printed to stdout and wrote nothing)."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            self.fail("an empty path; give a file or directory name", param, ctx)
        if value == "-":   # wrote a file named '-' where a user meant standard output
            hint = "" if param is None or param.required else (
                " (without the option the command prints to standard output; plan solve --json prints "
                "the JSON plan)")
            self.fail(f"'-' (standard output) is not a target here; give a "
                      f"{'file' if self.file_okay else 'directory'} name{hint}", param, ctx)
        if isinstance(value, str) and not self.dir_okay and value.endswith("/"):
            self.fail(f"{value!r} ends with '/', a directory; give a file name", param, ctx)
        from planner.errors import is_control
        if isinstance(value, str) and any(is_control(ch) for ch in value):   # a pasted newline, say
            self.fail(f"{value!r} holds a control character (a newline, tab or escape); every "
                      f"message naming it would break; give a name without one", param, ctx)
        return super().convert(value, param, ctx)


STDIN_DASH = "'-' (standard input) is not read here; give a file name"


def _stdin_dash(value) -> bool:
    """`-` meant as standard input (no file of that name here): 'file not found' read as a bug."""
    return value == "-" and not os.path.lexists(value)


class InPath(click.Path):
    """An input file argument: an empty one (a shell variable left unset) is a usage error naming
    the argument, not '.: is a directory'; so is `-` (standard input), which plan does not read."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            self.fail("an empty path; give a file name", param, ctx)
        if _stdin_dash(value):
            self.fail(STDIN_DASH, param, ctx)
        return super().convert(value, param, ctx)


def _wrote(path) -> None:
    """'wrote PATH' on stderr, after what stdout holds: both streams piped into one reader showed the
    line inside the table before it (`…H200wrote whatif.png`)."""
    sys.stdout.flush()
    click.echo(f"wrote {path}", err=True)


def _emit(text: str, out: str | None, inputs: tuple = (), force: bool = False) -> None:
    """Print to stdout, or write atomically to --out (never over an input file)."""
    if out:
        from planner.input.files import atomic_write
        atomic_write(out, text, protect=inputs, force=force)
        _wrote(out)
    else:
        click.echo(text, nl=not text.endswith("\n"))


# ------------------------------------------------------------------------------- eval
@main.command("eval")
@click.option("--model", required=True, help="catalog id (plan catalog models) or path to a config.json")
@click.option("--gpu", required=True, help="catalog id (plan catalog gpus)")
@click.option("--cards", type=IntRange(1, 65536), default=8, show_default=True)
@click.option("--batch", type=IntRange(1, 10_000_000), default=1, show_default=True,
              help="decode batch / prompts in a prefill pass")
@click.option("--input-len", type=IntRange(1, 10_000_000), default=1000, show_default=True)
@click.option("--output-len", type=IntRange(1, 10_000_000), default=1000, show_default=True)
@click.option("--tp", type=IntRange(1, 65536), default=None,
              help="tensor parallel degree (default cards/(pp·dp))")
@click.option("--pp", type=IntRange(1, 65536), default=1, show_default=True)
@click.option("--dp", type=IntRange(1, 65536), default=1, show_default=True,
              help="data-parallel attention groups (MoE)")
@click.option("--weights", "weight_dtype", type=_choice("bf16", "fp16", "fp8", "int8", "fp4"), default=None)
@click.option("--experts", "expert_dtype", type=_choice("bf16", "fp16", "fp8", "int8", "fp4"), default=None,
              help="routed experts' weights apart from --weights (e.g. fp4 experts beside fp8 attention)")
@click.option("--attention", "attention_dtype", type=_choice("bf16", "fp16", "fp8", "int8", "fp4"),
              default=None, help="attention projections' weights apart from --weights (e.g. bf16 beside fp8)")
@click.option("--dense-mlp", "dense_mlp_dtype", type=_choice("bf16", "fp16", "fp8", "int8", "fp4"),
              default=None, help="the dense layers' MLP weights apart from --weights")
@click.option("--shared-experts", "shared_experts_dtype", type=_choice("bf16", "fp16", "fp8", "int8", "fp4"),
              default=None, help="MoE layers' shared experts' weights apart from --weights")
@click.option("--kv", "kv_dtype", type=_choice("bf16", "fp16", "fp8", "int8", "fp4"), default="bf16",
              show_default=True)
@click.option("--prefix-hit", type=Ratio(0, 1), default=0.0, show_default=True,
              help="prefix-cache hit ratio 0–1, or a percentage (50%)")
@click.option("--calibration", default="default", show_default=True)
@click.option("--sweep-batch", is_flag=True, help="print the decode curve: TPOT and tokens/s against batch")
@click.option("--concurrency", type=IntRange(1, 20_000), default=None,
              help="also a closed-loop benchmark of this instance at this many requests in flight (what "
                   "`vllm bench serve --max-concurrency C` measures): the analytic TTFT/TPOT and a simulation "
                   "of the same loop (JSON key closed_loop)")
@click.option("--requests-per-client", type=FiniteFloatRange(1, 1000), default=None,
              help="with --concurrency: requests each client sends, num-prompts / concurrency "
                   "(default: the calibration's benchmark_requests_per_client)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output (SI units)")
def eval_cmd(**kw) -> None:
    """The analytic model's numbers for one configuration."""
    from planner.physics.evaluate import EvalRequest, evaluate, sweep_batch
    from planner.report.format import to_json
    from planner.report.text import render_curve, render_eval
    sweep, as_json = kw.pop("sweep_batch"), kw.pop("as_json")
    concurrency, k = kw.pop("concurrency"), kw.pop("requests_per_client")
    from planner.errors import BadInput
    if not kw["model"].strip():
        raise BadInput("--model: empty; give a catalog id (plan catalog models), a Hugging Face id or a "
                       "config.json path")
    _one_line_option("model", kw["model"])   # printed in the header
    _calibration_option(kw["calibration"])
    if k is not None and concurrency is None:
        raise BadInput("--requests-per-client: it sizes the closed loop of --concurrency; give --concurrency too")
    req = EvalRequest(**kw)
    d = evaluate(req)
    from planner.physics.evaluate import deployment_of
    arch = deployment_of(req).model.arch
    if arch.context and req.input_len + req.output_len > arch.context:   # as plan solve notes it
        import warnings

        from planner.errors import PlannerNotice
        warnings.warn(f"{kw['model']}: {req.input_len:,} + {req.output_len:,} tokens pass its context of "
                      f"{arch.context:,} ({arch.context_from}); engines refuse such requests unless RoPE "
                      f"scaling extends it", PlannerNotice, stacklevel=2)
    if sweep:
        d["curve"] = sweep_batch(req)
    if concurrency is not None and not d["fits"]:   # it printed a benchmark with 4 decode slots
        raise BadInput(f"--concurrency {concurrency}: the configuration does not fit in memory (overflow "
                       f"{d['overflow_bytes'] / 1e9:.1f} GB per card), so no benchmark runs on it; "
                       f"give more cards (--cards) or a lower precision (--weights)")
    if concurrency is not None:
        from planner.studies.simulate.closed import benchmark_check
        d["closed_loop"] = benchmark_check(deployment_of(req), req.input_len, req.output_len, concurrency,
                                           req.prefix_hit, k)
    if as_json:
        click.echo(to_json(d), nl=False)
        return
    click.echo(render_eval(d))
    if sweep:
        click.echo("\n" + render_curve(d["curve"]))


# ------------------------------------------------------------------------ schema, init
@main.command("schema")
@click.option("--kind", type=_choice("problem", "fleet", "scenario"), default="problem", show_default=True)
@click.option("--out", type=OutPath(dir_okay=False), default=None, help="write to FILE instead of stdout")
@click.option("--force", is_flag=True,
              help="allow replacing a file plan did not write, or a shipped catalog file or profile")
def schema_cmd(kind: str, out: str | None, force: bool) -> None:
    """JSON Schema of a problem, fleet or scenario file (for editor completion and checking)."""
    import json

    from planner.input.json_schema import json_schema
    _emit(json.dumps(json_schema(kind), indent=2, ensure_ascii=False) + "\n", out, force=force)


@main.command("init")
@click.option("--model", help="catalog id, Hugging Face id or path to a config.json")
@click.option("--qps", type=FiniteFloatRange(min=0, min_open=True, max=1e9), help="requests per second")
@click.option("--input-tokens", type=IntRange(1, 10_000_000), help="prompt tokens per request")
@click.option("--output-tokens", type=IntRange(1, 10_000_000), help="output tokens per request")
@click.option("--ttft", help="time-to-first-token limit, e.g. 2s")
@click.option("--tpot", help="time-per-output-token limit, e.g. 50ms")
@click.option("--gpus", help="GPU types, comma-separated, e.g. h100,h20")
@click.option("--out", type=OutPath(dir_okay=False), default=None, help="write to FILE instead of stdout")
@click.option("--force", is_flag=True, help="replace an existing --out file (it may hold your edits)")
def init_cmd(out: str | None, force: bool, **given) -> None:
    """Write a commented problem file that `plan solve` accepts. Values not given as flags are asked
    when stdin is a terminal, else take the defaults in docs/problem-files.md."""
    from pathlib import Path

    from planner.errors import BadInput
    from planner.input.template import INIT_DEFAULTS, QUESTIONS, problem_template
    for k, v in given.items():   # an empty option (a shell variable left unset) is not 'ask me'
        if isinstance(v, str) and not v.strip():
            raise BadInput(f"plan init: --{k.replace('_', '-')}: empty; leave the option out to take the default")
    from planner.input.units import note_bare_limit
    for k in ("tpot", "ttft"):   # bare numbers are seconds: `--tpot 50`, `--ttft 800` are noted
        if given.get(k) is not None:
            note_bare_limit(k, f"plan init: --{k}", given[k])
    if out:   # a hidden file, and a problem named '.yaml'
        from planner.input.owned import check_named
        check_named("--out", out, (".yaml", ".yml"), "the problem's file is NAME{name}, and NAME becomes the "
                    "problem's name", any_case=True)   # plan solve reads p.YAML: '.YAML' alone was written
    name = Path(out).stem if out else "my-problem"
    from planner.input.values import one_line_name
    try:   # the file name is the problem's name, written into the file: a newline broke its YAML (exit 5)
        one_line_name(name)
    except ValueError as e:
        raise BadInput(f"--out {out!r}: the file name becomes the problem's name; {e}") from None
    if out:   # before any question: the answers were asked, then lost to 'exists' or 'directory nodir does not exist'
        if Path(out).exists() and not force:
            raise BadInput(f"--out {out}: exists; plan init does not replace a file (it may hold your edits): "
                           f"choose another name or pass --force")
        from planner.input.files import check_writable
        check_writable(out, force=force)
    # the flags first, then each answer as it is typed, by the same checks: an answer a flag would refuse
    # ('1e400' requests/s, '-1' tokens, GPU 'h999') was taken and the whole session refused after the last question
    values = _init_checked({**INIT_DEFAULTS, **{k: v for k, v in given.items() if v is not None}}, name, out)
    if stdin_is_terminal():
        types = {p.name: p.type for p in click.get_current_context().command.params}
        try:
            for k in (k for k in INIT_DEFAULTS if given[k] is None):
                read = lambda text, k=k: _init_answer(k, text, types[k], values, name, out)  # noqa: E731
                values[k] = click.prompt(QUESTIONS[k], default=INIT_DEFAULTS[k], err=True, value_proc=read)
        except click.Abort:   # Ctrl-C or Ctrl-D at a question: interrupted, as everywhere (exit 130)
            raise KeyboardInterrupt from None
    text = problem_template(name, values, out)
    model = Path(str(values["model"]))   # a config.json it reads is never replaced, --force or not
    _emit(text, out, inputs=tuple(p for p in (model, model / "config.json") if p.is_file()), force=force)


def _init_answer(key: str, text: str, kind: click.ParamType, values: dict, name: str, out: str | None):
    """An answer to a `plan init` question, read by its flag's type and checked as the flag is (a
    usage error asks the question again); a bare TTFT or TPOT is noted as the flag's is."""
    value = kind.convert(text, None, None) if isinstance(kind, (click.IntRange, click.FloatRange)) else text
    try:
        checked = _init_checked({**values, key: value}, name, out)[key]
    except BadInput as e:
        raise click.BadParameter(str(e)) from None
    if key in ("tpot", "ttft"):
        from planner.input.units import note_bare_limit
        note_bare_limit(key, f"plan init: {key}", str(value))
    return checked


def _init_checked(values: dict, name: str, out: str | None) -> dict:
    """`values` (keys of INIT_DEFAULTS) as plan init writes them (GPU ids as the catalog spells them),
    or BadInput naming what `plan solve` would refuse in the problem they make."""
    import yaml

    from planner.catalog.schemas import get_gpu, get_model
    from planner.input.files import validate
    from planner.input.problem import Problem
    from planner.input.template import problem_template
    for k in ("model", "ttft", "tpot", "gpus"):   # written into the file: '1s\n' wrote a value over two lines
        if isinstance(values.get(k), str):
            if not values[k].strip():
                raise BadInput(f"plan init: --{k}: empty; give a value, or leave it out to take the default")
            _one_line_option(k, values[k], "a name" if k in ("model", "gpus") else "a limit")
    ids = [x.strip() for x in str(values["gpus"]).split(",")]
    if not all(ids):   # 'h100,,h200': an empty item is a slip, refused as --tpot's are
        raise BadInput(f"plan init: --gpus: {values['gpus']!r} has an empty item; give GPU ids separated by commas")
    try:   # a GPU `plan solve` would not know; written as the catalog's id ('H100' → h100)
        values = {**values, "gpus": ",".join(get_gpu(g).id for g in ids)}
    except BadInput as e:
        raise BadInput(f"plan init: --gpus: {e}") from None
    validate(Problem, yaml.safe_load(problem_template(name, values, out)), "plan init")   # checked before writing
    try:
        get_model(str(values["model"]))                     # a model `plan solve` would not know
    except BadInput as e:
        raise BadInput(f"plan init: --model: {e}") from None
    return values


def stdin_is_terminal() -> bool:
    """Whether `plan init` may ask questions (a person at a terminal, not a pipe or a script)."""
    return sys.stdin is not None and sys.stdin.isatty()   # None: stdin closed (`<&-`)


# ------------------------------------------------------------------------------ solve
@main.command("solve")
@click.argument("problem", type=InPath(dir_okay=False))
@click.option("--solver", type=_choice("highs", "cbc"), default=None, help="override solver.name")
@click.option("--time-limit", type=Duration(min=0, min_open=True, max=MAX_TIME_LIMIT), default=None,
              help=f"seconds, or a duration such as 30s or 2min (> 0, at most {MAX_TIME_LIMIT:g} s); overrides the "
                   f"problem's solver.time_limit")
@click.option("--json", "as_json", is_flag=True, help="print the plan as JSON (keys in docs/reference.md)")
@click.option("--out", type=OutPath(dir_okay=False), default=None, help="write the JSON plan to FILE")
@click.option("--checks", is_flag=True, help="also print every verification check")
@click.option("--timings", is_flag=True, help="put wall-clock seconds in the JSON (else null: reproducible)")
@click.option("--verbose", is_flag=True, help="show the solver's log")
@click.option("--force", is_flag=True,
              help="allow replacing a file plan did not write, or a shipped catalog file or profile")
@click.option("--simulate", "simulate", is_flag=True,
              help="also check the plan by simulation (JSON key 'simulation'; see plan simulate)")
@click.option("--calibration", default=None, metavar="NAME",
              help="override the problem's calibration profile (a name in catalogs/calibration, "
                   "e.g. one written by plan calibrate, or a path)")
@click.option("--export", "export_target", type=_choice("vllm", "sglang", "trtllm", "dynamo", "k8s"),
              default=None, help="also write the plan's deployable files (as plan export) into --export-dir")
@click.option("--export-dir", default="deploy", show_default=True, type=OutPath(file_okay=False),
              help="directory for --export (refused when not empty, unless --force)")
@click.option("--chart", type=OutPath(dir_okay=False), default=None, metavar="FILE",
              help="a problem with workload.profile: also draw the plan over its periods to FILE "
                   "(.png, or .html: a self-contained page)")
@click.option("--band", is_flag=True,
              help="also solve with the model off by its cross-validated error at p10 and p90 and print "
                   "those plans' costs (JSON error_band.cost_per_hour); single problems")
def solve_cmd(problem: str, solver, time_limit, as_json: bool, out, checks: bool, timings: bool,
              verbose: bool, force: bool, simulate: bool, calibration: str | None, export_target: str | None,
              export_dir: str, chart: str | None, band: bool) -> None:
    """Cheapest fleet meeting the problem's SLOs at its QPS, verified. A file that lists
    `classes:` plans one fleet for several request classes and models (docs/fleets.md)."""
    from planner.catalog.inputs import inputs_of
    from planner.input.files import check_writable
    from planner.input.load import load_any
    from planner.input.owned import check_distinct
    from planner.input.problem import Problem
    from planner.plan.solve import solve
    from planner.report.json import plan_json, to_json
    from planner.report.text import render_plan
    check_distinct({"--out": out, "--chart": chart})
    if not export_target and click.get_current_context().get_parameter_source("export_dir") \
            == click.core.ParameterSource.COMMANDLINE:
        from planner.errors import BadInput
        raise BadInput("--export-dir: it names where --export writes; give --export TARGET too")
    _check_outputs_early(problem, out, chart, export_target and export_dir, force)
    failed: BaseException | None = None   # the file's own error, shown after its notes (as before)
    with warnings.catch_warnings(record=True) as notes:   # shown once the options are known to fit the file
        try:
            p = load_any(problem)
        except BaseException as e:
            failed = e
    if failed is not None:
        _replay(notes)
        raise failed
    with warnings.catch_warnings(record=True) as more:   # the options' checks: refused, the notes are not said
        if calibration is not None:
            p = p.model_copy(update={"calibration": _calibration_option(calibration)})
        inputs = inputs_of(p, problem)   # the problem file and every file it made plan read
        if out:
            check_writable(out, inputs, force)
        if export_target:
            from planner.report.export import check_out_dir
            check_out_dir(export_dir, force, (*(q for q, _ in inputs), *((out,) if out else ())))
        horizon = p.workload.profile is not None if isinstance(p, Problem) else p.horizon
        if chart:
            _check_chart(chart, problem, horizon, force, inputs)
        if horizon and band:
            from planner.errors import BadInput
            raise BadInput(f"{problem}: --band takes a single-QPS plan, not a load profile (workload.profile) yet")
        if band and not isinstance(p, Problem):
            from planner.errors import BadInput
            raise BadInput(f"{problem}: --band takes a single problem (one workload), not a fleet")
    _replay(notes + more)
    if horizon:
        return _solve_horizon(p, problem, solver, time_limit, as_json, out, checks, timings, verbose, force,
                              simulate, chart, inputs, (export_target, export_dir))
    plan = solve(p, problem, solver=solver, time_limit=time_limit, verbose=verbose)
    d = plan_json(plan, timings=timings)
    band_line = _cost_band(p, problem, d, solver, time_limit) if band else None
    sims = _simulate_plan(plan, d, solved_plan(problem)) if simulate else {}
    if sims:
        d["simulation"] = (sims[""].as_dict() if plan.kind == "plan"
                           else {key: r.as_dict() for key, r in sims.items()})
    if out:
        _emit(to_json(d), out, inputs, force)
    if export_target:
        _export_solved(d, export_target, export_dir, problem, force,
                       (*(q for q, _ in inputs), *((out,) if out else ())))
    _show(d, lambda: render_plan(plan) + (f"\n{band_line}" if band_line else ""), plan.verification, as_json,
          checks)
    _echo_simulations(sims, as_json)


def _replay(notes: list) -> None:
    """Show the notes and warnings `warnings.catch_warnings(record=True)` held, as they would have
    been shown (they passed the filters when they were recorded); outside that block, whose
    showwarning appends to the list."""
    for w in notes:
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def _echo_simulations(sims: dict, as_json: bool) -> None:
    """`--simulate`: each simulation's table after the plan (not with --json, whose `simulation` key
    has them), and a warning on stderr for every SLO the simulation breaks."""
    if not sims:
        return
    from planner.report.simulate import render_simulation, slo_warnings
    for r in sims.values():
        if not as_json:
            click.echo("\n" + render_simulation(r))
    for line in (w for r in sims.values() for w in slo_warnings(r)):
        click.echo(line, err=True)


def _cost_band(p, problem: str, d: dict, solver, time_limit) -> str:
    """`--band`: the costs of the plans at the error's p10 and p90 into d['error_band'], and the line
    the text output adds."""
    from planner.errors import BadInput
    from planner.studies.band import cost_band
    if d.get("error_band") is None:
        raise BadInput(f"{problem}: --band: the calibration profile carries no cross-validated error band")
    costs = cost_band(p, problem, solver=solver, time_limit=time_limit)
    d["error_band"]["cost_per_hour"] = costs
    cur = d["currency"]
    cell = {k: "no plan" if v is None else f"{v:,.2f} {cur}/h" for k, v in costs.items()}
    return (f"Cost band: the cheapest plan meeting the SLOs if the model is off by its p10 error costs "
            f"{cell['p10']}, by its p90 error {cell['p90']} (this plan: {d['cost_per_hour']:,.2f} {cur}/h)")


def _show(d: dict, text, verification, as_json: bool, checks: bool) -> None:
    """Print a solved plan: its JSON, or its text (`text()`) and, with --checks, every check."""
    from planner.report.format import to_json
    from planner.report.text import render_checks
    if as_json:
        click.echo(to_json(d), nl=False)
    else:
        click.echo(text())
        if checks:
            click.echo("\n" + render_checks(verification))


def _calibration_option(name: str, option: str = "calibration") -> str:
    """The --calibration (or --base) value, checked here so that an unknown profile is blamed on
    the option (eval, validate and calibrate --base named none, a hunt)."""
    from planner.catalog.calibration import load_calibration
    from planner.errors import BadInput
    _no_empty((), **{option: name})
    _one_line_option(option, name)   # written into the plan as calibration_source
    try:
        load_calibration(name)
    except BadInput as e:
        raise BadInput(f"--{option}: {e}") from None
    return name


def _check_out_outside(export_dir: str, out: str, option: str = "--out", what: str = "plan") -> None:
    """Before the solve: --out (or --chart) is not inside the --export directory, which the export
    would refuse as not empty once it was written there (--chart was not checked: the chart was
    written into an empty --export-dir, then the export refused it, after the solve)."""
    from pathlib import Path

    from planner.errors import BadInput
    d, o = Path(export_dir).resolve(), Path(out).resolve()
    if o == d or d in o.parents:
        raise BadInput(f"{option} {out}: inside --export-dir {export_dir}, which the export fills with its own "
                       f"files; write the {what} elsewhere")


def _check_outputs_early(problem: str, out: str | None, chart: str | None, export_dir: str | None,
                         force: bool) -> None:
    """plan solve's output paths, checked before the problem is read: a bad one was refused after the
    problem's notes (each is checked again once the problem names every file it made plan read)."""
    from planner.errors import BadInput
    from planner.input.files import check_writable
    if export_dir:   # first: a path inside --export-dir is refused as such, not as a directory still to make
        for option, path, what in (("--out", out, "plan"), ("--chart", chart, "chart")):
            if path:
                _check_out_outside(export_dir, path, option, what)
    if out:
        check_writable(out, (problem,), force)
    if chart:
        from planner.report.horizon_chart import check_chart_path
        check_chart_path(chart)
        try:
            check_writable(chart, (problem,), force)
        except BadInput as e:
            raise BadInput(f"--chart: {e}") from None
    if export_dir:
        from planner.report.export import check_out_dir
        check_out_dir(export_dir, force, (problem, *((out,) if out else ())))


def _check_chart(chart: str, problem: str, horizon: bool, force: bool, inputs: tuple) -> None:
    """--chart is refused before the solve: a plan without a profile, a bad suffix, an unwritable
    path, one of `inputs` (check_writable's protect)."""
    from planner.errors import BadInput
    from planner.input.files import check_writable
    from planner.report.horizon_chart import check_chart_path
    if not horizon:
        raise BadInput(f"{problem}: --chart draws a plan over a load profile; it needs workload.profile")
    check_chart_path(chart)
    try:
        check_writable(chart, inputs, force)
    except BadInput as e:
        raise BadInput(f"--chart: {e}") from None


def _solve_horizon(p, problem: str, solver, time_limit, as_json: bool, out, checks: bool, timings: bool,
                   verbose: bool, force: bool, simulate: bool, chart: str | None = None,
                   inputs: tuple = (), export_to: tuple = (None, None)) -> None:
    """`plan solve` of a problem with a load profile: one plan over all periods (docs/horizon.md);
    `inputs`: the files it read, which no output overwrites; `export_to`: (--export, --export-dir)."""
    from planner.input.problem import Problem
    from planner.plan.horizon import solve_horizon
    from planner.report.format import to_json
    from planner.report.horizon import horizon_json, render_horizon
    if isinstance(p, Problem):
        h = solve_horizon(p, problem, solver=solver, time_limit=time_limit, verbose=verbose)
    else:
        from planner.plan.horizon_fleet import solve_fleet_horizon
        h = solve_fleet_horizon(p, problem, solver=solver, time_limit=time_limit, verbose=verbose)
    d = horizon_json(h, timings=timings)
    sims = {}
    if simulate:   # the busiest period's pools at its QPS (plan simulate --period for the others)
        from planner.studies.simulate import catalog_of, simulate_services
        peak = h.static_peak
        if peak is None:   # a period's plan to simulate is built from the static fleet's (its SLO, lengths)
            raise BadInput(f"{problem}: --simulate: this day has no static fleet ({h.static_reason}), from whose "
                           f"plan a period's is built; such a day's periods cannot be simulated yet: solve it "
                           f"without --simulate")
        catalogs = {"": catalog_of(peak.resolved)} if isinstance(p, Problem) else \
            {key: catalog_of(peak.service(key).res) for key in peak.chosen_by_service}
        sims = simulate_services(json.loads(to_json(d)), solved_plan(problem), catalogs=catalogs)
        d["simulation"] = {key: r.as_dict() for key, r in sims.items()}
    if out:
        _emit(to_json(d), out, inputs or (problem,), force)
    if chart:
        from planner.report.horizon_chart import write_chart
        write_chart(h, chart, inputs or (problem,), force)
        _wrote(chart)
    if export_to[0]:
        _export_solved(d, export_to[0], export_to[1], problem, force,
                       (*(tuple(q for q, _ in inputs) if inputs else (problem,)), *((out,) if out else ())))
    _show(d, lambda: render_horizon(h), h.verification, as_json, checks)
    _echo_simulations(sims, as_json)


def _export_solved(d: dict, target: str, export_dir: str, problem: str, force: bool, protect: tuple) -> None:
    """`plan solve --export`: the solved plan's files, as `plan export` of it writes them; a refusal
    names the plan solved from the problem (its `periods[9].pools[2]` are the plan's, not the
    problem file's fields; a hunt)."""
    from planner.errors import BadInput
    from planner.report.export import export
    from planner.report.format import to_json
    try:
        paths = export(json.loads(to_json(d)), target, None, None, export_dir, source=problem, force=force,
                       protect=protect)
    except BadInput as e:
        msg = str(e)
        raise BadInput(f"{solved_plan(problem)}: {msg.removeprefix(problem + ': ')}" if msg.startswith(problem + ": ")
                       else msg) from None
    for path in paths:
        _wrote(path)


def solved_plan(problem: str) -> str:
    """How `solve --simulate` names the plan it simulates in an error: a plan field's fault is not the
    problem file's (`q.yaml: pools[1].utilization` sent a user to a file without pools)."""
    return f"the plan solved from {problem}"


def _simulate_plan(plan, d: dict, source: str) -> dict:
    """Simulation results by service key ('' for a single plan), on the plan's own resolved
    model, GPUs and calibration."""
    from planner.studies.simulate import catalog_of, simulate_services
    return simulate_services(d, source, catalogs={key: catalog_of(plan.service(key).res)
                                                  for key in plan.chosen_by_service})


# --------------------------------------------------------------------------- simulate
@main.command("simulate")
@click.argument("plan_file", metavar="PLAN.json", type=InPath(dir_okay=False))
@click.option("--requests", type=IntRange(100, MAX_SIM_REQUESTS), default=None,
              help=f"requests to simulate (at most {MAX_SIM_REQUESTS:,}: memory grows with them) [default: "
                   f"100,000, or as many as the plan's longest request lifetime needs]")
@click.option("--seed", type=IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="random seed (same seed, same result)")
@click.option("--period", default="peak", show_default=True, metavar="peak|all|N",
              help="a plan over a load profile: which period to simulate (its pools at its QPS); a single-QPS "
                   "plan's only period is its peak")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
@click.option("--strict", is_flag=True,
              help="exit 4 when a simulated SLO statistic is above its limit (the results are printed first)")
@click.option("--tolerance", type=FiniteFloatRange(min=0, max=100), default=0.0, show_default=True, metavar="PCT",
              help="with --strict: a statistic fails only above its limit by more than PCT percent "
                   "(a simulation's own noise: the mean TPOT of 5·10⁴ requests moves by ~0.5 %)")
def simulate_cmd(plan_file: str, requests: int | None, seed: int, as_json: bool, period: str, strict: bool,
                 tolerance: float) -> None:
    """Check a plan (JSON of plan solve --out) by discrete-event simulation against its SLOs;
    a fleet's plan is simulated service by service, a plan over a day period by period."""
    from planner.input.files import read_plan_json
    from planner.report.format import to_json
    from planner.report.simulate import render_simulation
    from planner.studies.simulate import simulate_services
    if tolerance and not strict:   # before the simulation, not after its minutes
        from planner.errors import BadInput
        raise BadInput("--tolerance: it loosens --strict's gate; give --strict too")
    d = read_plan_json(plan_file)
    period = period.strip().lower()   # ' 3', 'PEAK': as other choices, in any case
    given = click.get_current_context().get_parameter_source("period") == click.core.ParameterSource.COMMANDLINE
    # peak, the default, stands: a single-QPS plan's only period is its peak (it was refused, a hunt)
    if given and period != "peak" and not (isinstance(d, dict) and d.get("kind") == "horizon"):
        from planner.errors import BadInput, shown_text
        raise BadInput(f"--period {shown_text(period)}: {shown_text(plan_file)} is not a plan over a load profile; "
                       f"it has no periods to pick (leave --period out)")
    from planner.studies.simulate.fleet import note_edited_instances
    note_edited_instances(d, plan_file)   # instances edited by hand: capacities of the plan's own
    sims = simulate_services(d, plan_file, requests, seed, period=period, sized_by="--requests")
    from planner.studies.simulate.fleet import failed_verification
    if (why := failed_verification(d)) is not None:   # simulated, a check of it; plan export refuses it
        click.echo(f"warning: {printable_lines(plan_file)}: verification.passed: the plan failed its verification "
                   f"({printable_lines(why)}); simulated as written, which plan export refuses", err=True)
    if as_json:
        data = sims[""].as_dict() if "" in sims else {k: r.as_dict() for k, r in sims.items()}
        click.echo(to_json(data), nl=False)
    else:
        click.echo("\n\n".join(render_simulation(r) for r in sims.values()))
    broken = sum(1 for r in sims.values() for v in r.violations if v.value_s > v.limit_s * (1 + tolerance / 100))
    if strict and not broken and any(r.violations for r in sims.values()) and not as_json:
        # "SLO BROKEN" above and exit 0 read as a contradiction (a hunt): say why the gate let it pass
        click.echo(f"--strict: every break is within the {tolerance:g} % tolerance of its limit (exit 0)")
    if strict and broken:
        from planner.errors import VerificationFailed
        beyond = f" by more than {tolerance:g} %" if tolerance else ""
        raise VerificationFailed(f"{plan_file}: the simulation breaks {broken} SLO "
                                 f"statistic{'s' if broken > 1 else ''}{beyond} (listed under violations)")


# ----------------------------------------------------------------------------- whatif
@main.command("whatif")
@click.argument("base", type=InPath(dir_okay=False))
@click.argument("scenarios", nargs=-1, type=InPath(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="print the comparison as JSON (keys in docs/studies.md)")
@click.option("--csv", "csv_out", type=OutPath(dir_okay=False), default=None, help="write one row per scenario")
@click.option("--plot", "plot_out", type=OutPath(dir_okay=False), default=None,
              help="bar chart PNG of cost per million output tokens, stacked by prefill/decode")
@click.option("--breakeven", is_flag=True, help="break-even rental price of every GPU type of the base")
@click.option("--sensitivity", is_flag=True, help="per scenario: cost change per unit of each binding limit relaxed")
@click.option("--solver", type=_choice("highs", "cbc"), default=None, help="override solver.name")
@click.option("--force", is_flag=True,
              help="allow replacing a file plan did not write, or a shipped catalog file or profile")
@click.option("--time-limit", type=Duration(min=0, min_open=True, max=MAX_TIME_LIMIT), default=None,
              help=f"seconds per solve, or a duration such as 30s (> 0, at most {MAX_TIME_LIMIT:g} s); overrides "
                   f"the problem's solver.time_limit")
def whatif_cmd(base: str, scenarios: tuple[str, ...], as_json: bool, csv_out, plot_out, breakeven: bool,
               sensitivity: bool, force: bool, solver, time_limit) -> None:
    """Scenarios overlaid on BASE, solved and compared side by side (exit 3 if BASE is infeasible)."""
    from planner.catalog.inputs import inputs_of
    from planner.errors import Infeasible
    from planner.input.files import check_writable
    from planner.input.load import load_problem
    from planner.input.owned import check_distinct, check_format_suffix
    from planner.report import whatif as report
    from planner.report.format import to_json
    from planner.studies import whatif
    check_distinct({"--csv": csv_out, "--plot": plot_out})
    if plot_out:   # '.png' alone was written as a hidden file of that name
        check_format_suffix("--plot", plot_out, (".png",), "chart")
    sources = whatif.source_files(base, list(scenarios))
    for path in (csv_out, plot_out):   # before the base is read: a bad --csv was refused after its notes
        if path:
            check_writable(path, sources, force)
    if csv_out:   # a CSV was written as out.json without a word (after the inputs' check: its message first)
        check_format_suffix("--csv", csv_out, (".csv",), "table")
    problem = load_problem(base)
    inputs = (*sources, *inputs_of(problem, base))
    for path in (csv_out, plot_out):   # and the files the base made plan read (a trace, a config.json)
        if path:
            check_writable(path, inputs, force)
    if problem.workload.profile is not None:
        return _whatif_horizon(problem, base, scenarios, as_json, csv_out, plot_out, breakeven, sensitivity,
                               force, solver, time_limit, inputs)
    w = whatif.run_whatif(problem, base, list(scenarios), with_breakeven=breakeven,
                          with_sensitivity=sensitivity, solver=solver, time_limit=time_limit)
    if csv_out:
        _emit(report.to_csv(w), csv_out, inputs, force)
    if plot_out:
        report.plot(w, plot_out, inputs, force)
        _wrote(plot_out)
    click.echo(to_json(report.result_dict(w)), nl=False) if as_json else click.echo(report.render_table(w))
    if w.base.plan is None:
        raise Infeasible(f"the base problem {base} has no plan: {w.base.reason}")


def _whatif_horizon(problem, base: str, scenarios, as_json: bool, csv_out, plot_out, breakeven: bool,
                    sensitivity: bool, force: bool, solver, time_limit, inputs) -> None:
    """`plan whatif` of a base with a load profile: every scenario planned over the horizon."""
    from planner.errors import BadInput, Infeasible
    from planner.report import whatif as report
    from planner.report.format import to_json
    from planner.studies import whatif
    for flag, on in (("--breakeven", breakeven), ("--sensitivity", sensitivity), ("--plot", plot_out)):
        if on:
            raise BadInput(f"{base}: {flag} is priced for a single QPS; with a load profile "
                           f"(workload.profile) compare scenarios as a table, --json or --csv")
    outcomes = whatif.run_horizon_whatif(problem, base, list(scenarios), solver=solver, time_limit=time_limit)
    if csv_out:
        _emit(report.horizon_csv(outcomes), csv_out, inputs, force)
    click.echo(to_json(report.horizon_result_dict(outcomes)), nl=False) if as_json \
        else click.echo(report.render_horizon_table(outcomes))
    if outcomes[0].plan is None:
        raise Infeasible(f"the base problem {base} has no plan: {outcomes[0].reason}")


# ------------------------------------------------------------------------------ sweep
class _Quiet:
    """A progress bar that shows nothing: stderr is not a terminal (a script, a pipe, CI)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def update(self, n: int, item=None) -> None:
        return None


def _progress(n: int, label: str):
    """click's progress bar on a terminal; nothing elsewhere, where it printed its bare label as a
    line of its own before any message (a stray 'sweep' above every scripted sweep's error)."""
    if not sys.stderr.isatty():
        return _Quiet()
    return click.progressbar(length=n, label=label, file=sys.stderr, show_pos=True, item_show_func=lambda s: s)


@main.command("sweep")
@click.argument("problem", type=InPath(dir_okay=False))
@click.option("--tpot", help="TPOT limits: LOW:HIGH (with --points) or a list 20ms,50ms")
@click.option("--ttft", help="TTFT limits: LOW:HIGH or a list 0.5s,2s")
@click.option("--qps", help="request rates: LOW:HIGH or a list 100,200")
@click.option("--points", type=IntRange(2, MAX_POINTS), default=None,
              help=f"values per LOW:HIGH range, 2 to {MAX_POINTS:,} [20; 8 without an axis]")
@click.option("--spacing", type=_choice("log", "linear"), default="log", show_default=True)
@click.option("--out", "out_dir", type=OutPath(file_okay=False), required=True,
              help="directory for frontier.csv/.json/.png/.html (created if missing)")
@click.option("--workers", type=IntRange(1, 256), default=None, help="local processes [cores]")
@click.option("--dask", default=None, help="Dask scheduler ADDRESS, or 'local' for a LocalCluster")
@click.option("--force", is_flag=True,
              help="allow replacing a file plan did not write, or a shipped catalog file or profile")
@click.option("--no-per-gpu", is_flag=True, help="only the mixed-fleet optimum, not each GPU type alone")
def sweep_cmd(problem: str, tpot, ttft, qps, points: int, spacing: str, out_dir: str, workers,
              dask, force: bool, no_per_gpu: bool) -> None:
    """Frontier of price against latency: solve at each limit, keep the non-dominated plans.
    Without an axis, the TPOT limit from half to twice the problem's own, 8 points."""
    from planner.catalog.inputs import inputs_of
    from planner.errors import Interrupted
    from planner.input.files import check_set
    from planner.input.load import load_problem
    from planner.report.sweep import OUTPUT_FILES, OUTPUT_KINDS, render_table, write_outputs
    from planner.studies.sweep import around_limit, parse_axis, run_sweep
    for n, t in (("tpot", tpot), ("ttft", ttft), ("qps", qps)):
        if t is not None and not t.strip():   # a shell variable left unset: not 'the default axis'
            from planner.errors import BadInput
            raise BadInput(f"--{n}: empty; give LOW:HIGH (e.g. 20ms:120ms) or a comma-separated list")
    if dask is not None and not dask.strip():
        from planner.errors import BadInput
        raise BadInput("--dask: empty; give a scheduler ADDRESS or 'local', or leave the option out")
    if dask is not None and workers is not None:   # it was ignored without a word
        raise click.UsageError("--workers sizes the local process pool; with --dask the scheduler's workers run the "
                               "solves: give one of them")
    given = [t for t in (tpot, ttft, qps) if t]
    # the values read first: '--ttft 50%' was told about --points, not about the unreadable '50%'
    axes = [parse_axis(n, t, points or 20, spacing) for n, t in (("tpot", tpot), ("ttft", ttft), ("qps", qps)) if t]
    if given and not any(":" in t for t in given):   # the options of LOW:HIGH ranges mean nothing to lists
        from planner.errors import BadInput
        spaced = click.get_current_context().get_parameter_source("spacing") == click.core.ParameterSource.COMMANDLINE
        for opt, value, does, on in (("points", points, "sizes", points is not None),
                                     ("spacing", spacing, "spaces", spaced)):   # --spacing ignored until 2026-12-05
            if on:
                raise BadInput(f"--{opt} {value}: every axis given is a list of values; --{opt} {does} LOW:HIGH "
                               f"ranges (drop it, or give a range)")
    check_set(out_dir, OUTPUT_FILES, (problem,), force, new=OUTPUT_KINDS)   # before the problem's notes (below)
    p = load_problem(problem)
    inputs = inputs_of(p, problem)
    if not axes:
        axes = [around_limit(p, "tpot", points or 8, spacing)]
        lo, hi = axes[0].values[0], axes[0].values[-1]
        click.echo(f"sweep: no axis given; TPOT from {lo * 1e3:.1f} to {hi * 1e3:.1f} ms "
                   f"around the problem's {p.slo.tpot * 1e3:g} ms", err=True)
    n = 1
    for a in axes:
        n *= len(a.values)
    check_set(out_dir, OUTPUT_FILES, inputs, force, new=OUTPUT_KINDS)   # each file, before the solves
    try:
        with _progress(n, "sweep") as bar:
            sweep = run_sweep(p, problem, axes, per_gpu=not no_per_gpu, workers=workers, dask=dask,
                              on_point=lambda rows: bar.update(1, rows[0].summary()))
    except Interrupted as e:   # Ctrl-C: keep what finished, then exit 130
        if e.partial is not None and e.partial.rows:
            failed = write_outputs(e.partial, out_dir, inputs, force)[1]
            e.args = (f"{e}; wrote them to {out_dir}" + "".join(f" ({n} not drawn)" for n, _ in failed),)
        raise
    paths, failed = write_outputs(sweep, out_dir, inputs, force)
    for path in paths:
        _wrote(path)
    click.echo(render_table(sweep))
    if failed:   # the solves are kept in the files written; the chart's failure is reported as what it is
        click.echo(f"note: {' and '.join(n for n, _ in failed)} not drawn; "
                   f"{', '.join(Path(p).name for p in paths)} hold every point", err=True)
        raise failed[0][1]
    from planner.errors import Infeasible
    from planner.studies.sweep import nothing_solved
    why = nothing_solved(sweep)
    if why:   # the table said only 'infeasible', and the sweep exited 0
        raise Infeasible(why)


# ----------------------------------------------------------------------------- export
@main.command("export")
@click.argument("plan_file", metavar="PLAN.json", type=InPath(dir_okay=False))
@click.option("--target", required=True, type=_choice("vllm", "sglang", "trtllm", "dynamo", "k8s"),
              help="engine launch scripts, or Dynamo / Kubernetes manifests")
@click.option("--out", "out_dir", required=True, type=OutPath(file_okay=False), help="directory to write")
@click.option("--engine", type=_choice("vllm", "sglang"), default=None,
              help="engine inside the dynamo/k8s manifests [vllm] (TensorRT-LLM: --target trtllm, scripts only)")
@click.option("--image", default=None, help="container image of the engine (dynamo, k8s)")
@click.option("--model-path", default=None,
              help="model path or id as the engine loads it [the catalog model's Hugging Face repository, "
                   "or the folder of the config.json the problem named]")
@click.option("--time-zone", default=None, metavar="TZ",
              help="a plan over a load profile, k8s/dynamo: the IANA time zone its scaling CronJobs run in, period 0 "
                   "at midnight [the cluster's, UTC on most]")
@click.option("--force", is_flag=True, help="replace a previous export in --out (only that: see docs/export.md)")
def export_cmd(plan_file: str, target: str, out_dir: str, engine, image, model_path, time_zone, force: bool) -> None:
    """Deployable files for a plan (JSON of plan solve --out): per pool the engine command with the
    plan's layout and batch, a router split, manifests, a load test at the plan's operating point."""
    from planner.errors import BadInput
    if model_path is not None:
        _check_model_path(model_path)
    if image is not None and image.startswith("-"):
        raise BadInput(f"--image {image!r}: a container image reference does not start with '-'")
    if image is not None and (not image.strip() or any(ch.isspace() or not ch.isprintable() for ch in image)):
        raise BadInput(f"--image {image!r}: a container image reference has no spaces or control characters "
                       f"(e.g. nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.4.0); it is written into the manifests")
    if image is not None and not IMAGE_REFERENCE.fullmatch(image):   # "reg.io/a'b", 'a:b$(id)' were written
        raise BadInput(f"--image {image!r}: not a container image reference ([registry[:port]/]path[:tag][@digest], "
                       f"path in lower-case letters, digits and . _ -; e.g. nvcr.io/nvidia/ai-dynamo/"
                       f"vllm-runtime:0.4.0)")
    if image is not None and (why := _image_limits(image)):
        raise BadInput(f"--image {image[:80] + '…' if len(image) > 80 else image!r}: {why}")
    from planner.input.files import read_plan_json
    from planner.report.export import export
    for path in export(read_plan_json(plan_file), target, image, model_path, out_dir, source=plan_file, engine=engine,
                       force=force, time_zone=time_zone):
        _wrote(path)
    from planner.errors import shown_text  # a name's byte that is not UTF-8 escaped, as `wrote …` prints it
    click.echo(f"{target} export of {shown_text(plan_file)} in {shown_text(out_dir)}: see "
               f"{shown_text(Path(out_dir) / 'README.txt')}")


# ---------------------------------------------------------------------------- catalog
@main.group("catalog")
def catalog_cmd() -> None:
    """List the GPU and model catalogs."""


@catalog_cmd.command("gpus")
@click.option("--json", "as_json", is_flag=True)
def catalog_gpus(as_json: bool) -> None:
    """GPUs with memory, bandwidth, dense FLOP/s, links, power and price."""
    from planner.catalog.schemas import load_gpus
    from planner.report.format import table, to_json
    gpus = load_gpus()
    data = [{"id": g.id, "name": g.name, "memory_bytes": g.memory_bytes,
             "memory_bandwidth_bytes_per_s": g.memory_bandwidth_bytes_per_s,
             "dense_flops": {k: v.value for k, v in g.dense_flops.items()},
             "scale_up": g.scale_up.kind, "scale_up_bytes_per_s": g.scale_up_bytes_per_s,
             "domain_cards": g.domain_cards, "cards_per_node": g.node_cards,
             "nic_bytes_per_s": g.nic_bytes_per_s, "power_w": g.power_w,
             "price_rmb_per_gpu_hour": g.price_per_card_hour, "price_market": g.price_market,
             "other_prices": [{"market": p.market, "rmb_per_gpu_hour": p.value} for p in g.other_prices]}
            for g in gpus.values()]
    if as_json:
        click.echo(to_json(data), nl=False)
        return
    rows = [[d["id"], f"{d['memory_bytes']/1e9:.0f} GB", f"{d['memory_bandwidth_bytes_per_s']/1e12:.2f} TB/s",
             f"{d['dense_flops'].get('bf16', d['dense_flops'].get('fp16', 0))/1e12:.0f}",
             f"{d['dense_flops'].get('fp8', 0)/1e12:.0f}" if "fp8" in d["dense_flops"] else "-",
             f"{d['dense_flops'].get('fp4', 0)/1e12:.0f}" if "fp4" in d["dense_flops"] else "-",
             f"{d['scale_up']} {d['scale_up_bytes_per_s']/1e9:.0f} GB/s", str(d["cards_per_node"]),
             f"{d['nic_bytes_per_s']*8/1e9:.0f} Gb/s", f"{d['power_w']:.0f} W", f"{d['price_rmb_per_gpu_hour']:.2f}",
             d["price_market"], ", ".join(f"{p['market']} {p['rmb_per_gpu_hour']:.2f}" for p in d["other_prices"])]
            for d in data]
    click.echo(table(["gpu", "HBM", "HBM bw", "BF16 TF", "FP8 TF", "FP4 TF", "scale-up/dir", "node",
                      "NIC/card", "power", "RMB/GPU-h", "market", "other market"], rows, "lrrrrrlrrrrll"))


@catalog_cmd.command("models")
@click.option("--json", "as_json", is_flag=True)
def catalog_models(as_json: bool) -> None:
    """Models with total and active parameters and KV bytes per token (+DSA: sparse attention over
    the indexer's top k tokens, whose FP8 index keys the KV per token includes)."""
    from planner.catalog.schemas import load_models
    from planner.physics.perf import kv_bytes_per_token
    from planner.report.format import parts_text, table, to_json
    seen, data = set(), []
    for m in load_models().values():
        if m.id in seen:
            continue
        seen.add(m.id)
        a = m.arch
        data.append({"id": m.id, "name": m.name, "attention": a.attention,
                     "sparse_attention_topk": a.index_topk or None, "moe": a.is_moe,
                     "experts": a.experts, "experts_per_token": a.experts_per_token,
                     "params_total": a.params_total, "params_active": a.params_active,
                     "weight_dtype": m.weight_dtype, "expert_dtype": m.expert_dtype,
                     "part_dtypes": dict(m.part_dtypes), "kv_bytes_per_token_bf16": kv_bytes_per_token(a, "bf16")})
    if as_json:
        click.echo(to_json(data), nl=False)
        return
    rows = [[d["id"], d["attention"].upper() + ("+DSA" if d["sparse_attention_topk"] else ""),
             f"{d['experts']}/top-{d['experts_per_token']}" if d["moe"] else "dense",
             f"{d['params_total']/1e9:.1f} B", f"{d['params_active']/1e9:.1f} B",
             d["weight_dtype"] + parts_text(d["part_dtypes"])
             + (f", {d['expert_dtype']} experts" if d["expert_dtype"] else ""),
             f"{d['kv_bytes_per_token_bf16']/1e3:.1f} kB"] for d in data]
    click.echo(table(["model", "attn", "experts", "total", "active", "weights", "KV/token (bf16)"], rows, "lllrrlr"))


# -------------------------------------------------------------------------- calibrate
@main.command("calibrate")
@click.argument("measurements", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=OutPath(),
              help="Profile to write, e.g. catalogs/calibration/NAME.yaml (with --group-by: a "
                   "directory, e.g. catalogs/calibration).")
@click.option("--base", default="default", show_default=True,
              help="Profile whose values start the fit and fill the parameters not fitted.")
@click.option("--name", default=None, help="Profile name (default: the --out file's stem).")
@click.option("--folds", default=5, show_default=True, type=IntRange(0, 50),
              help="Cross-validation folds for the error written into the profile (0: none).")
@click.option("--force", is_flag=True,
              help="allow replacing a file plan did not write, or a shipped catalog file or profile")
@click.option("--deployment", default=None, type=click.Path(dir_okay=False),
              help="YAML saying what vLLM/SGLang/genai-perf/GuideLLM benchmark files measured: model, gpu, "
                   "engine, cards, parallelism, mode (docs/export.md).")
@click.option("--group-by", "group_by", default=None, metavar="AXES",
              help="Also fit one profile per group: engine, gpu, model, or a comma-separated "
                   "combination; --out is then a directory and each profile is LABEL.yaml there.")
def calibrate_cmd(measurements: tuple[str, ...], out: str, base: str, name: str | None, folds: int,
                  force: bool, group_by: str | None, deployment: str | None) -> None:
    """Fit the calibration parameters to MEASUREMENTS (default: catalogs/measurements/*): the
    catalog's files, or your own vLLM/SGLang/genai-perf/GuideLLM results with --deployment, or the minimal
    CSV (docs/export.md). On the shipped measurements a fit takes minutes, each fold as long again."""
    from planner.fidelity.validate import run_calibrate
    from planner.report.fidelity import render_calibrate
    _no_empty(measurements, name=name, group_by=group_by, deployment=deployment)
    _calibration_option(base, "base")
    if name is not None and group_by:   # written as each group's label, without a word (a hunt)
        raise click.UsageError("--name names the one profile of a fit; with --group-by each profile is named by its "
                               "group (LABEL.yaml in --out): drop --name")
    if name is not None:
        _one_line_option("name", name)
        if "/" in name or "\\" in name or name.strip() in (".", ".."):
            from planner.errors import BadInput
            raise BadInput(f"--name {name!r}: a profile's name is a word that problems name it by "
                           f"(calibration: NAME), not a path; --out says where the file goes")
        if len(name) > MAX_PROFILE_NAME:   # it names a catalog file: 500 characters said 'File name too long'
            from planner.errors import BadInput
            raise BadInput(f"--name: {len(name):,} characters; a profile's name has at most {MAX_PROFILE_NAME}")
        from planner.fidelity.validate import SAFE_LABEL
        if not SAFE_LABEL.fullmatch(name):   # `--name -` headed plans 'calibration: -', a name no problem writes
            from planner.errors import BadInput
            raise BadInput(f"--name {name!r}: a profile's name is a word that problems name it by (calibration: "
                           f"NAME): letters, digits and '.', '_', '+', '-', starting with a letter or digit (as "
                           f"--group-by's labels)")
    if not measurements:   # minutes of silence read as a hang (first-hour walkthrough, 2026-12-05)
        folds_text = f", then each of {folds} cross-validation folds as long again" if folds > 1 else ""
        click.echo(f"calibrate: the shipped measurements: the fit takes about two minutes on 2 cores{folds_text}"
                   f"{' per group' if group_by else ''} (--folds 0: the fit alone)", err=True)
    c = run_calibrate(list(measurements), out, base, name, folds, _axes(group_by), force, deployment)
    click.echo(render_calibrate(c))


# a container image reference (the distribution/reference grammar, simplified): an optional registry
# host[:port], lower-case path components, an optional tag and digest; a first part is a registry
# only with a dot, a port or the name localhost, else a path part (`UPPER/x` is no reference)
_HOST_PART = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
IMAGE_REFERENCE = re.compile(
    rf"(?:(?:localhost(?::[0-9]+)?|{_HOST_PART}(?:\.{_HOST_PART})+(?::[0-9]+)?|{_HOST_PART}:[0-9]+)/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?")
IMAGE_NAME_MAX = 255   # characters of an image's name (registry and path), distribution/reference's limit


def _check_model_path(model_path: str) -> None:
    """BadInput unless `plan export --model-path` is a path or id the scripts and manifests can
    hand the engine as it is: not empty, no flag, no control character, no edge spaces, nothing
    a shell would have expanded."""
    from planner.errors import BadInput
    if not model_path.strip():
        raise BadInput("--model-path: empty; leave it out to load the plan's model")
    if model_path.startswith("-") or any(not ch.isprintable() for ch in model_path):
        # './NAME' helps a name that starts with '-' only; it was offered for a newline too ('write ./a\nb')
        hint = f"; write ./{model_path.lstrip('-')} for a folder of that name" \
            if model_path.isprintable() else ": it holds a character that is not printable text"
        raise BadInput(f"--model-path {model_path!r}: a path or Hugging Face id, without control characters and "
                       f"not starting with '-' (the engines would read it as a flag){hint}")
    if model_path != model_path.strip():
        # `--model-path " /models/x "` (a copied path's spaces) was written quoted into every script and
        # manifest, and the engine looked for a folder whose name begins with a space
        raise BadInput(f"--model-path {model_path!r}: begins or ends with a space, which the scripts and manifests "
                       f"would keep in the path the engine loads; write it without ({model_path.strip()!r})")
    if model_path.startswith("~") or "$" in model_path:
        # `--model-path=~/m` reaches plan unexpanded (bash expands ~ after '=' only in assignments)
        raise BadInput(f"--model-path {model_path!r}: the scripts and manifests quote it, so no shell expands "
                       f"~ or $VARIABLES in it and the engine would look for a folder of that very name: write "
                       f"the path out (e.g. /home/me/models/x)")


def _image_limits(image: str) -> str:
    """What IMAGE_REFERENCE's grammar leaves to limits, else '': a name (registry and path, before
    the tag and digest) of at most IMAGE_NAME_MAX characters and a registry port of at most 65535;
    a pull refuses either, so the manifests would not start (`reg.io:99999/x` was written)."""
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    host = name.split("/", 1)[0] if "/" in name else ""
    port = host.rsplit(":", 1)[1] if ":" in host else "0"
    if len(port) > 5 or int(port) > 65535:   # by length first: int() of 4,301 digits raises
        return f"the registry's port {port if len(port) <= 12 else port[:11] + '…'} is past 65535"
    if len(name) > IMAGE_NAME_MAX:
        return f"its name (registry and path) has {len(name)} characters; an image name has at most {IMAGE_NAME_MAX}"
    return ""


MAX_PROFILE_NAME = 100   # characters of `plan calibrate --name` (it is also a file name: 255 bytes at most)


def _axes(text: str | None) -> tuple[str, ...]:
    """'engine, gpu' → ('engine', 'gpu'), as written (`check_group_by` reads them in any case); None → ()."""
    return tuple(a.strip() for a in text.split(",")) if text else ()


def _no_empty(measurements: tuple[str, ...], **options: str | None) -> None:
    """BadInput for an empty measurement path or option (a shell variable left unset): '' read as
    '.' ('is a directory') or as the option left out."""
    from planner.errors import BadInput
    if any(not m.strip() for m in measurements):
        raise BadInput("MEASUREMENTS: an empty path; give the measurement files (or none, for the catalog's)")
    if any(_stdin_dash(m) for m in measurements):
        raise BadInput(f"MEASUREMENTS: {STDIN_DASH}")
    for k, v in options.items():
        if v is not None and not v.strip():
            raise BadInput(f"--{k.replace('_', '-')}: empty; leave the option out instead")
        if k == "deployment" and _stdin_dash(v):
            raise BadInput(f"--deployment: {STDIN_DASH}")


# --------------------------------------------------------------------------- validate
@main.command("validate")
@click.argument("measurements", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--calibration", default="default", show_default=True,
              help="Calibration profile name or path.")
@click.option("--out-plot", default=None, type=OutPath(dir_okay=False),
              help="Write a log-log parity plot (PNG) with ±15 % and ±30 % bands.")
@click.option("--folds", default=5, show_default=True, type=IntRange(0, 50),
              help="k of the grouped k-fold cross-validation (0 or 1: no CV).")
@click.option("--group-by", "group_by", default=None, metavar="AXES",
              help="Predict each point with its group's profile (catalogs/calibration/LABEL.yaml, "
                   "else --calibration) and cross-validate per group: engine, gpu, model, or a "
                   "comma-separated combination.")
@click.option("--profiles", default=None, metavar="DIR",
              help="with --group-by: the directory of the group profiles (plan calibrate --group-by --out DIR) "
                   "[the catalog's]")
@click.option("--force", is_flag=True,
              help="allow replacing a file plan did not write, or a shipped catalog file or profile")
@click.option("--deployment", default=None, type=click.Path(dir_okay=False),
              help="YAML saying what vLLM/SGLang/genai-perf/GuideLLM benchmark files measured: model, gpu, "
                   "engine, cards, parallelism, mode (docs/export.md).")
@click.option("--simulate", "simulate", is_flag=True,
              help="also run every closed-loop benchmark point event by event and compare the simulated "
                   "TTFT and TPOT with the analytic model and the measurement (JSON key 'closed_loop').")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--timings", is_flag=True, help="with --simulate: put wall-clock seconds in the JSON (else null)")
def validate_cmd(measurements: tuple[str, ...], calibration: str, out_plot: str | None, folds: int,
                 group_by: str | None, profiles: str | None, force: bool, as_json: bool, deployment: str | None,
                 simulate: bool, timings: bool) -> None:
    """Predicted against measured for every point, with the cross-validated error."""
    from planner.fidelity.validate import run_validate
    from planner.report.fidelity import render_json, render_text, write_parity_plot
    if timings and not simulate:   # accepted and ignored until 2026-12-05 (hostile hunt, third round)
        raise click.UsageError("--timings puts the closed-loop simulation's seconds in the JSON; it needs --simulate")
    _no_empty(measurements, group_by=group_by, deployment=deployment, profiles=profiles)
    _calibration_option(calibration)
    inputs = (*measurements, *([deployment] if deployment else []))
    if out_plot:
        from planner.input.files import check_writable
        check_writable(out_plot, inputs, force)
    if not measurements and folds > 1:   # minutes of silence read as a hang (first-hour hunt)
        click.echo(f"validate: the shipped measurements, {folds}-fold cross-validation: every fold refits the "
                   f"profile, several minutes on 2 cores (--folds 0: the fit's own error, in seconds)", err=True)
    v = run_validate(list(measurements), calibration, folds, _axes(group_by), deployment, profiles)
    if out_plot:
        write_parity_plot(v, out_plot, force, inputs)
        _wrote(out_plot)   # as every command that writes a file says
    if not simulate:
        click.echo(render_json(v) if as_json else render_text(v), nl=not as_json)   # to_json ends its line
        return
    from planner.report import closed_loop
    check = closed_loop.closed_loop_check(v)
    if as_json:
        from planner.report.format import to_json
        click.echo(to_json({**json.loads(render_json(v)), "closed_loop": closed_loop.as_dict(check, timings)}),
                   nl=False)
    else:
        click.echo(render_text(v) + "\n" + closed_loop.render_text(check))


# The garbage collector of a short command: planning allocates some millions of small objects
# (pydantic models, candidates, PuLP rows), and CPython's default gen-0 threshold (700) runs a
# collection every few hundred, each walking the survivors; at exit it walks everything again.
# A higher threshold and a freeze before exit save ~70 ms of a 0.47 s `plan solve` (bench/solve_bench.py).
# The first collection after the lazy imports of a command walks every object they made (~15-20 ms
# for `plan solve`'s): a gen-0 threshold above the ~80,000 objects one seed solve allocates (problems/
# deepseek_qps.yaml) spares a single solve any collection; longer runs still collect, each walking
# at most that many young objects (their cyclic garbage waits that much longer: a few tens of MB).
GC_THRESHOLDS = (200_000, 20, 100)

# numpy loads OpenBLAS, which starts a thread for every core as it loads: ~50 ms of a 0.46 s `plan
# solve` on a busy 2-core machine (paired runs). planner's numpy is element by element on small
# arrays; its few BLAS calls (a dot product of a length distribution, the bulk queue's table
# builder) are far below the sizes OpenBLAS splits over threads, so one thread gives the same
# floats. A value the user set is kept; child processes inherit it (none of them uses BLAS).
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "1")

# pydantic looks for plugins (packages that observe validation, such as logfire) the first time it
# builds a validator: it imports importlib.metadata (and with it the email package) and reads every
# installed package's entry points, ~25 ms of a 0.35 s `plan solve` (-X importtime, 2026-12-07), for
# plugins no plan command uses. `plan` sets pydantic's own switch, PYDANTIC_DISABLE_PLUGINS=__all__,
# unless the user set the variable (to anything, even empty: pydantic then looks as usual), and while
# the switch is on it does not import the discovery at all. Child processes inherit the switch.
PYDANTIC_PLUGINS = ("PYDANTIC_DISABLE_PLUGINS", "__all__")
PLUGIN_LOADER = "pydantic.plugin._loader"
PLUGINS_OFF = ("__all__", "1", "true")   # the values pydantic reads as "no plugins at all"


class _PluginsOff(types.ModuleType):
    """Stands in for pydantic's plugin loader: `get_plugins()` is () while the switch is on, as
    pydantic's own is then; with the switch turned off again, or for any other name, the real
    loader is imported in its place."""

    def get_plugins(self):
        if os.environ.get(PYDANTIC_PLUGINS[0]) in PLUGINS_OFF:
            return ()
        return self.real().get_plugins()

    def __getattr__(self, name: str):
        if name.startswith("__"):   # what the import system asks of any module (__path__: not a package)
            raise AttributeError(name)
        return getattr(self.real(), name)

    def real(self) -> types.ModuleType:
        """pydantic's loader, imported on first use (this stand-in removed from sys.modules)."""
        import importlib
        if sys.modules.get(PLUGIN_LOADER) is self:
            del sys.modules[PLUGIN_LOADER]
        return importlib.import_module(PLUGIN_LOADER)


def _pydantic_plugins_off() -> None:
    """PYDANTIC_DISABLE_PLUGINS=__all__ unless set, and the stand-in loader (before pydantic builds
    a validator); nothing when the user set the variable or pydantic already loaded its plugins."""
    if PYDANTIC_PLUGINS[0] in os.environ or PLUGIN_LOADER in sys.modules:
        return
    os.environ[PYDANTIC_PLUGINS[0]] = PYDANTIC_PLUGINS[1]
    sys.modules[PLUGIN_LOADER] = _PluginsOff(PLUGIN_LOADER)


# The address space `plan` needs to start (Python, numpy with one OpenBLAS thread, pydantic, PuLP with
# highspy: 117 MiB measured on 2026-12-05; the seed's solve needs ~140). Under a lower `ulimit -v`
# numpy's import failed with a page of its troubleshooting text (exit 5), or OpenBLAS ended the process
# from C with "Memory allocation still failed" (exit 1). Above it, running out is a MemoryError (exit 2).
MIN_ADDRESS_SPACE_BYTES = 128 * 2**20


def _address_space() -> int | None:
    """The process's address-space limit in bytes (`ulimit -v`), None when it has none."""
    import resource
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft


def _address_space_limit() -> str:
    """' (under an address-space limit, ulimit -v, of N MiB)' when the process has one, else ''."""
    limit = _address_space()
    return "" if limit is None else f" (under an address-space limit, ulimit -v, of {limit / 2**20:.0f} MiB)"


def _address_space_too_small() -> str | None:
    """The message when the process's address-space limit is below MIN_ADDRESS_SPACE_BYTES, else None."""
    limit = _address_space()
    if limit is None or limit >= MIN_ADDRESS_SPACE_BYTES:
        return None
    return (f"out of memory: the address-space limit (ulimit -v) is {limit / 2**20:.0f} MiB; plan needs at "
            f"least {MIN_ADDRESS_SPACE_BYTES / 2**20:.0f} MiB to start; raise it")


def run() -> None:
    """The `plan` executable: `main` with the collector and BLAS tuned for one short-lived process
    (before numpy is imported). Tests call `main` itself (a frozen heap would keep their garbage for
    the whole session)."""
    _warnings_as_plan_shows_them()
    import gc
    try:
        compiled = _started()
    except KeyboardInterrupt:
        _exit_interrupted()
    try:
        main()
    finally:
        gc.freeze()   # nothing left to collect: exit without walking the heap again
        if compiled is not None:
            compiled.save()


def _warnings_as_plan_shows_them() -> None:
    """PYTHONWARNINGS or `python -W`, as far as they would change what plan says: an 'error' filter is
    dropped (PYTHONWARNINGS=error, a shell set to catch deprecations, made every command exit 5 on a
    library's DeprecationWarning, and a note of plan's an internal error), and plan's notes and
    deprecations are shown whatever an 'ignore' filter says (PYTHONWARNINGS=ignore hid them: a TPOT
    of '1' planned as a second a token without its note; a hunt, 2026-12-07). The executable's
    alone: tests and library users keep their filters. The processes it starts (a sweep's Dask
    workers read the variable and `-W` anew) are started without the 'error' entries too."""
    warnings.filters[:] = [f for f in warnings.filters if f[0] != "error"]
    # PuLP 3.3 announces its 4.0 API on every solve (we pin pulp<4): PYTHONWARNINGS=default printed
    # four lines of it under each plan, which no user can act on; a filter naming pulp is the user's
    mine = any(_names_pulp(o) for o in _warning_options())
    if not mine:
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulp(\.|$)")
    for category in (PlannerNotice, PlannerDeprecation):
        warnings.filterwarnings("default", category=category)
    sys.warnoptions[:] = [o for o in sys.warnoptions if not _is_error_filter(o)]
    if "PYTHONWARNINGS" in os.environ:
        os.environ["PYTHONWARNINGS"] = ",".join(o for o in os.environ["PYTHONWARNINGS"].split(",")
                                                if not _is_error_filter(o))
    shown = [o for o in _warning_options() if o.strip() and not "ignore".startswith(_action(o))]
    if not mine and shown and sys.warnoptions:   # the processes plan starts (a Dask worker) read them anew
        sys.warnoptions.append(PULP_QUIET)
    if not mine and shown and os.environ.get("PYTHONWARNINGS"):
        os.environ["PYTHONWARNINGS"] += "," + PULP_QUIET


# PuLP's 4.0 announcements, as a -W option (its module is matched whole): where they are made
PULP_QUIET = "ignore::DeprecationWarning:pulp.pulp"


def _names_pulp(option: str) -> bool:
    """Whether a -W / PYTHONWARNINGS entry names a module of PuLP's: the user asked for its warnings."""
    parts = option.split(":")
    return len(parts) > 3 and parts[3].strip().lower().startswith("pulp")


def _warning_options() -> list[str]:
    """The -W options and the PYTHONWARNINGS entries, as they stand now."""
    return [*sys.warnoptions, *os.environ.get("PYTHONWARNINGS", "").split(",")]


def _action(option: str) -> str:
    """A -W / PYTHONWARNINGS entry's action (action:message:category:module:lineno), as Python reads it:
    any prefix of one ('e' for 'error'), in any case."""
    return option.split(":", 1)[0].strip().lower()


def _is_error_filter(option: str) -> bool:
    """Whether a -W / PYTHONWARNINGS entry makes warnings errors: its action is 'error' or a prefix of it."""
    action = _action(option)
    return bool(action) and "error".startswith(action)


def _exit_interrupted() -> NoReturn:
    """Exit 130 with the one line a Ctrl-C gets everywhere, before `main` can print it."""
    if sys.stderr is not None:
        sys.stderr.write("error: interrupted\n")
    sys.exit(INTERRUPTED)


def _started():
    """`run`'s settings before `main`; the code cache's table, or None."""
    import gc
    import os
    if (too_small := _address_space_too_small()) is not None:
        if sys.stderr is not None:
            sys.stderr.write(f"error: {too_small}\n")
        sys.exit(2)
    os.environ.setdefault(*BLAS_THREADS)
    _pydantic_plugins_off()
    gc.set_threshold(*GC_THRESHOLDS)
    for stream in (sys.stdout, sys.stderr):   # ≤, × and · on a latin-1 or cp1252 terminal: '?', not exit 5
        if stream is not None and hasattr(stream, "reconfigure") and \
                (stream.encoding or "").lower().replace("-", "") not in ("utf8", "utf8sig"):
            stream.reconfigure(errors="replace")
    if sys.stdout is not None:
        _whole_stdout()
    from planner.codecache import install
    command = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] in main.commands else "plan"
    return install(command)   # before the commands import their modules: their dataclasses' methods


if starting.release():   # Ctrl-C while this module loaded
    _exit_interrupted()


if __name__ == "__main__":
    run()
