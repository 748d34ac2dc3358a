"""The job list of a batch: one job per place (a registered region or any OSM file) with its own inputs.

A job list is a TOML file::

    [defaults]                        # optional: applies to every job (any job key but ``name``)
    categories = ["canteen", "park"]

    [[job]]
    name = "chengdu-central"          # names the output partition ``job=<name>``
    region = "chengdu-central"

    [[job]]
    name = "town"
    osm = "extracts/town.osm.pbf"     # any OSM XML/PBF file instead of a registered region
    communities = "town/communities.gpkg#社区"
    facilities = ["town/canteens.xlsx:gcj02", "town/centres.csv:wgs84"]
    population = "town/population.tif"
    tile_km = 5                       # cut into tiles when the communities spread wider (0: never)
    horizon_min = 30                  # nearest times reported up to 30 minutes (default: the thresholds)
    measure = "gaps"                  # also write the coverage-gap rows
    travel_measure = "distance"       # judge by network walking metres (300/500/1000 m), not minutes

or a CSV file with a header row naming the same keys (lists separated by ``;``). Files are written
``FILE[#SHEET_OR_LAYER][:CRS]`` as everywhere else (:mod:`circles.io.file_spec`); relative paths are
read from the job list's folder. A job whose own entry is wrong (an unknown key, a bad coordinate
system name) becomes a :class:`BadJob` and fails alone; a job list that cannot be read at all, or that
names two jobs alike, is an :class:`~circles.errors.InputError`.

Two keys say "measure": ``measure`` is what a job *writes* (``coverage``, or ``gaps``: also the gap
rows); ``travel_measure`` is how coverage is *judged* (:mod:`circles.measures`): ``time`` (default,
minutes at the travel profile's speed, as ``circles plan``) or ``distance`` (network walking metres per
level, GB 50180-2018, as ``circles plan --measure distance``; rural communities keep bicycle minutes).
A distance job's tiles get a halo covering the largest distance as well as the largest time.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import DEFAULT_REGION, read_toml
from ..errors import CirclesError, InputError
from ..inputs import PlanOptions
from ..io.file_spec import FileSpec, parse_file_spec
from ..measures import DEFAULT_MEASURE
from ..measures import MEASURES as TRAVEL_MEASURES

__all__ = ["JOB_KEYS", "MEASURES", "TRAVEL_MEASURES", "BadJob", "Job", "load_jobs", "parse_job"]

#: What a job computes: ``coverage`` (shares and nearest times per community and category) or
#: ``gaps`` (the same, plus the coverage-gap rows of the communities that fall short).
MEASURES = ("coverage", "gaps")

#: Every key a job entry may have, with what it holds.
JOB_KEYS: Mapping[str, str] = {
    "name": "output name (letters, digits, _ - .); default: the region or the OSM file's stem",
    "region": "registered region (data/regions.toml)",
    "osm": "any OSM XML/PBF file instead of a region",
    "communities": "community polygons FILE[#LAYER][:CRS]",
    "facilities": "facility file(s) FILE[#SHEET][:CRS] (a list, or ';'-separated in CSV)",
    "population": "population raster (GeoTIFF, persons per cell)",
    "categories": "category keys or names (a list, or ';'-separated in CSV); default: all",
    "measure": "coverage | gaps (what is written)",
    "travel_measure": "time | distance (minutes at the profile's speed, or walking metres per level)",
    "tile_km": "tile side, km: the job is tiled when its communities spread wider (0: never)",
    "horizon_min": "nearest times are reported up to this many minutes (default: the largest threshold)",
    "crs_check": "refuse files whose coordinates fit another CRS (true/false)",
    "osm_facilities": "take facilities from the OSM extract (true/false)",
    "sample_facilities": "add the region's SAMPLE facility layer (true/false; default: without files)",
    "spacing_m": "spacing of resident points inside communities, metres",
    "max_points": "most resident points per community",
}
_NAME = re.compile(r"^[^\W_][\w.\-]*$")
_TRUE = {"true", "yes", "1", "y", "on"}
_FALSE = {"false", "no", "0", "n", "off"}


@dataclass(frozen=True)
class Job:
    """One place to plan: ``region`` or ``osm``, the user's files with their coordinate systems, the
    categories and what to compute. ``tile_km`` / ``horizon_min`` of None take the batch's setting."""

    name: str
    region: str | None = None
    osm: Path | None = None
    communities: FileSpec | None = None
    facilities: tuple[FileSpec, ...] = ()
    population: Path | None = None
    categories: tuple[str, ...] | None = None
    measure: str = "coverage"
    #: how coverage is judged: ``time`` (minutes) or ``distance`` (walking metres; :mod:`circles.measures`)
    travel_measure: str = DEFAULT_MEASURE
    tile_km: float | None = None
    horizon_min: float | None = None
    crs_check: bool = True
    osm_facilities: bool = True
    sample_facilities: bool | None = None
    spacing_m: float = 50.0
    max_points: int = 200

    def plan_options(self) -> PlanOptions:
        """The job as :class:`~circles.inputs.PlanOptions` for :func:`circles.pipeline.load_plan_data`
        (never downloads: a batch reads files only)."""
        return PlanOptions(
            region=self.region or DEFAULT_REGION,
            osm=self.osm,
            communities=self.communities,
            facilities=list(self.facilities),
            population=self.population,
            categories=list(self.categories) if self.categories else None,
            crs_check=self.crs_check,
            osm_facilities=self.osm_facilities,
            sample_facilities=self.sample_facilities,
            spacing_m=self.spacing_m,
            max_points=self.max_points,
            measure=self.travel_measure,
        )

    def input_paths(self) -> list[Path]:
        """The user files the job reads (not the region's own extract: see
        :func:`circles.batch.runner.job_fingerprint`)."""
        paths = [self.osm, self.communities.path if self.communities else None, self.population]
        return [p for p in paths if p is not None] + [f.path for f in self.facilities]

    def record(self) -> dict[str, Any]:
        """The job as plain JSON values (for the manifest and the fingerprint; ``travel_measure`` only
        when not the default, so a time job's fingerprint is what it was before the key existed)."""
        rec: dict[str, Any] = {
            "name": self.name,
            "region": self.region,
            "osm": None if self.osm is None else str(self.osm),
            "communities": None if self.communities is None else str(self.communities),
            "facilities": [str(f) for f in self.facilities],
            "population": None if self.population is None else str(self.population),
            "categories": None if self.categories is None else list(self.categories),
            "measure": self.measure,
            "tile_km": self.tile_km,
            "horizon_min": self.horizon_min,
            "crs_check": self.crs_check,
            "osm_facilities": self.osm_facilities,
            "sample_facilities": self.sample_facilities,
            "spacing_m": self.spacing_m,
            "max_points": self.max_points,
        }
        if self.travel_measure != DEFAULT_MEASURE:
            rec["travel_measure"] = self.travel_measure
        return rec


@dataclass(frozen=True)
class BadJob:
    """A job entry that could not be read: reported as failed with ``error``; the others still run."""

    name: str
    error: str
    entry: dict[str, Any] = field(default_factory=dict)


def load_jobs(path: Path) -> list[Job | BadJob]:
    """Read a job list (``.toml`` or ``.csv``, see the module docstring), relative paths against its
    folder. :class:`~circles.errors.InputError` when the file cannot be read or two jobs share a name."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: job list not found")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        entries, defaults = _toml_entries(path)
    elif suffix == ".csv":
        entries, defaults = _csv_entries(path), {}
    else:
        raise InputError(f"{path}: a job list is a .toml or .csv file")
    if not entries:
        raise InputError(f"{path}: no jobs (TOML: [[job]] tables; CSV: one row per job)")
    jobs = [
        parse_job({**defaults, **entry}, base=path.parent, number=i + 1) for i, entry in enumerate(entries)
    ]
    _check_unique([j.name for j in jobs], path)
    return jobs


def parse_job(entry: Mapping[str, Any], *, base: Path | None = None, number: int = 1) -> Job | BadJob:
    """One job from its entry (TOML table or CSV row); a wrong entry gives a :class:`BadJob`."""
    fallback = str(entry.get("name") or f"job{number}")
    try:
        return _job(entry, base or Path.cwd())
    except (CirclesError, ValueError, TypeError) as e:
        return BadJob(fallback, f"job {fallback!r}: {e}", dict(entry))


def _job(entry: Mapping[str, Any], base: Path) -> Job:
    unknown = sorted(set(entry) - set(JOB_KEYS))
    if unknown:
        raise InputError(f"unknown key(s) {', '.join(unknown)}; a job has {', '.join(JOB_KEYS)}")
    region, osm = _text(entry.get("region")), _path(entry.get("osm"), base)
    if region and osm:
        raise InputError("give region or osm, not both")
    if not region and not osm:
        raise InputError("give region (a registered region) or osm (an OSM file)")
    name = _text(entry.get("name")) or (region if region else Path(str(osm)).name.split(".")[0])
    if not _NAME.match(name):
        raise InputError(
            f"name {name!r}: use letters, digits, '_', '-' and '.', starting with a letter or digit"
        )
    measure = _text(entry.get("measure")) or "coverage"
    if measure not in MEASURES:
        raise InputError(f"measure {measure!r}: choose {' or '.join(MEASURES)}")
    travel = _text(entry.get("travel_measure")) or DEFAULT_MEASURE
    if travel not in TRAVEL_MEASURES:
        raise InputError(
            f"travel_measure {travel!r}: choose time (minutes at the profile's speed) or distance "
            "(network walking metres per level)"
        )
    communities = _file(entry.get("communities"), base)
    return Job(
        name=name,
        region=region,
        osm=osm,
        communities=communities,
        facilities=tuple(f for f in (_file(t, base) for t in _list(entry.get("facilities"))) if f),
        population=_path(entry.get("population"), base),
        categories=tuple(_list(entry.get("categories"))) or None,
        measure=measure,
        travel_measure=travel,
        tile_km=_number(entry.get("tile_km"), "tile_km", minimum=0.0),
        horizon_min=_number(entry.get("horizon_min"), "horizon_min", minimum=1e-9),
        crs_check=_flag(entry.get("crs_check"), "crs_check", True),
        osm_facilities=_flag(entry.get("osm_facilities"), "osm_facilities", True),
        sample_facilities=_optional_flag(entry.get("sample_facilities"), "sample_facilities"),
        spacing_m=_number(entry.get("spacing_m"), "spacing_m", minimum=1e-9) or 50.0,
        max_points=int(_number(entry.get("max_points"), "max_points", minimum=1) or 200),
    )


def _toml_entries(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    raw = read_toml(path)
    extra = sorted(set(raw) - {"job", "defaults"})
    if extra:
        raise InputError(
            f"{path}: unknown table(s) {', '.join(extra)}; a job list has [defaults] and [[job]]"
        )
    jobs, defaults = raw.get("job", []), raw.get("defaults", {})
    if not isinstance(jobs, list) or not all(isinstance(j, dict) for j in jobs):
        raise InputError(f"{path}: jobs are [[job]] tables")
    if not isinstance(defaults, dict) or "name" in defaults:
        raise InputError(f"{path}: [defaults] is a table of job keys other than name")
    return jobs, defaults


def _csv_entries(path: Path) -> list[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in reader.fieldnames or []]
            unknown = sorted(set(header) - set(JOB_KEYS))
            if unknown:
                raise InputError(
                    f"{path}: unknown column(s) {', '.join(unknown)}; columns are {', '.join(JOB_KEYS)}"
                )
            rows = []
            for row in reader:
                entry = {k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip()}
                if entry:
                    rows.append(entry)
            return rows
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text ({e})") from e


def _check_unique(names: Iterable[str], path: Path) -> None:
    twice = sorted(n for n, count in Counter(names).items() if count > 1)
    if twice:
        raise InputError(
            f"{path}: job names must be unique (each names an output partition): {', '.join(twice)}"
        )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"expected text, got {value!r}")
    return value.strip() or None


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(";") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise InputError(f"expected a list of text, got {value!r}")


def _path(value: Any, base: Path) -> Path | None:
    text = _text(value)
    if text is None:
        return None
    p = Path(text).expanduser()
    return p if p.is_absolute() else base / p


def _file(value: Any, base: Path) -> FileSpec | None:
    text = _text(value)
    if text is None:
        return None
    spec = parse_file_spec(text)
    path = spec.path.expanduser()
    return FileSpec(path if path.is_absolute() else base / path, spec.crs, spec.part)


def _number(value: Any, key: str, *, minimum: float) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise InputError(f"{key}: expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{key}: expected a number, got {value!r}") from None
    if not math.isfinite(number) or number < minimum:
        raise InputError(f"{key}: expected a number >= {minimum:g}, got {value!r}")
    return number


def _optional_flag(value: Any, key: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InputError(f"{key}: expected true or false, got {value!r}")


def _flag(value: Any, key: str, default: bool) -> bool:
    flag = _optional_flag(value, key)
    return default if flag is None else flag
