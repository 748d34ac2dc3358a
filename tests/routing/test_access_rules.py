"""Country-aware access defaults (data/access_rules.toml, from the OSM wiki's access-restriction tables)
and the explicit tags that override them."""

from __future__ import annotations

import numpy as np
import pytest
from osm_ways import CRS, make_ways

from circles.config import load_regions
from circles.errors import DataFileError, InputError
from circles.routing.access_rules import access_rules, country_for_lonlat, override_pairs
from circles.routing.network import network_from_ways, way_access


def _fb(tags: dict[str, str], country: str | None) -> tuple[bool, bool]:
    acc = way_access(tags, access_rules(country))
    return acc.foot, acc.bike


@pytest.mark.parametrize(
    "country,tags,expected",
    [
        # the wiki's Worldwide table: trunk walkable and cyclable, motorway neither, cycleway not walked,
        # footway and pedestrian not cycled, bridleway neither; links as their road
        (None, {"highway": "trunk"}, (True, True)),
        (None, {"highway": "trunk_link"}, (True, True)),
        (None, {"highway": "motorway"}, (False, False)),
        (None, {"highway": "motorway_link"}, (False, False)),
        (None, {"highway": "cycleway"}, (False, True)),
        (None, {"highway": "pedestrian"}, (True, False)),
        (None, {"highway": "footway"}, (True, False)),
        (None, {"highway": "bridleway"}, (False, False)),
        (None, {"highway": "path"}, (True, True)),
        (None, {"highway": "construction"}, (False, False)),
        # China: pedestrian streets are cyclable; trunk walkable
        ("CN", {"highway": "pedestrian"}, (True, True)),
        ("CN", {"highway": "trunk"}, (True, True)),
        ("CN", {"highway": "cycleway"}, (False, True)),
        # Finland: cycleways are walked, pedestrian streets cycled
        ("FI", {"highway": "cycleway"}, (True, True)),
        ("FI", {"highway": "pedestrian"}, (True, True)),
        ("FI", {"highway": "footway"}, (True, False)),
        # Brazil: bridleways for both
        ("BR", {"highway": "bridleway"}, (True, True)),
        ("BR", {"highway": "cycleway"}, (False, True)),
        # a country without a table gets the world default
        ("XX", {"highway": "cycleway"}, (False, True)),
        ("fi", {"highway": "cycleway"}, (True, True)),  # codes are case-insensitive
    ],
)
def test_rule_sets_per_country(country, tags, expected):
    assert _fb(tags, country) == expected


@pytest.mark.parametrize(
    "tags,expected",
    [
        ({"highway": "trunk", "foot": "no"}, (False, True)),
        ({"highway": "trunk", "access": "no"}, (False, False)),
        ({"highway": "trunk", "access": "no", "foot": "yes"}, (True, False)),
        ({"highway": "cycleway", "foot": "designated"}, (True, True)),
        ({"highway": "motorway", "sidewalk": "right"}, (True, False)),
        ({"highway": "motorway", "sidewalk:left": "yes"}, (True, False)),
        ({"highway": "pedestrian", "bicycle": "no"}, (True, False)),
        ({"highway": "footway", "bicycle": "yes"}, (True, True)),
        ({"highway": "motorway", "cycleway:right": "track"}, (False, True)),
        ({"highway": "construction", "foot": "yes"}, (False, False)),
    ],
)
def test_explicit_tags_override_the_country_defaults(tags, expected):
    assert _fb(tags, "CN") == expected


def test_region_overrides_change_rows_and_say_so():
    pairs = override_pairs({"foot_yes": ["cycleway"], "foot_no": ["trunk"]})
    rules = access_rules("CN", pairs)
    assert rules.allows("foot", "cycleway") and not rules.allows("foot", "trunk")
    assert not rules.allows("foot", "trunk_link")  # links follow their road
    assert rules.allows("bicycle", "pedestrian")  # the rest of the China set is kept
    assert "overrides" in rules.label
    with pytest.raises(DataFileError, match="unknown key"):
        override_pairs({"car_yes": ["trunk"]})


def test_regions_toml_names_the_country_and_overrides(tmp_path):
    toml = tmp_path / "regions.toml"
    toml.write_text(
        '[r]\nosm_file = "x.osm.pbf"\nbbox = [104.0, 30.6, 104.1, 30.7]\nmetric_crs = "EPSG:32648"\n'
        'country = "CN"\n[r.access]\nfoot_yes = ["cycleway"]\nbicycle_no = ["pedestrian"]\n',
        encoding="utf-8",
    )
    reg = load_regions(toml, tmp_path)["r"]
    assert reg.country == "CN"
    assert reg.access == (("bicycle_no", "pedestrian"), ("foot_yes", "cycleway"))
    rules = access_rules(reg.country, reg.access)
    assert rules.allows("foot", "cycleway") and not rules.allows("bicycle", "pedestrian")
    default = load_regions()["chengdu-central"]
    assert default.country == "CN"


@pytest.mark.parametrize(
    "lon,lat,country",
    [(104.07, 30.66, "CN"), (24.94, 60.17, "FI"), (-46.63, -23.55, "BR"), (2.35, 48.86, None)],
)
def test_country_lookup_from_coordinates(lon, lat, country):
    assert country_for_lonlat(lon, lat) == country


def _trunk_ways():
    """A 300 m trunk road between two residential stubs."""
    nodes = {1: (0.0, 0.0), 2: (100.0, 0.0), 3: (400.0, 0.0), 4: (500.0, 0.0)}
    ways = {
        10: ({"highway": "residential"}, [1, 2]),
        11: ({"highway": "trunk"}, [2, 3]),
        12: ({"highway": "residential"}, [3, 4]),
    }
    return make_ways(nodes, ways)


def test_a_trunk_road_is_walkable_in_china_unless_a_region_says_otherwise():
    ways = _trunk_ways()
    cn = network_from_ways(ways, CRS)  # country found from the coordinates: Chengdu
    assert cn.access_rules == "CN"
    trunk = cn.seg_way_id == 11
    assert cn.foot_ok[trunk].all()
    no_trunk = network_from_ways(ways, CRS, rules=access_rules("CN", override_pairs({"foot_no": ["trunk"]})))
    assert not no_trunk.foot_ok[no_trunk.seg_way_id == 11].any()
    assert no_trunk.foot_ok[no_trunk.seg_way_id == 10].all()


def test_real_chengdu_trunk_roads_are_walkable(chengdu_net):
    """Central Chengdu's trunk roads (二环 elevated sections and radials) mostly carry no foot or sidewalk
    tag in the 2018 extract: under the China rule set they are walked, as Valhalla walks them."""
    from circles.io.osm import read_highway_ways

    net = chengdu_net
    assert net.access_rules == "CN"
    ways = read_highway_ways(net.source)
    tags = {int(w): t for w, t in zip(ways.way_ids, ways.tags)}
    trunk = np.array([tags[int(w)].get("highway") in ("trunk", "trunk_link") for w in net.seg_way_id])
    untagged = np.array(
        [not any(k.startswith(("foot", "sidewalk")) for k in tags[int(w)]) for w in net.seg_way_id]
    )
    walked = net.foot_ok & trunk & untagged
    assert walked.sum() > 100  # segments; 740 trunk/trunk_link segments are walkable in the 2018 extract
    assert net.seg_len_m[walked].sum() > 10_000  # metres


def test_plan_options_country_reaches_the_network():
    """``PlanOptions.country`` (CLI ``--country``, ``CIRCLES_COUNTRY``) replaces the region's rule set."""
    from circles.inputs import PlanOptions
    from circles.pipeline import load_plan_data

    data = load_plan_data(PlanOptions(country="fi", categories=["canteen"]))
    assert data.net.access_rules == "FI" and data.region.country == "FI"
    with pytest.raises(InputError, match="alpha-2"):
        PlanOptions(country="Finland")
