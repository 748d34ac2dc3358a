"""The walkable / cyclable network is derived from OSM tags, for any extract."""

from __future__ import annotations

import numpy as np
import pytest

from circles.errors import DataFileError, EmptyNetworkError
from circles.routing.access_rules import access_rules
from circles.routing.network import load_network, way_access

from osm_fixtures import WAYS, write_osm


@pytest.mark.parametrize("wid", list(WAYS))
def test_access_rules_per_way(wid):
    tags, foot, bike = WAYS[wid]
    acc = way_access(tags, access_rules("CN"))  # the fixture's ways lie in Chengdu
    assert (acc.foot, acc.bike) == (foot, bike), tags


def test_oneway_rules():
    assert way_access({"highway": "primary", "oneway": "yes"}).bike_oneway == 1
    assert way_access({"highway": "primary", "oneway": "-1"}).bike_oneway == -1
    assert way_access({"highway": "primary", "junction": "roundabout"}).bike_oneway == 1
    assert way_access({"highway": "primary", "oneway": "yes", "oneway:bicycle": "no"}).bike_oneway == 0
    assert way_access({"highway": "service", "service": "parking_aisle"}).snap is False


def test_osm_file_loads_with_tag_derived_flags(tmp_path):
    net = load_network(write_osm(tmp_path / "t.osm", WAYS))
    assert net.crs == "EPSG:32648"  # UTM zone of the data
    by_way = {int(w): i for i, w in enumerate(net.seg_way_id)}
    for wid, (_tags, foot, bike) in WAYS.items():
        if not (foot or bike):
            assert wid not in by_way  # neither mode: not in the network at all
            continue
        i = by_way[wid]
        assert net.foot_ok[i] == foot and net.bike_ok[i] == bike
    assert net.seg_len_m[by_way[1]] == pytest.approx(100, abs=1)
    assert net.steps[by_way[7]] and not net.steps[by_way[8]]


def test_pbf_and_xml_give_the_same_network(chengdu_osm):
    xml = chengdu_osm.with_name("chengdu_central_2018.osm")
    if not xml.exists():
        pytest.skip("XML copy absent")
    a, b = load_network(chengdu_osm, "EPSG:32648"), load_network(xml, "EPSG:32648")
    assert a.n_nodes == b.n_nodes and a.n_segments == b.n_segments
    np.testing.assert_allclose(np.sort(a.seg_len_m), np.sort(b.seg_len_m))


def test_unreadable_and_empty_files_are_clear_errors(tmp_path):
    with pytest.raises(DataFileError, match="not found"):
        load_network(tmp_path / "missing.osm.pbf")
    bad = tmp_path / "bad.osm"
    bad.write_text("this is not xml")
    with pytest.raises(DataFileError, match="cannot read"):
        load_network(bad)
    with pytest.raises(DataFileError, match="not a file"):
        load_network(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataFileError, match="not an OSM file"):
        load_network(tmp_path / "notes.txt")
    only_motorway = write_osm(tmp_path / "m.osm", {2: WAYS[2]})
    with pytest.raises(EmptyNetworkError):
        load_network(only_motorway)


def test_a_node_missing_from_the_extract_splits_the_way(tmp_path):
    # way 1: nodes 10, 11 (missing), 12 — there is no street between 10 and 12
    osm = tmp_path / "gap.osm"
    osm.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><osm version="0.6">'
        '<node id="10" lat="30.66" lon="104.07"/><node id="12" lat="30.66" lon="104.08"/>'
        '<node id="13" lat="30.661" lon="104.08"/>'
        '<way id="1"><nd ref="10"/><nd ref="11"/><nd ref="12"/><nd ref="13"/>'
        '<tag k="highway" v="residential"/></way>'
        "</osm>",
        encoding="utf-8",
    )
    net = load_network(osm)
    assert net.n_segments == 1  # only 12 - 13 remains
    assert net.seg_len_m[0] == pytest.approx(111, abs=2)
