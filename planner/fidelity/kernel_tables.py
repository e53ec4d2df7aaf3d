"""Reading the per-op latency tables of an unpacked aiconfigurator-core wheel (the I/O edge of
`planner.fidelity.kernels`), and turning them into measured kernel rows.

Layout inside the wheel: ``aiconfigurator_core/systems/data/<system>/<op>/<framework>/<version>/
<table>.parquet``; ``systems/<system>.yaml`` and ``systems/query_versions.yaml`` beside it.
Only per-op tables are read (GEMM, MoE, custom all-reduce, NCCL). A file named
``silicon_sample*.csv`` (the wheel's end-to-end measurements, kept out of every fit as an
independent check) is refused before it is opened, whatever path leads to it.

Tables are parquet (read with pyarrow, imported only when a parquet file is read) or CSV with the
same columns. Every missing file, unreadable file or missing/non-numeric column is BadInput naming
the file and the column. latency is in milliseconds; message_size in elements of the dtype.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from planner.errors import BadInput, install_extra
from planner.input.files import read_yaml

FORBIDDEN = "silicon_sample*.csv"
DENSE_MIN_NK = 1024  # dense shapes with min(N, K) below this are not LLM layer GEMMs
DEEPSEEK_MOE = {"hidden_size": 7168, "inter_size": 2048, "num_experts": 256, "topk": 8}
GEMM_COLUMNS = ("gemm_dtype", "m", "n", "k", "latency")
MOE_COLUMNS = ("moe_dtype", "kernel_source", "num_tokens", "hidden_size", "inter_size", "topk",
               "num_experts", "moe_tp_size", "moe_ep_size", "distribution", "latency")
DTYPE_BYTES = {"bfloat16": 2, "half": 2, "float16": 2, "int8": 1, "fp8": 1}

Table = dict[str, np.ndarray]


def refuse_forbidden(path: str | Path) -> Path:
    """`path`, unless its name is silicon_sample*.csv (BadInput, without touching the file)."""
    p = Path(path)
    if fnmatch.fnmatch(p.name.lower(), FORBIDDEN):
        raise BadInput(f"{p}: refusing to open {p.name}: end-to-end measurements are an independent "
                       "check and stay out of every fit")
    return p


# ------------------------------------------------------------------------------ reading
def read_table(path: str | Path) -> Table:
    """A parquet (needs pyarrow) or CSV per-op table as {column: array}."""
    p = refuse_forbidden(path)
    if not p.is_file():
        raise BadInput(f"{p}: table not found")
    if p.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise BadInput(f"{p}: reading parquet needs pyarrow ({install_extra('kernels')})") from None
        try:
            tbl = pq.read_table(p)
        except Exception as e:  # any pyarrow failure means the file is malformed
            raise BadInput(f"{p}: cannot read the parquet table ({e})") from None
        return {name: tbl.column(name).to_numpy(zero_copy_only=False) for name in tbl.column_names}
    try:
        data = np.genfromtxt(p, delimiter=",", names=True, dtype=None, encoding="utf-8", comments=None)
    except (ValueError, OSError) as e:
        raise BadInput(f"{p}: cannot read the CSV table ({e})") from None
    if data.dtype.names is None:
        raise BadInput(f"{p}: the CSV table has no header row")
    return {name: np.atleast_1d(data[name]) for name in data.dtype.names}


def require_columns(table: Table, columns: Sequence[str], path: str | Path) -> None:
    """BadInput naming the file and the first missing column."""
    for c in columns:
        if c not in table:
            raise BadInput(f"{path}: column '{c}' is missing (the table has: {', '.join(sorted(table))})")


def numeric_column(table: Table, column: str, path: str | Path) -> np.ndarray:
    """A column as float64; BadInput naming file and column if it is absent, not numeric or not finite."""
    require_columns(table, (column,), path)
    try:
        values = np.asarray(table[column], dtype=float)
    except (TypeError, ValueError):
        raise BadInput(f"{path}: column '{column}' is not numeric") from None
    if values.size and not np.all(np.isfinite(values)):
        raise BadInput(f"{path}: column '{column}' has empty or non-finite values")
    return values


def text_column(table: Table, column: str, path: str | Path) -> np.ndarray:
    require_columns(table, (column,), path)
    return np.asarray(table[column]).astype(str)


def _group_min(keys: Sequence[np.ndarray], values: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Minimum of `values` per distinct key tuple (the fastest kernel for each shape)."""
    stacked = np.rec.fromarrays([np.asarray(k) for k in keys])
    uniq, inv = np.unique(stacked, return_inverse=True)
    best = np.full(uniq.shape[0], np.inf)
    np.minimum.at(best, inv.ravel(), values)
    return [np.asarray(uniq[name]) for name in uniq.dtype.names], best


# ------------------------------------------------------------------------------ rows
@dataclass(frozen=True)
class KernelRows:
    """Measured kernel calls: M (rows per GEMM or per expert), FLOPs, seconds, EP size."""

    m: np.ndarray
    flops: np.ndarray
    seconds: np.ndarray
    ep: np.ndarray
    selection: str

    def subset(self, mask: np.ndarray) -> KernelRows:
        return KernelRows(self.m[mask], self.flops[mask], self.seconds[mask], self.ep[mask], self.selection)


def dense_gemm_rows(table: Table, dtype: str, path: str | Path, min_nk: int = DENSE_MIN_NK) -> KernelRows:
    """Dense GEMMs of one dtype, fastest kernel per (m, n, k) with min(n, k) ≥ min_nk; FLOPs = 2·m·n·k."""
    require_columns(table, GEMM_COLUMNS, path)
    sel = text_column(table, "gemm_dtype", path) == dtype
    m, n, k = (numeric_column(table, c, path)[sel] for c in ("m", "n", "k"))
    lat = numeric_column(table, "latency", path)[sel]
    keep = (np.minimum(n, k) >= min_nk) & (lat > 0)
    if not keep.any():
        return KernelRows(*(np.zeros(0),) * 4, selection=f"gemm_dtype={dtype}: no rows")
    (m, n, k), lat = _group_min([m[keep], n[keep], k[keep]], lat[keep])
    return KernelRows(m=m, flops=2.0 * m * n * k, seconds=lat * 1e-3, ep=np.ones_like(m),
                      selection=f"gemm_dtype={dtype}, min(n,k)>={min_nk}, fastest kernel per (m,n,k)")


def _pick_distribution(names: set[str]) -> str:
    """'balanced' when measured, else the power law closest to it (smallest exponent)."""
    if "balanced" in names or not names:
        return "balanced"

    def alpha(name: str) -> float:
        try:
            return float(name.rsplit("_", 1)[-1])
        except ValueError:
            return float("inf")
    return min(names, key=alpha)


def moe_rows(table: Table, dtype: str, path: str | Path,
             shape: Mapping[str, int] | None = DEEPSEEK_MOE) -> KernelRows:
    """Grouped routed-expert op rows of one dtype: tp = 1, balanced routing, gated, fastest kernel.

    The collector feeds `num_tokens` tokens to one GPU holding E/ep experts: FLOPs =
    6·tokens·topk·h·I/ep (gate, up, down) and M = max(1, tokens·topk/E) rows per expert; latency
    includes routing, permutation and finalize. Only `shape` is used when it was measured."""
    require_columns(table, MOE_COLUMNS, path)
    dt = text_column(table, "moe_dtype", path)
    gated = np.char.find(text_column(table, "kernel_source", path), "nongated") < 0
    dist = text_column(table, "distribution", path)
    num = {c: numeric_column(table, c, path) for c in MOE_COLUMNS
           if c not in ("moe_dtype", "kernel_source", "distribution")}
    distribution = _pick_distribution(set(dist[dt == dtype]))
    sel = (dt == dtype) & (dist == distribution) & (num["moe_tp_size"] == 1) & gated & (num["latency"] > 0)
    label = "all gated shapes"
    if shape is not None:
        shape_sel = sel.copy()
        for col, val in shape.items():
            shape_sel &= num[col] == val
        if shape_sel.any():
            sel, label = shape_sel, "DeepSeek shape (h=7168, I=2048, E=256, topk=8)"
    if not sel.any():
        return KernelRows(*(np.zeros(0),) * 4, selection=f"moe_dtype={dtype}: no rows")
    keys = [num[c][sel] for c in ("num_tokens", "hidden_size", "inter_size", "topk", "num_experts", "moe_ep_size")]
    (t, h, inter, topk, e, ep), lat = _group_min(keys, num["latency"][sel])
    return KernelRows(m=np.maximum(1.0, t * topk / e), flops=6.0 * t * topk * h * inter / ep,
                      seconds=lat * 1e-3, ep=ep,
                      selection=f"moe_dtype={dtype}, {label}, tp=1, {distribution} routing, gated, fastest kernel")


def collective_rows(table: Table, path: str | Path, dtype_col: str,
                    op_name: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(group size, bytes, seconds) of one collective; one 16-bit dtype when measured (the tables give
    equal times for equal bytes across dtypes)."""
    dtypes = text_column(table, dtype_col, path)
    sel = np.ones(dtypes.shape, bool)
    if op_name is not None:
        sel &= text_column(table, "op_name", path) == op_name
    preferred = [d for d in ("bfloat16", "half", "float16") if np.any(sel & (dtypes == d))]
    if preferred:
        sel &= dtypes == preferred[0]
    unknown = sorted(set(dtypes[sel]) - set(DTYPE_BYTES))
    if unknown:
        raise BadInput(f"{path}: column '{dtype_col}' has unknown dtypes {unknown}")
    n = numeric_column(table, "num_gpus", path)[sel]
    size = numeric_column(table, "message_size", path)[sel]
    lat = numeric_column(table, "latency", path)[sel] * 1e-3
    nbytes = size * np.array([DTYPE_BYTES[d] for d in dtypes[sel]], dtype=float)
    ok = lat > 0
    return n[ok].astype(int), nbytes[ok], lat[ok]


# ------------------------------------------------------------------------------ the wheel
@dataclass(frozen=True)
class Wheel:
    """An unpacked aiconfigurator-core wheel (or the installed package's folder)."""

    root: Path
    name: str
    version: str
    license: str
    as_of: str | None

    @property
    def systems_dir(self) -> Path:
        return self.root / "aiconfigurator_core" / "systems"

    @property
    def data_dir(self) -> Path:
        return self.systems_dir / "data"

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def system_yaml(self, system: str) -> dict:
        return _yaml_mapping(self.systems_dir / f"{system}.yaml")

    def table(self, system: str, op: str, framework: str, table: str, version: str | None) -> Path:
        """Path of data/<system>/<op>/<framework>/<version>/<table>.parquet, following reuse.yaml
        redirects; without a version, the highest version folder holding the table."""
        base = self.data_dir / system / op / framework
        if version is None:
            cands = sorted((d for d in base.glob("*") if (d / f"{table}.parquet").is_file()),
                           key=lambda d: _version_key(d.name))
            if not cands:
                raise BadInput(f"{base}: no version folder holds {table}.parquet")
            return cands[-1] / f"{table}.parquet"
        path = base / version / f"{table}.parquet"
        reuse_file = base / version / "reuse.yaml"
        if not path.is_file() and reuse_file.is_file():
            for entry in _yaml_mapping(reuse_file).get("reuse", []) or []:
                if isinstance(entry, dict) and entry.get("table") == table and entry.get("from_version"):
                    path = base / str(entry["from_version"]) / f"{table}.parquet"
        if not path.is_file():
            raise BadInput(f"{path}: table not found")
        return path

    def current_version(self, system: str, framework: str) -> str:
        """The 'current' queryable version of `framework` for `system` (systems/query_versions.yaml)."""
        qv_path = self.systems_dir / "query_versions.yaml"
        qv = _yaml_mapping(qv_path)
        slot = (qv.get("overrides", {}).get(system, {}).get(framework) or qv.get("defaults", {}).get(framework))
        if not isinstance(slot, dict) or not slot.get("current"):
            raise BadInput(f"{qv_path}: overrides.{system}.{framework}.current / defaults.{framework}.current "
                           "is missing")
        return str(slot["current"])


def _version_key(v: str) -> tuple:
    return tuple(int(x) if x.isdigit() else -1 for x in re.split(r"[.\-_a-z]+", v) if x != "")


def _yaml_mapping(path: Path) -> dict:
    data = read_yaml(refuse_forbidden(path))
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a mapping at the top level")
    return data


def open_wheel(root: str | Path) -> Wheel:
    """The wheel at `root` (holding aiconfigurator_core/ and its *.dist-info); BadInput if it is not one."""
    root = refuse_forbidden(root)
    if not (root / "aiconfigurator_core" / "systems" / "data").is_dir():
        raise BadInput(f"{root}: aiconfigurator_core/systems/data not found (expected an unpacked "
                       "aiconfigurator-core wheel)")
    infos = sorted(root.glob("aiconfigurator_core-*.dist-info"))
    if not infos:
        raise BadInput(f"{root}: no aiconfigurator_core-*.dist-info folder (is this an unpacked wheel?)")
    meta: dict[str, str] = {}
    meta_path = infos[-1] / "METADATA"
    if not meta_path.is_file():
        raise BadInput(f"{meta_path}: file not found")
    for line in meta_path.read_text(encoding="utf-8").splitlines():
        key, _, val = line.partition(": ")
        if key in ("Name", "Version", "License-Expression", "License") and key not in meta:
            meta[key] = val
    as_of = None
    for sbom in sorted(infos[-1].glob("sboms/*.json")):
        try:
            stamp = json.loads(sbom.read_text(encoding="utf-8")).get("metadata", {}).get("timestamp")
        except json.JSONDecodeError as e:
            raise BadInput(f"{sbom}: not valid JSON ({e.msg})") from None
        as_of = str(stamp)[:10] if stamp else as_of
    return Wheel(root=root, name=meta.get("Name", "?"), version=meta.get("Version", "?"),
                 license=meta.get("License-Expression") or meta.get("License", "?"), as_of=as_of)


def installed_wheel_root() -> Path:
    """The site-packages folder holding the installed aiconfigurator_core package."""
    import importlib.util

    spec = importlib.util.find_spec("aiconfigurator_core")
    if spec is None or not spec.submodule_search_locations:
        raise BadInput(f"--from-installed: aiconfigurator-core is not installed ({install_extra('kernels')})")
    return Path(list(spec.submodule_search_locations)[0]).parent
