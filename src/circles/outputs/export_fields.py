"""Field names and meanings of the exports: the deterministic 10-character DBF names of a Shapefile
(:func:`shapefile_field_names`), what each field means (:func:`field_description`) and the ``fields``
table (layer, short name, full name, type, description) written beside the layers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import geopandas as gpd
import pandas as pd

from ..catalog import Catalog

__all__ = [
    "ABBREVIATIONS",
    "FIELD_DOCS",
    "SHP_FIELD_LEN",
    "field_description",
    "fields_table",
    "shapefile_field_names",
    "type_name",
]

#: Longest DBF field name, characters.
SHP_FIELD_LEN = 10

#: Word abbreviations used to fit Shapefile field names into 10 characters (see
#: :func:`shapefile_field_names`).
ABBREVIATIONS: Mapping[str, str] = {
    "added": "add",
    "area": "area",
    "attribution": "attrib",
    "available": "avl",
    "baseline": "base",
    "canteen": "cant",
    "care": "care",
    "category": "cat",
    "centre": "ctr",
    "clinic": "clin",
    "closes": "cls",
    "communities": "comm",
    "community": "comm",
    "complex": "cpx",
    "covered": "cov",
    "district": "dist",
    "elderly": "eld",
    "facility": "fac",
    "food": "food",
    "harbour": "hbr",
    "households": "hh",
    "kindergarten": "kg",
    "labourer": "lab",
    "level": "lvl",
    "market": "mkt",
    "minutes": "min",
    "nearest": "nr",
    "party": "pty",
    "population": "pop",
    "primary": "pri",
    "profile": "prof",
    "public": "pub",
    "required": "req",
    "residents": "res",
    "scenario": "scen",
    "school": "sch",
    "service": "svc",
    "severity": "sev",
    "share": "sh",
    "shortfall": "short",
    "source": "src",
    "station": "stn",
    "target": "tgt",
    "threshold": "thr",
    "time": "t",
    "toilet": "wc",
    "uncovered": "unc",
    "weight": "wt",
}


def _short(name: str) -> str:
    """One DBF field name for ``name`` (rules 1-4 of :func:`shapefile_field_names`)."""
    clean = re.sub(r"[^A-Za-z0-9_]", "", name) or "field"
    if not clean[0].isalpha():
        clean = "f" + clean
    if len(clean) <= SHP_FIELD_LEN:
        return clean
    tokens = [ABBREVIATIONS.get(t.lower(), t) for t in clean.split("_") if t]
    joined = "_".join(tokens)
    if len(joined) <= SHP_FIELD_LEN:
        return joined
    joined = "".join(tokens)
    if len(joined) <= SHP_FIELD_LEN:
        return joined
    last = tokens[-1][:4] if len(tokens) > 1 else ""
    return ("".join(tokens[:-1]) if last else joined)[: SHP_FIELD_LEN - len(last)] + last


def shapefile_field_names(columns: Iterable[str]) -> dict[str, str]:
    """Deterministic full name -> DBF field name (at most 10 characters, unique ignoring case).

    1. Keep the name when it has at most 10 characters (non-ASCII letters and other characters than
       ``A-Z a-z 0-9 _`` are dropped first; a leading digit gets an ``f``).
    2. Otherwise replace each ``_``-separated word by its abbreviation (:data:`ABBREVIATIONS`, e.g.
       community -> comm, nearest -> nr, share -> sh) and keep the result if it fits;
    3. else drop the underscores; 4. else keep the last word (at most 4 characters) and cut the rest
       to fit.
    5. A name already taken (ignoring case, earlier columns first) gets a number at its end: ``x1``,
       ``x2`` …
    """
    used: set[str] = set()
    out: dict[str, str] = {}
    for col in columns:
        base = _short(str(col))
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
    "usable": "1 when the candidate could be used",
    "reason": "why a candidate could not be used",
    "scenario": "existing = current facilities; with_sites = plus the chosen sites",
    "minutes": "travel-time threshold, minutes",
    "street_m": "length of street reached, m",
    "sources": "data sources of the facilities behind the area (sample = SAMPLE data)",
    "key": "item",
    "value": "value",
}


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


def fields_table(
    layers: Mapping[str, gpd.GeoDataFrame],
    names: Mapping[str, Mapping[str, str]] | None,
    catalog: Catalog | None,
) -> pd.DataFrame:
    """One row per field of each layer (geometry left out): ``layer``, ``field`` (the name as written:
    ``names[layer][column]`` for a Shapefile, else the column), ``full_name``, ``type`` and
    ``description``."""
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
                    "type": type_name(gdf[col]),
                    "description": field_description(col, catalog),
                }
            )
    return pd.DataFrame(rows, columns=["layer", "field", "full_name", "type", "description"])


def type_name(s: pd.Series) -> str:
    """The field type as the fields table names it: boolean, integer, real or text."""
    if pd.api.types.is_bool_dtype(s):
        return "boolean"
    if pd.api.types.is_integer_dtype(s):
        return "integer"
    if pd.api.types.is_float_dtype(s):
        return "real"
    return "text"
