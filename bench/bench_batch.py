"""Batch benchmark: many jobs run one after another in one process, then as ``circles batch`` on a Dask
``LocalCluster`` of 1 and of 2 worker processes, all measured in the same run.

Usage::

    python bench/bench_batch.py                 # Chengdu x4, Chengdu in tiles, synthetic cities of 10k and 40k nodes
    python bench/bench_batch.py --sizes 10000,100000,1000000 --chengdu 6
    python bench/bench_batch.py --quick         # smoke run: Chengdu x2 + one 10k city

The jobs: the Chengdu extract as a whole (``--chengdu`` times, each with its own category set, so no two
jobs are the same work), the Chengdu extract cut into 3 km tiles, and synthetic cities written as OSM
XML (a jittered street grid of ~100 m blocks, named ``landuse=residential`` compounds in one block of
ten, schools, kindergartens, clinics, markets, toilets and parks at random), two per size.

What is measured:
- **sequential**: the same tasks (:func:`circles.batch.prepare_job`, then :func:`~circles.batch.run_tile`
  per tile) called in a loop in this process, no Dask: the work itself;
- **batch, 1 and 2 workers**: ``run_batch`` on a fresh ``LocalCluster`` (worker processes, one thread
  each; the cluster's start-up is timed apart), into a fresh folder;
- throughput in jobs per minute, the speed-up of 2 workers over 1 (target >= 1.7x), the scheduling
  overhead per task (batch wall time minus the time spent inside tasks, over the tasks) and the peak
  RSS of each worker process.

Results are printed and written to ``bench/results/batch.json`` (``batch-quick.json`` with ``--quick``).
Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyproj

from circles.batch import BatchOptions, Job, batch_client, prepare_job, run_batch, run_tile
from circles.batch.runner import job_fingerprint
from circles.catalog import load_catalog

log = logging.getLogger("bench_batch")

X0, Y0 = 400_000.0, 3_390_000.0
AMENITIES = [
    {"amenity": "school"},
    {"amenity": "kindergarten"},
    {"amenity": "clinic"},
    {"amenity": "marketplace"},
    {"amenity": "toilets"},
    {"leisure": "park"},
]


def synthetic_osm(path: Path, n_nodes: int, seed: int) -> Path:
    """A square street grid of about ``n_nodes`` nodes as OSM XML (see the module docstring)."""
    rng = np.random.default_rng(seed)
    side = int(round(np.sqrt(n_nodes)))
    block = 100.0
    to_wgs = pyproj.Transformer.from_crs("EPSG:32648", "EPSG:4326", always_xy=True)
    ii, jj = np.meshgrid(np.arange(side), np.arange(side))
    x = X0 + ii.ravel() * block + rng.uniform(-10, 10, side * side)
    y = Y0 + jj.ravel() * block + rng.uniform(-10, 10, side * side)
    lon, lat = to_wgs.transform(x, y)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="bench_batch">']
    lines += [f'<node id="{k + 1}" lat="{a:.7f}" lon="{o:.7f}"/>' for k, (o, a) in enumerate(zip(lon, lat))]
    nid, wid = side * side + 1, 1
    ways = []
    for r in range(side):  # one way per row and per column
        ways.append((wid, [r * side + c + 1 for c in range(side)], {"highway": "residential"}))
        ways.append((wid + 1, [c * side + r + 1 for c in range(side)], {"highway": "residential"}))
        wid += 2
    blocks = np.flatnonzero(rng.random((side - 1) * (side - 1)) < 0.1)
    for b in blocks:  # a compound inset 15 m into the block
        c, r = divmod(int(b), side - 1)
        cx, cy = X0 + c * block, Y0 + r * block
        corners = [(cx + 15, cy + 15), (cx + 85, cy + 15), (cx + 85, cy + 85), (cx + 15, cy + 85)]
        ids = []
        for px, py in corners:
            o, a = to_wgs.transform(px, py)
            lines.append(f'<node id="{nid}" lat="{a:.7f}" lon="{o:.7f}"/>')
            ids.append(nid)
            nid += 1
        ways.append((wid, [*ids, ids[0]], {"landuse": "residential", "name": f"小区{c}-{r}"}))
        wid += 1
    n_fac = max(6, len(blocks) // 5)
    fx = X0 + rng.uniform(0, (side - 1) * block, n_fac)
    fy = Y0 + rng.uniform(0, (side - 1) * block, n_fac)
    flon, flat = to_wgs.transform(fx, fy)
    for k in range(n_fac):
        tags = AMENITIES[k % len(AMENITIES)]
        tag_xml = "".join(f'<tag k="{a}" v="{b}"/>' for a, b in {**tags, "name": f"设施{k}"}.items())
        lines.append(f'<node id="{nid}" lat="{flat[k]:.7f}" lon="{flon[k]:.7f}">{tag_xml}</node>')
        nid += 1
    for w, refs, tags in ways:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        tag_xml = "".join(f'<tag k="{a}" v="{b}"/>' for a, b in tags.items())
        lines.append(f'<way id="{w}">{nds}{tag_xml}</way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def make_jobs(folder: Path, sizes: list[int], n_chengdu: int, per_size: int = 2) -> list[Job]:
    keys = list(load_catalog().keys())
    jobs = []
    for i in range(n_chengdu):  # each with its own categories: no two jobs are the same work
        cats = tuple(keys[j] for j in range(len(keys)) if j % n_chengdu != i) if n_chengdu > 1 else None
        jobs.append(Job(name=f"chengdu-{i + 1}", region="chengdu-central", categories=cats, tile_km=0))
    jobs.append(Job(name="chengdu-tiled", region="chengdu-central", tile_km=3))
    for size in sizes:
        for k in range(per_size):
            osm = synthetic_osm(folder / f"city{size}-{k}.osm", size, seed=size + k)
            jobs.append(Job(name=f"city{size}-{k}", osm=osm, tile_km=0))
    return jobs


def run_sequential(jobs: list[Job], out: Path) -> dict:
    """The batch's tasks in a loop in this process: the work without Dask."""
    t0 = time.perf_counter()
    per_job = {}
    for job in jobs:
        t = time.perf_counter()
        settings = BatchOptions().job_settings(job)
        fp, _ = job_fingerprint(job, settings)
        info = prepare_job(job, str(out), fp, settings)
        for k in info["pending"]:
            run_tile(job.name, k, str(out), fp)
        per_job[job.name] = {
            "elapsed_s": time.perf_counter() - t,
            "nodes": info["network"]["nodes"],
            "communities": info["communities"],
            "resident_points": info["resident_points"],
            "tiles": info["tiles"],
        }
        log.info("sequential %s: %.2f s", job.name, per_job[job.name]["elapsed_s"])
    return {"wall_s": time.perf_counter() - t0, "jobs": per_job, "rss_mib": _rss_mib()}


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_on_cluster(jobs: list[Job], out: Path, workers: int) -> dict:
    t0 = time.perf_counter()
    options = BatchOptions(workers=workers, dashboard_address=None)
    with batch_client(options) as client:
        client.wait_for_workers(workers)
        t_start = time.perf_counter() - t0
        report = run_batch(jobs, out, options, client=client)
        rss = client.run(_rss_mib)
    inside = 0.0
    for o in report.jobs:
        inside += float(o.info.get("prepare_s", 0.0))
        inside += sum(
            float(m.get("elapsed_s", 0.0)) for k, m in o.markers.items() if o.info.get("tiles", 1) > 1
        )
    failed = [(o.name, o.errors[0]["message"]) for o in report.failed]
    return {
        "workers": workers,
        "cluster_start_s": t_start,
        "wall_s": report.elapsed_s,
        "tasks": report.tasks_run,
        "time_in_tasks_s": inside,
        "overhead_per_task_s": (report.elapsed_s * workers - inside) / max(report.tasks_run, 1),
        "jobs_per_min": 60.0 * len(jobs) / report.elapsed_s,
        "worker_peak_rss_mib": sorted(rss.values()),
        "failed": failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", default="10000,40000", help="synthetic city sizes, nodes (comma-separated)"
    )
    parser.add_argument("--chengdu", type=int, default=4, help="whole-Chengdu jobs")
    parser.add_argument("--quick", action="store_true", help="smoke run: Chengdu x2 and one 10k city")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    sizes = [10000] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    try:
        jobs = make_jobs(work, sizes, 2 if args.quick else args.chengdu, per_size=1 if args.quick else 2)
        log.info("%d jobs: %s", len(jobs), ", ".join(j.name for j in jobs))
        seq = run_sequential(jobs, work / "sequential")
        batches = {w: run_on_cluster(jobs, work / f"batch{w}", w) for w in (1, 2)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = len(jobs)
    one, two = batches[1], batches[2]
    result = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "jobs": n,
        "sequential": seq,
        "batch": {str(w): b for w, b in batches.items()},
        "jobs_per_min": {
            "sequential": 60.0 * n / seq["wall_s"],
            "batch_1_worker": one["jobs_per_min"],
            "batch_2_workers": two["jobs_per_min"],
        },
        "speedup_2_over_1": two["jobs_per_min"] / one["jobs_per_min"],
        "speedup_2_over_sequential": seq["wall_s"] / two["wall_s"],
    }
    print(f"\n{n} jobs ({', '.join(j.name for j in jobs)})")
    print(f"{'':24}{'wall s':>9}{'jobs/min':>10}{'overhead/task s':>17}{'peak RSS/worker MiB':>22}")
    print(
        f"{'sequential (no Dask)':24}{seq['wall_s']:9.1f}{60 * n / seq['wall_s']:10.1f}{'':>17}{seq['rss_mib']:22.0f}"
    )
    for w, b in batches.items():
        rss = "/".join(f"{r:.0f}" for r in b["worker_peak_rss_mib"])
        label = f"batch, {w} worker{'s' if w > 1 else ''}"
        print(
            f"{label:24}{b['wall_s']:9.1f}{b['jobs_per_min']:10.1f}{b['overhead_per_task_s']:17.3f}{rss:>22}"
        )
    speedup = result["speedup_2_over_1"]
    print(f"2 workers / 1 worker: {speedup:.2f}x (target >= 1.7x: {'PASS' if speedup >= 1.7 else 'MISS'})")
    print(
        f"cluster start-up: {one['cluster_start_s']:.1f} s (1 worker), {two['cluster_start_s']:.1f} s (2 workers)"
    )
    print(
        f"load average (1 min) before/after: {load_before[0]:.2f}/{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    for b in batches.values():
        for name, msg in b["failed"]:
            print(f"FAILED {name}: {msg}", file=sys.stderr)
    out = Path(__file__).parent / "results" / ("batch-quick.json" if args.quick else "batch.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
