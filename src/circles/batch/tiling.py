"""Tiles with a halo: a large region cut into square tiles, each computed on its own and exactly.

Each community belongs to exactly one tile, the one holding its representative point. A tile is
computed on the street network clipped to its **core box** (the bounding box of its communities'
polygons and resident points, network CRS metres) grown by a **halo** of

    halo_m = horizon_s x speed_m_s + max_snap_m + min_component_m

where ``horizon_s`` is the largest time the results report (the largest category threshold and
service level, or more when asked), ``speed_m_s`` the fastest speed of any travel profile the tile's
communities use, on any street or off it, ``max_snap_m`` the farthest a point may lie from its street
and ``min_component_m`` the street length below which a disconnected piece takes no start points
(:data:`circles.routing.graph.DEFAULT_MIN_SNAP_COMPONENT_M`). The clip keeps every segment whose
bounding box meets the grown box, with its length and access flags unchanged.

Why nothing inside the tile changes (``T`` the horizon, ``v`` the speed, ``D = T v``):

1. *Routes.* A trip of ``t <= T`` seconds — off-street legs, partial segments and whole segments —
   never gets farther than ``t v <= D`` (straight line) from where it starts, so every segment it uses
   meets the grown box and is kept with the same travel time.
2. *Pieces.* A kept segment whose distance to the outside of the box is at least ``L`` lies in a
   clipped piece that is either its whole original component or has at least ``L`` metres of street:
   a piece that lost a segment reaches a node outside the box. So a segment within
   ``D + max_snap_m`` of the core box (distance to the outside >= ``min_component_m``) is snappable
   in the tile exactly when it is in the region, and no segment becomes snappable by clipping.
3. *Snaps.* A resident point keeps its street (its street is within ``max_snap_m``); so does every
   facility within ``D`` of the core box (its street is within ``D + max_snap_m``). A facility farther
   away reaches no resident within ``T``, in the region or in the tile (by 1).

Hence every time ``<= T`` at a resident point is the same in the tile as in the region, and a time
``> T`` stays ``> T``: shares within any threshold ``<= T`` are equal, and so are nearest times, which
the batch reports up to ``T`` (beyond it: ``inf``, "not within the horizon"). The one assumption: the
clipped network's largest piece has at least ``min_component_m`` metres of street (the region's own
main piece is never an "island"); :func:`check_tile_graphs` refuses a tile where it has not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from ..catalog import COMMUNITY_PROFILES, LEVELS_MIN, Catalog
from ..config import Region, get_profile
from ..errors import CirclesError
from ..measures import DEFAULT_MEASURE, distance_profile, judged_by, search_profile
from ..pipeline import PlanData
from ..routing.graph import DEFAULT_MIN_SNAP_COMPONENT_M, ProfileGraph
from ..routing.load import profile_graph
from ..routing.network import StreetNetwork

__all__ = [
    "BoxM",
    "HaloBound",
    "Tile",
    "TileInputs",
    "TilingError",
    "check_tile_graphs",
    "clip_network",
    "community_profiles",
    "community_types",
    "core_box",
    "distance_horizon_m",
    "halo_bound",
    "horizon_s",
    "representative_xy",
    "tile_grid",
    "tile_inputs",
    "tile_plan_data",
]

#: (min_x, min_y, max_x, max_y) in the network CRS, metres.
BoxM = tuple[float, float, float, float]


class TilingError(CirclesError, RuntimeError):
    """A tile cannot be computed exactly on its own (see :func:`check_tile_graphs`)."""


@dataclass(frozen=True)
class HaloBound:
    """The halo a tile needs: ``horizon_s`` (s) x ``speed_m_s`` (m/s) + ``max_snap_m`` +
    ``min_component_m`` (metres). See the module docstring for why it suffices."""

    horizon_s: float
    speed_m_s: float
    max_snap_m: float
    min_component_m: float = DEFAULT_MIN_SNAP_COMPONENT_M

    @property
    def reach_m(self) -> float:
        """Farthest a trip of ``horizon_s`` gets from its start, straight line (metres)."""
        return self.horizon_s * self.speed_m_s

    @property
    def halo_m(self) -> float:
        """Width of the halo around a tile's core box, metres."""
        return self.reach_m + self.max_snap_m + self.min_component_m

    def as_dict(self) -> dict[str, float]:
        return {
            "horizon_s": self.horizon_s,
            "speed_m_s": self.speed_m_s,
            "max_snap_m": self.max_snap_m,
            "min_component_m": self.min_component_m,
            "halo_m": self.halo_m,
        }


def community_profiles(community_types: Iterable[str]) -> set[str]:
    """The travel profiles the communities of these types use (walking for urban and industrial,
    cycling for rural)."""
    return {COMMUNITY_PROFILES.get(str(t), "walk") for t in community_types}


def horizon_s(
    catalog: Catalog,
    categories: Iterable[str] | None,
    community_types: Iterable[str],
    horizon_min: float | None = None,
) -> float:
    """The largest time the results depend on, seconds: the largest service level
    (:data:`~circles.catalog.LEVELS_MIN`) and threshold of the ``categories`` (all when None) for the
    community types present, or ``horizon_min`` when that is larger."""
    keys = list(categories) if categories else list(catalog.keys())
    types = sorted({str(t) for t in community_types} & set(COMMUNITY_PROFILES))
    thresholds = [catalog.get(k).threshold_min(t) for k in keys for t in types]
    minutes = max([float(max(LEVELS_MIN)), *thresholds, *([horizon_min] if horizon_min else [])])
    return minutes * 60.0


def distance_horizon_m(
    catalog: Catalog, categories: Iterable[str] | None, community_types: Iterable[str]
) -> float:
    """The largest network walking distance a ``distance`` job's results depend on, metres: the largest
    level distance (``[[level]]`` tables) and category ``walk_m`` of the ``categories`` (all when None),
    when walking communities (judged by distance) are present; 0 otherwise."""
    types = {str(t) for t in community_types}
    if not any(judged_by(t, "distance") == "distance" for t in types & set(COMMUNITY_PROFILES)):
        return 0.0
    keys = list(categories) if categories else list(catalog.keys())
    metres = [float(lv.walk_m) for lv in catalog.level_table]
    metres += [float(w) for w in (catalog.get(k).walk_m for k in keys) if w is not None]
    return max(metres, default=0.0)


def halo_bound(
    graphs: dict[str, ProfileGraph], profiles: Iterable[str], horizon: float, max_snap_m: float
) -> HaloBound:
    """The halo for trips of up to ``horizon`` seconds on the ``profiles`` of ``graphs``: the fastest
    speed is the larger of each graph's fastest street speed and its off-street (walking) speed."""
    speed = max(max(graphs[p].max_speed_m_s, graphs[p].offstreet_speed_m_s) for p in sorted(set(profiles)))
    return HaloBound(horizon, float(speed), float(max_snap_m))


@dataclass(frozen=True)
class Tile:
    """One square of the tile grid: ``index`` (0.. over the non-empty tiles), grid ``col``/``row``,
    its square ``box_m`` (network CRS metres; points on its lower-left edges belong to it) and the rows
    of the communities table whose representative point lies in it."""

    index: int
    col: int
    row: int
    box_m: BoxM
    community_rows: tuple[int, ...] = field(repr=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "col": self.col,
            "row": self.row,
            "box_m": list(self.box_m),
            "communities": len(self.community_rows),
        }


def representative_xy(communities: gpd.GeoDataFrame, metric_crs: str) -> np.ndarray:
    """Each community's representative point (inside its polygon), network CRS metres, shape (n, 2)."""
    pts = communities.to_crs(metric_crs).representative_point()
    return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])


def tile_grid(xy: np.ndarray, tile_m: float) -> list[Tile]:
    """Cut the extent of ``xy`` (metres) into squares of ``tile_m`` and give each point to exactly one:
    column ``floor((x - min_x) / tile_m)`` (the last column also takes the right edge), likewise rows.
    Empty squares are dropped; a single tile means "no tiling needed"."""
    if not tile_m > 0:
        raise ValueError(f"tile_m must be > 0, got {tile_m!r}")
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if len(xy) == 0:
        return [Tile(0, 0, 0, (0.0, 0.0, 0.0, 0.0), ())]
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    ncol = max(1, math.ceil((x1 - x0) / tile_m))
    nrow = max(1, math.ceil((y1 - y0) / tile_m))
    col = np.clip(np.floor((xy[:, 0] - x0) / tile_m).astype(np.int64), 0, ncol - 1)
    row = np.clip(np.floor((xy[:, 1] - y0) / tile_m).astype(np.int64), 0, nrow - 1)
    tiles: list[Tile] = []
    for r in range(nrow):
        for c in range(ncol):
            rows = np.flatnonzero((col == c) & (row == r))
            if len(rows):
                box = (x0 + c * tile_m, y0 + r * tile_m, x0 + (c + 1) * tile_m, y0 + (r + 1) * tile_m)
                tiles.append(Tile(len(tiles), c, r, box, tuple(int(i) for i in rows)))
    return tiles


def clip_network(net: StreetNetwork, box_m: BoxM) -> StreetNetwork:
    """The segments of ``net`` whose bounding box meets ``box_m`` (network CRS metres), with their
    lengths and access flags unchanged and their nodes renumbered in the original order."""
    x0, y0, x1, y1 = box_m
    a, b = net.node_xy[net.seg_u], net.node_xy[net.seg_v]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = (lo[:, 0] <= x1) & (hi[:, 0] >= x0) & (lo[:, 1] <= y1) & (hi[:, 1] >= y0)
    nodes = np.unique(np.concatenate([net.seg_u[keep], net.seg_v[keep]]))
    return StreetNetwork(
        crs=net.crs,
        node_xy=net.node_xy[nodes],
        seg_u=np.searchsorted(nodes, net.seg_u[keep]),
        seg_v=np.searchsorted(nodes, net.seg_v[keep]),
        seg_len_m=net.seg_len_m[keep],
        foot_ok=net.foot_ok[keep],
        bike_ok=net.bike_ok[keep],
        bike_oneway=net.bike_oneway[keep],
        steps=net.steps[keep],
        snap_ok=net.snap_ok[keep],
        seg_way_id=None if net.seg_way_id is None else net.seg_way_id[keep],
        node_osm_id=None if net.node_osm_id is None else net.node_osm_id[nodes],
        source=f"{net.source} clipped to {', '.join(f'{v:.0f}' for v in box_m)} m",
    )


@dataclass
class TileInputs:
    """What one tile is computed from: the clipped network, its communities (whole-region rows, in
    order), their resident points and the facilities inside the grown box (EPSG:4326 tables; points in
    the network CRS)."""

    tile: Tile
    net: StreetNetwork
    communities: gpd.GeoDataFrame
    points: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    core_box_m: BoxM
    halo_box_m: BoxM


def core_box(communities_metric: gpd.GeoDataFrame, points: gpd.GeoDataFrame) -> BoxM:
    """Bounding box of the communities' polygons and their resident points (metres)."""
    parts = [communities_metric.total_bounds] + ([points.total_bounds] if len(points) else [])
    bounds = np.vstack(parts)
    return (
        float(bounds[:, 0].min()),
        float(bounds[:, 1].min()),
        float(bounds[:, 2].max()),
        float(bounds[:, 3].max()),
    )


def tile_inputs(
    tile: Tile,
    net: StreetNetwork,
    communities: gpd.GeoDataFrame,
    points: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    halo_m: float,
) -> TileInputs:
    """Cut one tile out of a loaded plan: its communities (by representative point, see
    :func:`tile_grid`) and their resident points, the network clipped to their core box grown by
    ``halo_m`` metres, and the facilities inside that box."""
    comm = communities.iloc[list(tile.community_rows)].reset_index(drop=True)
    ids = set(comm["community_id"].astype(str))
    pts = points[points["community_id"].astype(str).isin(ids)].reset_index(drop=True)
    core = core_box(comm.to_crs(net.crs), pts)
    grown = (core[0] - halo_m, core[1] - halo_m, core[2] + halo_m, core[3] + halo_m)
    fac = facilities
    if len(fac):
        fxy = net.project(fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy())
        inside = (
            (fxy[:, 0] >= grown[0])
            & (fxy[:, 0] <= grown[2])
            & (fxy[:, 1] >= grown[1])
            & (fxy[:, 1] <= grown[3])
        )
        fac = fac[inside]
    return TileInputs(tile, clip_network(net, grown), comm, pts, fac.reset_index(drop=True), core, grown)


def check_tile_graphs(
    graphs: dict[str, ProfileGraph], min_component_m: float = DEFAULT_MIN_SNAP_COMPONENT_M
) -> None:
    """Refuse a tile whose clipped network's largest piece is shorter than ``min_component_m``: there a
    piece the region counts as an island would take start points (communities far off the streets).
    :class:`TilingError` says to run the job untiled."""
    for name, g in graphs.items():
        if g.islands.main_street_m < min_component_m:
            raise TilingError(
                f"the tile's {name} network has no connected piece of {min_component_m:.0f} m of street "
                f"(largest: {g.islands.main_street_m:.0f} m): its communities lie off the street network "
                "and the tile cannot be computed on its own; run the job with tile_km = 0"
            )


def community_types(communities: pd.DataFrame) -> list[str]:
    """The distinct community types of a communities table, sorted."""
    return sorted({str(t) for t in communities["type"]})


def tile_plan_data(
    net: StreetNetwork,
    communities: gpd.GeoDataFrame,
    points: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    region: Region,
    catalog: Catalog,
    weight_kind: str,
    measure: str = DEFAULT_MEASURE,
) -> PlanData:
    """A tile's inputs (e.g. of :func:`tile_inputs`) as :class:`~circles.pipeline.PlanData` for
    :func:`~circles.pipeline.run_plan`: travel-time graphs for the profiles its communities use (under
    the ``distance`` measure also the 1 m/s twins its walking communities are searched on), checked
    with :func:`check_tile_graphs`. ``weight_kind`` is the whole job's (the tile's points are its)."""
    graphs = {p: profile_graph(net, p) for p in sorted(community_profiles(communities["type"]))}
    for t in sorted({str(t) for t in communities["type"]}):
        base = COMMUNITY_PROFILES.get(t, "walk")
        name = search_profile(base, t, measure)
        if name not in graphs:
            graphs[name] = profile_graph(net, distance_profile(get_profile(base)))
    check_tile_graphs(graphs)
    return PlanData(
        region, net, graphs, catalog, communities, facilities, points, weight_kind, [], measure=measure
    )
