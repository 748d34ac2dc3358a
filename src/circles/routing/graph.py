"""Travel-time search on a profile's street graph: snapping, exact multi-source Dijkstra with a cutoff.

The hot path is :func:`scipy.sparse.csgraph.dijkstra`. A start point joins the network at the nearest
point of the nearest usable segment; the off-street leg is walked. Each source becomes a virtual node
with edges to both ends of its segment, so one search from many sources is exact, including the part
of the segment between the snap point and its ends.

A search with a cutoff runs on the sub-graph of nodes within ``cutoff_s * max_speed_m_s`` (straight
line) of the sources: no node outside that disk can be reached in time, so the result is exact and the
cost of one isochrone does not grow with the size of the city. The polygon builders use
:meth:`ProfileGraph.search_within` instead: the same times from a compiled Dijkstra that touches only
the nodes it reaches (:func:`circles.routing.kernels.dijkstra`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from ..config import Profile
from ..errors import EmptyNetworkError, SnapError
from ..routing.network import StreetNetwork

log = logging.getLogger(__name__)

#: Time floor on a segment, seconds: csgraph would read a zero weight as "no edge".
MIN_EDGE_TIME_S = 1e-9
#: Default largest distance from a point to a street, metres.
DEFAULT_MAX_SNAP_M = 500.0
#: Components with less street than this (metres) take no start points: see :class:`IslandReport`.
DEFAULT_MIN_SNAP_COMPONENT_M = 300.0


@dataclass(frozen=True)
class IslandReport:
    """Disconnected parts of a profile graph: a data-quality fact, not silently dropped.

    ``n_components`` counts weakly connected parts; the largest has ``main_street_m`` metres of street;
    the other ``n_islands`` parts have ``island_street_m`` metres together; ``n_small_islands`` of them
    are shorter than the snap threshold and take no start points.
    """

    n_components: int
    main_street_m: float
    n_islands: int
    island_street_m: float
    n_small_islands: int
    small_island_street_m: float

    def as_dict(self) -> dict:
        return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass
class Snap:
    """Points joined to the network: each on segment ``seg`` at fraction ``frac`` (0 at ``seg_u``,
    1 at ``seg_v``), ``offstreet_m`` metres from the street; ``point_xy`` the original points and
    ``street_xy`` the snapped ones (network CRS metres)."""

    seg: np.ndarray
    frac: np.ndarray
    offstreet_m: np.ndarray
    point_xy: np.ndarray
    street_xy: np.ndarray

    def __len__(self) -> int:
        return len(self.seg)

    def subset(self, mask: np.ndarray) -> Snap:
        return Snap(
            self.seg[mask], self.frac[mask], self.offstreet_m[mask], self.point_xy[mask], self.street_xy[mask]
        )


class ProfileGraph:
    """The street network as a directed travel-time graph for one :class:`Profile`.

    ``time_s[j]`` is the time to traverse segment ``j`` (seconds); ``fwd[j]``/``bwd[j]`` say whether it may
    be travelled from ``seg_u`` to ``seg_v`` / back. ``csr`` holds node-to-node times (the minimum over
    parallel segments).
    """

    def __init__(
        self,
        net: StreetNetwork,
        profile: Profile,
        *,
        min_snap_component_m: float = DEFAULT_MIN_SNAP_COMPONENT_M,
    ):
        self.net = net
        self.profile = profile
        if profile.mode == "bicycle":
            usable = net.bike_ok.copy()
            fwd = usable & (net.bike_oneway >= 0)
            bwd = usable & (net.bike_oneway <= 0)
        else:
            usable = net.foot_ok & (profile.steps | ~net.steps)
            fwd = bwd = usable
        if not usable.any():
            raise EmptyNetworkError(
                f"no street in {net.source or 'the network'} is usable by profile {profile.name!r}"
            )
        speed = np.where(net.steps, profile.speed_m_s * profile.steps_speed_factor, profile.speed_m_s)
        self.usable = usable
        self.fwd = fwd
        self.bwd = bwd
        self.speed_m_s = speed
        delay_s = net.seg_delay_s if net.seg_delay_s is not None and profile.mode == "foot" else 0.0
        self.time_s = np.maximum(net.seg_len_m / speed + delay_s, MIN_EDGE_TIME_S)  # + crossing delays
        self.max_speed_m_s = float(speed[usable].max())
        self.offstreet_speed_m_s = profile.offstreet_speed_m_s

        n = net.n_nodes
        rows = np.concatenate([net.seg_u[fwd], net.seg_v[bwd]])
        cols = np.concatenate([net.seg_v[fwd], net.seg_u[bwd]])
        w = np.concatenate([self.time_s[fwd], self.time_s[bwd]])
        self.csr = _csr_min(rows, cols, w, n)
        self.csr_t = self.csr.T.tocsr()

        # segments incident to each node (usable ones), for walking out from reached nodes
        us = np.flatnonzero(usable)
        ends = np.concatenate([net.seg_u[us], net.seg_v[us]])
        order = np.argsort(ends, kind="stable")
        self.node_seg = np.concatenate([us, us])[order]
        self.node_seg_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(ends, minlength=n), out=self.node_seg_ptr[1:])

        # components and islands (weak connectivity)
        self.n_components, labels = connected_components(self.csr, directed=True, connection="weak")
        seg_comp = labels[net.seg_u]
        comp_len = np.bincount(seg_comp[usable], weights=net.seg_len_m[usable], minlength=self.n_components)
        main = int(np.argmax(comp_len))
        islands = np.ones(self.n_components, bool)
        islands[main] = False
        islands &= comp_len > 0
        small = islands & (comp_len < min_snap_component_m)
        self.islands = IslandReport(
            n_components=int((comp_len > 0).sum()),
            main_street_m=float(comp_len[main]),
            n_islands=int(islands.sum()),
            island_street_m=float(comp_len[islands].sum()),
            n_small_islands=int(small.sum()),
            small_island_street_m=float(comp_len[small].sum()),
        )
        self.node_component = labels
        snappable = usable & net.snap_ok & ~small[seg_comp]
        if not snappable.any():  # tiny test networks: allow everything usable
            snappable = usable
        self._snap_seg = np.flatnonzero(snappable)
        self._snap_lines = shapely.linestrings(
            np.stack([net.node_xy[net.seg_u[self._snap_seg]], net.node_xy[net.seg_v[self._snap_seg]]], axis=1)
        )
        self._tree = shapely.STRtree(self._snap_lines)
        self._kdtree = cKDTree(net.node_xy)
        log.info(
            "profile %s: %d usable segments, %d components (%d islands, %.1f km)",
            profile.name,
            int(usable.sum()),
            self.islands.n_components,
            self.islands.n_islands,
            self.islands.island_street_m / 1000,
        )

    # ------------------------------------------------------------------ snapping
    def snap(self, xy: np.ndarray, *, max_snap_m: float = DEFAULT_MAX_SNAP_M, strict: bool = True) -> Snap:
        """Join points (network CRS metres, shape (n, 2)) to the nearest point of the nearest usable
        segment. With ``strict`` a point farther than ``max_snap_m`` raises :class:`SnapError`; otherwise
        its ``seg`` is -1."""
        xy = np.atleast_2d(np.asarray(xy, dtype=np.float64))
        pts = shapely.points(xy)
        idx, dist = self._tree.query_nearest(
            pts, max_distance=max_snap_m, return_distance=True, all_matches=False
        )
        seg = np.full(len(xy), -1, dtype=np.int64)
        off = np.full(len(xy), np.inf)
        frac = np.zeros(len(xy))
        street = xy.copy()
        pi, ti = idx
        seg[pi] = self._snap_seg[ti]
        off[pi] = dist
        lines = self._snap_lines[ti]
        along = shapely.line_locate_point(lines, pts[pi])
        length = shapely.length(lines)
        frac[pi] = np.where(length > 0, along / np.where(length > 0, length, 1), 0.0)
        sp = shapely.line_interpolate_point(lines, along)
        street[pi] = shapely.get_coordinates(sp)
        if strict and (seg < 0).any():
            bad = np.flatnonzero(seg < 0)
            raise SnapError(
                f"{len(bad)} point(s) farther than {max_snap_m:.0f} m from any street usable by profile "
                f"{self.profile.name!r} (first: point #{bad[0]})"
            )
        return Snap(seg, frac, off, xy, street)

    # ------------------------------------------------------------------ search
    def _source_edges(
        self, snap: Snap, reverse: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Edges from each source (virtual node k) to the ends of its segment: (k, node, time_s)."""
        s = snap.seg
        t0 = snap.offstreet_m / self.offstreet_speed_m_s
        along_u = snap.frac * self.time_s[s]
        along_v = (1 - snap.frac) * self.time_s[s]
        # forward: source -> u goes against the segment; reverse (u -> source) goes along it
        # a point snapped onto a segment's end is at that node: no step along the segment is needed
        ok_u = (self.fwd[s] if reverse else self.bwd[s]) | (snap.frac <= 0.0)
        ok_v = (self.bwd[s] if reverse else self.fwd[s]) | (snap.frac >= 1.0)
        k = np.arange(len(s))
        src = np.concatenate([k[ok_u], k[ok_v]])
        dst = np.concatenate([self.net.seg_u[s][ok_u], self.net.seg_v[s][ok_v]])
        w = np.concatenate([(t0 + along_u)[ok_u], (t0 + along_v)[ok_v]])
        return src, dst, np.maximum(w, MIN_EDGE_TIME_S), t0

    def search(self, sources: Snap, *, cutoff_s: float | None = None, reverse: bool = False) -> NodeTimes:
        """Exact shortest travel times (s) from the nearest of ``sources`` to every node.

        ``reverse=True`` gives times *to* the nearest source (residents walking to a facility).
        Nodes not reached within ``cutoff_s`` get ``inf``. Returns :class:`NodeTimes`.
        """
        if len(sources) == 0 or (sources.seg < 0).all():
            return NodeTimes(
                self,
                sources,
                np.full(self.net.n_nodes, np.inf),
                np.full(self.net.n_nodes, -1),
                cutoff_s,
                reverse,
                np.zeros(0, dtype=np.int64),
            )
        valid = np.flatnonzero(sources.seg >= 0)
        snap = sources.subset(valid)
        n = self.net.n_nodes
        csr = self.csr_t if reverse else self.csr
        node_ids = None
        if cutoff_s is not None and np.isfinite(cutoff_s):
            radius = cutoff_s * self.max_speed_m_s + 1.0
            near = self._kdtree.query_ball_point(snap.street_xy, radius)
            node_ids = np.unique(
                np.concatenate(
                    [np.asarray(a, dtype=np.int64) for a in near]
                    + [self.net.seg_u[snap.seg], self.net.seg_v[snap.seg]]
                )
            )
            if len(node_ids) > 0.5 * n:
                node_ids = None
        if node_ids is not None:
            sub = _sub_csr(csr, node_ids)
            m = len(node_ids)
        else:
            sub, m = csr, n
        src, dst, w, _ = self._source_edges(snap, reverse)
        if node_ids is not None:
            dst = np.searchsorted(node_ids, dst)
        k = len(snap)
        aug = _augment(sub, m, src, dst, w, k)
        dist, _, origin = dijkstra(
            aug,
            directed=True,
            indices=np.arange(m, m + k),
            min_only=True,
            limit=np.inf if cutoff_s is None else cutoff_s,
            return_predecessors=True,
        )
        dist = dist[:m]
        origin = origin[:m]
        origin = np.where(origin >= 0, origin - m, -1)
        origin = np.where(origin >= 0, valid[np.clip(origin, 0, None)], -1)
        if cutoff_s is not None:  # on the (small) searched arrays, before they are spread out
            over = dist > cutoff_s
            dist[over] = np.inf
            origin[over] = -1
        reached = np.flatnonzero(np.isfinite(dist))
        if node_ids is not None:
            reached = node_ids[reached]
            full = np.full(n, np.inf)
            full[node_ids] = dist
            full_o = np.full(n, -1, dtype=np.int64)
            full_o[node_ids] = origin
            dist, origin = full, full_o
        return NodeTimes(self, sources, dist, origin, cutoff_s, reverse, reached)

    def search_within(self, sources: Snap, cutoff_s: float, *, reverse: bool = False) -> NodeTimes:
        """:meth:`search` with a cutoff, compiled (:func:`circles.routing.kernels.dijkstra`): the same
        times, found by touching only the nodes reached (no sub-graph to build) and without holding
        the GIL. On an exact tie between two sources ``origin`` may name the other one, so the
        polygon builders use it and :meth:`search` stays the reference for everything else."""
        if len(sources) == 0 or (sources.seg < 0).all():
            return self.search(sources, cutoff_s=cutoff_s, reverse=reverse)
        valid = np.flatnonzero(sources.seg >= 0)
        src, dst, w, _ = self._source_edges(sources.subset(valid), reverse)
        csr = self.csr_t if reverse else self.csr
        from . import kernels  # numba: imported where it is used (~0.3 s), not by every command

        dist, origin, reached = kernels.dijkstra(
            csr.indptr, csr.indices, csr.data, dst, w, valid[src], float(cutoff_s)
        )
        return NodeTimes(self, sources, dist, origin, cutoff_s, reverse, reached)


@dataclass
class NodeTimes:
    """Result of one search: ``time_s[i]`` from (or, if ``reverse``, to) the nearest source at node ``i``
    (``inf`` when not reached within ``cutoff_s``) and ``origin[i]`` the index of that source (-1)."""

    graph: ProfileGraph
    sources: Snap
    time_s: np.ndarray
    origin: np.ndarray
    cutoff_s: float | None
    reverse: bool
    reached: np.ndarray | None = None  #: indices of the nodes with a finite time

    def segments_touched(self) -> np.ndarray:
        """Usable segments with at least one reached end (sorted); cost grows with the reach only."""
        g = self.graph
        reached = self.reached if self.reached is not None else np.flatnonzero(np.isfinite(self.time_s))
        starts, ends = g.node_seg_ptr[reached], g.node_seg_ptr[reached + 1]
        counts = ends - starts
        pos = np.repeat(starts - np.cumsum(np.concatenate([[0], counts[:-1]])), counts) + np.arange(
            counts.sum()
        )
        return np.unique(g.node_seg[pos])

    def at(self, targets: Snap) -> tuple[np.ndarray, np.ndarray]:
        """Exact times (s) at snapped points, including the walk along their segment and off the street,
        and the index of the source each is nearest to. Unsnapped targets get ``inf``/-1."""
        g = self.graph
        ok = targets.seg >= 0
        s = np.where(ok, targets.seg, 0)
        u, v = g.net.seg_u[s], g.net.seg_v[s]
        tseg = g.time_s[s]
        # forward search: u -> point goes along the segment; reverse: point -> u goes against it
        ok_u = (g.bwd[s] if self.reverse else g.fwd[s]) | (targets.frac <= 0.0)
        ok_v = (g.fwd[s] if self.reverse else g.bwd[s]) | (targets.frac >= 1.0)
        via_u = np.where(ok_u, self.time_s[u] + targets.frac * tseg, np.inf)
        via_v = np.where(ok_v, self.time_s[v] + (1 - targets.frac) * tseg, np.inf)
        best = np.minimum(via_u, via_v)
        origin = np.where(via_u <= via_v, self.origin[u], self.origin[v])
        # a source on the same segment: the direct walk along it
        src = self.sources
        if len(src):
            on_seg: dict[int, list[int]] = {}
            for k in np.flatnonzero(src.seg >= 0):
                on_seg.setdefault(int(src.seg[k]), []).append(int(k))
            hits = np.flatnonzero(ok & np.isin(targets.seg, list(on_seg)))
            t0_src = src.offstreet_m / g.offstreet_speed_m_s
            for j in hits:
                for i in on_seg[int(targets.seg[j])]:
                    df = targets.frac[j] - src.frac[i]  # > 0: target lies toward v
                    along_dir = (df >= 0) != self.reverse
                    allowed = g.fwd[s[j]] if along_dir else g.bwd[s[j]]
                    if allowed or df == 0:
                        t = t0_src[i] + abs(df) * tseg[j]
                        if t < best[j]:
                            best[j] = t
                            origin[j] = i
        best = best + targets.offstreet_m / g.offstreet_speed_m_s
        if self.cutoff_s is not None:
            over = best > self.cutoff_s
            best = np.where(over, np.inf, best)
            origin = np.where(over, -1, origin)
        best = np.where(ok, best, np.inf)
        origin = np.where(ok & np.isfinite(best), origin, -1)
        return best, origin


def _csr_min(rows: np.ndarray, cols: np.ndarray, w: np.ndarray, n: int) -> sparse.csr_matrix:
    """CSR matrix keeping the minimum weight of duplicate (row, col) pairs."""
    order = np.lexsort((w, cols, rows))
    rows, cols, w = rows[order], cols[order], w[order]
    first = np.ones(len(rows), bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    rows, cols, w = rows[first], cols[first], w[first]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return sparse.csr_matrix((w, cols, indptr), shape=(n, n))


def _sub_csr(csr: sparse.csr_matrix, node_ids: np.ndarray) -> sparse.csr_matrix:
    """The sub-graph on sorted ``node_ids`` (cost grows with its size, not with the graph's)."""
    starts, ends = csr.indptr[node_ids], csr.indptr[node_ids + 1]
    counts = ends - starts
    pos = np.repeat(starts - np.cumsum(np.concatenate([[0], counts[:-1]])), counts) + np.arange(counts.sum())
    cols = csr.indices[pos]
    local = np.searchsorted(node_ids, cols)
    local_c = np.clip(local, 0, len(node_ids) - 1)
    keep = node_ids[local_c] == cols
    rows = np.repeat(np.arange(len(node_ids)), counts)
    m = len(node_ids)
    return sparse.csr_matrix((csr.data[pos][keep], (rows[keep], local_c[keep])), shape=(m, m))


def _augment(
    csr: sparse.csr_matrix, m: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray, k: int
) -> sparse.csr_matrix:
    """Append ``k`` virtual source rows (edges ``m + src -> dst``) to an ``m``-node CSR graph."""
    order = np.argsort(src, kind="stable")
    counts = np.bincount(src, minlength=k)
    indptr = np.concatenate([csr.indptr, csr.indptr[-1] + np.cumsum(counts)])
    indices = np.concatenate([csr.indices, dst[order]]).astype(np.int32 if m + k < 2**31 else np.int64)
    data = np.concatenate([csr.data, w[order]])
    return sparse.csr_matrix((data, indices, indptr), shape=(m + k, m + k))
