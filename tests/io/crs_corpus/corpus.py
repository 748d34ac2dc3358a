"""A corpus of coordinate files for the coordinate check, generated deterministically from a seed.

Each file has a truth (the system its numbers are really in) and a declaration (what the user says), and
comes from one source:

- ``random_urban`` / ``random_fringe``: uniform random points in the inner part of the region's bbox /
  in its outer 1 km band (genuine positions, not on mapped features);
- ``facilities``: OpenStreetMap facilities of the catalog categories, with Gaussian noise of 8 m per
  axis (a register copied from a web map never sits exactly on the OSM node), with or without the
  category and name columns;
- ``buildings``: representative points of residential building footprints (and random points inside the
  footprints when more points than buildings are asked for);
- ``mixed``: half facilities, half random points;
- ``residential``: the polygons of the OSM residential areas (communities).

A file's numbers are the true WGS84 positions converted to ``truth``; the geometries "as read" are those
numbers converted from ``declared`` to WGS84, exactly what a reader does. ``on_mapped`` counts the rows
that come from mapped features (the targets: a shifted file with at least 10 of them must be caught).

``python tests/io/crs_corpus/corpus.py OUT_DIR`` writes the files (CSV for points, GeoJSON for polygons,
with the file's own numbers) and ``manifest.csv``.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from circles.io.coords import to_wgs84, wgs84_to_bd09, wgs84_to_gcj02

SEED = 20_260_110
#: Point counts the files are drawn from (1-5000).
POINT_SIZES = (1, 2, 3, 4, 5, 7, 10, 12, 15, 20, 30, 50, 100, 200, 500, 1000, 2000, 5000)
POLYGON_SIZES = (3, 5, 8, 10, 12, 15, 20, 30, 50, 100)
FRINGE_M = 1000.0  # width of the fringe band along the bbox edge
NOISE_M = 8.0  # per-axis noise of facility registers
M_PER_DEG_LAT = 110_900.0
_FORWARD = {"wgs84": lambda x, y: (np.asarray(x, float), np.asarray(y, float)), "gcj02": wgs84_to_gcj02}
_FORWARD["bd09"] = wgs84_to_bd09


@dataclass(frozen=True)
class CorpusFeatures:
    """Real OSM features of the region (EPSG:4326): facility points (``category``, ``name``), residential
    building footprints and residential-area polygons; and the region bbox in degrees."""

    facilities: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    residential: gpd.GeoDataFrame
    bbox: tuple[float, float, float, float]


@dataclass(frozen=True)
class CorpusFile:
    """One generated file: ``raw`` the numbers as in the file (lon/lat degrees in ``truth``; polygons as
    shapely geometries in those numbers), ``as_read`` the geometries a reader returns for ``declared``."""

    name: str
    source: str
    truth: str
    declared: str
    kind: str
    raw: np.ndarray
    as_read: np.ndarray
    on_mapped: int
    categories: np.ndarray | None = None
    names: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    @property
    def shifted(self) -> bool:
        return self.truth != self.declared


def load_features(osm_path: Path, catalog, bbox) -> CorpusFeatures:
    """The features of the Chengdu extract (or any OSM file), read with :mod:`circles.io.osm_features`."""
    from circles.io.osm_features import osm_communities, osm_facilities, osm_residential_buildings

    return CorpusFeatures(
        osm_facilities(osm_path, catalog, bbox=bbox),
        osm_residential_buildings(osm_path, bbox=bbox),
        osm_communities(osm_path, bbox=bbox),
        tuple(bbox),
    )


def _convert(geoms: np.ndarray, fn) -> np.ndarray:
    return np.asarray(shapely.transform(geoms, lambda c: np.column_stack(fn(c[:, 0], c[:, 1]))), dtype=object)


def _random_points(rng, bbox, n: int, fringe: bool) -> np.ndarray:
    x0, y0, x1, y1 = bbox
    band_y = FRINGE_M / M_PER_DEG_LAT
    band_x = band_y / np.cos(np.radians((y0 + y1) / 2))
    out: list[np.ndarray] = []
    while sum(len(o) for o in out) < n:
        lon, lat = rng.uniform(x0, x1, 4 * n), rng.uniform(y0, y1, 4 * n)
        inner = (lon > x0 + band_x) & (lon < x1 - band_x) & (lat > y0 + band_y) & (lat < y1 - band_y)
        keep = ~inner if fringe else inner
        out.append(np.column_stack([lon[keep], lat[keep]]))
    return np.concatenate(out)[:n]


def _noise(rng, xy: np.ndarray, sd_m: float) -> np.ndarray:
    d = rng.normal(0.0, sd_m, xy.shape) / M_PER_DEG_LAT
    d[:, 0] /= np.cos(np.radians(xy[:, 1]))
    return xy + d


def _points_in(rng, polys: np.ndarray, n: int) -> np.ndarray:
    """Representative points of ``polys`` first, then random points inside them."""
    reps = shapely.get_coordinates(shapely.point_on_surface(polys))
    if n <= len(reps):
        return reps[rng.choice(len(reps), n, replace=False)]
    out = [reps]
    b = shapely.bounds(polys)
    while sum(len(o) for o in out) < n:
        k = rng.integers(0, len(polys), 2 * n)
        lon, lat = rng.uniform(b[k, 0], b[k, 2]), rng.uniform(b[k, 1], b[k, 3])
        inside = shapely.contains_xy(polys[k], lon, lat)
        out.append(np.column_stack([lon[inside], lat[inside]]))
    return np.concatenate(out)[:n]


class _Maker:
    def __init__(self, feats: CorpusFeatures, seed: int):
        self.feats = feats
        self.rng = np.random.default_rng(seed)
        self.files: list[CorpusFile] = []
        fac = feats.facilities
        self.fac_xy = np.column_stack([fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy()])
        self.fac_cat = fac["category"].astype(str).to_numpy()
        self.fac_name = fac["name"].fillna("").astype(str).to_numpy()
        self.bld = np.asarray(feats.buildings.geometry.values, dtype=object)
        self.res = np.asarray(feats.residential.geometry.values, dtype=object)

    def add(self, source, truth, declared, true_geoms, on_mapped, cats=None, names=None, kind="points"):
        raw = _convert(true_geoms, _FORWARD[truth])
        as_read = _convert(raw, lambda x, y: to_wgs84(x, y, declared))
        name = f"{len(self.files):03d}_{source}_{truth}_as_{declared}_{len(true_geoms)}"
        self.files.append(
            CorpusFile(name, source, truth, declared, kind, raw, as_read, on_mapped, cats, names)
        )

    def random(self, truth, declared, n, fringe=False, labelled=False):
        pts = shapely.points(_random_points(self.rng, self.feats.bbox, n, fringe))
        cats = names = None
        if labelled:  # random points under real categories and names: chance matches only
            k = self.rng.integers(0, len(self.fac_cat), n)
            cats, names = self.fac_cat[k], self.fac_name[k]
        self.add("random_fringe" if fringe else "random_urban", truth, declared, pts, 0, cats, names)

    def facilities(self, truth, declared, n, with_cat=True, with_names=True, noise_m=NOISE_M):
        k = self.rng.choice(len(self.fac_xy), n, replace=n > len(self.fac_xy))
        pts = shapely.points(_noise(self.rng, self.fac_xy[k], noise_m))
        on = len(np.unique(k))
        cats = self.fac_cat[k] if with_cat else None
        names = self.fac_name[k] if with_names else None
        self.add("facilities", truth, declared, pts, on, cats, names)

    def buildings(self, truth, declared, n):
        self.add("buildings", truth, declared, shapely.points(_points_in(self.rng, self.bld, n)), n)

    def mixed(self, truth, declared, n):
        k = self.rng.choice(len(self.fac_xy), n // 2, replace=False)
        feat = _noise(self.rng, self.fac_xy[k], NOISE_M)
        rand = _random_points(self.rng, self.feats.bbox, n - n // 2, False)
        pts = shapely.points(np.concatenate([feat, rand]))
        cats = np.concatenate([self.fac_cat[k], self.fac_cat[self.rng.integers(0, len(k), n - n // 2)]])
        self.add("mixed", truth, declared, pts, n // 2, cats, None)

    def repeated(self, truth, declared, n, on_feature=False):
        """One place repeated ``n`` times (a register of one address)."""
        xy = self.fac_xy[:1] if on_feature else _random_points(self.rng, self.feats.bbox, 1, False)
        self.add("repeated", truth, declared, shapely.points(np.repeat(xy, n, axis=0)), int(on_feature))

    def squares(self, truth, declared, n):
        """Random squares of 60-300 m (candidate sites drawn by hand, not on mapped features)."""
        xy = _random_points(self.rng, self.feats.bbox, n, False)
        half = self.rng.uniform(30, 150, n) / M_PER_DEG_LAT
        boxes = shapely.box(xy[:, 0] - half * 1.16, xy[:, 1] - half, xy[:, 0] + half * 1.16, xy[:, 1] + half)
        self.add("random_squares", truth, declared, np.asarray(boxes, dtype=object), 0, kind="polygons")

    def residential(self, truth, declared, n):
        k = self.rng.choice(len(self.res), min(n, len(self.res)), replace=False)
        self.add("residential", truth, declared, self.res[k], len(k), kind="polygons")


def build_corpus(feats: CorpusFeatures, seed: int = SEED) -> list[CorpusFile]:
    """The corpus (about 230 files); the same features and seed always give the same files."""
    m = _Maker(feats, seed)
    _genuine_files(m)
    _shifted_files(m)
    return m.files


def _genuine_files(m: _Maker) -> None:
    """Files whose declaration is right."""
    for i, n in enumerate(POINT_SIZES * 2):
        m.random("wgs84", "wgs84", n, fringe=i % 3 == 2, labelled=i % 4 == 1)
    for _ in range(20):  # the case: 10 random genuine points
        m.random("wgs84", "wgs84", 10)
    for i, n in enumerate(POINT_SIZES[:14]):
        m.random("wgs84", "wgs84", n, fringe=True, labelled=i % 2 == 0)
    for i, n in enumerate((5, 10, 20, 50, 100, 178, 500, 2000, 5000, 10, 30, 150)):
        m.facilities("wgs84", "wgs84", n, with_cat=i % 4 != 3, with_names=i % 2 == 0)
    for n in (5, 10, 20, 50, 95, 200, 1000, 5000):
        m.buildings("wgs84", "wgs84", n)
    for n in POLYGON_SIZES:
        m.residential("wgs84", "wgs84", n)
    for n in (10, 50, 200):
        m.mixed("wgs84", "wgs84", n)
    for i, n in enumerate((10, 20, 50, 150)):  # registers farther from the OSM positions
        m.facilities("wgs84", "wgs84", n, with_names=i % 2 == 0, noise_m=25.0)
    for n in (2, 50, 1000):
        m.repeated("wgs84", "wgs84", n)
        m.repeated("wgs84", "wgs84", n, on_feature=True)
    for n in (3, 5, 10, 20, 50, 100, 200, 500):
        m.squares("wgs84", "wgs84", n)
    for n in (10, 30, 100):  # GCJ-02 / BD-09 files declared as what they are
        m.facilities("gcj02", "gcj02", n)
        m.random("gcj02", "gcj02", n)
        m.random("bd09", "bd09", n, fringe=True)
        m.buildings("bd09", "bd09", n)
    for n in (10, 40):
        m.residential("gcj02", "gcj02", n)


def _shifted_files(m: _Maker) -> None:
    """Files whose declaration is wrong: GCJ-02 / BD-09 numbers declared as WGS84, and back."""
    for truth in ("gcj02", "bd09"):
        for i, n in enumerate((3, 5, 10, 12, 20, 50, 100, 178, 1000, 5000)):
            m.facilities(truth, "wgs84", n, with_cat=i % 3 != 2, with_names=i % 2 == 0)
        for n in (10, 15, 30, 95, 300, 3000):
            m.buildings(truth, "wgs84", n)
        for n in (5, 10, 15, 30, 60, 100):
            m.residential(truth, "wgs84", n)
        for n in (20, 60, 300):
            m.mixed(truth, "wgs84", n)
        for n in (10, 100, 1000, 5000):
            m.random(truth, "wgs84", n)
        for i, n in enumerate((10, 20, 60, 150)):
            m.facilities(truth, "wgs84", n, with_cat=i % 2 == 0, with_names=i % 2 == 1, noise_m=25.0)
        for n in (20, 100):
            m.squares(truth, "wgs84", n)
        m.repeated(truth, "wgs84", 40, on_feature=True)
    for declared in ("gcj02", "bd09"):  # WGS84 numbers declared as GCJ-02 / BD-09
        m.facilities("wgs84", declared, 20)
        m.buildings("wgs84", declared, 40)
        m.residential("wgs84", declared, 20)
        m.random("wgs84", declared, 50)


def write_corpus(files: list[CorpusFile], out_dir: Path) -> Path:
    """Write each file with its own numbers (CSV lon/lat for points, GeoJSON for polygons) and a
    ``manifest.csv`` (file, source, kind, truth, declared, rows, rows on mapped features)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for f in files:
        if f.kind == "points":
            path = out_dir / f"{f.name}.csv"
            xy = shapely.get_coordinates(f.raw)
            cols = ["lon", "lat"] + (["category"] if f.categories is not None else [])
            cols += ["name"] if f.names is not None else []
            with open(path, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(cols)
                for i, (x, y) in enumerate(xy):
                    extra = [f.categories[i]] if f.categories is not None else []
                    extra += [f.names[i]] if f.names is not None else []
                    w.writerow([f"{x:.7f}", f"{y:.7f}", *extra])
        else:
            path = out_dir / f"{f.name}.geojson"
            feats = [
                {
                    "type": "Feature",
                    "properties": {"community_id": f"c{i}"},
                    "geometry": shapely.geometry.mapping(g),
                }
                for i, g in enumerate(f.raw)
            ]
            path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
        rows.append([path.name, f.source, f.kind, f.truth, f.declared, len(f.raw), f.on_mapped])
    with open(out_dir / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "source", "kind", "truth", "declared", "rows", "rows_on_mapped_features"])
        w.writerows(rows)
    return out_dir


def region_corpus(seed: int = SEED) -> tuple[CorpusFeatures, list[CorpusFile]]:
    """The corpus of the default region (needs its OSM extract)."""
    from circles.catalog import load_catalog
    from circles.config import get_region

    region = get_region("chengdu-central")
    feats = load_features(region.osm_path, load_catalog(), region.bbox)
    return feats, build_corpus(feats, seed)


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/io/crs_corpus/corpus.py OUT_DIR")
    _, corpus = region_corpus()
    print(write_corpus(corpus, Path(sys.argv[1])), len(corpus), "files")
