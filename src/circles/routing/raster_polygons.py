"""Isochrone polygons from a distance field: one compiled pass over the reached streets' grid points
and one compiled contouring pass for all thresholds.

The exact polygon of a threshold is every place within ``buffer_m`` of a street piece reached in time
(:func:`circles.routing.isochrones.reached_pieces` buffered and merged). Here the same set is the
sub-level set ``dist <= buffer_m`` of ``dist(p)``, the distance from grid point ``p`` to the reached
part of the street network, evaluated exactly at the points of a ``cell_m`` grid (20 m for the default
50 m buffer) and contoured by marching squares with linear interpolation
(:mod:`circles.routing.contour_kernels`, the outline contourpy draws: :func:`contour_rings`). Across a
straight street the distance is linear, so the outline lands where the exact buffer's does; it departs
from it only inside a cell at corners and ends (about 1 % of the area, on the larger side: GEOS's
buffer approximates its round ends by a polygon inside the circle).

Per threshold the reached part of each straight piece (:mod:`circles.routing.street_pieces`) is
``[0, A]`` from end ``a`` and ``[L - B, L]`` from end ``b``, with ``A`` and ``B`` from the search's times
at its ends: cut exactly on partly reached pieces. The start points add their own stretch of street
and the off-street walk. Fully reached pieces enter with their precomputed distances, partly reached
ones with the distance to their reached part, and each threshold only lowers the previous one's field,
so the distance falls as the threshold grows and the polygons are nested by construction. The cost
grows with the grid points near the reached streets, never with the size of the network.

The loops are compiled (:mod:`circles.routing.kernels`): which pieces are reached and how far
(:func:`kernels.piece_reach`, :func:`kernels.reach_table`), the start points' stretches and legs, the
street lengths, the fields of all thresholds at once, and their contours with the small-hole filter.
The fields are filled one of two ways, with the same outlines: every grid point of every reached
piece written (:func:`kernels.lower_fields`; streets far apart, as in central Chengdu), or every grid
point of the fields looking up its nearest pieces until one is reached whole
(:func:`kernels.gather_fields`; dense footway meshes such as Helsinki's, where some 80 pieces lie
within reach of each grid point), whichever touches fewer grid points (``GATHER_ROWS_PER_POINT``).
The look-up finishes a point outside the outline only next to an inside one: elsewhere contouring
needs no more than "outside".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import contourpy
import numpy as np
import shapely

from . import contour_kernels, kernels, raster_kernels
from .graph import NodeTimes
from .polygon_index import PointPieces, PolygonIndex

#: Look fields up by point once the reached pieces have this many grid points per field point
#: (measured: a look-up costs about as much as two or three writes).
GATHER_ROWS_PER_POINT = 3
#: Side of the squares of grid points the look-up by point skips when no piece reached at a threshold
#: comes within reach of them (:func:`kernels.reach_blocks`), grid points.
GATHER_BLOCK = 4
#: Level below every distance (contourpy's filled contours need a lower bound), metres.
_BELOW_M = -1.0


@dataclass(frozen=True)
class Rings:
    """A (multi)polygon as combined closed rings (network CRS metres): ring ``r`` is
    ``points[ring_off[r]:ring_off[r + 1]]``, polygon ``p`` has the rings ``poly_off[p]`` to
    ``poly_off[p + 1]``, exterior first. What shapely's ``from_ragged_array`` takes and what GeoJSON
    output reads back without asking GEOS."""

    points: np.ndarray
    ring_off: np.ndarray
    poly_off: np.ndarray


@dataclass
class Reach:
    """The pieces one search reaches (``piece``; the start points' pieces first, in the order of
    ``start_piece``) and, per threshold, end (``a``, ``b``) and piece (shape (thresholds, 2, pieces)),
    the chord metres reached from that end (``ends_m``), ``-inf`` before the reach enters, and the same
    along the streets clipped at 0 (``ends_arc_m``); per threshold and piece ``mode`` and the float32
    chord intervals ``bounds`` of :func:`street_entries`, and per threshold the box of the reached
    chords ``box_m`` (min x, min y, -max x, -max y metres; :func:`kernels.reach_table`)."""

    piece: np.ndarray
    start_piece: np.ndarray
    chord_m: np.ndarray
    to_chord: np.ndarray
    ends_m: np.ndarray
    ends_arc_m: np.ndarray
    mode: np.ndarray
    bounds: np.ndarray
    box_m: np.ndarray


@dataclass
class StartLegs:
    """Snapped start points: position of each on its piece ``start`` (index into ``Reach.start_piece``),
    ``sigma_m`` metres along the streets from its ``a``; time ``t0_s`` and length ``offstreet_m`` of the
    off-street leg ``point_xy`` -> ``street_xy`` (metres); whether the reach may spread toward ``b`` /
    toward ``a`` from it."""

    start: np.ndarray
    sigma_m: np.ndarray
    t0_s: np.ndarray
    offstreet_m: np.ndarray
    point_xy: np.ndarray
    street_xy: np.ndarray
    to_b: np.ndarray
    to_a: np.ndarray


def union_length(intervals: Sequence[tuple[float, float]]) -> float:
    """Total length covered by ``(start, end)`` intervals (overlaps once; empty ones ignored)."""
    total, end = 0.0, -np.inf
    for s, e in sorted(intervals):
        if e <= s:
            continue
        if s > end:
            total += e - s
            end = e
        elif e > end:
            total += e - end
            end = e
    return total


def reached_pieces_times(index: PolygonIndex, times: NodeTimes, cut_s: np.ndarray) -> tuple[Reach, StartLegs]:
    """The pieces a search reaches within the largest of ``cut_s`` (an end reached, or a start point
    on them) with their reach per threshold, and the start points' legs."""
    pcs = index.pieces
    t = times.time_s
    ok = times.sources.seg >= 0
    seg = times.sources.seg[ok]
    nodes = times.reached if times.reached is not None else np.flatnonzero(np.isfinite(t))
    if len(seg) == 1:  # one start point: the usual isochrone
        start_piece, start_of = pcs.seg_piece[seg], np.zeros(1, dtype=np.int64)
    else:
        start_piece, start_of = np.unique(pcs.seg_piece[seg], return_inverse=True)
    is_start = np.zeros(len(pcs), dtype=bool)
    is_start[start_piece] = True
    piece, chord, to_chord, ends_m, ends_arc_m = kernels.piece_reach(
        t, nodes, pcs.node_piece_ptr, pcs.node_piece, pcs.node_piece_at_a, pcs.ends, pcs.ways,
        pcs.chord_m, pcs.arc_m, pcs.speed_m_s, cut_s, start_piece, is_start, times.reverse,
    )  # fmt: skip
    mode, bounds, box_m = kernels.reach_table(ends_m, chord, pcs.box_m, piece, len(start_piece))
    reach = Reach(piece, start_piece, chord, to_chord, ends_m, ends_arc_m, mode, bounds, box_m)
    # a place on the piece reaches end a by travelling b -> a in a reverse search (time *to* sources)
    ways = pcs.ways[::-1] if times.reverse else pcs.ways
    return reach, start_legs(index, times, ok, start_of, np.take(ways, start_piece, axis=1))


def start_legs(
    index: PolygonIndex, times: NodeTimes, ok: np.ndarray, start_of: np.ndarray, ways: np.ndarray
) -> StartLegs:
    """The snapped start points ``ok`` of a search on their pieces (``start_of``: index of each one's
    piece among the start pieces, whose directions of spread from ``a``/``b`` are ``ways``)."""
    g = times.graph
    pcs = index.pieces
    src = times.sources
    seg = src.seg[ok]
    frac = np.where(pcs.seg_flip[seg], 1.0 - src.frac[ok], src.frac[ok])
    return StartLegs(
        start=start_of,
        sigma_m=pcs.seg_arc0_m[seg] + frac * g.net.seg_len_m[seg],
        t0_s=src.offstreet_m[ok] / g.offstreet_speed_m_s,
        offstreet_m=src.offstreet_m[ok],
        point_xy=src.point_xy[ok],
        street_xy=src.street_xy[ok],
        to_b=ways[0][start_of],
        to_a=ways[1][start_of],
    )


def start_intervals(
    index: PolygonIndex, reach: Reach, legs: StartLegs, cutoff_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Stretch of its piece each start point reaches by itself within ``cutoff_s`` (a column of
    thresholds: one row each): ``lo``/``hi`` metres along the streets from the piece's ``a``
    (``lo > hi`` while the off-street leg is not walked)."""
    return start_stretches(index, reach, legs, cutoff_s[:, 0])[:2]


def start_stretches(
    index: PolygonIndex, reach: Reach, legs: StartLegs, cut_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`start_intervals` at the thresholds ``cut_s`` (seconds) and the same stretches as the
    chord intervals of :func:`start_entries` (:func:`raster_kernels.start_stretches`)."""
    pcs = index.pieces
    j = reach.start_piece[legs.start]
    return raster_kernels.start_stretches(
        cut_s, legs.t0_s, legs.sigma_m, pcs.speed_m_s[j], pcs.arc_m[j], reach.to_chord[legs.start],
        legs.to_a, legs.to_b,
    )  # fmt: skip


def street_lengths(reach: Reach, legs: StartLegs, lo_m: np.ndarray, hi_m: np.ndarray) -> list[float]:
    """Reached street length (metres along the streets, overlaps once) per threshold; ``lo_m``/``hi_m``
    (thresholds x start points) are the start points' own stretches (:func:`start_intervals`)."""
    arc = reach.chord_m / reach.to_chord
    n_start = len(reach.start_piece)
    covered = np.minimum(arc, reach.ends_arc_m[:, 0] + reach.ends_arc_m[:, 1])
    street_m = raster_kernels.start_street_m(
        covered.sum(axis=1), arc[:n_start], reach.ends_arc_m[:, :, :n_start], covered[:, :n_start],
        legs.start, lo_m, hi_m,
    )  # fmt: skip
    return street_m.tolist()


@dataclass
class Field:
    """Squared distances (metres², float32) per threshold at the grid points ``[i0, i1) x [j0, j1)``,
    shape (thresholds, j, i); ``reach_m**2`` where no reached street is within reach."""

    i0: int
    i1: int
    j0: int
    j1: int
    dist2: np.ndarray

    @classmethod
    def covering(cls, index: PolygonIndex, lo_m: np.ndarray, hi_m: np.ndarray, n_cut: int) -> Field:
        """Fields over the grid points in the box ``lo_m``-``hi_m`` (x, y metres), nothing reached."""
        i0, i1, j0, j1 = index.grid.span(lo_m, hi_m)
        return cls(i0, i1, j0, j1, np.full((n_cut, j1 - j0, i1 - i0), index.reach_m**2, dtype=np.float32))

    def clip(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """``box`` (grid indices ``i0, i1, j0, j1``) cut to the field's window."""
        i0, i1, j0, j1 = box
        return max(i0, self.i0), min(i1, self.i1), max(j0, self.j0), min(j1, self.j1)

    def window(self) -> np.ndarray:
        """The fields' grid window ``i0, i1, j0, j1`` as an array."""
        return np.array([self.i0, self.i1, self.j0, self.j1], dtype=np.int64)

    def windows(self, index: PolygonIndex, lo_m: np.ndarray, hi_m: np.ndarray, pad_m: float) -> np.ndarray:
        """The grid windows (rows ``i0, i1, j0, j1``) of the boxes ``lo_m``-``hi_m`` (x, y metres)
        widened by ``pad_m``, cut to the fields' window (:func:`raster_kernels.windows`)."""
        grid = index.grid
        return raster_kernels.windows(lo_m, hi_m, pad_m, grid.x0_m, grid.y0_m, grid.cell_m, self.window())

    def dist(self, box: tuple[int, int, int, int], k: int) -> np.ndarray:
        """Distances (metres, float64) of threshold ``k`` in ``box`` (``i0, i1, j0, j1``), shape (j, i)."""
        i0, i1, j0, j1 = box
        block = self.dist2[k, j0 - self.j0 : j1 - self.j0, i0 - self.i0 : i1 - self.i0]
        return np.sqrt(block, dtype=np.float64)


def start_entries(
    reach: Reach, legs: StartLegs, lo_m: np.ndarray, hi_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each start point's own stretch ``[lo_m, hi_m]`` (arc metres, thresholds x start points) of its
    piece, as entries for :func:`kernels.lower_fields`: the entries' pieces, modes (thresholds x
    entries: 2, the intervals) and intervals (float32 chord metres, shape (4, thresholds, entries))."""
    n_cut, n_src = lo_m.shape
    scale = reach.to_chord[legs.start]
    none = np.full((n_cut, n_src), -np.inf)
    bounds = np.stack([lo_m * scale, hi_m * scale, none, none]).astype(np.float32)
    return _start_entries(reach, legs, bounds)


def _start_entries(
    reach: Reach, legs: StartLegs, bounds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`start_entries` from the stretches' chord intervals ``bounds``."""
    return reach.start_piece[legs.start], np.full(bounds.shape[1:], 2, np.int8), bounds


def street_entries(
    reach: Reach, legs: StartLegs, lo_m: np.ndarray, hi_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What each threshold reaches of each piece, as entries for :func:`kernels.lower_fields`: the
    reached pieces (all of one, or ``[0, A]`` and ``[L - B, L]`` of its chord) and then each start
    point's own stretch (:func:`start_entries`).
    Returns the entries' pieces, modes (thresholds x entries: 0 none, 1 whole, 2 the intervals) and
    intervals (float32 chord metres, shape (4, thresholds, entries))."""
    pieces, mode, bounds = start_entries(reach, legs, lo_m, hi_m)
    return (
        np.concatenate([reach.piece, pieces]),
        np.concatenate([reach.mode, mode], axis=1),
        np.concatenate([reach.bounds, bounds], axis=2),
    )


def lower_streets(
    index: PolygonIndex, field: Field, pieces: np.ndarray, mode: np.ndarray, bounds: np.ndarray
) -> None:
    """Lower the fields to the distance to entries such as those of :func:`street_entries` (the
    reached pieces, or the start points' stretches: :func:`start_entries`), writing every grid point
    of every entry (:func:`kernels.lower_fields`)."""
    if len(pieces) == 0:
        return
    pool, row_start, row_count = index.rows_of(pieces)
    kernels.lower_fields(
        field.dist2, field.i0, field.j0, pool.i, pool.j, pool.along_m, pool.perp2_m2, pool.full2_m2,
        row_start, row_count, np.ascontiguousarray(mode), np.ascontiguousarray(bounds),
    )  # fmt: skip


def lookup_by_point(index: PolygonIndex, field: Field, pieces: np.ndarray) -> PointPieces | None:
    """The index's per-point lookup when looking the fields' points up costs less than writing the
    grid points of the reached ``pieces`` (dense footway meshes), else None."""
    if len(pieces) == 0 or not index.eager or not _gather_pays(index, field, pieces):
        return None
    return index.point_pieces()


def gather_streets(
    index: PolygonIndex,
    by_point: PointPieces,
    field: Field,
    pieces: np.ndarray,
    mode: np.ndarray,
    bounds: np.ndarray,
    boxes: np.ndarray,
    near: np.ndarray,
) -> None:
    """Lower the fields to the distance to the reached ``pieces`` (:class:`Reach`, with their
    ``mode`` and ``bounds``) by looking up each grid
    point's nearest pieces (:func:`kernels.gather_fields`). The fields must already hold the start
    points' stretches and legs, carried to the larger thresholds: the look-up finishes only the
    points next to the outline. ``boxes``: per threshold the grid window (``i0, i1, j0, j1``) its
    reached streets are within reach of; ``near``: the window they are within ``buffer_m`` of."""
    n_cut = len(mode)
    entry_of = np.full(len(index.pieces), -1, dtype=np.int64)
    entry_of[pieces] = np.arange(len(pieces))
    reached = mode[:, : len(pieces)] != 0
    small = np.int8 if n_cut < 127 else np.int64  # a table that stays in the fastest cache
    first_k = np.full(len(index.pieces), n_cut, dtype=small)
    first_k[pieces] = np.where(reached.any(axis=0), reached.argmax(axis=0), n_cut)
    origin = np.array([field.i0, field.i0, field.j0, field.j0])
    kernels.gather_fields(
        field.dist2, field.i0, field.j0, by_point.i0, by_point.j0, by_point.nx, by_point.ny,
        by_point.ptr, by_point.piece, by_point.along_m, by_point.perp2_m2, by_point.full2_m2,
        entry_of, first_k, mode, bounds, boxes - origin, near - origin, index.buffer_m,
    )  # fmt: skip


def _gather_pays(index: PolygonIndex, field: Field, pieces: np.ndarray) -> bool:
    """Whether looking up the fields' grid points costs less than writing the pieces' grid points."""
    return int(index.pool_count[pieces].sum()) > GATHER_ROWS_PER_POINT * field.dist2.size


def lower_legs(index: PolygonIndex, field: Field, legs: StartLegs, cut_s: np.ndarray) -> None:
    """Lower each threshold's field to the distance to the off-street legs walked within it: whole
    from the first threshold they fit in, their walked part before that
    (:func:`raster_kernels.lower_legs`)."""
    grid = index.grid
    raster_kernels.lower_legs(
        field.dist2, grid.x0_m, grid.y0_m, grid.cell_m, field.window(), legs.point_xy, legs.street_xy,
        legs.t0_s, legs.offstreet_m, cut_s, index.graph.offstreet_speed_m_s, index.reach_m,
    )  # fmt: skip


def contour_polygon(
    index: PolygonIndex, field: Field, k: int, box: tuple[int, int, int, int], min_hole_m2: float
) -> shapely.Geometry:
    """:func:`contour_rings` as a shapely (multi)polygon (empty when nothing is reached)."""
    rings = contour_rings(index, field, k, box, min_hole_m2)
    return shapely.Polygon() if rings is None else rings_geometry(rings)


def contour_rings(
    index: PolygonIndex, field: Field, k: int, box: tuple[int, int, int, int], min_hole_m2: float
) -> Rings | None:
    """The part of ``box`` (grid indices ``i0, i1, j0, j1``) within ``buffer_m`` of the streets reached
    at threshold ``k``:
    the rings of a (multi)polygon in the network CRS with holes of at least ``min_hole_m2`` m² (None:
    nothing)."""
    i0, i1, j0, j1 = box
    if i1 - i0 < 2 or j1 - j0 < 2:
        return None
    dist = field.dist(box, k)
    grid = index.grid
    ny, nx = dist.shape
    gen = contourpy.SerialContourGenerator(  # contour_generator() without its input checks: 5x faster
        grid.xs(i0, i1)[None, :].repeat(ny, axis=0),
        grid.ys(j0, j1)[:, None].repeat(nx, axis=1),
        dist,
        None,  # type: ignore[arg-type]  # no mask: the stub says ndarray, contour_generator() passes None
        corner_mask=True,
        line_type=contourpy.LineType.Separate,
        fill_type=contourpy.FillType.ChunkCombinedOffsetOffset,
        quad_as_tri=False,
        z_interp=contourpy.ZInterp.Linear,
    )
    # ChunkCombinedOffsetOffset: (points, ring offsets, polygon offsets), one chunk
    filled = cast(tuple[list[np.ndarray | None], ...], gen.filled(_BELOW_M, index.buffer_m))
    points, offsets, outer = (part[0] for part in filled)
    if points is None or offsets is None or outer is None:
        return None
    return trimmed_rings(points, offsets, outer, min_hole_m2)


def rings_polygon(
    points: np.ndarray, ring_off: np.ndarray, poly_off: np.ndarray, min_hole_m2: float
) -> shapely.Geometry:
    """Shapely (multi)polygon from combined closed rings (contourpy's ``ChunkCombinedOffsetOffset``:
    ring ``r`` is ``points[ring_off[r]:ring_off[r + 1]]``, polygon ``p`` rings ``poly_off[p]`` to
    ``poly_off[p + 1]``, exterior first), without the holes under ``min_hole_m2`` m²."""
    return rings_geometry(trimmed_rings(points, ring_off, poly_off, min_hole_m2))


def trimmed_rings(
    points: np.ndarray, ring_off: np.ndarray, poly_off: np.ndarray, min_hole_m2: float
) -> Rings:
    """Combined closed rings (see :func:`rings_polygon`) without the holes under ``min_hole_m2`` m²."""
    ring_off = ring_off.astype(np.int64)
    poly_off = poly_off.astype(np.int64)
    if len(ring_off) > len(poly_off):  # some polygon has holes
        points, ring_off, poly_off = kernels.drop_small_holes(points, ring_off, poly_off, min_hole_m2)
    return Rings(points, ring_off, poly_off)


def rings_geometry(rings: Rings) -> shapely.Geometry:
    """The shapely Polygon (one polygon) or MultiPolygon of ``rings``."""
    n_poly = len(rings.poly_off) - 1
    if n_poly == 1:
        offsets: tuple[np.ndarray, ...] = (rings.ring_off, rings.poly_off)
        return shapely.from_ragged_array(shapely.GeometryType.POLYGON, rings.points, offsets)[0]
    offsets = (rings.ring_off, rings.poly_off, np.array([0, n_poly]))
    return shapely.from_ragged_array(shapely.GeometryType.MULTIPOLYGON, rings.points, offsets)[0]


def drop_repeated(points: np.ndarray, ring_off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop ring vertices equal to the one before (an outline through a grid point repeats it).
    Combined closed rings as in :func:`rings_polygon`; a ring never falls under four points."""
    same = np.zeros(len(points), bool)
    same[1:] = (points[1:] == points[:-1]).all(axis=1)
    same[ring_off[:-1]] = False
    same[ring_off[1:] - 1] = False
    return _keep(points, ring_off, ~same)


def drop_collinear(points: np.ndarray, ring_off: np.ndarray, tol_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Drop ring vertices within ``tol_m`` of the line through their two neighbours (marching squares
    puts one on every grid line an outline crosses, even along a straight street). Combined closed
    rings without repeated points; a ring never falls under four points. Outlines move by at most
    ``tol_m``, so nesting holds only to that tolerance: for output, not for the polygons themselves."""
    n = len(points)
    starts, ends = ring_off[:-1], ring_off[1:]
    prev = np.arange(-1, n - 1)
    prev[starts] = ends - 2
    nxt = np.arange(1, n + 1)
    nxt[ends - 1] = starts + 1
    a, c = points[prev], points[nxt]
    ac = c - a
    ab = points - a
    cross = np.abs(ac[:, 0] * ab[:, 1] - ac[:, 1] * ab[:, 0])
    keep = cross > tol_m * np.hypot(ac[:, 0], ac[:, 1])
    keep[starts] = True
    keep[ends - 1] = True
    return _keep(points, ring_off, keep)


def _keep(points: np.ndarray, ring_off: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``keep`` points of combined rings, except that rings left under four points stay whole."""
    starts = ring_off[:-1]
    counts = np.add.reduceat(keep.astype(np.int64), starts)
    short = counts < 4
    if short.any():
        keep = keep | np.repeat(short, np.diff(ring_off))
        counts = np.add.reduceat(keep.astype(np.int64), starts)
    return points[keep], np.concatenate([[0], np.cumsum(counts)])


def _boxes(index: PolygonIndex, reach: Reach, legs: StartLegs) -> tuple[np.ndarray, np.ndarray]:
    """Per threshold (rows): lower-left and upper-right corner (metres) of the reached pieces' chords
    and the start points' legs, padded by the reach of a grid point (``inf`` rows when none)."""
    box = reach.box_m  # the start pieces count: their grid points enter with the start's stretch
    if len(legs.start):
        legs_xy = np.concatenate([legs.point_xy, legs.street_xy])
        box = np.minimum(box, np.concatenate([legs_xy.min(axis=0), -legs_xy.max(axis=0)]))
    pad = index.reach_m + index.grid.cell_m
    return box[:, :2] - pad, -box[:, 2:] + pad


def raster_polygons(
    index: PolygonIndex, times: NodeTimes, minutes: Sequence[float], *, min_hole_m2: float
) -> list[tuple[shapely.Geometry, float, Rings | None]]:
    """Polygon (network CRS), reached street length (metres) and the polygon's rings (None when
    empty) per threshold of ``minutes`` (ascending), from one search. See the module docstring."""
    cut_s = np.asarray(minutes, dtype=np.float64) * 60.0
    n_cut = len(cut_s)
    reach, legs = reached_pieces_times(index, times, cut_s)
    lo, hi = _boxes(index, reach, legs)
    if not np.isfinite(lo[-1]).all():
        return [(shapely.Polygon(), 0.0, None) for _ in cut_s]
    index.ensure(reach.piece)
    field = Field.covering(index, lo[-1], hi[-1], n_cut)
    lo_m, hi_m, start_bounds = start_stretches(index, reach, legs, cut_s)
    boxes = field.windows(index, lo, hi, 0.0)
    by_point = lookup_by_point(index, field, reach.piece)
    if by_point is None:
        lower_streets(index, field, reach.piece, reach.mode, reach.bounds)
    lower_streets(index, field, *_start_entries(reach, legs, start_bounds))  # always written
    lower_legs(index, field, legs, cut_s)
    kernels.cumulative_min(field.dist2)
    if by_point is not None:
        shrink = index.reach_m + index.grid.cell_m - index.buffer_m * (1 + 1e-6)  # see _boxes
        near = field.windows(index, lo, hi, -shrink)
        gather_streets(index, by_point, field, reach.piece, reach.mode, reach.bounds, boxes, near)
        kernels.cumulative_min(field.dist2)
    out = []
    for street_m, rings in zip(
        street_lengths(reach, legs, lo_m, hi_m), field_rings(index, field, boxes, min_hole_m2)
    ):
        out.append((shapely.Polygon() if rings is None else rings_geometry(rings), street_m, rings))
    return out


def field_rings(
    index: PolygonIndex, field: Field, boxes: np.ndarray, min_hole_m2: float
) -> list[Rings | None]:
    """Per threshold ``k`` the part of its window ``boxes[k]`` (grid indices ``i0, i1, j0, j1``)
    within ``buffer_m`` of the streets it reaches, as the rings of a (multi)polygon in the network CRS
    with holes of at least ``min_hole_m2`` m² (None: nothing), all thresholds contoured in one
    compiled pass (:func:`contour_kernels.filled_rings`; :func:`contour_rings` draws the same outline
    with contourpy)."""
    grid = index.grid
    local = boxes - np.array([field.i0, field.i0, field.j0, field.j0])
    points, ring_off, poly_off, at = contour_kernels.filled_rings(
        field.dist2, local, field.i0, field.j0, grid.x0_m, grid.y0_m, grid.cell_m, index.buffer_m, min_hole_m2
    )
    out: list[Rings | None] = []
    for p0, r0, q0, p1, r1, q1 in zip(*at[:, :-1].tolist(), *at[:, 1:].tolist()):
        out.append(Rings(points[p0:p1], ring_off[r0:r1], poly_off[q0:q1]) if q1 - q0 > 1 else None)
    return out
