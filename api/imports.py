"""Bulk imports: a facility register or a community layer is uploaded, read and checked in a **dry run**
that answers a validation report and changes nothing; applied only when the client confirms.

Facility registers (:func:`facility_dry_run`): read with the plan's catalog; rows outside the region
are dropped and counted; rows whose id the service already has, or farther from any street than the
service's snap distance, are refused with the reason; a reader error (it names the rows) refuses the
file, nothing accepted. The accepted rows are kept beside the upload (``accepted.csv``, WGS84) and are
what applying inserts, in one transaction, as durable user facilities; only their categories are
recomputed.

Community layers (:func:`community_dry_run`): read and checked; the report says which 社区/街道/区
columns the file has, whether it counts households or population (else the plan is area-weighted) and
how its 社区/街道 names compare with the official 2023 lists. Applying plans again with the file (kept in
the state directory) and records it as the layer in use, so a restart plans with it too.

Every file's coordinates are checked against the map (:func:`circles.io.crs_inputs.check_file_crs`); a
``refuse`` verdict makes applying a 422 unless the client passes ``force=true`` (recorded with the
import, as ``--no-crs-check`` would be).

Applying an import twice is a 409 (the second changes nothing).
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point

from circles._common import WGS84, atomic_write, jsonable
from circles.config import shared_data_dir
from circles.errors import CoordinateSystemError, InputError
from circles.io.admin_names import admin_names_for
from circles.io.communities import read_communities
from circles.io.crs_inputs import check_file_crs
from circles.io.districts import district_name
from circles.io.facilities import read_facilities
from circles.io.file_spec import FileSpec
from circles.pipeline import PlanResult

from .errors import ConflictError, NotFoundError
from .state import Answer, Idempotency, ServiceState, changed_communities
from .store import Actor
from .uploads import Upload, discard

log = logging.getLogger(__name__)

#: Rows named per reason in a report.
MAX_EXAMPLES = 20
#: Names listed per level in a community report's name check.
MAX_FLAGGED_NAMES = 50
#: The accepted rows of a facility dry run, beside the upload (WGS84 lon/lat, exact floats).
ACCEPTED_FILE = "accepted.csv"
ACCEPTED_COLUMNS = ["facility_id", "category", "name", "floor_area_m2", "lon", "lat"]


# --- dry runs ---------------------------------------------------------------------------------------


def dry_run(state: ServiceState, upload: Upload) -> dict[str, Any]:
    """Read and check ``upload``, record the import with its report (nothing else changes) and return
    the report."""
    try:
        report = (
            facility_dry_run(state, upload)
            if upload.kind == "facilities"
            else community_dry_run(state, upload)
        )
        report = jsonable(report)
        state.store.record_import(
            {
                "import_id": upload.import_id,
                "kind": upload.kind,
                "file_name": upload.file_name,
                "stored_path": upload.relative_path(state.settings.state_dir),
                "crs": upload.crs,
                "part": upload.part,
                "report": report,
                "created_at": report["created_at"],
            }
        )
    except BaseException:
        discard(upload)
        raise
    if report["status"] != "ready":  # nothing will be read from it again; the record stays
        discard(upload)
    log.info("import %s (%s, %s): %s", upload.import_id, upload.kind, upload.file_name, report["message"])
    return import_view(state.store.get_import(upload.import_id) or {"report": report})


def _base_report(state: ServiceState, upload: Upload) -> dict[str, Any]:
    return {
        "import_id": upload.import_id,
        "kind": upload.kind,
        "file_name": upload.file_name,
        "crs": upload.crs,
        "part": upload.part,
        "created_at": state.store.now(),
        "status": "refused",
        "message": "",
        "rows_read": None,
        "rows_accepted": 0,
        "rows_dropped_outside": 0,
        "rows_refused": None,
        "dropped_outside": [],
        "refused": [],
        "categories": [],
        "communities": None,
        "check": None,
        "needs_force": False,
    }


def _unreadable(report: dict[str, Any], upload: Upload, error: Exception) -> dict[str, Any]:
    """The report of a file the reader refused: its message (naming the rows), nothing accepted."""
    message = upload.public(str(error))
    report["refused"] = [{"reason": message, "count": None, "examples": []}]
    report["message"] = f"not imported: {message}"
    return report


def _labels(frame: pd.DataFrame, mask: np.ndarray) -> list[str]:
    """'id name' of the first :data:`MAX_EXAMPLES` rows where ``mask`` is true."""
    sub = frame[mask].head(MAX_EXAMPLES)
    names = sub["name"] if "name" in sub else pd.Series("", index=sub.index)
    return [f"{i} {n}".strip() for i, n in zip(sub["facility_id"].astype(str), names.fillna("").astype(str))]


def _outside(gdf: gpd.GeoDataFrame, bbox: tuple[float, float, float, float]) -> np.ndarray:
    """Points outside ``bbox`` (WGS84 degrees)."""
    x, y = gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()
    x0, y0, x1, y1 = bbox
    return ~((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))


def facility_dry_run(state: ServiceState, upload: Upload) -> dict[str, Any]:
    """The validation report of a facility register (see the module docstring); the accepted rows are
    written beside the upload."""
    res = state.result
    report = _base_report(state, upload)
    try:
        gdf = read_facilities(FileSpec(upload.path, upload.crs, upload.part), catalog=res.data.catalog)
    except InputError as e:
        return _unreadable(report, upload, e)
    outside = _outside(gdf, res.data.region.bbox)
    refused = _refused_facilities(res, gdf, ~outside, state.settings.max_snap_m)
    keep = ~outside
    for _, mask in refused:
        keep &= ~mask
    accepted = gdf[keep].reset_index(drop=True)
    report.update(
        rows_read=len(gdf),
        rows_accepted=len(accepted),
        rows_dropped_outside=int(outside.sum()),
        rows_refused=int(sum(int(m.sum()) for _, m in refused)),
        dropped_outside=_labels(gdf, outside),
        refused=[
            {"reason": reason, "count": int(m.sum()), "examples": _labels(gdf, m)}
            for reason, m in refused
            if m.any()
        ],
        categories=[
            {"category": k, "name_zh": res.data.catalog.get(k).name_zh, "count": int(n)}
            for k, n in accepted["category"].value_counts().items()
        ],
    )
    if len(accepted):
        _crs_check(state, upload, accepted, "facilities", report)
        _write_accepted(accepted, upload)
        report["status"] = "ready"
    report["message"] = _facility_message(report)
    return report


def _refused_facilities(
    res: PlanResult, gdf: gpd.GeoDataFrame, inside: np.ndarray, max_snap_m: float
) -> list[tuple[str, np.ndarray]]:
    """(reason, rows) of rows inside the region that cannot be added: ids the service has, points no
    street is near."""
    ids = gdf["facility_id"].astype(str).to_numpy()
    taken = inside & np.isin(ids, res.data.facilities["facility_id"].astype(str).to_numpy())
    far = np.zeros(len(gdf), dtype=bool)
    check = np.flatnonzero(inside & ~taken)
    if len(check):
        xy = res.data.net.project(gdf.geometry.x.to_numpy()[check], gdf.geometry.y.to_numpy()[check])
        snap = res.data.graphs["walk"].snap(xy, max_snap_m=max_snap_m, strict=False)
        far[check[snap.seg < 0]] = True
    return [
        ("facility id already in the service (give new ids, or delete the old facility first)", taken),
        (f"farther than {max_snap_m:g} m from any walkable street", far),
    ]


def _facility_message(report: dict[str, Any]) -> str:
    parts = [f"{report['rows_read']} rows read: {report['rows_accepted']} accepted"]
    if report["rows_dropped_outside"]:
        parts.append(f"{report['rows_dropped_outside']} outside the region (dropped)")
    if report["rows_refused"]:
        parts.append(f"{report['rows_refused']} refused")
    text = ", ".join(parts)
    if not report["rows_accepted"]:
        return f"not imported: {text}; nothing to apply"
    return text + _check_text(report)


def _check_text(report: dict[str, Any]) -> str:
    check = report["check"]
    if check is None:
        return ""
    text = f"; coordinate check: {check['status']}"
    if report["needs_force"]:
        text += " (applying needs force=true)"
    return text


def _crs_check(
    state: ServiceState, upload: Upload, gdf: gpd.GeoDataFrame, what: str, report: dict[str, Any]
) -> None:
    """The coordinate check of the rows read (never raising: a refusal is reported, and applying then
    needs ``force``)."""
    record = check_file_crs(gdf, what, state.crs_source(), enabled=False)
    check = dict(record["check"])
    check["message"] = upload.public(str(check.get("message", "")))
    check["fix"] = upload.public(str(check.get("fix", "")))
    check.update(crs_read_as=record["crs_read_as"], crs_from=record["crs_from"])
    report["check"] = check
    report["needs_force"] = check["status"] == "refuse"


def _write_accepted(accepted: gpd.GeoDataFrame, upload: Upload) -> None:
    table = pd.DataFrame(
        {
            "facility_id": accepted["facility_id"].astype(str).to_numpy(),
            "category": accepted["category"].astype(str).to_numpy(),
            "name": accepted["name"].fillna("").astype(str).to_numpy(),
            "floor_area_m2": pd.to_numeric(accepted["floor_area_m2"], errors="coerce").to_numpy(),
            "lon": accepted.geometry.x.to_numpy(),
            "lat": accepted.geometry.y.to_numpy(),
        }
    )
    atomic_write(upload.path.parent / ACCEPTED_FILE, lambda p: table.to_csv(p, index=False))


def _read_accepted(upload_dir: Any) -> gpd.GeoDataFrame:
    table = pd.read_csv(upload_dir / ACCEPTED_FILE, dtype=str, keep_default_na=False)
    return gpd.GeoDataFrame(
        {
            "facility_id": table["facility_id"],
            "category": table["category"],
            "name": table["name"],
            "floor_area_m2": pd.to_numeric(table["floor_area_m2"], errors="coerce"),
        },
        geometry=[Point(float(x), float(y)) for x, y in zip(table["lon"], table["lat"])],
        crs=WGS84,
    )


def community_dry_run(state: ServiceState, upload: Upload) -> dict[str, Any]:
    """The validation report of a community layer (see the module docstring)."""
    res = state.result
    report = _base_report(state, upload)
    try:
        comm = read_communities(FileSpec(upload.path, upload.crs, upload.part), bbox=res.data.region.bbox)
    except InputError as e:
        return _unreadable(report, upload, e)
    n = len(comm)
    counted = (comm["population"].notna() | comm["households"].notna()).to_numpy()
    details = {
        "communities_now": len(res.data.communities),
        "types": {str(k): int(v) for k, v in comm["type"].value_counts().items()},
        "admin_columns": {c: int(_non_blank(comm, c).sum()) for c in ("community", "street", "district")},
        "households_rows": int(comm["households"].notna().sum()),
        "population_rows": int(comm["population"].notna().sum()),
        "weight_kind": _weight_kind(comm),
        "names": _name_checks(comm),
        "districts": _district_checks(comm),
    }
    report.update(rows_read=n, rows_refused=0, communities=details)
    if counted.any() and not counted.all():
        report.update(
            rows_refused=int((~counted).sum()),
            refused=[
                {
                    "reason": "population or households missing while other communities have them: give them "
                    "for every community (people) or for none (area weighting)",
                    "count": int((~counted).sum()),
                    "examples": comm.loc[~counted, "community_id"].astype(str).head(MAX_EXAMPLES).tolist(),
                }
            ],
        )
        report["message"] = (
            f"not imported: {n} communities read, {int((~counted).sum())} without people counts"
        )
        return report
    report["rows_accepted"] = n
    _crs_check(state, upload, comm, "communities", report)
    report["status"] = "ready"
    report["message"] = f"{n} communities read, weighted by {details['weight_kind']}" + _check_text(report)
    return report


def _weight_kind(comm: pd.DataFrame) -> str:
    """What the plan's weights will count with these communities (residents from population or
    households; m² of residential area when neither is given)."""
    pop, hh = comm["population"].notna(), comm["households"].notna()
    if pop.all():
        return "population"
    if hh.all():
        return "households"
    return "population or households" if (pop | hh).all() else "area"


def _non_blank(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame:
        return pd.Series(False, index=frame.index)
    return frame[col].map(lambda v: isinstance(v, str) and bool(v.strip()))


def _name_checks(comm: pd.DataFrame) -> list[dict[str, Any]]:
    """Per level (社区, 街道) the file names: how many names are official, matched by stem, near an
    official one or unknown, and the names not known with their suggestions."""
    names = admin_names_for(str(shared_data_dir()))
    out = []
    for col in ("community", "street"):
        if names is None or not _non_blank(comm, col).any():
            continue
        table = names.check_all(comm[col], col)
        counts = table["status"].value_counts()
        flagged = table[~table["status"].isin(["exact", "matched"])].head(MAX_FLAGGED_NAMES)
        out.append(
            {
                "level": col,
                "names": len(table),
                **{s: int(counts.get(s, 0)) for s in ("exact", "matched", "near", "unknown")},
                "flagged": [
                    {
                        "name": r.name,
                        "status": r.status,
                        "suggestions": [s for s in str(r.suggestions).split("; ") if s],
                    }
                    for r in flagged.itertuples()
                ],
            }
        )
    return out


def _district_checks(comm: pd.DataFrame) -> list[dict[str, Any]]:
    """Each district value the file gives, with the official name it means (None: not recognised)."""
    if not _non_blank(comm, "district").any():
        return []
    counts = comm["district"][_non_blank(comm, "district")].str.strip().value_counts()
    return [{"given": str(d), "official": district_name(str(d)), "rows": int(n)} for d, n in counts.items()]


# --- viewing and applying ---------------------------------------------------------------------------


def import_view(record: dict[str, Any]) -> dict[str, Any]:
    """The report of a recorded import, with its state: ``applied`` once applied (when, and whether
    forced past a refused coordinate check)."""
    report = dict(record["report"])
    applied_at = record.get("applied_at")
    report["applied_at"] = applied_at
    report["forced"] = bool(record.get("forced", False))
    if applied_at:
        report["status"] = "applied"
    return report


def get_import(state: ServiceState, import_id: str) -> dict[str, Any]:
    record = state.store.get_import(import_id)
    if record is None:
        raise NotFoundError(f"no import {import_id!r}")
    return record


def apply_import(
    state: ServiceState, import_id: str, *, force: bool, actor: Actor, idem: Idempotency | None = None
) -> Answer:
    """Apply a dry-run import (see the module docstring): 404 unknown, 409 applied already, 422 nothing
    to apply or a refused coordinate check without ``force``. A retry with the ``Idempotency-Key`` of
    an applied request answers what that one did."""
    prior = state.replay(idem)
    if prior is not None:
        return prior
    record = get_import(state, import_id)
    report = record["report"]
    state.check_not_applied(import_id)
    if report["status"] != "ready":
        raise InputError(f"import {import_id} has nothing to apply: {report['message']}")
    if report["needs_force"] and not force:
        raise CoordinateSystemError(
            f"{report['check']['message']} — not applied; pass force=true to apply anyway "
            "(recorded with the import, as --no-crs-check)"
        )
    forced = bool(force and report["needs_force"])
    if record["kind"] == "facilities":
        return _apply_facilities(state, record, forced, actor, idem)
    return _apply_communities(state, record, forced, actor, idem)


def _coverage_gaps(res: PlanResult, category: str | None = None) -> int:
    g = res.gaps
    mask = g["kind"] == "coverage"
    if category is not None:
        mask &= g["category"] == category
    return int(mask.sum())


def _apply_facilities(
    state: ServiceState, record: dict[str, Any], forced: bool, actor: Actor, idem: Idempotency | None
) -> Answer:
    report = record["report"]
    folder = (state.settings.state_dir / record["stored_path"]).parent
    if not (folder / ACCEPTED_FILE).is_file():
        raise ConflictError(
            f"import {record['import_id']}: its stored rows were removed (storage limit); "
            "upload the file again"
        )
    rows = _read_accepted(folder)
    if len(rows) != report["rows_accepted"]:
        raise ConflictError(
            f"import {record['import_id']}: its accepted rows are missing; upload the file again"
        )
    crs_in = record["crs"] or (report["check"] or {}).get("crs_read_as") or "wgs84"
    counts = rows["category"].value_counts()

    def answer(old: PlanResult, new: PlanResult, at: str) -> dict[str, Any]:
        cats = [
            {
                "category": key,
                "name_zh": new.data.catalog.get(key).name_zh,
                "facilities_added": int(counts[key]),
                "communities_affected": changed_communities(old, new, key),
                "coverage_gaps_before": _coverage_gaps(old, key),
                "coverage_gaps_after": _coverage_gaps(new, key),
            }
            for key in sorted(counts.index)
        ]
        return {
            "import_id": record["import_id"],
            "kind": "facilities",
            "applied_at": at,
            "forced": forced,
            "facilities_added": len(rows),
            "categories": cats,
            "communities_before": len(old.data.communities),
            "communities_after": len(new.data.communities),
            "weight_kind": new.data.weight_kind,
            "coverage_gaps_before": _coverage_gaps(old),
            "coverage_gaps_after": _coverage_gaps(new),
            "message": f"{len(rows)} facilities added in {len(cats)} categories"
            + (" (coordinate check overridden)" if forced else ""),
        }

    return state.add_facilities(
        rows,
        import_id=record["import_id"],
        crs_in=crs_in,
        forced=forced,
        actor=actor,
        answer=answer,
        idem=idem,
    )


def _apply_communities(
    state: ServiceState, record: dict[str, Any], forced: bool, actor: Actor, idem: Idempotency | None
) -> Answer:
    def answer(old: PlanResult, new: PlanResult, at: str) -> dict[str, Any]:
        return {
            "import_id": record["import_id"],
            "kind": "communities",
            "applied_at": at,
            "forced": forced,
            "facilities_added": 0,
            "categories": [],
            "communities_before": len(old.data.communities),
            "communities_after": len(new.data.communities),
            "weight_kind": new.data.weight_kind,
            "coverage_gaps_before": _coverage_gaps(old),
            "coverage_gaps_after": _coverage_gaps(new),
            "message": f"community layer replaced: {len(new.data.communities)} communities (was "
            f"{len(old.data.communities)}), weighted by {new.data.weight_kind}"
            + (" (coordinate check overridden)" if forced else ""),
        }

    return state.replace_communities(record, forced=forced, actor=actor, answer=answer, idem=idem)
