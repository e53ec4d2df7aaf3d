"""Ctrl-C while `plan` starts, held: cli.py imports this module first and `release`s it when its
own module has loaded, so a Ctrl-C in those ~40 ms (importing click and building the commands) is
answered as everywhere else (`error: interrupted`, exit 130), not by Python's traceback of
KeyboardInterrupt (hostile-input round fourteen). Python's own start before cli.py (the site
packages) is not plan's to change. Nothing is held where Ctrl-C is ignored or handled already."""

from __future__ import annotations

import _signal  # the C module: `signal` builds its enums first, a few ms of the window itself

_caught: list[int] = []
_previous = None
if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
    try:
        _previous = _signal.signal(_signal.SIGINT, lambda signum, frame: _caught.append(signum))
    except ValueError:   # imported from another thread than the main one: nothing to hold
        pass


def release() -> bool:
    """Ctrl-C handed back to Python (KeyboardInterrupt from here on); whether one came meanwhile."""
    global _previous
    if _previous is not None:
        _signal.signal(_signal.SIGINT, _previous)
        _previous = None
    return bool(_caught)
