"""A straight synthetic street with hand-worked answers for sites, exports and maps (see
tests/planning/test_sites.py for the picture)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
from shapely.geometry import Point, box

from circles.catalog import load_catalog
from circles.config import Region, get_profile
from circles.pipeline import PlanData, PlanOptions, run_plan
from circles.routing.graph import ProfileGraph

from grids import X0, Y0, grid_network

CRS = "EPSG:32648"
POINTS = {"p1": 2400, "p2": 2700, "p3": 3300, "p4": 3600, "p5": 1200, "p6": 4800, "p7": 6500}
WEIGHTS = {"p1": 100.0, "p2": 100.0, "p3": 100.0, "p4": 100.0, "p5": 150.0, "p6": 150.0, "p7": 1000.0}
NAMES = {p: f"测试小区{p[1]}" for p in POINTS}


def to_wgs(geoms):
    return gpd.GeoSeries(list(geoms), crs=CRS).to_crs("EPSG:4326")


def synthetic_plan(
    tmp_path: Path,
    *,
    points=POINTS,
    weights=WEIGHTS,
    community_of=None,
    weight_kind="population",
    facilities=(("F", 6600.0, "canteen", "sample"),),
    categories=("canteen",),
):
    """A PlanResult on the straight street: one community per point unless ``community_of`` says."""
    net = grid_network(71, 1)
    graphs = {"walk": ProfileGraph(net, get_profile("walk"))}
    community_of = community_of or {p: f"c{p[1:]}" for p in points}
    comm_ids = list(dict.fromkeys(community_of[p] for p in points))
    xs = {c: [points[p] for p in points if community_of[p] == c] for c in comm_ids}
    wsum = {c: sum(weights[p] for p in points if community_of[p] == c) for c in comm_ids}
    boxes = [box(X0 + min(xs[c]) - 10, Y0 - 10, X0 + max(xs[c]) + 10, Y0 + 10) for c in comm_ids]
    people = weight_kind != "area"
    comm = gpd.GeoDataFrame(
        {
            "community_id": comm_ids,
            "name": [f"测试小区{c[1:]}" for c in comm_ids],
            "type": "urban",
            "district": "测试区",
            "area_m2": [wsum[c] if not people else 400.0 for c in comm_ids],
            "households": np.nan,
            "population": [wsum[c] if people else np.nan for c in comm_ids],
            "residents": [wsum[c] if people else np.nan for c in comm_ids],
            "source": "test",
        },
        geometry=to_wgs(boxes).to_numpy(),
        crs="EPSG:4326",
    )
    pts = gpd.GeoDataFrame(
        {
            "community_id": [community_of[p] for p in points],
            "weight": [weights[p] for p in points],
            "weight_kind": weight_kind,
        },
        geometry=[Point(X0 + x, Y0) for x in points.values()],
        crs=CRS,
    )
    fac = gpd.GeoDataFrame(
        {
            "facility_id": [f[0] for f in facilities],
            "category": [f[2] for f in facilities],
            "name": [f"现有{f[0]}" for f in facilities],
            "floor_area_m2": np.nan,
            "source": [f[3] for f in facilities],
        },
        geometry=to_wgs([Point(X0 + f[1], Y0) for f in facilities]).to_numpy()
        if facilities
        else gpd.GeoSeries([], crs="EPSG:4326"),
        crs="EPSG:4326",
    )
    lon0, lat0 = to_wgs([Point(X0 - 500, Y0 - 500)]).iloc[0].coords[0]
    lon1, lat1 = to_wgs([Point(X0 + 7500, Y0 + 500)]).iloc[0].coords[0]
    region = Region(
        key="synthetic",
        osm_path=tmp_path / "absent.osm.pbf",
        bbox=(lon0, lat0, lon1, lat1),
        metric_crs=CRS,
        name_zh="合成测试区",
        source="synthetic test street",
    )
    data = PlanData(region, net, graphs, load_catalog(), comm, fac, pts, weight_kind, ["synthetic"])
    return run_plan(data, PlanOptions(region="synthetic", categories=list(categories)))


def synthetic_candidates(extra=()):
    """A (point), B (polygon 30 m off the street), C (point), D (point) + extra (site_id, x, y, area)."""
    geoms = [
        Point(X0 + 3000, Y0),
        box(X0 + 1780, Y0 + 10, X0 + 1820, Y0 + 50),
        Point(X0 + 4200, Y0),
        Point(X0 + 6400, Y0),
    ]
    ids, names = ["A", "B", "C", "D"], ["甲地块", "乙停车场", "丙绿地", "丁空地"]
    areas = [np.nan, np.nan, 300.0, 50.0]
    for sid, x, y, a in extra:
        geoms.append(Point(X0 + x, Y0 + y))
        ids.append(sid)
        names.append(f"候选{sid}")
        areas.append(a)
    return gpd.GeoDataFrame(
        {
            "site_id": ids,
            "kind": "user",
            "kind_zh": "",
            "name": names,
            "area_m2": areas,
            "source": "user",
            "osm_tag": "",
        },
        geometry=to_wgs(geoms).to_numpy(),
        crs="EPSG:4326",
    )
