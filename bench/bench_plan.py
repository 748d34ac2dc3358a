"""Plan and coverage benchmark: the whole default-region plan, and circles' coverage step at 1M nodes
against a networkx implementation of the same computation, measured in one run.

Usage::

    python bench/bench_plan.py                 # default region plan + 1000x1000 grid, 10,000 communities (~3 min)
    python bench/bench_plan.py --quick         # smoke run: 1 plan run + 200x200 grid, 400 communities (~10 s)
    python bench/bench_plan.py --no-plan       # only the synthetic coverage part
    python bench/bench_plan.py --nx-categories 2   # networkx on 2 categories only, the rest extrapolated

(a) **The default-region plan, end to end.**
    ``circles plan --out <tmp>`` as a subprocess (the installed console script, as a user runs it): wall
    time including Python start-up, imports, loading the OSM extract, coverage, gaps and writing every
    output file and the map; ``--plan-runs`` times, median; then as many runs with ``--no-map`` to show
    what the map costs. Then, in this process, ``circles.pipeline.plan(PlanOptions(), out_dir)`` once,
    cold (first load of the region in this process), with its ``result.timings_s`` breakdown (load_s,
    snap_points_s, coverage_s, gaps_s); the rest of its wall time is the summary and the output files
    (``plan()`` writes no map). Target: the subprocess under 30 s.

(b) **Coverage on a synthetic ~1M-node street grid.**
    A 1000 x 1000 lattice, 100 m blocks, no jitter, built like ``tests/grids.py``'s ``grid_network``
    (origin (400000, 3390000), EPSG:32648). 10,000 communities on a 100 x 100 layout, one per 1 km
    cell at a random offset; each is a 200 x 200 m block (2 x 2 street blocks) represented by 21
    resident points, weight 1: its 3 x 3 street nodes and the midpoints of its 12 street segments
    (210,000 points). 8 catalog categories (the first 8 keys of ``load_catalog()``), 1,000 facilities
    each, on random distinct street nodes. All communities are urban, so only the walk profile
    (1.1 m/s) is used.

    circles, timed as the pipeline's coverage step:
      snapping  ``CoverageEngine({'walk': ProfileGraph(net, walk)}, ResidentPoints(...))``
      table     ``coverage_table(engine, catalog, community_types, FacilityPoints(...), categories=8 keys)``
                (8 reverse multi-source searches, exact times at 210k points, per-community shares at
                5/10/15 min, weighted medians, nearest facility).
      The ``ProfileGraph`` build is timed on its own (the pipeline counts it as loading). After the
      timed runs, the 8 searches are timed alone (facility snap + ``g.search(..., reverse=True)``) to
      show what part of the table they are.
    networkx, on the same grid, points and facilities:
      graph     the osmnx-style ``MultiDiGraph`` of bench_routing.py (every street both ways,
                ``time = length / 1.1``), outside the coverage timing; ``gc.freeze()``d afterwards.
      snapping  ``cKDTree(node_xy)`` + ``query(points, k=2)``: a point lying on a node takes that node's
                time; a point at a segment's midpoint (two nearest nodes both 50 m away) takes
                ``min(t[u], t[v]) + 50 m / 1.1``. This is exact for these inputs because facilities
                sit on nodes and points on nodes or mid-segment (it is not a general snap).
      table     per category ``nx.multi_source_dijkstra_path_length(G, facility_nodes, weight='time')``,
                the dict to a numpy array, per-point times, then per-community covered share at 5, 10
                and 15 minutes with ``np.bincount``. If the categories would take longer than
                ``--nx-budget`` seconds (default 600), only the first ones are run and the rest is
                extrapolated linearly; the table says so.
    Check: inputs are identical, so the per-point times and every community's share at 5/10/15 min
    must agree; the maximum absolute differences are printed. Distances are multiples of 50 m and the
    thresholds are 330/660/990 m, so no point sits on a threshold.

    Target: the coverage step (snapping + table) under 10 s for 8 categories x 3 levels. If it misses
    (or with ``--profile``), the step is run once more under cProfile and the top functions printed.

Nothing here asserts a time: targets are printed as PASS/MISS for information, the exit code is 0, and
results are written to ``bench/results/plan.json`` (``plan-quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # run from a checkout without installing

import networkx as nx  # noqa: E402
import scipy  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from circles.catalog import load_catalog  # noqa: E402
from circles.config import get_profile  # noqa: E402
from circles.planning.coverage import CoverageEngine, FacilityPoints, ResidentPoints, coverage_table  # noqa: E402
from circles.routing.graph import ProfileGraph  # noqa: E402
from circles.routing.network import StreetNetwork  # noqa: E402

ORIGIN = (400_000.0, 3_390_000.0)  # metres, EPSG:32648 (UTM 48N, central Chengdu)
BLOCK_M = 100.0
LEVELS = (5, 10, 15)
N_CATEGORIES = 8

# targets (information only: printed as PASS/MISS, never an exit code)
TARGET_PLAN_S = 30.0
TARGET_COVERAGE_S = 10.0


# ---------------------------------------------------------------------------------------------- data
def grid_network(k: int) -> StreetNetwork:
    """A k x k lattice ``BLOCK_M`` apart (as tests/grids.py ``grid_network``); node (i, j) is ``j * k + i``."""
    ii, jj = np.meshgrid(np.arange(k), np.arange(k))
    xy = np.column_stack([ORIGIN[0] + ii.ravel() * BLOCK_M, ORIGIN[1] + jj.ravel() * BLOCK_M])
    idx = np.arange(k * k).reshape(k, k)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    return StreetNetwork.from_segments(xy, u, v, crs="EPSG:32648", source=f"grid {k}x{k}")


def community_points(k: int, n_side: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n_side``^2 communities, one per cell of a ``n_side`` x ``n_side`` layout at a random offset; each a
    2 x 2-block square with 21 points: its 3 x 3 nodes and its 12 segment midpoints. Returns (xy, community)."""
    cell = k // n_side
    if cell < 3:
        raise SystemExit(f"grid {k}x{k} too small for {n_side}x{n_side} communities of 3x3 nodes")
    a, b = np.meshgrid(np.arange(n_side), np.arange(n_side))
    oi = a.ravel() * cell + rng.integers(0, cell - 2, a.size)
    oj = b.ravel() * cell + rng.integers(0, cell - 2, a.size)
    off = [(di, dj) for di in (0, 1, 2) for dj in (0, 1, 2)]
    off += [(di, dj) for di in (0.5, 1.5) for dj in (0, 1, 2)]
    off += [(di, dj) for di in (0, 1, 2) for dj in (0.5, 1.5)]
    off = np.array(off) * BLOCK_M
    base = np.column_stack([ORIGIN[0] + oi * BLOCK_M, ORIGIN[1] + oj * BLOCK_M])
    xy = (base[:, None, :] + off[None, :, :]).reshape(-1, 2)
    return xy, np.repeat(np.arange(a.size), len(off))


def nx_graph(net: StreetNetwork, speed_m_s: float) -> nx.MultiDiGraph:
    """The osmnx-style walking graph: MultiDiGraph, each segment both ways, ``length`` m and ``time`` s."""
    G = nx.MultiDiGraph(crs=net.crs)
    u, v, L = net.seg_u.tolist(), net.seg_v.tolist(), net.seg_len_m.tolist()
    xy = net.node_xy
    G.add_nodes_from((i, {"x": float(xy[i, 0]), "y": float(xy[i, 1])}) for i in range(net.n_nodes))
    G.add_edges_from((a, b, {"length": d, "time": d / speed_m_s}) for a, b, d in zip(u, v, L))
    G.add_edges_from((b, a, {"length": d, "time": d / speed_m_s}) for a, b, d in zip(u, v, L))
    return G


# ------------------------------------------------------------------------------------------- helpers
def rss_mib(who=resource.RUSAGE_SELF) -> float:
    """Peak resident set size so far, MiB (Linux reports KiB)."""
    r = resource.getrusage(who).ru_maxrss
    return r / (1024 * 1024) if sys.platform == "darwin" else r / 1024


def timed(fn, *a, **kw):
    t = time.perf_counter()
    out = fn(*a, **kw)
    return time.perf_counter() - t, out


def log(msg: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def circles_command() -> list[str]:
    """The ``circles`` console script next to this interpreter (as a user runs it), else on PATH."""
    exe = Path(sys.executable).parent / "circles"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("circles")
    if found:
        return [found]
    return [sys.executable, "-c", "from circles.cli import app; app()"]


def top_functions(prof: cProfile.Profile, n: int = 14) -> str:
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(n)
    s2 = io.StringIO()
    pstats.Stats(prof, stream=s2).sort_stats("tottime").print_stats(n)
    strip = lambda t: "\n".join(line for line in t.splitlines() if line.strip())
    return "by cumulative time:\n" + strip(s.getvalue()) + "\n\nby own time:\n" + strip(s2.getvalue())


# ------------------------------------------------------------------------------------- (a) the plan
def bench_plan(runs: int, region: str) -> dict:
    from circles.pipeline import PlanOptions, plan

    cmd = circles_command() + ["plan", "--region", region]
    ok, err = True, ""

    def run(extra: list[str]) -> list[float]:
        nonlocal ok, err
        walls = []
        for r in range(runs):
            with tempfile.TemporaryDirectory(prefix="bench_plan_") as tmp:
                out = Path(tmp) / "out"
                t = time.perf_counter()
                p = subprocess.run(cmd + extra + ["--out", str(out)], capture_output=True, text=True)
                walls.append(time.perf_counter() - t)
                n_files = len(list(out.glob("*"))) if out.exists() else 0
            if p.returncode != 0:
                ok, err = False, (p.stderr or p.stdout)[-2000:]
                log(f"circles plan FAILED (exit {p.returncode}):\n{err}")
                break
            log(
                f"`{' '.join([Path(cmd[0]).name] + cmd[1:] + extra)} --out <tmp>` run {r + 1}/{runs}: "
                f"{walls[-1]:.2f} s wall, {n_files} files"
            )
        return walls

    walls = run([])
    walls_nomap = run(["--no-map"]) if ok else []
    res = {
        "command": " ".join(cmd) + " --out <tmp>",
        "cli_ok": ok,
        "cli_error": err,
        "cli_wall_s": statistics.median(walls) if walls else None,
        "cli_wall_all_s": walls,
        "cli_nomap_wall_s": statistics.median(walls_nomap) if walls_nomap else None,
        "cli_nomap_wall_all_s": walls_nomap,
        "cli_peak_rss_mib": rss_mib(resource.RUSAGE_CHILDREN),
    }

    gc.collect()
    with tempfile.TemporaryDirectory(prefix="bench_plan_") as tmp:
        t = time.perf_counter()
        result = plan(PlanOptions(region=region), Path(tmp) / "out")
        wall = time.perf_counter() - t
    tm = dict(result.timings_s)
    parts = ("load_s", "snap_points_s", "coverage_s", "gaps_s")
    res.update(
        inproc_wall_s=wall,
        inproc_timings_s=tm,
        inproc_other_s=wall - sum(tm.get(k, 0.0) for k in parts),
        communities=int(len(result.data.communities)),
        resident_points=int(len(result.engine.points)),
        facilities=int(len(result.data.facilities)),
        categories=int(result.coverage["category"].nunique()),
        network_nodes=int(result.data.net.n_nodes),
        network_segments=int(result.data.net.n_segments),
        rss_after_plan_mib=rss_mib(),
    )
    log(
        f"plan() in-process: {wall:.2f} s wall; "
        + ", ".join(f"{k} {tm[k]:.2f}" for k in parts if k in tm)
        + f"; {res['communities']} communities, {res['resident_points']:,} points, {res['facilities']} facilities"
    )
    del result
    gc.collect()
    return res


# ----------------------------------------------------------------------------- (b) coverage at 1M
def make_inputs(k: int, n_comm: int, n_fac: int, seed: int):
    n_side = int(round(np.sqrt(n_comm)))
    rng = np.random.default_rng(seed)
    t, net = timed(grid_network, k)
    pxy, comm = community_points(k, n_side, rng)
    catalog = load_catalog()
    keys = list(catalog.keys())[:N_CATEGORIES]
    fac_nodes = {
        key: np.sort(rng.choice(net.n_nodes, min(n_fac, net.n_nodes), replace=False)) for key in keys
    }
    fcat = np.concatenate([np.full(len(fac_nodes[key]), key, dtype=object) for key in keys]).astype(str)
    fxy = np.concatenate([net.node_xy[fac_nodes[key]] for key in keys])
    fid = np.array([f"f{i}" for i in range(len(fcat))])
    facilities = FacilityPoints(fxy, fid, fcat, fid, np.full(len(fcat), "user"))
    n_c = n_side * n_side
    points = ResidentPoints(pxy, comm, np.ones(len(pxy)), np.full(len(pxy), "urban"))
    ctypes = np.full(n_c, "urban")
    log(
        f"grid {k}x{k}: {net.n_nodes:,} nodes, {net.n_segments:,} segments (built in {t:.1f} s); "
        f"{n_c:,} communities, {len(pxy):,} resident points; {len(keys)} categories x {n_fac:,} facilities"
    )
    return net, catalog, keys, fac_nodes, facilities, points, ctypes


def bench_circles_coverage(
    net, catalog, keys, facilities, points, ctypes, reps: int, profile: bool
) -> tuple[dict, dict]:
    walk = get_profile("walk")
    gc.collect()
    build_s, g = timed(ProfileGraph, net, walk)
    log(f"circles: ProfileGraph(net, walk) built in {build_s:.2f} s")
    graphs = {"walk": g}
    snap_t, table_t = [], []
    cov = times = None
    for r in range(reps):
        cov = times = engine = None
        gc.collect()
        s, engine = timed(CoverageEngine, graphs, points)
        t, (cov, times) = timed(coverage_table, engine, catalog, ctypes, facilities, categories=keys)
        snap_t.append(s)
        table_t.append(t)
        log(
            f"circles: coverage step run {r + 1}/{reps}: snapping {s:.2f} s + coverage_table {t:.2f} s = {s + t:.2f} s"
        )
    # the 8 searches alone (facility snap + reverse multi-source search), to split the table time
    search_t = []
    for key in keys:
        rows = np.flatnonzero(facilities.category == key)
        t0 = time.perf_counter()
        fs = g.snap(facilities.xy[rows], strict=False)
        g.search(fs, reverse=True)
        search_t.append(time.perf_counter() - t0)
    out = {
        "build_profilegraph_s": build_s,
        "snap_s": statistics.median(snap_t),
        "snap_all_s": snap_t,
        "table_s": statistics.median(table_t),
        "table_all_s": table_t,
        "step_all_s": [a + b for a, b in zip(snap_t, table_t)],
        "searches_s": sum(search_t),
        "search_per_category_s": search_t,
        "coverage_rows": int(len(cov)),
        "unsnapped_points": int(len(engine.unsnapped_points)),
        "rss_after_circles_mib": rss_mib(),
    }
    out["step_s"] = statistics.median(out["step_all_s"])
    log(
        f"circles: the 8 searches alone {out['searches_s']:.2f} s ({1000 * statistics.median(search_t):.0f} ms each)"
    )
    if profile or out["step_s"] >= TARGET_COVERAGE_S:
        gc.collect()
        prof = cProfile.Profile()
        prof.enable()
        e = CoverageEngine(graphs, points)
        coverage_table(e, catalog, ctypes, facilities, categories=keys)
        prof.disable()
        out["profile"] = top_functions(prof)
        del e
    carry = {
        "times": {k: times[k].time_s.copy() for k in keys},
        "shares": {
            k: {lv: cov.loc[cov["category"] == k, f"share_{lv}"].to_numpy() for lv in LEVELS} for k in keys
        },
        "speed": float(walk.speed_m_s),
    }
    del g, graphs, engine, cov, times
    gc.collect()
    return out, carry


def bench_networkx_coverage(
    net, keys, fac_nodes, points, n_comm: int, carry: dict, budget_s: float, max_cats: int | None
) -> dict:
    speed = carry["speed"]
    gc.collect()
    build_s, G = timed(nx_graph, net, speed)
    gc.collect()
    gc.freeze()  # the graph lives for the whole phase: keep it out of every GC pass
    log(f"networkx: MultiDiGraph built in {build_s:.1f} s ({G.number_of_edges():,} directed edges)")
    out: dict = {"build_networkx_s": build_s}
    try:
        # "snapping": nearest node(s) of every point; exact for points on nodes or at segment midpoints
        t0 = time.perf_counter()
        tree = cKDTree(net.node_xy)
        d, nn = tree.query(points.xy, k=2)
        on_node = d[:, 0] < 1e-6
        walk_s = np.where(on_node, 0.0, d[:, 0] / speed)
        n1, n2 = nn[:, 0], np.where(on_node, nn[:, 0], nn[:, 1])
        snap_s = time.perf_counter() - t0
        mid = ~on_node
        layout_ok = bool(np.allclose(d[mid, 0], BLOCK_M / 2) and np.allclose(d[mid, 1], BLOCK_M / 2))
        out.update(snap_s=snap_s, layout_ok=layout_ok)
        log(
            f"networkx: KD-tree nearest nodes of {len(points):,} points in {snap_s:.2f} s "
            f"({int(on_node.sum()):,} on nodes, {int(mid.sum()):,} at segment midpoints)"
        )

        comm, w = points.community, points.weight
        total = np.bincount(comm, weights=w, minlength=n_comm)
        per_cat, dij_t = [], []
        max_dt = max_ds = 0.0
        t_phase = time.perf_counter()
        for i, key in enumerate(keys):
            t0 = time.perf_counter()
            dist = nx.multi_source_dijkstra_path_length(G, set(fac_nodes[key].tolist()), weight="time")
            t1 = time.perf_counter()
            tn = np.full(net.n_nodes, np.inf)
            tn[np.fromiter(dist.keys(), dtype=np.int64, count=len(dist))] = np.fromiter(
                dist.values(), float, count=len(dist)
            )
            tp = np.minimum(tn[n1], tn[n2]) + walk_s
            shares = {}
            for lv in LEVELS:
                c = np.bincount(comm, weights=np.where(tp <= lv * 60.0, w, 0.0), minlength=n_comm)
                shares[lv] = np.where(total > 0, c / np.where(total > 0, total, 1), np.nan)
            t2 = time.perf_counter()
            del dist
            per_cat.append(t2 - t0)
            dij_t.append(t1 - t0)
            # cross-check against circles (identical inputs)
            ct = carry["times"][key]
            both = np.isfinite(ct) & np.isfinite(tp)
            dt = float(np.abs(ct[both] - tp[both]).max()) if both.any() else 0.0
            if not (np.isfinite(ct) == np.isfinite(tp)).all():
                dt = float("inf")
            ds = max(float(np.nanmax(np.abs(carry["shares"][key][lv] - shares[lv]))) for lv in LEVELS)
            max_dt, max_ds = max(max_dt, dt), max(max_ds, ds)
            log(
                f"networkx: {key}: {t2 - t0:.1f} s (dijkstra {t1 - t0:.1f} s); max |circles - networkx| "
                f"point time {dt:.1e} s, share {ds:.1e}"
            )
            done = i + 1
            if done < len(keys):
                if max_cats is not None and done >= max_cats:
                    break
                elapsed = time.perf_counter() - t_phase
                if elapsed + (elapsed / done) * (len(keys) - done) > budget_s:
                    log(
                        f"networkx: all {len(keys)} categories would take ~{elapsed / done * len(keys):.0f} s "
                        f"> budget {budget_s:.0f} s: stopping after {done}, the rest is extrapolated"
                    )
                    break
        n_run = len(per_cat)
        scale = len(keys) / n_run
        out.update(
            categories_run=n_run,
            extrapolated=n_run < len(keys),
            per_category_s=per_cat,
            dijkstra_per_category_s=dij_t,
            table_s=sum(per_cat) * scale,
            searches_s=sum(dij_t) * scale,
            max_abs_diff_point_time_s=max_dt,
            max_abs_diff_share=max_ds,
            categories_checked=keys[:n_run],
        )
        out["step_s"] = out["snap_s"] + out["table_s"]
    finally:
        gc.unfreeze()
        del G
        gc.collect()
    out["rss_after_networkx_mib"] = rss_mib()
    return out


# ------------------------------------------------------------------------------------------- report
def ratio(a, b):
    return (b / a) if a and b else float("nan")


def report(plan_res: dict | None, cc: dict, cn: dict, meta: dict) -> dict:
    w = 100
    print("\n" + "=" * w)
    print(
        f"Plan and coverage benchmark  {meta['date']}  python {meta['python']}  networkx {meta['networkx']}  "
        f"scipy {meta['scipy']}  cpus {meta['cpus']}"
    )
    print("=" * w)
    hdr = f"{'step':<58}{'circles s':>12}{'networkx s':>13}{'ratio':>10}"
    targets = []
    if plan_res:
        print(
            f"(a) default region '{meta['region']}': {plan_res.get('communities', '?')} communities, "
            f"{plan_res.get('resident_points', 0):,} resident points, {plan_res.get('facilities', '?')} facilities, "
            f"{plan_res.get('categories', '?')} categories, {plan_res.get('network_nodes', 0):,} nodes"
        )
        print(hdr)
        print("-" * w)
        cli = plan_res["cli_wall_s"]
        runs = len(plan_res["cli_wall_all_s"])
        print(
            f"{'circles plan --out <tmp> (subprocess wall, median of ' + str(runs) + ')':<58}"
            f"{(cli if cli is not None else float('nan')):12.2f}{'-':>13}{'-':>10}"
        )
        tm = plan_res["inproc_timings_s"]
        if plan_res.get("cli_nomap_wall_s") is not None:
            print(f"{'  the same with --no-map (no map.html)':<58}{plan_res['cli_nomap_wall_s']:12.2f}")
        print(
            f"{'plan(PlanOptions(), out_dir) in-process, cold, no map':<58}{plan_res['inproc_wall_s']:12.2f}{'-':>13}{'-':>10}"
        )
        for k, label in (
            ("load_s", "load (network, facilities, communities, points)"),
            ("snap_points_s", "snap resident points"),
            ("coverage_s", "coverage"),
            ("gaps_s", "gaps"),
        ):
            if k in tm:
                print(f"{'  ' + label + ' [' + k + ']':<58}{tm[k]:12.2f}")
        print(f"{'  other (summary, output files)':<58}{plan_res['inproc_other_s']:12.2f}")
        print(
            f"Peak RSS: {plan_res['cli_peak_rss_mib']:.0f} MiB in the `circles plan` subprocess, "
            f"{plan_res['rss_after_plan_mib']:.0f} MiB in this process after plan()"
        )
        if not plan_res["cli_ok"]:
            print("circles plan FAILED; see the log above")
        targets.append(
            (
                f"circles plan (subprocess) < {TARGET_PLAN_S:.0f} s",
                bool(plan_res["cli_ok"] and cli is not None and cli < TARGET_PLAN_S),
                f"{cli:.2f} s" if cli is not None else "failed",
            )
        )
        print("-" * w)

    ext = " (extrapolated)" if cn.get("extrapolated") else ""
    print(
        f"(b) grid {meta['grid']}x{meta['grid']} = {meta['nodes']:,} nodes, {meta['communities']:,} communities, "
        f"{meta['points']:,} resident points, {meta['n_categories']} categories x {meta['facilities_per_category']:,} "
        f"facilities, levels 5/10/15 min"
    )
    print(hdr)
    print("-" * w)
    rows = [
        (
            "graph build (ProfileGraph / nx MultiDiGraph)",
            cc["build_profilegraph_s"],
            cn.get("build_networkx_s"),
        ),
        ("snap resident points (CoverageEngine / KD-tree)", cc["snap_s"], cn.get("snap_s")),
        (
            f"coverage table, {meta['n_categories']} categories x 3 levels{ext}",
            cc["table_s"],
            cn.get("table_s"),
        ),
        (
            f"  of which {meta['n_categories']} multi-source searches{ext}",
            cc["searches_s"],
            cn.get("searches_s"),
        ),
        (f"coverage step = snapping + table{ext}", cc["step_s"], cn.get("step_s")),
    ]
    for label, c, x in rows:
        xs = f"{x:13.2f}" if x is not None else f"{'-':>13}"
        rs = f"{ratio(c, x):9.1f}x" if x is not None else f"{'-':>10}"
        print(f"{label:<58}{c:12.2f}{xs}{rs}")
    print("-" * w)
    print(
        "ratio = networkx s / circles s (speed-up of circles). circles: median of "
        f"{len(cc['step_all_s'])} run(s); networkx: one run per category."
    )
    if cn.get("extrapolated"):
        print(
            f"networkx ran {cn['categories_run']} of {meta['n_categories']} categories; its table, searches and step "
            f"are EXTRAPOLATED linearly x{meta['n_categories'] / cn['categories_run']:.1f}."
        )
    print(
        "networkx side: points mapped to their nearest node(s) with a KD-tree (on a node: that node; at a segment "
        "midpoint: min of both ends + 50 m walk), exact here because facilities and points sit on nodes/midpoints."
    )
    print(
        f"Check ({', '.join(cn.get('categories_checked', []))}): max |circles - networkx| per-point time "
        f"{cn.get('max_abs_diff_point_time_s', float('nan')):.1e} s, per-community share (5/10/15 min) "
        f"{cn.get('max_abs_diff_share', float('nan')):.1e}; layout check {cn.get('layout_ok')}"
    )
    print(
        f"Peak RSS: {cc['rss_after_circles_mib']:.0f} MiB after the circles phase, "
        f"{cn.get('rss_after_networkx_mib', float('nan')):.0f} MiB at the end (networkx graph included)."
    )
    size = f"{meta['nodes'] / 1e6:g}M" if meta["nodes"] >= 1_000_000 else f"{meta['nodes'] / 1000:g}k"
    targets.append(
        (
            f"coverage step at {size} nodes < {TARGET_COVERAGE_S:.0f} s",
            cc["step_s"] < TARGET_COVERAGE_S,
            f"{cc['step_s']:.2f} s",
        )
    )
    print("\nTargets (information, not an exit code):")
    for label, ok, val in targets:
        print(f"  {'PASS' if ok else 'MISS'}  {label:<52} {val}")
    if "profile" in cc:
        print("\ncProfile of one coverage step (snapping + table):")
        print(cc["profile"])
    print("=" * w)
    return {label: {"pass": bool(ok), "value": val} for label, ok, val in targets}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 1 plan run, 200x200 grid, 400 communities, 100 facilities",
    )
    ap.add_argument("--no-plan", action="store_true", help="skip (a), the default-region plan")
    ap.add_argument("--region", default="chengdu-central", help="region of (a) (default chengdu-central)")
    ap.add_argument(
        "--plan-runs", type=int, default=None, help="`circles plan` subprocess runs (default 3, quick 1)"
    )
    ap.add_argument("--grid", type=int, default=None, help="grid side in nodes (default 1000, quick 200)")
    ap.add_argument(
        "--communities",
        type=int,
        default=None,
        help="communities, a square number (default 10000, quick 400)",
    )
    ap.add_argument(
        "--facilities", type=int, default=None, help="facilities per category (default 1000, quick 100)"
    )
    ap.add_argument("--reps", type=int, default=None, help="circles coverage step runs (default 3, quick 1)")
    ap.add_argument(
        "--nx-categories",
        type=int,
        default=None,
        help="run networkx on at most this many categories "
        "and extrapolate the rest (default: all, unless over --nx-budget)",
    )
    ap.add_argument(
        "--nx-budget",
        type=float,
        default=600.0,
        help="seconds allowed for the networkx categories (default 600)",
    )
    ap.add_argument(
        "--profile", action="store_true", help="cProfile one coverage step even if the target passes"
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON output (default bench/results/plan.json, plan-quick.json with --quick)",
    )
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    q = args.quick
    k = args.grid or (200 if q else 1000)
    n_comm = args.communities or (400 if q else 10_000)
    n_fac = args.facilities or (100 if q else 1000)
    reps = args.reps or (1 if q else 3)
    plan_runs = args.plan_runs or (1 if q else 3)
    out_path = args.out or HERE / "results" / ("plan-quick.json" if q else "plan.json")
    t_start = time.perf_counter()

    plan_res = None
    if not args.no_plan:
        print(f"(a) default-region plan: {args.region}", flush=True)
        plan_res = bench_plan(plan_runs, args.region)

    print("(b) coverage on a synthetic grid: circles", flush=True)
    net, catalog, keys, fac_nodes, facilities, points, ctypes = make_inputs(k, n_comm, n_fac, args.seed)
    cc, carry = bench_circles_coverage(net, catalog, keys, facilities, points, ctypes, reps, args.profile)
    print("(b) coverage on a synthetic grid: networkx (same grid, points and facilities)", flush=True)
    cn = bench_networkx_coverage(
        net, keys, fac_nodes, points, len(ctypes), carry, args.nx_budget, args.nx_categories
    )

    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "networkx": nx.__version__,
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "quick": q,
        "region": args.region,
        "grid": k,
        "nodes": int(net.n_nodes),
        "segments": int(net.n_segments),
        "communities": int(len(ctypes)),
        "points": int(len(points)),
        "n_categories": len(keys),
        "categories": keys,
        "facilities_per_category": n_fac,
        "block_m": BLOCK_M,
        "levels_min": list(LEVELS),
        "seed": args.seed,
        "rss_end_mib": rss_mib(),
    }
    targets = report(plan_res, cc, cn, meta)
    meta["runtime_s"] = time.perf_counter() - t_start
    print(f"Run time: {meta['runtime_s']:.0f} s")

    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(
            {
                "meta": meta,
                "plan": plan_res,
                "coverage_circles": cc,
                "coverage_networkx": cn,
                "targets": targets,
            },
            f,
            indent=1,
            default=float,
        )
    print(f"Results written to {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
