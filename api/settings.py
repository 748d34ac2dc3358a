"""Service settings (pydantic-settings, environment prefix ``CIRCLES_``; an empty variable is unset).

A setting the service cannot start with is a :class:`~api.errors.SettingsError` with one line naming
the variable (e.g. ``CIRCLES_WORKER_THREADS=0: must be at least 1``)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as PydanticSettingsError

from circles.config import DEFAULT_REGION
from circles.inputs import PlanOptions
from circles.io.file_spec import parse_file_spec

from .errors import SettingsError


class Settings(BaseSettings):
    """``CIRCLES_REGION`` (or ``CIRCLES_OSM``), ``CIRCLES_COMMUNITIES``, ``CIRCLES_FACILITIES`` (JSON list),
    ``CIRCLES_POPULATION``, ``CIRCLES_STATE_DIR`` (database and exports), ``CIRCLES_WRITE_TOKEN`` …"""

    model_config = SettingsConfigDict(env_prefix="CIRCLES_", frozen=True, env_ignore_empty=True)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as e:
            raise SettingsError(settings_message(e)) from None
        except PydanticSettingsError as e:  # a variable that cannot be parsed (e.g. a JSON list that is not)
            field = re.search(r'field "(\w+)"', str(e))
            name = f"CIRCLES_{field.group(1).upper()}" if field else "a CIRCLES_* variable"
            raise SettingsError(f'{name} cannot be read (lists are JSON, e.g. ["a.csv:wgs84"])') from None

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
            measure=self.measure,
            country=self.country,
        )

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
    #: what thresholds are in: ``time`` (minutes at the profile's speed) or ``distance`` (network walking
    #: metres per level, GB 50180-2018; rural communities keep bicycle minutes); see :mod:`circles.measures`
    measure: Literal["time", "distance"] = "time"
    #: walking/cycling access rule set by country (ISO 3166-1 alpha-2; None: the region's own or, for
    #: ``osm``, the one found from its coordinates); see data/access_rules.toml
    country: str | None = None
    #: folder of the facility-edit database, uploads and generated exports; nothing is read outside it
    state_dir: Path = Path("out/service")
    #: largest request body of ordinary routes, bytes
    max_body_bytes: Annotated[int, Field(ge=1024)] = 16_384
    #: largest file upload (``POST /imports/...``), bytes
    max_upload_bytes: Annotated[int, Field(ge=1)] = 50_000_000
    #: a request body that sends no bytes for this long is a 408, seconds
    body_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    max_snap_m: Annotated[float, Field(gt=0)] = 500.0
    #: largest ``limit`` of a paginated list (/gaps, /communities, /facilities)
    max_page: Annotated[int, Field(ge=1)] = 1000
    #: threads for blocking handlers (searches, polygons, maps, edits); /healthz does not use them. Few
    #: threads keep the cheap reads answered on the event loop quick: every thread running Python
    #: competes with the loop for the interpreter lock
    worker_threads: Annotated[int, Field(ge=1, le=256)] = 2
    #: requests other than quick reads (see :mod:`api.admission`) processed at once per worker process;
    #: the rest wait their turn, so a gap-list page never waits behind more than these
    max_running_work: Annotated[int, Field(ge=1, le=256)] = 2
    #: how long a thread may hold the interpreter lock while another waits for it (``sys.setswitchinterval``),
    #: milliseconds; Python's default is 5. Short: a cheap read on the event loop waits less behind a
    #: thread planning an edit
    switch_interval_ms: Annotated[float, Field(ge=0.05, le=100)] = 0.5
    #: one write token (or ``sha256:<hex>`` of it); see :mod:`api.access`
    write_token: SecretStr | None = None
    #: a file of ``NAME sha256:<hex>`` lines, one per write token
    write_tokens_file: Path | None = None
    #: the exports folder is kept below this size (oldest files deleted first), bytes
    max_export_bytes: Annotated[int, Field(ge=1)] = 500_000_000
    #: exports older than this are deleted, seconds (default 7 days)
    max_export_age_s: Annotated[float, Field(gt=0)] = 7 * 86400.0
    #: the stored uploads are kept below this size (oldest imports deleted first; never the community
    #: layer in use), bytes
    max_import_bytes: Annotated[int, Field(ge=1)] = 2_000_000_000
    #: time limit of the site search (/sites), seconds
    sites_time_limit_s: Annotated[float, Field(gt=0, le=600)] = 20.0
    #: time limit of a heavy request (/sites and its exports, /maps, imports apply): 504 past it, seconds
    request_time_limit_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    #: encoded answers of GET /gaps, /coverage, /communities, /categories, /facilities kept per worker
    #: process (by store revision), bytes; 0 keeps none
    response_cache_bytes: Annotated[int, Field(ge=0)] = 64_000_000

    @model_validator(mode="after")
    def _limits_fit(self) -> Settings:
        if self.max_import_bytes < self.max_upload_bytes:
            raise ValueError("max_import_bytes must be at least max_upload_bytes (one upload must fit)")
        return self

    @property
    def db_path(self) -> Path:
        return self.state_dir / "facilities.sqlite"

    @property
    def export_dir(self) -> Path:
        return self.state_dir / "exports"

    @property
    def imports_dir(self) -> Path:
        """Uploaded files, one folder per import (an applied community layer is read from here)."""
        return self.state_dir / "imports"

    def check_state_dir(self) -> None:
        """The state folder exists (made if need be) and is writable; a :class:`SettingsError` otherwise."""
        where = f"CIRCLES_STATE_DIR {self.state_dir}"
        if self.state_dir.exists() and not self.state_dir.is_dir():
            raise SettingsError(f"{where} is a file, not a folder")
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.state_dir):
                pass
        except OSError as e:
            raise SettingsError(f"{where} is not writable: {e.strerror or e}") from None

    def environment(self) -> dict[str, str | None]:
        """These settings as ``CIRCLES_*`` variables (None: unset), for worker processes."""
        out: dict[str, str | None] = {}
        for name, value in self.model_dump(mode="json").items():
            raw = getattr(self, name)
            if isinstance(raw, SecretStr):
                value = raw.get_secret_value()
            key = f"CIRCLES_{name.upper()}"
            if value is None:
                out[key] = None
            elif isinstance(value, (list, dict)):
                import json

                out[key] = json.dumps(value, ensure_ascii=False)
            elif isinstance(value, bool):
                out[key] = "true" if value else "false"
            else:
                out[key] = str(value)
        return out


def settings_message(error: ValidationError) -> str:
    """One line naming each bad setting as its variable, its value and what is wrong."""
    parts = []
    for e in error.errors():
        field = ".".join(str(x) for x in e["loc"]) or "settings"
        name = f"CIRCLES_{field.upper()}" if e["loc"] else "settings"
        given = e.get("input")
        shown = "" if isinstance(given, dict) or given is None else f"={str(given)[:60]}"
        if "secret" in name.lower() or "token" in name.lower():
            shown = ""
        msg = str(e["msg"]).removeprefix("Value error, ")
        parts.append(f"{name}{shown}: {msg}")
    return "; ".join(parts).replace("\n", " ")


def apply_environment(settings: Settings) -> None:
    """Put ``settings`` into this process's environment (uvicorn's worker processes read it)."""
    for key, value in settings.environment().items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
