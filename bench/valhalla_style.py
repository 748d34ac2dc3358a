"""Diagnostic: circles' walking times drawn as Valhalla draws its isochrone polygons.

Valhalla (``src/thor/isochrone.cc``, ``valhalla/midgard/gridded_data.h``,
``src/tyr/isochrone_serializer.cc``) does not buffer the reached streets. It writes times into a lon/lat
grid and contours the grid:

1. **Grid** (``Isochrone::ConstructIsoTile``): the search runs to the largest contour + 10 minutes
   (``METRIC_PADDING``); for pedestrian costing the grid's half-width is that time at 5 mph, and the cell
   size is ``dlat / 300`` rounded to 0.001 degree and clamped to [0.001, 0.005] degree, so every walking
   isochrone under ~2 h uses **0.001 degree cells** (111 m north-south; 95 m east-west in Chengdu, 55 m in
   Helsinki). The grid is shifted so the request location is a cell centre, and its cell gets 0.
2. **Times into cells** (``Isochrone::UpdateIsoTile`` / ``UpdateIsoTileAlongSegment``): each settled edge's
   shape is resampled every ``shape_interval = 0.25 * cell`` (27.6 m) and every cell a resampled
   sub-segment touches gets ``min(cell, time at the sub-segment's far end)``; edges under 1.5 intervals
   mark the cells along the straight line between their two nodes with the end time. Nothing is written
   to cells no edge touches: there is no spread to neighbour cells and no off-network walking time.
3. **Contour** (``GriddedData::GenerateContours``, CONREC): the cell values are samples at the cell
   centres; each square of four centres is split into four triangles around its centre (value: the mean
   of the four) and the contour is interpolated linearly. A cell no edge reached counts as **contour +
   1 minute** (``s = 1.0``, "a bit of a hack"), so the outline between a reached cell of time ``t`` and an
   empty neighbour lies ``(c - t) / (c - t + 1)`` of the way to the neighbour's centre: ~0.5 cell past a
   cell reached one minute before the threshold, ~0.9 cell past one reached ten minutes before.
4. **Rings** (``GenerateContours`` then ``GroupContours``): ``denoise`` (default 1) drops every ring
   (outer or hole) whose area is under ``denoise`` times the largest ring's, so by default only the
   largest outer ring is kept: no holes, no islands. ``generalize`` (default: ``0.25 * cell`` = 27.6 m,
   ``kOptimalGeneralization``) is the Douglas-Peucker tolerance applied to each ring.

:func:`valhalla_style_polygons` applies rules 1-4 to circles' node times (the same search as its
isochrones, run to the same + 10 minutes), so comparing its output with Valhalla's contours isolates the
network and costing (same polygon rule on both sides), and comparing it with circles' own polygons
isolates the polygon construction (same times on both sides). Approximations: times along an edge are
exact (the best of its two ends, not the end of a 27.6 m step from the direction settled first), and
cells are found by sampling each street every ``SAMPLE_M`` metres rather than by Bresenham.
"""

from __future__ import annotations

import math
from typing import cast

import contourpy
import numpy as np
import shapely

from circles.routing.graph import NodeTimes, ProfileGraph, Snap

#: Valhalla's ``kMetersPerDegreeLat`` (midgard/constants.h) and ``kMPHtoMetersPerSec``.
M_PER_DEG_LAT = 110567.0
MPH_M_S = 0.44704
#: Valhalla's ``METRIC_PADDING``: the grid holds times to the largest contour + 10 minutes.
PADDING_MIN = 10.0
#: Every street is sampled this often (metres) to find the cells it touches (cells are >= 55 m wide).
SAMPLE_M = 5.0


def grid_size_deg(max_minutes: float) -> float:
    """Cell size (degrees) of Valhalla's pedestrian isotile for contours up to ``max_minutes``."""
    max_m = (max_minutes + PADDING_MIN) * 60.0 * 5.0 * MPH_M_S
    size = max_m / M_PER_DEG_LAT / 300.0
    if size < 0.001:
        return 0.001
    if size > 0.005:
        return 0.005
    return round(size * 1000.0) * 0.001


def optimal_generalize_m(cell_deg: float) -> float:
    """Valhalla's default Douglas-Peucker tolerance (``kOptimalGeneralization``): a quarter cell, metres."""
    return cell_deg * 0.25 * M_PER_DEG_LAT


def _sample_times(g: ProfileGraph, times: NodeTimes) -> tuple[np.ndarray, np.ndarray]:
    """Points every <= SAMPLE_M along every touched segment (network CRS) and their times (s)."""
    net = g.net
    seg = times.segments_touched()
    t = times.time_s
    tu, tv = t[net.seg_u[seg]], t[net.seg_v[seg]]
    L = net.seg_len_m[seg]
    trav = g.time_s[seg]
    n = np.maximum(np.ceil(L / SAMPLE_M).astype(np.int64), 1) + 1
    rows = np.repeat(np.arange(len(seg)), n)
    frac = (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)) / np.repeat(n - 1, n)
    from_u = np.where(g.fwd[seg], tu, np.inf)[rows] + frac * trav[rows]
    from_v = np.where(g.bwd[seg], tv, np.inf)[rows] + (1.0 - frac) * trav[rows]
    ts = np.minimum(from_u, from_v)
    p_u = net.node_xy[net.seg_u[seg]][rows]
    p_v = net.node_xy[net.seg_v[seg]][rows]
    xy = p_u + (p_v - p_u) * frac[:, None]
    src_xy, src_t = _source_samples(g, times.sources)
    return np.concatenate([xy, src_xy]), np.concatenate([ts, src_t])


def _source_samples(g: ProfileGraph, src: Snap) -> tuple[np.ndarray, np.ndarray]:
    """The start points' own segments: time from the snapped point along the segment (s)."""
    net = g.net
    xys, ts = [np.empty((0, 2))], [np.empty(0)]
    for i in np.flatnonzero(src.seg >= 0):
        j = int(src.seg[i])
        t0 = src.offstreet_m[i] / g.offstreet_speed_m_s
        n = max(int(math.ceil(net.seg_len_m[j] / SAMPLE_M)), 1) + 1
        frac = np.linspace(0.0, 1.0, n)
        p_u, p_v = net.node_xy[net.seg_u[j]], net.node_xy[net.seg_v[j]]
        xys.append(p_u + (p_v - p_u) * frac[:, None])
        ts.append(t0 + np.abs(frac - src.frac[i]) * g.time_s[j])
    return np.concatenate(xys), np.concatenate(ts)


def time_grid(
    g: ProfileGraph, times: NodeTimes, center_lonlat: np.ndarray, cell_deg: float, max_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Valhalla's isotile from circles' times: minutes per cell (``inf``: no edge wrote to it) and the
    lon/lat of the cell centres (1-D arrays), the request location at a cell centre."""
    xy, ts = _sample_times(g, times)
    keep = ts < max_s
    lon, lat = g.net.to_wgs84().transform(xy[keep, 0], xy[keep, 1])
    ci = np.rint((np.asarray(lon) - center_lonlat[0]) / cell_deg).astype(np.int64)
    cj = np.rint((np.asarray(lat) - center_lonlat[1]) / cell_deg).astype(np.int64)
    ci = np.append(ci, 0)  # ConstructIsoTile: the location's own cell gets 0
    cj = np.append(cj, 0)
    minutes = np.append(ts[keep] / 60.0, 0.0)
    i0, j0 = ci.min() - 2, cj.min() - 2
    grid = np.full((cj.max() - j0 + 3, ci.max() - i0 + 3), np.inf)
    np.minimum.at(grid, (cj - j0, ci - i0), minutes)
    xs = center_lonlat[0] + (np.arange(grid.shape[1]) + i0) * cell_deg
    ys = center_lonlat[1] + (np.arange(grid.shape[0]) + j0) * cell_deg
    return grid, xs, ys


def contour_polygon(grid: np.ndarray, xs: np.ndarray, ys: np.ndarray, minutes: float) -> shapely.Geometry:
    """CONREC's filled region ``value < minutes`` (lon/lat), empty cells counted as ``minutes + 1``."""
    s = np.where(np.isfinite(grid), grid - minutes, 1.0)
    gen = contourpy.contour_generator(
        xs, ys, s, name="serial", quad_as_tri=True, fill_type=contourpy.FillType.OuterOffset
    )
    points, offsets = cast(tuple[list[np.ndarray], list[np.ndarray]], gen.filled(-1e9, 0.0))
    polys = []
    for pts, offs in zip(points, offsets):
        rings = [pts[offs[k] : offs[k + 1]] for k in range(len(offs) - 1)]
        polys.append(shapely.Polygon(rings[0], rings[1:]))
    return shapely.union_all(polys) if polys else shapely.Polygon()


def denoise_generalize(geom: shapely.Geometry, denoise: float, generalize_m: float) -> shapely.Geometry:
    """Valhalla's ring filter and simplification (metric CRS): rings (outer or hole) under ``denoise``
    times the largest ring's area are dropped; each kept ring is simplified by ``generalize_m``."""
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, shapely.Polygon) and not p.is_empty]
    if not parts:
        return shapely.Polygon()
    largest = max(shapely.Polygon(p.exterior).area for p in parts)
    out = []
    for p in parts:
        if shapely.Polygon(p.exterior).area < denoise * largest:
            continue
        holes = [h for h in p.interiors if shapely.Polygon(h).area >= denoise * largest]
        poly = shapely.Polygon(p.exterior, holes)
        if generalize_m > 0:
            poly = shapely.simplify(poly, generalize_m, preserve_topology=True)
        out.append(poly)
    return shapely.make_valid(shapely.union_all(out)) if out else shapely.Polygon()


def valhalla_style_polygons(
    g: ProfileGraph,
    point_xy: np.ndarray,
    minutes: list[float],
    *,
    denoise: float = 1.0,
    generalize_m: float | None = None,
) -> dict[float, shapely.Geometry]:
    """Polygons (network CRS, metres) of circles' search from ``point_xy`` drawn by Valhalla's rules;
    ``generalize_m`` None: Valhalla's default (a quarter cell)."""
    max_min = max(minutes) + PADDING_MIN
    times = g.search_within(g.snap(point_xy[None]), max_min * 60.0)
    cell = grid_size_deg(max(minutes))
    center = np.asarray(g.net.to_wgs84().transform(point_xy[0], point_xy[1]))
    grid, xs, ys = time_grid(g, times, center, cell, max_min * 60.0)
    tr = g.net.from_wgs84()
    gen_m = optimal_generalize_m(cell) if generalize_m is None else generalize_m
    out = {}
    for m in minutes:
        poly = contour_polygon(grid, xs, ys, m)
        poly = shapely.transform(poly, lambda ll: np.column_stack(tr.transform(ll[:, 0], ll[:, 1])))
        out[m] = denoise_generalize(poly, denoise, gen_m)
    return out
