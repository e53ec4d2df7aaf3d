"""The validated-catalog cache (planner.catalog.cache): a hit returns what loading returns, any
change to the file misses, and a cache that cannot be used changes nothing but speed."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from planner.catalog import cache, schemas
from planner.errors import BadInput

GPUS = Path(schemas.CATALOG_DIR) / "gpus.yaml"


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("PLANNER_CACHE_DIR", str(d))
    schemas.load_gpus.cache_clear()
    yield d
    schemas.load_gpus.cache_clear()


def _copy(tmp_path: Path, text: str | None = None) -> Path:
    p = tmp_path / "gpus.yaml"
    p.write_text(GPUS.read_text(encoding="utf-8") if text is None else text, encoding="utf-8")
    return p


def _entries(d: Path, kind: str = "gpus") -> list[Path]:
    return sorted(d.glob(f"{kind}-*.pickle"))


def test_hit_returns_the_loaded_catalog_without_validating_again(cache_dir, tmp_path, monkeypatch):
    p = _copy(tmp_path)
    first = schemas.load_gpus(str(p))
    assert len(_entries(cache_dir)) == 1
    schemas.load_gpus.cache_clear()

    def no_validation(*a, **k):
        raise AssertionError("a cache hit must not validate the file again")

    monkeypatch.setattr(schemas, "validate", no_validation)
    again = schemas.load_gpus(str(p))
    assert again == first and again is not first
    assert again["h200"].memory_bytes == first["h200"].memory_bytes == 141e9


def test_an_edited_file_misses_and_is_loaded_afresh(cache_dir, tmp_path):
    p = _copy(tmp_path)
    before = schemas.load_gpus(str(p))["h200"].memory_bytes
    text = p.read_text(encoding="utf-8")
    p.write_text(text.replace("memory: {value: 141GB", "memory: {value: 142GB", 1), encoding="utf-8")
    assert "memory: {value: 142GB" in p.read_text(encoding="utf-8")
    schemas.load_gpus.cache_clear()
    after = schemas.load_gpus(str(p))
    changed = [g for g, x in after.items() if x.memory_bytes == 142e9]
    assert before == 141e9 and len(changed) == 1
    assert len(_entries(cache_dir)) == 2


def test_a_bad_file_reports_as_without_cache_and_stores_nothing(cache_dir, tmp_path, monkeypatch):
    p = _copy(tmp_path, "gpus:\n  - id: x\n    bogus: 1\n")
    with pytest.raises(BadInput) as cached:
        schemas.load_gpus(str(p))
    assert _entries(cache_dir) == []
    monkeypatch.setenv("PLANNER_CACHE_DIR", "off")
    schemas.load_gpus.cache_clear()
    with pytest.raises(BadInput) as plain:
        schemas.load_gpus(str(p))
    assert str(cached.value) == str(plain.value) and str(p) in str(plain.value)


def test_a_corrupt_entry_is_replaced(cache_dir, tmp_path):
    p = _copy(tmp_path)
    good = schemas.load_gpus(str(p))
    [entry] = _entries(cache_dir)
    entry.write_bytes(b"not a pickle")
    schemas.load_gpus.cache_clear()
    assert schemas.load_gpus(str(p)) == good
    assert pickle.loads(entry.read_bytes()) == (cache.FORMAT, "gpus", good)


def test_an_entry_that_is_not_ours_is_loaded_afresh_never_read_blocking(cache_dir, tmp_path):
    """A pickle of another type in an entry's place (AttributeError: 'int' object has no attribute
    'id', exit 5) and a FIFO there (every command hung on it) are not entries: the catalog is
    loaded afresh; a home-relative cache path naming no user ('~nosuchuser/x') is no cache."""
    p = _copy(tmp_path)
    good = schemas.load_gpus(str(p))
    [entry] = _entries(cache_dir)
    entry.write_bytes(pickle.dumps(42))
    schemas.load_gpus.cache_clear()
    assert schemas.load_gpus(str(p)) == good
    if hasattr(os, "mkfifo"):
        entry.unlink()
        os.mkfifo(entry)
        schemas.load_gpus.cache_clear()
        assert schemas.load_gpus(str(p)) == good   # returns: a blocking open would hang here
        assert entry.is_file()   # the FIFO replaced by a real entry


def test_a_cache_dir_of_an_unknown_user_is_no_cache(monkeypatch):
    monkeypatch.setenv("PLANNER_CACHE_DIR", "~nosuchuser_planner_test/x")
    assert cache.cache_dir() is None


def test_off_and_unwritable_directories_change_nothing_but_speed(tmp_path, monkeypatch):
    p = _copy(tmp_path)
    monkeypatch.setenv("PLANNER_CACHE_DIR", "off")
    assert cache.cache_dir() is None
    schemas.load_gpus.cache_clear()
    expected = schemas.load_gpus(str(p))
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory would go")
    monkeypatch.setenv("PLANNER_CACHE_DIR", str(blocker / "cache"))
    schemas.load_gpus.cache_clear()
    assert schemas.load_gpus(str(p)) == expected
    assert not (blocker / "cache").exists()
    schemas.load_gpus.cache_clear()


def test_the_default_directory_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("PLANNER_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "planner"


def test_old_entries_are_pruned(cache_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "KEEP", 2)
    p = tmp_path / "x.txt"
    for i in range(4):
        p.write_text(str(i))
        assert cache.cached_load(p, "toy", lambda: int(p.read_text())) == i
        newest = max(_entries(cache_dir, "toy"), key=lambda q: q.stat().st_mtime_ns)
        os.utime(newest, ns=(i * 10**9, i * 10**9))   # distinct ages on coarse-clock filesystems
    kept = _entries(cache_dir, "toy")
    assert len(kept) == 2
    assert sorted(pickle.loads(q.read_bytes())[2] for q in kept) == [2, 3]


def test_a_code_change_is_a_new_key(cache_dir, monkeypatch):
    data = b"same bytes"
    a = cache.entry_path(cache_dir, "gpus", data)
    monkeypatch.setattr(cache, "code_key", lambda: "another version of the sources")
    assert cache.entry_path(cache_dir, "gpus", data) != a


def test_a_fifo_is_refused_not_read(cache_dir, tmp_path):
    """A named pipe given as a catalog would block a plain read; the cache leaves it to the loader,
    which refuses anything but a regular file (signal.alarm fails the test instead of hanging)."""
    import signal
    fifo = tmp_path / "gpus.yaml"
    os.mkfifo(fifo)
    signal.alarm(10)
    try:
        with pytest.raises(BadInput, match="not a regular file"):
            schemas.load_gpus(str(fifo))
    finally:
        signal.alarm(0)
    assert _entries(cache_dir) == []


def test_no_home_directory_means_no_cache_not_an_error(tmp_path, monkeypatch):
    """A container user without $HOME or a passwd entry: Path.home() raises; the catalogs load
    all the same."""
    monkeypatch.delenv("PLANNER_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert cache.cache_dir() is None
    schemas.load_gpus.cache_clear()
    assert schemas.load_gpus(str(_copy(tmp_path)))["h200"].memory_bytes == 141e9
    schemas.load_gpus.cache_clear()


@pytest.mark.parametrize("path, value, match", [
    (("memory_bandwidth",), "0TB/s", r"memory_bandwidth\.value.*0: expected a finite bandwidth above 0"),
    (("dense_flops", "bf16"), "0TFLOPS", r"dense_flops\.bf16\.value.*expected a finite FLOP/s above 0"),
    (("memory",), "-80GB", r"memory\.value.*expected a finite size above 0"),
    (("cards_per_node",), 2.5, r"cards_per_node\.value.*2\.5 is not a whole number"),
    (("cards_per_node",), 0, r"cards_per_node\.value.*expected a finite number above 0"),
    (("scale_up", "domain_cards"), 0, r"scale_up\.domain_cards\.value"),
    (("power",), "-700W", r"power\.value.*expected a finite power above 0"),
    (("price_rmb_per_gpu_hour",), -12.15, r"price_rmb_per_gpu_hour\.value.*-12\.15 is not a price per card-hour"),
    (("price_rmb_per_gpu_hour",), 1e300, r"is not a price per card-hour \(from 0 to 1e\+09\)"),
    (("price_rmb_per_gpu_hour",), 1e-310, r"price_rmb_per_gpu_hour\.value.*is below 1e-12; write 0 for free"),
])
def test_an_edited_gpu_catalog_is_checked_for_each_numbers_domain(tmp_path, path, value, match):
    """0 TB/s, 0 TFLOPS, 0 cards a node were exit 5 (ZeroDivisionError, IndexError); a negative
    price planned a negative cost and 2.5 cards a node was read as 2 (a hunt of edited catalogs)."""
    import yaml
    cat = yaml.safe_load(GPUS.read_text())
    node = next(g for g in cat["gpus"] if g["id"] == "h100")
    for k in path:
        node = node[k]
    node["value"] = value
    p = tmp_path / "gpus.yaml"
    p.write_text(yaml.safe_dump(cat, allow_unicode=True))
    with pytest.raises(BadInput, match=match):
        schemas.load_gpus(str(p))
