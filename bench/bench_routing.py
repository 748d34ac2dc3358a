"""Routing-core benchmark: circles vs the usual networkx/osmnx recipe, measured side by side in one run.

Usage::

    python bench/bench_routing.py                      # Chengdu extract + grids of 10k, 100k, 1M nodes
    python bench/bench_routing.py --sizes 10000,100000
    python bench/bench_routing.py --quick              # smoke run: 10k grid + Chengdu, few repeats

What is measured, on the Chengdu extract and on synthetic square street grids (block ~100 m, UTM 48N
metres around (400000, 3390000)):

(a) one 15-minute walking isochrone (search + polygon), median over random start points:
    circles  ``g.snap(point)`` + ``isochrones(g, snap, [15])``;
    networkx nearest node (KD-tree, built beforehand) + ``nx.ego_graph(G, node, radius=900,
             distance="travel_time")`` + the osmnx isochrone example's polygon: reached nodes buffered
             and reached edges (as LineStrings) buffered, 50 m, merged with ``union_all``.
    Both are also timed with the search alone (circles ``g.search(snap, cutoff_s=900)``, networkx
    ``ego_graph``) so the table shows where the time goes.
(b) one multi-source pass from 1,000 random facilities over the whole graph, no cutoff:
    circles ``g.search(snap_of_1000_points)``; networkx ``nx.multi_source_dijkstra(G, sources,
    weight="travel_time")``. Facilities sit exactly on nodes, so both answer the same question and
    the times are cross-checked node by node.

The networkx graph is built the way osmnx builds a walking graph (a ``MultiDiGraph``, every walkable
segment in both directions, ``length`` and ``travel_time = length / 1.1`` on each edge, ``x``/``y`` on
each node), outside the timings. The baseline is kept honest rather than naive: its polygon step is
vectorised shapely 2 (no per-edge pandas look-ups as in the original example), each street is buffered
once (not once per direction), and the graph is moved out of the garbage collector's reach
(``gc.freeze``) so that Python's GC does not bill networkx for scanning millions of dicts.

Nothing here asserts a time: the targets are printed as PASS/MISS for information, and the results are
written to ``bench/results/routing.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # run from a checkout without installing

import networkx as nx  # noqa: E402
import scipy  # noqa: E402
import shapely  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from circles.config import get_profile, shared_data_dir  # noqa: E402
from circles.routing.graph import ProfileGraph  # noqa: E402
from circles.routing.isochrones import isochrones  # noqa: E402
from circles.routing.network import StreetNetwork, load_network  # noqa: E402

ORIGIN = (400_000.0, 3_390_000.0)  # metres, EPSG:32648 (UTM 48N, central Chengdu)
BLOCK_M = 100.0
JITTER_M = 10.0  # nodes moved up to this far from the lattice, so streets are not all exactly 100 m
CUTOFF_S = 900.0  # 15 minutes
BUFFER_M = 50.0
N_FACILITIES = 1000
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
CHENGDU = Path("chengdu_osm_central_2018") / "chengdu_central_2018.osm.pbf"

# targets (information only: printed as PASS/MISS, never an exit code)
TARGET_SPEEDUP = 10.0
TARGET_ISO_GROWTH = 2.0  # isochrone at 1M nodes <= 2x the one at 10k
TARGET_MS_1M_S = 1.0  # multi-source pass at 1M nodes < 1 s


# ---------------------------------------------------------------------------------------------- data
def grid_network(n_target: int, seed: int = 0) -> StreetNetwork:
    """A square lattice of ~``n_target`` nodes, ``BLOCK_M`` apart, each node jittered by up to ``JITTER_M``."""
    k = max(2, int(round(np.sqrt(n_target))))
    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(k), np.arange(k))
    xy = np.column_stack([ORIGIN[0] + ii.ravel() * BLOCK_M, ORIGIN[1] + jj.ravel() * BLOCK_M])
    xy += rng.uniform(-JITTER_M, JITTER_M, xy.shape)
    idx = np.arange(k * k).reshape(k, k)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    return StreetNetwork.from_segments(xy, u, v, crs="EPSG:32648", source=f"grid {k}x{k}")


def start_points(g: ProfileGraph, n: int, rng: np.random.Generator, margin_m: float) -> np.ndarray:
    """``n`` random points near streets of the main component (up to 30 m off), at least ``margin_m``
    inside the network's bounding box so a 15-minute isochrone is not cut by the edge of the data."""
    net = g.net
    main = np.bincount(g.node_component).argmax()
    segs = np.flatnonzero(g.usable & net.snap_ok & (g.node_component[net.seg_u] == main))
    lo, hi = net.node_xy.min(0) + margin_m, net.node_xy.max(0) - margin_m
    mid = (net.node_xy[net.seg_u[segs]] + net.node_xy[net.seg_v[segs]]) / 2
    inner = segs[((mid > lo) & (mid < hi)).all(1)]
    if len(inner) >= n:
        segs = inner
    pick = rng.choice(segs, n, replace=len(segs) < n)
    f = rng.uniform(0, 1, n)[:, None]
    p = net.node_xy[net.seg_u[pick]] * (1 - f) + net.node_xy[net.seg_v[pick]] * f
    return p + rng.uniform(-30, 30, (n, 2))


def facility_nodes(g: ProfileGraph, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct random nodes of the main component that touch a snappable street."""
    net = g.net
    main = np.bincount(g.node_component).argmax()
    segs = np.flatnonzero(g.usable & net.snap_ok & (g.node_component[net.seg_u] == main))
    nodes = np.unique(np.concatenate([net.seg_u[segs], net.seg_v[segs]]))
    return np.sort(rng.choice(nodes, min(n, len(nodes)), replace=False))


def nx_graph(net: StreetNetwork, usable: np.ndarray, speed_m_s: float) -> nx.MultiDiGraph:
    """The osmnx-style walking graph: MultiDiGraph, each walkable segment both ways, travel_time in s."""
    G = nx.MultiDiGraph(crs=net.crs)
    u, v, L = net.seg_u[usable].tolist(), net.seg_v[usable].tolist(), net.seg_len_m[usable].tolist()
    nodes = sorted(set(u) | set(v))
    xy = net.node_xy
    G.add_nodes_from((i, {"x": float(xy[i, 0]), "y": float(xy[i, 1])}) for i in nodes)
    G.add_edges_from((a, b, {"length": d, "travel_time": d / speed_m_s}) for a, b, d in zip(u, v, L))
    G.add_edges_from((b, a, {"length": d, "travel_time": d / speed_m_s}) for a, b, d in zip(u, v, L))
    return G


def nx_iso_polygon(G: nx.MultiDiGraph, sub: nx.MultiDiGraph) -> shapely.Geometry:
    """The osmnx isochrone example's polygon, vectorised: reached nodes and reached edges buffered, merged."""
    nodes = list(sub.nodes)
    pos = {n: k for k, n in enumerate(nodes)}
    xy = np.array([(G.nodes[n]["x"], G.nodes[n]["y"]) for n in nodes], dtype=np.float64).reshape(-1, 2)
    pairs = {(a, b) if a < b else (b, a) for a, b in sub.edges()}  # each street once, not per direction
    if pairs:
        ij = np.array([(pos[a], pos[b]) for a, b in pairs])
        lines = shapely.linestrings(np.stack([xy[ij[:, 0]], xy[ij[:, 1]]], axis=1))
    else:
        lines = np.empty(0, dtype=object)
    geoms = np.concatenate([shapely.buffer(shapely.points(xy), BUFFER_M), shapely.buffer(lines, BUFFER_M)])
    return shapely.union_all(geoms)


# ------------------------------------------------------------------------------------------- helpers
def rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024 * 1024) if sys.platform == "darwin" else r / 1024


def timed(fn, *a, **kw):
    t = time.perf_counter()
    out = fn(*a, **kw)
    return time.perf_counter() - t, out


def med_ms(xs) -> float:
    return 1000.0 * statistics.median(xs)


def log(msg: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------------------------------------- phases
def bench_circles(name: str, net: StreetNetwork, n_iso: int, ms_reps: int, seed: int) -> tuple[dict, dict]:
    """Phase 1 for one data set. Returns (results, carry) where carry holds what the networkx phase needs."""
    walk = get_profile("walk")
    gc.collect()
    build_s, g = timed(ProfileGraph, net, walk)
    log(
        f"{name}: {net.n_nodes:,} nodes, {net.n_segments:,} segments; ProfileGraph built in {build_s * 1000:.0f} ms"
    )
    rng = np.random.default_rng(seed)
    pts = start_points(g, n_iso, rng, margin_m=1100.0)
    fac = facility_nodes(g, N_FACILITIES, rng)

    # (a) isochrones: warm up once, then time each start point (total, then search alone)
    isochrones(g, g.snap(pts[:1]), [15])
    iso_t, search_t, areas, street = [], [], [], []
    for p in pts:
        t0 = time.perf_counter()
        snap = g.snap(p[None, :])
        iso = isochrones(g, snap, [15])[0]
        iso_t.append(time.perf_counter() - t0)
        areas.append(iso.area_m2)
        street.append(iso.street_m)
    for p in pts:
        t0 = time.perf_counter()
        g.search(g.snap(p[None, :]), cutoff_s=CUTOFF_S)
        search_t.append(time.perf_counter() - t0)
    log(
        f"{name}: circles isochrone median {med_ms(iso_t):.1f} ms (search {med_ms(search_t):.1f} ms), n={len(pts)}"
    )

    # (b) multi-source pass from 1,000 facilities (snapped outside the timing)
    fsnap = g.snap(net.node_xy[fac])
    g.search(fsnap)  # warm-up
    ms_t = []
    res = None
    for _ in range(ms_reps):
        gc.collect()
        t, res = timed(g.search, fsnap)
        ms_t.append(t)
    log(f"{name}: circles multi-source median {med_ms(ms_t):.0f} ms over {ms_reps} run(s)")

    usable = g.usable.copy()
    speed = float(walk.speed_m_s)
    out = {
        "dataset": name,
        "n_nodes": int(net.n_nodes),
        "n_segments": int(net.n_segments),
        "n_usable_segments": int(usable.sum()),
        "build_profilegraph_ms": build_s * 1000,
        "iso_n_points": len(pts),
        "iso_circles_ms": med_ms(iso_t),
        "iso_circles_search_ms": med_ms(search_t),
        "iso_circles_all_ms": [1000 * x for x in iso_t],
        "iso_circles_area_km2_median": statistics.median(areas) / 1e6,
        "iso_circles_street_km_median": statistics.median(street) / 1000,
        "ms_n_facilities": int(len(fac)),
        "ms_circles_ms": med_ms(ms_t),
        "ms_circles_all_ms": [1000 * x for x in ms_t],
        "ms_circles_reached_nodes": int(np.isfinite(res.time_s).sum()),
        "rss_after_circles_mib": rss_mib(),
    }
    carry = {"pts": pts, "fac": fac, "usable": usable, "speed": speed, "ms_time_s": res.time_s}
    del g, res
    gc.collect()
    return out, carry


def bench_networkx(name: str, net: StreetNetwork, carry: dict, out: dict, n_iso: int, ms_reps: int) -> None:
    """Phase 2 for one data set: the networkx recipe on the same network, same points and facilities."""
    gc.collect()
    build_s, G = timed(nx_graph, net, carry["usable"], carry["speed"])
    gc.collect()
    gc.freeze()  # the graph lives for the whole phase: keep it out of every GC pass
    out["build_networkx_ms"] = build_s * 1000
    log(f"{name}: networkx MultiDiGraph built in {build_s:.1f} s ({G.number_of_edges():,} directed edges)")
    try:
        ids = np.fromiter(G.nodes, dtype=np.int64)
        tree = cKDTree(net.node_xy[ids])

        def iso(p, polygon=True):
            src = int(ids[tree.query(p)[1]])
            sub = nx.ego_graph(G, src, radius=CUTOFF_S, distance="travel_time")  # noqa: F821 (closure over G, deleted after use)
            return nx_iso_polygon(G, sub) if polygon else sub  # noqa: F821

        pts = carry["pts"][:n_iso]
        iso(pts[0])  # warm-up
        iso_t, search_t, areas = [], [], []
        for p in pts:
            t, poly = timed(iso, p)
            iso_t.append(t)
            areas.append(poly.area)
        for p in pts:
            search_t.append(timed(iso, p, False)[0])
        out.update(
            iso_networkx_ms=med_ms(iso_t),
            iso_networkx_search_ms=med_ms(search_t),
            iso_networkx_n_points=len(pts),
            iso_networkx_all_ms=[1000 * x for x in iso_t],
            iso_networkx_area_km2_median=statistics.median(areas) / 1e6,
        )
        log(
            f"{name}: networkx isochrone median {med_ms(iso_t):.1f} ms (ego_graph {med_ms(search_t):.1f} ms), n={len(pts)}"
        )

        sources = set(carry["fac"].tolist())
        ms_t = []
        dist = None
        for _ in range(ms_reps):
            dist = None
            t, (dist, paths) = timed(nx.multi_source_dijkstra, G, sources, weight="travel_time")
            del paths
            ms_t.append(t)
        # cross-check: facilities sit on nodes, so both must give the same time at every node
        d = np.full(net.n_nodes, np.inf)
        d[np.fromiter(dist.keys(), dtype=np.int64, count=len(dist))] = np.fromiter(
            dist.values(), float, count=len(dist)
        )
        c = carry["ms_time_s"]
        both = np.isfinite(d) & np.isfinite(c)
        out.update(
            ms_networkx_ms=med_ms(ms_t),
            ms_networkx_all_ms=[1000 * x for x in ms_t],
            ms_networkx_reached_nodes=int(np.isfinite(d).sum()),
            ms_max_abs_diff_s=float(np.abs(d[both] - c[both]).max()) if both.any() else None,
            ms_reached_same=bool((np.isfinite(d) == np.isfinite(c)).all()),
        )
        log(
            f"{name}: networkx multi_source_dijkstra median {med_ms(ms_t):.0f} ms over {ms_reps} run(s); "
            f"max |circles - networkx| = {out['ms_max_abs_diff_s']:.2e} s"
        )
        del dist, d
    finally:
        gc.unfreeze()
        del G
        gc.collect()
    out["rss_after_networkx_mib"] = rss_mib()


# ------------------------------------------------------------------------------------------- report
def ratio(a, b):
    return (b / a) if a and b else float("nan")


def report(rows: list[dict], meta: dict) -> dict:
    w = 104
    print("\n" + "=" * w)
    print(
        f"Routing benchmark  {meta['date']}  python {meta['python']}  networkx {meta['networkx']}  "
        f"scipy {meta['scipy']}  shapely {meta['shapely']}  cpus {meta['cpus']}"
    )
    print("=" * w)
    hdr = f"{'data set':<14}{'nodes':>11}  {'measure':<34}{'circles ms':>12}{'networkx ms':>13}{'ratio':>9}"
    print(hdr)
    print("-" * w)
    for r in rows:
        lines = [
            ("isochrone 15 min (search+polygon)", r["iso_circles_ms"], r.get("iso_networkx_ms")),
            ("  of which search / ego_graph", r["iso_circles_search_ms"], r.get("iso_networkx_search_ms")),
            (f"multi-source, {r['ms_n_facilities']} facilities", r["ms_circles_ms"], r.get("ms_networkx_ms")),
        ]
        for k, (label, c, x) in enumerate(lines):
            xs = f"{x:13.1f}" if x is not None else f"{'-':>13}"
            rs = f"{ratio(c, x):8.1f}x" if x is not None else f"{'-':>9}"
            head = f"{r['dataset']:<14}{r['n_nodes']:>11,}" if k == 0 else " " * 25
            print(f"{head}  {label:<34}{c:12.1f}{xs}{rs}")
        print(
            f"{'':25}  {'graph build (ProfileGraph / nx)':<34}{r['build_profilegraph_ms']:12.1f}"
            + (f"{r['build_networkx_ms']:13.1f}" if "build_networkx_ms" in r else "")
        )
        print("-" * w)
    print("ratio = networkx ms / circles ms (speed-up of circles). Medians; same machine, same run.")
    print(
        f"Peak RSS: {meta['rss_after_circles_mib']:.0f} MiB after the circles phase (all data sets), "
        f"{meta['rss_end_mib']:.0f} MiB at the end (networkx graphs included)."
    )
    extra = [
        f"{r['dataset']}: iso area {r['iso_circles_area_km2_median']:.2f} km2 circles vs "
        f"{r.get('iso_networkx_area_km2_median', float('nan')):.2f} km2 networkx; multi-source "
        f"max |diff| {r.get('ms_max_abs_diff_s', float('nan')):.1e} s, same nodes reached: {r.get('ms_reached_same')}"
        for r in rows
    ]
    print("Checks: " + "\n        ".join(extra))

    # targets
    targets = []
    for r in rows:
        if "iso_networkx_ms" in r:
            s = ratio(r["iso_circles_ms"], r["iso_networkx_ms"])
            targets.append(
                (
                    f"isochrone >= {TARGET_SPEEDUP:.0f}x networkx [{r['dataset']}]",
                    s >= TARGET_SPEEDUP,
                    f"{s:.1f}x",
                )
            )
        if "ms_networkx_ms" in r:
            s = ratio(r["ms_circles_ms"], r["ms_networkx_ms"])
            targets.append(
                (
                    f"multi-source >= {TARGET_SPEEDUP:.0f}x networkx [{r['dataset']}]",
                    s >= TARGET_SPEEDUP,
                    f"{s:.1f}x",
                )
            )
    by = {r["dataset"]: r for r in rows}
    if "grid-10k" in by and "grid-1M" in by:
        g = by["grid-1M"]["iso_circles_ms"] / by["grid-10k"]["iso_circles_ms"]
        targets.append(
            (
                f"isochrone at 1M <= {TARGET_ISO_GROWTH:.0f}x the one at 10k",
                g <= TARGET_ISO_GROWTH,
                f"{g:.2f}x",
            )
        )
    if "grid-1M" in by:
        t = by["grid-1M"]["ms_circles_ms"] / 1000
        targets.append((f"multi-source at 1M < {TARGET_MS_1M_S:.0f} s", t < TARGET_MS_1M_S, f"{t:.2f} s"))
    print("\nTargets (information, not an exit code):")
    for label, ok, val in targets:
        print(f"  {'PASS' if ok else 'MISS'}  {label:<52} {val}")
    print("=" * w)
    return {label: {"pass": bool(ok), "value": val} for label, ok, val in targets}


def size_name(n: int) -> str:
    return (
        f"grid-{n // 1_000_000}M"
        if n >= 1_000_000 and n % 1_000_000 == 0
        else (f"grid-{n // 1000}k" if n % 1000 == 0 else f"grid-{n}")
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--sizes", default=None, help="grid sizes in nodes, comma-separated (default 10000,100000,1000000)"
    )
    ap.add_argument(
        "--quick", action="store_true", help="smoke run: 10k grid (unless --sizes) + Chengdu, few repeats"
    )
    ap.add_argument("--no-chengdu", action="store_true", help="skip the Chengdu extract")
    ap.add_argument(
        "--chengdu", type=Path, default=None, help="OSM extract (default: shared data Chengdu 2018)"
    )
    ap.add_argument(
        "--iso-points", type=int, default=None, help="start points per data set (default 20, quick 5)"
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON output (default bench/results/routing.json, routing-quick.json with --quick)",
    )
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    sizes = (
        [int(s.replace("_", "")) for s in args.sizes.split(",")]
        if args.sizes
        else ([10_000] if args.quick else list(DEFAULT_SIZES))
    )
    n_iso = args.iso_points or (5 if args.quick else 20)
    out_path = args.out or HERE / "results" / ("routing-quick.json" if args.quick else "routing.json")
    t_start = time.perf_counter()

    datasets: list[tuple[str, callable]] = []
    if not args.no_chengdu:
        path = args.chengdu or shared_data_dir() / CHENGDU
        if path.exists():
            datasets.append(("chengdu", lambda: load_network(path, "EPSG:32648")))
        else:
            print(f"(Chengdu extract not found at {path}: skipped)")
    for n in sorted(sizes):
        datasets.append((size_name(n), lambda n=n: grid_network(n)))

    def reps(net, circles: bool) -> int:
        if args.quick:
            return 1
        big = net.n_nodes >= 500_000
        return (3 if big else 5) if circles else (1 if big else 3)

    def nx_points(net) -> int:
        return min(n_iso, 10) if net.n_nodes >= 500_000 else n_iso

    print("Phase 1: circles", flush=True)
    rows, carries, nets = [], [], []
    for k, (name, make) in enumerate(datasets):
        net = make()
        row, carry = bench_circles(name, net, n_iso, reps(net, True), args.seed + k)
        rows.append(row)
        carries.append(carry)
        nets.append(net)
    rss_circles = rss_mib()

    print("Phase 2: networkx (same networks, points and facilities)", flush=True)
    for name_make, net, carry, row in zip(datasets, nets, carries, rows):
        bench_networkx(name_make[0], net, carry, row, nx_points(net), reps(net, False))

    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "networkx": nx.__version__,
        "scipy": scipy.__version__,
        "shapely": shapely.__version__,
        "geos": ".".join(map(str, shapely.geos_version)),
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "quick": args.quick,
        "iso_points": n_iso,
        "cutoff_s": CUTOFF_S,
        "buffer_m": BUFFER_M,
        "block_m": BLOCK_M,
        "jitter_m": JITTER_M,
        "rss_after_circles_mib": rss_circles,
        "rss_end_mib": rss_mib(),
    }
    targets = report(rows, meta)
    meta["runtime_s"] = time.perf_counter() - t_start
    print(f"Run time: {meta['runtime_s']:.0f} s")

    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w") as f:
        json.dump({"meta": meta, "results": rows, "targets": targets}, f, indent=1)
    print(f"Results written to {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
