"""Checks of the catalog's TOML tables (:mod:`circles.catalog`): field names, numbers, flags, lists.

Each check takes the value and ``fail``, which makes the :class:`~circles.errors.DataFileError` naming the
file and the table (``fail(msg)``); it returns the value as the catalog stores it. Imported by module
name (``from . import _catalog_checks as checks``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import DataFileError

#: Makes the error of one table: ``fail("message")``.
Fail = Callable[[str], DataFileError]

#: A threshold field: ``<community type>_<walk|bike>_min``.
THRESHOLD_RE = re.compile(r"^([a-z]+)_(walk|bike)_min$")
#: Fields a ``[[category]]`` table may leave out.
OPTIONAL = (
    "osm_tags",
    "applies_to",
    "capacity_m2_per_100_households",
    "min_area_m2",
    "coverage_target",
    "plan_target_count",
    "plan_target_year",
    "notes",
    "aliases",
    "serves_elderly",
    "site_min_area_m2",
    "site_min_width_m",
    "walk_m",
)


def threshold_fields(profiles: Mapping[str, str]) -> dict[str, str]:
    """The threshold field of each community type (``urban_walk_min`` …) from type -> travel profile."""
    return {ct: f"{ct}_{p}_min" for ct, p in profiles.items()}


def flag(value: Any, name: str, fail: Fail) -> bool:
    if not isinstance(value, bool):
        raise fail(f"{name!r} must be true or false (got {value!r})")
    return value


def aliases(aliases: Any, fail: Fail) -> tuple[str, ...]:
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise fail("'aliases' must be a list of non-empty strings")
    return tuple(a.strip() for a in aliases)


def check_field_names(t: dict[str, Any], fail: Fail, profiles: Mapping[str, str]) -> None:
    """Every field of a ``[[category]]`` table ``t`` known (threshold fields of a wrong profile get a
    specific hint; ``profiles``: community type -> travel profile); required ones present."""
    fields = threshold_fields(profiles)
    required = ("key", "name_zh", "name_en", "level_min", *fields.values(), "focus", "sources")
    types = tuple(profiles)
    for name in t:
        if name in required or name in OPTIONAL:
            continue
        m = THRESHOLD_RE.match(name)
        if m and m.group(1) not in profiles:
            raise fail(
                f"unknown community type {m.group(1)!r} in {name!r}; known types: "
                f"{', '.join(types)} (fields {', '.join(fields.values())})"
            )
        if m:
            raise fail(
                f"{name!r}: {m.group(1)} communities use the {profiles[m.group(1)]!r} "
                f"profile; the field is {fields[m.group(1)]!r}"
            )
        raise fail(f"unknown field {name!r}")
    missing = [name for name in required if name not in t]
    if missing:
        raise fail(f"missing required field(s): {', '.join(missing)}")


def sources(sources: Any, fail: Fail) -> tuple[str, ...]:
    if isinstance(sources, str):
        sources = [sources]
    if (
        not isinstance(sources, list)
        or not sources
        or not all(isinstance(s, str) and s.strip() for s in sources)
    ):
        raise fail("'sources' must be a non-empty string or list of strings")
    return tuple(s.strip() for s in sources)


def applies_to(applies_to: Any, fail: Fail, types: Sequence[str]) -> tuple[str, ...]:
    """The community ``types`` (in their order) a category applies to, from its ``applies_to`` list."""
    if not isinstance(applies_to, list) or not applies_to:
        raise fail("'applies_to' must be a non-empty list of community types")
    for ct in applies_to:
        if ct not in types:
            raise fail(f"unknown community type {ct!r} in applies_to; known types: {', '.join(types)}")
    return tuple(ct for ct in types if ct in applies_to)


def coverage_target(value: Any, fail: Fail) -> float | None:
    if value is None:
        return None
    share = positive(value, "coverage_target", fail)
    if share > 1:
        raise fail(f"coverage_target is a share in (0, 1] (got {value!r})")
    return share


def positive(value: Any, name: str, fail: Fail) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(f"{name!r} must be a number (got {value!r})")
    if not math.isfinite(value) or value <= 0:
        raise fail(f"{name!r} must be positive (got {value!r})")
    return float(value)


def optional_positive(t: dict[str, Any], name: str, fail: Fail) -> float | None:
    return None if t.get(name) is None else positive(t[name], name, fail)


def optional_int(t: dict[str, Any], name: str, fail: Fail) -> int | None:
    value = t.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise fail(f"{name!r} must be a positive integer (got {value!r})")
    return value
