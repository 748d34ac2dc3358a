"""The planning pipeline: network -> facilities and communities -> resident points -> coverage -> gaps
-> summary and output files. One readable function per stage; :func:`plan` runs them all."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from . import OSM_ATTRIBUTION, __version__
from .catalog import COMMUNITY_PROFILES, Catalog, load_catalog
from .config import DEFAULT_REGION, Region, get_region, project_data_dir, shared_data_dir
from .errors import InputError
from .planning.coverage import (
    LEVELS_MIN,
    CategoryTimes,
    CoverageEngine,
    FacilityPoints,
    ResidentPoints,
    coverage_table,
)
from .planning.gaps import capacity_gaps, coverage_gaps, rank_gaps
from .planning.residents import PERSONS_PER_HOUSEHOLD, persons_per_household
from .routing.graph import DEFAULT_MAX_SNAP_M, ProfileGraph
from .routing.load import osm_network, profile_graph, region_for_osm, region_network
from .routing.network import StreetNetwork

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
WEIGHT_LABELS = {
    "population": "residents (community population)",
    "households": "residents (households x persons per household of the district, 2020 census)",
    "raster": "residents (population raster)",
    "area": "AREA-WEIGHTED: m² of residential area, not people (no population data given)",
    "mixed": "residents where known, m² of area elsewhere (mixed)",
}


@dataclass
class PlanOptions:
    """What to plan with. Paths may be ``None`` for the region's own data."""

    region: str = DEFAULT_REGION
    #: any OSM XML/PBF file instead of a registered region
    osm: Path | None = None
    #: fetch the region from the internet when its extract is absent (only when the user asks)
    download: bool = False
    communities: Path | None = None
    communities_crs: str = "wgs84"
    facilities: list[Path] = field(default_factory=list)
    facilities_crs: str = "wgs84"
    population: Path | None = None
    osm_facilities: bool = True
    sample_facilities: bool | None = None  # default: only when no facility file is given
    categories: list[str] | None = None
    spacing_m: float = 50.0
    max_points: int = 200
    max_snap_m: float = DEFAULT_MAX_SNAP_M


@dataclass
class PlanData:
    """Loaded inputs, ready for coverage: everything in EPSG:4326 plus metric copies of the points."""

    region: Region
    net: StreetNetwork
    graphs: dict[str, ProfileGraph]
    catalog: Catalog
    communities: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    points: gpd.GeoDataFrame
    weight_kind: str
    notes: list[str]


@dataclass
class PlanResult:
    """One plan's answers. Immutable in use: an edit makes a new result (:func:`with_facilities`), so
    whatever is derived from a result may be cached on it, in ``caches`` (``{cache name: {key: value}}``;
    not compared, not shown)."""

    data: PlanData
    engine: CoverageEngine
    coverage: pd.DataFrame
    gaps: pd.DataFrame
    summary: dict[str, Any]
    timings_s: dict[str, float]
    times: dict[str, CategoryTimes] = field(default_factory=dict)  #: category -> times per resident point
    caches: dict[str, dict[Any, Any]] = field(default_factory=dict, repr=False, compare=False)


def facility_points(data: PlanData) -> FacilityPoints:
    """The facilities table as points in the network CRS."""
    fac = data.facilities
    fxy = (
        data.net.project(fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy())
        if len(fac)
        else np.zeros((0, 2))
    )
    return FacilityPoints(
        fxy,
        fac["facility_id"].astype(str).to_numpy(),
        fac["category"].to_numpy().astype(str),
        fac["name"].to_numpy().astype(str),
        fac["source"].fillna("").astype(str).to_numpy(),
    )


def sample_layer_path(region: str) -> Path:
    return project_data_dir() / "facilities" / f"{region}_sample.geojson"


def load_facilities(
    opts: PlanOptions, region: Region, catalog: Catalog, net: StreetNetwork, walk: ProfileGraph
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """OSM facilities of the region, plus user files (checked for GCJ-02/BD-09 mix-ups) or, when none are
    given, the region's authored sample layer (``source: sample``)."""
    from .io.crs_check import check_crs_by_osm_matches, check_declared_crs
    from .io.facilities import read_facilities
    from .io.osm_features import osm_facilities

    notes: list[str] = []
    frames = []
    if opts.osm_facilities and region.osm_path.exists():
        frames.append(osm_facilities(region.osm_path, catalog, bbox=region.bbox))

    # reference data for telling WGS84 from GCJ-02/BD-09 files: streets, and the facilities OSM knows
    # (many facilities sit inside blocks, where the distance to a street alone cannot tell)
    ref_tree = None
    if frames and len(frames[0]):
        from scipy.spatial import cKDTree

        f0 = frames[0]
        ref_tree = cKDTree(net.project(f0.geometry.x.to_numpy(), f0.geometry.y.to_numpy()))

    def reference_distance(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        xy = net.project(lon, lat)
        s = walk.snap(xy, max_snap_m=5000, strict=False)
        d = np.where(s.seg >= 0, s.offstreet_m, 5000.0)
        if ref_tree is not None:
            d = np.minimum(d, ref_tree.query(xy)[0])
        return d

    for path in opts.facilities:
        gdf = read_facilities(
            path, crs=opts.facilities_crs, catalog=catalog, bbox=region.bbox, on_outside="drop"
        )
        if frames and opts.osm_facilities:
            check_crs_by_osm_matches(gdf, opts.facilities_crs, frames[0], net)
        check_declared_crs(gdf, opts.facilities_crs, reference_distance, what="streets and OSM facilities")
        frames.append(gdf)
    use_sample = opts.sample_facilities if opts.sample_facilities is not None else not opts.facilities
    sample = sample_layer_path(region.key)
    if use_sample and sample.exists():
        gdf = read_facilities(sample, crs="wgs84", catalog=catalog, bbox=region.bbox, on_outside="drop")
        gdf["source"] = "sample"
        frames.append(gdf)
        notes.append(
            f"{len(gdf)} facilities of the focus categories OSM lacks are SAMPLE data ({sample.name}), "
            "not observed"
        )
    if not frames:
        raise InputError("no facilities: give --facilities or enable OSM facilities")
    cols = ["facility_id", "category", "name", "floor_area_m2", "source", "geometry"]
    fac = pd.concat([f.reindex(columns=cols) for f in frames], ignore_index=True)
    fac = gpd.GeoDataFrame(fac, geometry="geometry", crs="EPSG:4326")
    fac["name"] = fac["name"].fillna("").astype(str)
    fac["floor_area_m2"] = pd.to_numeric(fac["floor_area_m2"], errors="coerce")
    dup = fac.duplicated(["facility_id", "category"])
    if dup.any():
        raise InputError(
            f"duplicate facility ids across inputs: {', '.join(fac.loc[dup, 'facility_id'].astype(str)[:10])}"
        )
    if opts.categories:
        fac = fac[fac["category"].isin(opts.categories)].reset_index(drop=True)
    return fac, notes


def load_communities(opts: PlanOptions, region: Region) -> tuple[gpd.GeoDataFrame, list[str]]:
    """User communities, or the region's named residential areas (OSM ``landuse=residential``) as
    communities; districts joined from the region's district boundaries."""
    from .io.communities import read_communities
    from .io.osm_features import osm_communities

    notes = []
    if opts.communities is not None:
        comm = read_communities(opts.communities, crs=opts.communities_crs, bbox=region.bbox)
    else:
        comm = osm_communities(region.osm_path, bbox=region.bbox, metric_crs=region.metric_crs)
        notes.append(
            "communities are the extract's landuse=residential areas (named 小区 compounds; no public 社区 "
            "boundaries exist), all typed urban, with unknown households"
        )
    comm = comm.reset_index(drop=True)
    comm["area_m2"] = comm.to_crs(region.metric_crs).area
    for col in ("households", "population"):
        if col not in comm:
            comm[col] = np.nan
    if "district" not in comm or comm["district"].isna().all():
        comm["district"] = _districts(comm, region)
    comm["district"] = comm["district"].fillna("").astype(str)
    comm["persons_per_household"], note = _census_household_size(comm["district"])
    if note and comm["households"].notna().any():
        notes.append(note)
    return comm, notes


def _census_household_size(district: pd.Series) -> tuple[np.ndarray, str]:
    """Persons per family household of each community's district (2020 census), the city-wide
    2.49 where the district is unknown; and a note saying which were used."""
    from .io.districts import CENSUS_SOURCE, census_for, district_name

    census = census_for(str(shared_data_dir()))
    names = [district_name(d) if d else None for d in district]
    pph = np.array(
        [census[n].persons_per_household if n in census else PERSONS_PER_HOUSEHOLD for n in names],
        dtype=float,
    )
    used = sorted({f"{n} {census[n].persons_per_household:g}" for n in names if n in census})
    if not used:
        return (
            pph,
            f"households x {PERSONS_PER_HOUSEHOLD} persons (city-wide, 2020 census): districts unknown",
        )
    return pph, f"households x persons per household of each district ({', '.join(used)}; {CENSUS_SOURCE})"


def _districts(comm: gpd.GeoDataFrame, region: Region) -> pd.Series:
    path = region.districts_path
    if path is None or not path.exists():
        return pd.Series([""] * len(comm), index=comm.index)
    d = gpd.read_file(path)[["district_name", "geometry"]].to_crs(region.metric_crs)
    pts = gpd.GeoDataFrame(
        geometry=comm.to_crs(region.metric_crs).representative_point(), crs=region.metric_crs
    )
    j = gpd.sjoin(pts, d, how="left", predicate="within")
    j = j[~j.index.duplicated()]
    return j["district_name"].reindex(comm.index)


def load_plan_data(opts: PlanOptions, progress: Progress | None = None) -> PlanData:
    """Load the network, facilities, communities and resident points for :func:`run_plan`."""
    from .planning.residents import resident_points

    step = progress or (lambda s: None)
    region = region_for_osm(opts.osm) if opts.osm is not None else get_region(opts.region)
    catalog = load_catalog()
    if opts.categories:  # keys, Chinese or English names or aliases -> keys; unknown ones raise
        opts.categories = list(dict.fromkeys(catalog.resolve(name).key for name in opts.categories))
    step("network")
    net = osm_network(opts.osm) if opts.osm is not None else region_network(region, download=opts.download)
    walk = profile_graph(net, "walk")
    step("communities")
    comm, notes = load_communities(opts, region)
    types = set(comm["type"])
    graphs = {p: profile_graph(net, p) for p in {COMMUNITY_PROFILES.get(t, "walk") for t in types} | {"walk"}}
    step("facilities")
    fac, fnotes = load_facilities(opts, region, catalog, net, walk)
    step("resident points")
    metric = comm.to_crs(region.metric_crs)
    pts = resident_points(
        metric, spacing_m=opts.spacing_m, max_points=opts.max_points, raster=opts.population
    )
    kind = pts.attrs.get("weight_kind", "area")
    if kind == "mixed":
        known = int((comm["population"].notna() | comm["households"].notna()).sum())
        raise InputError(
            f"population or households are given for {known} of {len(comm)} communities: give them for every "
            "community (people) or for none (area weighting); mixing people and m² would add unlike units"
        )
    if opts.population is not None:
        from .planning.residents import population_from_raster

        comm["population"] = population_from_raster(metric, opts.population).to_numpy()
    residents = comm["population"].to_numpy(dtype=float)
    residents = np.where(
        np.isfinite(residents),
        residents,
        comm["households"].to_numpy(dtype=float) * persons_per_household(comm),
    )
    comm["residents"] = residents
    if kind == "area":
        notes.append("no population data: coverage is weighted by residential AREA, not by people")
    return PlanData(region, net, graphs, catalog, comm, fac, pts, kind, notes + fnotes)


def run_plan(data: PlanData, opts: PlanOptions, progress: Progress | None = None) -> PlanResult:
    """Coverage of every community by every category, the gap list and the region summary."""
    t0 = time.perf_counter()
    comm, fac = data.communities, data.facilities
    row_of = pd.Series(np.arange(len(comm)), index=comm["community_id"].astype(str))
    ptxy = np.column_stack([data.points.geometry.x, data.points.geometry.y])
    pcomm = row_of.loc[data.points["community_id"].astype(str)].to_numpy()
    types = comm["type"].to_numpy().astype(str)
    rp = ResidentPoints(ptxy, pcomm, data.points["weight"].to_numpy(dtype=float), types[pcomm])
    fp = facility_points(data)
    engine = CoverageEngine(data.graphs, rp, max_snap_m=opts.max_snap_m)
    t1 = time.perf_counter()
    cov, times = coverage_table(
        engine, data.catalog, types, fp, categories=opts.categories, progress=progress
    )
    t2 = time.perf_counter()
    gaps = rank_gaps(
        coverage_gaps(cov, comm, data.catalog, data.weight_kind), capacity_gaps(cov, comm, fac, data.catalog)
    )
    t3 = time.perf_counter()
    timings = {"snap_points_s": t1 - t0, "coverage_s": t2 - t1, "gaps_s": t3 - t2}
    summary = region_summary(data, cov, gaps, engine, timings)
    return PlanResult(data, engine, cov, gaps, summary, timings, times)


def with_facilities(result: PlanResult, facilities: gpd.GeoDataFrame, categories: list[str]) -> PlanResult:
    """A new result after the facility table changed in ``categories`` only: one search per changed
    category, the other categories' rows reused; the gap list and summary are rebuilt (cheap).
    ``result`` itself is not modified (readers may still hold it)."""
    import dataclasses

    from .planning.coverage import coverage_rows

    data = dataclasses.replace(result.data, facilities=facilities.reset_index(drop=True))
    fp = facility_points(data)
    comm = data.communities
    types = comm["type"].to_numpy().astype(str)
    # rows of the categories that did not change point into the old facility table: renumber them
    old_fac = result.data.facilities
    new_row = pd.Series(
        np.arange(len(fp.facility_id)), index=pd.MultiIndex.from_arrays([fp.facility_id, fp.category])
    )
    old_to_new = np.full(len(old_fac) + 1, -1, dtype=np.int64)  # last slot: "none" (-1) stays -1
    if len(old_fac):
        keys = pd.MultiIndex.from_arrays(
            [old_fac["facility_id"].astype(str).to_numpy(), old_fac["category"].astype(str).to_numpy()]
        )
        old_to_new[:-1] = new_row.reindex(keys).fillna(-1).to_numpy(dtype=np.int64)
    cov = result.coverage.copy()
    cov["nearest_facility_row"] = old_to_new[cov["nearest_facility_row"].to_numpy()]
    times = {k: dataclasses.replace(t, facility=old_to_new[t.facility]) for k, t in result.times.items()}
    for key in categories:
        t = result.engine.category_times(key, fp)
        times[key] = t
        rows = coverage_rows(data.catalog.get(key), t, result.engine.points, types, fp)
        cov = pd.concat([cov[cov["category"] != key], rows], ignore_index=True)
    order = {k: i for i, k in enumerate(data.catalog.keys())}
    cov = cov.sort_values(
        ["category", "community_row"],
        key=lambda c: c.map(order) if c.name == "category" else c,
        kind="stable",
    ).reset_index(drop=True)
    gaps = rank_gaps(
        coverage_gaps(cov, comm, data.catalog, data.weight_kind),
        capacity_gaps(cov, comm, data.facilities, data.catalog),
    )
    summary = region_summary(data, cov, gaps, result.engine, result.timings_s)
    return PlanResult(data, result.engine, cov, gaps, summary, dict(result.timings_s), times)


def region_summary(
    data: PlanData, cov: pd.DataFrame, gaps: pd.DataFrame, engine: CoverageEngine, timings: dict
) -> dict:
    """Share of residents (or area) covered per category and level, and the plan targets."""
    cats = []
    for key, grp in cov.groupby("category", sort=False):
        cat = data.catalog.get(key)
        g = grp[grp["applies"]]
        tot = g["total_weight"].sum()
        entry = {
            "category": key,
            "name_zh": cat.name_zh,
            "name_en": cat.name_en,
            "level_min": cat.level_min,
            "focus": cat.focus,
            "threshold_min": sorted(set(g["threshold_min"].dropna().tolist())),
            "facilities": _count_by_source(data.facilities, key),
            "communities": int(len(g)),
            "covered_share": _ratio((g["covered_share"] * g["total_weight"]).sum(), tot),
            **{
                f"share_{lv}min": _ratio((g[f"share_{lv}"] * g["total_weight"]).sum(), tot)
                for lv in LEVELS_MIN
            },
            "communities_short": int(((gaps["category"] == key) & (gaps["kind"] == "coverage")).sum())
            if len(gaps)
            else 0,
        }
        if cat.coverage_target:
            entry["coverage_target"] = cat.coverage_target
            entry["meets_target"] = bool(
                entry["covered_share"] is not None and entry["covered_share"] >= cat.coverage_target
            )
        cats.append(entry)
    park = next((c for c in cats if c["category"] == "park"), None)
    kind = data.weight_kind
    return {
        "region": data.region.key,
        "region_name": data.region.name_zh,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "circles_version": __version__,
        "attribution": OSM_ATTRIBUTION,
        "data_source": data.region.source,
        "weight_kind": kind,
        "weighting": WEIGHT_LABELS.get(kind, kind),
        "communities": int(len(data.communities)),
        "resident_points": int(len(engine.points)),
        "resident_points_off_network": int(len(engine.unsnapped_points)),
        "total_weight": float(data.points["weight"].sum()),
        "facilities": {
            k: v
            for k, v in data.facilities.groupby(["category", "source"])
            .size()
            .unstack(fill_value=0)
            .T.to_dict()
            .items()
        }
        if len(data.facilities)
        else {},
        "sample_facilities": int((data.facilities["source"] == "sample").sum()),
        "gaps": {
            "coverage": int((gaps["kind"] == "coverage").sum()) if len(gaps) else 0,
            "capacity": int((gaps["kind"] == "capacity").sum()) if len(gaps) else 0,
        },
        "park_service_coverage": None
        if park is None
        else {
            "covered_share": park["covered_share"],
            "target": park.get("coverage_target", 0.9),
            "meets_target": park.get("meets_target"),
            "threshold_min": park["threshold_min"],
            "source": "plan item 6: park/green-space service-radius coverage > 90% by 2025",
        },
        "categories": cats,
        "notes": data.notes,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }


def _ratio(a: float, b: float) -> float | None:
    return round(float(a / b), 4) if b > 0 else None


def _count_by_source(fac: gpd.GeoDataFrame, key: str) -> dict[str, int]:
    f = fac[fac["category"] == key]
    return {str(k): int(v) for k, v in f["source"].value_counts().items()}


def plan(opts: PlanOptions, out_dir: Path | None = None, progress: Progress | None = None) -> PlanResult:
    """Run the whole pipeline; write the outputs when ``out_dir`` is given."""
    t = time.perf_counter()
    data = load_plan_data(opts, progress)
    t_load = time.perf_counter() - t
    result = run_plan(data, opts, progress)
    result.timings_s["load_s"] = t_load
    result.summary["timings_s"]["load_s"] = round(t_load, 3)
    if out_dir is not None:
        from .outputs.plan_files import write_outputs

        write_outputs(result, out_dir)
    return result
