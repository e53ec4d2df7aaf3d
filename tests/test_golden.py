"""Every command's output on the example files, byte for byte against tests/golden/.

These files guard refactors (nothing a user sees may move by accident) and make every deliberate
change of numbers visible in review. Regenerate on purpose: `python -m tests.golden.regen`.
"""

import pytest

from tests.golden.cases import CASES, GOLDEN, run


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case):
    out = run(case)
    assert out.exit_code == case.exit_code, out.stderr
    expected = (GOLDEN / case.name).read_text(encoding="utf-8")
    assert out.stdout == expected, f"{case.name} differs; if on purpose: python -m tests.golden.regen"
    for f in case.files:
        assert out.files[f] == case.file_golden(f).read_bytes(), f"{case.name}: {f} differs"
