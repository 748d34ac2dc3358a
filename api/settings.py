"""Service settings (pydantic-settings, environment prefix ``CIRCLES_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from circles.config import DEFAULT_REGION


class Settings(BaseSettings):
    """``CIRCLES_REGION``, ``CIRCLES_STATE_DIR`` (database and exports), ``CIRCLES_MAX_BODY_BYTES`` …"""

    model_config = SettingsConfigDict(env_prefix="CIRCLES_", frozen=True)

    region: str = DEFAULT_REGION
    #: folder of the facility-edit database and of generated exports; nothing is read outside it
    state_dir: Path = Path("out/service")
    max_body_bytes: int = 16_384
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
