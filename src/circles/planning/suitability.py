"""Which candidate sites can take a new facility, and why not: the rules of ``data/site_rules.toml``.

Each rule (:class:`SiteRule`) names conditions on a candidate — its kind, OSM tags, name, size, clear
width against the category's needs (``site_min_area_m2`` / ``site_min_width_m`` in the catalog), the
roads around it (an interchange ramp within a few metres; an area enclosed on every side by major roads
and ramps: a traffic island or an interchange loop) — and a reason in Chinese and English. A candidate
that meets every condition of any rule is not usable; :func:`assess_sites` returns per candidate
``usable``, a bilingual ``reason`` (``中文 / English``; also for usable sites) and the ids of the rules
that fired. The user's own verdicts win (:meth:`Verdicts.with_user`).

Geometry is in a metric CRS (metres); :func:`site_dimensions` measures sites there.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from ..catalog import Category, TagFilter
from ..config import read_toml
from ..errors import DataFileError

__all__ = [
    "RULES_FILE",
    "USABLE_REASON",
    "RoadTest",
    "SiteFacts",
    "SiteRule",
    "SiteRules",
    "Verdicts",
    "assess_sites",
    "default_rules_path",
    "load_site_rules",
    "rule_counts_text",
    "site_dimensions",
]

#: File name of the rules inside the project data directory.
RULES_FILE = "site_rules.toml"
#: Reason of a usable site (Chinese, English).
USABLE_REASON = ("可用：符合全部适宜性规则", "usable: meets every suitability rule")
_UNKNOWN_SIZE = ("面积未知，请现场核实", "size unknown: check on site")

_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_RULE_FIELDS = {
    "id",
    "reason_zh",
    "reason_en",
    "source",
    "kinds",
    "tags",
    "name_contains",
    "area_above_m2",
    "area_unknown",
    "near_highway",
    "enclosed_by_highway",
    "below_category_area",
    "below_category_width",
}
_CONDITIONS = _RULE_FIELDS - {"id", "reason_zh", "reason_en", "source", "kinds"}


# --- the rules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoadTest:
    """Roads of the ``highway`` classes, and the test's number: ``limit`` is a distance in m
    (``near_highway``) or an enclosed area in m² (``enclosed_by_highway``)."""

    highway: frozenset[str]
    limit: float


@dataclass(frozen=True)
class SiteRule:
    """One rule: a site meeting every condition given is not usable, for ``reason_zh`` /
    ``reason_en`` (templates filled per site, see the rules file)."""

    id: str
    reason_zh: str
    reason_en: str
    source: str
    kinds: tuple[str, ...] = ()
    tags: tuple[TagFilter, ...] = ()
    name_contains: tuple[str, ...] = ()
    area_above_m2: float | None = None
    area_unknown: bool = False
    near_highway: RoadTest | None = None
    enclosed_by_highway: RoadTest | None = None
    below_category_area: bool = False
    below_category_width: bool = False

    @property
    def by_category(self) -> bool:
        """Whether the rule compares the site with the category's needs."""
        return self.below_category_area or self.below_category_width


@dataclass(frozen=True)
class SiteRules:
    """The rules, in file order."""

    rules: tuple[SiteRule, ...]
    path: Path | None = None

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.rules]

    @property
    def needs_streets(self) -> bool:
        """Whether any rule looks at the roads around a site."""
        return any(r.near_highway or r.enclosed_by_highway for r in self.rules)


def default_rules_path() -> Path:
    """``site_rules.toml`` in ``$CIRCLES_PROJECT_DATA``, else in the checkout's ``data/``."""
    env = os.environ.get("CIRCLES_PROJECT_DATA")
    data_dir = Path(env) if env else Path(__file__).resolve().parents[3] / "data"
    return data_dir / RULES_FILE


def load_site_rules(path: str | Path | None = None) -> SiteRules:
    """Read and check the rules (default :func:`default_rules_path`). :class:`DataFileError` names the
    file and the rule for a missing file, bad TOML, an unknown or missing field, a rule without
    conditions, a bad number or a duplicate id."""
    path = Path(path) if path is not None else default_rules_path()
    raw = read_toml(path)
    unknown = sorted(set(raw) - {"schema_version", "rule"})
    if unknown:
        raise DataFileError(f"{path}: unknown top-level entries {unknown}; each rule is a [[rule]] table")
    tables = raw.get("rule", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise DataFileError(f"{path}: 'rule' must be [[rule]] tables")
    rules = tuple(_parse_rule(t, path, i) for i, t in enumerate(tables, start=1))
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise DataFileError(f"{path}: rule {r.id!r}: duplicate id")
        seen.add(r.id)
    return SiteRules(rules, path)


def _parse_rule(t: dict[str, Any], path: Path, index: int) -> SiteRule:
    rid = t.get("id")
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        raise DataFileError(f"{path}: rule {index}: 'id' must be lower case letters, digits and '_'")

    def fail(msg: str) -> DataFileError:
        return DataFileError(f"{path}: rule {rid!r}: {msg}")

    extra = sorted(set(t) - _RULE_FIELDS)
    if extra:
        raise fail(f"unknown field(s) {extra}")
    for name in ("reason_zh", "reason_en", "source"):
        if not isinstance(t.get(name), str) or not t[name].strip():
            raise fail(f"{name!r} must be a non-empty string")
    if not set(t) & _CONDITIONS:
        raise fail(f"no condition: give one of {sorted(_CONDITIONS)}")
    return SiteRule(
        id=rid,
        reason_zh=t["reason_zh"].strip(),
        reason_en=t["reason_en"].strip(),
        source=t["source"].strip(),
        kinds=_strings(t.get("kinds", []), "kinds", fail),
        tags=tuple(_tag_filter(f, fail) for f in _list(t.get("tags", []), "tags", fail)),
        name_contains=_strings(t.get("name_contains", []), "name_contains", fail),
        area_above_m2=_number(t.get("area_above_m2"), "area_above_m2", fail),
        area_unknown=_flag(t.get("area_unknown", False), "area_unknown", fail),
        near_highway=_road_test(t.get("near_highway"), "near_highway", "within_m", fail),
        enclosed_by_highway=_road_test(
            t.get("enclosed_by_highway"), "enclosed_by_highway", "max_face_m2", fail
        ),
        below_category_area=_flag(t.get("below_category_area", False), "below_category_area", fail),
        below_category_width=_flag(t.get("below_category_width", False), "below_category_width", fail),
    )


def _list(value: Any, name: str, fail: Any) -> list[Any]:
    if not isinstance(value, list):
        raise fail(f"{name!r} must be a list")
    return value


def _strings(value: Any, name: str, fail: Any) -> tuple[str, ...]:
    items = _list(value, name, fail)
    if not all(isinstance(v, str) and v.strip() for v in items):
        raise fail(f"{name!r} must be a list of non-empty strings")
    return tuple(v.strip() for v in items)


def _number(value: Any, name: str, fail: Any) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise fail(f"{name!r} must be a number >= 0 (got {value!r})")
    return float(value)


def _flag(value: Any, name: str, fail: Any) -> bool:
    if not isinstance(value, bool):
        raise fail(f"{name!r} must be true or false (got {value!r})")
    return value


def _road_test(value: Any, name: str, limit_name: str, fail: Any) -> RoadTest | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"highway", limit_name}:
        raise fail(f"{name!r} must be {{highway = [...], {limit_name} = number}}")
    limit = _number(value[limit_name], f"{name}.{limit_name}", fail)
    return RoadTest(frozenset(_strings(value["highway"], f"{name}.highway", fail)), float(limit or 0.0))


def _tag_filter(f: Any, fail: Any) -> TagFilter:
    """A tag filter in the catalog's form: ``{key, values, require, exclude}``."""
    if not isinstance(f, dict) or not isinstance(f.get("key"), str) or not f["key"]:
        raise fail(f'each tag filter needs key = "..." (got {f!r})')
    extra = set(f) - {"key", "values", "require", "exclude"}
    if extra:
        raise fail(f"unknown tag-filter field(s) {sorted(extra)}")
    return TagFilter(
        key=f["key"],
        values=_strings(f.get("values", []), "values", fail),
        require=tuple(_tag_filter(x, fail) for x in _list(f.get("require", []), "require", fail)),
        exclude=tuple(_tag_filter(x, fail) for x in _list(f.get("exclude", []), "exclude", fail)),
    )


# --- sites measured ------------------------------------------------------------------------------


def site_dimensions(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per site (geometries in a metric CRS): ``width_m`` and ``length_m`` (the short and long side of
    the minimum rotated rectangle around it) and ``clear_width_m`` (the diameter of the largest
    circle inside it: the widest building that can fit is no wider); NaN for points."""
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    width, length, clear = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    poly = np.isin(shapely.get_type_id(geoms), (3, 6)) & ~shapely.is_empty(geoms) if n else np.zeros(0, bool)
    if not poly.any():
        return width, length, clear
    rect = shapely.minimum_rotated_rectangle(geoms[poly])
    for i, r in zip(np.flatnonzero(poly), rect):
        xy = shapely.get_coordinates(r)
        sides = np.hypot(*np.diff(xy[:3], axis=0).T) if len(xy) >= 3 else np.array([0.0, shapely.length(r)])
        width[i], length[i] = float(sides.min()), float(sides.max())
    clear[poly] = 2.0 * shapely.length(shapely.maximum_inscribed_circle(geoms[poly]))
    return width, length, clear


@dataclass(frozen=True)
class SiteFacts:
    """What the rules look at, per candidate: ``kind``, ``name``, ``area_m2`` (NaN unknown),
    ``clear_width_m`` (NaN for points), OSM ``tags`` and the geometry in a metric CRS."""

    kind: np.ndarray
    name: np.ndarray
    area_m2: np.ndarray
    clear_width_m: np.ndarray
    tags: list[dict[str, str]]
    geoms: np.ndarray

    @classmethod
    def from_frame(cls, frame: gpd.GeoDataFrame, clear_width_m: np.ndarray) -> SiteFacts:
        """From a candidate table in a metric CRS (``tags`` as JSON text, empty for none)."""
        tags = [_tags(t) for t in frame["tags"]] if "tags" in frame else [{} for _ in range(len(frame))]
        return cls(
            kind=frame["kind"].astype(str).to_numpy(),
            name=frame["name"].fillna("").astype(str).to_numpy(),
            area_m2=frame["area_m2"].to_numpy(dtype=float),
            clear_width_m=np.asarray(clear_width_m, dtype=float),
            tags=tags,
            geoms=frame.geometry.to_numpy(),
        )


def _tags(text: object) -> dict[str, str]:
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


# --- verdicts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdicts:
    """Per candidate: ``usable``, the bilingual ``reason`` (``中文 / English``) and ``rules`` (ids of
    the rules that fired, ``', '``-joined; ``user`` when the user decided)."""

    usable: np.ndarray
    reason: np.ndarray
    rules: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)

    def with_user(self, user_usable: np.ndarray, user_reason: Sequence[str]) -> Verdicts:
        """The user's verdicts (1.0 usable, 0.0 not, NaN: keep the rules') replace the rules'; the
        reason says so and names the rules a forced site overrides."""
        given = np.isfinite(np.asarray(user_usable, dtype=float))
        if not given.any():
            return self
        usable, reason, rules = self.usable.copy(), self.reason.copy(), self.rules.copy()
        for i in (int(j) for j in np.flatnonzero(given)):
            ok = bool(user_usable[i])
            why = str(user_reason[i] or "").strip()
            zh = ("用户指定可用" if ok else "用户指定不可用") + (f"：{why}" if why else "")
            en = ("set usable by the user" if ok else "set not usable by the user") + (
                f": {why}" if why else ""
            )
            if ok and not usable[i] and rules[i]:
                zh += f"（不按规则 {rules[i]}）"
                en += f" (overriding rules {rules[i]})"
            usable[i], reason[i] = ok, f"{zh} / {en}"
            rules[i] = "user" + (f", {rules[i]}" if rules[i] else "")
        return replace(self, usable=usable, reason=reason, rules=rules)

    def exclude(self, mask: np.ndarray, rule_id: str, zh: str, en: str) -> Verdicts:
        """Usable sites in ``mask`` made unusable by a check outside the rules file (e.g. no street
        near), with its reason."""
        hit = self.usable & np.asarray(mask, bool)
        if not hit.any():
            return self
        usable, reason, rules = self.usable.copy(), self.reason.copy(), self.rules.copy()
        usable[hit] = False
        reason[hit] = f"{zh} / {en}"
        rules[hit] = rule_id
        counts = dict(self.counts)
        counts[rule_id] = counts.get(rule_id, 0) + int(hit.sum())
        return replace(self, usable=usable, reason=reason, rules=rules, counts=counts)


def assess_sites(
    facts: SiteFacts,
    rules: SiteRules,
    category: Category,
    streets: gpd.GeoDataFrame | None = None,
    *,
    category_rules: bool = True,
) -> Verdicts:
    """Every rule on every candidate. ``streets``: OSM ways with a ``highway`` column in the same
    metric CRS as ``facts`` (None: the road rules cannot fire); ``category_rules`` false skips the
    rules comparing sites with the category's size and width needs."""
    n = len(facts.kind)
    hits: list[tuple[SiteRule, np.ndarray, dict[str, np.ndarray]]] = []
    for rule in rules.rules:
        if rule.by_category and not category_rules:
            continue
        mask, values = _rule_hits(rule, facts, category, streets)
        if mask.any():
            hits.append((rule, mask, values))
    zh: list[list[str]] = [[] for _ in range(n)]
    en: list[list[str]] = [[] for _ in range(n)]
    ids: list[list[str]] = [[] for _ in range(n)]
    counts: dict[str, int] = {}
    for rule, mask, values in hits:
        counts[rule.id] = int(mask.sum())
        for i in (int(j) for j in np.flatnonzero(mask)):
            row = {k: v[i] for k, v in values.items()}
            zh[i].append(rule.reason_zh.format_map(row))
            en[i].append(rule.reason_en.format_map(row))
            ids[i].append(rule.id)
    usable = np.array([not r for r in ids], dtype=bool)
    reason = np.empty(n, dtype=object)
    for i in range(n):
        if ids[i]:
            reason[i] = "；".join(zh[i]) + " / " + "; ".join(en[i])
        elif np.isfinite(facts.area_m2[i]):
            reason[i] = " / ".join(USABLE_REASON)
        else:
            reason[i] = f"{USABLE_REASON[0]}（{_UNKNOWN_SIZE[0]}） / {USABLE_REASON[1]} ({_UNKNOWN_SIZE[1]})"
    rule_ids = np.array([", ".join(r) for r in ids], dtype=object)
    return Verdicts(usable, reason, rule_ids, counts)


def _rule_hits(
    rule: SiteRule, facts: SiteFacts, cat: Category, streets: gpd.GeoDataFrame | None
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Which sites meet every condition of ``rule``, and the values its reason names."""
    n = len(facts.kind)
    area = facts.area_m2
    values: dict[str, np.ndarray] = {
        "area_m2": _fmt(area, "{:,.0f}"),
        "width_m": _fmt(facts.clear_width_m, "{:.1f}"),
        "name": facts.name,
        "category": np.full(n, cat.name_en.lower(), dtype=object),
        "category_zh": np.full(n, cat.name_zh, dtype=object),
    }
    mask = np.ones(n, bool)
    if rule.kinds:
        mask &= np.isin(facts.kind, rule.kinds)
    if rule.tags:
        mask &= np.array([any(f.matches(t) for f in rule.tags) for t in facts.tags], dtype=bool)
    if rule.name_contains:
        mask &= np.array([any(s in nm for s in rule.name_contains) for nm in facts.name], dtype=bool)
    if rule.area_above_m2 is not None:
        mask &= np.isfinite(area) & (area > rule.area_above_m2)
        values["limit_m2"] = np.full(n, f"{rule.area_above_m2:,.0f}", dtype=object)
    if rule.area_unknown:
        mask &= ~np.isfinite(area)
    if rule.below_category_area:
        need = cat.site_min_area_m2 or cat.min_area_m2
        mask &= np.isfinite(area) & (area < need) if need else np.zeros(n, bool)
        values["min_area_m2"] = np.full(n, f"{need or 0:,.0f}", dtype=object)
    if rule.below_category_width:
        need_w = cat.site_min_width_m
        w = facts.clear_width_m
        mask &= np.isfinite(w) & (w < need_w) if need_w else np.zeros(n, bool)
        values["min_width_m"] = np.full(n, f"{need_w or 0:g}", dtype=object)
    if rule.near_highway is not None and mask.any():
        dist, cls = _nearest_road(facts.geoms, streets, rule.near_highway)
        mask &= dist <= rule.near_highway.limit
        values["dist_m"], values["highway"] = _fmt(dist, "{:.0f}"), cls
    if rule.enclosed_by_highway is not None and mask.any():
        face = _enclosing_face_m2(facts.geoms, streets, rule.enclosed_by_highway.highway)
        mask &= face <= rule.enclosed_by_highway.limit
        values["face_m2"] = _fmt(face, "{:,.0f}")
    return mask, values


def _fmt(values: np.ndarray, spec: str) -> np.ndarray:
    return np.array([spec.format(v) if np.isfinite(v) else "?" for v in values], dtype=object)


def _roads(streets: gpd.GeoDataFrame | None, classes: frozenset[str]) -> gpd.GeoDataFrame | None:
    if streets is None or not len(streets):
        return None
    sub = streets[streets["highway"].isin(classes)]
    return sub if len(sub) else None


def _nearest_road(
    geoms: np.ndarray, streets: gpd.GeoDataFrame | None, test: RoadTest
) -> tuple[np.ndarray, np.ndarray]:
    """Per site, the distance (m) to the nearest road of the test's classes within its distance (inf
    when none) and that road's class."""
    n = len(geoms)
    dist, cls = np.full(n, np.inf), np.full(n, "", dtype=object)
    roads = _roads(streets, test.highway)
    if roads is None or n == 0:
        return dist, cls
    lines = roads.geometry.to_numpy()
    site_i, road_i = shapely.STRtree(lines).query(geoms, predicate="dwithin", distance=test.limit)
    if len(site_i):
        d = shapely.distance(geoms[site_i], lines[road_i])
        hw = roads["highway"].to_numpy()
        for s, r, v in zip(site_i, road_i, d):
            if v < dist[s]:
                dist[s], cls[s] = v, hw[r]
    return dist, cls


def _enclosing_face_m2(
    geoms: np.ndarray, streets: gpd.GeoDataFrame | None, classes: frozenset[str]
) -> np.ndarray:
    """Per site, the area (m²) of the smallest area enclosed on every side by roads of ``classes``
    that holds the site's representative point (inf when none does)."""
    out = np.full(len(geoms), np.inf)
    roads = _roads(streets, classes)
    if roads is None or not len(geoms):
        return out
    noded = shapely.union_all(roads.geometry.to_numpy())
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    if not len(faces):
        return out
    rep = shapely.point_on_surface(geoms)
    site_i, face_i = shapely.STRtree(faces).query(rep, predicate="within")
    areas = shapely.area(faces)
    np.minimum.at(out, site_i, areas[face_i])
    return out


def rule_counts_text(counts: Mapping[str, int]) -> str:
    """'interchange 3, private_garden 2' for notes."""
    return ", ".join(f"{k} {v}" for k, v in counts.items())
