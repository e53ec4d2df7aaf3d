"""The project's error taxonomy; `cli.py` maps each class to an exit code in one place.

BadInput → 2, Infeasible → 3, VerificationFailed → 4, Interrupted → 130. The CLI's one
boundary turns anything else into one line: environment failures (OSError, MemoryError) exit 2,
an unforeseen exception is a bug and exits 5 asking for a report.
"""

from __future__ import annotations

import contextlib
import datetime
import re
from collections.abc import Iterable, Iterator


class PlannerError(Exception):
    """Base class of every error a user can cause or be told about."""

    exit_code = 1


class BadInput(PlannerError):
    """A file, field or argument the user wrote is wrong; the message says where and why."""

    exit_code = 2


class Infeasible(PlannerError):
    """No plan meets every limit; carries the binding reason and the best reachable value."""

    exit_code = 3

    def __init__(self, message: str, reasons: list[str] | None = None):
        super().__init__(message)
        self.reasons = reasons or []


class VerificationFailed(PlannerError):
    """The solver's plan breaks a limit when recomputed with the analytic model."""

    exit_code = 4

    def __init__(self, message: str, checks: list | None = None):
        super().__init__(message)
        self.checks = checks or []


class Interrupted(PlannerError):
    """Ctrl-C during long work; carries what had finished (`partial`), so it can still be written."""

    exit_code = 130

    def __init__(self, message: str, partial: object = None):
        super().__init__(message)
        self.partial = partial


@contextlib.contextmanager
def held_interrupt() -> Iterator[None]:
    """Ctrl-C held while the block runs and raised (KeyboardInterrupt) when it ends: for imports of
    libraries that swallow it. PuLP imports highspy, and with it numpy, under a bare `except:`; a
    Ctrl-C there was taken as 'HiGHS is not installed', the solve went on with numpy half imported
    and stopped at exit 5 (`internal error: ImportError: cannot load module more than once per
    process`, hostile-input round fourteen). Only where Ctrl-C raises KeyboardInterrupt: the main
    thread, Python's own handler (a pool worker ignores it; a caller's handler is left alone)."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived inside `cleaned_on_termination` (a BaseException, as KeyboardInterrupt:
    no `except Exception` takes it for a failure of its own)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


TERMINATING = ("SIGTERM", "SIGHUP")   # a `kill`, a closed terminal: by default they end the process at once


@contextlib.contextmanager
def cleaned_on_termination() -> Iterator[None]:
    """SIGTERM and SIGHUP raise `Terminated` while the block runs, so that what the block removes on an
    exception (the temporary file beside an output, a staging directory, CBC's files) is removed: their
    default action ended the process mid-write and left hidden `.NAME.XXXX.tmp` files beside the user's
    outputs. Once the block is left the signal is delivered again at its default action, so the process
    ends as the kill meant it to (status 128 + the signal). Only signals at their default action, in the
    main thread: a caller's handler, or nohup's ignored SIGHUP, is left alone. For short blocks and
    waits on other processes: a handler runs between Python bytecodes, so inside a long C call (HiGHS)
    the kill would wait for it to return."""
    import os
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(signum, frame):
        raise Terminated(signum)

    previous = {}
    for name in TERMINATING:
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) is signal.SIG_DFL:
            previous[sig] = signal.signal(sig, raise_terminated)
    try:
        yield
    except Terminated as e:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        previous = {}
        if signal.getsignal(e.signum) is signal.SIG_DFL:   # not inside another such block: end here
            os.kill(os.getpid(), e.signum)
            os._exit(128 + e.signum)   # only if the signal went to another thread and has not ended us yet
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class PlannerDeprecation(UserWarning):
    """A key or option still accepted under an old name; the CLI prints it as one line on stderr."""


class PlannerNotice(UserWarning):
    """Something a user should know before a long wait (the CLI prints it as one 'note:' line on
    stderr), e.g. a simulation of many small-batch steps."""


NOTED: set[tuple] = set()   # notes said in this command (the CLI clears it): one a value, not one a solve


def first_time(key: tuple) -> bool:
    """True the first time `key` is seen in this command: a note on a value the base problem gives is
    said once, not again for every what-if scenario, period or class that carries it."""
    if key in NOTED:
        return False
    NOTED.add(key)
    return True


SHOWN_CHARS = 60   # a value echoed in a message: a 200,000-character one made a 200 KB message


def install_extra(extra: str) -> str:
    """How to install one of the project's optional extras: from the checkout, since the PyPI
    project named 'planner' is another one (`pip install 'planner[dask]'` fetched it).

    >>> install_extra("dask")
    "pip install -e '.[dask]' in the planner checkout"
    """
    return f"pip install -e '.[{extra}]' in the planner checkout"


def shown_value(x: object, limit: int = SHOWN_CHARS) -> str:
    """`repr(x)` for a message, cut to `limit` characters; a whole number too long to print in
    decimal (Python refuses more than 4,300 digits) by its size."""
    if isinstance(x, int) and not isinstance(x, bool) and x.bit_length() > 200:
        return f"a whole number of {x.bit_length():,} bits"
    if isinstance(x, (datetime.date, datetime.time)):   # `name: 2026-01-01`: not datetime.date(2026, 1, 1)
        return f"{x}, which YAML reads as a date unless quoted"
    r = repr(x)
    return r if len(r) <= limit else r[:limit - 1] + "…"


_GROUPED = re.compile(r"\s*[-+]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?\s*([^\s0-9,.].*?)?\s*")


def thousands_hint(text: object) -> str:
    """'; write 1250, without thousands separators' for a number written with them ('1,250', '1,000ms'),
    else '': YAML reads 1,250 as text, and a number's parser refuses it without saying why."""
    if not isinstance(text, str) or not _GROUPED.fullmatch(text):
        return ""
    return f"; write {text.strip().replace(',', '')}, without thousands separators"


def plural(n: int, word: str) -> str:
    """'1 card', '8 cards' (`cap of 1 cards` read a message until 2026-12-06)."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def shown_json(x: object, limit: int = SHOWN_CHARS) -> str:
    """`shown_value` of a value read from a YAML or JSON file: true, false and null as both spell
    them, not Python's True, False and None (`model: null` read 'got None' until 2026-12-06)."""
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "true" if x else "false"
    return shown_value(x, limit)


def shown_text(text: object) -> str:
    """`text` (a key, a file name) for a message, every character that is not printable (a control
    character, a line separator, a format character such as U+202E) written as its escape, as
    `shown_value` writes a value's: printed raw, a carriage return or an escape sequence rewrote
    the line or the terminal the message was read on (a hunt, 2026-12-05).

    >>> shown_text("evil\\r\\x1b]0;T\\x07.yaml")
    'evil\\\\r\\\\x1b]0;T\\\\x07.yaml'
    """
    s = str(text)
    return s if s.isprintable() else "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in s)


def unexpanded(name: object) -> str:
    """What to add to 'file not found' for a name that starts with '~' or holds '$': a shell expands
    those on a command line, plan opens a name as it is written (a problem file's `model:
    ~/models/config.json` was a bare 'file not found', a hunt of 2026-12-06).

    >>> unexpanded("~/m/config.json")
    ' (plan does not expand ~ or $VARIABLES in a file name: write the path out)'
    >>> unexpanded("models/config.json")
    ''
    """
    s = str(name)
    return " (plan does not expand ~ or $VARIABLES in a file name: write the path out)" \
        if s.startswith("~") or "/~" in s or "$" in s else ""   # "/~": read beside a problem file, dir/~/x


def wide_unicode(data: bytes) -> str | None:
    """Why a UTF-16 or UTF-32 file cannot be read, for '{file}: ...' (None for other bytes): Windows
    PowerShell 5's `plan init > p.yaml` writes UTF-16 with a byte-order mark, and the message was
    Python's "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte".

    >>> wide_unicode("name: x".encode("utf-16"))
    'UTF-16 text (it starts with the UTF-16 byte-order mark FF FE); plan reads UTF-8: save the file as UTF-8'
    """
    for name, bom in (("UTF-32", b"\xff\xfe\x00\x00"), ("UTF-32", b"\x00\x00\xfe\xff"),
                      ("UTF-16", b"\xff\xfe"), ("UTF-16", b"\xfe\xff")):
        try:   # and reads as such: mostly ASCII, as planner files are (not binary bytes that start so)
            text = data.decode(name) if data.startswith(bom) else ""
        except UnicodeDecodeError:
            text = ""
        if text and sum(ch.isascii() for ch in text) * 2 >= len(text):
            return (f"{name} text (it starts with the {name} byte-order mark {bom.hex(' ').upper()}); "
                    f"plan reads UTF-8: save the file as UTF-8")
    return None


def not_utf8(data: bytes) -> str:
    r"""Why `data` cannot be read as UTF-8, for '{file}: ...': a UTF-16 or UTF-32 file (`wide_unicode`),
    else the line and column of the first byte that is not UTF-8, as an editor counts them (Python
    said "'utf-8' codec can't decode byte 0xe9 in position 222", an offset no editor shows).

    >>> not_utf8("name: x\ndescription: caf\u00e9\n".encode("latin-1"))[:52]
    'line 2, column 17: the byte 0xE9 is not UTF-8 (a fil'
    """
    if why := wide_unicode(data):
        return why
    at = 0
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        at = e.start
    newline = b"\n"
    begin = data.rfind(newline, 0, at) + 1
    column = len(data[begin:at].decode("utf-8-sig" if begin == 0 else "utf-8")) + 1   # a byte-order mark is no column
    return (f"line {data.count(newline, 0, at) + 1}, column {column}: the byte 0x{data[at]:02X} is not UTF-8 (a file "
            f"saved in another encoding, such as Latin-1 or Windows-1252?); plan reads UTF-8: save the file as UTF-8")


def printable_lines(message: str) -> str:
    """A message's lines, each through `shown_text`: the net under the messages that escape the
    keys and file names they quote themselves (a file name reaches many)."""
    return "\n".join(shown_text(line) for line in message.split("\n"))


MAX_WORD = 200            # characters of one word (no space) of an error message, as printed
MAX_LINE = 2_000          # characters of one line of it


def clipped(message: str) -> str:
    """An error message as printed: every word longer than MAX_WORD (a value or path echoed whole)
    cut to SHOWN_CHARS, every line to MAX_LINE, saying how much was left out, and every character
    that is not printable escaped; the net under the messages that cut and escape their values
    themselves (`shown_value`, `shown_text`)."""
    def word(m: re.Match) -> str:
        return f"{m.group(0)[:SHOWN_CHARS - 1]}…"
    lines = []
    for line in printable_lines(message).split("\n"):
        line = re.sub(rf"\S{{{MAX_WORD + 1},}}", word, line)
        lines.append(line if len(line) <= MAX_LINE else f"{line[:MAX_LINE]}… ({len(line) - MAX_LINE:,} more "
                                                        f"characters)")
    return "\n".join(lines)


def folded(text: str) -> str:
    """`text` as names are compared for a suggestion: in Unicode compatibility form and any case."""
    import unicodedata
    return unicodedata.normalize("NFKC", text).casefold()


def suggest(name: str, choices: Iterable[str]) -> str:
    """' Did you mean …?' with the closest choices, or '' when none is close."""
    if len(name) > MAX_WORD:   # nothing is close to it, and comparing costs its length squared
        return ""
    import difflib  # here: only a mistake needs it (~1 ms of every command's start)
    # compared in compatibility form and any case: a full-width 'h１00' (an IME's digit) was offered
    # 'h800' or 'h200'; the choices are named as written
    by_fold = {folded(c): c for c in reversed(list(choices))}   # the first of choices alike wins
    key = folded(name)
    if key in by_fold:
        close = [by_fold[key]]
    else:
        close = [by_fold[k] for k in difflib.get_close_matches(key, list(by_fold), n=3, cutoff=0.5)]
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


def is_control(ch: str) -> bool:
    """Whether a character breaks or hides a line of text: C0 and C1 controls (newline, carriage
    return, tab, escape …) and the Unicode line and paragraph separators."""
    return ord(ch) < 32 or 127 <= ord(ch) < 160 or ch in "\u2028\u2029"


def one_line(text: object) -> str:
    """`text` fit for one line of a generated script or config comment: every control character
    (newline, carriage return, tab, escape …) becomes a space, so a name a user wrote can never
    end the comment and run as a command.

    >>> one_line("chat\\ntouch /tmp/x #")
    'chat touch /tmp/x #'
    """
    return "".join(" " if is_control(ch) else ch for ch in str(text))
