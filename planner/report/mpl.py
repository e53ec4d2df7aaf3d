"""matplotlib, imported for the charts without its start-up chatter.

matplotlib logs a multi-line warning on its first import when its config directory cannot be
created (a read-only home, `MPLCONFIGDIR` unwritable) and then works from a temporary one; a
chart the user asked for is written all the same, so the import here keeps that warning off
stderr. Kept out of `import planner`: only the commands that draw call it.
"""

from __future__ import annotations

import logging
import sys


def import_matplotlib():
    """The matplotlib module, on the Agg backend (files only, no display), imported quietly."""
    if "matplotlib" not in sys.modules:
        log = logging.getLogger("matplotlib")
        level = log.level
        log.setLevel(logging.ERROR)
        try:
            import matplotlib
        finally:
            log.setLevel(level)
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
