"""matplotlib, imported for the charts without its start-up chatter.

matplotlib logs a multi-line warning on its first import when its config directory cannot be
created (a read-only home, `MPLCONFIGDIR` unwritable) and then works from a temporary one; a
chart the user asked for is written all the same, so the import here keeps that warning off
stderr. Kept out of `import planner`: only the commands that draw call it.
"""

from __future__ import annotations

import logging
import os
import sys


def import_matplotlib():
    """The matplotlib module, on the Agg backend (files only, no display), imported quietly, at
    matplotlib's own settings: a user's MPLBACKEND or matplotlibrc is for their figures, not plan's.
    `MPLBACKEND=foo` made the import raise, and a matplotlibrc in the working directory (or in
    MPLCONFIGDIR) with `text.usetex: True` and no LaTeX installed, or `savefig.dpi: 0`, failed
    every chart (exit 5, a sweep's solves lost with it; a hunt, 2026-12-07)."""
    if "matplotlib" not in sys.modules:
        log = logging.getLogger("matplotlib")
        level = log.level
        log.setLevel(logging.ERROR)
        backend = os.environ.pop("MPLBACKEND", None)   # read, and checked, while matplotlib is imported
        try:
            import matplotlib
        finally:
            log.setLevel(level)
            if backend is not None:
                os.environ["MPLBACKEND"] = backend
        matplotlib.rcdefaults()   # matplotlib's defaults, whatever a matplotlibrc says (the backend is kept)
        matplotlib.use("Agg")
    import matplotlib
    return matplotlib


def literal(text: str) -> str:
    """`text` as matplotlib should draw it, as written: a '$' escaped. A problem or scenario named
    'cost in $\\frac{$' started a TeX formula matplotlib failed to parse (exit 5, after every solve
    of a sweep had run; a hostile-input hunt). Every name a user wrote goes through this; the
    rest keeps mathtext, which log axes' tick labels use.

    >>> literal("cost in $5 $x$")
    'cost in \\\\$5 \\\\$x\\\\$'
    """
    return text.replace("$", r"\$")
