"""What every grid point's nearby streets are, computed once per network and profile.

The raster polygon method (:mod:`circles.routing.raster_polygons`) evaluates, on a square grid of
``cell_m`` spacing in the network CRS, the distance from each grid point to the reached part of every
straight street piece (:mod:`circles.routing.street_pieces`) within ``reach_m = buffer_m + cell_m`` of
it (the reach is what exact contouring needs: the neighbours of a point inside the buffer lie within
``buffer_m + cell_m`` of a reached street). This module keeps, per piece, the grid points within
``reach_m`` of its chord and where each one projects on it (``along_m`` from end ``a``, squared
distance to the chord's line ``perp2_m2`` and to the chord itself ``full2_m2``), about 20 bytes per
point and piece: 13 MB for central Chengdu, 5 MB for the Helsinki extract, built up front in 0.1-0.4 s,
and the same pairs turned around per grid point (:class:`PointPieces`, about as much again) for the
look-up by point of dense footway meshes.
Networks with more than ``EAGER_MAX_ROWS`` such pairs (a 1M-node grid is 100 km across) have their
pieces enumerated lazily, the first time a search reaches them, so memory grows with the area asked
about, not with the extent of the network.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from .graph import ProfileGraph
from .street_pieces import DEFAULT_TOLERANCE_M, StreetPieces, street_pieces

log = logging.getLogger(__name__)

#: Grid spacing as a fraction of the buffer: 20 m cells for the default 50 m buffer.
CELL_PER_BUFFER = 0.4
#: Networks whose pieces have at most this many grid points within reach in all (about 20 bytes each)
#: are enumerated up front; larger ones piece by piece as searches reach them.
EAGER_MAX_ROWS = 5_000_000
#: Per-point lookup (:class:`PointPieces`) only when the network's box has at most this many grid
#: points per pair (its offsets take 8 bytes per grid point of the box).
MAX_POINTS_PER_ROW = 2
#: Grid points enumerated per batch (bounds the temporary memory of a build).
BATCH_POINTS = 200_000


@dataclass(frozen=True)
class Grid:
    """Grid point ``(i, j)`` is at ``(x0_m + i * cell_m, y0_m + j * cell_m)`` (network CRS metres);
    ``i`` and ``j`` are any int32 (the grid has no edge: a start point far off the streets still lies
    on it)."""

    x0_m: float
    y0_m: float
    cell_m: float

    def xs(self, i0: int, i1: int) -> np.ndarray:
        return self.x0_m + np.arange(i0, i1) * self.cell_m

    def ys(self, j0: int, j1: int) -> np.ndarray:
        return self.y0_m + np.arange(j0, j1) * self.cell_m

    def span(self, lo_m: np.ndarray, hi_m: np.ndarray) -> tuple[int, int, int, int]:
        """Index window ``(i0, i1, j0, j1)`` (half-open) of the grid points inside the box from
        ``lo_m`` to ``hi_m`` (x, y metres)."""
        h = self.cell_m
        i0 = int(np.ceil((lo_m[0] - self.x0_m) / h))
        j0 = int(np.ceil((lo_m[1] - self.y0_m) / h))
        i1 = int(np.floor((hi_m[0] - self.x0_m) / h)) + 1
        j1 = int(np.floor((hi_m[1] - self.y0_m) / h)) + 1
        return i0, max(i1, i0), j0, max(j1, j0)


@dataclass
class GridPairs:
    """Grid points near straight segments: point ``(i, j)`` of segment ``seg``, at ``along_m`` metres
    along the segment from its first end (negative before it), ``perp2_m2`` squared metres from its
    line and ``full2_m2`` from the segment itself."""

    seg: np.ndarray
    i: np.ndarray
    j: np.ndarray
    along_m: np.ndarray
    perp2_m2: np.ndarray
    full2_m2: np.ndarray


def grid_pairs(grid: Grid, pa: np.ndarray, pb: np.ndarray, reach_m: float) -> GridPairs:
    """Every grid point within ``reach_m`` metres of each segment ``pa[k]``-``pb[k]`` (shape (n, 2),
    metres). Distances are float32 (sub-millimetre at these sizes); grid indices int32."""
    lo = np.minimum(pa, pb) - reach_m
    hi = np.maximum(pa, pb) + reach_m
    h = grid.cell_m
    i0 = np.ceil((lo[:, 0] - grid.x0_m) / h).astype(np.int64)
    j0 = np.ceil((lo[:, 1] - grid.y0_m) / h).astype(np.int64)
    i1 = np.floor((hi[:, 0] - grid.x0_m) / h).astype(np.int64) + 1
    j1 = np.floor((hi[:, 1] - grid.y0_m) / h).astype(np.int64) + 1
    ni = np.maximum(i1 - i0, 0)
    nj = np.maximum(j1 - j0, 0)
    counts = ni * nj
    seg = np.repeat(np.arange(len(pa)), counts)
    k = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    nis = ni[seg]
    ii = i0[seg] + k % np.maximum(nis, 1)
    jj = j0[seg] + k // np.maximum(nis, 1)
    d = pb - pa
    length = np.hypot(d[:, 0], d[:, 1])
    ok = length > 0
    ex = np.where(ok, d[:, 0] / np.where(ok, length, 1.0), 1.0)
    ey = np.where(ok, d[:, 1] / np.where(ok, length, 1.0), 0.0)
    wx = grid.x0_m + ii * h - pa[seg, 0]
    wy = grid.y0_m + jj * h - pa[seg, 1]
    along = wx * ex[seg] + wy * ey[seg]
    perp = wx * ey[seg] - wy * ex[seg]
    to_b = length[seg] - along
    beyond = np.maximum(np.maximum(-along, -to_b), 0.0)
    perp2 = perp * perp
    full2 = perp2 + beyond * beyond
    keep = full2 <= reach_m * reach_m
    return GridPairs(
        seg=seg[keep],
        i=ii[keep].astype(np.int32),
        j=jj[keep].astype(np.int32),
        along_m=along[keep].astype(np.float32),
        perp2_m2=perp2[keep].astype(np.float32),
        full2_m2=full2[keep].astype(np.float32),
    )


@dataclass
class PairPool:
    """Grid points near pieces, grouped by piece (see :class:`GridPairs` for the fields); arrays are
    allocated with spare capacity and only grow (a reader's snapshot stays valid)."""

    i: np.ndarray
    j: np.ndarray
    along_m: np.ndarray
    perp2_m2: np.ndarray
    full2_m2: np.ndarray

    @classmethod
    def empty(cls, capacity: int) -> PairPool:
        return cls(
            np.empty(capacity, np.int32),
            np.empty(capacity, np.int32),
            np.empty(capacity, np.float32),
            np.empty(capacity, np.float32),
            np.empty(capacity, np.float32),
        )

    def grown(self, used: int, capacity: int) -> PairPool:
        """A copy of the first ``used`` rows with room for ``capacity``."""
        out = PairPool.empty(capacity)
        for name in _POOL_FIELDS:
            getattr(out, name)[:used] = getattr(self, name)[:used]
        return out


_POOL_FIELDS = ("i", "j", "along_m", "perp2_m2", "full2_m2")


@dataclass(frozen=True)
class PointPieces:
    """The pairs turned around: per grid point ``(i, j)`` of the window ``[i0, i0 + nx) x [j0, j0 + ny)``
    (row-major position ``p``), the pieces within reach in ``ptr[p]`` .. ``ptr[p + 1]``, nearest first
    (ascending ``full2_m2``), with the fields of :class:`GridPairs`. One isochrone then looks up, per
    grid point, its nearest pieces until one is reached whole (:func:`kernels.gather_fields`) instead
    of writing every grid point of every reached piece."""

    i0: int
    j0: int
    nx: int
    ny: int
    ptr: np.ndarray
    piece: np.ndarray
    along_m: np.ndarray
    perp2_m2: np.ndarray
    full2_m2: np.ndarray

    @classmethod
    def of(cls, pool: PairPool, starts: np.ndarray, counts: np.ndarray) -> PointPieces:
        """From the pool rows of every piece (``starts``, ``counts``: all pieces enumerated)."""
        rows = piece_rows(starts, counts)
        piece = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        i, j, full2 = pool.i[rows], pool.j[rows], pool.full2_m2[rows]
        if len(rows) == 0:
            return cls(0, 0, 0, 0, np.zeros(1, np.int64), piece, full2, full2, full2)
        i0, j0 = int(i.min()), int(j.min())
        nx, ny = int(i.max()) - i0 + 1, int(j.max()) - j0 + 1
        key = (j - j0).astype(np.int64) * nx + (i - i0)
        order = np.lexsort((full2, key))
        ptr = np.zeros(nx * ny + 1, np.int64)
        np.cumsum(np.bincount(key, minlength=nx * ny), out=ptr[1:])
        rows = rows[order]
        return cls(i0, j0, nx, ny, ptr, piece[order], pool.along_m[rows], pool.perp2_m2[rows], full2[order])


@dataclass
class PolygonIndex:
    """Straight pieces of one profile graph and, per piece, its grid points within ``reach_m`` (see the
    module docstring). Built by :func:`polygon_index`; the pair pool grows under ``lock`` as searches
    reach new pieces (readers take a consistent snapshot with :meth:`pairs_of`)."""

    graph: ProfileGraph
    pieces: StreetPieces
    grid: Grid
    buffer_m: float
    reach_m: float
    #: per piece: first row in the pool and number of rows (-1: not enumerated yet)
    pool_start: np.ndarray
    pool_count: np.ndarray
    pool: PairPool
    pool_rows: int = 0
    #: all pieces enumerated up front (the per-point lookup can be built)
    eager: bool = False
    #: the pairs per grid point (:meth:`point_pieces`; None: not built, or not worth it)
    by_point: PointPieces | None = None
    by_point_tried: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["lock"]  # locks do not pickle; a copy gets its own
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, lock=threading.Lock())

    def ensure(self, pieces: np.ndarray) -> None:
        """Enumerate the grid points of ``pieces`` (indices) not done yet."""
        todo = pieces[self.pool_count[pieces] < 0]
        if len(todo) == 0:
            return
        with self.lock:
            todo = np.unique(todo[self.pool_count[todo] < 0])
            if len(todo):
                self._enumerate(todo)

    def _enumerate(self, todo: np.ndarray) -> None:
        xy = self.graph.net.node_xy
        pa, pb = xy[self.pieces.a[todo]], xy[self.pieces.b[todo]]
        span = np.abs(pb - pa) + 2 * self.reach_m
        cost = np.cumsum(span[:, 0] * span[:, 1] / self.grid.cell_m**2 + 1)
        cuts = np.searchsorted(cost, np.arange(BATCH_POINTS, cost[-1], BATCH_POINTS))
        bounds = [0, *np.unique(cuts[(cuts > 0) & (cuts < len(todo))]).tolist(), len(todo)]
        parts, counts = [], []
        for b0, b1 in zip(bounds, bounds[1:]):
            new = grid_pairs(self.grid, pa[b0:b1], pb[b0:b1], self.reach_m)
            order = np.argsort(new.seg, kind="stable")
            parts.append([getattr(new, name)[order] for name in _POOL_FIELDS])
            counts.append(np.bincount(new.seg, minlength=b1 - b0))
        first = self._append([np.concatenate(cols) for cols in zip(*parts)])
        n_rows = np.concatenate(counts)
        self.pool_start[todo] = first + np.cumsum(n_rows) - n_rows
        self.pool_count[todo] = n_rows  # last: readers trust rows once the count is set

    def _append(self, columns: list[np.ndarray]) -> int:
        """Append rows (one array per pool field); returns the first new row."""
        first = self.pool_rows
        need = first + len(columns[0])
        if need > len(self.pool.i):
            grow = need if first == 0 else max(need, 2 * len(self.pool.i))  # exact size when built at once
            self.pool = self.pool.grown(first, grow)
        for name, col in zip(_POOL_FIELDS, columns):
            getattr(self.pool, name)[first:need] = col
        self.pool_rows = need
        return first

    def pairs_of(self, pieces: np.ndarray) -> tuple[PairPool, np.ndarray, np.ndarray]:
        """The pool (a snapshot: rows once written never change), the pool rows of ``pieces`` (all
        enumerated, see :meth:`ensure`) grouped by piece in the order given, and each piece's count."""
        pool = self.pool
        counts = self.pool_count[pieces]
        return pool, piece_rows(self.pool_start[pieces], counts), counts

    def point_pieces(self) -> PointPieces | None:
        """The pairs per grid point, built on first use (about 0.2 s for central Chengdu); None for a
        lazy index or a sparse network over a wide box (its offsets would outweigh the pairs)."""
        if self.by_point_tried or not self.eager:
            return self.by_point
        with self.lock:
            if not self.by_point_tried:
                by_point = PointPieces.of(self.pool, self.pool_start, self.pool_count)
                if by_point.nx * by_point.ny <= MAX_POINTS_PER_ROW * max(self.pool_rows, 1):
                    self.by_point = by_point
                self.by_point_tried = True
        return self.by_point

    def rows_of(self, pieces: np.ndarray) -> tuple[PairPool, np.ndarray, np.ndarray]:
        """The pool (a snapshot: rows once written never change) and the first pool row and number of
        rows of each of ``pieces`` (all enumerated, see :meth:`ensure`; a piece's rows are contiguous)."""
        pool = self.pool
        return pool, self.pool_start[pieces], self.pool_count[pieces]


def piece_rows(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ranges ``starts[k] .. starts[k] + counts[k]`` (pool rows of several pieces)."""
    total = int(counts.sum())
    return np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(total)


#: One index is built at a time (concurrent first requests wait for it instead of building twice).
_BUILD_LOCK = threading.Lock()


def polygon_index(
    graph: ProfileGraph,
    *,
    buffer_m: float,
    cell_m: float | None = None,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
) -> PolygonIndex:
    """The polygon index of ``graph`` for ``buffer_m`` (metres), cached on the network
    (``net.polygon_index``) per profile, buffer, cell and tolerance. ``cell_m`` defaults to
    ``CELL_PER_BUFFER * buffer_m``. Building it takes about 0.1-0.4 s on a city-centre extract (a
    server may call this at start-up)."""
    if not (buffer_m > 0 and np.isfinite(buffer_m)) or (cell_m is not None and not cell_m > 0):
        raise InputError(f"buffer_m and cell_m must be positive metres, got {buffer_m!r} and {cell_m!r}")
    cell = float(cell_m) if cell_m else CELL_PER_BUFFER * float(buffer_m)
    key = (graph.profile, float(buffer_m), cell, float(tolerance_m))
    index = graph.net.polygon_index.get(key)
    if index is not None and index.graph is graph:
        return index
    with _BUILD_LOCK:
        index = graph.net.polygon_index.get(key)
        if index is None or index.graph is not graph:
            index = _build(graph, float(buffer_m), cell, float(tolerance_m))
            graph.net.polygon_index[key] = index
    return index


def _build(graph: ProfileGraph, buffer_m: float, cell: float, tolerance_m: float) -> PolygonIndex:
    pieces = street_pieces(graph, tolerance_m=tolerance_m)
    reach = buffer_m + 1.01 * cell
    x0, y0 = np.floor(graph.net.node_xy.min(axis=0) / cell) * cell
    n = len(pieces)
    index = PolygonIndex(
        graph=graph,
        pieces=pieces,
        grid=Grid(float(x0), float(y0), cell),
        buffer_m=buffer_m,
        reach_m=reach,
        pool_start=np.zeros(n, dtype=np.int64),
        pool_count=np.full(n, -1, dtype=np.int64),
        pool=PairPool.empty(0),
    )
    rows = (2 * reach * pieces.chord_m.sum() + np.pi * reach**2 * n) / cell**2
    if rows <= EAGER_MAX_ROWS:
        index.ensure(np.arange(n))
        index.eager = True
    log.info(
        "polygon index %s: %d pieces from %d segments, grid of %.0f m, %d grid pairs%s",
        graph.profile.name,
        n,
        int(graph.usable.sum()),
        cell,
        index.pool_rows,
        "" if rows <= EAGER_MAX_ROWS else " (lazy: pieces are enumerated as searches reach them)",
    )
    return index
