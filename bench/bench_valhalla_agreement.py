"""Agreement with an independent engine: circles and Valhalla on the same extracts, same points.

Usage::

    python bench/bench_valhalla_agreement.py            # Chengdu + Helsinki, 20 points, 30 x 30 pairs
    python bench/bench_valhalla_agreement.py --quick    # 5 points, 10 x 10 pairs

Walking at 1.1 m/s (Valhalla ``pedestrian`` costing, ``walking_speed`` 3.96 km/h). circles is configured
like Valhalla: the access rule set Valhalla applies (:data:`RULES`: ``CN`` for Chengdu; ``world`` for
Helsinki, because the tiles have no admin database so Valhalla's Finnish override is not applied;
``--rules FI`` to compare) and crossing delays on (``[crossings]`` of ``data/access_rules.toml``); the
same with crossing delays off is shown beside it.

- **Isochrones**: 5, 10 and 15 minutes from ``--points`` random street points (as bench_isochrones picks
  them). Per point and threshold the IoU of circles' polygon (default raster method) with Valhalla's
  contour, with holes as each engine returns them and with every hole filled (outer rings only), and the
  area ratio circles / Valhalla. The table shows medians over points.
- **Point to point**: walking times between ``--pairs`` sources and as many targets (Valhalla's
  ``sources_to_targets`` matrix against circles' exact search and :meth:`NodeTimes.at`), for pairs 300 m
  to 1.5 km apart (straight line): median signed difference (circles - Valhalla), median and 90th
  percentile of the absolute difference, in seconds and relative.

Valhalla is asked twice per point: with its default options (``denoise`` 1: only the largest ring, so no
holes and no islands; ``generalize`` a quarter cell, 27.6 m) and "raw" (``generalize`` 0, ``denoise`` 0:
every ring kept, holes included); the IoU against both is reported.

``--polygons valhalla-grid`` (diagnostic, not circles' product): circles' own search drawn by Valhalla's
polygon rule (0.001 degree grid of minimum times, CONREC contour, empty cells = threshold + 1 min, largest
ring only; :mod:`valhalla_style`), so both sides use the same polygon construction and what remains is
the network and the costing. Results then go to ``valhalla_agreement_valhalla-grid.json``.

Valhalla runs in the venv of bench_isochrones (tiles cached under the temp folder). Nothing asserts:
the target (median IoU >= 0.85 at 10 and 15 min on both extracts) is printed as PASS/MISS and
everything goes to ``bench/results/valhalla_agreement.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # run from a checkout without installing
sys.path.insert(0, str(HERE))

import shapely  # noqa: E402

from bench_isochrones import (  # noqa: E402
    MINUTES,
    WALK_KMH,
    as_pbf,
    helsinki_pbf,
    log,
    street_points,
    to_lonlat,
    valhalla_python,
)
from circles.config import get_region  # noqa: E402
from circles.routing.graph import ProfileGraph  # noqa: E402
from circles.routing.isochrones import isochrones  # noqa: E402
from circles.routing.load import osm_network, profile_graph, region_network  # noqa: E402
from circles.routing.network import StreetNetwork  # noqa: E402
from valhalla_peer import contour_polygons, matrix_times_s, run_valhalla  # noqa: E402
from valhalla_style import valhalla_style_polygons  # noqa: E402

TARGET_IOU = 0.85
PAIR_MIN_M, PAIR_MAX_M = 300.0, 1500.0
#: Polygon construction on circles' side: its product (default raster method) or Valhalla's grid rule.
POLYGON_MODES = ("product", "valhalla-grid")
#: Valhalla's request asked a second time with these options: no generalisation, every ring kept.
RAW_OPTIONS = {"generalize": 0, "denoise": 0}


#: Access rule set per extract, as Valhalla applies them here: its tiles are built without an admin
#: database (bench_isochrones.valhalla_tiles), so Valhalla's per-country overrides are not applied and
#: its own defaults (the wiki's worldwide rows) hold everywhere. For walking, CN equals the world set.
RULES = {"chengdu": "CN", "helsinki": "world"}


def networks(name: str, crossings: bool, rules: str | None = None) -> tuple[StreetNetwork, Path]:
    """The network of an extract configured like Valhalla (rule set, crossing delays) and its PBF."""
    country = rules or RULES[name]
    if name == "chengdu":
        reg = replace(get_region("chengdu-central"), country=country)
        return region_network(reg, crossings=crossings), as_pbf(reg.osm_path)
    return osm_network(helsinki_pbf(), country=country, crossings=crossings), helsinki_pbf()


def _filled(geom: shapely.Geometry) -> shapely.Geometry:
    parts = [shapely.Polygon(p.exterior) for p in shapely.get_parts(geom) if isinstance(p, shapely.Polygon)]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _iou(a: shapely.Geometry, b: shapely.Geometry) -> float:
    union = shapely.union(a, b).area
    return float(shapely.intersection(a, b).area / union) if union else 1.0


def our_polygons(g: ProfileGraph, p: np.ndarray, polygons: str) -> list[shapely.Geometry]:
    """circles' polygons (network CRS) from point ``p``, one per threshold of MINUTES."""
    if polygons == "valhalla-grid":
        vs = valhalla_style_polygons(g, p, MINUTES)
        return [vs[m] for m in MINUTES]
    return [o.polygon for o in isochrones(g, g.snap(p[None]), MINUTES)]


def compare_isochrones(
    g: ProfileGraph, xy: np.ndarray, vh_texts: list[str], raw_texts: list[str], polygons: str = "product"
) -> dict:
    """Per point and threshold: IoU with holes, IoU filled, area ratio circles / Valhalla; the same IoUs
    against Valhalla's raw answer (``RAW_OPTIONS``); with Valhalla's grid rule, also the IoU (filled) of
    that polygon with circles' product polygon from the same search (the construction alone)."""
    out: dict[str, list] = {
        "iou": [],
        "iou_filled": [],
        "area_ratio": [],
        "iou_raw": [],
        "iou_raw_filled": [],
        "iou_product_filled": [],
    }
    for p, text, raw_text in zip(xy, vh_texts, raw_texts):
        vh, raw = contour_polygons(g.net, text), contour_polygons(g.net, raw_text)
        if len(vh) < len(MINUTES) or len(raw) < len(MINUTES):
            continue  # Valhalla could not answer this point
        ours = our_polygons(g, p, polygons)
        out["iou"].append([_iou(o, vh[m]) for o, m in zip(ours, MINUTES)])
        out["iou_filled"].append([_iou(_filled(o), _filled(vh[m])) for o, m in zip(ours, MINUTES)])
        out["area_ratio"].append([o.area / max(vh[m].area, 1.0) for o, m in zip(ours, MINUTES)])
        out["iou_raw"].append([_iou(o, raw[m]) for o, m in zip(ours, MINUTES)])
        out["iou_raw_filled"].append([_iou(_filled(o), _filled(raw[m])) for o, m in zip(ours, MINUTES)])
        if polygons != "product":  # the construction alone: the same times drawn both ways
            prod = our_polygons(g, p, "product")
            out["iou_product_filled"].append([_iou(_filled(o), _filled(q)) for o, q in zip(ours, prod)])
    return out


def _medians(iso: dict, key: str, name: str) -> dict:
    """``{name: per-threshold medians of iso[key]}``, or ``{}`` when ``iso[key]`` is empty."""
    return {name: np.median(iso[key], axis=0).round(4).tolist()} if iso[key] else {}


def circles_matrix_s(g: ProfileGraph, src_xy: np.ndarray, dst_xy: np.ndarray) -> np.ndarray:
    """Exact walking times (s) from every source to every target."""
    targets = g.snap(dst_xy, strict=False)
    rows = []
    for p in src_xy:
        t, _ = g.search(g.snap(p[None], strict=False)).at(targets)
        rows.append(t)
    return np.array(rows)


def compare_pairs(ours_s: np.ndarray, theirs_s: np.ndarray, dist_m: np.ndarray) -> dict:
    keep = (dist_m >= PAIR_MIN_M) & (dist_m <= PAIR_MAX_M) & np.isfinite(ours_s) & np.isfinite(theirs_s)
    diff = (ours_s - theirs_s)[keep]
    rel = diff / theirs_s[keep]
    if not len(diff):
        return {"pairs": 0}
    return {
        "pairs": int(keep.sum()),
        "median_diff_s": float(np.median(diff)),
        "median_abs_diff_s": float(np.median(np.abs(diff))),
        "p90_abs_diff_s": float(np.percentile(np.abs(diff), 90)),
        "median_rel_diff": float(np.median(rel)),
        "p90_abs_rel_diff": float(np.percentile(np.abs(rel), 90)),
        "unreachable_ours": int(((~np.isfinite(ours_s)) & np.isfinite(theirs_s)).sum()),
        "unreachable_valhalla": int((np.isfinite(ours_s) & ~np.isfinite(theirs_s)).sum()),
    }


def run_extract(name: str, py: Path, args: argparse.Namespace) -> list[dict]:
    """Both circles configurations against one Valhalla run on the same points."""
    net, pbf = networks(name, crossings=True, rules=args.rules)
    g = profile_graph(net, "walk")
    rng_seed = args.seed + (0 if name == "chengdu" else 1)
    iso_xy = street_points(g, args.points, rng_seed)
    pair_xy = street_points(g, 2 * args.pairs, rng_seed + 100)
    src_xy, dst_xy = pair_xy[: args.pairs], pair_xy[args.pairs :]
    t = time.perf_counter()
    matrix_ll = (to_lonlat(net, src_xy), to_lonlat(net, dst_xy))
    vh = run_valhalla(py, pbf, to_lonlat(net, iso_xy), MINUTES, WALK_KMH, matrix_ll, {"raw": RAW_OPTIONS})
    log(f"{name}: valhalla answered in {time.perf_counter() - t:.1f} s")
    theirs = matrix_times_s(vh["matrix"], len(src_xy), len(dst_xy))
    dist_m = np.hypot(*(src_xy[:, None, :] - dst_xy[None, :, :]).transpose(2, 0, 1))
    rows = []
    for crossings in (True, False):
        net_c, _ = networks(name, crossings, args.rules)
        g_c = profile_graph(net_c, "walk")
        iso = compare_isochrones(g_c, iso_xy, vh["isochrones"], vh["variants"]["raw"], args.polygons)
        pairs = compare_pairs(circles_matrix_s(g_c, src_xy, dst_xy), theirs, dist_m)
        rows.append(
            {
                "extract": name,
                "rules": net_c.access_rules,
                "polygons": args.polygons,
                "crossings": crossings,
                "points": len(iso["iou"]),
                "iou_median": np.median(iso["iou"], axis=0).round(4).tolist(),
                "iou_filled_median": np.median(iso["iou_filled"], axis=0).round(4).tolist(),
                "iou_min": np.min(iso["iou"], axis=0).round(4).tolist(),
                "area_ratio_median": np.median(iso["area_ratio"], axis=0).round(3).tolist(),
                "iou_raw_median": np.median(iso["iou_raw"], axis=0).round(4).tolist(),
                "iou_raw_filled_median": np.median(iso["iou_raw_filled"], axis=0).round(4).tolist(),
                **_medians(iso, "iou_product_filled", "iou_vs_product_filled_median"),
                **pairs,
            }
        )
    return rows


def print_table(rows: list[dict]) -> None:
    mins = " / ".join(f"{m:.0f}" for m in MINUTES)
    print(
        f"\n| extract | rules | crossings | IoU median ({mins} min) | IoU filled | vs raw | vs raw filled | "
        "area ratio | pairs | median diff s | median abs s | p90 abs s | p90 abs rel |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['extract']} | {r['rules']} | {'on' if r['crossings'] else 'off'} | "
            f"{' / '.join(f'{x:.3f}' for x in r['iou_median'])} | "
            f"{' / '.join(f'{x:.3f}' for x in r['iou_filled_median'])} | "
            f"{' / '.join(f'{x:.3f}' for x in r['iou_raw_median'])} | "
            f"{' / '.join(f'{x:.3f}' for x in r['iou_raw_filled_median'])} | "
            f"{' / '.join(f'{x:.2f}' for x in r['area_ratio_median'])} | {r.get('pairs', 0)} | "
            f"{r.get('median_diff_s', float('nan')):+.1f} | {r.get('median_abs_diff_s', float('nan')):.1f} | "
            f"{r.get('p90_abs_diff_s', float('nan')):.1f} | {r.get('p90_abs_rel_diff', float('nan')):.1%} |"
        )


def targets(rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        if not r["crossings"]:
            continue
        for k, m in enumerate(MINUTES):
            if m < 10:
                continue
            for key in ("iou_median", "iou_filled_median", "iou_raw_median", "iou_raw_filled_median"):
                out.append(
                    {
                        "target": f"median {key.removesuffix('_median')} >= {TARGET_IOU} at {m:.0f} min",
                        "extract": r["extract"],
                        "value": r[key][k],
                        "pass": r[key][k] >= TARGET_IOU,
                    }
                )
    print("\n| target | extract | value | result |\n|---|---|---|---|")
    for t in out:
        print(f"| {t['target']} | {t['extract']} | {t['value']:.3f} | {'PASS' if t['pass'] else 'MISS'} |")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--pairs", type=int, default=30, help="sources (and as many targets) for the matrix")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="5 points, 10 x 10 pairs")
    ap.add_argument("--rules", help="access rule set for every extract (default: as Valhalla, see RULES)")
    ap.add_argument("--python312", help="a Python >= 3.12 for the Valhalla venv (default: pyenv's)")
    ap.add_argument(
        "--polygons",
        choices=POLYGON_MODES,
        default="product",
        help="circles' polygons: its product, or (diagnostic) its times drawn by Valhalla's grid rule",
    )
    args = ap.parse_args(argv)
    if args.quick:
        args.points, args.pairs = 5, 10
    started = time.time()
    py = valhalla_python(args.python312)
    rows = []
    for name in ("chengdu", "helsinki"):
        rows += run_extract(name, py, args)
    print_table(rows)
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "points": args.points,
        "pairs": args.pairs,
        "walk_kmh": WALK_KMH,
        "polygons": args.polygons,
        "valhalla_raw_options": RAW_OPTIONS,
        "wall_s": round(time.time() - started, 1),
    }
    result = {"meta": meta, "rows": rows, "targets": targets(rows)}
    stem = "valhalla_agreement" + ("" if args.polygons == "product" else f"_{args.polygons}")
    out = HERE / "results" / (f"{stem}-quick.json" if args.quick else f"{stem}.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    log(f"wrote {out} ({meta['wall_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
