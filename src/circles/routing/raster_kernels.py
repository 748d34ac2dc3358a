"""Compiled helpers of one raster-polygon request (:mod:`circles.routing.raster_polygons`): the grid
windows of the thresholds, the start points' own stretches, off-street legs and street length.

Small loops over a handful of thresholds and start points that replaced chains of numpy calls (their
fixed cost per call was most of their time); compiled as :mod:`circles.routing.kernels` is
(``cache=True``, ``nogil=True``), with the same floating-point operations in the same order.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernels import lower_segment


@njit(cache=True, nogil=True)
def start_stretches(
    cut_s: np.ndarray,
    t0_s: np.ndarray,
    sigma_m: np.ndarray,
    speed_m_s: np.ndarray,
    arc_m: np.ndarray,
    to_chord: np.ndarray,
    to_a: np.ndarray,
    to_b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per threshold (rows) and start point (columns): the stretch ``lo``-``hi`` (metres along the
    streets from its piece's end ``a``; ``lo > hi`` while the off-street leg of ``t0_s`` seconds is
    not walked) it reaches by itself from ``sigma_m`` at ``speed_m_s`` (toward ``a`` if ``to_a``,
    toward ``b`` if ``to_b``, within the piece's ``arc_m``), and the same as the float32 chord
    intervals of :func:`~circles.routing.kernels.lower_fields` (``[lo, hi]`` times ``to_chord``;
    shape (4, rows, columns))."""
    n_cut, n = len(cut_s), len(t0_s)
    lo, hi = np.empty((n_cut, n)), np.empty((n_cut, n))
    bounds = np.empty((4, n_cut, n), np.float32)
    for k in range(n_cut):
        for s in range(n):
            r = (cut_s[k] - t0_s[s]) * speed_m_s[s]
            a = max(sigma_m[s] - r, 0.0) if to_a[s] else sigma_m[s]
            b = min(sigma_m[s] + r, arc_m[s]) if to_b[s] else sigma_m[s]
            lo[k, s], hi[k, s] = (a, b) if r >= 0 else (np.inf, -np.inf)
            bounds[0, k, s] = np.float32(lo[k, s] * to_chord[s])
            bounds[1, k, s] = np.float32(hi[k, s] * to_chord[s])
            bounds[2, k, s] = bounds[3, k, s] = -np.inf
    return lo, hi, bounds


@njit(cache=True, nogil=True)
def start_street_m(
    street_m: np.ndarray,
    arc_m: np.ndarray,
    ends_arc_m: np.ndarray,
    covered_m: np.ndarray,
    start: np.ndarray,
    lo_m: np.ndarray,
    hi_m: np.ndarray,
) -> np.ndarray:
    """Per threshold, ``street_m`` (metres) plus what the start points add on their own pieces: on
    start piece ``s`` (``arc_m[s]`` long, reached ``ends_arc_m[k, 0, s]`` from ``a`` and ``[k, 1,
    s]`` from ``b``, counted as ``covered_m[k, s]``) the union of those reaches and of the stretches
    ``lo_m``-``hi_m`` (thresholds x start points) of the start points on it (``start``), less what
    was counted; pieces in the order the start points first name them, intervals sorted as
    ``sorted()`` sorts pairs (the same sums as the Python loop it replaces)."""
    n_cut, n_src = lo_m.shape
    out = street_m.copy()
    iv = np.empty((n_src + 2, 2))
    for k in range(n_cut):
        for first in range(n_src):
            s = start[first]
            if s in start[:first]:
                continue  # done with the first start point on it
            m = 0
            for q in range(first, n_src):
                if start[q] == s:
                    iv[m, 0], iv[m, 1] = lo_m[k, q], hi_m[k, q]
                    m += 1
            iv[m, 0], iv[m, 1] = 0.0, ends_arc_m[k, 0, s]
            iv[m + 1, 0], iv[m + 1, 1] = arc_m[s] - ends_arc_m[k, 1, s], arc_m[s]
            for q in range(1, m + 2):  # insertion sort by (start, end)
                lo, hi = iv[q, 0], iv[q, 1]
                r = q - 1
                while r >= 0 and (iv[r, 0] > lo or (iv[r, 0] == lo and iv[r, 1] > hi)):
                    iv[r + 1, 0], iv[r + 1, 1] = iv[r, 0], iv[r, 1]
                    r -= 1
                iv[r + 1, 0], iv[r + 1, 1] = lo, hi
            total, end = 0.0, -np.inf  # union_length: overlaps once, empty intervals ignored
            for q in range(m + 2):
                lo, hi = iv[q, 0], iv[q, 1]
                if hi <= lo:
                    continue
                if lo > end:
                    total += hi - lo
                    end = hi
                elif hi > end:
                    total += hi - end
                    end = hi
            out[k] += total - covered_m[k, s]
    return out


@njit(cache=True, nogil=True)
def windows(
    lo_m: np.ndarray,
    hi_m: np.ndarray,
    pad_m: float,
    x0_m: float,
    y0_m: float,
    cell_m: float,
    limit: np.ndarray,
) -> np.ndarray:
    """Per row of the boxes ``lo_m``-``hi_m`` (x, y metres) widened by ``pad_m`` on every side, the
    grid points inside (``i0, i1, j0, j1``, half-open; grid point ``(i, j)`` at ``(x0_m + i *
    cell_m, y0_m + j * cell_m)``) within the window ``limit`` (same form), as ``Grid.span`` and
    ``Field.clip`` compute them."""
    out = np.empty((len(lo_m), 4), np.int64)
    for k in range(len(lo_m)):
        i0 = np.int64(np.ceil((lo_m[k, 0] - pad_m - x0_m) / cell_m))
        j0 = np.int64(np.ceil((lo_m[k, 1] - pad_m - y0_m) / cell_m))
        i1 = max(np.int64(np.floor((hi_m[k, 0] + pad_m - x0_m) / cell_m)) + 1, i0)
        j1 = max(np.int64(np.floor((hi_m[k, 1] + pad_m - y0_m) / cell_m)) + 1, j0)
        out[k, 0], out[k, 1] = max(i0, limit[0]), min(i1, limit[1])
        out[k, 2], out[k, 3] = max(j0, limit[2]), min(j1, limit[3])
    return out


@njit(cache=True, nogil=True)
def lower_legs(
    dist2: np.ndarray,
    x0_m: float,
    y0_m: float,
    cell_m: float,
    window: np.ndarray,
    point_xy: np.ndarray,
    street_xy: np.ndarray,
    t0_s: np.ndarray,
    offstreet_m: np.ndarray,
    cut_s: np.ndarray,
    speed_m_s: float,
    reach_m: float,
) -> None:
    """Lower each threshold's field ``dist2`` (grid window ``window``: ``i0, i1, j0, j1``) to the
    distance to the off-street legs ``point_xy`` -> ``street_xy`` (metres, walked at ``speed_m_s``
    from ``t0_s`` seconds back) walked within it: whole from the first threshold they fit in, their
    walked part before that (:func:`~circles.routing.kernels.cumulative_min` carries them on)."""
    fi0, fj0 = window[0], window[2]
    for k in range(len(cut_s)):
        for n in range(len(t0_s)):
            if offstreet_m[n] <= 0 or (k > 0 and t0_s[n] <= cut_s[k - 1]):
                continue  # no leg, or whole in an earlier threshold's field
            frac = min(1.0, cut_s[k] * speed_m_s / offstreet_m[n])
            ax, ay = point_xy[n, 0], point_xy[n, 1]
            bx = ax + (street_xy[n, 0] - ax) * frac
            by = ay + (street_xy[n, 1] - ay) * frac
            box = windows(
                np.array([[min(ax, bx), min(ay, by)]]), np.array([[max(ax, bx), max(ay, by)]]),
                reach_m, x0_m, y0_m, cell_m, window,
            )[0]  # fmt: skip
            if box[1] > box[0] and box[3] > box[2]:
                dx, dy = bx - ax, by - ay
                lower_segment(
                    dist2[k], x0_m, y0_m, cell_m, box[0], box[1], box[2], box[3], fi0, fj0,
                    ax, ay, dx, dy, dx * dx + dy * dy,
                )  # fmt: skip
