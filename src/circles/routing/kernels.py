"""Compiled loops of the isochrone path: the search with a cutoff and the distance fields of the
raster polygons (the contours: :mod:`circles.routing.contour_kernels`; the GeoJSON text:
:mod:`circles.routing.geojson_kernels`).

Each is a plain loop compiled by numba (``cache=True``: compiled once per machine into
``__pycache__``, loaded in milliseconds afterwards; ``nogil=True``: threads of one process run them
side by side). They replace chains of numpy calls whose fixed cost per call dominated one isochrone
(about 300 calls), and compute the same numbers with the same floating-point operations in the same
order, so the polygons do not change.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# the GeoJSON text loops moved to geojson_kernels; their names stay importable from here
from .geojson_kernels import clean_rings as clean_rings
from .geojson_kernels import rings_text as rings_text

#: a float64 or float32 scalar (the fields are float32)
Real = float | np.floating

# ------------------------------------------------------------------------------------------ search

#: Children per node of the search's heap (4: shallower than a binary heap, the children side by side).
HEAP_ARITY = 4


@njit(cache=True, nogil=True, inline="always")
def _nan_min(a: Real, b: Real) -> Real:
    """``np.minimum``: NaN when either is NaN."""
    if a != a or b != b:
        return a + b
    return a if a <= b else b


@njit(cache=True, nogil=True, inline="always")
def _nan_max(a: Real, b: Real) -> Real:
    """``np.maximum``: NaN when either is NaN."""
    if a != a or b != b:
        return a + b
    return a if a >= b else b


@njit(cache=True, nogil=True)
def dijkstra(
    indptr: np.ndarray,
    indices: np.ndarray,
    weight_s: np.ndarray,
    start_node: np.ndarray,
    start_s: np.ndarray,
    start_origin: np.ndarray,
    cutoff_s: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shortest times (s) on the CSR graph ``indptr``/``indices``/``weight_s`` from virtual sources
    joined to ``start_node`` after ``start_s`` seconds (source ``start_origin``), up to ``cutoff_s``.
    Returns per node the time (``inf`` beyond the cutoff) and the source (-1), and the reached nodes
    (sorted). A node's time is the minimum of its predecessors' times plus the edge's, as in scipy's
    ``dijkstra``; only the source named on an exact tie may differ. A 4-ary heap (``HEAP_ARITY``)
    with decrease-key (``where``: heap positions, -1 outside), written out in one function (calls that pass
    arrays cost reference counting in numba); touches only the reached nodes and their edges, plus
    one pass to fill the output arrays."""
    n = len(indptr) - 1
    dist = np.full(n, np.inf)
    origin = np.full(n, -1, np.int64)
    where = np.full(n, -1, np.int32)  # heap positions (networks of < 2**31 nodes)
    heap_s = np.empty(n)
    heap_v = np.empty(n, np.int64)
    settled = np.empty(n, np.int64)
    size = 0
    n_settled = 0
    n_start = len(start_node)
    k = 0
    while True:
        if k < n_start:  # the virtual sources' edges first
            v, t = start_node[k], start_s[k]
            k += 1
            if not (t <= cutoff_s and t < dist[v]):
                continue
            origin[v] = start_origin[k - 1]
        else:
            if size == 0:
                break
            t, u = heap_s[0], heap_v[0]
            where[u] = -1
            size -= 1
            if size > 0:  # the last entry sifts down from the root
                last_t, last_v = heap_s[size], heap_v[size]
                pos = 0
                while True:
                    first = HEAP_ARITY * pos + 1
                    if first >= size:
                        break
                    child, child_t = first, heap_s[first]
                    for c in range(first + 1, min(first + HEAP_ARITY, size)):
                        if heap_s[c] < child_t:
                            child, child_t = c, heap_s[c]
                    if child_t >= last_t:
                        break
                    heap_s[pos], heap_v[pos] = child_t, heap_v[child]
                    where[heap_v[pos]] = pos
                    pos = child
                heap_s[pos], heap_v[pos] = last_t, last_v
                where[last_v] = pos
            settled[n_settled] = u
            n_settled += 1
            for e in range(indptr[u], indptr[u + 1]):
                v = indices[e]
                nt = t + weight_s[e]
                if nt <= cutoff_s and nt < dist[v]:
                    dist[v] = nt
                    origin[v] = origin[u]
                    pos = where[v]
                    if pos < 0:
                        pos = size
                        size += 1
                    _ = _heap_up(heap_s, heap_v, where, pos, v, nt)
            continue
        dist[v] = t
        pos = where[v]
        if pos < 0:
            pos = size
            size += 1
        _ = _heap_up(heap_s, heap_v, where, pos, v, t)
    return dist, origin, _in_order(settled[:n_settled], dist)


@njit(cache=True, nogil=True)
def _in_order(settled: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """The settled nodes (every node with a finite ``dist``) sorted: by a sort when they are few, by
    one pass over ``dist`` when they are most of the graph."""
    if len(settled) * 16 < len(dist):
        return np.sort(settled)
    out = np.empty(len(settled), np.int64)
    n = 0
    for v in range(len(dist)):
        if dist[v] < np.inf:
            out[n] = v
            n += 1
    return out


@njit(cache=True, nogil=True, inline="always")
def _heap_up(heap_s: np.ndarray, heap_v: np.ndarray, where: np.ndarray, pos: int, v: int, t: float) -> int:
    """Put node ``v`` at time ``t`` at heap position ``pos`` and move it up to its place."""
    while pos > 0:
        parent = (pos - 1) // HEAP_ARITY
        if heap_s[parent] <= t:
            break
        heap_s[pos], heap_v[pos] = heap_s[parent], heap_v[parent]
        where[heap_v[pos]] = pos
        pos = parent
    heap_s[pos], heap_v[pos] = t, v
    where[v] = pos
    return pos


# ----------------------------------------------------------------------------------- reached pieces


@njit(cache=True, nogil=True)
def piece_reach(
    time_s: np.ndarray,
    nodes: np.ndarray,
    node_piece_ptr: np.ndarray,
    node_piece: np.ndarray,
    node_piece_at_a: np.ndarray,
    ends: np.ndarray,
    ways: np.ndarray,
    chord_m: np.ndarray,
    arc_m: np.ndarray,
    speed_m_s: np.ndarray,
    cut_s: np.ndarray,
    start_piece: np.ndarray,
    is_start: np.ndarray,
    reverse: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pieces a search reaches within the largest of ``cut_s`` and how far, per threshold (see
    :class:`~circles.routing.raster_polygons.Reach`): ``start_piece`` first (``is_start`` marks them
    among all pieces), then the pieces ending at the reached ``nodes`` (in their order; each piece once,
    at its end ``a`` when ``a`` has a time, else at ``b``) entered within the last threshold. ``ends``,
    ``ways``: per end (rows ``a``, ``b``) and piece its node and whether the piece may be travelled
    from it (``reverse``: toward it, for times *to* the sources: the rows of ``ways`` swap).
    Returns the pieces, their chord metres, chord per arc metre, and per threshold, end and piece the
    chord metres reached (``-inf``: not entered) and the arc metres (clipped at 0)."""
    n_start = len(start_piece)
    cand = np.empty(n_start + len(node_piece), np.int64)
    cand[:n_start] = start_piece
    n = n_start
    for u in nodes:
        for q in range(node_piece_ptr[u], node_piece_ptr[u + 1]):
            k = node_piece[q]
            if not is_start[k] and (node_piece_at_a[q] or not np.isfinite(time_s[ends[0, k]])):
                cand[n] = k
                n += 1
    last = cut_s[len(cut_s) - 1]
    entry = np.empty((2, n))
    keep = np.empty(n, np.int64)
    m = 0
    for c in range(n):
        k = cand[c]
        e0 = time_s[ends[0, k]] if ways[1 if reverse else 0, k] else np.inf
        e1 = time_s[ends[1, k]] if ways[0 if reverse else 1, k] else np.inf
        if c < n_start or min(e0, e1) <= last:
            entry[0, m], entry[1, m] = e0, e1
            keep[m] = k
            m += 1
    piece = keep[:m]
    n_cut = len(cut_s)
    chord = np.empty(m)
    to_chord = np.empty(m)
    ends_m = np.empty((n_cut, 2, m))
    ends_arc_m = np.empty((n_cut, 2, m))
    arc = np.empty(m)
    speed = np.empty(m)
    for c in range(m):
        k = piece[c]
        chord[c] = chord_m[k]
        arc[c] = arc_m[k]
        speed[c] = speed_m_s[k]
        to_chord[c] = chord_m[k] / arc[c] if arc[c] > 0 else 1.0
    for j in range(n_cut):  # the output's memory order
        for w in range(2):
            for c in range(m):
                walked = _nan_min((cut_s[j] - entry[w, c]) * speed[c], arc[c])  # -inf: not entered
                ends_m[j, w, c] = walked * to_chord[c] if walked >= 0 else -np.inf
                ends_arc_m[j, w, c] = _nan_max(walked, 0.0)
    return piece, chord, to_chord, ends_m, ends_arc_m


@njit(cache=True, nogil=True)
def reach_table(
    ends_m: np.ndarray, chord_m: np.ndarray, box_m: np.ndarray, piece: np.ndarray, n_start: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From :func:`piece_reach`'s chord metres reached per threshold, end and piece: per threshold and
    piece the mode (0 not reached, 1 whole, 2 in part), the float32 chord intervals ``[0, A]`` and
    ``[L - B, L]`` (shape (4, thresholds, pieces)), and per threshold the box of the reached chords
    (rows min x, min y, -max x, -max y of ``box_m``; the first ``n_start`` pieces always count)."""
    n_cut, m = ends_m.shape[0], ends_m.shape[2]
    mode = np.zeros((n_cut, m), np.int8)
    bounds = np.empty((4, n_cut, m), np.float32)
    first = np.full(m, n_cut, np.int64)  # the first threshold reaching each piece
    for k in range(n_cut):
        for c in range(m):
            a, b = ends_m[k, 0, c], ends_m[k, 1, c]
            reached = _nan_max(a, b) >= 0
            if reached:
                mode[k, c] = 1 if _nan_max(a, 0.0) + _nan_max(b, 0.0) >= chord_m[c] else 2
                first[c] = min(first[c], k)
            bounds[0, k, c] = 0.0
            bounds[1, k, c] = np.float32(a)
            bounds[2, k, c] = np.float32(chord_m[c] - b)
            bounds[3, k, c] = np.float32(chord_m[c])
    box = np.full((n_cut, 4), np.inf)
    for c in range(m):  # each piece's box once, at the first threshold it counts for
        k = 0 if c < n_start else first[c]
        if k < n_cut:
            for q in range(4):
                box[k, q] = min(box[k, q], box_m[q, piece[c]])
    for k in range(1, n_cut):  # a piece reached counts for every larger threshold
        for q in range(4):
            box[k, q] = min(box[k, q], box[k - 1, q])
    return mode, bounds, box


# ------------------------------------------------------------------------------------ distance field


@njit(cache=True, nogil=True)
def lower_fields(
    dist2: np.ndarray,
    i0: int,
    j0: int,
    pool_i: np.ndarray,
    pool_j: np.ndarray,
    pool_along: np.ndarray,
    pool_perp2: np.ndarray,
    pool_full2: np.ndarray,
    row_start: np.ndarray,
    row_count: np.ndarray,
    mode: np.ndarray,
    bounds: np.ndarray,
) -> None:
    """Lower the squared-distance fields ``dist2`` (float32, shape (thresholds, j, i), grid point
    ``(i0, j0)`` first) to the distance to each entry's street: entry ``e`` covers the pool rows
    ``row_start[e]`` .. ``+ row_count[e]`` of one piece; at threshold ``k`` ``mode[k, e]`` is 0 (not
    reached), 1 (all of the piece: ``pool_full2``) or 2 (the union of the chord intervals
    ``bounds[0:2, k, e]`` and ``bounds[2:4, k, e]``, float32 metres from the piece's end ``a``).
    Each threshold's field only collects what is new at it (a piece reached whole enters once):
    :func:`cumulative_min` then carries it to the larger thresholds."""
    ny, nx = dist2.shape[1], dist2.shape[2]
    n_cut = dist2.shape[0]
    for e in range(len(row_start)):
        r0 = row_start[e]
        r1 = r0 + row_count[e]
        for k in range(n_cut):  # a piece's rows once per threshold with something new on it
            m = mode[k, e]
            if m == 0 or (m == 1 and k > 0 and mode[k - 1, e] == 1):
                continue  # not reached, or whole already at the threshold before
            if m == 1:
                for r in range(r0, r1):
                    y = pool_j[r] - j0
                    x = pool_i[r] - i0
                    if y < 0 or y >= ny or x < 0 or x >= nx:
                        continue
                    dist2[k, y, x] = _nan_min(dist2[k, y, x], pool_full2[r])
                continue
            b0, b1, b2, b3 = bounds[0, k, e], bounds[1, k, e], bounds[2, k, e], bounds[3, k, e]
            for r in range(r0, r1):
                y = pool_j[r] - j0
                x = pool_i[r] - i0
                if y < 0 or y >= ny or x < 0 or x >= nx:
                    continue
                along = pool_along[r]
                gap = _nan_min(_nan_max(b0 - along, along - b1), _nan_max(b2 - along, along - b3))
                gap = _nan_max(gap, np.float32(0.0))
                dist2[k, y, x] = _nan_min(dist2[k, y, x], pool_perp2[r] + gap * gap)


#: Rounding allowance when a partly reached piece is compared by its whole chord's distance: float32
#: intervals put its computed distance at most this far below the whole chord's, metres² (plus
#: ``PARTIAL_SLACK_REL`` of it): 2 x 70 m reach x 2e-4 m of float32 rounding at 2 km along, tripled.
PARTIAL_SLACK_M2 = 0.1
PARTIAL_SLACK_REL = 1e-5


@njit(cache=True, nogil=True, inline="always")
def _scan(
    c: int,
    c1: int,
    best: Real,
    stop2: float,
    k: int,
    cand_piece: np.ndarray,
    cand_along: np.ndarray,
    cand_perp2: np.ndarray,
    cand_full2: np.ndarray,
    entry_of: np.ndarray,
    first_k: np.ndarray,
    mode: np.ndarray,
    bounds: np.ndarray,
) -> tuple[Real, int]:
    """Lower ``best`` (squared metres) by the candidates ``c`` .. ``c1`` of one grid point at threshold
    ``k``, nearest first, until the next cannot come nearer than ``best`` (returns -1 as the second
    value: ``best`` is the point's distance) or than ``stop2`` (returns that candidate: ``best`` is
    beyond ``stop2``; scanning on from it finishes the job)."""
    while c < c1:
        full2 = cand_full2[c]
        lim = full2 - PARTIAL_SLACK_M2 - PARTIAL_SLACK_REL * full2
        if lim > best:
            return best, -1
        if lim > stop2:
            return best, c
        piece = cand_piece[c]
        if first_k[piece] <= k:  # reached at this threshold
            e = entry_of[piece]
            if mode[k, e] == 1:
                value = full2
            else:
                along = cand_along[c]
                gap = _nan_min(
                    _nan_max(bounds[0, k, e] - along, along - bounds[1, k, e]),
                    _nan_max(bounds[2, k, e] - along, along - bounds[3, k, e]),
                )
                gap = _nan_max(gap, np.float32(0.0))
                value = cand_perp2[c] + gap * gap
            best = _nan_min(best, value)
        c += 1
    return best, -1


@njit(cache=True, nogil=True)
def _inside_near(dist2: np.ndarray, k: int, y: int, x: int, level_m: float) -> bool:
    """Whether a grid point next to ``(x, y)`` (diagonals too) is inside the outline at threshold
    ``k`` (``sqrt(dist2) <= level_m``, the contouring's test)."""
    ny, nx = dist2.shape[1], dist2.shape[2]
    for yy in range(max(y - 1, 0), min(y + 2, ny)):
        for xx in range(max(x - 1, 0), min(x + 2, nx)):
            if np.sqrt(np.float64(dist2[k, yy, xx])) <= level_m:
                return True
    return False


@njit(cache=True, nogil=True)
def gather_fields(
    dist2: np.ndarray,
    i0: int,
    j0: int,
    pp_i0: int,
    pp_j0: int,
    pp_nx: int,
    pp_ny: int,
    ptr: np.ndarray,
    cand_piece: np.ndarray,
    cand_along: np.ndarray,
    cand_perp2: np.ndarray,
    cand_full2: np.ndarray,
    entry_of: np.ndarray,
    first_k: np.ndarray,
    mode: np.ndarray,
    bounds: np.ndarray,
    boxes: np.ndarray,
    near: np.ndarray,
    level_m: float,
) -> None:
    """Lower the fields ``dist2`` (as in :func:`lower_fields`) at every grid point of their window to
    the distance to the reached streets, looking up each point's pieces nearest first (``ptr`` and
    ``cand_*``: :class:`~circles.routing.polygon_index.PointPieces`; ``entry_of[piece]`` is the piece's
    entry, ``first_k[piece]`` the first threshold reaching it, ``len(mode)`` for none). The scan of a
    point stops once the next piece, even reached only in part, cannot come nearer than the best so
    far (its whole chord's distance, less the rounding allowance): the same minimum as writing every
    grid point of every entry, found with a few look-ups per point.
    Only what contouring at ``level_m`` metres reads is exact: the points inside the outline and
    their neighbours (diagonals too). A first pass scans each point's pieces up to ``level_m``; the
    points it leaves outside scan on to their whole reach only next to an inside point, and the
    others keep a distance beyond ``level_m`` that contouring treats alike.
    Threshold ``k`` only looks at the points ``boxes[k]`` (``x0, x1, y0, y1``, half-open, in the
    fields' window): nothing it reaches is within reach of the others; and its first pass at the
    points ``near[k]`` (same form, inside ``boxes[k]``): no other is within ``level_m`` of it."""
    n_cut, ny, nx = dist2.shape[0], dist2.shape[1], dist2.shape[2]
    stop2 = level_m * level_m * (1.0 + 1e-6)  # a hair over: the contour's test takes a square root
    resume = np.full((n_cut, ny, nx), -1, np.int64)
    for y in range(ny):
        gy = j0 + y - pp_j0
        if gy < 0 or gy >= pp_ny:
            continue
        for x in range(nx):
            gx = i0 + x - pp_i0
            if gx < 0 or gx >= pp_nx:
                continue
            p = gy * pp_nx + gx
            for k in range(n_cut):
                if x < boxes[k, 0] or x >= boxes[k, 1] or y < boxes[k, 2] or y >= boxes[k, 3]:
                    continue
                if x < near[k, 0] or x >= near[k, 1] or y < near[k, 2] or y >= near[k, 3]:
                    resume[k, y, x] = ptr[p]  # outside: finished next to an inside point only
                    continue
                dist2[k, y, x], resume[k, y, x] = _scan(
                    ptr[p], ptr[p + 1], dist2[k, y, x], stop2, k, cand_piece, cand_along, cand_perp2,
                    cand_full2, entry_of, first_k, mode, bounds,
                )  # fmt: skip
    for k in range(n_cut):
        for y in range(boxes[k, 2], boxes[k, 3]):
            for x in range(boxes[k, 0], boxes[k, 1]):
                c = resume[k, y, x]
                if c < 0 or not _inside_near(dist2, k, y, x, level_m):
                    continue
                p = (j0 + y - pp_j0) * pp_nx + (i0 + x - pp_i0)
                dist2[k, y, x] = _scan(
                    c, ptr[p + 1], dist2[k, y, x], np.inf, k, cand_piece, cand_along, cand_perp2,
                    cand_full2, entry_of, first_k, mode, bounds,
                )[0]  # fmt: skip


@njit(cache=True, nogil=True)
def lower_segment(
    dist2: np.ndarray,
    x0_m: float,
    y0_m: float,
    cell_m: float,
    i0: int,
    i1: int,
    j0: int,
    j1: int,
    fi0: int,
    fj0: int,
    ax: float,
    ay: float,
    dx: float,
    dy: float,
    length2: float,
) -> None:
    """Lower the squared-distance field ``dist2`` (float32, shape (j, i), grid point ``(fi0, fj0)``
    first) at the grid points ``[i0, i1) x [j0, j1)`` to the squared distance to the segment from
    ``a`` along ``d`` (metres; ``length2`` = ``d @ d``, computed in float64)."""
    for j in range(j0, j1):
        wy = (y0_m + j * cell_m) - ay
        for i in range(i0, i1):
            wx = (x0_m + i * cell_m) - ax
            t = 0.0
            if length2 > 0:
                t = (wx * dx + wy * dy) / length2
                t = min(max(t, 0.0), 1.0)
            px = wx - t * dx
            py = wy - t * dy
            value = np.float32(px * px + py * py)
            dist2[j - fj0, i - fi0] = _nan_min(dist2[j - fj0, i - fi0], value)


@njit(cache=True, nogil=True)
def cumulative_min(dist2: np.ndarray) -> None:
    """``dist2[k] = min(dist2[k], dist2[k - 1])`` in order: each threshold's field holds everything
    reached by the smaller ones, so the polygons are nested."""
    for k in range(1, dist2.shape[0]):
        for y in range(dist2.shape[1]):
            for x in range(dist2.shape[2]):
                dist2[k, y, x] = _nan_min(dist2[k, y, x], dist2[k - 1, y, x])


@njit(cache=True, nogil=True)
def drop_small_holes(
    points: np.ndarray, ring_off: np.ndarray, poly_off: np.ndarray, min_hole_m2: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Combined closed rings (contourpy's ``ChunkCombinedOffsetOffset``: ring offsets into the points,
    polygon offsets into the rings, exterior first) without the interior rings under ``min_hole_m2``
    m² (shoelace areas, relative to the first point as the numpy version did; summed in order, so an
    area within rounding of the limit could fall the other way)."""
    n_ring = len(ring_off) - 1
    keep = np.ones(n_ring, np.bool_)
    x0, y0 = points[0, 0], points[0, 1]
    for p in range(len(poly_off) - 1):
        for r in range(poly_off[p] + 1, poly_off[p + 1]):  # the holes
            twice = 0.0
            for q in range(ring_off[r], ring_off[r + 1] - 1):
                xa, ya = points[q, 0] - x0, points[q, 1] - y0
                xb, yb = points[q + 1, 0] - x0, points[q + 1, 1] - y0
                twice += xa * yb - xb * ya
            keep[r] = 0.5 * abs(twice) >= min_hole_m2
    if keep.all():
        return points, ring_off, poly_off
    new_ring_off = np.zeros(keep.sum() + 1, np.int64)
    n_points = 0
    r_new = 0
    for r in range(n_ring):
        if keep[r]:
            n_points += ring_off[r + 1] - ring_off[r]
            r_new += 1
            new_ring_off[r_new] = n_points
    out = np.empty((n_points, 2))
    new_poly_off = np.zeros(len(poly_off), np.int64)
    q_new = 0
    r_new = 0
    for p in range(len(poly_off) - 1):
        for r in range(poly_off[p], poly_off[p + 1]):
            if keep[r]:
                for q in range(ring_off[r], ring_off[r + 1]):
                    out[q_new, 0], out[q_new, 1] = points[q, 0], points[q, 1]
                    q_new += 1
                r_new += 1
        new_poly_off[p + 1] = r_new
    return out, new_ring_off, new_poly_off
