"""Candidate micro-renewal sites found in an OpenStreetMap extract: surface parking, vacant and
brownfield land, construction sites, green spaces, disused buildings, markets (the kinds of
:data:`circles.io.candidates.CANDIDATE_KINDS`), each with its OSM tags so that the suitability rules
(``data/site_rules.toml``) can say which are usable and why. Tables are in WGS84 (EPSG:4326, degrees),
areas in m².

Map data © OpenStreetMap contributors (ODbL).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from .._common import WGS84, check_bbox
from . import _osm_objects
from .candidates import CANDIDATE_KINDS, CandidateKind, candidate_frame, kind_of
from .osm_features import DEFAULT_METRIC_CRS

__all__ = ["osm_candidates"]

log = logging.getLogger(__name__)


def osm_candidates(
    osm_path: Path | str,
    bbox: Iterable[float] | None = None,
    metric_crs: str = DEFAULT_METRIC_CRS,
) -> gpd.GeoDataFrame:
    """Candidate micro-renewal sites found in an OSM file, EPSG:4326.

    Kinds (:data:`~circles.io.candidates.CANDIDATE_KINDS`, first match wins): ``idle_building``
    (buildings tagged ``disused``/``abandoned``/``vacant=yes``, ``disused:*``/``abandoned:*`` or
    ``building=ruins``…), ``vacant_land`` (``landuse=brownfield|greenfield|vacant``), ``parking``
    (surface ``amenity=parking``), ``construction`` (``landuse=construction``), ``green_space``
    (``landuse=grass|village_green|meadow``, ``leisure=park|garden``) and ``market``
    (``amenity=marketplace``, for 功能置换). Every match is kept, also parks, private gardens and
    large sites: the suitability rules mark them unusable with their reason. Areas (closed ways,
    multipolygons) keep their polygon (repaired with ``make_valid``) and ``area_m2`` (m², in
    ``metric_crs``); tagged nodes are points with ``area_m2`` NaN; open ways are skipped.

    Columns: :data:`~circles.io.candidates.CANDIDATE_COLUMNS` — ``site_id`` (``osm:w123``), ``kind``,
    ``kind_zh``, ``name`` (``name`` or ``name:zh``, else empty), ``area_m2``, ``source`` (``'osm'``),
    ``osm_tag`` (the tag that matched), ``tags`` (all its tags, JSON text); ``user_usable`` NaN and
    ``user_reason`` empty. With ``bbox`` (WGS84 degrees) only sites whose representative point lies
    inside are kept.
    """
    box = check_bbox(bbox)
    found = _osm_objects.read_features(Path(osm_path), lambda t: kind_of(t) is not None, nodes=True)
    rows: list[dict[str, Any]] = []
    geoms: list[BaseGeometry] = []
    reps: list[BaseGeometry] = []
    too_big = 0
    for f, poly, area in _area_sites(found.areas, metric_crs):
        kind, text = _kind(f)
        if kind.max_area_m2 is not None and area > kind.max_area_m2:
            too_big += 1
            continue
        rows.append(_osm_row(f, kind, text, area))
        geoms.append(poly)
        reps.append(shapely.point_on_surface(poly))
    for f in found.nodes:
        kind, text = _kind(f)
        if kind.max_area_m2 is not None:  # size unknown: the kind's limit cannot be checked
            too_big += 1
            continue
        rows.append(_osm_row(f, kind, text, np.nan))
        geoms.append(f.geometry)
        reps.append(f.geometry)
    inside = _osm_objects.points_in_bbox(np.asarray(reps, dtype=object), box)
    gdf = _sorted(candidate_frame(_kept(rows, inside), _kept(geoms, inside)))
    counts = gdf["kind"].value_counts().to_dict() if len(gdf) else {}
    log.info(
        "%s: %d candidate sites (%s); %d above their kind's size limit or of unknown size left out",
        osm_path,
        len(gdf),
        ", ".join(f"{k.key} {counts.get(k.key, 0)}" for k in CANDIDATE_KINDS),
        too_big,
    )
    return gdf


def _area_sites(
    areas: list[_osm_objects.OsmFeature], metric_crs: str
) -> list[tuple[_osm_objects.OsmFeature, BaseGeometry, float]]:
    """(feature, repaired polygon in WGS84, area in m² in ``metric_crs``) of the areas with a polygon."""
    polys = [_osm_objects.clean_polygons(g) for g in _osm_objects.area_geoms(areas)] if areas else []
    keep = [(f, p) for f, p in zip(areas, polys) if p is not None]
    if not keep:
        return []
    metric_area = gpd.GeoSeries([p for _, p in keep], crs=WGS84).to_crs(metric_crs).area.to_numpy()
    return [(f, p, float(a)) for (f, p), a in zip(keep, metric_area)]


def _kind(feature: _osm_objects.OsmFeature) -> tuple[CandidateKind, str]:
    """The kind of a feature read with the :func:`kind_of` filter (so it has one)."""
    match = kind_of(feature.tags)
    if match is None:  # pragma: no cover - read_features kept only matching features
        raise ValueError(f"{feature.osm_id} is no candidate site")
    return match


def _kept(items: list[Any], inside: np.ndarray) -> list[Any]:
    return [x for x, ok in zip(items, inside) if ok]


def _sorted(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rows ordered by kind (:data:`CANDIDATE_KINDS` order), then OSM id (nodes, ways, relations)."""
    if not len(gdf):
        return gdf
    order = pd.DataFrame(
        {
            "k": gdf["kind"].map({k.key: i for i, k in enumerate(CANDIDATE_KINDS)}),
            "t": gdf["site_id"].str[4].map({"n": 0, "w": 1, "r": 2}),
            "n": gdf["site_id"].str[5:].astype("int64"),
        }
    )
    return gdf.loc[order.sort_values(["k", "t", "n"], kind="stable").index].reset_index(drop=True)


def _osm_row(
    feature: _osm_objects.OsmFeature, kind: CandidateKind, text: str, area_m2: float
) -> dict[str, Any]:
    tags: Mapping[str, str] = feature.tags
    return {
        "site_id": feature.osm_id,
        "kind": kind.key,
        "kind_zh": kind.name_zh,
        "name": tags.get("name") or tags.get("name:zh") or "",
        "area_m2": area_m2,
        "source": "osm",
        "osm_tag": text,
        "tags": json.dumps(dict(sorted(tags.items())), ensure_ascii=False),
    }
