"""Coordinate transforms between a network's metric CRS and WGS84 by fitted polynomials.

pyproj's ``Transformer.transform`` takes about 10 µs a call and 0.17 µs a point (some 0.1 ms for the
outlines of one 5/10/15-minute request and 0.03 ms for its start point: together a tenth of it).
Over a tile of some 20 km a projection such as UTM is a smooth function that a polynomial of degree
``DEGREE`` in the scaled coordinates reproduces to nanometres: :class:`TiledFit` fits one per tile
the first time a tile is asked for (fitted on a grid of pyproj's own points, checked against pyproj
on other points of the tile, kept only when no point is off by ``MAX_ERROR_M`` or more) and
evaluates it in a compiled loop.
Points outside a fitted tile, and tiles whose fit misses the bound (a CRS far from smooth there),
go to pyproj, so the answer is pyproj's to within ``MAX_ERROR_M`` everywhere; in practice the
fitted coordinates differ from pyproj's by under a micrometre, far below the 1e-7 degree (1 cm)
rounding of GeoJSON output.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pyproj
from numba import njit

#: Degree of the fitted polynomials (in both coordinates together).
DEGREE = 6
#: Largest error a fit may make on its check points, metres; worse fits are not used.
MAX_ERROR_M = 1e-3
#: Tile sizes (metric CRS metres; WGS84 degrees) and the margin fitted round each tile, as a fraction.
TILE_M = 20_000.0
TILE_DEG = 0.2
TILE_PAD = 0.25
#: Metres per degree of latitude or longitude at most (turns degree errors into metres, erring high).
_M_PER_DEG = 111_700.0


@dataclass(frozen=True)
class PolyFit:
    """``out = offset + sum c[d, i, j] u**i v**j`` with ``u, v`` the input scaled to [-1, 1] over the
    box ``lo``-``hi`` (input units) the fit holds on, for output coordinate ``d``."""

    lo: np.ndarray
    hi: np.ndarray
    centre: np.ndarray
    half: np.ndarray
    offset: np.ndarray
    coef: np.ndarray


@njit(cache=True, nogil=True)
def evaluate(
    x: np.ndarray,
    y: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    centre: np.ndarray,
    half: np.ndarray,
    offset: np.ndarray,
    coef: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """A :class:`PolyFit` at the points ``(x, y)``: the two output coordinates and whether every point
    lies inside the fit's box (when not, the outputs are not to be used)."""
    n = len(x)
    out0, out1 = np.empty(n), np.empty(n)
    deg = coef.shape[1] - 1
    for q in range(n):
        if not (lo[0] <= x[q] <= hi[0] and lo[1] <= y[q] <= hi[1]):
            return out0, out1, False
    s0, s1 = 1.0 / half[0], 1.0 / half[1]
    for q in range(n):
        u = (x[q] - centre[0]) * s0
        v = (y[q] - centre[1]) * s1
        a0 = a1 = 0.0
        for i in range(deg, -1, -1):  # Horner in u of Horner in v, both outputs together
            b0 = b1 = 0.0
            for j in range(deg - i, -1, -1):
                b0 = b0 * v + coef[0, i, j]
                b1 = b1 * v + coef[1, i, j]
            a0 = a0 * u + b0
            a1 = a1 * u + b1
        out0[q] = offset[0] + a0
        out1[q] = offset[1] + a1
    return out0, out1, True


def _design(u: np.ndarray, v: np.ndarray, deg: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    terms = [(i, j) for i in range(deg + 1) for j in range(deg + 1 - i)]
    return np.column_stack([u**i * v**j for i, j in terms]), terms


def fit_box(
    transformer: pyproj.Transformer, lo: np.ndarray, hi: np.ndarray, error_scale: np.ndarray
) -> PolyFit | None:
    """Fit ``transformer`` over the box ``lo``-``hi`` (input units); None when some check point is off
    by ``MAX_ERROR_M`` or more (output errors times ``error_scale`` are metres) or not finite."""
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    nodes = np.cos(np.linspace(np.pi, 0, 4 * DEGREE + 1))  # Chebyshev points: a well-posed fit
    u, v = (a.ravel() for a in np.meshgrid(nodes, nodes))
    out = np.column_stack(transformer.transform(centre[0] + u * half[0], centre[1] + v * half[1]))
    rng = np.random.default_rng(0)
    cu, cv = rng.uniform(-1, 1, (2, 4000))
    cu[:4], cv[:4] = [-1, -1, 1, 1], [-1, 1, -1, 1]
    # check points inside the box even where centre + half rounds past its edge
    cx = np.clip(centre[0] + cu * half[0], lo[0], hi[0])
    cy = np.clip(centre[1] + cv * half[1], lo[1], hi[1])
    check = np.column_stack(transformer.transform(cx, cy))
    if not (np.isfinite(out).all() and np.isfinite(check).all()):
        return None
    offset = out.mean(axis=0)
    design, terms = _design(u, v, DEGREE)
    sol = np.linalg.lstsq(design, out - offset, rcond=None)[0]
    coef = np.zeros((2, DEGREE + 1, DEGREE + 1))
    for t, (i, j) in enumerate(terms):
        coef[:, i, j] = sol[t]
    fit = PolyFit(lo, hi, centre, half, offset, coef)
    got0, got1, inside = evaluate(cx, cy, lo, hi, centre, half, offset, coef)
    if not inside:
        return None
    error_m = np.abs(np.column_stack([got0, got1]) - check) * error_scale
    return fit if float(error_m.max()) < MAX_ERROR_M else None


@dataclass
class TiledFit:
    """``transformer.transform`` (always_xy) by one :class:`PolyFit` per tile of ``tile`` input units,
    fitted on first use; pyproj itself where no fit holds. ``error_scale``: metres per output unit
    (an upper bound where it varies) for the fits' error check."""

    transformer: pyproj.Transformer
    tile: float
    error_scale: np.ndarray
    #: fits per tile (None: pyproj there)
    fits: dict[tuple[int, int], PolyFit | None] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fit(self, x: float, y: float) -> PolyFit | None:
        """The fit of the tile holding the point ``(x, y)`` (input units)."""
        if not (np.isfinite(x) and np.isfinite(y)):
            return None
        key = (int(np.floor(x / self.tile)), int(np.floor(y / self.tile)))
        if key in self.fits:
            return self.fits[key]
        with self.lock:
            if key not in self.fits:
                lo = (np.array(key, dtype=np.float64) - TILE_PAD) * self.tile
                hi = lo + (1 + 2 * TILE_PAD) * self.tile
                self.fits[key] = fit_box(self.transformer, lo, hi, self.error_scale)
        return self.fits[key]

    def transform(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """The points ``(x, y)`` (arrays of input units) in the output CRS, as pyproj's ``transform``."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.float64)
        if x.ndim == 1 and len(x):
            fit = self.fit(float(x[0]), float(y[0]))
            if fit is not None:
                a, b, ok = evaluate(x, y, fit.lo, fit.hi, fit.centre, fit.half, fit.offset, fit.coef)
                if ok:
                    return a, b
        a, b = self.transformer.transform(x, y)
        return np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)


@lru_cache(maxsize=64)
def to_wgs84(crs: str) -> TiledFit:
    """The fitted transform from the metric CRS ``crs`` (metres) to WGS84 (lon, lat degrees), shared by
    every network in that CRS (a drop-in for ``StreetNetwork.to_wgs84()`` where speed matters)."""
    transformer = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return TiledFit(transformer, TILE_M, np.full(2, _M_PER_DEG))


@lru_cache(maxsize=64)
def from_wgs84(crs: str) -> TiledFit:
    """The fitted transform from WGS84 (lon, lat degrees) to the metric CRS ``crs`` (metres), shared by
    every network in that CRS (a drop-in for ``StreetNetwork.from_wgs84()`` where speed matters)."""
    transformer = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return TiledFit(transformer, TILE_DEG, np.ones(2))
