"""Reading data into WGS84 (EPSG:4326) tables: OpenStreetMap extracts (street ways, facilities,
communities, residential buildings, candidate sites), the user's files (facilities, communities,
candidate sites) and the Chinese coordinate systems (GCJ-02, BD-09) they may come in.

Modules: :mod:`.osm` (highway ways), :mod:`.osm_features` (facilities, communities, buildings),
:mod:`.osm_candidates` (candidate sites), :mod:`.facilities`, :mod:`.communities` and
:mod:`.candidates` (user files), :mod:`.coords` (coordinate conversions), :mod:`.crs_check` (is a
declared coordinate system right?). Column tuples with the same name in several modules
(``FACILITY_COLUMNS``, ``COMMUNITY_COLUMNS``) are imported from their module.
"""

from .candidates import (
    CANDIDATE_COLUMNS,
    CANDIDATE_KINDS,
    KIND_ZH,
    SMALL_GREEN_MAX_M2,
    CandidateKind,
    read_candidates,
)
from .communities import read_communities
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
from .facilities import read_facilities
from .osm import OSM_SUFFIXES, OsmWays, check_osm_file, read_highway_ways
from .osm_candidates import osm_candidates
from .osm_features import (
    DEFAULT_METRIC_CRS,
    MIN_COMMUNITY_AREA_M2,
    RESIDENTIAL_BUILDING_VALUES,
    UNNAMED_COMMUNITY,
    osm_communities,
    osm_facilities,
    osm_residential_buildings,
)

# crs_check re-exports are added by its owner

__all__ = [
    "CANDIDATE_COLUMNS",
    "CANDIDATE_KINDS",
    "CRS_LABELS",
    "DEFAULT_METRIC_CRS",
    "KIND_ZH",
    "MIN_COMMUNITY_AREA_M2",
    "OSM_SUFFIXES",
    "RESIDENTIAL_BUILDING_VALUES",
    "SMALL_GREEN_MAX_M2",
    "UNNAMED_COMMUNITY",
    "CandidateKind",
    "OsmWays",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "check_osm_file",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "normalise_crs_name",
    "osm_candidates",
    "osm_communities",
    "osm_facilities",
    "osm_residential_buildings",
    "read_candidates",
    "read_communities",
    "read_facilities",
    "read_highway_ways",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]
