"""`plan` (cli.run) turns pydantic's plugin discovery off unless the user set its switch: no
importlib.metadata on the path of a command, the same validation, and a user's own setting of
PYDANTIC_DISABLE_PLUGINS (even empty) keeps pydantic's discovery as it is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A child process that sets the switch as `plan` does, then validates a model of planner's and reports
# what pydantic's loader is, what get_plugins returns and whether importlib.metadata was imported.
CHILD = """
import sys
sys.path.insert(0, {root!r})
import cli
cli._pydantic_plugins_off()
from planner.input.problem import Problem
from planner.input.files import read_yaml, validate
p = validate(Problem, read_yaml({seed!r}), "seed")
from pydantic.plugin._loader import get_plugins
loader = sys.modules["pydantic.plugin._loader"]
print(p.workload.qps, type(loader).__name__, tuple(get_plugins()), "importlib.metadata" in sys.modules)
import os
print(repr(os.environ.get("PYDANTIC_DISABLE_PLUGINS")))
"""


def _child(env_value: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    if env_value is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = env_value
    code = CHILD.format(root=str(ROOT), seed=str(ROOT / "problems" / "deepseek_qps.yaml"))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                       cwd=str(ROOT))
    assert p.returncode == 0, p.stderr
    return p.stdout.splitlines()


def test_plan_validates_without_importing_the_plugin_discovery():
    assert _child(None) == ["200.0 _PluginsOff () False", "'__all__'"]


def test_a_users_setting_keeps_pydantics_own_discovery():
    # empty: pydantic looks for plugins (none are installed here) through importlib.metadata
    assert _child("") == ["200.0 module () True", "''"]
    # the user's own 'off' is kept as written, and pydantic's loader is the real one
    assert _child("1") == ["200.0 module () True", "'1'"]


def test_the_stand_in_hands_other_names_to_pydantics_loader(monkeypatch):
    import cli
    monkeypatch.delitem(sys.modules, cli.PLUGIN_LOADER, raising=False)
    stand_in = cli._PluginsOff(cli.PLUGIN_LOADER)
    monkeypatch.setitem(sys.modules, cli.PLUGIN_LOADER, stand_in)
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "__all__")
    assert tuple(stand_in.get_plugins()) == ()
    assert sys.modules[cli.PLUGIN_LOADER] is stand_in   # the switch on: nothing imported
    assert stand_in.PYDANTIC_ENTRY_POINT_GROUP == "pydantic"   # a name of the real loader's
    real = sys.modules[cli.PLUGIN_LOADER]
    assert real is not stand_in and type(real).__name__ == "module"
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "")   # switched back: the real loader answers
    assert tuple(stand_in.get_plugins()) == tuple(real.get_plugins())
