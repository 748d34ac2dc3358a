"""The facility catalog: which facility categories exist, their service circle and thresholds.

Read from ``data/catalog.toml`` (one ``[[category]]`` table per category; users add categories by
adding tables; one ``[[level]]`` table per service circle). Thresholds are in minutes of travel (the
``time`` measure) and, for walking communities, in metres of network walking distance per level (the
``distance`` measure, GB 50180-2018; see :mod:`circles.measures`); travel speeds belong to the travel
profiles.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _catalog_checks as checks
from .config import read_toml
from .errors import DataFileError, InputError, UnknownCategoryError
from .measures import check_measure, judged_by

log = logging.getLogger(__name__)

#: Service-circle levels, minutes.
LEVELS_MIN: tuple[int, ...] = (5, 10, 15)

#: Community types (城镇 / 乡村 / 产业, plan 第三章第一节) and the travel profile each uses.
COMMUNITY_PROFILES: Mapping[str, str] = {"urban": "walk", "rural": "bike", "industrial": "walk"}
COMMUNITY_TYPES: tuple[str, ...] = tuple(COMMUNITY_PROFILES)

#: File name of the catalog inside the project data directory.
CATALOG_FILE = "catalog.toml"

_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_THRESHOLD_FIELDS: Mapping[str, str] = checks.threshold_fields(COMMUNITY_PROFILES)
_TOP_LEVEL = ("schema_version", "category", "level")
_LEVEL_FIELDS = ("minutes", "walk_m", "name_zh", "name_en", "sources")


def _check_community_type(community_type: str) -> None:
    if community_type not in COMMUNITY_PROFILES:
        raise InputError(
            f"unknown community type {community_type!r}; known types: {', '.join(COMMUNITY_TYPES)}"
        )


@dataclass(frozen=True)
class TagFilter:
    """An OSM tag condition: ``key`` has one of ``values`` (any value when empty), every ``require``
    filter matches too and no ``exclude`` filter matches."""

    key: str
    values: tuple[str, ...] = ()
    require: tuple[TagFilter, ...] = ()
    exclude: tuple[TagFilter, ...] = ()

    def _key_matches(self, tags: Mapping[str, str]) -> bool:
        value = tags.get(self.key)
        if value is None:
            return False
        if not self.values:
            return True
        # OSM puts several values in one tag separated by ";" (e.g. "clinic;doctors").
        return any(part.strip() in self.values for part in value.split(";"))

    def matches(self, tags: Mapping[str, str]) -> bool:
        """True when the feature's ``tags`` satisfy this filter."""
        return (
            self._key_matches(tags)
            and all(f.matches(tags) for f in self.require)
            and not any(f.matches(tags) for f in self.exclude)
        )

    def to_record(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict, the same shape as in the TOML."""
        rec: dict[str, Any] = {"key": self.key, "values": list(self.values)}
        if self.require:
            rec["require"] = [f.to_record() for f in self.require]
        if self.exclude:
            rec["exclude"] = [f.to_record() for f in self.exclude]
        return rec


@dataclass(frozen=True)
class Level:
    """A service circle: ``minutes`` (5, 10, 15) and the network walking distance ``walk_m`` (metres) the
    ``distance`` measure judges it by, each with its source."""

    minutes: int
    walk_m: float
    name_zh: str
    name_en: str
    sources: tuple[str, ...]

    def to_record(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict for the HTTP API."""
        return {
            "minutes": self.minutes,
            "walk_m": self.walk_m,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "sources": list(self.sources),
        }


@dataclass(frozen=True)
class Category:
    """A facility category.

    ``level_min`` is its service circle (5, 10 or 15 minutes). ``urban_walk_min`` and
    ``industrial_walk_min`` are thresholds in minutes on foot, ``rural_bike_min`` in minutes by
    bicycle. ``capacity_m2_per_100_households`` and ``min_area_m2`` are floor areas in m²;
    ``coverage_target`` is a share in (0, 1].
    """

    key: str
    name_zh: str
    name_en: str
    level_min: int
    urban_walk_min: float
    rural_bike_min: float
    industrial_walk_min: float
    focus: bool
    sources: tuple[str, ...]
    osm_tags: tuple[TagFilter, ...] = ()
    applies_to: tuple[str, ...] = COMMUNITY_TYPES
    capacity_m2_per_100_households: float | None = None
    min_area_m2: float | None = None
    coverage_target: float | None = None
    plan_target_count: int | None = None
    plan_target_year: int | None = None
    notes: str = ""
    #: other names users write for this category (Chinese and English), matched by :meth:`Catalog.resolve`
    aliases: tuple[str, ...] = ()
    #: serves mainly older residents: gap lists report uncovered residents aged 65+ (census share)
    serves_elderly: bool = False
    #: smallest site (land, m²) and narrowest clear width (m) a new facility needs; candidate sites
    #: below them are not offered (:mod:`circles.planning.suitability`)
    site_min_area_m2: float | None = None
    site_min_width_m: float | None = None
    #: network walking distance (m) of the ``distance`` measure for walking communities (urban,
    #: industrial): the category's own ``walk_m`` or its level's (``[[level]]`` tables); None without
    walk_m: float | None = None

    @property
    def thresholds_min(self) -> dict[str, float]:
        """``{community_type: threshold}`` in minutes (of the type's profile)."""
        return {ct: self.threshold_min(ct) for ct in COMMUNITY_TYPES}

    def threshold_min(self, community_type: str) -> float:
        """Travel-time threshold in minutes for ``community_type`` (urban, rural, industrial), by
        the profile :meth:`profile_for` names."""
        _check_community_type(community_type)
        return float(getattr(self, _THRESHOLD_FIELDS[community_type]))

    def threshold_s(self, community_type: str) -> float:
        """The same threshold in seconds."""
        return self.threshold_min(community_type) * 60.0

    def threshold_m(self, community_type: str) -> float:
        """Network walking distance threshold in metres for a walking ``community_type`` (urban,
        industrial) under the ``distance`` measure; :class:`InputError` for rural communities (they keep
        bicycle minutes) or a catalog without distances."""
        if judged_by(community_type, "distance") != "distance":
            raise InputError(
                f"{community_type} communities are judged in minutes by bicycle, not by distance"
            )
        if self.walk_m is None:
            raise InputError(
                f"category {self.key!r} has no walking distance: add [[level]] tables (minutes, walk_m) "
                "or walk_m to the catalog to use the distance measure"
            )
        return float(self.walk_m)

    def threshold(self, community_type: str, measure: str) -> tuple[str, float]:
        """``(unit, value)`` of the threshold of ``community_type`` in a plan of ``measure``: ``('m',
        metres)`` for walking communities under ``distance``, else ``('min', minutes)``."""
        if judged_by(community_type, check_measure(measure)) == "distance":
            return "m", self.threshold_m(community_type)
        return "min", self.threshold_min(community_type)

    def threshold_cost(self, community_type: str, measure: str) -> float:
        """The threshold in the units of the search that judges it: metres (``distance``, on the
        profile's 1 m/s twin) or seconds (``time``)."""
        unit, value = self.threshold(community_type, measure)
        return value if unit == "m" else value * 60.0

    @property
    def thresholds_m(self) -> dict[str, float]:
        """``{community_type: metres}`` of the walking community types under ``distance`` (empty without
        a walking distance)."""
        if self.walk_m is None:
            return {}
        return {ct: float(self.walk_m) for ct in COMMUNITY_TYPES if judged_by(ct, "distance") == "distance"}

    @staticmethod
    def profile_for(community_type: str) -> str:
        """Travel profile name for ``community_type``: ``walk`` (urban, industrial) or ``bike`` (rural)."""
        _check_community_type(community_type)
        return COMMUNITY_PROFILES[community_type]

    def applies(self, community_type: str) -> bool:
        """True when communities of this type must have the facility (a gap counts only then)."""
        _check_community_type(community_type)
        return community_type in self.applies_to

    @property
    def in_osm(self) -> bool:
        """True when OSM tag filters are defined for this category."""
        return bool(self.osm_tags)

    def matches(self, tags: Mapping[str, str]) -> bool:
        """True when an OSM feature with ``tags`` belongs to this category (any filter matches)."""
        return any(f.matches(tags) for f in self.osm_tags)

    def required_area_m2(self, households: float) -> float | None:
        """Floor area in m² required for ``households`` resident households by the capacity rule, or
        None when the category has no such rule."""
        if self.capacity_m2_per_100_households is None:
            return None
        return self.capacity_m2_per_100_households * households / 100.0

    def to_record(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict for the HTTP API."""
        return {
            "key": self.key,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "level_min": self.level_min,
            "thresholds_min": self.thresholds_min,
            "thresholds_m": self.thresholds_m,
            "profiles": {ct: COMMUNITY_PROFILES[ct] for ct in COMMUNITY_TYPES},
            "applies_to": list(self.applies_to),
            "focus": self.focus,
            "capacity_m2_per_100_households": self.capacity_m2_per_100_households,
            "min_area_m2": self.min_area_m2,
            "coverage_target": self.coverage_target,
            "plan_target_count": self.plan_target_count,
            "plan_target_year": self.plan_target_year,
            "osm_tags": [f.to_record() for f in self.osm_tags],
            "aliases": list(self.aliases),
            "serves_elderly": self.serves_elderly,
            "site_min_area_m2": self.site_min_area_m2,
            "site_min_width_m": self.site_min_width_m,
            "sources": list(self.sources),
            "notes": self.notes,
        }


@dataclass(frozen=True)
class Catalog:
    """The facility categories by key, in file order. Read-only mapping ``key -> Category``."""

    categories: tuple[Category, ...]
    path: Path | None = None
    #: the service circles with their walking distances (``[[level]]`` tables), ascending minutes
    level_table: tuple[Level, ...] = ()
    _by_key: Mapping[str, Category] = field(init=False, repr=False, compare=False)
    _by_name: Mapping[str, Category] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_key: dict[str, Category] = {}
        for c in self.categories:
            if c.key in by_key:
                raise DataFileError(f"{self.path or '<catalog>'}: category {c.key!r}: duplicate key")
            by_key[c.key] = c
        object.__setattr__(self, "_by_key", by_key)
        by_name: dict[str, Category] = {}
        for c in self.categories:  # keys first, then names, then aliases: earlier wins
            by_name.setdefault(_name_key(c.key), c)
        for c in self.categories:
            for name in (c.name_zh, c.name_en, *c.name_zh.split("/")):
                by_name.setdefault(_name_key(name), c)
        for c in self.categories:
            for name in c.aliases:
                by_name.setdefault(_name_key(name), c)
        object.__setattr__(self, "_by_name", by_name)

    def __getitem__(self, key: str) -> Category:
        return self.get(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_key)

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def keys(self) -> list[str]:
        """Category keys in file order."""
        return list(self._by_key)

    def values(self) -> list[Category]:
        """Categories in file order."""
        return list(self.categories)

    def items(self) -> list[tuple[str, Category]]:
        """``(key, Category)`` pairs in file order."""
        return list(self._by_key.items())

    def get(self, key: str) -> Category:
        """The category ``key``; :class:`UnknownCategoryError` lists the known keys."""
        try:
            return self._by_key[key]
        except KeyError:
            raise UnknownCategoryError(
                f"unknown facility category {key!r}; known categories: {', '.join(self._by_key)}"
            ) from None

    def resolve(self, name: str) -> Category:
        """The category a user names by key, Chinese or English name or an alias (case, spaces and
        full-width characters ignored): ``canteen``, ``社区食堂``, ``Community canteen``, ``食堂``.
        :class:`UnknownCategoryError` lists what is accepted."""
        found = self._by_name.get(_name_key(name)) if isinstance(name, str) else None
        if found is None:
            raise UnknownCategoryError(
                f"unknown facility category {name!r}; accepted: {self.accepted_names()}"
            )
        return found

    def accepted_names(self) -> str:
        """'canteen (社区食堂), park (公园绿地), …' for messages."""
        return ", ".join(f"{c.key} ({c.name_zh})" for c in self.categories)

    def level(self, minutes: int) -> Level:
        """The ``[[level]]`` table of the ``minutes`` circle; :class:`InputError` when there is none."""
        for lv in self.level_table:
            if lv.minutes == minutes:
                return lv
        raise InputError(f"the catalog has no [[level]] table for the {minutes}-minute circle")

    def level_threshold(self, minutes: int, community_type: str, measure: str) -> tuple[str, float]:
        """``(unit, value)`` of the ``minutes`` level for ``community_type`` in a plan of ``measure``:
        ``('m', level walk_m)`` for walking communities under ``distance``, else ``('min', minutes)``."""
        if judged_by(community_type, check_measure(measure)) == "distance":
            return "m", float(self.level(minutes).walk_m)
        return "min", float(minutes)

    def levels(self) -> tuple[int, ...]:
        """Distinct service-circle levels in use, minutes, ascending."""
        return tuple(sorted({c.level_min for c in self.categories}))

    def by_level(self, level_min: int) -> tuple[Category, ...]:
        """Categories of the service circle ``level_min`` (minutes), in file order."""
        return tuple(c for c in self.categories if c.level_min == level_min)

    def focus(self) -> tuple[Category, ...]:
        """The plans' focus categories, in file order."""
        return tuple(c for c in self.categories if c.focus)

    def matching(self, tags: Mapping[str, str]) -> tuple[Category, ...]:
        """Categories an OSM feature with ``tags`` belongs to (possibly several, possibly none)."""
        return tuple(c for c in self.categories if c.matches(tags))

    def to_records(self) -> list[dict[str, Any]]:
        """Plain JSON-serialisable dicts, one per category in file order, for the HTTP API."""
        return [c.to_record() for c in self.categories]

    def level_records(self) -> list[dict[str, Any]]:
        """The ``[[level]]`` tables as plain dicts (minutes, walk_m, names, sources)."""
        return [lv.to_record() for lv in self.level_table]


def _name_key(name: str) -> str:
    """Comparable form of a category name: NFKC (full-width to ASCII), lower case, no spaces, '-' as '_'."""
    text = unicodedata.normalize("NFKC", name).strip().lower()
    return re.sub(r"\s+", "", text).replace("-", "_")


def default_catalog_path() -> Path:
    """``catalog.toml`` in ``$CIRCLES_PROJECT_DATA``, else in the checkout's ``data/``."""
    env = os.environ.get("CIRCLES_PROJECT_DATA")
    data_dir = Path(env) if env else Path(__file__).resolve().parents[2] / "data"
    return data_dir / CATALOG_FILE


def load_catalog(path: Path | None = None) -> Catalog:
    """Read and validate the facility catalog (default :func:`default_catalog_path`).

    Raises :class:`DataFileError` naming the file and the category for a missing or malformed file,
    a missing or unknown field, a level not in 5/10/15, a threshold that is not a positive number of
    minutes, an unknown community type or a duplicate key.
    """
    path = Path(path) if path is not None else default_catalog_path()
    raw = read_toml(path)

    unknown = sorted(set(raw) - set(_TOP_LEVEL))
    if unknown:
        raise DataFileError(
            f"{path}: unknown top-level entries {unknown}; each category is a [[category]] table"
        )
    levels = _parse_levels(raw.get("level", []), path)
    tables = raw.get("category", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise DataFileError(f"{path}: 'category' must be [[category]] tables")
    if not tables:
        raise DataFileError(f"{path}: no [[category]] tables")

    categories: list[Category] = []
    seen: dict[str, int] = {}
    for i, table in enumerate(tables, start=1):
        cat = _parse_category(table, path, i)
        if cat.key in seen:
            raise DataFileError(
                f"{path}: category {cat.key!r}: duplicate key (tables {seen[cat.key]} and {i})"
            )
        seen[cat.key] = i
        categories.append(_with_level_distance(cat, levels))
    log.debug("loaded %d facility categories from %s", len(categories), path)
    return Catalog(tuple(categories), path=path, level_table=tuple(levels[m] for m in sorted(levels)))


def _with_level_distance(cat: Category, levels: Mapping[int, Level]) -> Category:
    """``cat`` with its level's walking distance unless it sets its own ``walk_m``."""
    if cat.walk_m is not None or cat.level_min not in levels:
        return cat
    return dataclasses.replace(cat, walk_m=float(levels[cat.level_min].walk_m))


def _parse_levels(tables: Any, path: Path) -> dict[int, Level]:
    """The ``[[level]]`` tables by minutes: minutes in 5/10/15 (each once), a positive ``walk_m``,
    names and sources."""
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise DataFileError(f"{path}: 'level' must be [[level]] tables")
    levels: dict[int, Level] = {}
    for i, t in enumerate(tables, start=1):

        def fail(msg: str, i: int = i) -> DataFileError:
            return DataFileError(f"{path}: level table {i}: {msg}")

        unknown = sorted(set(t) - set(_LEVEL_FIELDS))
        if unknown:
            raise fail(f"unknown field(s) {unknown}; fields: {', '.join(_LEVEL_FIELDS)}")
        minutes = t.get("minutes")
        if isinstance(minutes, bool) or minutes not in LEVELS_MIN or minutes in levels:
            raise fail(
                f"minutes must be one of {', '.join(map(str, LEVELS_MIN))}, each once (got {minutes!r})"
            )
        levels[int(minutes)] = Level(
            minutes=int(minutes),
            walk_m=checks.positive(t.get("walk_m"), "walk_m", fail),
            name_zh=str(t.get("name_zh", "")).strip(),
            name_en=str(t.get("name_en", "")).strip(),
            sources=checks.sources(t.get("sources"), fail),
        )
    return levels


# --- validation -------------------------------------------------------------------------------


def _parse_category(t: dict[str, Any], path: Path, index: int) -> Category:
    """One ``[[category]]`` table, checked field by field; errors name the file and the category."""
    key = t.get("key")
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise DataFileError(
            f"{path}: category table {index}: 'key' must be a string of lower case letters, digits "
            f"and '_' (got {key!r})"
        )

    def fail(msg: str) -> DataFileError:
        return DataFileError(f"{path}: category {key!r}: {msg}")

    checks.check_field_names(t, fail, COMMUNITY_PROFILES)
    for name in ("name_zh", "name_en"):
        if not isinstance(t[name], str) or not t[name].strip():
            raise fail(f"{name!r} must be a non-empty string")
    level = t["level_min"]
    if isinstance(level, bool) or level not in LEVELS_MIN:
        raise fail(f"level_min must be one of {', '.join(map(str, LEVELS_MIN))} (got {level!r})")
    thresholds = {ct: checks.positive(t[name], name, fail) for ct, name in _THRESHOLD_FIELDS.items()}
    if not isinstance(t["focus"], bool):
        raise fail(f"'focus' must be true or false (got {t['focus']!r})")
    osm_tags = t.get("osm_tags", [])
    if not isinstance(osm_tags, list):
        raise fail("'osm_tags' must be a list of {key=..., values=[...]} tables")
    notes = t.get("notes", "")
    if not isinstance(notes, str):
        raise fail("'notes' must be a string")
    return Category(
        key=key,
        name_zh=t["name_zh"].strip(),
        name_en=t["name_en"].strip(),
        level_min=int(level),
        urban_walk_min=thresholds["urban"],
        rural_bike_min=thresholds["rural"],
        industrial_walk_min=thresholds["industrial"],
        focus=t["focus"],
        sources=checks.sources(t["sources"], fail),
        osm_tags=tuple(_parse_filter(f, "osm_tags", fail) for f in osm_tags),
        applies_to=checks.applies_to(t.get("applies_to", list(COMMUNITY_TYPES)), fail, COMMUNITY_TYPES),
        capacity_m2_per_100_households=checks.optional_positive(t, "capacity_m2_per_100_households", fail),
        min_area_m2=checks.optional_positive(t, "min_area_m2", fail),
        coverage_target=checks.coverage_target(t.get("coverage_target"), fail),
        plan_target_count=checks.optional_int(t, "plan_target_count", fail),
        plan_target_year=checks.optional_int(t, "plan_target_year", fail),
        notes=notes.strip(),
        aliases=checks.aliases(t.get("aliases", []), fail),
        serves_elderly=checks.flag(t.get("serves_elderly", False), "serves_elderly", fail),
        site_min_area_m2=checks.optional_positive(t, "site_min_area_m2", fail),
        site_min_width_m=checks.optional_positive(t, "site_min_width_m", fail),
        walk_m=checks.optional_positive(t, "walk_m", fail),
    )


def _parse_filter(f: Any, where: str, fail: checks.Fail) -> TagFilter:
    if not isinstance(f, dict) or not isinstance(f.get("key"), str) or not f["key"]:
        raise fail(f'each entry of {where} needs key = "..." (got {f!r})')
    extra = set(f) - {"key", "values", "require", "exclude"}
    if extra:
        raise fail(f"{where}: unknown tag-filter field(s) {sorted(extra)}")
    values = f.get("values", [])
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise fail(f"{where}: 'values' of filter {f['key']!r} must be a list of strings ([] = any value)")
    sub: dict[str, tuple[TagFilter, ...]] = {}
    for name in ("require", "exclude"):
        items = f.get(name, [])
        if not isinstance(items, list):
            raise fail(f"{where}: {name!r} of filter {f['key']!r} must be a list of filters")
        sub[name] = tuple(_parse_filter(x, f"{where}.{name}", fail) for x in items)
    return TagFilter(key=f["key"], values=tuple(values), require=sub["require"], exclude=sub["exclude"])
