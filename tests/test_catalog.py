"""Facility catalog: the default file, tag matching, user-added categories and malformed files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from circles.catalog import Catalog, Category, TagFilter, default_catalog_path, load_catalog
from circles.errors import DataFileError, InputError, UnknownCategoryError

REQUIRED_LEVELS = {
    "party_service_station": 5,
    "party_service_centre": 10,
    "community_complex": 15,
}
REQUIRED_KEYS = {
    *REQUIRED_LEVELS,
    "canteen",
    "labourer_harbour",
    "park",
    "public_toilet",
    "clinic",
    "kindergarten",
    "primary_school",
    "food_market",
    "elderly_care",
}

GOOD = """
schema_version = 1

[[category]]
key = "book_corner"
name_zh = "社区书屋"
name_en = "Community reading room"
level_min = 10
urban_walk_min = 10
rural_bike_min = 12.5
industrial_walk_min = 10
focus = false
osm_tags = [{ key = "amenity", values = ["library"] }]
sources = "project default"
"""


def _table(**overrides: object) -> str:
    """A valid [[category]] table with fields replaced (None drops the field)."""
    fields: dict[str, object] = {
        "key": '"testcat"',
        "name_zh": '"测试"',
        "name_en": '"Test"',
        "level_min": "10",
        "urban_walk_min": "10",
        "rural_bike_min": "10",
        "industrial_walk_min": "10",
        "focus": "false",
        "sources": '["project default"]',
    }
    fields.update(overrides)
    lines = [f"{k} = {v}" for k, v in fields.items() if v is not None]
    return "[[category]]\n" + "\n".join(lines) + "\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


# --- the default catalog ---------------------------------------------------------------------------


def test_default_catalog_has_required_categories(catalog: Catalog) -> None:
    assert REQUIRED_KEYS <= set(catalog)
    for key, level in REQUIRED_LEVELS.items():
        assert catalog.get(key).level_min == level
    assert catalog.levels() == (5, 10, 15)
    assert all(c.level_min in (5, 10, 15) for c in catalog.values())


def test_default_thresholds_equal_level_and_profiles(catalog: Catalog) -> None:
    for cat in catalog.values():
        for ct in ("urban", "rural", "industrial"):
            assert cat.threshold_min(ct) > 0
        assert cat.threshold_min("urban") == cat.level_min
    station = catalog["party_service_station"]
    assert station.profile_for("urban") == "walk"
    assert station.profile_for("industrial") == "walk"
    assert station.profile_for("rural") == "bike"
    assert station.threshold_s("urban") == 300.0
    assert catalog["community_complex"].threshold_min("rural") == 15.0


def test_capacity_rule_and_targets(catalog: Catalog) -> None:
    centre = catalog["party_service_centre"]
    assert centre.capacity_m2_per_100_households == 30
    assert centre.required_area_m2(1000) == pytest.approx(300.0)
    assert catalog["party_service_station"].required_area_m2(1000) is None
    assert catalog["park"].coverage_target == pytest.approx(0.9)
    assert catalog["canteen"].plan_target_count == 120
    harbour = catalog["labourer_harbour"]
    assert harbour.applies("urban") and not harbour.applies("rural")
    assert catalog["park"].applies("rural")


def test_every_category_cites_sources(catalog: Catalog) -> None:
    for cat in catalog.values():
        assert cat.sources and all(s.strip() for s in cat.sources)
    assert any("item 4" in s for s in catalog["party_service_centre"].sources)
    assert any("item 6" in s for s in catalog["park"].sources)


def test_focus_and_file_order(catalog: Catalog) -> None:
    keys = list(catalog)
    assert keys[:3] == ["party_service_station", "party_service_centre", "community_complex"]
    focus = {c.key for c in catalog.focus()}
    assert {"party_service_centre", "canteen", "labourer_harbour", "park", "elderly_care"} <= focus
    assert "public_toilet" not in focus
    assert [c.key for c in catalog.by_level(5)][0] == "party_service_station"


def test_osm_tags_only_where_osm_has_them(catalog: Catalog) -> None:
    for key in (
        "party_service_station",
        "party_service_centre",
        "community_complex",
        "canteen",
        "labourer_harbour",
    ):
        assert not catalog[key].in_osm
    for key in (
        "park",
        "public_toilet",
        "clinic",
        "kindergarten",
        "primary_school",
        "food_market",
        "elderly_care",
    ):
        assert catalog[key].in_osm


def test_get_unknown_lists_known_keys(catalog: Catalog) -> None:
    with pytest.raises(UnknownCategoryError, match="party_service_centre") as exc:
        catalog.get("swimming_pool")
    assert "swimming_pool" in str(exc.value)
    with pytest.raises(KeyError):
        catalog["nope"]
    assert "nope" not in catalog


def test_unknown_community_type_rejected(catalog: Catalog) -> None:
    with pytest.raises(InputError, match="suburban"):
        catalog["park"].threshold_min("suburban")
    with pytest.raises(InputError):
        Category.profile_for("city")


def test_to_records_is_json_serialisable(catalog: Catalog) -> None:
    records = catalog.to_records()
    assert [r["key"] for r in records] == list(catalog)
    back = json.loads(json.dumps(records, ensure_ascii=False))
    centre = next(r for r in back if r["key"] == "party_service_centre")
    assert centre["level_min"] == 10
    assert centre["capacity_m2_per_100_households"] == 30
    assert centre["thresholds_min"] == {"urban": 10.0, "rural": 10.0, "industrial": 10.0}
    assert centre["profiles"]["rural"] == "bike"
    toilet = next(r for r in back if r["key"] == "public_toilet")
    assert toilet["osm_tags"][0]["key"] == "amenity"


def test_env_var_locates_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, GOOD)
    monkeypatch.setenv("CIRCLES_PROJECT_DATA", str(tmp_path))
    assert default_catalog_path() == tmp_path / "catalog.toml"
    assert list(load_catalog()) == ["book_corner"]


# --- tag matching ----------------------------------------------------------------------------------


def test_tag_filter_values_and_any_value() -> None:
    toilets = TagFilter("amenity", ("toilets",))
    assert toilets.matches({"amenity": "toilets"})
    assert not toilets.matches({"amenity": "restaurant"})
    assert not toilets.matches({"shop": "toilets"})
    any_health = TagFilter("healthcare")
    assert any_health.matches({"healthcare": "dentist"})
    assert not any_health.matches({"amenity": "clinic"})
    assert TagFilter("amenity", ("clinic", "doctors")).matches({"amenity": "pharmacy;doctors"})


def test_tag_filter_require_and_exclude() -> None:
    senior = TagFilter(
        "amenity", ("social_facility",), require=(TagFilter("social_facility:for", ("senior",)),)
    )
    assert senior.matches({"amenity": "social_facility", "social_facility:for": "senior"})
    assert not senior.matches({"amenity": "social_facility", "social_facility:for": "child"})
    assert not senior.matches({"amenity": "social_facility"})
    public = TagFilter("amenity", ("toilets",), exclude=(TagFilter("access", ("private", "customers")),))
    assert public.matches({"amenity": "toilets", "access": "yes"})
    assert not public.matches({"amenity": "toilets", "access": "customers"})


def test_default_categories_match_osm_features(catalog: Catalog) -> None:
    def keys(tags: dict[str, str]) -> set[str]:
        return {c.key for c in catalog.matching(tags)}

    assert keys({"leisure": "park", "name": "人民公园"}) == {"park"}
    assert keys({"leisure": "park", "access": "private"}) == set()
    assert keys({"leisure": "garden"}) == set()
    assert keys({"amenity": "toilets"}) == {"public_toilet"}
    assert keys({"amenity": "toilets", "access": "customers"}) == set()
    assert keys({"amenity": "hospital"}) == {"clinic"}
    assert keys({"healthcare": "pharmacy"}) == set()
    assert keys({"amenity": "kindergarten"}) == {"kindergarten"}
    assert keys({"amenity": "school"}) == {"primary_school"}
    assert keys({"shop": "supermarket"}) == {"food_market"}
    assert keys({"amenity": "marketplace"}) == {"food_market"}
    assert keys({"amenity": "social_facility", "social_facility:for": "senior"}) == {"elderly_care"}
    assert keys({"amenity": "nursing_home"}) == {"elderly_care"}
    assert keys({"amenity": "restaurant", "name": "人民食堂"}) == set()


# --- user-added categories -------------------------------------------------------------------------


def test_user_added_category_loads(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    cat = load_catalog(path)
    book = cat.get("book_corner")
    assert book.level_min == 10
    assert book.threshold_min("rural") == 12.5
    assert book.sources == ("project default",)
    assert book.applies_to == ("urban", "rural", "industrial")
    assert book.matches({"amenity": "library"})
    assert cat.levels() == (10,)
    assert cat.path == path


def test_default_plus_user_table_loads(tmp_path: Path) -> None:
    text = default_catalog_path().read_text(encoding="utf-8") + "\n" + GOOD.replace("schema_version = 1", "")
    cat = load_catalog(_write(tmp_path, text))
    assert list(cat)[-1] == "book_corner"
    assert REQUIRED_KEYS <= set(cat)


# --- malformed files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name_en": None}, "name_en"),
        ({"sources": None}, "sources"),
        ({"rural_bike_min": None}, "rural_bike_min"),
        ({"level_min": "7"}, "level_min"),
        ({"level_min": '"10"'}, "level_min"),
        ({"urban_walk_min": "-5"}, "positive"),
        ({"industrial_walk_min": "0"}, "positive"),
        ({"rural_bike_min": '"ten"'}, "number"),
        ({"suburban_walk_min": "10"}, "suburban"),
        ({"rural_walk_min": "10"}, "rural_bike_min"),
        ({"applies_to": '["urban", "village"]'}, "village"),
        ({"colour": '"red"'}, "colour"),
        ({"coverage_target": "90"}, "coverage_target"),
        ({"focus": '"yes"'}, "focus"),
        ({"osm_tags": '[{ values = ["x"] }]'}, "osm_tags"),
    ],
)
def test_malformed_category_names_file_and_key(tmp_path: Path, overrides: dict, message: str) -> None:
    path = _write(tmp_path, _table(**overrides))
    with pytest.raises(DataFileError, match=message) as exc:
        load_catalog(path)
    assert "'testcat'" in str(exc.value)
    assert str(path) in str(exc.value)


def test_duplicate_key_named(tmp_path: Path) -> None:
    path = _write(tmp_path, _table() + "\n" + _table(level_min="5", urban_walk_min="5"))
    with pytest.raises(DataFileError, match="duplicate") as exc:
        load_catalog(path)
    assert "'testcat'" in str(exc.value)
    assert str(path) in str(exc.value)


def test_missing_or_bad_key(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="table 1"):
        load_catalog(_write(tmp_path, _table(key=None)))
    with pytest.raises(DataFileError, match="Bad Key"):
        load_catalog(_write(tmp_path, _table(key='"Bad Key"')))


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="not found"):
        load_catalog(tmp_path / "absent.toml")
    with pytest.raises(DataFileError, match="not valid TOML"):
        load_catalog(_write(tmp_path, "[[category]\nkey = "))
    with pytest.raises(DataFileError, match="no \\[\\[category\\]\\]"):
        load_catalog(_write(tmp_path, "schema_version = 1\n"))
    with pytest.raises(DataFileError, match="park"):
        load_catalog(_write(tmp_path, "[park]\nkey = 'park'\n"))
