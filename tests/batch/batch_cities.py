"""Random synthetic cities for the tiling tests, and the tiled-versus-whole comparison (imported by tests).

A city is a street grid with holes, extra diagonal streets, staircases, one-way cycle streets, parking
aisles (no snapping) and short disconnected islands; community boxes of random size and type; facilities
of three categories at random places. Everything in UTM 48N metres around (400000, 3390000).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point, box

from circles.batch.outputs import COVERAGE_COLUMNS, coverage_partition
from circles.batch.tiling import (
    community_profiles,
    halo_bound,
    horizon_s,
    representative_xy,
    tile_grid,
    tile_inputs,
    tile_plan_data,
)
from circles.catalog import load_catalog
from circles.config import Region
from circles.pipeline import PlanData, PlanOptions, PlanResult, run_plan
from circles.planning.residents import resident_points
from circles.routing.load import profile_graph
from circles.routing.network import StreetNetwork

from grids import X0, Y0, grid_arrays

CRS = "EPSG:32648"
CATEGORIES = ("canteen", "park", "clinic")


def to_wgs(geoms) -> gpd.GeoSeries:
    return gpd.GeoSeries(list(geoms), crs=CRS).to_crs("EPSG:4326")


def random_network(rng: np.random.Generator, n: int, block_m: float) -> StreetNetwork:
    xy, u, v = grid_arrays(n, n, block_m, skip=lambda i, j: rng.random() < 0.08)
    # jittered nodes: no point is ever exactly as near to two streets (a snapping tie)
    xy = xy + rng.uniform(-6.0, 6.0, xy.shape)
    # diagonal streets between random nearby nodes, and short islands off the grid
    a = rng.integers(0, len(xy), n * 2)
    b = np.clip(a + rng.choice([n + 1, n - 1, 2 * n + 1], len(a)), 0, len(xy) - 1)
    islands = np.array([X0, Y0]) + rng.uniform(0, n * block_m, (n // 3, 2)) + [block_m / 2, block_m / 3]
    k = len(xy)
    xy = np.vstack([xy, islands, islands + [40.0, 0.0]])
    m = len(islands)
    u = np.concatenate([u, a, k + np.arange(m)])
    v = np.concatenate([v, b, k + m + np.arange(m)])
    used = np.unique(np.concatenate([u, v]))
    remap = np.full(len(xy), -1)
    remap[used] = np.arange(len(used))
    s = len(u)
    return StreetNetwork.from_segments(
        xy[used],
        remap[u],
        remap[v],
        crs=CRS,
        steps=rng.random(s) < 0.05,
        snap_ok=rng.random(s) > 0.05,
        bike_oneway=rng.choice([-1, 0, 0, 0, 0, 0, 0, 1], s),
        source="random synthetic city",
    )


def random_city(
    tmp_path: Path, seed: int, *, n: int = 40, block_m: float = 100.0, rural: bool = False
) -> PlanData:
    """A random city as :class:`PlanData` (people-weighted communities when ``seed`` is even)."""
    rng = np.random.default_rng(seed)
    net = random_network(rng, n, block_m)
    extent = n * block_m
    n_comm = 45
    x = X0 + rng.uniform(0, extent - 200, n_comm)
    y = Y0 + rng.uniform(0, extent - 200, n_comm)
    w, h = rng.uniform(30, 220, n_comm), rng.uniform(30, 220, n_comm)
    types = rng.choice(["urban", "industrial", "rural"] if rural else ["urban", "industrial"], n_comm)
    people = seed % 2 == 0
    metric = gpd.GeoDataFrame(
        {
            "community_id": [f"c{i:03d}" for i in range(n_comm)],
            "name": [f"小区{i}" for i in range(n_comm)],
            "type": types,
            "district": "测试区",
            "households": np.nan,
            "population": rng.integers(100, 3000, n_comm).astype(float) if people else np.nan,
            "source": "test",
        },
        geometry=[box(x0, y0, x0 + a, y0 + b) for x0, y0, a, b in zip(x, y, w, h)],
        crs=CRS,
    )
    points = resident_points(metric, spacing_m=40.0, max_points=30, seed=seed)
    comm = metric.to_crs("EPSG:4326")
    comm["area_m2"] = metric.area.to_numpy()
    comm["residents"] = comm["population"]
    n_fac = 30
    fxy = np.column_stack([X0 + rng.uniform(0, extent, n_fac), Y0 + rng.uniform(0, extent, n_fac)])
    fac = gpd.GeoDataFrame(
        {
            "facility_id": [f"f{i:03d}" for i in range(n_fac)],
            "category": rng.choice(CATEGORIES, n_fac),
            "name": [f"设施{i}" for i in range(n_fac)],
            "floor_area_m2": np.nan,
            "source": "sample",
        },
        geometry=to_wgs(Point(p) for p in fxy).to_numpy(),
        crs="EPSG:4326",
    )
    lon0, lat0, lon1, lat1 = comm.total_bounds
    region = Region(
        "synthetic", tmp_path / "absent.osm.pbf", (lon0 - 0.05, lat0 - 0.05, lon1 + 0.05, lat1 + 0.05), CRS
    )
    graphs = {p: profile_graph(net, p) for p in community_profiles(types) | {"walk"}}
    kind = points.attrs["weight_kind"]
    return PlanData(region, net, graphs, load_catalog(), comm, fac, points, kind, ["synthetic"])


def plan_options(max_snap_m: float = 120.0) -> PlanOptions:
    return PlanOptions(region="synthetic", categories=list(CATEGORIES), max_snap_m=max_snap_m)


def tiled_and_whole(
    data: PlanData, opts: PlanOptions, tile_m: float, halo_m: float | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """The batch coverage rows of the whole city and of its tiles merged (both sorted by community and
    category), and the number of tiles. ``halo_m`` overrides the bound (to show it is needed)."""
    whole: PlanResult = run_plan(data, opts)
    types = sorted(set(data.communities["type"]))
    horizon = horizon_s(data.catalog, opts.categories, types)
    bound = halo_bound(data.graphs, community_profiles(types), horizon, opts.max_snap_m)
    halo = bound.halo_m if halo_m is None else halo_m
    tiles = tile_grid(representative_xy(data.communities, data.net.crs), tile_m)
    parts = []
    for tile in tiles:
        ti = tile_inputs(tile, data.net, data.communities, data.points, data.facilities, halo)
        td = tile_plan_data(
            ti.net,
            ti.communities,
            ti.points,
            ti.facilities,
            region=data.region,
            catalog=data.catalog,
            weight_kind=data.weight_kind,
        )
        parts.append(coverage_partition(run_plan(td, opts), horizon))
    key = ["community_id", "category"]
    merged = pd.concat(parts, ignore_index=True).sort_values(key, ignore_index=True)
    single = coverage_partition(whole, horizon).sort_values(key, ignore_index=True)
    return merged, single, len(tiles)


def assert_same_rows(merged: pd.DataFrame, single: pd.DataFrame) -> None:
    """Every coverage column equal, bit for bit (NaN equal to NaN), and the same polygons."""
    assert len(merged) == len(single)
    for col in COVERAGE_COLUMNS:
        a, b = merged[col].to_numpy(), single[col].to_numpy()
        if a.dtype.kind == "f":
            same = (a == b) | (np.isnan(a) & np.isnan(b))
        else:
            same = a == b
        assert same.all(), f"{col}: {np.flatnonzero(~same)[:5]} {a[~same][:5]} != {b[~same][:5]}"
    assert merged.geometry.geom_equals_exact(single.geometry, tolerance=0).all()


def street_city(
    tmp_path: Path,
    streets: list[tuple[tuple[float, float], tuple[float, float], float]],
    communities: dict[str, tuple[float, float]],
    facilities: dict[str, tuple[str, float, float]],
) -> PlanData:
    """A hand-drawn city (offsets in metres from (X0, Y0)): straight ``streets`` ``(start, end, node
    spacing)``, one resident point (weight 1) per community with a 20 m box around it, facilities
    ``{id: (category, x, y)}``."""
    xy_parts, u_parts, v_parts, k = [], [], [], 0
    for (x0, y0), (x1, y1), step_m in streets:
        n = int(round(np.hypot(x1 - x0, y1 - y0) / step_m)) + 1
        xy_parts.append(np.column_stack([np.linspace(x0, x1, n), np.linspace(y0, y1, n)]) + [X0, Y0])
        u_parts.append(k + np.arange(n - 1))
        v_parts.append(k + np.arange(1, n))
        k += n
    net = StreetNetwork.from_segments(
        np.vstack(xy_parts), np.concatenate(u_parts), np.concatenate(v_parts), crs=CRS
    )
    ids = list(communities)
    pts = [Point(X0 + x, Y0 + y) for x, y in communities.values()]
    comm = gpd.GeoDataFrame(
        {
            "community_id": ids,
            "name": ids,
            "type": "urban",
            "district": "",
            "area_m2": 400.0,
            "households": np.nan,
            "population": 1.0,
            "residents": 1.0,
        },
        geometry=to_wgs(p.buffer(10, cap_style="square") for p in pts).to_numpy(),
        crs="EPSG:4326",
    )
    points = gpd.GeoDataFrame(
        {"community_id": ids, "weight": 1.0, "weight_kind": "population"}, geometry=pts, crs=CRS
    )
    fac = gpd.GeoDataFrame(
        {
            "facility_id": list(facilities),
            "category": [c for c, _, _ in facilities.values()],
            "name": list(facilities),
            "floor_area_m2": np.nan,
            "source": "sample",
        },
        geometry=to_wgs(Point(X0 + x, Y0 + y) for _, x, y in facilities.values()).to_numpy(),
        crs="EPSG:4326",
    )
    lon0, lat0, lon1, lat1 = to_wgs([box(X0 - 5000, Y0 - 5000, X0 + 5000, Y0 + 5000)]).total_bounds
    region = Region("street", tmp_path / "absent.osm.pbf", (lon0, lat0, lon1, lat1), CRS)
    graphs = {"walk": profile_graph(net, "walk")}
    return PlanData(region, net, graphs, load_catalog(), comm, fac, points, "population", [])
