"""Isochrone polygons from a distance field: one vectorised pass over the reached streets' grid points
and one contour per threshold.

The exact polygon of a threshold is every place within ``buffer_m`` of a street piece reached in time
(:func:`circles.routing.isochrones.reached_pieces` buffered and merged). Here the same set is the
sub-level set ``dist <= buffer_m`` of ``dist(p)``, the distance from grid point ``p`` to the reached
part of the street network, evaluated exactly at the points of a ``cell_m`` grid (20 m for the default
50 m buffer) and contoured by marching squares with linear interpolation (:mod:`contourpy`). Across a
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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import contourpy
import numpy as np
import shapely

from .graph import NodeTimes
from .polygon_index import PolygonIndex

#: Level below every distance (contourpy's filled contours need a lower bound), metres.
_BELOW_M = -1.0


@dataclass
class Reach:
    """The pieces one search reaches (``piece``; the start points' pieces first, in the order of
    ``start_piece``) and, per threshold, end (``a``, ``b``) and piece (shape (thresholds, 2, pieces)),
    the chord metres reached from that end (``ends_m``), ``-inf`` before the reach enters, and the same
    along the streets clipped at 0 (``ends_arc_m``)."""

    piece: np.ndarray
    start_piece: np.ndarray
    chord_m: np.ndarray
    to_chord: np.ndarray
    ends_m: np.ndarray
    ends_arc_m: np.ndarray


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
    others = pcs.pieces_at(nodes, t)
    if len(seg) == 1:  # one start point: the usual isochrone
        start_piece, start_of = pcs.seg_piece[seg], np.zeros(1, dtype=np.int64)
        others = others[others != start_piece[0]]
    else:
        start_piece, start_of = np.unique(pcs.seg_piece[seg], return_inverse=True)
        others = others[~np.isin(others, start_piece)]
    piece = np.concatenate([start_piece, others])
    # a place on the piece reaches end a by travelling b -> a in a reverse search (time *to* sources)
    ways = pcs.ways[::-1] if times.reverse else pcs.ways
    # np.take keeps (2, n) arrays row-major (indexing [:, piece] would lay them out column-major)
    entry_s = np.where(np.take(ways, piece, axis=1), t[np.take(pcs.ends, piece, axis=1)], np.inf)
    live = entry_s.min(axis=0) <= cut_s[-1]
    live[: len(start_piece)] = True
    piece, entry_s = piece[live], np.compress(live, entry_s, axis=1)
    chord = pcs.chord_m[piece]
    arc = pcs.arc_m[piece]
    to_chord = np.divide(chord, arc, out=np.ones_like(chord), where=arc > 0)
    ends_arc = np.minimum((cut_s[:, None, None] - entry_s) * pcs.speed_m_s[piece], arc)  # -inf: not entered
    reach = Reach(
        piece=piece,
        start_piece=start_piece,
        chord_m=chord,
        to_chord=to_chord,
        ends_m=np.where(ends_arc >= 0, ends_arc * to_chord, -np.inf),
        ends_arc_m=np.maximum(ends_arc, 0.0),
    )
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
    pcs = index.pieces
    j = reach.start_piece[legs.start]
    r = (cutoff_s - legs.t0_s) * pcs.speed_m_s[j]
    lo = np.where(legs.to_a, np.maximum(legs.sigma_m - r, 0.0), legs.sigma_m)
    hi = np.where(legs.to_b, np.minimum(legs.sigma_m + r, pcs.arc_m[j]), legs.sigma_m)
    return np.where(r >= 0, lo, np.inf), np.where(r >= 0, hi, -np.inf)


def street_lengths(reach: Reach, legs: StartLegs, lo_m: np.ndarray, hi_m: np.ndarray) -> list[float]:
    """Reached street length (metres along the streets, overlaps once) per threshold; ``lo_m``/``hi_m``
    (thresholds x start points) are the start points' own stretches (:func:`start_intervals`)."""
    arc = reach.chord_m / reach.to_chord
    a, b = reach.ends_arc_m[:, 0], reach.ends_arc_m[:, 1]
    covered = np.minimum(arc, a + b)
    street_m = covered.sum(axis=1).tolist()
    for k in range(len(street_m)):
        by_start: dict[int, list[tuple[float, float]]] = {}
        for s, lo, hi in zip(legs.start.tolist(), lo_m[k].tolist(), hi_m[k].tolist()):
            by_start.setdefault(s, []).append((lo, hi))
        for s, ivs in by_start.items():
            length = float(arc[s])
            ends = [(0.0, float(a[k, s])), (length - float(b[k, s]), length)]
            street_m[k] += union_length(ivs + ends) - float(covered[k, s])
    return street_m


@dataclass
class Field:
    """Squared distances (metres², float32, row-major) at the grid points ``[i0, i1) x [j0, j1)``;
    ``reach_m**2`` where no reached street is within reach. Thresholds only ever lower it."""

    i0: int
    i1: int
    j0: int
    j1: int
    dist2: np.ndarray

    @classmethod
    def covering(cls, index: PolygonIndex, lo_m: np.ndarray, hi_m: np.ndarray) -> Field:
        """A field over the grid points in the box ``lo_m``-``hi_m`` (x, y metres), nothing reached."""
        i0, i1, j0, j1 = index.grid.span(lo_m, hi_m)
        return cls(i0, i1, j0, j1, np.full((j1 - j0) * (i1 - i0), index.reach_m**2, dtype=np.float32))

    def clip(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """``box`` (grid indices ``i0, i1, j0, j1``) cut to the field's window."""
        i0, i1, j0, j1 = box
        return max(i0, self.i0), min(i1, self.i1), max(j0, self.j0), min(j1, self.j1)

    def flat(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Row-major positions in the window of grid points ``(i, j)`` (which must lie in it)."""
        nx = self.i1 - self.i0
        return j * nx + i - (self.j0 * nx + self.i0)

    def block(self, box: tuple[int, int, int, int]) -> np.ndarray:
        """A writable view of the squared distances in ``box`` (``i0, i1, j0, j1``), shape (j, i)."""
        i0, i1, j0, j1 = box
        rows = self.dist2.reshape(-1, self.i1 - self.i0)
        return rows[j0 - self.j0 : j1 - self.j0, i0 - self.i0 : i1 - self.i0]

    def dist(self, box: tuple[int, int, int, int]) -> np.ndarray:
        """Distances (metres, float64) in ``box`` (``i0, i1, j0, j1``), shape (j, i)."""
        return np.sqrt(self.block(box), dtype=np.float64)


@dataclass
class Splats:
    """Squared distances (metres², float32) to lower the field to at positions ``flat`` (row-major in
    the field's window), threshold ``k``'s in ``flat[bounds[k]:bounds[k + 1]]``: computed for all
    thresholds at once, applied one threshold at a time (the field is contoured in between)."""

    flat: np.ndarray
    dist2_m2: np.ndarray
    bounds: np.ndarray

    def apply(self, field: Field, k: int) -> None:
        b0, b1 = int(self.bounds[k]), int(self.bounds[k + 1])
        if b1 > b0:
            np.minimum.at(field.dist2, self.flat[b0:b1], self.dist2_m2[b0:b1])


def full_splats(
    index: PolygonIndex, field: Field, pieces: np.ndarray, first_k: np.ndarray, n_cut: int
) -> Splats:
    """The distances to each of ``pieces`` from the threshold ``first_k`` at which all of it is reached."""
    order = np.argsort(first_k, kind="stable")
    pool, rows, counts = index.pairs_of(pieces[order])
    ends = np.concatenate([[0], np.cumsum(counts)])
    bounds = ends[np.searchsorted(first_k[order], np.arange(n_cut + 1))]
    return Splats(field.flat(pool.i[rows], pool.j[rows]), pool.full2_m2[rows], bounds)


def stretch_splats(
    index: PolygonIndex, field: Field, pieces: np.ndarray, reached: np.ndarray, k_of: np.ndarray, n_cut: int
) -> Splats:
    """The distances to the reached part of ``pieces[n]`` at threshold ``k_of[n]`` (ascending): the
    union of the intervals ``reached[0:2, n]`` and ``reached[2:4, n]`` (start and end, chord metres from
    ``a``; an interval ending at ``-inf`` is empty)."""
    pool, rows, counts = index.pairs_of(pieces)
    which = np.repeat(np.arange(len(pieces)), counts)
    along = pool.along_m[rows]
    x0, x1, y0, y1 = np.take(reached.astype(np.float32), which, axis=1)
    gap = np.minimum(np.maximum(x0 - along, along - x1), np.maximum(y0 - along, along - y1))
    np.maximum(gap, 0.0, out=gap)
    ends = np.concatenate([[0], np.cumsum(counts)])
    bounds = ends[np.searchsorted(k_of, np.arange(n_cut + 1))]
    return Splats(field.flat(pool.i[rows], pool.j[rows]), pool.perp2_m2[rows] + gap * gap, bounds)


def add_segment(index: PolygonIndex, field: Field, a: np.ndarray, b: np.ndarray) -> None:
    """Lower the field to the distance to the straight segment ``a``-``b`` (metres) on the grid points
    of its bounding box padded by the reach (a dense block: one off-street leg)."""
    i0, i1, j0, j1 = field.clip(
        index.grid.span(np.minimum(a, b) - index.reach_m, np.maximum(a, b) + index.reach_m)
    )
    if i1 <= i0 or j1 <= j0:
        return
    grid = index.grid
    d = b - a
    length2 = float(d @ d)
    wx = grid.xs(i0, i1)[None, :] - a[0]
    wy = grid.ys(j0, j1)[:, None] - a[1]
    t = np.clip((wx * d[0] + wy * d[1]) / length2, 0.0, 1.0) if length2 > 0 else np.zeros((1, 1))
    dist2 = (wx - t * d[0]) ** 2 + (wy - t * d[1]) ** 2
    block = field.block((i0, i1, j0, j1))
    np.minimum(block, dist2.astype(np.float32), out=block)


def add_legs(index: PolygonIndex, field: Field, legs: StartLegs, cut_s: np.ndarray, k: int) -> None:
    """Lower the field to the distance to the off-street legs walked within threshold ``k``: whole
    from the first threshold they fit in, their walked part before that."""
    for n in range(len(legs.start)):
        t0 = legs.t0_s[n]
        if legs.offstreet_m[n] <= 0 or (k and t0 <= cut_s[k - 1]):
            continue  # no leg, or added whole at an earlier threshold
        p, q = legs.point_xy[n], legs.street_xy[n]
        frac = min(1.0, cut_s[k] * index.graph.offstreet_speed_m_s / legs.offstreet_m[n])
        add_segment(index, field, p, p + (q - p) * frac)


def contour_polygon(
    index: PolygonIndex, field: Field, box: tuple[int, int, int, int], min_hole_m2: float
) -> shapely.Geometry:
    """The part of ``box`` (grid indices ``i0, i1, j0, j1``) within ``buffer_m`` of the reached streets:
    a (multi)polygon in the network CRS with holes of at least ``min_hole_m2`` m²."""
    i0, i1, j0, j1 = box
    if i1 - i0 < 2 or j1 - j0 < 2:
        return shapely.Polygon()
    dist = field.dist(box)
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
        return shapely.Polygon()
    return rings_polygon(points, offsets, outer, min_hole_m2)


def rings_polygon(
    points: np.ndarray, ring_off: np.ndarray, poly_off: np.ndarray, min_hole_m2: float
) -> shapely.Geometry:
    """Shapely (multi)polygon from combined closed rings (contourpy's ``ChunkCombinedOffsetOffset``:
    ring ``r`` is ``points[ring_off[r]:ring_off[r + 1]]``, polygon ``p`` rings ``poly_off[p]`` to
    ``poly_off[p + 1]``, exterior first), without the holes under ``min_hole_m2`` m²."""
    ring_off = ring_off.astype(np.int64)
    poly_off = poly_off.astype(np.int64)
    if len(ring_off) > len(poly_off):  # some polygon has holes
        points, ring_off, poly_off = _drop_small_holes(points, ring_off, poly_off, min_hole_m2)
    n_poly = len(poly_off) - 1
    if n_poly == 1:
        return shapely.from_ragged_array(shapely.GeometryType.POLYGON, points, (ring_off, poly_off))[0]
    offsets = (ring_off, poly_off, np.array([0, n_poly]))
    return shapely.from_ragged_array(shapely.GeometryType.MULTIPOLYGON, points, offsets)[0]


def _drop_small_holes(
    points: np.ndarray, ring_off: np.ndarray, poly_off: np.ndarray, min_hole_m2: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Remove interior rings under ``min_hole_m2`` m² from combined closed rings (shoelace areas)."""
    x = points[:, 0] - points[0, 0]
    y = points[:, 1] - points[0, 1]
    cross = np.zeros(len(points))
    cross[:-1] = x[:-1] * y[1:] - x[1:] * y[:-1]
    cross[ring_off[1:] - 1] = 0.0  # no step from a ring's last point to the next ring
    area = 0.5 * np.abs(np.add.reduceat(cross, ring_off[:-1]))
    keep = area >= min_hole_m2
    keep[poly_off[:-1]] = True
    if keep.all():
        return points, ring_off, poly_off
    counts = np.diff(ring_off)[keep]
    rows = np.repeat(ring_off[:-1][keep] - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
    new_ring_off = np.concatenate([[0], np.cumsum(counts)])
    return points[rows], new_ring_off, np.concatenate([[0], np.cumsum(keep)])[poly_off]


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
    reached = reach.ends_m.max(axis=1) >= 0
    reached[:, : len(reach.start_piece)] = True  # their grid points enter with the start's stretch
    box = np.where(reached[:, None, :], np.take(index.pieces.box_m, reach.piece, axis=1), np.inf).min(axis=2)
    if len(legs.start):
        legs_xy = np.concatenate([legs.point_xy, legs.street_xy])
        box = np.minimum(box, np.concatenate([legs_xy.min(axis=0), -legs_xy.max(axis=0)]))
    pad = index.reach_m + index.grid.cell_m
    return box[:, :2] - pad, -box[:, 2:] + pad


def raster_polygons(
    index: PolygonIndex, times: NodeTimes, minutes: Sequence[float], *, min_hole_m2: float
) -> list[tuple[shapely.Geometry, float]]:
    """Polygon (network CRS) and reached street length (metres) per threshold of ``minutes``
    (ascending), from one search. See the module docstring."""
    cut_s = np.asarray(minutes, dtype=np.float64) * 60.0
    n_cut = len(cut_s)
    reach, legs = reached_pieces_times(index, times, cut_s)
    lo, hi = _boxes(index, reach, legs)
    if not np.isfinite(lo[-1]).all():
        return [(shapely.Polygon(), 0.0) for _ in cut_s]
    index.ensure(reach.piece)
    field = Field.covering(index, lo[-1], hi[-1])
    reached = reach.ends_m.max(axis=1) >= 0
    full = reached & (np.maximum(reach.ends_m, 0.0).sum(axis=1) >= reach.chord_m)
    ever = full[-1]
    fulls = full_splats(
        index, field, reach.piece[ever], np.argmax(np.compress(ever, full, axis=1), axis=0), n_cut
    )
    lo_m, hi_m = start_intervals(index, reach, legs, cut_s[:, None])
    stretches = stretch_splats(index, field, *_stretches(reach, legs, reached & ~full, lo_m, hi_m), n_cut)
    out = []
    for k, street_m in enumerate(street_lengths(reach, legs, lo_m, hi_m)):
        fulls.apply(field, k)
        stretches.apply(field, k)
        add_legs(index, field, legs, cut_s, k)
        box = field.clip(index.grid.span(lo[k], hi[k]))
        out.append((contour_polygon(index, field, box, min_hole_m2), street_m))
    return out


def _stretches(
    reach: Reach, legs: StartLegs, part: np.ndarray, lo_m: np.ndarray, hi_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pieces, reached intervals (rows: first start and end, second start and end; chord metres) and
    thresholds (ascending) of every partial reach: ``[0, A]`` and ``[L - B, L]`` of the pieces partly
    reached at a threshold (``part``, thresholds x pieces), and each start point's own stretch
    ``[lo_m, hi_m]`` (arc metres, thresholds x start points) of its piece."""
    k_part, n_part = np.nonzero(part)
    n_cut, n_src = lo_m.shape
    k_src = np.repeat(np.arange(n_cut), n_src)
    scale = np.tile(reach.to_chord[legs.start], n_cut)
    chord = reach.chord_m[n_part]
    none = np.full(len(k_src), -np.inf)
    k_of = np.concatenate([k_part, k_src])
    order = np.argsort(k_of, kind="stable")
    pieces = np.concatenate([reach.piece[n_part], np.tile(reach.start_piece[legs.start], n_cut)])
    bounds = np.stack(
        [
            np.concatenate([np.zeros(len(chord)), lo_m.ravel() * scale]),
            np.concatenate([reach.ends_m[k_part, 0, n_part], hi_m.ravel() * scale]),
            np.concatenate([chord - reach.ends_m[k_part, 1, n_part], none]),
            np.concatenate([chord, none]),
        ]
    )
    return pieces[order], np.take(bounds, order, axis=1), k_of[order]
