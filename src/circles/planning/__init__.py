"""Planning: who lives where, who reaches what, what is missing and where to add it.

The stages, in data-flow order: :mod:`.residents` (weighted resident points per community, from
population, households, a population raster or area; optionally over building footprints) ->
:mod:`.coverage` (time from every resident point to the nearest facility of each category; the
long coverage table) -> :mod:`.gaps` (the ranked gap list) -> :mod:`.candidates` (candidate
micro-renewal sites) -> :mod:`.sites` (choosing up to ``k`` of them, a maximal covering problem
solved by :mod:`.mclp`; reported by :mod:`.site_report`). :mod:`.rollup` sums coverage up to
社区 / 街道 / 区 (imported from its module: its function shares the module's name).

Geometry is in the network's metric CRS (metres) inside the stages; layers returned are EPSG:4326.
The solver (highspy) and rasterio are imported only when used.
"""

from .candidates import (
    CANDIDATE_COLUMNS,
    CANDIDATE_KINDS,
    KIND_ZH,
    SMALL_GREEN_MAX_M2,
    CandidateKind,
    candidate_sites,
    normalise_candidates,
    osm_candidates,
    read_candidates,
)
from .coverage import (
    DEFAULT_TARGET_SHARE,
    LEVELS_MIN,
    CategoryTimes,
    CoverageEngine,
    FacilityPoints,
    ResidentPoints,
    coverage_rows,
    coverage_table,
    share_within,
)
from .gaps import GAP_COLUMNS, MAX_TIME_FACTOR, capacity_gaps, coverage_gaps, rank_gaps
from .mclp import DEFAULT_TIME_LIMIT_S, METHODS, MclpSolution, greedy_mclp, solve_mclp
from .residents import (
    PERSONS_PER_HOUSEHOLD,
    WEIGHT_KINDS,
    population_from_raster,
    raster_values_at,
    resident_points,
)
from .site_brief import CONTEXT_RADIUS_M, nearest_existing, site_context, suggested_floor
from .site_report import COMMUNITY_COLUMNS, SITE_COLUMNS, SiteChoice, site_points
from .sites import choose_sites, coverage_matrix
from .suitability import SiteRule, SiteRules, Verdicts, assess_sites, load_site_rules, site_dimensions

__all__ = [
    "CANDIDATE_COLUMNS",
    "CANDIDATE_KINDS",
    "COMMUNITY_COLUMNS",
    "CONTEXT_RADIUS_M",
    "DEFAULT_TARGET_SHARE",
    "DEFAULT_TIME_LIMIT_S",
    "GAP_COLUMNS",
    "KIND_ZH",
    "LEVELS_MIN",
    "MAX_TIME_FACTOR",
    "METHODS",
    "PERSONS_PER_HOUSEHOLD",
    "SITE_COLUMNS",
    "SMALL_GREEN_MAX_M2",
    "WEIGHT_KINDS",
    "CandidateKind",
    "CategoryTimes",
    "CoverageEngine",
    "FacilityPoints",
    "MclpSolution",
    "ResidentPoints",
    "SiteChoice",
    "SiteRule",
    "SiteRules",
    "Verdicts",
    "assess_sites",
    "candidate_sites",
    "capacity_gaps",
    "choose_sites",
    "coverage_gaps",
    "coverage_matrix",
    "coverage_rows",
    "coverage_table",
    "greedy_mclp",
    "load_site_rules",
    "nearest_existing",
    "normalise_candidates",
    "osm_candidates",
    "population_from_raster",
    "rank_gaps",
    "raster_values_at",
    "read_candidates",
    "resident_points",
    "share_within",
    "site_context",
    "site_dimensions",
    "site_points",
    "solve_mclp",
    "suggested_floor",
]
