"""The layers and facts of an export, before any file format: communities with coverage, the gap
list, the chosen sites, the candidates tested, the service areas now and with the sites, and the
streets and buildings around the sites; all EPSG:4326 with full field names, each with the OSM
attribution (see :mod:`circles.outputs.export`; it converts them to the export's coordinate system)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import OSM_ATTRIBUTION, __version__
from .._common import WGS84
from ..errors import InputError
from ..planning.site_brief import site_context
from ..routing.isochrones import DEFAULT_MINUTES, service_areas
from .layers import SIMPLIFY_M, facility_snap
from .plan_files import coverage_layer, gaps_layer

if TYPE_CHECKING:  # pragma: no cover
    from ..catalog import Category
    from ..pipeline import PlanResult
    from ..planning.sites import SiteChoice
    from ..routing.graph import ProfileGraph, Snap

__all__ = ["GEOMETRY_TYPES", "LAYER_DOCS", "LAYER_ORDER", "LICENSE", "export_info", "export_layers"]

#: Layers in the order they are written (those without rows for the export are still written, empty).
LAYER_ORDER: tuple[str, ...] = (
    "communities",
    "gaps",
    "sites",
    "site_areas",
    "candidates",
    "isochrones",
    "context_streets",
    "context_buildings",
)
LICENSE = (
    "Map data © OpenStreetMap contributors, available under the Open Database License (ODbL) 1.0; "
    "derived data stays under the ODbL."
)
#: Geometry type each layer is written with (polygons as MultiPolygon).
GEOMETRY_TYPES: Mapping[str, str] = {
    "communities": "MultiPolygon",
    "gaps": "MultiPolygon",
    "sites": "Point",
    "site_areas": "MultiPolygon",
    "candidates": "Point",
    "isochrones": "MultiPolygon",
    "context_streets": "MultiLineString",
    "context_buildings": "MultiPolygon",
}
#: What each layer holds (GeoPackage layer description, Shapefile README).
LAYER_DOCS: Mapping[str, str] = {
    "communities": (
        "communities (小区/社区) with the covered share, median minutes and nearest facility per category"
    ),
    "gaps": (
        "gap list (配套缺失清单): one row per community and category short of its target, ranked by severity"
    ),
    "sites": (
        "chosen micro-renewal sites (金角银边) at their routing point, ranked, with what each newly covers"
    ),
    "site_areas": "footprints of the chosen sites where the data has a polygon (same fields as sites)",
    "candidates": (
        "every candidate site tested, with what it would newly cover on its own, whether it is usable "
        "and why (Chinese / English)"
    ),
    "isochrones": (
        "service areas: where the nearest facility of the category is within each threshold, "
        "now and with the chosen sites"
    ),
    "context_streets": "OSM streets within 200 m of the chosen sites (cut at 200 m), with class and name",
    "context_buildings": "OSM buildings within 200 m of the chosen sites",
}
_ISOCHRONE_COLUMNS = [
    "category",
    "category_zh",
    "scenario",
    "minutes",
    "profile",
    "area_m2",
    "street_m",
    "sources",
]


def export_layers(
    result: PlanResult,
    *,
    sites: SiteChoice | None = None,
    category: str | None = None,
    minutes: Iterable[float] | None = None,
) -> dict[str, gpd.GeoDataFrame]:
    """The export's layers (EPSG:4326, full field names), in :data:`LAYER_ORDER`.

    ``communities`` and ``gaps`` always; ``sites``, ``site_areas``, ``candidates``,
    ``context_streets`` and ``context_buildings`` (within 200 m of the sites; empty without an OSM
    extract) with ``sites``;
    ``isochrones`` when a category is known (``category`` or ``sites.category``): the service areas
    at ``minutes`` (default the 5/10/15 levels and the category's thresholds) per travel profile the
    category uses, ``scenario`` ``existing`` and, with sites, ``with_sites``.
    """
    if sites is not None and category is not None and category != sites.category:
        raise InputError(f"category {category!r} differs from the sites' category {sites.category!r}")
    category = category or (sites.category if sites is not None else None)
    if category is not None:
        result.data.catalog.get(category)
    layers: dict[str, gpd.GeoDataFrame] = {
        "communities": _communities(result),
        "gaps": gaps_layer(result),
    }
    if sites is not None:
        layers.update(_site_layers(sites))
        layers["context_streets"], layers["context_buildings"] = site_context(result, sites.sites)
    if category is not None:
        layers["isochrones"] = _isochrones(result, category, sites, minutes)
    for name, gdf in layers.items():
        gdf = gdf.to_crs(WGS84) if gdf.crs is not None else gdf.set_crs(WGS84)
        gdf["attribution"] = OSM_ATTRIBUTION
        layers[name] = gdf
    return {k: layers[k] for k in LAYER_ORDER if k in layers}


def _communities(result: PlanResult) -> gpd.GeoDataFrame:
    """The coverage layer with the communities' data ``source`` and ``sample_cats``."""
    comm = coverage_layer(result)
    src = result.data.communities.get("source")
    if src is not None:
        comm.insert(
            comm.columns.get_loc("residents") + 1 if "residents" in comm else len(comm.columns) - 1,
            "source",
            src.fillna("").astype(str).to_numpy(),
        )
    comm["sample_cats"] = _sample_categories(result)
    return comm


def _sample_categories(result: PlanResult) -> np.ndarray:
    """Per community, the categories (comma-separated) whose nearest facility is SAMPLE data."""
    cov = result.coverage
    n = len(result.data.communities)
    out: list[list[str]] = [[] for _ in range(n)]
    if len(cov) and "nearest_facility_source" in cov:
        s = cov[cov["nearest_facility_source"].astype(str) == "sample"]
        for row, key in zip(s["community_row"].to_numpy(), s["category"].astype(str)):
            out[int(row)].append(key)
    return np.array([",".join(v) for v in out], dtype=object)


def _site_layers(sites: SiteChoice) -> dict[str, gpd.GeoDataFrame]:
    """``sites`` (routing points), ``site_areas`` (the polygons among them) and ``candidates``."""
    from ..planning.sites import site_points

    poly = np.isin(shapely.get_type_id(sites.sites.geometry.to_numpy()), (3, 6))
    cand = sites.candidates.copy()
    cand = cand.set_geometry(gpd.points_from_xy(cand["lon"], cand["lat"], crs=WGS84))
    cand["category"] = sites.category
    cand["weight_kind"] = sites.weight_kind
    return {
        "sites": site_points(sites),
        "site_areas": sites.sites[poly].reset_index(drop=True),
        "candidates": gpd.GeoDataFrame(cand, geometry="geometry", crs=WGS84),
    }


def _isochrones(
    result: PlanResult, category: str, sites: SiteChoice | None, minutes: Iterable[float] | None
) -> gpd.GeoDataFrame:
    """Service areas of ``category`` per travel profile it uses and scenario, largest first within
    each; EPSG:4326, ``area_m2``/``street_m`` measured in the network's metric CRS."""
    cat = result.data.catalog.get(category)
    fac = result.data.facilities
    fac_src = (
        "+".join(sorted(set(fac.loc[fac["category"] == category, "source"].fillna("").astype(str)))) or "none"
    )
    frames = []
    for prof, thresholds in sorted(_profile_thresholds(result, cat).items()):
        if prof not in result.data.graphs:
            continue
        mins = (
            sorted(set(float(m) for m in minutes))
            if minutes is not None
            else sorted(set(DEFAULT_MINUTES) | thresholds)
        )
        g, fsnap = facility_snap(result, category, prof)
        for name, snap, srcs in _scenarios(result, g, fsnap, sites, fac_src):
            isos = service_areas(g, snap, mins)
            gdf = gpd.GeoDataFrame(
                {
                    "category": category,
                    "category_zh": cat.name_zh,
                    "scenario": name,
                    "minutes": [i.minutes for i in isos],
                    "profile": prof,
                    "area_m2": [round(i.area_m2, 1) for i in isos],
                    "street_m": [round(i.street_m, 1) for i in isos],
                    "sources": srcs,
                },
                geometry=[shapely.simplify(i.polygon, SIMPLIFY_M) for i in isos],
                crs=result.data.net.crs,
            )
            frames.append(gdf.iloc[::-1])
    if not frames:
        return gpd.GeoDataFrame(
            pd.DataFrame(columns=_ISOCHRONE_COLUMNS), geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84
        )
    out = pd.concat(frames, ignore_index=True)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=result.data.net.crs).to_crs(WGS84)
    empty = out.geometry.is_empty | out.geometry.isna()
    return out[~empty].reset_index(drop=True)


def _profile_thresholds(result: PlanResult, cat: Category) -> dict[str, set[float]]:
    """Travel profile -> the category's thresholds (minutes) for the community types present that
    need it; walking at the urban threshold when none does."""
    profiles: dict[str, set[float]] = {}
    for t in sorted(set(result.data.communities["type"].astype(str))):
        if cat.applies(t):
            profiles.setdefault(cat.profile_for(t), set()).add(cat.threshold_min(t))
    return profiles or {"walk": {cat.threshold_min("urban")}}


def _scenarios(
    result: PlanResult, g: ProfileGraph, fsnap: Snap, sites: SiteChoice | None, fac_src: str
) -> list[tuple[str, Snap, str]]:
    """(scenario, snapped facilities, their sources): ``existing`` and, with chosen sites,
    ``with_sites`` (the existing facilities plus the sites' routing points)."""
    scen = [("existing", fsnap, fac_src)]
    if sites is not None and len(sites.sites):
        xy = result.data.net.project(
            sites.sites["lon"].to_numpy(dtype=float), sites.sites["lat"].to_numpy(dtype=float)
        )
        fxy = np.vstack([fsnap.point_xy, xy]) if len(fsnap) else xy
        both = g.snap(fxy, strict=False)
        scen.append(("with_sites", both, f"{fac_src}+new_sites" if fac_src != "none" else "new_sites"))
    return scen


def export_info(
    result: PlanResult, layers: Mapping[str, gpd.GeoDataFrame], sites: SiteChoice | None, category: str | None
) -> dict[str, str]:
    """Key/value facts of an export (attribution, region, weighting, sample notes, method …)."""
    from ..planning.summary import WEIGHT_LABELS

    data = result.data
    fac = data.facilities
    n_sample = int((fac["source"] == "sample").sum()) if len(fac) else 0
    info = {
        "title": "circles — 15-minute community life circle (15分钟社区生活圈) export",
        "attribution": OSM_ATTRIBUTION,
        "license": LICENSE,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "circles_version": __version__,
        "region": f"{data.region.key} {data.region.name_zh}".strip(),
        "data_source": data.region.source or "",
        "crs": "EPSG:4326 (WGS84 longitude/latitude degrees); areas and distances computed in "
        + data.region.metric_crs,
        "weight_kind": data.weight_kind,
        "weighting": WEIGHT_LABELS.get(data.weight_kind, data.weight_kind),
        "sample_data": (
            f"{n_sample} facilities are SAMPLE data (source = sample), not observed; coverage, gaps "
            "and sites that depend on them are marked "
            "(sample_cats, nearest_facility_source, baseline, sources)"
        )
        if n_sample
        else "no sample data used",
        "layers": ", ".join(f"{k} ({len(v)})" for k, v in layers.items()),
    }
    cat = category or (sites.category if sites is not None else None)
    if cat:
        c = data.catalog.get(cat)
        info["category"] = f"{cat} {c.name_zh} {c.name_en}"
    if sites is not None:
        info.update(_sites_info(sites))
    for i, note in enumerate(data.notes, start=1):
        info[f"note_{i}"] = note
    return info


def _sites_info(sites: SiteChoice) -> dict[str, str]:
    """Facts of the site choice: method, k, objective and bound, model size, baseline, notes."""
    s = sites.solution
    unit = "m² of residential area" if sites.weight_kind == "area" else "residents"
    info = {
        "sites_method": s.method,
        "sites_k": str(sites.k),
        "sites_objective": f"{s.objective:.1f} {unit} newly covered",
        "sites_bound": f"{s.bound:.1f} (gap {100 * s.gap:.2f}%)",
        "sites_greedy_objective": f"{s.greedy_objective:.1f}",
        "sites_model": f"{len(sites.candidates)} candidates, {sites.demand_points} uncovered points in "
        f"{s.n_groups} groups, {s.n_variables} variables, {s.n_constraints} constraints, "
        f"{s.solve_time_s:.3f} s",
        "sites_baseline": ", ".join(f"{k}:{v}" for k, v in sites.baseline.items()) or "none",
    }
    for i, note in enumerate(sites.notes, start=1):
        info[f"sites_note_{i}"] = note
    return info
