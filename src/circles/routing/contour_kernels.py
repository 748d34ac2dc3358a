"""Filled contours of the raster polygons' distance fields, all thresholds in one compiled pass.

:func:`filled_rings` is marching squares over each threshold's squared-distance field (see
:mod:`circles.routing.raster_polygons`): the region ``dist <= level_m`` as closed rings, exteriors
counter-clockwise and holes clockwise (RFC 7946's right-hand rule), each polygon's exterior followed
by its holes. It draws the outline contourpy's ``filled(-1, level_m)`` draws on the same field
(linear interpolation on the grid lines, a saddle cell joined through its middle when the mean of
its four corners is inside) and replaces three contourpy calls, their input arrays and the
small-hole filter of each threshold by one call that holds no GIL (``nogil=True``). Rings may start
at another vertex and polygons come in another order than contourpy's.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Distance of the points round a window (never inside; finite, so that no vertex turns NaN), metres.
_OUTSIDE_M = 1e30


@njit(cache=True, nogil=True, inline="always")
def _along_x(z: np.ndarray, px: int, py: int, grid: np.ndarray, level_m: float) -> tuple[float, float]:
    """Where the outline crosses the grid line from point ``(px, py)`` to ``(px + 1, py)`` of the
    widened window ``z`` (:func:`_window`; ``grid``: the x and y metres of its points ``0, 1, ...``, as
    ``x0_m + i * cell_m`` and ``y0_m + j * cell_m``), linearly interpolated."""
    z0, z1 = z[py, px], z[py, px + 1]
    frac = (z1 - level_m) / (z1 - z0)
    return grid[0, px] * frac + grid[0, px + 1] * (1.0 - frac), grid[1, py]


@njit(cache=True, nogil=True, inline="always")
def _along_y(z: np.ndarray, px: int, py: int, grid: np.ndarray, level_m: float) -> tuple[float, float]:
    """:func:`_along_x` on the grid line from ``(px, py)`` to ``(px, py + 1)``."""
    z0, z1 = z[py, px], z[py + 1, px]
    frac = (z1 - level_m) / (z1 - z0)
    return grid[0, px], grid[1, py] * frac + grid[1, py + 1] * (1.0 - frac)


@njit(cache=True, nogil=True)
def _window(dist2: np.ndarray, k: int, box: np.ndarray, level_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Threshold ``k``'s window ``box`` (``x0, x1, y0, y1``) widened by one point all round (those
    points are outside, at ``_OUTSIDE_M``): the distances ``z`` (metres, ``sqrt(dist2)``) and whether
    each point is inside (``z <= level_m``)."""
    x0, x1, y0, y1 = box[0], box[1], box[2], box[3]
    z = np.full((y1 - y0 + 2, x1 - x0 + 2), _OUTSIDE_M)
    ins = np.zeros((y1 - y0 + 2, x1 - x0 + 2), np.bool_)
    for y in range(y0, y1):
        for x in range(x0, x1):
            d = np.sqrt(np.float64(dist2[k, y, x]))
            z[y - y0 + 1, x - x0 + 1] = d
            ins[y - y0 + 1, x - x0 + 1] = d <= level_m
    return z, ins


@njit(cache=True, nogil=True)
def _link_cells(
    ins: np.ndarray,
    z: np.ndarray,
    grid: np.ndarray,
    level_m: float,
    slot: np.ndarray,
    dst: np.ndarray,
    xy: np.ndarray,
) -> int:
    """Marching squares over a widened window (``z``, ``ins``: :func:`_window`): the grid
    edges the outline crosses (horizontal ``py * w + px``, vertical ``w * h + py * w + px``) get
    numbers in scan order (``slot[edge]``), and per number the edge next along the outline with the
    inside on the left (``dst``) and where the outline crosses (``xy``, metres); returns how many."""
    h, w = ins.shape
    wh = w * h
    n = 0
    for py in range(h - 1):
        for px in range(w - 1):
            ia, ib, ic, id_ = ins[py, px], ins[py, px + 1], ins[py + 1, px + 1], ins[py + 1, px]
            case = ia + 2 * ib + 4 * ic + 8 * id_
            if case == 0 or case == 15:
                continue
            if case == 5 or case == 10:  # saddle: joined through the middle when it is inside
                z_sum = z[py, px] + z[py, px + 1] + z[py + 1, px + 1] + z[py + 1, px]
                mid = 0.25 * z_sum <= level_m
                # sides 0 bottom, 1 right, 2 top, 3 left
                if case == 5:  # a and c inside
                    s0, d0, s1, d1 = (0, 1, 2, 3) if mid else (0, 3, 2, 1)
                else:  # b and d inside
                    s0, d0, s1, d1 = (3, 0, 1, 2) if mid else (1, 0, 3, 2)
                n = _link(n, s0, d0, px, py, w, wh, z, grid, level_m, slot, dst, xy)
                n = _link(n, s1, d1, px, py, w, wh, z, grid, level_m, slot, dst, xy)
                continue
            # one side leaves the inside going counter-clockwise round the cell, one enters it
            src = end = -1
            if ia and not ib:
                src = 0
            elif ib and not ia:
                end = 0
            if ib and not ic:
                src = 1
            elif ic and not ib:
                end = 1
            if ic and not id_:
                src = 2
            elif id_ and not ic:
                end = 2
            if id_ and not ia:
                src = 3
            elif ia and not id_:
                end = 3
            n = _link(n, src, end, px, py, w, wh, z, grid, level_m, slot, dst, xy)
    return n


@njit(cache=True, nogil=True, inline="always")
def _side_edge(side: int, px: int, py: int, w: int, wh: int) -> int:
    """Grid edge of side ``side`` (0 bottom, 1 right, 2 top, 3 left) of cell ``(px, py)``."""
    if side == 0:
        return py * w + px
    if side == 2:
        return (py + 1) * w + px
    return wh + py * w + px + (side == 1)


@njit(cache=True, nogil=True, inline="always")
def _link(
    n: int,
    side: int,
    to_side: int,
    px: int,
    py: int,
    w: int,
    wh: int,
    z: np.ndarray,
    grid: np.ndarray,
    level_m: float,
    slot: np.ndarray,
    dst: np.ndarray,
    xy: np.ndarray,
) -> int:
    """Number the crossing on side ``side`` of cell ``(px, py)`` ``n``, leading on to side
    ``to_side`` (see :func:`_link_cells`); returns ``n + 1``."""
    slot[_side_edge(side, px, py, w, wh)] = n
    dst[n] = _side_edge(to_side, px, py, w, wh)
    if side == 0:
        xy[n, 0], xy[n, 1] = _along_x(z, px, py, grid, level_m)
    elif side == 2:
        xy[n, 0], xy[n, 1] = _along_x(z, px, py + 1, grid, level_m)
    elif side == 3:
        xy[n, 0], xy[n, 1] = _along_y(z, px, py, grid, level_m)
    else:
        xy[n, 0], xy[n, 1] = _along_y(z, px + 1, py, grid, level_m)
    return n + 1


@njit(cache=True, nogil=True)
def _grow(a: np.ndarray, need: int) -> np.ndarray:
    """``a`` (1-d or 2-d, rows) with room for at least ``need`` rows."""
    if need <= a.shape[0]:
        return a
    out = np.empty((max(need, 2 * a.shape[0]),) + a.shape[1:], a.dtype)
    out[: a.shape[0]] = a
    return out


@njit(cache=True, nogil=True)
def _inside_ring(x: float, y: float, pts: np.ndarray, r0: int, r1: int) -> bool:
    """Whether ``(x, y)`` lies inside the closed ring ``pts[r0:r1]`` (crossing number)."""
    inside = False
    for q in range(r0, r1 - 1):
        xa, ya, xb, yb = pts[q, 0], pts[q, 1], pts[q + 1, 0], pts[q + 1, 1]
        if (ya > y) != (yb > y) and x < xa + (y - ya) * (xb - xa) / (yb - ya):
            inside = not inside
    return inside


@njit(cache=True, nogil=True)
def _trace(
    slot: np.ndarray, dst: np.ndarray, xy: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Follow the ``n`` crossings of :func:`_link_cells` from every one not yet visited: the closed
    rings (points, ring offsets) and each ring's signed area (m², positive counter-clockwise)."""
    nxt = np.empty(n, np.int64)
    for q in range(n):
        nxt[q] = slot[dst[q]]
    pts = np.empty((n + n // 4 + 1, 2))
    off = np.zeros(n // 4 + 2, np.int64)
    area = np.empty(n // 4 + 1)
    n_pts = n_ring = 0
    for s in range(n):
        if nxt[s] < 0:
            continue
        r0 = n_pts
        q = s
        while True:
            pts[n_pts, 0], pts[n_pts, 1] = xy[q, 0], xy[q, 1]
            n_pts += 1
            following = nxt[q]
            nxt[q] = -1
            q = following
            if q == s:
                break
        pts[n_pts] = pts[r0]
        n_pts += 1
        twice = 0.0
        for q in range(r0, n_pts - 1):  # shoelace about the first point (keeps the digits)
            xa, ya = pts[q, 0] - pts[r0, 0], pts[q, 1] - pts[r0, 1]
            xb, yb = pts[q + 1, 0] - pts[r0, 0], pts[q + 1, 1] - pts[r0, 1]
            twice += xa * yb - xb * ya
        area[n_ring] = 0.5 * twice
        n_ring += 1
        off[n_ring] = n_pts
    return pts[:n_pts], off[: n_ring + 1], area[:n_ring]


@njit(cache=True, nogil=True)
def _parents(pts: np.ndarray, off: np.ndarray, area: np.ndarray, min_hole_m2: float) -> np.ndarray:
    """Per ring: the exterior it is a hole of (the smallest exterior around its first point), itself
    for an exterior, -1 for a hole under ``min_hole_m2`` m² (or a ring of no area)."""
    n = len(area)
    parent = np.full(n, -1, np.int64)
    n_ext = 0
    last_ext = -1
    for r in range(n):
        if area[r] > 0:
            parent[r] = r
            n_ext += 1
            last_ext = r
    for r in range(n):
        if area[r] >= 0 or -area[r] < min_hole_m2:
            continue
        if n_ext == 1:
            parent[r] = last_ext
            continue
        x, y = pts[off[r], 0], pts[off[r], 1]
        best = np.inf
        for q in range(n):
            if area[q] > 0 and area[q] < best and _inside_ring(x, y, pts, off[q], off[q + 1]):
                best = area[q]
                parent[r] = q
    return parent


@njit(cache=True, nogil=True)
def filled_rings(
    dist2: np.ndarray,
    boxes: np.ndarray,
    fi0: int,
    fj0: int,
    x0_m: float,
    y0_m: float,
    cell_m: float,
    level_m: float,
    min_hole_m2: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The region ``sqrt(dist2[k]) <= level_m`` of every threshold ``k`` within its window
    ``boxes[k]`` (``x0, x1, y0, y1`` field indices, half-open; point ``(x, y)`` of the field is grid
    point ``(fi0 + x, fj0 + y)``, at ``(x0_m + (fi0 + x) * cell_m, y0_m + (fj0 + y) * cell_m)``
    metres), without holes under ``min_hole_m2`` m².
    Returns all thresholds' closed rings concatenated: points (n, 2) metres; ring offsets and polygon
    offsets, each threshold's run starting at 0 (the offsets of its own points and rings); and per
    threshold where its points, ring offsets and polygon offsets begin (shape (3, thresholds + 1))."""
    n_cut = dist2.shape[0]
    out_pts = np.empty((1024, 2))
    out_ring = np.empty(256, np.int64)
    out_poly = np.empty(256, np.int64)
    at = np.zeros((3, n_cut + 1), np.int64)
    n_pts = n_ring = n_poly = 0
    big = 0
    for k in range(n_cut):
        big = max(big, (boxes[k, 1] - boxes[k, 0] + 2) * (boxes[k, 3] - boxes[k, 2] + 2))
    slot = np.empty(2 * big, np.int32)  # per grid edge; written for crossed ones only
    dst = np.empty(2 * big, np.int64)  # per crossing (at most one per grid edge)
    xy = np.empty((2 * big, 2))
    for k in range(n_cut):
        x0, x1, y0, y1 = boxes[k, 0], boxes[k, 1], boxes[k, 2], boxes[k, 3]
        out_ring = _grow(out_ring, n_ring + 1)
        out_poly = _grow(out_poly, n_poly + 1)
        out_ring[n_ring] = 0
        out_poly[n_poly] = 0
        n_ring += 1
        n_poly += 1
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            box = boxes[k]
            z, ins = _window(dist2, k, box, level_m)  # with a row and column of outside all round
            h, w = ins.shape
            grid = np.empty((2, max(h, w)))
            for q in range(w):
                grid[0, q] = x0_m + (fi0 + x0 - 1 + q) * cell_m
            for q in range(h):
                grid[1, q] = y0_m + (fj0 + y0 - 1 + q) * cell_m
            n = _link_cells(ins, z, grid, level_m, slot, dst, xy)
            pts, off, area = _trace(slot, dst, xy, n)
            parent = _parents(pts, off, area, min_hole_m2)
            out_pts = _grow(out_pts, n_pts + len(pts))
            out_ring = _grow(out_ring, n_ring + len(area))
            out_poly = _grow(out_poly, n_poly + len(area))
            p_local = r_local = 0
            for e in range(len(area)):
                if parent[e] != e:
                    continue
                for q in range(-1, len(area)):  # the exterior, then its holes
                    r = e if q < 0 else q
                    if q < 0 or (parent[r] == e and area[r] < 0):
                        m = off[r + 1] - off[r]
                        out_pts[n_pts + p_local : n_pts + p_local + m] = pts[off[r] : off[r + 1]]
                        p_local += m
                        r_local += 1
                        out_ring[n_ring] = p_local
                        n_ring += 1
                out_poly[n_poly] = r_local
                n_poly += 1
            n_pts += p_local
        at[0, k + 1], at[1, k + 1], at[2, k + 1] = n_pts, n_ring, n_poly
    return out_pts[:n_pts], out_ring[:n_ring], out_poly[:n_poly], at
