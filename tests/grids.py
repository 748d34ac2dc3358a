"""Small synthetic street grids with answers worked out by hand (imported by tests)."""

from __future__ import annotations

import numpy as np

from circles.routing.network import StreetNetwork

X0, Y0 = 400_000.0, 3_390_000.0  # metres, UTM 48N (central Chengdu)


def grid_arrays(nx: int, ny: int, block_m: float = 100.0, x0: float = X0, y0: float = Y0, skip=None):
    """Nodes of an nx*ny lattice ``block_m`` apart and the segments joining neighbours.

    ``skip(i, j)`` -> True drops node (i, j) and its segments. Node (i, j) has index ``j * nx + i``."""
    ii, jj = np.meshgrid(np.arange(nx), np.arange(ny))
    xy = np.column_stack([x0 + ii.ravel() * block_m, y0 + jj.ravel() * block_m])
    idx = np.arange(nx * ny).reshape(ny, nx)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    if skip is not None:
        dead = np.array([skip(i % nx, i // nx) for i in range(nx * ny)])
        keep = ~dead[u] & ~dead[v]
        u, v = u[keep], v[keep]
    return xy, u, v


def grid_network(nx: int, ny: int, block_m: float = 100.0, **kw) -> StreetNetwork:
    xy, u, v = grid_arrays(nx, ny, block_m, **kw)
    return StreetNetwork.from_segments(xy, u, v)


def node(nx: int, i: int, j: int) -> int:
    return j * nx + i
