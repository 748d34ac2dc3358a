"""Valhalla as a peer engine for the benchmarks: isochrones and a walking-time matrix from pyvalhalla.

pyvalhalla has wheels for Python >= 3.12 only, so it runs in the benchmark's own venv (made and cached by
``bench_isochrones.valhalla_python``, tiles by ``bench_isochrones.valhalla_tiles``) in a worker process;
this module sends it one JSON job and reads one JSON answer. Costing: ``pedestrian`` at ``walk_kmh``
(its defaults otherwise: walkway/sidewalk factors, its own crossing costs and access rules).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import shapely

from bench_isochrones import CACHE, valhalla_tiles
from circles.routing.network import StreetNetwork

WORKER = r"""
import json, sys
from valhalla import Actor
config, job_file = sys.argv[1], sys.argv[2]
job = json.load(open(job_file))
actor = Actor(config)
costing = {"pedestrian": {"walking_speed": job["walk_kmh"]}}
out = {"isochrones": [], "variants": {}, "matrix": None}
def isochrones(extra):
    texts = []
    for lon, lat in job["iso_points"]:
        req = {"locations": [{"lon": lon, "lat": lat}], "costing": "pedestrian", "costing_options": costing,
               "contours": [{"time": m} for m in job["minutes"]], "polygons": True, **extra}
        try:
            texts.append(actor.isochrone(json.dumps(req)))
        except Exception as e:  # a point Valhalla cannot snap
            texts.append("error: " + str(e))
    return texts
out["isochrones"] = isochrones({})
for name, extra in job.get("variants", {}).items():
    out["variants"][name] = isochrones(extra)
m = job.get("matrix")
if m:
    req = {"sources": [{"lon": a, "lat": b} for a, b in m["sources"]],
           "targets": [{"lon": a, "lat": b} for a, b in m["targets"]],
           "costing": "pedestrian", "costing_options": costing}
    try:
        out["matrix"] = json.loads(actor.matrix(json.dumps(req)))
    except Exception as e:
        out["matrix"] = {"error": str(e)}
print(json.dumps(out))
"""


def run_valhalla(
    py: Path,
    pbf: Path,
    iso_lonlat: np.ndarray,
    minutes: list[float],
    walk_kmh: float,
    matrix_lonlat: tuple[np.ndarray, np.ndarray] | None = None,
    variants: dict[str, dict] | None = None,
) -> dict:
    """Isochrones (GeoJSON text per point) with Valhalla's default request options, the same per named
    set of extra options in ``variants`` (e.g. ``{"raw": {"generalize": 0, "denoise": 0}}``: answers in
    ``["variants"][name]``) and, if asked, a sources x targets matrix (Valhalla JSON)."""
    config = valhalla_tiles(py, pbf)
    worker = CACHE / "agreement_worker.py"
    worker.write_text(WORKER)
    job = {
        "iso_points": iso_lonlat.tolist(),
        "minutes": minutes,
        "walk_kmh": walk_kmh,
        "variants": variants or {},
    }
    if matrix_lonlat is not None:
        job["matrix"] = {"sources": matrix_lonlat[0].tolist(), "targets": matrix_lonlat[1].tolist()}
    job_file = CACHE / f"agreement-job-{pbf.name.split('.')[0]}.json"
    job_file.write_text(json.dumps(job))
    res = subprocess.run(
        [str(py), str(worker), str(config), str(job_file)], check=True, capture_output=True, text=True
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def contour_polygons(net: StreetNetwork, text: str) -> dict[float, shapely.Geometry]:
    """Valhalla's contours of one isochrone answer in the network CRS (metres), by minutes ({} on an
    error)."""
    try:
        fc = json.loads(text)
    except json.JSONDecodeError:
        return {}
    tr = net.from_wgs84()
    out = {}
    for f in fc.get("features", []):
        geom = shapely.geometry.shape(f["geometry"])
        geom = shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
        out[float(f["properties"]["contour"])] = shapely.make_valid(geom)
    return out


def matrix_times_s(answer: dict | None, n_sources: int, n_targets: int) -> np.ndarray:
    """Walking times (s) of a Valhalla matrix answer as an (n_sources, n_targets) array (nan: none)."""
    times = np.full((n_sources, n_targets), np.nan)
    if not answer or "sources_to_targets" not in answer:
        return times
    rows = answer["sources_to_targets"]
    if isinstance(rows, dict):  # newer answers: {"durations": [[...]], ...}
        for i, row in enumerate(rows.get("durations", [])):
            times[i] = [np.nan if t is None else t for t in row]
        return times
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            t = cell.get("time")
            times[i, j] = np.nan if t is None else t
    return times
