"""Service settings (pydantic-settings, environment prefix ``CIRCLES_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from circles.config import DEFAULT_REGION
from circles.inputs import PlanOptions
from circles.io.file_spec import parse_file_spec


class Settings(BaseSettings):
    """``CIRCLES_REGION`` (or ``CIRCLES_OSM``), ``CIRCLES_COMMUNITIES``, ``CIRCLES_FACILITIES`` (JSON list),
    ``CIRCLES_POPULATION``, ``CIRCLES_STATE_DIR`` (database and exports), ``CIRCLES_MAX_BODY_BYTES`` …"""

    def plan_options(self) -> PlanOptions:
        """What the service plans with (the same inputs as ``circles plan``)."""
        return PlanOptions(
            region=self.region,
            osm=self.osm,
            communities=parse_file_spec(self.communities) if self.communities else None,
            facilities=[parse_file_spec(f) for f in self.facilities],
            population=self.population,
            crs_check=self.crs_check,
            max_snap_m=self.max_snap_m,
        )

    model_config = SettingsConfigDict(env_prefix="CIRCLES_", frozen=True)

    region: str = DEFAULT_REGION
    #: any OSM XML/PBF file instead of the registered region
    osm: Path | None = None
    #: the planner's community polygons, ``FILE[#LAYER][:CRS]`` (None: the region's OSM residential areas)
    communities: str | None = None
    #: facility registers, each ``FILE[#SHEET][:CRS]`` (JSON list in the environment variable)
    facilities: list[str] = []
    #: population raster (GeoTIFF, persons per cell)
    population: Path | None = None
    #: refuse input files whose coordinates overwhelmingly fit another coordinate system
    crs_check: bool = True
    #: folder of the facility-edit database and of generated exports; nothing is read outside it
    state_dir: Path = Path("out/service")
    max_body_bytes: int = 16_384
    #: largest file upload (``POST /imports/...``), bytes
    max_upload_bytes: Annotated[int, Field(ge=1)] = 50_000_000
    max_snap_m: float = 500.0
    #: largest ``limit`` of a paginated list (/gaps, /communities, /facilities)
    max_page: Annotated[int, Field(ge=1)] = 1000
    #: threads for blocking handlers (searches, polygons, edits)
    worker_threads: int = 4

    @property
    def db_path(self) -> Path:
        return self.state_dir / "facilities.sqlite"

    @property
    def export_dir(self) -> Path:
        return self.state_dir / "exports"

    @property
    def imports_dir(self) -> Path:
        """Uploaded files, one folder per import (kept: an applied community layer is read from here)."""
        return self.state_dir / "imports"
