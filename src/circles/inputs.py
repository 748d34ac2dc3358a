"""The plan's inputs: what to plan with (:class:`PlanOptions`) and the loading of facilities and
communities — the user's own files, each read in its declared coordinate system and checked against the
map (:func:`circles.io.crs_check.assess_crs`), combined with the region's OpenStreetMap layers and its
authored sample layer (``source: sample``).

Every input file carries its own coordinate system (:class:`circles.io.file_spec.FileSpec`,
``canteens.xlsx:gcj02``). The check compares how well each file fits the streets, buildings, residential
areas and OSM facilities as declared and as GCJ-02 / BD-09 / WGS84; it refuses a file only when the
evidence is overwhelming (``crs_check=False`` proceeds anyway, with a note), warns when it is strong, and
says when it could not verify. Every verdict is kept in :attr:`PlanData.input_checks`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ._common import WGS84
from .catalog import Catalog
from .config import DEFAULT_REGION, Region, project_data_dir, shared_data_dir
from .errors import InputError
from .io.crs_inputs import CrsReferenceSource, check_file_crs
from .io.file_spec import FileSpec, parse_file_spec
from .measures import DEFAULT_MEASURE, check_measure
from .planning.residents import PERSONS_PER_HOUSEHOLD
from .routing.access_rules import check_country
from .routing.graph import DEFAULT_MAX_SNAP_M

log = logging.getLogger(__name__)

FACILITY_FRAME_COLUMNS = ["facility_id", "category", "name", "floor_area_m2", "source", "geometry"]


@dataclass
class PlanOptions:
    """What to plan with. ``communities`` and ``facilities`` are files with their coordinate systems
    (:class:`FileSpec`, or text such as ``"canteens.xlsx:gcj02"``); None / empty for the region's own
    data (OSM residential areas; OSM facilities plus the sample layer)."""

    region: str = DEFAULT_REGION
    #: any OSM XML/PBF file instead of a registered region
    osm: Path | None = None
    #: fetch the region from the internet when its extract is absent (only when the user asks)
    download: bool = False
    communities: FileSpec | None = None
    facilities: list[FileSpec] = field(default_factory=list)
    population: Path | None = None
    osm_facilities: bool = True
    sample_facilities: bool | None = None  # default: only when no facility file is given
    categories: list[str] | None = None
    #: refuse a file whose coordinates overwhelmingly fit another coordinate system (False: note only)
    crs_check: bool = True
    spacing_m: float = 50.0
    max_points: int = 200
    max_snap_m: float = DEFAULT_MAX_SNAP_M
    #: ``time`` (minutes at the profile's speed) or ``distance`` (walking metres per level, GB 50180-2018;
    #: rural communities keep bicycle minutes): see :mod:`circles.measures`
    measure: str = DEFAULT_MEASURE
    #: walking/cycling access rule set by country (ISO 3166-1 alpha-2, data/access_rules.toml) instead of
    #: the region's own (``country`` in regions.toml) or, for ``osm``, the one found from its coordinates
    country: str | None = None

    def __post_init__(self) -> None:
        check_measure(self.measure)
        self.country = check_country(self.country)
        if self.communities is not None:
            self.communities = parse_file_spec(self.communities)
        self.facilities = [parse_file_spec(f) for f in self.facilities]


def sample_layer_path(region: str) -> Path:
    """The region's authored SAMPLE facility layer (``data/facilities/<region>_sample.geojson``)."""
    return project_data_dir() / "facilities" / f"{region}_sample.geojson"


def load_facilities(
    opts: PlanOptions, region: Region, catalog: Catalog, crs_source: CrsReferenceSource
) -> tuple[gpd.GeoDataFrame, list[str], list[dict[str, Any]]]:
    """OSM facilities of the region, plus the user's files (each in its own coordinate system, checked)
    or, when none are given, the region's authored sample layer (``source: sample``). Returns the
    facility table (EPSG:4326), notes and the coordinate checks."""
    from .io.facilities import read_facilities
    from .io.osm_features import osm_facilities

    notes: list[str] = []
    frames = []
    if opts.osm_facilities and region.osm_path.exists():
        crs_source.osm_facilities = osm_facilities(region.osm_path, catalog, bbox=region.bbox)
        frames.append(crs_source.osm_facilities)
    checks = []
    for spec in opts.facilities:
        gdf = read_facilities(spec, catalog=catalog, bbox=region.bbox, on_outside="drop")
        checks.append(check_file_crs(gdf, "facilities", crs_source, enabled=opts.crs_check))
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
    return _combined_facilities(frames, opts.categories), notes, checks


def _combined_facilities(frames: list[gpd.GeoDataFrame], categories: list[str] | None) -> gpd.GeoDataFrame:
    fac = pd.concat([f.reindex(columns=FACILITY_FRAME_COLUMNS) for f in frames], ignore_index=True)
    fac = gpd.GeoDataFrame(fac, geometry="geometry", crs=WGS84)
    fac["name"] = fac["name"].fillna("").astype(str)
    fac["floor_area_m2"] = pd.to_numeric(fac["floor_area_m2"], errors="coerce")
    dup = fac.duplicated(["facility_id", "category"])
    if dup.any():
        raise InputError(
            f"duplicate facility ids across inputs: {', '.join(fac.loc[dup, 'facility_id'].astype(str)[:10])}"
        )
    if categories:
        fac = fac[fac["category"].isin(categories)].reset_index(drop=True)
    return fac


def load_communities(
    opts: PlanOptions, region: Region, crs_source: CrsReferenceSource
) -> tuple[gpd.GeoDataFrame, list[str], list[dict[str, Any]]]:
    """The user's communities (checked like facility files), or the region's named residential areas
    (OSM ``landuse=residential``); districts joined from the region's district boundaries where the file
    has none; persons per household from the 2020 census of each district."""
    from .io.communities import read_communities
    from .io.osm_features import osm_communities

    notes, checks = [], []
    if opts.communities is not None:
        comm = read_communities(opts.communities, bbox=region.bbox)
        checks.append(check_file_crs(comm, "communities", crs_source, enabled=opts.crs_check))
        notes += admin_name_notes(comm)
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
    comm["persons_per_household"], note = census_household_size(comm["district"])
    comm["share_65plus"] = census_share_65plus(comm["district"])
    if comm["households"].notna().any():
        notes.append(note)
    return comm, notes, checks


def admin_name_notes(comm: pd.DataFrame) -> list[str]:
    """Notes on 社区 / 街道 names that are not in the official 2023 lists (near matches suggested);
    the communities keep the names they were given."""
    from .io.admin_names import admin_names_for

    names = admin_names_for(str(shared_data_dir()))
    if names is None:
        return []
    notes = []
    for col, level, label in (("community", "community", "社区"), ("street", "street", "街道")):
        if col not in comm or comm[col].isna().all():
            continue
        table = names.check_all(comm[col], level)
        unknown = table[~table["status"].isin(["exact", "matched"])]
        if len(unknown):
            shown = [
                f"{r.name}" + (f" (did you mean {r.suggestions}?)" if r.suggestions else "")
                for r in unknown.head(10).itertuples()
            ]
            more = f" … and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            notes.append(
                f"{len(unknown)} of {len(table)} {label} names are not in the official 2023 list "
                f"(NBS division codes; kept as given): {'; '.join(shown)}{more}"
            )
    return notes


def census_household_size(district: pd.Series) -> tuple[np.ndarray, str]:
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


def census_share_65plus(district: pd.Series) -> np.ndarray:
    """Share of residents aged 65+ (0-1) of each community's district (2020 census); NaN where unknown."""
    from .io.districts import census_for, district_name

    census = census_for(str(shared_data_dir()))
    names = [district_name(d) if d else None for d in district]
    return np.array([census[n].share_65plus if n in census else np.nan for n in names], dtype=float)


ESTIMATE_LABEL = (
    "ESTIMATE: each district's 2020 census population, pro rata to the part of the district inside the "
    "region, spread over its residential areas by area — not counted people"
)


def estimate_residents(comm: gpd.GeoDataFrame, region: Region) -> tuple[np.ndarray, str]:
    """Estimated residents of each community when no population data is given (persons, NaN where the
    district or its census is unknown): the district's census population x (district area inside the
    region / district area), spread over the district's communities in proportion to their area. A
    labelled estimate (:data:`ESTIMATE_LABEL`), kept beside the area weighting, never mixed with counts."""
    from .io.districts import census_for, district_name

    census = census_for(str(shared_data_dir()))
    path = region.districts_path
    out = np.full(len(comm), np.nan)
    if not census or path is None or not path.exists():
        return out, ""
    bounds = district_boundaries(str(path), region.metric_crs)
    inside = bounds.geometry.intersection(
        gpd.GeoSeries.from_wkt([_bbox_wkt(region)], crs=WGS84).to_crs(region.metric_crs).iloc[0]
    )
    share_inside = dict(zip(bounds["district_name"], (inside.area / bounds.geometry.area).to_numpy()))
    names = np.array([district_name(d) if d else None for d in comm["district"]], dtype=object)
    area = comm["area_m2"].to_numpy(dtype=float)
    used = []
    for name in sorted({n for n in names if n in census and n in share_inside}):
        rows = names == name
        people = census[name].population * share_inside[name]
        out[rows] = people * area[rows] / area[rows].sum()
        used.append(f"{name} {people:,.0f}")
    return out, f"{ESTIMATE_LABEL} ({'; '.join(used)})" if used else ""


def _bbox_wkt(region: Region) -> str:
    x0, y0, x1, y1 = region.bbox
    return f"POLYGON(({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"


@lru_cache(maxsize=4)
def district_boundaries(path: str, metric_crs: str) -> gpd.GeoDataFrame:
    """The region's district polygons (``district_name``, geometry) in ``metric_crs``, read once per
    process; callers must not modify the frame."""
    return gpd.read_file(path)[["district_name", "geometry"]].to_crs(metric_crs)


def _districts(comm: gpd.GeoDataFrame, region: Region) -> pd.Series:
    """The district (区) each community's representative point lies in, from the region's boundaries."""
    path = region.districts_path
    if path is None or not path.exists():
        return pd.Series([""] * len(comm), index=comm.index)
    d = district_boundaries(str(path), region.metric_crs)
    pts = gpd.GeoDataFrame(
        geometry=comm.to_crs(region.metric_crs).representative_point(), crs=region.metric_crs
    )
    j = gpd.sjoin(pts, d, how="left", predicate="within")
    j = j[~j.index.duplicated()]
    return j["district_name"].reindex(comm.index)
