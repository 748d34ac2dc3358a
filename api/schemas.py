"""Request and response bodies (pydantic v2)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorOut(BaseModel):
    """Every 4xx: ``detail`` names the problem (a message, or FastAPI's list of field errors)."""

    detail: str | list[dict[str, Any]]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in (
        (400, "bad request"),
        (404, "unknown id or region"),
        (408, "the request body stalled"),
        (409, "conflicts with the service's state"),
        (413, "request body too large"),
        (422, "invalid parameter or body"),
    )
}


class Health(BaseModel):
    """``revision``: the store revision this worker's plan reflects (the last edit it has applied);
    ``store_revision``: the store's (another worker's edit not yet applied here when larger: the next
    request catches up, /healthz itself never waits)."""

    status: Literal["ok"]
    region: str
    communities: int
    facilities: int
    weight_kind: str
    attribution: str
    revision: int
    store_revision: int
    #: what the plan's thresholds are in: time (minutes) or distance (walking metres, GB 50180-2018)
    measure: str = "time"


class Category(BaseModel):
    model_config = ConfigDict(extra="allow")
    key: str
    name_zh: str
    name_en: str
    level_min: int
    thresholds_min: dict[str, float]


class FacilityIn(BaseModel):
    """A facility to add. ``crs`` names the coordinate system of ``lon``/``lat``: ``wgs84`` (GPS, OSM),
    ``gcj02`` (高德/腾讯), ``bd09`` (百度) or an EPSG code; it is converted to WGS84."""

    model_config = ConfigDict(extra="forbid")
    category: str = Field(min_length=1, max_length=64)
    # strict: a JSON number, never true/false or a numeric string
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, strict=True)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, strict=True)
    crs: str = Field("wgs84", min_length=1, max_length=32)
    name: str | None = Field(None, max_length=200)
    floor_area_m2: float | None = Field(None, ge=0, le=1_000_000, allow_inf_nan=False, strict=True)


class Facility(BaseModel):
    facility_id: str
    category: str
    name: str
    floor_area_m2: float | None
    lon: float
    lat: float
    source: str


class FacilityCreated(BaseModel):
    facility: Facility
    communities_affected: int


class FacilityDeleted(BaseModel):
    facility_id: str
    communities_affected: int


class FacilityPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[Facility]


class FacilityRestored(BaseModel):
    facility: Facility
    communities_affected: int


class DeletedFacility(Facility):
    """A deleted user facility or a hidden base one (restorable), with when it was deleted (UTC)."""

    deleted_at: str


class DeletedFacilityPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[DeletedFacility]


class Edit(BaseModel):
    """One edit of the audit log: its store revision, when (UTC), who (``token:<name>`` or ``local``),
    from which client address, what (``add``, ``delete``, ``restore``, ``import``, ``communities``) on
    which facility or import, and the state before and after (null: nothing)."""

    revision: int
    at: str
    actor: str
    client: str | None
    action: Literal[
        "add",
        "delete",
        "restore",
        "import",
        "communities",
        "scenario_create",
        "scenario_delete",
        "scenario_change",
        "scenario_undo",
    ]
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class EditPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[Edit]


class Gap(BaseModel):
    model_config = ConfigDict(extra="allow")
    severity_rank: int
    kind: Literal["coverage", "capacity"]
    community_id: str
    community_name: str
    category: str
    level_min: int
    threshold_min: float | None
    #: the threshold in metres of network walking distance when the row is judged by ``distance``
    threshold_m: float | None = None
    #: what judged the row: ``time`` (minutes) or ``distance`` (walking metres, GB 50180-2018)
    measure: str = "time"
    covered_share: float | None
    uncovered_residents: float | None
    uncovered_area_m2: float | None
    nearest_facility_id: str | None
    nearest_time_min: float | None
    weight_kind: str


class GapPage(BaseModel):
    """A page of the gap list; ``measure`` and ``threshold_min`` / ``threshold_m`` say what it is judged
    by (the ``minutes`` or ``walk_m`` asked; null: each category's own threshold, in its rows)."""

    total: int
    limit: int
    offset: int
    weighting: str
    measure: str = "time"
    threshold_min: float | None = None
    threshold_m: float | None = None
    items: list[Gap]


class CategoryCoverage(BaseModel):
    category: str
    name_zh: str
    level_min: int
    applies: bool
    threshold_min: float | None
    #: metres of network walking distance when the row is judged by ``distance`` (else null)
    threshold_m: float | None = None
    #: ``time`` (minutes) or ``distance`` (walking metres): what judged ``covered_share`` and ``gap``
    measure: str = "time"
    covered_share: float | None
    share_5: float | None
    share_10: float | None
    share_15: float | None
    nearest_facility_id: str | None
    nearest_facility_name: str | None
    nearest_facility_source: str | None
    nearest_time_min: float | None
    nearest_walk_m: float | None
    gap: bool


class CommunitySummary(BaseModel):
    community_id: str
    name: str
    type: str
    district: str
    #: the 社区 and 街道 the community belongs to, where the community layer names them
    community: str | None = None
    street: str | None = None
    area_m2: float
    residents: float | None
    n_gaps: int


class CommunityPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[CommunitySummary]


class CommunityDetail(CommunitySummary):
    weight_kind: str
    categories: list[CategoryCoverage]


class RollupRow(BaseModel):
    """One 社区 / 街道 / 区 (or 小区) and category: member communities, how many fall short of the
    target share, the weight (residents, or m² of residential area: ``weight_kind``) covered and not,
    and the worst members (``'甲小区 0%; 乙小区 12%'``)."""

    model_config = ConfigDict(extra="allow")
    category: str
    category_zh: str
    group: str
    level: str
    members: int
    members_applicable: int
    members_short: int
    total_weight: float | None
    covered_weight: float | None
    uncovered_weight: float | None
    covered_share: float | None
    worst_members: str
    threshold_min: float | None
    #: metres of network walking distance (null where thresholds differ or are in minutes)
    threshold_m: float | None = None
    target_share: float | None
    weight_kind: str


class RollupPage(BaseModel):
    """``/gaps?group_by=…``: the roll-up, groups with the most uncovered weight first; ``minutes`` /
    ``walk_m`` as asked, ``measure`` and ``threshold_min`` / ``threshold_m`` what it is judged by."""

    total: int
    limit: int
    offset: int
    group_by: str
    minutes: float | None
    walk_m: float | None = None
    measure: str = "time"
    threshold_min: float | None = None
    threshold_m: float | None = None
    weight_kind: str
    weighting: str
    items: list[RollupRow]


class RefusedRows(BaseModel):
    """Rows of an upload that were not accepted, with the reason (``count`` null: the whole file)."""

    reason: str
    count: int | None
    examples: list[str]


class CategoryCount(BaseModel):
    category: str
    name_zh: str
    count: int


class CrsCheck(BaseModel):
    """The coordinate check of an upload (:func:`circles.io.crs_check.assess_crs`): ``ok``,
    ``unverifiable``, ``suspect`` (warning) or ``refuse`` (applying needs ``force=true``)."""

    model_config = ConfigDict(extra="allow")
    status: Literal["ok", "unverifiable", "suspect", "refuse"]
    message: str
    declared: str | None = None
    alternative: str | None = None
    crs_read_as: str | None = None


class FlaggedName(BaseModel):
    name: str
    status: str
    suggestions: list[str]


class NameCheck(BaseModel):
    """How the 社区 (``level: community``) or 街道 (``street``) names of a file compare with the official
    2023 lists: exact, matched by stem (水井坊 = 水井坊社区居委会), near an official name, unknown."""

    level: str
    names: int
    exact: int
    matched: int
    near: int
    unknown: int
    flagged: list[FlaggedName]


class DistrictCheck(BaseModel):
    given: str
    official: str | None
    rows: int


class CommunityImportDetails(BaseModel):
    communities_now: int
    types: dict[str, int]
    admin_columns: dict[str, int]
    households_rows: int
    population_rows: int
    weight_kind: str
    names: list[NameCheck]
    districts: list[DistrictCheck]


class ImportReport(BaseModel):
    """The validation report of an upload (its dry run). ``status``: ``ready`` (can be applied),
    ``refused`` (nothing to apply: see ``refused``), ``applied``."""

    import_id: str
    kind: Literal["facilities", "communities"]
    file_name: str
    crs: str | None
    part: str | None
    created_at: str
    status: Literal["ready", "refused", "applied"]
    message: str
    rows_read: int | None
    rows_accepted: int
    rows_dropped_outside: int
    rows_refused: int | None
    dropped_outside: list[str]
    refused: list[RefusedRows]
    categories: list[CategoryCount]
    communities: CommunityImportDetails | None
    check: CrsCheck | None
    needs_force: bool
    applied_at: str | None
    forced: bool


class ImportPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[ImportReport]


class CategoryChange(BaseModel):
    category: str
    name_zh: str
    facilities_added: int
    communities_affected: int
    coverage_gaps_before: int
    coverage_gaps_after: int


class ImportApplied(BaseModel):
    """What applying an import changed."""

    import_id: str
    kind: Literal["facilities", "communities"]
    applied_at: str
    forced: bool
    message: str
    facilities_added: int
    categories: list[CategoryChange]
    communities_before: int
    communities_after: int
    weight_kind: str
    coverage_gaps_before: int
    coverage_gaps_after: int


class CommunityConflict(BaseModel):
    """409 of ``/communities/{name}``: several communities carry the name."""

    detail: str
    community_ids: list[str]


# ---------------------------------------------------------------- scenarios (issue 14)
Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, strict=True, description="WGS84 degrees")]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, strict=True, description="WGS84 degrees")]
ScenarioFacilityId = Annotated[str, Field(min_length=1, max_length=128)]


class ScenarioIn(BaseModel):
    """A new scenario: a unique name and a description."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=80)
    description: str = Field("", max_length=2000)


class ChangeAdd(BaseModel):
    """Propose a new facility of ``category`` at (lon, lat); it gets the id ``p<change_id>``."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["add"]
    category: str = Field(min_length=1, max_length=64)
    lon: Lon
    lat: Lat
    name: str = Field("", max_length=200)


class ChangeMove(BaseModel):
    """Move a facility (a register id as in /facilities, or ``p<change_id>`` of a proposed one)."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["move"]
    facility_id: ScenarioFacilityId
    lon: Lon
    lat: Lat


class ChangeRemove(BaseModel):
    """Remove a facility (a register id, or ``p<change_id>`` of a proposed one)."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["remove"]
    facility_id: ScenarioFacilityId


ScenarioChangeIn = Annotated[ChangeAdd | ChangeMove | ChangeRemove, Field(discriminator="action")]


class Change(BaseModel):
    """One change of a scenario (WGS84 degrees; null for a removal)."""

    change_id: int
    action: Literal["add", "move", "remove"]
    facility_id: str
    category: str
    lon: float | None
    lat: float | None
    name: str
    created_at: str


class Scenario(BaseModel):
    """A named set of proposed changes on top of the baseline register; ``revision`` counts its
    changes and undos."""

    id: str
    name: str
    description: str
    created_at: str
    revision: int
    changes: list[Change]


class ScenarioPage(BaseModel):
    items: list[Scenario]
    total: int


class ScenarioDeleted(BaseModel):
    deleted: str


class ChangeUndone(BaseModel):
    undone: int


class CircleNumbers(BaseModel):
    """Communities short of the target (coverage gaps) and residents covered / not (persons;
    estimates on an area-weighted plan)."""

    communities_short: int
    residents_uncovered: float
    residents_covered: float


class DeltaNumbers(BaseModel):
    gaps_closed: int
    residents_newly_covered: float


class DistrictDelta(BaseModel):
    district: str
    baseline_short: int
    scenario_short: int
    residents_newly_covered: float


class ScenarioDelta(BaseModel):
    """A scenario against the baseline for one category within ``minutes``."""

    scenario: str
    category: str
    minutes: float
    weight_kind: str
    residents_estimated: bool
    baseline: CircleNumbers
    scenario_values: CircleNumbers
    delta: DeltaNumbers
    by_district: list[DistrictDelta]


class ScenarioComparison(BaseModel):
    a: ScenarioDelta
    b: ScenarioDelta
