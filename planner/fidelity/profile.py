"""Write a fitted calibration profile as catalog YAML (`plan calibrate --out`).

Each fitted parameter's `source` names the fit (points, date, command) and its `note` the
cross-validated error per quantity; parameters not fitted keep the base profile's entries. A
group profile (`plan calibrate --group-by`) says whose points it was fitted to, and takes the
parameters its points cannot inform from the shared fit. PyYAML is imported inside profile_yaml.
"""

from __future__ import annotations

import datetime as _dt
import math

from planner.catalog.calibration import Calibration
from planner.fidelity.crossval import Summary
from planner.fidelity.fit import FitResult, family_of

MIN_BAND_POINTS = 20   # cross-validated observations per quantity for a profile's error band


def error_band(rows, source: str, day: str) -> dict | None:
    """The profile's error band (catalog.calibration.ErrorBand) from cross-validated rows:
    percentiles of log(predicted/measured) for decode tokens/s per GPU and TTFT; None without
    cross-validation or with fewer than MIN_BAND_POINTS observations of either."""
    import numpy as np

    from planner.catalog.calibration import BAND_PERCENTILES
    out: dict = {"source": source, "as_of": day}
    gpus: set[str] = set()
    for q, key in (("decode_tok_s_per_gpu", "decode"), ("ttft_s", "ttft")):
        used = [r for r in rows if r.quantity == q and r.cv_predicted]
        if len(used) < MIN_BAND_POINTS:
            return None
        out[key] = {p: round(float(np.percentile([math.log(r.cv_predicted / r.measured) for r in used], p)), 4)
                    for p in BAND_PERCENTILES}
        gpus |= {r.point.gpu for r in used}
    out["gpus"] = sorted(gpus)
    return out


def profile_yaml(result: FitResult, base: Calibration, name: str, files: list[str],
                 cv_summary: list[Summary] | None, today: _dt.date | None = None,
                 group: tuple[tuple[str, ...], str] | None = None,
                 shared: FitResult | None = None, cv_rows=None) -> str:
    """The fitted profile as YAML text (catalog schema): each fitted parameter's source names
    the fit, its note the cross-validated error; unfitted parameters keep base's entries.
    A group profile (`group` = (axes, label)) says whose points it was fitted to; parameters its
    points cannot inform come from the `shared` fit."""
    import yaml

    day = (today or _dt.date.today()).isoformat()
    files_text = ", ".join(_display(f) for f in files)
    shown = [_display(f) for f in files]   # the catalog's measurements, or the user's own files
    data_of = "catalogs/measurements" if all(f.startswith("catalogs/measurements") for f in shown) else files_text
    if group:
        axes, label = group
        who = f"{result.n_points} points of {'/'.join(axes)} {label}"
        src = f"fit to {data_of} ({who}, {day}), plan calibrate --group-by {','.join(axes)}"
        description = (f"Fitted by robust least squares to the {who} ({files_text}); parameters "
                       "these points cannot inform keep the shared fit's values.")
    else:
        src = f"fit to {data_of} ({result.n_points} points, {day}), plan calibrate"
        description = (f"Fitted by robust least squares to {result.n_points} measured points "
                       f"({files_text}); one parameter set for all GPUs and engines.")
    shared_src = (f"shared fit to {data_of} ({shared.n_points} points, {day}), plan calibrate"
                  if shared else None)
    cv_note = "; ".join(f"{s.quantity}: CV median |err| {s.cv_median_abs:.1%}, p90 {s.cv_p90_abs:.0%}"
                        for s in (cv_summary or []) if s.cv_median_abs is not None and s.quantity != "all")
    data: dict = {"name": name, "description": description}
    for k in Calibration.model_fields:
        if k in ("name", "description"):
            continue
        if k == "request_overhead_by_family_s":
            data[k] = _family_entries(result, base, shared, src, shared_src, cv_note)
            continue
        if k == "kernel_curves":
            data[k] = base.kernel_curves
            continue
        if k == "error_band":
            band = error_band(cv_rows or [], f"{src}: cross-validated", day)
            if band is not None:
                data[k] = band
            continue
        if k in result.values:
            v = result.values[k]
            data[k] = {"value": float(f"{v:.4g}"), "source": src,
                       "note": cv_note or "cross-validation not run"}
        elif shared is not None and k in shared.values:
            data[k] = {"value": float(f"{shared.values[k]:.4g}"), "source": shared_src,
                       "note": "not informed by this group's points"}
        else:
            p = getattr(base, k)
            data[k] = {"value": p.value, "source": p.source, **({"note": p.note} if p.note else {})}
    header = ("# Calibration profile written by `plan calibrate`; edit by refitting, not by hand.\n"
              "# Cross-validated errors and the points are described in docs/model.md, "
              "section How accurate is it?\n")
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _family_entries(result: FitResult, base: Calibration, shared: FitResult | None, src: str,
                    shared_src: str | None, cv_note: str) -> dict[str, dict]:
    """The per-family fixed TTFTs of a written profile: fitted here, else from the shared fit,
    else base's entries."""
    out: dict[str, dict] = {f: p.model_dump(exclude_none=True)
                            for f, p in base.request_overhead_by_family_s.items()}
    if shared is not None:
        out.update({family_of(k): {"value": float(f"{v:.4g}"), "source": shared_src,
                                   "note": "not informed by this group's points"}
                    for k, v in shared.values.items() if family_of(k)})
    note = "fixed TTFT of this architecture family; " + (cv_note or "cross-validation not run")
    out.update({family_of(k): {"value": float(f"{v:.4g}"), "source": src, "note": note}
                for k, v in result.values.items() if family_of(k)})
    return dict(sorted(out.items()))


def _display(path: str) -> str:
    """Path relative to the repository when inside it, else as given."""
    from pathlib import Path

    from planner.catalog.schemas import CATALOG_DIR
    p = Path(path).resolve()
    try:
        return str(p.relative_to(CATALOG_DIR.parent))
    except ValueError:
        return str(path)


