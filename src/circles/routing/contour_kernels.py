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


@njit(cache=True, nogil=True, inline="always")
def _vertex(e: int, z: np.ndarray, w: int, wh: int, grid: np.ndarray, level_m: float) -> tuple[float, float]:
    """Where the outline crosses grid edge ``e`` (horizontal ``py * w + px``, vertical ``wh + py * w +
    px``) of the window ``z`` (distances); ``grid``: the x and y metres of the window's point ``(0, 0)``
    (as ``x0_m + i * cell_m``, ``y0_m + j * cell_m``) and one cell on."""
    if e < wh:
        py, px = e // w, e % w
        z0, z1 = z[py, px], z[py, px + 1]
        frac = (z1 - level_m) / (z1 - z0)
        return grid[0, px] * frac + grid[0, px + 1] * (1.0 - frac), grid[1, py]
    e -= wh
    py, px = e // w, e % w
    z0, z1 = z[py, px], z[py + 1, px]
    frac = (z1 - level_m) / (z1 - z0)
    return grid[0, px], grid[1, py] * frac + grid[1, py + 1] * (1.0 - frac)


@njit(cache=True, nogil=True)
def _link_cells(z: np.ndarray, level_m: float, nxt: np.ndarray, starts: np.ndarray) -> int:
    """Marching squares over the window ``z`` (distances, ``inf`` outside): for every grid edge the
    outline crosses, the next edge along it with the inside on the left (``nxt``), and the crossed
    edges in scan order (``starts``); returns how many."""
    h, w = z.shape
    wh = w * h
    n = 0
    for py in range(h - 1):
        for px in range(w - 1):
            ia = z[py, px] <= level_m
            ib = z[py, px + 1] <= level_m
            ic = z[py + 1, px + 1] <= level_m
            id_ = z[py + 1, px] <= level_m
            case = ia + 2 * ib + 4 * ic + 8 * id_
            if case == 0 or case == 15:
                continue
            bottom = py * w + px
            top = bottom + w
            left = wh + py * w + px
            right = left + 1
            if case == 5 or case == 10:  # saddle: joined through the middle when it is inside
                mid = 0.25 * (z[py, px] + z[py, px + 1] + z[py + 1, px + 1] + z[py + 1, px]) <= level_m
                if case == 5:  # a and c inside
                    s0, d0, s1, d1 = (bottom, right, top, left) if mid else (bottom, left, top, right)
                else:  # b and d inside
                    s0, d0, s1, d1 = (left, bottom, right, top) if mid else (right, bottom, left, top)
                nxt[s0], nxt[s1] = d0, d1
                starts[n], starts[n + 1] = s0, s1
                n += 2
                continue
            # one edge leaves the inside going counter-clockwise round the cell, one enters it
            src = dst = -1
            if ia and not ib:
                src = bottom
            elif ib and not ia:
                dst = bottom
            if ib and not ic:
                src = right
            elif ic and not ib:
                dst = right
            if ic and not id_:
                src = top
            elif id_ and not ic:
                dst = top
            if id_ and not ia:
                src = left
            elif ia and not id_:
                dst = left
            nxt[src] = dst
            starts[n] = src
            n += 1
    return n


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
    z: np.ndarray,
    nxt: np.ndarray,
    starts: np.ndarray,
    n_start: int,
    grid: np.ndarray,
    level_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Follow ``nxt`` from every crossed edge not yet visited: the closed rings (points, ring offsets)
    and each ring's signed area (m², positive counter-clockwise)."""
    h, w = z.shape
    wh = w * h
    pts = np.empty((n_start + n_start // 4 + 1, 2))
    off = np.zeros(n_start // 4 + 2, np.int64)
    area = np.empty(n_start // 4 + 1)
    n_pts = n_ring = 0
    for s in starts[:n_start]:
        if nxt[s] < 0:
            continue
        r0 = n_pts
        e = s
        while True:
            pts[n_pts, 0], pts[n_pts, 1] = _vertex(e, z, w, wh, grid, level_m)
            n_pts += 1
            following = nxt[e]
            nxt[e] = -1
            e = following
            if e == s:
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
    nxt = np.empty(2 * big, np.int64)
    starts = np.empty(2 * big, np.int64)
    for k in range(n_cut):
        x0, x1, y0, y1 = boxes[k, 0], boxes[k, 1], boxes[k, 2], boxes[k, 3]
        out_ring = _grow(out_ring, n_ring + 1)
        out_poly = _grow(out_poly, n_poly + 1)
        out_ring[n_ring] = 0
        out_poly[n_poly] = 0
        n_ring += 1
        n_poly += 1
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            z = np.full((y1 - y0 + 2, x1 - x0 + 2), np.inf)  # a row and column of outside all round
            for y in range(y0, y1):
                for x in range(x0, x1):
                    z[y - y0 + 1, x - x0 + 1] = np.sqrt(np.float64(dist2[k, y, x]))
            n_start = _link_cells(z, level_m, nxt, starts)
            grid = np.empty((2, max(z.shape)))
            for q in range(z.shape[1]):
                grid[0, q] = x0_m + (fi0 + x0 - 1 + q) * cell_m
            for q in range(z.shape[0]):
                grid[1, q] = y0_m + (fj0 + y0 - 1 + q) * cell_m
            pts, off, area = _trace(z, nxt, starts, n_start, grid, level_m)
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
