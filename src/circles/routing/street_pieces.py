"""Straight street pieces: runs of a profile's usable segments, merged through pass-through nodes.

A piece is a run of consecutive usable segments joined at nodes where exactly two usable segments meet
with the same speed and the same allowed directions, kept while every vertex of the run lies within
``tolerance_m`` of the straight chord between its ends. Nothing but the two end nodes can lead into a
piece, so a search's times at those two nodes (and any start point on the piece) give the reached part
of the whole piece exactly; its chord stands for its geometry within ``tolerance_m``. Dense footway
networks (Helsinki: median segment 6.5 m) shrink to a fraction of their segments, which is what the
raster polygon method (:mod:`circles.routing.raster_polygons`) pays for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .graph import ProfileGraph

#: Largest distance of a merged vertex from its piece's chord, metres.
DEFAULT_TOLERANCE_M = 1.0


@dataclass(frozen=True)
class StreetPieces:
    """Straight pieces of one profile graph (network CRS, metres).

    Piece ``k`` runs from node ``a[k]`` to node ``b[k]``: ``arc_m`` is the length along its segments,
    ``chord_m`` the straight distance between its ends, ``speed_m_s`` its travel speed, ``fwd``/``bwd``
    whether it may be travelled from ``a`` to ``b`` / back. Per network segment: ``seg_piece`` (-1 when
    not usable), ``seg_arc0_m`` the arc position (metres from ``a``) of the segment's end nearer ``a``,
    and ``seg_flip`` true when the segment's ``seg_u -> seg_v`` direction runs from ``b`` toward ``a``.
    ``ends`` stacks ``a`` and ``b`` (shape (2, n)) and ``ways`` stacks ``fwd`` and ``bwd``.
    ``node_piece``/``node_piece_ptr``: the pieces ending at each node (CSR), ``node_piece_at_a`` true
    where that end is the piece's ``a``. ``box_m``: rows min x, min y, -max x, -max y of each chord
    (metres; negated maxima so that one minimum gives a whole bounding box).
    """

    a: np.ndarray
    b: np.ndarray
    arc_m: np.ndarray
    chord_m: np.ndarray
    speed_m_s: np.ndarray
    fwd: np.ndarray
    bwd: np.ndarray
    seg_piece: np.ndarray
    seg_arc0_m: np.ndarray
    seg_flip: np.ndarray
    node_piece: np.ndarray
    node_piece_ptr: np.ndarray
    node_piece_at_a: np.ndarray
    box_m: np.ndarray
    ends: np.ndarray
    ways: np.ndarray

    def __len__(self) -> int:
        return len(self.a)

    def pieces_at(self, nodes: np.ndarray, time_s: np.ndarray) -> np.ndarray:
        """Pieces ending at any of ``nodes`` (those with a finite ``time_s``, an array over the network's
        nodes), each once: at its ``a`` when ``a`` has a time, else at its ``b``."""
        starts, ends = self.node_piece_ptr[nodes], self.node_piece_ptr[nodes + 1]
        counts = ends - starts
        pos = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
        piece = self.node_piece[pos]
        return piece[self.node_piece_at_a[pos] | ~np.isfinite(time_s[self.a[piece]])]


def _pass_through(g: ProfileGraph) -> tuple[np.ndarray, np.ndarray]:
    """Per node: whether runs merge through it, and the two usable segments meeting there (-1 else)."""
    net = g.net
    deg = np.diff(g.node_seg_ptr)
    n2 = np.flatnonzero(deg == 2)
    s1 = g.node_seg[g.node_seg_ptr[n2]]
    s2 = g.node_seg[g.node_seg_ptr[n2] + 1]
    ok = (s1 != s2) & (net.seg_u[s1] != net.seg_v[s1]) & (net.seg_u[s2] != net.seg_v[s2])
    ok &= g.speed_m_s[s1] == g.speed_m_s[s2]
    # walking s1 into the node and s2 out of it must be allowed exactly when the reverse walk is
    into1 = np.where(net.seg_v[s1] == n2, g.fwd[s1], g.bwd[s1])
    out1 = np.where(net.seg_v[s1] == n2, g.bwd[s1], g.fwd[s1])
    into2 = np.where(net.seg_v[s2] == n2, g.fwd[s2], g.bwd[s2])
    out2 = np.where(net.seg_v[s2] == n2, g.bwd[s2], g.fwd[s2])
    ok &= (into1 == out2) & (into2 == out1)
    through = np.zeros(net.n_nodes, bool)
    through[n2[ok]] = True
    pair = np.full((net.n_nodes, 2), -1, dtype=np.int64)
    pair[n2[ok], 0] = s1[ok]
    pair[n2[ok], 1] = s2[ok]
    return through, pair


def _walk_chains(g: ProfileGraph, through: np.ndarray, pair: np.ndarray) -> list[list[tuple[int, bool]]]:
    """Chains of segments through pass-through nodes, each as ``[(segment, flipped), ...]`` in order;
    only segments touching a pass-through node are walked (the rest are pieces of their own)."""
    net = g.net
    seg_u, seg_v = net.seg_u, net.seg_v
    linked = np.flatnonzero(g.usable & (through[seg_u] | through[seg_v]))
    # start from segments with an end that is not pass-through; what is left are closed loops
    order = np.concatenate([linked[~(through[seg_u[linked]] & through[seg_v[linked]])], linked])
    visited = np.zeros(net.n_segments, bool)
    chains: list[list[tuple[int, bool]]] = []
    for s0 in order.tolist():
        if visited[s0]:
            continue
        u0 = int(seg_u[s0])
        node = u0 if not through[u0] else int(seg_v[s0])
        if through[node] and through[u0]:  # a loop: start anywhere
            node = u0
        chain: list[tuple[int, bool]] = []
        s = s0
        while True:
            visited[s] = True
            flipped = int(seg_u[s]) != node
            chain.append((s, flipped))
            far = int(seg_u[s]) if flipped else int(seg_v[s])
            if not through[far]:
                break
            p0, p1 = int(pair[far, 0]), int(pair[far, 1])
            nxt = p1 if p0 == s else p0
            if visited[nxt]:
                break
            s, node = nxt, far
        chains.append(chain)
    return chains


def _split_straight(xy: list[tuple[float, float]], tolerance_m: float) -> list[int]:
    """Cut positions (vertex indices, first and last included) so that every run of the polyline ``xy``
    keeps its vertices within ``tolerance_m`` of its chord and its length within ``tolerance_m`` of
    the chord's."""
    cuts = [0]
    start = 0
    arc = 0.0
    for m in range(1, len(xy)):
        arc_m = arc + math.dist(xy[m - 1], xy[m])
        if m - start >= 2 and not _straight(xy, start, m, arc_m, tolerance_m):
            cuts.append(m - 1)
            start = m - 1
            arc_m = math.dist(xy[m - 1], xy[m])
        arc = arc_m
    cuts.append(len(xy) - 1)
    return cuts


def _straight(xy: list[tuple[float, float]], start: int, end: int, arc_m: float, tol: float) -> bool:
    (x0, y0), (x1, y1) = xy[start], xy[end]
    dx, dy = x1 - x0, y1 - y0
    chord = math.hypot(dx, dy)
    if chord <= tol or arc_m - chord > tol:
        return False
    for k in range(start + 1, end):
        x, y = xy[k]
        if abs((x - x0) * dy - (y - y0) * dx) > tol * chord:
            return False
    return True


def street_pieces(g: ProfileGraph, *, tolerance_m: float = DEFAULT_TOLERANCE_M) -> StreetPieces:
    """Merge the usable segments of ``g`` into straight pieces (see the module docstring)."""
    net = g.net
    through, pair = _pass_through(g)
    seg_u, seg_v, node_xy = net.seg_u, net.seg_v, net.node_xy
    # single segments between two non-pass-through nodes: one piece each, vectorised
    alone = np.flatnonzero(g.usable & ~through[seg_u] & ~through[seg_v])
    seg_lists: list[list[int]] = []
    flip_lists: list[list[bool]] = []
    for chain in _walk_chains(g, through, pair):
        nodes = [int(seg_v[s]) if f else int(seg_u[s]) for s, f in chain]
        nodes.append(int(seg_u[chain[-1][0]]) if chain[-1][1] else int(seg_v[chain[-1][0]]))
        xy = [(float(node_xy[n, 0]), float(node_xy[n, 1])) for n in nodes]
        cuts = _split_straight(xy, tolerance_m)
        for c0, c1 in zip(cuts, cuts[1:]):
            seg_lists.append([s for s, _ in chain[c0:c1]])
            flip_lists.append([f for _, f in chain[c0:c1]])
    return _assemble(g, alone, seg_lists, flip_lists)


def _assemble(
    g: ProfileGraph, alone: np.ndarray, seg_lists: list[list[int]], flip_lists: list[list[bool]]
) -> StreetPieces:
    """Pieces from the single segments and the merged runs: ends, lengths, flags and the CSR maps."""
    net = g.net
    n_alone = len(alone)
    lengths = np.array([len(s) for s in seg_lists], dtype=np.int64)
    flat = np.array([s for lst in seg_lists for s in lst], dtype=np.int64)
    flat_flip = np.array([f for lst in flip_lists for f in lst], dtype=bool)
    piece_of = np.concatenate([np.arange(n_alone), n_alone + np.repeat(np.arange(len(lengths)), lengths)])
    segs = np.concatenate([alone, flat]).astype(np.int64)
    flip = np.concatenate([np.zeros(n_alone, bool), flat_flip])
    n_pieces = n_alone + len(lengths)
    first = np.concatenate([np.arange(n_alone), n_alone + np.cumsum(lengths) - lengths]).astype(np.int64)
    last = np.concatenate([np.arange(n_alone), n_alone + np.cumsum(lengths) - 1]).astype(np.int64)
    s_first, s_last = segs[first], segs[last]
    a = np.where(flip[first], net.seg_v[s_first], net.seg_u[s_first])
    b = np.where(flip[last], net.seg_u[s_last], net.seg_v[s_last])
    seg_len = net.seg_len_m[segs]
    arc = np.bincount(piece_of, weights=seg_len, minlength=n_pieces)
    arc0 = np.cumsum(seg_len) - seg_len
    arc0 = arc0 - arc0[first][piece_of]
    # directions along the piece (a -> b): a segment run against its u->v direction swaps its flags
    fwd = np.where(flip[first], g.bwd[s_first], g.fwd[s_first])
    bwd = np.where(flip[first], g.fwd[s_first], g.bwd[s_first])
    seg_piece = np.full(net.n_segments, -1, dtype=np.int64)
    seg_piece[segs] = piece_of
    seg_arc0 = np.zeros(net.n_segments)
    seg_arc0[segs] = arc0
    seg_flip = np.zeros(net.n_segments, bool)
    seg_flip[segs] = flip
    ends = np.concatenate([a, b])
    order = np.argsort(ends, kind="stable")
    node_piece_ptr = np.zeros(net.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=net.n_nodes), out=node_piece_ptr[1:])
    pa, pb = net.node_xy[a], net.node_xy[b]
    return StreetPieces(
        a=a.astype(np.int64),
        b=b.astype(np.int64),
        arc_m=arc,
        chord_m=np.hypot(*(net.node_xy[b] - net.node_xy[a]).T),
        speed_m_s=g.speed_m_s[s_first],
        fwd=fwd,
        bwd=bwd,
        seg_piece=seg_piece,
        seg_arc0_m=seg_arc0,
        seg_flip=seg_flip,
        node_piece=np.concatenate([np.arange(n_pieces), np.arange(n_pieces)])[order],
        node_piece_ptr=node_piece_ptr,
        node_piece_at_a=(order < n_pieces),
        box_m=np.ascontiguousarray(np.vstack([np.minimum(pa, pb).T, -np.maximum(pa, pb).T])),
        ends=np.stack([a, b]).astype(np.int64),
        ways=np.stack([fwd, bwd]),
    )
