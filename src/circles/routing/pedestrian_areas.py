"""Pedestrian areas (squares, plazas) are walkable across, not only along their outline.

OSM maps a square as a closed way tagged ``highway=pedestrian`` + ``area=yes``; read as a street, only
its outline would be walked, so a walk from one corner to the opposite one would go round two sides
instead of across. Here each such area gets straight "crossing" segments between pairs of its ring
nodes whose connecting segment lies inside the area (``shapely.covers``, vectorised over all pairs of
one area): a visibility graph. Shortest paths inside a simple polygon bend only at its vertices, so with
every ring node as a candidate the walk across is exact; a ring with more than ``max_nodes`` nodes keeps
only its street junctions (nodes shared with another walkable way), where walks enter and leave it.

Not handled: multipolygon relations (squares with holes), and obstacles inside an area that are mapped
as separate objects (buildings, fountains) are not subtracted. All coordinates are in the network's
metric CRS (metres).
"""

from __future__ import annotations

import logging

import numpy as np
import shapely

from ..io.osm import OsmWays

__all__ = ["AREA_HIGHWAYS", "DEFAULT_MAX_AREA_NODES", "pedestrian_area_segments"]

log = logging.getLogger(__name__)

#: ``highway`` values whose closed ``area=yes`` ways are walked across.
AREA_HIGHWAYS = frozenset({"pedestrian"})
#: Rings with more nodes keep only their junctions as crossing candidates (pairs grow as n², per area).
DEFAULT_MAX_AREA_NODES = 60
#: Tolerance (metres) so a crossing that grazes the outline still counts as inside.
_COVER_TOLERANCE_M = 0.01


def _area_ways(ways: OsmWays, walkable: np.ndarray) -> list[int]:
    """Indices of walkable, closed ``highway=pedestrian`` + ``area=yes`` ways with at least 3 corners."""
    out = []
    for i, tags in enumerate(ways.tags):
        if tags.get("highway") not in AREA_HIGHWAYS or tags.get("area") != "yes" or not walkable[i]:
            continue
        lo, hi = ways.offsets[i], ways.offsets[i + 1]
        if hi - lo >= 4 and ways.node_ids[lo] == ways.node_ids[hi - 1]:
            out.append(i)
    return out


def _junction_ids(ways: OsmWays, walkable: np.ndarray) -> np.ndarray:
    """Sorted OSM ids of nodes used by two or more walkable ways."""
    n_nodes = np.diff(ways.offsets)
    way_of = np.repeat(np.arange(len(n_nodes)), n_nodes)
    keep = walkable[way_of]
    pairs = np.unique(np.column_stack([way_of[keep], ways.node_ids[keep]]), axis=0)
    ids, counts = np.unique(pairs[:, 1], return_counts=True)
    return ids[counts >= 2]


def _area_pairs(
    ring: np.ndarray, xy: np.ndarray, junction: np.ndarray, max_nodes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (positions in ``ring``) of candidate nodes whose straight segment lies in the ring's area."""
    n = len(ring)
    cand = np.arange(n) if n <= max_nodes else np.flatnonzero(junction)[:max_nodes]
    if len(cand) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    area = shapely.Polygon(xy)
    if not area.is_valid:
        area = shapely.make_valid(area)
    area = area.buffer(_COVER_TOLERANCE_M)
    i, j = np.triu_indices(len(cand), k=1)
    a, b = cand[i], cand[j]
    # neighbours along the ring are already segments
    gap = np.abs(a - b)
    a, b = a[(gap != 1) & (gap != n - 1)], b[(gap != 1) & (gap != n - 1)]
    if len(a) == 0:
        return a, b
    lines = shapely.linestrings(np.stack([xy[a], xy[b]], axis=1))
    inside = shapely.covers(area, lines)
    return a[inside], b[inside]


def pedestrian_area_segments(
    ways: OsmWays,
    walkable: np.ndarray,
    osm_ids: np.ndarray,
    node_xy: np.ndarray,
    *,
    max_nodes: int = DEFAULT_MAX_AREA_NODES,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crossing segments of every walkable pedestrian area: ``(seg_u, seg_v, way_index)``.

    ``walkable[i]`` says way ``i`` may be walked; ``osm_ids`` (sorted) are the network's node ids and
    ``node_xy`` their coordinates (metres); the result indexes those nodes and ``ways``.
    """
    areas = _area_ways(ways, walkable)
    empty = np.zeros(0, np.int64)
    if not areas:
        return empty, empty, empty
    junctions = _junction_ids(ways, walkable)
    us, vs, ws = [], [], []
    for i in areas:
        ring_ids = ways.node_ids[ways.offsets[i] : ways.offsets[i + 1] - 1]  # without the closing node
        pos = np.searchsorted(osm_ids, ring_ids)
        if np.any(pos >= len(osm_ids)) or np.any(osm_ids[np.clip(pos, 0, len(osm_ids) - 1)] != ring_ids):
            continue  # a ring node is not in the network (should not happen for a kept way)
        junction = np.isin(ring_ids, junctions)
        a, b = _area_pairs(pos, node_xy[pos], junction, max_nodes)
        us.append(pos[a])
        vs.append(pos[b])
        ws.append(np.full(len(a), i, dtype=np.int64))
    seg_u, seg_v, way = (np.concatenate(x).astype(np.int64) for x in (us, vs, ws))
    log.info("pedestrian areas: %d areas walkable across, %d crossing segments", len(areas), len(seg_u))
    return seg_u, seg_v, way
