"""Request and response bodies (pydantic v2)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorOut(BaseModel):
    """Every 4xx: ``detail`` names the problem (a message, or FastAPI's list of field errors)."""

    detail: str | list[dict[str, Any]]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in (
        (400, "bad request"),
        (404, "unknown id or region"),
        (413, "request body too large"),
        (422, "invalid parameter or body"),
    )
}


class Health(BaseModel):
    status: Literal["ok"]
    region: str
    communities: int
    facilities: int
    weight_kind: str
    attribution: str


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
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    crs: str = Field("wgs84", min_length=1, max_length=32)
    name: str | None = Field(None, max_length=200)
    floor_area_m2: float | None = Field(None, ge=0, le=1_000_000, allow_inf_nan=False)


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


class Gap(BaseModel):
    model_config = ConfigDict(extra="allow")
    severity_rank: int
    kind: Literal["coverage", "capacity"]
    community_id: str
    community_name: str
    category: str
    level_min: int
    threshold_min: float | None
    covered_share: float | None
    uncovered_residents: float | None
    uncovered_area_m2: float | None
    nearest_facility_id: str | None
    nearest_time_min: float | None
    weight_kind: str


class GapPage(BaseModel):
    total: int
    limit: int
    offset: int
    weighting: str
    items: list[Gap]


class CategoryCoverage(BaseModel):
    category: str
    name_zh: str
    level_min: int
    applies: bool
    threshold_min: float | None
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
