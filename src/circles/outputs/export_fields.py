"""Field names and meanings of the exports: the readable 10-character DBF names of a Shapefile
(:func:`shapefile_field_names`), what each field means (:func:`field_description`), its Chinese label
(:func:`field_label_zh`) and the ``fields`` table (layer, short name, full name, Chinese label, type,
description) written beside the layers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import geopandas as gpd
import pandas as pd

from ..catalog import Catalog

__all__ = [
    "ABBREVIATIONS",
    "CATEGORY_CODES",
    "CATEGORY_SUFFIXES",
    "FIELD_DOCS",
    "FIELD_LABELS_ZH",
    "SHORT_NAMES",
    "SHP_FIELD_LEN",
    "category_code",
    "field_description",
    "field_label_zh",
    "fields_table",
    "shapefile_field_names",
    "type_name",
]

#: Longest DBF field name, characters.
SHP_FIELD_LEN = 10

#: Short codes of the catalog's categories in field names (``canteen_share`` -> ``cnt_share``); a
#: category not listed gets :func:`category_code`'s initials.
CATEGORY_CODES: Mapping[str, str] = {
    "party_service_station": "pss",
    "party_service_centre": "psc",
    "community_complex": "cpx",
    "canteen": "cnt",
    "labourer_harbour": "lab",
    "park": "park",
    "elderly_care": "eld",
    "kindergarten": "kg",
    "primary_school": "pri",
    "food_market": "mkt",
    "clinic": "clin",
    "public_toilet": "wc",
}
#: Per-category field endings and their short forms (``<code>_share``, ``<code>_min``, ``<code>_near``).
CATEGORY_SUFFIXES: Mapping[str, str] = {"_share": "_share", "_min": "_min", "_nearest": "_near"}

#: Readable short names (at most 10 characters) of the fields whose full name is longer, chosen by
#: hand: words cut at a syllable (``community`` -> ``comm``, ``nearest`` -> ``near``, ``uncovered`` ->
#: ``unc``, ``residents`` -> ``res``), units kept (``_m2``, ``_m``, ``_min``).
SHORT_NAMES: Mapping[str, str] = {
    "added_area_m2": "added_m2",
    "added_households": "added_hh",
    "added_residents": "added_res",
    "added_weight": "added_wt",
    "attribution": "attrib",
    "available_m2": "avail_m2",
    "building_id": "bldg_id",
    "category_zh": "cat_zh",
    "chosen_rank": "chosen_rk",
    "clear_width_m": "clear_w_m",
    "closes_gaps": "closes",
    "community_id": "comm_id",
    "community_name": "comm_name",
    "community_type": "comm_type",
    "covered_share": "cov_share",
    "floor_basis": "floor_how",
    "n_communities": "n_comm",
    "nearest_existing_m": "exist_m",
    "nearest_existing_min": "exist_min",
    "nearest_existing_name": "exist_name",
    "nearest_facility_id": "near_id",
    "nearest_facility_name": "near_name",
    "nearest_facility_source": "near_src",
    "nearest_time_min": "near_min",
    "nearest_walk_m": "near_m",
    "new_area_m2": "new_m2",
    "new_residents": "new_res",
    "new_weight": "new_wt",
    "population": "population",
    "sample_cats": "sample_cat",
    "severity_rank": "sev_rank",
    "shortfall_m2": "short_m2",
    "suggested_floor_m2": "floor_m2",
    "target_share": "tgt_share",
    "threshold_min": "thresh_min",
    "threshold_m": "thresh_m",
    "uncovered_area_m2": "unc_m2",
    "uncovered_elderly": "unc_eld",
    "uncovered_residents": "unc_res",
    "uncovered_residents_estimate": "unc_res_es",
    "weight_kind": "wt_kind",
}

#: Word abbreviations for long field names not in :data:`SHORT_NAMES` (see
#: :func:`shapefile_field_names`).
ABBREVIATIONS: Mapping[str, str] = {
    "added": "add",
    "attribution": "attrib",
    "available": "avail",
    "baseline": "base",
    "building": "bldg",
    "category": "cat",
    "closes": "cls",
    "communities": "comm",
    "community": "comm",
    "covered": "cov",
    "district": "dist",
    "elderly": "eld",
    "existing": "exist",
    "facility": "fac",
    "households": "hh",
    "level": "lvl",
    "minutes": "min",
    "nearest": "near",
    "population": "pop",
    "profile": "prof",
    "required": "req",
    "residents": "res",
    "scenario": "scen",
    "service": "svc",
    "severity": "sev",
    "shortfall": "short",
    "source": "src",
    "target": "tgt",
    "threshold": "thresh",
    "uncovered": "unc",
    "weight": "wt",
}


def category_code(key: str) -> str:
    """The short code of category ``key`` in field names: :data:`CATEGORY_CODES`, else the initials of
    its words (``book_corner`` -> ``bc``), else its first four letters (``library`` -> ``libr``)."""
    if key in CATEGORY_CODES:
        return CATEGORY_CODES[key]
    words = [w for w in key.split("_") if w]
    return "".join(w[0] for w in words) if len(words) > 1 else key[:4]


def _clean(name: str) -> str:
    """ASCII letters, digits and ``_`` only; a leading digit gets an ``f``; ``field`` when nothing is
    left."""
    clean = re.sub(r"[^A-Za-z0-9_]", "", name) or "field"
    return "f" + clean if not clean[0].isalpha() else clean


def _short(name: str, categories: Iterable[str]) -> str:
    """One DBF field name for ``name`` (rules 1-4 of :func:`shapefile_field_names`)."""
    if name in SHORT_NAMES:
        return SHORT_NAMES[name]
    for suffix, short_suffix in CATEGORY_SUFFIXES.items():
        key = name[: -len(suffix)] if name.endswith(suffix) else ""
        if key and (key in CATEGORY_CODES or key in categories):
            return (category_code(key) + short_suffix)[:SHP_FIELD_LEN]
    clean = _clean(name)
    if len(clean) <= SHP_FIELD_LEN:
        return clean
    tokens = [ABBREVIATIONS.get(t.lower(), t) for t in clean.split("_") if t]
    joined = "_".join(tokens)
    if len(joined) <= SHP_FIELD_LEN:
        return joined
    last = tokens[-1][:4] if len(tokens) > 1 else ""
    head = "_".join(tokens[:-1]) if last else joined
    return head[: SHP_FIELD_LEN - len(last) - (1 if last else 0)].rstrip("_") + ("_" + last if last else "")


def shapefile_field_names(columns: Iterable[str], categories: Iterable[str] = ()) -> dict[str, str]:
    """Deterministic full name -> DBF field name (at most 10 characters, unique ignoring case), readable:

    1. the hand-made short name of :data:`SHORT_NAMES` (``community_id`` -> ``comm_id``,
       ``nearest_facility_source`` -> ``near_src``);
    2. per-category fields ``<category>_share|_min|_nearest`` (categories of :data:`CATEGORY_CODES`
       or named in ``categories``) -> ``<code>_share|_min|_near`` (``canteen_share`` -> ``cnt_share``);
    3. a name of at most 10 characters is kept (characters other than ``A-Z a-z 0-9 _`` are dropped
       first; a leading digit gets an ``f``);
    4. else each ``_``-separated word is replaced by its abbreviation (:data:`ABBREVIATIONS`) and, if
       that is still too long, the last word (up to 4 characters) is kept after the others cut to fit;
    5. a name already taken (ignoring case, earlier columns first) gets a number at its end: ``x1``,
       ``x2`` …
    """
    cats = frozenset(categories)
    used: set[str] = set()
    out: dict[str, str] = {}
    for col in columns:
        base = _short(str(col), cats)
        name, n = base, 1
        while name.lower() in used:
            suffix = str(n)
            name = base[: SHP_FIELD_LEN - len(suffix)] + suffix
            n += 1
        used.add(name.lower())
        out[str(col)] = name
    return out


#: What each field of the exports means, by full name.
FIELD_DOCS: Mapping[str, str] = {
    "community_id": "community id (OSM id osm:w… of the residential area, or the id in the user's file)",
    "name": "name (Chinese as in the data)",
    "type": "community type: urban / rural / industrial (城镇/乡村/产业)",
    "district": "district (区) the community lies in",
    "area_m2": "area in m² (community: residential area; site: site size where known, else null)",
    "households": "households (户), null when unknown",
    "population": "residents (人), null when unknown",
    "residents": "residents (population, or households x 2.49), null when unknown",
    "source": "data source: osm / user / sample (SAMPLE = authored example data, not observed)",
    "sample_cats": "categories whose nearest facility here is SAMPLE data (not observed); empty when none",
    "n_gaps": "number of coverage gaps of the community",
    "weight_kind": (
        "what the weights measure: area = m² of residential area (no population data), "
        "population/households/raster = people"
    ),
    "attribution": "© OpenStreetMap contributors (ODbL)",
    "severity_rank": "rank of the gap, 1 = most severe",
    "kind": (
        "gap kind (coverage/capacity) or site kind "
        "(parking, green_space, market, vacant_land, idle_building, construction, user)"
    ),
    "community_name": "community name",
    "community_type": "community type: urban / rural / industrial",
    "category": "facility category key",
    "category_zh": "facility category (Chinese)",
    "level_min": "service circle level of the category, minutes (5/10/15)",
    "threshold_min": "travel-time threshold, minutes",
    "threshold_m": "network walking-distance threshold, metres (measure = distance)",
    "measure": "what judged the threshold: time (minutes) or distance (walking metres, GB 50180-2018)",
    "profile": "travel profile (walk / bike)",
    "covered_share": "share of residents (or area) within the threshold",
    "target_share": "share the community should reach",
    "uncovered_residents": "residents outside the threshold (null when weights are area)",
    "uncovered_area_m2": "residential area outside the threshold, m²",
    "uncovered_elderly": "residents aged 65+ outside the threshold (district census share; "
    "categories serving the elderly; null otherwise)",
    "uncovered_residents_estimate": "ESTIMATE of residents outside the threshold (census population "
    "spread over residential land; not counted people; null when population is known)",
    "reachable": "false when no facility of the category can be reached on the street network",
    "nearest_facility_id": "id of the facility serving most of the community",
    "nearest_facility_name": "name of that facility",
    "nearest_facility_source": "its data source: osm / user / sample (SAMPLE = not observed)",
    "nearest_time_min": "weighted-median travel time to the nearest facility, minutes (null: none reachable)",
    "nearest_walk_m": "weighted-median network distance to the nearest facility, m (null: none reachable)",
    "required_m2": "floor area required by the capacity rule, m²",
    "available_m2": "floor area available, m²",
    "shortfall_m2": "floor area missing, m²",
    "severity": "severity: uncovered residents (or m²) x time factor",
    "rank": "rank of the chosen site (1 = adds most)",
    "site_id": "site id (osm:w…/osm:n… or the id in the user's candidates file)",
    "kind_zh": "site kind (Chinese)",
    "new_weight": "uncovered weight the site reaches on its own (people, or m² when weight_kind = area)",
    "added_weight": "weight the site adds after the higher-ranked sites (these add up to the objective)",
    "new_residents": "residents the site newly covers on its own (null when weights are area)",
    "added_residents": "residents it adds after the higher-ranked sites (null when weights are area)",
    "new_area_m2": "residential area the site newly covers on its own, m²",
    "added_area_m2": "residential area it adds after the higher-ranked sites, m²",
    "n_communities": "communities the site newly reaches",
    "n_closed": "communities whose gap closes once this site is added",
    "closes_gaps": "names of the communities whose gap closes with this site ('; '-separated)",
    "closes_ids": "ids of those communities ('; '-separated)",
    "snap_m": "distance from the site's routing point to the street, m",
    "lon": "longitude of the routing point, WGS84 degrees",
    "lat": "latitude of the routing point, WGS84 degrees",
    "baseline": (
        "existing facilities of the category kept fixed, by source (sample = SAMPLE data, not observed)"
    ),
    "osm_tag": "the OSM tag that made it a candidate",
    "chosen_rank": "rank among the chosen sites, 0 = not chosen",
    "usable": "1 when the candidate can take the facility (suitability rules, or the user's verdict)",
    "reason": (
        "why the candidate is usable or not, Chinese / English (rules of data/site_rules.toml or the "
        "user's verdict)"
    ),
    "rules": "ids of the suitability rules that left it out (user = the user decided)",
    "width_m": "width of the site: short side of its minimum rotated rectangle, m (null for points)",
    "length_m": "length of the site: long side of its minimum rotated rectangle, m (null for points)",
    "clear_width_m": "clear width: diameter of the largest circle inside the site, m (null for points)",
    "added_households": "households it adds (added residents / 2.49; null when weights are area)",
    "suggested_floor_m2": (
        "suggested floor area to build, m² (catalog capacity rule x households it adds, at least the "
        "category's minimum; null when it cannot be computed: see floor_basis)"
    ),
    "floor_basis": "how the suggested floor area was found, or why it cannot be (Chinese / English)",
    "nearest_existing_min": "walking minutes to the nearest existing facility of the category (null: none)",
    "nearest_existing_m": "walking distance on the streets to that facility, m (minutes x walking speed)",
    "nearest_existing_name": "name of that facility ((SAMPLE) = sample data, not observed)",
    "street_id": "OSM way id of the street (osm:w…)",
    "highway": "OSM highway class of the street (primary, residential, footway …)",
    "layer": "OSM layer (above 0: bridge or elevated road)",
    "building_id": "OSM id of the building (osm:w…/osm:r…)",
    "building": "OSM building tag (yes, residential, commercial …)",
    "levels": "building:levels (null when not mapped)",
    "near_sites": "ranks of the chosen sites within 200 m",
    "scenario": "existing = current facilities; with_sites = plus the chosen sites",
    "minutes": "travel-time threshold, minutes",
    "street_m": "length of street reached, m",
    "sources": "data sources of the facilities behind the area (sample = SAMPLE data)",
    "key": "item",
    "value": "value",
}


#: Chinese label of each field (``fields.csv``, GeoPackage ``fields``), by full name.
FIELD_LABELS_ZH: Mapping[str, str] = {
    "community_id": "社区/小区编号",
    "name": "名称",
    "type": "社区类型",
    "district": "区",
    "area_m2": "面积（m²）",
    "households": "户数",
    "population": "人口",
    "residents": "居民数",
    "source": "数据来源",
    "sample_cats": "示例数据类别",
    "n_gaps": "缺口数",
    "weight_kind": "权重类型",
    "attribution": "数据署名",
    "severity_rank": "严重程度排名",
    "kind": "类型",
    "community_name": "社区/小区名称",
    "community_type": "社区类型",
    "category": "设施类别",
    "category_zh": "设施类别（中文）",
    "level_min": "生活圈层级（分钟）",
    "threshold_min": "时间阈值（分钟）",
    "threshold_m": "距离阈值（米）",
    "measure": "度量（时间/距离）",
    "profile": "出行方式",
    "covered_share": "覆盖比例",
    "target_share": "目标覆盖比例",
    "uncovered_residents": "未覆盖居民数",
    "uncovered_area_m2": "未覆盖居住用地（m²）",
    "uncovered_elderly": "未覆盖65岁以上居民数",
    "uncovered_residents_estimate": "未覆盖居民数（估算）",
    "reachable": "可达",
    "nearest_facility_id": "最近设施编号",
    "nearest_facility_name": "最近设施名称",
    "nearest_facility_source": "最近设施数据来源",
    "nearest_time_min": "到最近设施时间（分钟）",
    "nearest_walk_m": "到最近设施步行距离（m）",
    "required_m2": "应配建面积（m²）",
    "available_m2": "现有面积（m²）",
    "shortfall_m2": "面积缺口（m²）",
    "severity": "严重程度",
    "rank": "排名",
    "site_id": "用地编号",
    "kind_zh": "用地类型（中文）",
    "new_weight": "新覆盖权重",
    "added_weight": "新增覆盖权重",
    "new_residents": "新覆盖居民数",
    "added_residents": "新增覆盖居民数",
    "new_area_m2": "新覆盖居住用地（m²）",
    "added_area_m2": "新增覆盖居住用地（m²）",
    "n_communities": "新覆盖社区数",
    "n_closed": "补齐缺口数",
    "closes_gaps": "补齐缺口的社区",
    "closes_ids": "补齐缺口的社区编号",
    "snap_m": "距道路距离（m）",
    "lon": "经度（WGS84）",
    "lat": "纬度（WGS84）",
    "baseline": "现状设施来源",
    "osm_tag": "OSM标签",
    "chosen_rank": "入选排名",
    "usable": "可用",
    "reason": "原因",
    "rules": "触发规则",
    "width_m": "宽度（m）",
    "length_m": "长度（m）",
    "clear_width_m": "净宽（m）",
    "added_households": "新增覆盖户数",
    "suggested_floor_m2": "建议建筑面积（m²）",
    "floor_basis": "建筑面积依据",
    "nearest_existing_min": "到最近现状设施步行时间（分钟）",
    "nearest_existing_m": "到最近现状设施步行距离（m）",
    "nearest_existing_name": "最近现状设施名称",
    "scenario": "情景",
    "minutes": "时间（分钟）",
    "street_m": "可达道路长度（m）",
    "sources": "设施数据来源",
    "street_id": "道路编号",
    "highway": "道路等级",
    "layer": "层",
    "building_id": "建筑编号",
    "building": "建筑类型",
    "levels": "层数",
    "near_sites": "邻近用地排名",
    "key": "项目",
    "value": "值",
}
_SUFFIX_LABELS_ZH = {"_share": "{}覆盖比例", "_min": "到最近{}时间（分钟）", "_nearest": "最近{}名称"}


def _category_field(name: str, catalog: Catalog | None) -> tuple[str, str] | None:
    """(category key, field ending) of a per-category field ``<key>_share|_min|_nearest``."""
    for suffix in CATEGORY_SUFFIXES:
        key = name[: -len(suffix)] if name.endswith(suffix) else ""
        if key and (key in CATEGORY_CODES or (catalog is not None and key in catalog)):
            return key, suffix
    return None


def field_description(name: str, catalog: Catalog | None = None) -> str:
    """What a field means (also for the per-category ``<key>_share/_min/_nearest`` columns)."""
    if name in FIELD_DOCS:
        return FIELD_DOCS[name]
    for suffix, text in (
        ("_share", "share of residents (or area) within the threshold of {}"),
        ("_min", "weighted-median minutes to the nearest {} (null: none reachable)"),
        ("_nearest", "name of the nearest {} (serving most residents)"),
    ):
        if name.endswith(suffix):
            key = name[: -len(suffix)]
            label = key
            if catalog is not None and key in catalog:
                c = catalog.get(key)
                label = f"{c.name_zh} {c.name_en} ({key})"
            return text.format(label)
    return ""


def field_label_zh(name: str, catalog: Catalog | None = None) -> str:
    """The Chinese label of a field (per-category fields with the category's Chinese name); empty when
    unknown."""
    if name in FIELD_LABELS_ZH:
        return FIELD_LABELS_ZH[name]
    found = _category_field(name, catalog)
    if found is None:
        return ""
    key, suffix = found
    zh = catalog.get(key).name_zh if catalog is not None and key in catalog else key
    return _SUFFIX_LABELS_ZH[suffix].format(zh)


def fields_table(
    layers: Mapping[str, gpd.GeoDataFrame],
    names: Mapping[str, Mapping[str, str]] | None,
    catalog: Catalog | None,
) -> pd.DataFrame:
    """One row per field of each layer (geometry left out): ``layer``, ``field`` (the name as written:
    ``names[layer][column]`` for a Shapefile, else the column), ``full_name``, ``label_zh`` (Chinese
    label), ``type`` and ``description``."""
    rows = []
    for layer, gdf in layers.items():
        for col in gdf.columns:
            if col == gdf.geometry.name:
                continue
            short = names[layer][col] if names is not None else col
            rows.append(
                {
                    "layer": layer,
                    "field": short,
                    "full_name": col,
                    "label_zh": field_label_zh(col, catalog),
                    "type": type_name(gdf[col]),
                    "description": field_description(col, catalog),
                }
            )
    return pd.DataFrame(rows, columns=["layer", "field", "full_name", "label_zh", "type", "description"])


def type_name(s: pd.Series) -> str:
    """The field type as the fields table names it: boolean, integer, real or text."""
    if pd.api.types.is_bool_dtype(s):
        return "boolean"
    if pd.api.types.is_integer_dtype(s):
        return "integer"
    if pd.api.types.is_float_dtype(s):
        return "real"
    return "text"
