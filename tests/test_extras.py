"""Optional extras: the message when one is missing says how to install it from the checkout."""

from __future__ import annotations

import sys

import pytest

from planner.errors import BadInput


def test_a_missing_dask_extra_says_to_install_it_from_the_checkout(monkeypatch):
    """`pip install 'planner[dask]'`, as the message said, fetches PyPI's project named 'planner',
    another one (first-hour walkthrough, 2026-12-05)."""
    from planner.studies.execute import run_dask
    monkeypatch.setitem(sys.modules, "dask.distributed", None)   # import dask.distributed → ImportError
    with pytest.raises(BadInput) as e:
        run_dask(lambda t: t, "local", [], lambda r: None)
    assert str(e.value) == "--dask needs the 'dask' extra: pip install -e '.[dask]' in the planner checkout"
