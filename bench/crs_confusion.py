"""Confusion table of the coordinate check (issue 10) on the generated corpus.

Usage::

    python bench/crs_confusion.py            # the corpus of tests/io/crs_corpus, seed SEED
    python bench/crs_confusion.py --seed 7   # another draw of the same kinds of files
    python bench/crs_confusion.py --list     # also one line per file (status, counts, message head)

Builds the reference of the default region once (streets of the walk graph, OSM buildings and
residential areas, OSM facilities), runs :func:`circles.io.crs_check.assess_crs` on every corpus file
and prints truth x verdict tables and the two targets: no genuine file refused, every shifted file with at
least 10 distinct rows on mapped features caught (suspect or refuse). Exit code 0 either way.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # run from a checkout without installing
sys.path.insert(0, str(HERE.parent / "tests" / "io"))

from crs_corpus import SEED, build_corpus, load_features  # noqa: E402

from circles.catalog import load_catalog  # noqa: E402
from circles.config import get_region  # noqa: E402
from circles.io.crs_check import assess_crs, crs_reference_from_osm  # noqa: E402
from circles.routing.load import profile_graph, region_network  # noqa: E402

STATUSES = ("ok", "unverifiable", "suspect", "refuse")


def group(f) -> str:
    """The row of the table a corpus file belongs to."""
    if not f.shifted:
        return f"genuine {f.truth}, {'random' if f.on_mapped == 0 else 'features'}"
    if f.on_mapped >= 10:
        return f"{f.truth} as {f.declared}, >=10 on features"
    if f.on_mapped:
        return f"{f.truth} as {f.declared}, <10 on features"
    return f"{f.truth} as {f.declared}, random"


def table(title: str, rows: dict[str, Counter]) -> str:
    head = f"| {title} | " + " | ".join(STATUSES) + " | files |"
    lines = [head, "|---|" + "---:|" * (len(STATUSES) + 1)]
    for key in sorted(rows):
        c = rows[key]
        lines.append(f"| {key} | " + " | ".join(str(c[s]) for s in STATUSES) + f" | {sum(c.values())} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--list", action="store_true", help="one line per file")
    args = ap.parse_args()
    region = get_region("chengdu-central")
    net = region_network(region)
    catalog = load_catalog()
    feats = load_features(region.osm_path, catalog, region.bbox)
    t0 = time.perf_counter()
    ref = crs_reference_from_osm(
        region.osm_path, net, profile_graph(net, "walk"), facilities=feats.facilities
    )
    build_s = time.perf_counter() - t0
    files = build_corpus(feats, args.seed)
    by_truth: dict[str, Counter] = {}
    by_group: dict[str, Counter] = {}
    times: dict[str, list[float]] = {"points": [], "polygons": []}
    refused_genuine, missed = [], []
    for f in files:
        t = time.perf_counter()
        v = assess_crs(f.as_read, f.declared, ref, categories=f.categories, names=f.names, label=f.name)
        times[f.kind].append((time.perf_counter() - t, len(f.raw)))
        by_truth.setdefault(f"{f.truth} declared {f.declared}", Counter())[v.status] += 1
        by_group.setdefault(group(f), Counter())[v.status] += 1
        if not f.shifted and v.status == "refuse":
            refused_genuine.append(f.name)
        if f.shifted and f.on_mapped >= 10 and not v.caught:
            missed.append(f"{f.name}: {v.message}")
        if args.list:
            print(f"{f.name:45s} {v.status:12s} places={v.n_places:5d} near={v.n_near:5d}  {v.message[:150]}")
    print(f"\n{len(files)} files (seed {args.seed}); reference built in {build_s:.2f} s: {ref.describe()}\n")
    print(table("truth x verdict", by_truth), "\n")
    print(table("file group x verdict", by_group), "\n")
    for kind, ts in times.items():
        if ts:
            big = [s for s, n in ts if n >= 5000]
            print(
                f"{kind}: median {statistics.median(s for s, _ in ts) * 1000:.0f} ms per file, "
                f"max {max(s for s, _ in ts) * 1000:.0f} ms"
                + (f", 5000-row files median {statistics.median(big) * 1000:.0f} ms" if big else "")
            )
    print(f"\nno genuine file refused: {'PASS' if not refused_genuine else 'MISS'} ({len(refused_genuine)})")
    print(f"every shifted file with >= 10 rows on mapped features caught: {'PASS' if not missed else 'MISS'}")
    for line in refused_genuine + missed:
        print("  ", line)


if __name__ == "__main__":
    main()
