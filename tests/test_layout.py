"""The house's rules, read from the code with `ast` (no import is executed).

- No import cycle between modules of `planner/` (imports inside functions count too: hiding a
  cycle in a function does not remove it).
- No module imports another module's `_private` name.
- Data flows one way through the stages (README, "Architecture"): a stage imports only the
  stages before it; `errors` is shared by all.
- No module over MAX_LINES lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "planner"
MAX_LINES = 450
# each stage may import itself and the stages listed (errors is shared by all)
ALLOWED = {
    "input": set(),
    "catalog": {"input"},
    "physics": {"input", "catalog"},
    "plan": {"input", "catalog", "physics"},
    "studies": {"input", "catalog", "physics", "plan"},
    "fidelity": {"input", "catalog", "physics"},
    "report": {"input", "catalog", "physics", "plan", "studies", "fidelity"},
}


def modules() -> dict[str, Path]:
    out = {}
    for p in sorted(PKG.rglob("*.py")):
        parts = list(p.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


MODULES = modules()


def imports(path: Path) -> list[tuple[str, tuple[str, ...], int]]:
    """(module imported, names taken from it, line) for every planner import in the file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("planner"):
            names = tuple(a.name for a in node.names)
            sub = [f"{node.module}.{n}" for n in names if f"{node.module}.{n}" in MODULES]
            if sub:   # `from planner.plan import milp` imports the module planner.plan.milp
                out += [(s, (), node.lineno) for s in sub]
            else:
                out.append((node.module, names, node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, (), node.lineno) for a in node.names if a.name.startswith("planner")]
    return out


def graph() -> dict[str, set[str]]:
    return {m: {i for i, _, _ in imports(p) if i in MODULES and i != m and MODULES[i].name != "__init__.py"}
            for m, p in MODULES.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else None


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_no_private_imports_across_modules():
    bad = [f"{m}:{line} takes {n} from {i}" for m, p in MODULES.items() for i, names, line in imports(p)
           for n in names if n.startswith("_") and not n.startswith("__") and i != m]
    assert bad == []


def test_stages_import_only_earlier_stages():
    bad = []
    for m, p in MODULES.items():
        s = stage(m)
        if s is None:
            continue
        for i, _, line in imports(p):
            t = stage(i)
            if t is not None and t != s and t not in ALLOWED[s]:
                bad.append(f"{m}:{line} ({s}) imports {i} ({t})")
    assert bad == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_size(module):
    n = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{module} has {n} lines"
