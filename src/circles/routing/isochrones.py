"""Isochrone polygons from the reached street length.

An isochrone is every place within ``buffer_m`` (how far off the street a reached place may lie) of
the street reachable within the threshold, cut at the exact cutoff point on partly reached segments,
plus the off-street walk from the start. Blocks farther than ``buffer_m`` from any reached street stay
holes; there are no convex hulls. Polygons are nested (5 inside 10 inside 15) and computed in the
network's metric CRS; output is EPSG:4326.

Two methods build the same set:

- ``"raster"`` (default): the distance to the reached streets evaluated exactly on a grid of
  ``0.4 * buffer_m`` cells and contoured (:mod:`circles.routing.raster_polygons`); its cost does not
  grow with the number of reached street pieces and it agrees with the exact polygon to within a
  fraction of a cell along the outline (IoU above 0.98 in Chengdu and Helsinki).
- ``"exact"``: every reached piece buffered by GEOS and merged (:func:`pieces_polygon`); a request
  takes 10x (central Chengdu) to 200x (Helsinki's footway mesh) longer; kept for whoever needs the
  vector outline.

Both search with :meth:`ProfileGraph.search_within <circles.routing.graph.ProfileGraph.search_within>`
(compiled, the same times as scipy's). ``/isochrones`` sends :func:`isochrones_text_at`'s JSON text,
written by a compiled loop from the raster method's rings (:func:`feature_collection_text`: the same
characters as ``json.dumps`` of :func:`to_feature_collection`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import shapely
from shapely.geometry import mapping

from .. import OSM_ATTRIBUTION
from .._common import BBox
from ..errors import EmptyNetworkError, InputError
from . import crs_fit, geojson_kernels
from .graph import DEFAULT_MAX_SNAP_M, NodeTimes, ProfileGraph, Snap
from .polygon_index import polygon_index
from .raster_polygons import Rings, raster_polygons, union_length

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Profile
    from .network import StreetNetwork

log = logging.getLogger(__name__)

DEFAULT_MINUTES = (5.0, 10.0, 15.0)
#: Reached places lie within this distance of a reached street, metres.
DEFAULT_BUFFER_M = 50.0
#: Holes smaller than this are buffer artefacts, not unreachable blocks, square metres.
DEFAULT_MIN_HOLE_M2 = 500.0

#: How polygons are built: ``"raster"`` (distance field and contour) or ``"exact"`` (GEOS union).
PolygonMethod = Literal["raster", "exact"]
POLYGON_METHODS: tuple[PolygonMethod, ...] = ("raster", "exact")
DEFAULT_METHOD: PolygonMethod = "raster"
#: GeoJSON output drops outline vertices this close to the line through their neighbours, metres
#: (about the 1e-7 degree rounding of the coordinates).
GEOJSON_TOL_M = 0.01
#: ``json.dumps`` options of the service's answers (Starlette's ``JSONResponse``), as one encoder
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass
class Isochrone:
    """One threshold's area: ``polygon`` in the network CRS (metres), ``street_m`` reached street length,
    ``rings`` the same polygon as arrays (raster method only)."""

    minutes: float
    profile: str
    polygon: shapely.Geometry
    street_m: float
    #: the polygon's rings when the raster method made it (GeoJSON output reads them, not GEOS)
    rings: Rings | None = field(default=None, repr=False, compare=False)

    @property
    def area_m2(self) -> float:
        return float(self.polygon.area)


def parse_minutes(text: str | list | tuple) -> list[float]:
    """``"5,10,15"`` -> ``[5.0, 10.0, 15.0]`` (sorted, unique, each in (0, 180])."""
    items = text.split(",") if isinstance(text, str) else list(text)
    try:
        vals = sorted({float(str(v).strip()) for v in items if str(v).strip()})
    except ValueError:
        raise InputError(f"minutes must be numbers separated by commas, got {text!r}") from None
    if not vals or any(not (0 < v <= 180) or not np.isfinite(v) for v in vals):
        raise InputError(f"minutes must be between 0 and 180, got {text!r}")
    return vals


def reached_pieces(times: NodeTimes, cutoff_s: float) -> tuple[np.ndarray, float]:
    """Street pieces reachable within ``cutoff_s`` as an array of segments, shape (n, 2, 2) metres,
    and their total length in metres (overlaps counted once)."""
    g = times.graph
    net = g.net
    t = times.time_s
    # from u along the segment; for a reverse search (time *to* the sources) a place at s metres from u
    # reaches u by travelling against the segment
    from_u, from_v = (g.bwd, g.fwd) if times.reverse else (g.fwd, g.bwd)
    cand = times.segments_touched()
    L = net.seg_len_m[cand]
    spd = g.speed_m_s[cand]
    a = np.where(from_u[cand], np.clip((cutoff_s - t[net.seg_u[cand]]) * spd, 0, L), 0.0)
    b = np.where(from_v[cand], np.clip((cutoff_s - t[net.seg_v[cand]]) * spd, 0, L), 0.0)
    a = np.nan_to_num(a, nan=0.0)
    b = np.nan_to_num(b, nan=0.0)
    full = a + b >= L
    # intervals along each segment, metres from seg_u
    seg_ids = [cand[full], cand[~full & (a > 0)], cand[~full & (b > 0)]]
    s0 = [np.zeros(full.sum()), np.zeros((~full & (a > 0)).sum()), (L - b)[~full & (b > 0)]]
    s1 = [L[full], a[~full & (a > 0)], L[~full & (b > 0)]]
    street_m = float(np.minimum(L, a + b).sum())

    # the start points: along their own segment from the snap point, and the off-street leg
    src: Snap = times.sources
    extra_lines = []
    by_seg: dict[int, list[tuple[float, float]]] = {}
    for i in np.flatnonzero(src.seg >= 0):
        j = int(src.seg[i])
        t0 = src.offstreet_m[i] / g.offstreet_speed_m_s
        if t0 > cutoff_s:
            frac_leg = cutoff_s * g.offstreet_speed_m_s / max(src.offstreet_m[i], 1e-9)
            p = src.point_xy[i]
            extra_lines.append([p, p + (src.street_xy[i] - p) * frac_leg])
            continue
        if src.offstreet_m[i] > 0:
            extra_lines.append([src.point_xy[i], src.street_xy[i]])
        Lj = net.seg_len_m[j]
        r = (cutoff_s - t0) * g.speed_m_s[j]
        f = src.frac[i] * Lj
        if from_u[j]:  # the part toward v
            by_seg.setdefault(j, []).append((f, min(Lj, f + r)))
        if from_v[j]:
            by_seg.setdefault(j, []).append((max(0.0, f - r), f))
    if by_seg:
        pos = {int(c): k for k, c in enumerate(cand)}
        for j, ivs in by_seg.items():
            k = pos.get(j)
            Lj = net.seg_len_m[j]
            if k is not None:
                ivs = ivs + ([(0.0, Lj)] if full[k] else [(0.0, a[k]), (Lj - b[k], Lj)])
                street_m -= min(Lj, a[k] + b[k])
            merged = union_length(ivs)
            street_m += merged
            seg_ids.append(np.full(len(ivs), j))
            s0.append(np.array([iv[0] for iv in ivs]))
            s1.append(np.array([iv[1] for iv in ivs]))
    seg = np.concatenate(seg_ids).astype(np.int64)
    start_m, end_m = np.concatenate(s0), np.concatenate(s1)
    keep = end_m > start_m
    seg, start_m, end_m = seg[keep], start_m[keep], end_m[keep]
    p_u = net.node_xy[net.seg_u[seg]]
    d = net.node_xy[net.seg_v[seg]] - p_u
    Ls = np.where(net.seg_len_m[seg] > 0, net.seg_len_m[seg], 1.0)[:, None]
    pieces = np.stack([p_u + d * (start_m[:, None] / Ls), p_u + d * (end_m[:, None] / Ls)], axis=1)
    if extra_lines:
        pieces = np.concatenate([pieces, np.asarray(extra_lines, dtype=np.float64).reshape(-1, 2, 2)])
    return pieces, street_m


def pieces_polygon(
    pieces: np.ndarray, *, buffer_m: float = DEFAULT_BUFFER_M, min_hole_m2: float = DEFAULT_MIN_HOLE_M2
) -> shapely.Geometry:
    """Buffer street pieces (n, 2, 2) by ``buffer_m`` and merge; drop holes under ``min_hole_m2``."""
    if len(pieces) == 0:
        return shapely.Polygon()
    # buffering each piece and merging is ~8x faster in GEOS than buffering one MultiLineString
    poly = shapely.union_all(shapely.buffer(shapely.linestrings(pieces), buffer_m, quad_segs=4))
    return fill_small_holes(poly, min_hole_m2)


def fill_small_holes(geom: shapely.Geometry, min_hole_m2: float) -> shapely.Geometry:
    """Remove interior rings smaller than ``min_hole_m2`` (square metres) from (multi)polygons."""
    polys = shapely.get_parts(geom)
    out = []
    for p in polys:
        if p.geom_type != "Polygon":
            continue
        holes = [r for r in p.interiors if shapely.area(shapely.Polygon(r)) >= min_hole_m2]
        out.append(shapely.Polygon(p.exterior, holes))
    if not out:
        return shapely.Polygon()
    return out[0] if len(out) == 1 else shapely.MultiPolygon(out)


def check_method(method: str) -> PolygonMethod:
    """``method`` if it names a polygon method, else :class:`InputError`."""
    for m in POLYGON_METHODS:
        if method == m:
            return m
    raise InputError(f"polygon method must be one of {', '.join(POLYGON_METHODS)}, got {method!r}")


def _nested(
    times: NodeTimes, minutes: list[float], buffer_m: float, min_hole_m2: float, method: PolygonMethod
) -> list[Isochrone]:
    """One polygon per threshold from one search, nested (5 inside 10 inside 15)."""
    name = times.graph.profile.name
    minutes = sorted(minutes)
    if check_method(method) == "raster":
        index = polygon_index(times.graph, buffer_m=buffer_m)
        res = raster_polygons(index, times, minutes, min_hole_m2=min_hole_m2)
        return [Isochrone(m, name, poly, street_m, rings) for m, (poly, street_m, rings) in zip(minutes, res)]
    return _nested_exact(times, minutes, buffer_m, min_hole_m2)


def _nested_exact(
    times: NodeTimes, minutes: list[float], buffer_m: float, min_hole_m2: float
) -> list[Isochrone]:
    """The exact method: each polygon merged with the smaller ones (exact nesting, whatever the buffer's
    rounding)."""
    out: list[Isochrone] = []
    prev = None
    for m in minutes:
        pieces, street_m = reached_pieces(times, m * 60.0)
        poly = pieces_polygon(pieces, buffer_m=buffer_m, min_hole_m2=min_hole_m2)
        if prev is not None and not prev.is_empty:
            poly = shapely.union(poly, prev)
        out.append(Isochrone(minutes=m, profile=times.graph.profile.name, polygon=poly, street_m=street_m))
        prev = poly
    return out


def isochrones(
    graph: ProfileGraph,
    start: Snap,
    minutes: Sequence[float] = DEFAULT_MINUTES,
    *,
    buffer_m: float = DEFAULT_BUFFER_M,
    min_hole_m2: float = DEFAULT_MIN_HOLE_M2,
    method: PolygonMethod = DEFAULT_METHOD,
) -> list[Isochrone]:
    """Nested isochrones from snapped start point(s), one per threshold in ``minutes`` (ascending);
    ``method`` picks the polygon builder (see the module docstring)."""
    check_method(method)
    times = graph.search_within(start, max(minutes) * 60.0)
    return _nested(times, list(minutes), buffer_m, min_hole_m2, method)


def service_areas(
    graph: ProfileGraph,
    facilities: Snap,
    minutes: Sequence[float] = DEFAULT_MINUTES,
    *,
    buffer_m: float = DEFAULT_BUFFER_M,
    min_hole_m2: float = DEFAULT_MIN_HOLE_M2,
    method: PolygonMethod = DEFAULT_METHOD,
) -> list[Isochrone]:
    """The area from which the nearest of ``facilities`` is reached within each threshold (one reverse
    multi-source search), nested, in the network CRS. Empty polygons when there is no facility.
    ``method`` picks the polygon builder (see the module docstring)."""
    check_method(method)
    minutes = sorted(minutes)
    if len(facilities) == 0 or (facilities.seg < 0).all():
        return [Isochrone(m, graph.profile.name, shapely.Polygon(), 0.0) for m in minutes]
    times = graph.search_within(facilities, max(minutes) * 60.0, reverse=True)
    return _nested(times, minutes, buffer_m, min_hole_m2, method)


def to_feature_collection(isos: list[Isochrone], graph: ProfileGraph, **properties: Any) -> dict[str, Any]:
    """GeoJSON FeatureCollection in EPSG:4326 (RFC 7946, coordinates rounded to 1e-7 degrees), one
    feature per threshold, largest first so smaller areas draw on top. Properties: ``minutes``,
    ``profile``, ``area_m2``, ``street_m``."""
    ordered = sorted(isos, key=lambda i: -i.minutes)
    geometries = geojson_polygons([i.polygon for i in ordered], crs_fit.to_wgs84(graph.net.crs))
    feats = []
    for iso, geometry in zip(ordered, geometries):
        props = {
            "minutes": iso.minutes,
            "profile": iso.profile,
            "area_m2": round(iso.area_m2, 1),
            "street_m": round(iso.street_m, 1),
            **properties,
        }
        feats.append({"type": "Feature", "properties": props, "geometry": geometry})
    return {"type": "FeatureCollection", "attribution": OSM_ATTRIBUTION, "features": feats}


def feature_collection_text(isos: list[Isochrone], graph: ProfileGraph, **properties: Any) -> str:
    """:func:`to_feature_collection` as compact JSON text, the same characters ``json.dumps`` writes
    with ``(",", ":")`` separators and ``ensure_ascii=False`` (what the service sends), 10-20x faster
    on outlines of hundreds of vertices."""
    ordered = sorted(isos, key=lambda i: -i.minutes)
    geometries = geojson_polygons_text(
        [i.polygon for i in ordered], crs_fit.to_wgs84(graph.net.crs), [i.rings for i in ordered]
    )
    feats = []
    for iso, geometry in zip(ordered, geometries):
        props = {
            "minutes": iso.minutes,
            "profile": iso.profile,
            "area_m2": round(iso.area_m2, 1),
            "street_m": round(iso.street_m, 1),
            **properties,
        }
        head = _COMPACT.encode({"type": "Feature", "properties": props})
        feats.append(head[:-1] + ',"geometry":' + geometry + "}")
    head = _COMPACT.encode({"type": "FeatureCollection", "attribution": OSM_ATTRIBUTION})
    return head[:-1] + ',"features":[' + ",".join(feats) + "]}"


def geojson_polygons(geoms: Sequence[shapely.Geometry], to_wgs84: Any) -> list[dict[str, Any]]:
    """GeoJSON geometries of (multi)polygons in the network CRS, transformed by the pyproj transformer
    ``to_wgs84`` and rounded to 1e-7 degrees (about 1 cm), without vertices on a straight line (within
    ``GEOJSON_TOL_M``): all coordinates taken, cleaned and transformed in one pass."""
    out: list[dict[str, Any]] = [{} for _ in geoms]
    wgs84 = _wgs84_rings(geoms, to_wgs84)
    if wgs84 is None:
        return [dict(mapping(g)) for g in geoms]
    lon, lat, ring_off, poly_off, part_off, which = wgs84
    points = np.round(np.column_stack([lon, lat]), 7).tolist()
    bounds = ring_off.tolist()
    ring_lists = [points[a:b] for a, b in zip(bounds, bounds[1:])]
    poly_bounds = poly_off.tolist()
    polys = [ring_lists[a:b] for a, b in zip(poly_bounds, poly_bounds[1:])]
    part_bounds = part_off.tolist()
    for k, n in enumerate(which.tolist()):
        mine = polys[part_bounds[k] : part_bounds[k + 1]]
        if geoms[n].geom_type == "Polygon":
            out[n] = {"type": "Polygon", "coordinates": mine[0]}
        else:
            out[n] = {"type": "MultiPolygon", "coordinates": mine}
    return [g if g else dict(mapping(geoms[n])) for n, g in enumerate(out)]


def geojson_polygons_text(
    geoms: Sequence[shapely.Geometry], to_wgs84: Any, rings: Sequence[Rings | None] | None = None
) -> list[str]:
    """:func:`geojson_polygons` as JSON text (compact, as ``json.dumps`` with ``(",", ":")``
    separators writes it), the coordinates written by a compiled loop (:func:`geojson_kernels.rings_text`).
    ``rings``: the geometries' rings where known (:attr:`Isochrone.rings`)."""
    out = ["" for _ in geoms]
    wgs84 = _wgs84_rings(geoms, to_wgs84, rings)
    if wgs84 is None:
        return [json.dumps(mapping(g), separators=(",", ":")) for g in geoms]
    lon, lat, ring_off, poly_off, part_off, which = wgs84
    data, starts = geojson_kernels.rings_text(lon, lat, ring_off, poly_off, 7)
    text = data.tobytes().decode("ascii")
    cuts = starts.tolist()
    parts = [text[a:b] for a, b in zip(cuts, cuts[1:])]
    part_bounds = part_off.tolist()
    for k, n in enumerate(which.tolist()):
        mine = parts[part_bounds[k] : part_bounds[k + 1]]
        if geoms[n].geom_type == "Polygon":
            out[n] = '{"type":"Polygon","coordinates":' + mine[0] + "}"
        else:
            out[n] = '{"type":"MultiPolygon","coordinates":[' + ",".join(mine) + "]}"
    return [g or json.dumps(mapping(geoms[n]), separators=(",", ":")) for n, g in enumerate(out)]


def _wgs84_rings(
    geoms: Sequence[shapely.Geometry], to_wgs84: Any, rings: Sequence[Rings | None] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The rings of the non-empty (multi)polygons among ``geoms``, cleaned (see
    :func:`geojson_polygons`) and in WGS84 degrees: the points' lon and lat, ring offsets into them,
    polygon offsets into the rings, each geometry's offsets into the polygons, and which of ``geoms``
    they are. None when there is none. ``rings``: the same geometries as arrays where known (the
    raster method's), read instead of asking GEOS for them."""
    if rings is not None and all(r is not None or g.is_empty for r, g in zip(rings, geoms)):
        coords, ring_off, n_rings, n_parts, which = _concat_rings(rings)
    else:
        arr = np.asarray(geoms, dtype=object)
        type_id = shapely.get_type_id(arr)
        polygonal = ~shapely.is_empty(arr) & ((type_id == 3) | (type_id == 6))
        which = np.flatnonzero(polygonal)
        parts, part_of = shapely.get_parts(arr[polygonal], return_index=True)
        rings_ = shapely.get_rings(parts)
        n_rings = shapely.get_num_interior_rings(parts) + 1
        ring_off = np.concatenate([[0], np.cumsum(shapely.get_num_coordinates(rings_))])
        coords = shapely.get_coordinates(rings_)
        n_parts = np.bincount(part_of, minlength=len(which))
    if len(which) == 0:
        return None
    coords, ring_off = geojson_kernels.clean_rings(coords, ring_off, GEOJSON_TOL_M)
    lon, lat = to_wgs84.transform(coords[:, 0], coords[:, 1])
    poly_off = np.zeros(len(n_rings) + 1, dtype=np.int64)
    np.cumsum(n_rings, out=poly_off[1:])
    part_off = np.zeros(len(n_parts) + 1, dtype=np.int64)
    np.cumsum(n_parts, out=part_off[1:])
    lon, lat = np.ascontiguousarray(lon, dtype=np.float64), np.ascontiguousarray(lat, dtype=np.float64)
    return lon, lat, ring_off, poly_off, part_off, which


def _concat_rings(
    rings: Sequence[Rings | None],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_wgs84_rings`' arrays, in metres, from the rings of each geometry (None: empty)."""
    which = np.array([k for k, r in enumerate(rings) if r is not None], dtype=np.int64)
    present = [r for r in rings if r is not None]
    if not present:
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros((0, 2)), np.zeros(1, dtype=np.int64), empty, empty, which
    starts = np.cumsum([0] + [len(r.points) for r in present[:-1]])
    ring_off = np.concatenate([[0]] + [r.ring_off[1:] + s for r, s in zip(present, starts)])
    n_rings = np.concatenate([np.diff(r.poly_off) for r in present])
    n_parts = np.array([len(r.poly_off) - 1 for r in present], dtype=np.int64)
    return np.concatenate([r.points for r in present]), ring_off, n_rings, n_parts, which


def isochrones_at(
    net: StreetNetwork,
    profile: Profile,
    lon: float,
    lat: float,
    minutes: Sequence[float],
    *,
    bbox: BBox,
    where: str,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    buffer_m: float = DEFAULT_BUFFER_M,
    method: PolygonMethod = DEFAULT_METHOD,
) -> tuple[list[Isochrone], dict[str, Any]]:
    """Isochrones from one WGS84 point (``lon``/``lat`` degrees) on ``net`` for ``profile``: the point is
    checked against ``bbox`` (``where`` names it in the message), snapped to the nearest usable street
    within ``max_snap_m`` metres and searched; ``method`` picks the polygon builder (``"raster"`` or
    ``"exact"``). Returns the nested isochrones and their GeoJSON FeatureCollection (EPSG:4326). The
    one use case behind ``circles isochrone`` and ``/isochrones``."""
    graph, isos, props = _isochrones_at(
        net, profile, lon, lat, minutes, bbox, where, max_snap_m=max_snap_m, buffer_m=buffer_m, method=method
    )
    return isos, to_feature_collection(isos, graph, **props)


def isochrones_text_at(
    net: StreetNetwork,
    profile: Profile,
    lon: float,
    lat: float,
    minutes: Sequence[float],
    *,
    bbox: BBox,
    where: str,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    buffer_m: float = DEFAULT_BUFFER_M,
    method: PolygonMethod = DEFAULT_METHOD,
) -> tuple[list[Isochrone], str]:
    """:func:`isochrones_at` with the FeatureCollection as compact JSON text
    (:func:`feature_collection_text`): what ``/isochrones`` sends."""
    graph, isos, props = _isochrones_at(
        net, profile, lon, lat, minutes, bbox, where, max_snap_m=max_snap_m, buffer_m=buffer_m, method=method
    )
    return isos, feature_collection_text(isos, graph, **props)


def _isochrones_at(
    net: StreetNetwork,
    profile: Profile,
    lon: float,
    lat: float,
    minutes: Sequence[float],
    bbox: BBox,
    where: str,
    *,
    max_snap_m: float,
    buffer_m: float,
    method: PolygonMethod,
) -> tuple[ProfileGraph, list[Isochrone], dict[str, Any]]:
    """The graph, the isochrones and the collection's extra properties of :func:`isochrones_at`."""
    from .load import check_inside, profile_graph

    check_inside(lon, lat, bbox, where)
    graph = profile_graph(net, profile)
    x_m, y_m = crs_fit.from_wgs84(net.crs).transform(np.array([lon], float), np.array([lat], float))
    snap = graph.snap(np.column_stack([x_m, y_m]), max_snap_m=max_snap_m)  # net.project, fitted
    isos = isochrones(graph, snap, minutes, buffer_m=buffer_m, method=method)
    return graph, isos, {"lon": lon, "lat": lat, "snap_m": round(float(snap.offstreet_m[0]), 1)}


def warm_up(net: StreetNetwork, profile: Profile, *, buffer_m: float = DEFAULT_BUFFER_M) -> None:
    """Build ``profile``'s graph and polygon index (with its per-point lookup) on ``net`` and answer one
    isochrone from the node nearest the network's centre, so that a service's first request finds
    everything built and the compiled loops loaded (numba reads them from its cache, or compiles them
    once per machine)."""
    from .load import profile_graph

    try:
        graph = profile_graph(net, profile)
    except EmptyNetworkError:  # nothing to prepare: such requests answer with the same error
        return
    polygon_index(graph, buffer_m=buffer_m).point_pieces()  # the per-point lookup of dense meshes too
    centre = net.node_xy.mean(axis=0)
    snap = graph.snap(net.node_xy[np.argmin(((net.node_xy - centre) ** 2).sum(axis=1))], strict=False)
    if (snap.seg >= 0).any():
        feature_collection_text(isochrones(graph, snap, DEFAULT_MINUTES, buffer_m=buffer_m), graph)
