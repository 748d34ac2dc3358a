"""Settings: where data lives, the region registry and the travel profiles.

Everything here is frozen: pass these objects down instead of reading globals deep in the stack.
"""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import DataFileError, UnknownProfileError, UnknownRegionError

log = logging.getLogger(__name__)

#: Project root (the folder holding ``data/``, ``api/``, ``maps/``) in a source checkout.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def project_data_dir() -> Path:
    """The project's own data (catalog, regions, profiles, authored layers): ``$CIRCLES_PROJECT_DATA``
    or ``data/`` of the checkout."""
    return Path(os.environ.get("CIRCLES_PROJECT_DATA") or PROJECT_ROOT / "data")  # empty: unset


def shared_data_dir() -> Path:
    """Real data (OSM extracts, boundaries): ``$CIRCLES_DATA_DIR`` or ``../shared/data`` beside the
    project."""
    return Path(os.environ.get("CIRCLES_DATA_DIR") or PROJECT_ROOT.parent / "shared" / "data")  # empty: unset


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as a dict; :class:`DataFileError` when missing or malformed."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError as e:
        raise DataFileError(f"{path}: file not found") from e
    except OSError as e:
        raise DataFileError(f"{path}: cannot read ({e})") from e
    except tomllib.TOMLDecodeError as e:
        raise DataFileError(f"{path}: not valid TOML ({e})") from e


@dataclass(frozen=True)
class Profile:
    """A travel profile.

    ``speed_m_s`` is the travel speed in metres per second; ``mode`` is ``foot`` or ``bicycle`` (which
    OSM access rules apply); ``steps`` says whether ``highway=steps`` may be used, at
    ``speed_m_s * steps_speed_factor``.
    """

    name: str
    speed_m_s: float
    mode: str = "foot"
    steps: bool = True
    steps_speed_factor: float = 1.0
    label: str = ""
    source: str = ""
    #: speed of the leg between a point and its street (walked, even for ``bike``), m/s
    offstreet_m_s: float = 0.0
    #: ``time`` (a search gives seconds) or ``distance`` (a twin at 1 m/s: a search gives metres; see
    #: :func:`circles.measures.distance_profile`)
    measure: str = "time"
    #: for a distance twin: the speed (m/s) of the profile it was made from, to state times
    reference_speed_m_s: float = 0.0

    @property
    def offstreet_speed_m_s(self) -> float:
        """Speed of the off-street leg, m/s (the profile's own speed unless set)."""
        return self.offstreet_m_s or self.speed_m_s

    @property
    def max_speed_m_s(self) -> float:
        """Fastest speed on any way (bounds the straight-line reach of a time budget)."""
        return self.speed_m_s * max(1.0, self.steps_speed_factor)


def load_profiles(path: Path | None = None) -> dict[str, Profile]:
    """Read ``profiles.toml`` into ``{name: Profile}`` (parsed once per file version: cached by path and
    modification time, so a request handler may call it freely)."""
    path = path or project_data_dir() / "profiles.toml"
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError:
        mtime_ns = -1  # read_toml reports the missing file
    return dict(_parse_profiles(str(path), mtime_ns))


@lru_cache(maxsize=8)
def _parse_profiles(path_text: str, mtime_ns: int) -> dict[str, Profile]:
    path = Path(path_text)
    raw = read_toml(path)
    profiles: dict[str, Profile] = {}
    for name, body in raw.items():
        try:
            speed = float(body["speed_m_s"])
        except (KeyError, TypeError, ValueError) as e:
            raise DataFileError(f"{path}: profile {name!r} needs a numeric speed_m_s") from e
        mode = body.get("mode", "foot")
        if speed <= 0 or mode not in ("foot", "bicycle"):
            raise DataFileError(f"{path}: profile {name!r}: speed_m_s must be > 0 and mode foot|bicycle")
        profiles[name] = Profile(
            name=name,
            speed_m_s=speed,
            mode=mode,
            steps=bool(body.get("steps", mode == "foot")),
            steps_speed_factor=float(body.get("steps_speed_factor", 1.0)),
            label=str(body.get("label", name)),
            source=str(body.get("source", "")),
            offstreet_m_s=float(body.get("offstreet_speed_m_s", 0.0)),
        )
    return profiles


def get_profile(name: str, profiles: dict[str, Profile] | None = None) -> Profile:
    """The profile called ``name``; :class:`UnknownProfileError` lists the known ones."""
    profiles = profiles if profiles is not None else load_profiles()
    try:
        return profiles[name]
    except KeyError:
        raise UnknownProfileError(
            f"unknown profile {name!r}; known profiles: {', '.join(sorted(profiles))}"
        ) from None


@dataclass(frozen=True)
class Region:
    """A named study region: OSM extract, bbox (WGS84 degrees) and metric CRS."""

    key: str
    osm_path: Path
    bbox: tuple[float, float, float, float]
    metric_crs: str
    name_zh: str = ""
    name_en: str = ""
    districts_path: Path | None = None
    source: str = ""
    #: ISO 3166-1 alpha-2 code choosing the access rule set ("" = found from the data); ``access`` holds
    #: the region's ``[<key>.access]`` overrides as (``foot_yes``|``foot_no``|..., highway) pairs
    country: str = ""
    access: tuple[tuple[str, str], ...] = ()


def load_regions(path: Path | None = None, data_dir: Path | None = None) -> dict[str, Region]:
    """Read ``regions.toml``; file paths resolve against the shared data directory."""
    path = path or project_data_dir() / "regions.toml"
    data_dir = data_dir or shared_data_dir()
    regions = {}
    for key, body in read_toml(path).items():
        try:
            bbox = tuple(float(v) for v in body["bbox"])
            osm = data_dir / body["osm_file"]
            crs = str(body["metric_crs"])
        except (KeyError, TypeError, ValueError) as e:
            raise DataFileError(f"{path}: region {key!r} needs osm_file, bbox and metric_crs") from e
        if len(bbox) != 4 or bbox[0] >= bbox[2] or bbox[1] >= bbox[3]:
            raise DataFileError(f"{path}: region {key!r}: bbox must be [min_lon, min_lat, max_lon, max_lat]")
        districts = body.get("districts_file")
        regions[key] = Region(
            key=key,
            osm_path=osm,
            bbox=(bbox[0], bbox[1], bbox[2], bbox[3]),
            metric_crs=crs,
            name_zh=body.get("name_zh", ""),
            name_en=body.get("name_en", ""),
            districts_path=data_dir / districts if districts else None,
            source=body.get("source", ""),
            country=str(body.get("country", "")),
            access=tuple(sorted((k, str(h)) for k, v in body.get("access", {}).items() for h in v)),
        )
    return regions


DEFAULT_REGION = "chengdu-central"


def get_region(key: str = DEFAULT_REGION) -> Region:
    """The registered region ``key``; :class:`UnknownRegionError` lists the known ones."""
    regions = load_regions()
    try:
        return regions[key]
    except KeyError:
        raise UnknownRegionError(
            f"unknown region {key!r}; known regions: {', '.join(sorted(regions))}"
        ) from None
