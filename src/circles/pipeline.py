"""The planning pipeline: network -> facilities and communities -> resident points -> coverage -> gaps
-> summary and output files. One readable function per stage; :func:`plan` runs them all."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ._common import string_values
from .catalog import COMMUNITY_PROFILES, Catalog, load_catalog
from .config import Region, get_region
from .errors import InputError
from .inputs import PlanOptions, estimate_residents, load_communities, load_facilities
from .io.crs_inputs import CrsReferenceSource, check_notes
from .measures import DEFAULT_MEASURE, distance_profile, search_profile
from .planning.coverage import (
    CategoryTimes,
    CoverageEngine,
    FacilityPoints,
    ResidentPoints,
    coverage_table,
)
from .planning.gaps import GapKeys, capacity_gaps, coverage_gaps, gap_keys, rank_gaps, update_gaps_and_keys
from .planning.residents import persons_per_household
from .planning.summary import WEIGHT_LABELS, region_summary  # noqa: F401 (WEIGHT_LABELS re-exported)
from .routing.graph import ProfileGraph
from .routing.load import osm_network, profile_graph, region_for_osm, region_network
from .routing.network import StreetNetwork

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


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
    #: one record per user file: how its coordinates were read and what the coordinate check found
    input_checks: list[dict[str, Any]] = field(default_factory=list)
    #: ``time`` or ``distance`` (:mod:`circles.measures`): what the plan's thresholds are in
    measure: str = DEFAULT_MEASURE


#: guards the first computation of a derived result's summary (one at a time; it is rarely asked for)
_summary_lock = threading.Lock()


@dataclass
class PlanResult:
    """One plan's answers. Immutable in use: an edit makes a new result (:func:`with_facilities`), so
    whatever is derived from a result may be cached on it, in ``caches`` (``{cache name: {key: value}}``;
    not compared, not shown).

    ``summary_cache`` holds the region summary once computed: :func:`run_plan` computes it at once, a
    result derived by :func:`with_facilities` leaves it None and :attr:`summary` computes it on first
    read (the service rarely reads it; every edit would otherwise pay for it)."""

    data: PlanData
    engine: CoverageEngine
    coverage: pd.DataFrame
    gaps: pd.DataFrame
    summary_cache: dict[str, Any] | None = field(repr=False, compare=False)
    timings_s: dict[str, float]
    times: dict[str, CategoryTimes] = field(default_factory=dict)  #: category -> times per resident point
    caches: dict[str, dict[Any, Any]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def summary(self) -> dict[str, Any]:
        """The region summary (:func:`~circles.planning.summary.region_summary` of this result's data,
        coverage, gap list and ``timings_s``), computed once, on first read when not given."""
        found = self.summary_cache
        if found is None:
            with _summary_lock:
                found = self.summary_cache
                if found is None:
                    found = region_summary(self.data, self.coverage, self.gaps, self.engine, self.timings_s)
                    self.summary_cache = found
        return found


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


def load_plan_data(opts: PlanOptions, progress: Progress | None = None) -> PlanData:
    """Load the network, facilities, communities and resident points for :func:`run_plan`."""
    from .planning.residents import resident_points

    step = progress or (lambda s: None)
    if opts.osm is not None:
        region = region_for_osm(opts.osm, country=opts.country)
    else:
        region = get_region(opts.region)
        region = replace(region, country=opts.country) if opts.country else region
    catalog = load_catalog()
    if opts.categories:  # keys, Chinese or English names or aliases -> keys; unknown ones raise
        opts.categories = list(dict.fromkeys(catalog.resolve(name).key for name in opts.categories))
    step("network")
    if opts.osm is not None:
        net = osm_network(opts.osm, country=opts.country)
    else:
        net = region_network(region, download=opts.download)
    walk = profile_graph(net, "walk")
    crs_source = CrsReferenceSource(region, net, walk)
    step("communities")
    comm, notes, checks = load_communities(opts, region, crs_source)
    types = set(comm["type"])
    graphs = plan_graphs(net, types, opts.measure)
    step("facilities")
    fac, fnotes, fchecks = load_facilities(opts, region, catalog, crs_source)
    checks += fchecks
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
        comm["residents_estimate"], estimate_note = estimate_residents(comm, region)
        if estimate_note:
            notes.append(estimate_note)
    notes += fnotes + check_notes(checks)
    if opts.measure == "distance":
        metres = " / ".join(f"{lv.walk_m:g}" for lv in catalog.level_table)
        notes.append(
            f"measure: network walking distance per level (GB 50180-2018: {metres} m); "
            "rural communities are judged in minutes by bicycle"
        )
    return PlanData(region, net, graphs, catalog, comm, fac, pts, kind, notes, checks, opts.measure)


def plan_graphs(net: StreetNetwork, community_types: Iterable[str], measure: str) -> dict[str, ProfileGraph]:
    """The graphs a plan searches, by name: ``walk`` (always), each community type's profile and, under
    the ``distance`` measure, the walk profile's 1 m/s twin ``walk_distance`` for walking communities."""
    from .config import get_profile

    names = {COMMUNITY_PROFILES.get(t, "walk") for t in community_types} | {"walk"}
    graphs = {p: profile_graph(net, p) for p in names}
    for t in set(community_types):
        base = COMMUNITY_PROFILES.get(t, "walk")
        name = search_profile(base, t, measure)
        if name not in graphs:
            graphs[name] = profile_graph(net, distance_profile(get_profile(base)))
    return graphs


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
    engine = CoverageEngine(data.graphs, rp, max_snap_m=opts.max_snap_m, measure=data.measure)
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
    category, the other categories' coverage and gap rows reused (:func:`~circles.planning.gaps.update_gaps`);
    the region summary is computed on first read of :attr:`PlanResult.summary`. The facilities of the
    other categories must keep their relative order. ``result`` itself is not modified (readers may
    still hold it)."""
    import dataclasses

    from .planning.coverage import catalog_level_walk_m, coverage_columns, coverage_frame

    data = dataclasses.replace(result.data, facilities=facilities.reset_index(drop=True))
    fp = facility_points(data)
    comm = data.communities
    types = comm["type"].to_numpy().astype(str)
    # rows of the categories that did not change point into the old facility table: renumbered
    old_to_new = _renumbering(result.data.facilities, fp)
    moved = not np.array_equal(old_to_new[:-1], np.arange(len(old_to_new) - 1))
    times = {
        k: dataclasses.replace(t, facility=old_to_new[t.facility]) if moved else t
        for k, t in result.times.items()
    }
    code_of = {key: code for code, key in enumerate(data.catalog.keys())}
    columns: dict[str, dict[str, Any]] = {}
    for key in categories:
        cat = data.catalog.get(key)
        t = result.engine.category_times(key, fp)
        times[key] = t
        columns.pop(key, None)  # a category named twice: its last rows, placed last
        columns[key] = coverage_columns(
            cat,
            t,
            result.engine.points,
            types,
            fp,
            measure=result.engine.measure,
            level_walk_m=catalog_level_walk_m(data.catalog),
        )
    fresh = {key: (code_of[key], coverage_frame(c)) for key, c in columns.items()}
    known = _table_keys(result)
    cov, code = _spliced_coverage(result.coverage, fresh, known.coverage_code, old_to_new if moved else None)
    gaps, keys = update_gaps_and_keys(
        result.gaps,
        cov,
        comm,
        data.facilities,
        data.catalog,
        data.weight_kind,
        categories,
        previous_keys=known.gap_keys,
        coverage_code=code,
        fresh_columns=columns,
    )
    new = PlanResult(data, result.engine, cov, gaps, None, dict(result.timings_s), times)
    new.caches[TABLE_KEYS_CACHE] = {"": _TableKeys(cov, gaps, comm, data.catalog, code, keys)}
    return new


#: name of the cache in :attr:`PlanResult.caches` of what :func:`with_facilities` looks up in a result's
#: coverage and gap tables (:class:`_TableKeys`): kept with the result it derives, so a chain of edits
#: looks strings up once
TABLE_KEYS_CACHE = "table_keys"


@dataclass(frozen=True)
class _TableKeys:
    """Of one result's tables (the frames themselves, to tell they are still the result's): the place of
    each coverage row's category in the catalog's keys (-1: none) and the gap list's keys."""

    coverage: pd.DataFrame
    gaps: pd.DataFrame
    communities: pd.DataFrame
    catalog: Catalog
    coverage_code: np.ndarray
    gap_keys: GapKeys | None

    def describes(self, result: PlanResult) -> bool:
        d = result.data
        return (
            self.coverage is result.coverage
            and self.gaps is result.gaps
            and self.communities is d.communities
            and self.catalog is d.catalog
        )


def _table_keys(result: PlanResult) -> _TableKeys:
    """The :class:`_TableKeys` of ``result`` (looked up once, then cached on it)."""
    cache = result.caches.setdefault(TABLE_KEYS_CACHE, {})
    found = cache.get("")
    if found is None or not found.describes(result):
        d = result.data
        code = pd.Index(list(d.catalog.keys())).get_indexer(result.coverage["category"])
        keys = gap_keys(result.gaps, d.communities, d.catalog)
        found = _TableKeys(result.coverage, result.gaps, d.communities, d.catalog, code, keys)
        cache[""] = found
    return found


def _spliced_coverage(
    old: pd.DataFrame,
    fresh: dict[str, tuple[int, pd.DataFrame]],
    old_code: np.ndarray,
    old_to_new: np.ndarray | None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The coverage table ``old`` with the rows of each category of ``fresh`` (key -> its code, its rows)
    replaced by its rows (and ``old_to_new`` applied to the other rows' ``nearest_facility_row``; None:
    unchanged), ordered by category code (``old_code``: of each row of ``old``; -1, no catalog
    category, last) and community row, ties in table order (the old rows, then the fresh ones in their
    order): the table ``pd.concat`` of those parts sorted stably gives, built from slices of the parts
    (one run each when ``old`` is in that order) instead of row by row. Also the new table's codes."""
    kept = np.flatnonzero(~np.isin(old_code, [c for c, _ in fresh.values()]))
    parts = [old, *(rows for _, rows in fresh.values())]
    start = np.cumsum([0] + [len(f) for f in parts])  # where each part begins in the parts end to end
    source = np.concatenate([kept] + [start[i] + np.arange(len(f)) for i, f in enumerate(parts) if i])
    code = np.concatenate([old_code[kept]] + [np.full(len(rows), c) for c, rows in fresh.values()])
    community_row = np.concatenate([f["community_row"].to_numpy() for f in parts])[source]
    order = np.lexsort((community_row, np.where(code < 0, np.iinfo(np.int64).max, code)))
    source, code = source[order], code[order]
    # runs of consecutive rows of one part
    cut = np.flatnonzero((np.diff(source) != 1) | np.isin(source[1:], start[1:-1])) + 1
    runs = [(int(r[0]), int(r[-1]) + 1) for r in np.split(source, cut) if len(r)]
    if len(runs) <= 2 * len(parts) + 2:
        part = np.searchsorted(start, [a for a, _ in runs], side="right") - 1
        pieces = [parts[p].iloc[a - start[p] : b - start[p]] for p, (a, b) in zip(part, runs)]
        cov = pd.concat(pieces, ignore_index=True)
    else:
        cov = pd.concat(parts, ignore_index=True).take(source).reset_index(drop=True)
    if old_to_new is not None:
        facility_row = [f["nearest_facility_row"].to_numpy() for f in parts]
        facility_row[0] = old_to_new[facility_row[0]]
        cov["nearest_facility_row"] = np.concatenate(facility_row)[source]
    return cov, code


def _renumbering(old: gpd.GeoDataFrame, new: FacilityPoints) -> np.ndarray:
    """Row in ``new`` of each row of the facility table ``old`` (matched by id and category; -1: gone),
    plus a last slot -1 (so "no facility", -1, stays -1)."""
    new_keys = list(zip(new.facility_id.tolist(), new.category.tolist()))
    row_of = dict(zip(new_keys, range(len(new_keys))))
    if len(row_of) != len(new_keys):
        seen: set[tuple[str, str]] = set()
        for key in new_keys:
            if key in seen:
                raise ValueError(f"facility {key[0]!r} of category {key[1]!r} is in the facility table twice")
            seen.add(key)
    old_keys = list(zip(string_values(old["facility_id"]).tolist(), string_values(old["category"]).tolist()))
    if old_keys == new_keys[: len(old_keys)]:  # rows only added at the end
        return np.append(np.arange(len(old_keys), dtype=np.int64), -1)
    return np.array([row_of.get(key, -1) for key in old_keys] + [-1], dtype=np.int64)


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
