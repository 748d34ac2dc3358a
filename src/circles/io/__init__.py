"""Reading data into WGS84 (EPSG:4326) tables: OpenStreetMap extracts (street ways, facilities,
communities, residential buildings, candidate sites), the user's files (facilities, communities,
candidate sites) and the Chinese coordinate systems (GCJ-02, BD-09) they may come in.

Modules: :mod:`.osm` (highway ways), :mod:`.osm_features` (facilities, communities, buildings),
:mod:`.osm_candidates` (candidate sites), :mod:`.facilities`, :mod:`.communities` and
:mod:`.candidates` (user files: Excel, CSV, GeoJSON, GeoPackage, Shapefile; Chinese or English
headers), :mod:`.file_spec` (which file, sheet or layer, and coordinate system: ``canteens.xlsx:gcj02``),
:mod:`.coords` (coordinate conversions), :mod:`.crs_check` (is a declared coordinate system right?).
Column tuples with the same name in several modules (``FACILITY_COLUMNS``, ``COMMUNITY_COLUMNS``) are
imported from their module.
"""

from ._files import MAX_INPUT_BYTES
from .candidates import (
    CANDIDATE_ALIASES,
    CANDIDATE_COLUMNS,
    CANDIDATE_KINDS,
    KIND_ZH,
    SMALL_GREEN_MAX_M2,
    CandidateKind,
    read_candidates,
    read_site_overrides,
)
from .communities import COMMUNITY_ALIASES, read_communities
from .coords import (
    CRS_LABELS,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    normalise_crs_name,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from .crs_check import (
    CrsEvidence,
    CrsReference,
    CrsVerdict,
    assess_crs,
    build_crs_reference,
    check_crs_by_osm_matches,
    check_declared_crs,
    crs_reference_from_osm,
    read_reference_areas,
)
from .facilities import FACILITY_ALIASES, read_facilities
from .file_spec import CRS_CHOICES, FileSpec, parse_file_spec
from .osm import OSM_SUFFIXES, OsmWays, check_osm_file, read_highway_ways
from .osm_candidates import osm_candidates
from .osm_context import osm_buildings, osm_streets
from .osm_features import (
    DEFAULT_METRIC_CRS,
    MIN_COMMUNITY_AREA_M2,
    RESIDENTIAL_BUILDING_VALUES,
    UNNAMED_COMMUNITY,
    osm_communities,
    osm_facilities,
    osm_residential_buildings,
)

__all__ = [
    "CANDIDATE_ALIASES",
    "CANDIDATE_COLUMNS",
    "CANDIDATE_KINDS",
    "COMMUNITY_ALIASES",
    "CRS_CHOICES",
    "CRS_LABELS",
    "DEFAULT_METRIC_CRS",
    "FACILITY_ALIASES",
    "KIND_ZH",
    "MAX_INPUT_BYTES",
    "MIN_COMMUNITY_AREA_M2",
    "OSM_SUFFIXES",
    "RESIDENTIAL_BUILDING_VALUES",
    "SMALL_GREEN_MAX_M2",
    "UNNAMED_COMMUNITY",
    "CandidateKind",
    "FileSpec",
    "CrsEvidence",
    "CrsReference",
    "CrsVerdict",
    "OsmWays",
    "assess_crs",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "build_crs_reference",
    "check_crs_by_osm_matches",
    "check_declared_crs",
    "check_osm_file",
    "crs_reference_from_osm",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "normalise_crs_name",
    "osm_buildings",
    "osm_candidates",
    "osm_communities",
    "osm_facilities",
    "parse_file_spec",
    "osm_residential_buildings",
    "osm_streets",
    "read_candidates",
    "read_site_overrides",
    "read_communities",
    "read_facilities",
    "read_highway_ways",
    "read_reference_areas",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]
