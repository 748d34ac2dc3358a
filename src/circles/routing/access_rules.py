"""Country-aware default access: who may walk or cycle on a way that carries no access tag.

The rule sets live in ``data/access_rules.toml`` (the OSM wiki page "OSM tags for routing/Access
restrictions", with its sources). A network picks one by country: a region's ``country`` in
``regions.toml``, an explicit ``country`` argument, or a coarse bounding-box lookup on the extract's
coordinates (WGS84 degrees), falling back to the world default. Explicit tags on a way (``foot=*``,
``bicycle=*``, ``access=*``, ``sidewalk=*``) always win: see :func:`circles.routing.network.way_access`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..config import project_data_dir, read_toml
from ..errors import DataFileError, InputError

__all__ = [
    "check_country",
    "OVERRIDE_KEYS",
    "AccessRules",
    "CrossingDelays",
    "access_rules",
    "country_for_lonlat",
    "crossing_delays",
    "load_rule_sets",
    "override_pairs",
]

log = logging.getLogger(__name__)

#: Keys of a rule set (and of a region's ``[<region>.access]`` overrides) that list highway values.
OVERRIDE_KEYS = ("foot_yes", "foot_no", "bicycle_yes", "bicycle_no")


@dataclass(frozen=True)
class AccessRules:
    """Default access of one country: ``foot`` and ``bicycle`` are the highway values usable without a
    tag; ``key`` is ``"world"`` or an ISO 3166-1 alpha-2 code; ``overridden`` says a region changed rows."""

    key: str
    name: str
    foot: frozenset[str]
    bicycle: frozenset[str]
    overridden: bool = False

    def allows(self, mode: str, highway: str) -> bool:
        """Whether ``mode`` (``foot`` or ``bicycle``) may use ``highway=<highway>`` by default; a
        ``<value>_link`` takes the rule of ``<value>`` unless listed itself."""
        allowed = self.foot if mode == "foot" else self.bicycle
        if highway in allowed:
            return True
        return highway.endswith("_link") and highway[: -len("_link")] in allowed

    @property
    def label(self) -> str:
        return f"{self.key} ({self.name}{', region overrides' if self.overridden else ''})"


@dataclass(frozen=True)
class CrossingDelays:
    """Seconds added where a walk crosses a road (see ``[crossings]`` in ``access_rules.toml``):
    ``signal_s`` at a node tagged ``highway|crossing=traffic_signals``, ``major_road_s`` where it crosses
    a road of ``major_highways`` (and their links)."""

    signal_s: float
    major_road_s: float
    major_highways: frozenset[str]

    def is_major(self, highway: str) -> bool:
        base = highway[: -len("_link")] if highway.endswith("_link") else highway
        return base in self.major_highways


def _rules_path(path: Path | None) -> Path:
    return path or project_data_dir() / "access_rules.toml"


def _read(path: Path) -> dict[str, Any]:
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError:
        mtime_ns = -1  # read_toml reports the missing file
    return _read_cached(str(path), mtime_ns)


@lru_cache(maxsize=4)
def _read_cached(path_text: str, mtime_ns: int) -> dict[str, Any]:
    return read_toml(Path(path_text))


def _highways(path: Path, key: str, body: Mapping[str, Any], field: str) -> set[str]:
    values = body.get(field, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise DataFileError(f"{path}: rule set {key!r}: {field} must be a list of highway values")
    return set(values)


def load_rule_sets(path: Path | None = None) -> dict[str, AccessRules]:
    """Every rule set of ``access_rules.toml`` (``base`` chains resolved), by key (parsed once per file
    version)."""
    path = _rules_path(path)
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError:
        mtime_ns = -1
    return dict(_rule_sets(str(path), mtime_ns))


@lru_cache(maxsize=4)
def _rule_sets(path_text: str, mtime_ns: int) -> dict[str, AccessRules]:
    path = Path(path_text)
    raw = _read_cached(path_text, mtime_ns).get("rule_sets", {})
    out: dict[str, AccessRules] = {}

    def resolve(key: str, seen: tuple[str, ...] = ()) -> AccessRules:
        if key in out:
            return out[key]
        if key not in raw or key in seen:
            raise DataFileError(f"{path}: rule set {key!r} is unknown or its base chain loops")
        body = raw[key]
        base = resolve(body["base"], (*seen, key)) if "base" in body else None
        foot = set(base.foot) if base else set()
        bike = set(base.bicycle) if base else set()
        foot = (foot | _highways(path, key, body, "foot_yes")) - _highways(path, key, body, "foot_no")
        bike = (bike | _highways(path, key, body, "bicycle_yes")) - _highways(path, key, body, "bicycle_no")
        out[key] = AccessRules(key, str(body.get("name", key)), frozenset(foot), frozenset(bike))
        return out[key]

    for key in raw:
        resolve(key)
    return out


def override_pairs(overrides: Mapping[str, Iterable[str]]) -> tuple[tuple[str, str], ...]:
    """``{"foot_yes": ["cycleway"]}`` (a region's ``[<region>.access]`` table) as sorted
    ``(key, highway)`` pairs, hashable; :class:`DataFileError` on an unknown key."""
    bad = set(overrides) - set(OVERRIDE_KEYS)
    if bad:
        raise DataFileError(f"access overrides: unknown key(s) {sorted(bad)}; use {', '.join(OVERRIDE_KEYS)}")
    return tuple(sorted((k, str(h)) for k, values in overrides.items() for h in values))


def _apply(rules: AccessRules, pairs: tuple[tuple[str, str], ...]) -> AccessRules:
    foot, bike = set(rules.foot), set(rules.bicycle)
    for key, highway in pairs:
        if key not in OVERRIDE_KEYS:
            raise DataFileError(f"access override {key!r}: use one of {', '.join(OVERRIDE_KEYS)}")
        target = foot if key.startswith("foot") else bike
        (target.add if key.endswith("_yes") else target.discard)(highway)
    return AccessRules(rules.key, rules.name, frozenset(foot), frozenset(bike), overridden=True)


def access_rules(
    country: str | None = None,
    overrides: tuple[tuple[str, str], ...] = (),
    *,
    path: Path | None = None,
) -> AccessRules:
    """The rule set of ``country`` (ISO 3166-1 alpha-2, case-insensitive; ``None``/``""``: the default),
    the default one when the country has none, with a region's ``overrides`` (pairs from
    :func:`override_pairs`) applied."""
    path = _rules_path(path)
    sets = load_rule_sets(path)
    default = str(_read(path).get("default_rule_set", "world"))
    key = (country or "").upper() or default
    if key not in sets:
        log.info("no access rule set for country %r: using %r", key, default)
        key = default
    rules = sets[key]
    return _apply(rules, overrides) if overrides else rules


def check_country(country: str | None) -> str | None:
    """``country`` as an upper-case ISO 3166-1 alpha-2 code (None/empty: None); anything else is an
    :class:`InputError`. A code without its own rule set uses the default one (logged when used)."""
    if not country:
        return None
    code = country.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        known = ", ".join(k for k in sorted(load_rule_sets()) if len(k) == 2)
        raise InputError(f"--country {country!r}: give an ISO 3166-1 alpha-2 code such as {known}")
    return code


def country_for_lonlat(lon: float, lat: float, *, path: Path | None = None) -> str | None:
    """The country (ISO code) of the smallest box in ``[countries]`` holding (lon, lat) in degrees, or
    ``None``. Coarse: boxes overlap neighbours (documented in the data file)."""
    boxes = _read(_rules_path(path)).get("countries", {})
    hits = []
    for code, body in boxes.items():
        x0, y0, x1, y1 = (float(v) for v in body["bbox"])
        if x0 <= lon <= x1 and y0 <= lat <= y1:
            hits.append(((x1 - x0) * (y1 - y0), code))
    return min(hits)[1] if hits else None


def crossing_delays(enabled: bool | None = None, *, path: Path | None = None) -> CrossingDelays | None:
    """The ``[crossings]`` delays when ``enabled`` (``None``: the file's ``enabled``), else ``None``."""
    body = _read(_rules_path(path)).get("crossings", {})
    on = bool(body.get("enabled", False)) if enabled is None else enabled
    if not on:
        return None
    try:
        return CrossingDelays(
            signal_s=float(body["signal_s"]),
            major_road_s=float(body["major_road_s"]),
            major_highways=frozenset(str(h) for h in body["major_highways"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise DataFileError(f"[crossings] needs signal_s, major_road_s and major_highways ({e})") from e
