"""Time and peak memory of reading a large CSV of facility points with circles.io.read_facilities.

    .venv/bin/python bench/bench_read_csv.py               # 200 MB CSV in /tmp (generated once, kept)
    .venv/bin/python bench/bench_read_csv.py --mb 20       # a smaller file
    .venv/bin/python bench/bench_read_csv.py --keep-extras # add two free-text columns the reader keeps

The CSV looks like a register: 编号, 名称, 类别 (Chinese category names and keys mixed), 经度, 纬度,
面积 (some blank), points spread over central Chengdu, declared WGS84. It is written in chunks, so the
generator stays small, and read in a child process, so the peak RSS (``ru_maxrss`` of the child) is
the reader's alone. Prints one line of results and exits 0; the target (well under a minute) is
printed as PASS/MISS for information.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CATEGORIES = [
    "社区食堂",
    "canteen",
    "小区党群服务站",
    "公园绿地",
    "clinic",
    "菜市场",
    "公共厕所",
    "劳动者港湾",
]
TARGET_S = 60.0


def generate(path: Path, megabytes: float, extras: bool, seed: int = 7) -> int:
    """Write a CSV of about ``megabytes`` MB; the number of rows."""
    rng = np.random.default_rng(seed)
    header = "编号,名称,类别,经度,纬度,面积" + (",地址,备注" if extras else "") + "\n"
    target = megabytes * 1e6
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(header)
        while f.tell() < target:
            k = 100_000
            lon = rng.uniform(103.95, 104.20, k)
            lat = rng.uniform(30.55, 30.75, k)
            area = np.round(rng.uniform(20, 400, k), 1)
            cat = rng.integers(0, len(CATEGORIES), k)
            lines = []
            for i in range(k):
                a = "" if i % 7 == 0 else f"{area[i]}"
                row = f"F{n + i:08d},设施{n + i},{CATEGORIES[cat[i]]},{lon[i]:.6f},{lat[i]:.6f},{a}"
                if extras:
                    row += f",成都市锦江区某某路{(n + i) % 997}号,第{i % 13}批"
                lines.append(row)
            f.write("\n".join(lines) + "\n")
            n += k
    return n


def read_once(path: Path) -> None:
    """Child process: read the file and print a JSON line of timings."""
    import logging

    from circles.io import read_facilities

    logging.basicConfig(level=logging.WARNING)
    t0 = time.perf_counter()
    gdf = read_facilities(path, crs="wgs84", bbox=(103.9, 30.5, 104.3, 30.8), on_outside="drop")
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": len(gdf), "seconds": round(seconds, 2), "peak_rss_mb": round(peak_mb)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=200.0, help="size of the CSV, MB")
    ap.add_argument("--keep-extras", action="store_true", help="two more text columns (kept by the reader)")
    ap.add_argument("--read", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.read is not None:
        read_once(args.read)
        return
    path = Path("/tmp") / f"circles_bench_{args.mb:g}mb{'_extras' if args.keep_extras else ''}.csv"
    if not path.exists():
        t0 = time.perf_counter()
        n = generate(path, args.mb, args.keep_extras)
        print(
            f"generated {path} ({path.stat().st_size / 1e6:.0f} MB, {n:,} rows) in {time.perf_counter() - t0:.0f} s"
        )
    # the import of circles alone (numpy, pandas, geopandas, shapely) as a baseline
    base = subprocess.run(
        [
            sys.executable,
            "-c",
            "import resource, circles.io; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    out = subprocess.run(
        [sys.executable, __file__, "--read", str(path)], check=True, capture_output=True, text=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    verdict = "PASS" if result["seconds"] < TARGET_S else "MISS"
    print(
        f"read_facilities {path.stat().st_size / 1e6:.0f} MB CSV: {result['rows']:,} rows in "
        f"{result['seconds']:.1f} s, peak RSS {result['peak_rss_mb']:,} MB "
        f"(imports alone {int(base.stdout)} MB); target < {TARGET_S:.0f} s: {verdict}"
    )


if __name__ == "__main__":
    main()
