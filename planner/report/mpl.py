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
        # text is drawn as written: a '$' in a problem or scenario name started a TeX formula that
        # matplotlib failed to parse (exit 5 after the whole sweep had run); no chart uses mathtext
        matplotlib.rcParams["text.parse_math"] = False
    import matplotlib
    return matplotlib
