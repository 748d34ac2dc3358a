"""Compiled loops that write GeoJSON answers: the clean-up of outline rings and the coordinate text.

Plain loops compiled by numba (``cache=True``, ``nogil=True``, as in :mod:`circles.routing.kernels`)
doing what numpy calls and ``json.dumps`` would, with the same floating-point operations and the same
characters.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _keep_rings(keep: np.ndarray, ring_off: np.ndarray) -> np.ndarray:
    """``keep``, except that rings it would leave under four points stay whole; returns the new ring
    offsets (and updates ``keep``)."""
    new_off = np.empty(len(ring_off), np.int64)
    new_off[0] = 0
    for r in range(len(ring_off) - 1):
        count = 0
        for q in range(ring_off[r], ring_off[r + 1]):
            count += keep[q]
        if count < 4:
            count = ring_off[r + 1] - ring_off[r]
            for q in range(ring_off[r], ring_off[r + 1]):
                keep[q] = True
        new_off[r + 1] = new_off[r] + count
    return new_off


@njit(cache=True, nogil=True)
def clean_rings(points: np.ndarray, ring_off: np.ndarray, tol_m: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~circles.routing.raster_polygons.drop_repeated` then
    :func:`~circles.routing.raster_polygons.drop_collinear` of combined closed rings, in one pass
    each (the same tests in the same floating-point operations)."""
    n = len(points)
    keep = np.ones(n, np.bool_)
    for r in range(len(ring_off) - 1):
        for q in range(ring_off[r] + 1, ring_off[r + 1] - 1):
            keep[q] = not (points[q, 0] == points[q - 1, 0] and points[q, 1] == points[q - 1, 1])
    off = _keep_rings(keep, ring_off)
    pts = points[keep]
    keep = np.ones(len(pts), np.bool_)
    for r in range(len(off) - 1):
        s, e = off[r], off[r + 1]
        for q in range(s + 1, e - 1):
            a = q - 1
            c = q + 1
            ac_x, ac_y = pts[c, 0] - pts[a, 0], pts[c, 1] - pts[a, 1]
            ab_x, ab_y = pts[q, 0] - pts[a, 0], pts[q, 1] - pts[a, 1]
            cross = abs(ac_x * ab_y - ac_y * ab_x)
            keep[q] = cross > tol_m * np.hypot(ac_x, ac_y)
    off = _keep_rings(keep, off)
    return pts[keep], off


@njit(cache=True, nogil=True, inline="always")
def _write_fixed(out: np.ndarray, pos: int, value: float, decimals: int, scale: float) -> int:
    """Write ``round(value, decimals)`` as Python's ``repr`` does (shortest digits, at least one
    decimal: ``104.0``, ``30.6598``) into the byte buffer ``out`` at ``pos``; returns the new end."""
    scaled = np.rint(value * scale)
    if value < 0 or (value == 0 and np.signbit(value)):
        out[pos] = 45  # '-'
        pos += 1
        scaled = -scaled
    n = np.uint64(scaled)  # unsigned, and the usual 7 decimals by a constant: divisions by constants
    ten = np.uint64(10)  # compile to multiplications (a tenth of the time of a division)
    if decimals == 7:
        whole, frac = n // np.uint64(10_000_000), n % np.uint64(10_000_000)
    else:
        unit = np.uint64(1)
        for _ in range(decimals):
            unit *= ten
        whole, frac = n // unit, n % unit
    width = 1  # digits of the integer part
    top = ten
    while whole >= top:
        top *= ten
        width += 1
    for d in range(width - 1, -1, -1):
        out[pos + d] = 48 + whole % ten
        whole //= ten
    pos += width
    out[pos] = 46  # '.'
    pos += 1
    if frac == 0:
        out[pos] = 48
        return pos + 1
    width = decimals
    while frac % ten == 0:
        frac //= ten
        width -= 1
    for d in range(width - 1, -1, -1):
        out[pos + d] = 48 + frac % ten
        frac //= ten
    return pos + width


@njit(cache=True, nogil=True)
def rings_text(
    lon: np.ndarray, lat: np.ndarray, ring_off: np.ndarray, poly_rings: np.ndarray, decimals: int
) -> tuple[np.ndarray, np.ndarray]:
    """The GeoJSON ``coordinates`` text (UTF-8 bytes) of each polygon: polygon ``p`` has the rings
    ``poly_rings[p]`` .. ``poly_rings[p + 1]``, ring ``r`` the points ``ring_off[r]`` ..
    ``ring_off[r + 1]``, written ``[[[lon,lat],...],...]`` with ``decimals`` decimals at most.
    Returns the bytes of all polygons and each polygon's start in them (one more at the end)."""
    scale = 1.0
    for _ in range(decimals):
        scale *= 10.0
    out = np.empty(len(lon) * 2 * (decimals + 24) + 4 * len(ring_off) + 4 * len(poly_rings) + 16, np.uint8)
    starts = np.empty(len(poly_rings), np.int64)
    pos = 0
    for p in range(len(poly_rings) - 1):
        starts[p] = pos
        out[pos] = 91  # '['
        pos += 1
        for r in range(poly_rings[p], poly_rings[p + 1]):
            if r > poly_rings[p]:
                out[pos] = 44  # ','
                pos += 1
            out[pos] = 91
            pos += 1
            for q in range(ring_off[r], ring_off[r + 1]):
                if q > ring_off[r]:
                    out[pos] = 44
                    pos += 1
                out[pos] = 91
                pos = _write_fixed(out, pos + 1, lon[q], decimals, scale)
                out[pos] = 44
                pos = _write_fixed(out, pos + 1, lat[q], decimals, scale)
                out[pos] = 93  # ']'
                pos += 1
            out[pos] = 93
            pos += 1
        out[pos] = 93
        pos += 1
    starts[len(poly_rings) - 1] = pos
    return out[:pos], starts
