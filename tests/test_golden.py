"""Every command's output on the example files, byte for byte against tests/golden/.

These files guard refactors (nothing a user sees may move by accident) and make every deliberate
change of numbers visible in review. Regenerate on purpose: `python -m tests.golden.regen`.
"""

import pytest

import planner.plan.solve as solve_mod
import planner.studies.whatif as whatif_mod
from tests.golden.cases import CASES, GOLDEN, run


def _memo(real):
    """`real(problem, source, *rest, **kw)` computed once per (problem, source, rest, kw)."""
    memo = {}

    def once(problem, source, *rest, **kw):
        key = (type(problem).__name__, problem.model_dump_json(), source, repr(rest), repr(sorted(kw.items())))
        if key not in memo:
            memo[key] = real(problem, source, *rest, **kw)
        return memo[key]
    return once


@pytest.fixture(scope="module", autouse=True)
def solve_each_problem_once():
    """`plan solve` of one file is asked for up to three renderings (text, --json, --checks or
    --simulate), `plan whatif` of the same scenarios for two (text, --json); solving is
    deterministic (tests/test_extremes.py checks the JSON bytes run after run), so the cases
    share one solve (one what-if study) per input instead of recomputing it. Problems and
    scenario files are read by the command each time; only the computation is shared."""
    mp = pytest.MonkeyPatch()
    mp.setattr(solve_mod, "solve", _memo(solve_mod.solve))
    mp.setattr(whatif_mod, "run_whatif", _memo(whatif_mod.run_whatif))
    yield
    mp.undo()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case):
    out = run(case)
    assert out.exit_code == case.exit_code, out.stderr
    expected = (GOLDEN / case.name).read_text(encoding="utf-8")
    assert out.stdout == expected, f"{case.name} differs; if on purpose: python -m tests.golden.regen"
    for f in case.files:
        assert out.files[f] == case.file_golden(f).read_bytes(), f"{case.name}: {f} differs"
