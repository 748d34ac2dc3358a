"""Structure of the coverage map's HTML (no browser): the one-category switcher, the map's data
(coverage columns, areas, facilities), marker styles shared by markers and legend, the headline per
category, legend, attribution, offline assets, GCJ-02 shift for 高德 tiles, size."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from circles.errors import InputError, UnknownCategoryError
from circles.io.coords import wgs84_to_gcj02

MB = 1_000_000


@pytest.fixture(scope="module")
def result(default_plan_result):
    return default_plan_result


@pytest.fixture(scope="module")
def full_html(result, tmp_path_factory):
    from circles.outputs.webmap import write_map

    path = write_map(result, tmp_path_factory.mktemp("map") / "sub" / "chengdu-central.html")
    return path.read_text(encoding="utf-8"), path


@pytest.fixture(scope="module")
def canteen_html(result):
    from circles.outputs.webmap import render_map

    return render_map(result, category="canteen")


@pytest.fixture(scope="module")
def amap_html(result):
    from circles.outputs.webmap import render_map

    return render_map(result, category="canteen", tiles="amap")


def _overlay_names(page: str) -> list[str]:
    """Overlay names as the LayerControl script registers them."""
    block = re.search(r"overlays\s*:\s*\{(.*?)\}\s*,\s*\};", page, re.S)
    assert block, "no LayerControl overlays in the page"
    return [json.loads(s) for s in re.findall(r'^\s*("(?:[^"\\]|\\.)*")\s*:', block.group(1), re.M)]


def _data(page: str) -> dict:
    """The map's data (``#circles-data``)."""
    m = re.search(r'<script type="application/json" id="circles-data">(.*?)</script>', page, re.S)
    assert m, "no map data in the page"
    return json.loads(m.group(1))


def _cat(data: dict, key: str) -> dict:
    return next(c for c in data["cats"] if c["key"] == key)


def test_write_map_creates_parents_and_returns_path(full_html):
    page, path = full_html
    assert path.exists() and path.parent.name == "sub"
    assert page.startswith("<!DOCTYPE html>")
    assert not list(path.parent.glob("*.tmp"))


def test_one_category_switcher_not_checkboxes(result, full_html):
    """Every planned category is a radio button (one checked: canteen); walking time too; the layer
    control holds only the context layers, never a category's layers."""
    from circles.outputs.webmap import DISTRICTS_LAYER, LEVELS_MIN, STREETS_LAYER

    page, _ = full_html
    planned = set(result.coverage["category"])
    keys = [c.key for c in result.data.catalog.values() if c.key in planned]
    radios = re.findall(r'<input type="radio" name="circles-cat" value="([^"]+)"( checked)?>', page)
    assert [k for k, _ in radios] == keys  # catalog order
    assert [k for k, checked in radios if checked] == ["canteen"]
    mins = re.findall(r'<input type="radio" name="circles-min" value="(\d+)"( checked)?>', page)
    assert [int(v) for v, _ in mins] == list(LEVELS_MIN) and [v for v, c in mins if c] == ["10"]
    assert 'type="checkbox" name="circles' not in page
    assert _overlay_names(page) == [STREETS_LAYER, DISTRICTS_LAYER]  # context only
    data = _data(page)
    assert data["cat"] == "canteen" and data["minutes"] == 10
    assert [c["key"] for c in data["cats"]] == keys
    for cat in data["cats"]:
        assert set(cat["areas"]) == {str(lv) for lv in LEVELS_MIN}
        assert set(cat["share"]) == set(cat["gap"]) == {str(lv) for lv in LEVELS_MIN}
    # communities are drawn once (not once per category)
    assert len(data["communities"]["features"]) == len(result.data.communities)


def test_layer_names_kept(result):
    from circles.outputs.webmap import LEVELS_MIN, layer_names

    names = layer_names(result.data.catalog.get("canteen"))
    assert set(names) == {*(f"area_{lv}" for lv in LEVELS_MIN), "facilities", "communities"}
    assert names["communities"].startswith("社区食堂 Community canteen")


def test_legend_title_attribution_and_weighting(result, full_html):
    page, _ = full_html
    for text in (
        "图例 Legend",
        "社区覆盖率 Community covered share",
        "服务范围 Service areas",
        "示例数据 SAMPLE",
        "not observed",
        "black outline = gap",
        "底图与参考图层 Base map and context",
        "设施类别 Category",
        "步行时间 Walking time",
        "范围 Area",
        "© OpenStreetMap contributors",
        result.data.region.name_zh,
        "OpenStreetMap 2018",
    ):
        assert text in page, text
    assert result.data.weight_kind == "area"
    assert "AREA-weighted" in page and "按面积加权 area-weighted" in page  # legend; tooltip (script)
    assert "addAttribution" in page
    assert re.search(r"L\.control\.scale\(", page)
    assert "L.control.layers(" in page and '"collapsed": false' in page


def test_answer_line_counts_canteen_gaps_within_10_minutes(result, canteen_html):
    cov = result.coverage[result.coverage["category"] == "canteen"]
    lacking = int((cov["applies"] & (cov["share_10"] < cov["target_share"] - 1e-9)).sum())
    m = re.search(r'<b class="big">(\d+) / (\d+)</b>', canteen_html)
    assert m and (int(m.group(1)), int(m.group(2))) == (lacking, int(cov["applies"].sum()))
    assert lacking > 0


def test_coverage_columns_per_level_and_gaps(result, canteen_html):
    """Per community and level: the share and the gap flag (share below target) the page shades and
    outlines by; the share classes the script colours with are the Python ones."""
    from circles.outputs.webmap import LEVELS_MIN
    from circles.outputs.webmap_style import GAP_OUTLINE, SHARE_CLASSES

    data = _data(canteen_html)
    cat = _cat(data, "canteen")
    cov = result.coverage[result.coverage["category"] == "canteen"].set_index("community_row")
    n = len(result.data.communities)
    assert len(cat["applies"]) == n
    for lv in LEVELS_MIN:
        for i in range(n):
            row = cov.loc[i]
            assert cat["applies"][i] == int(bool(row["applies"]))
            if row["applies"]:
                assert cat["share"][str(lv)][i] == pytest.approx(row[f"share_{lv}"], abs=1e-4)
                assert cat["gap"][str(lv)][i] == int(row[f"share_{lv}"] < row["target_share"] - 1e-9)
            else:
                assert cat["gap"][str(lv)][i] == 0
    assert data["style"]["shareClasses"] == [list(c) for c in SHARE_CLASSES]
    assert data["style"]["gapOutline"] == GAP_OUTLINE
    assert sum(cat["gap"]["10"]) > 0
    # tooltips are built by the script from these columns
    assert "covered within" in canteen_html and "Nearest" in canteen_html


def test_headline_follows_the_category_from_the_data(result, full_html):
    """The headline the page shows for each category and level (built from the data by the same
    template the script fills) counts that category's gaps in the coverage table."""
    from circles.outputs.webmap import LEVELS_MIN
    from circles.outputs.webmap_html import ANSWER_TEMPLATE, headline_html

    page, _ = full_html
    data = _data(page)
    assert data["text"]["answer"] == ANSWER_TEMPLATE  # the script fills the same template
    for cat in data["cats"]:
        cov = result.coverage[result.coverage["category"] == cat["key"]]
        for lv in LEVELS_MIN:
            text = headline_html(cat, data["comm"], lv, data["weightKind"])
            lacking = int((cov["applies"] & (cov[f"share_{lv}"] < cov["target_share"] - 1e-9)).sum())
            m = re.search(r'<b class="big">(\d+) / (\d+)</b>', text)
            assert m and (int(m.group(1)), int(m.group(2))) == (lacking, int(cov["applies"].sum()))
            assert cat["zh"] in text and f"{lv}分钟步行内未达标" in text
    res = data["comm"]["residents"]
    assert any(v is not None for v in res)  # census estimate: resident numbers in the headline
    assert "Residents of gap communities" in headline_html(_cat(data, "park"), data["comm"], 10, "area")


def test_sample_facilities_marked(result, canteen_html, full_html):
    fac = result.data.facilities
    assert (fac.loc[fac["category"] == "canteen", "source"] == "sample").all()
    feats = _cat(_data(canteen_html), "canteen")["facilities"]["features"]
    assert len(feats) == int((fac["category"] == "canteen").sum())
    assert {f["properties"]["s"] for f in feats} == {"sample"}
    popups = [f["properties"]["popup"] for f in feats]
    assert all("示例数据 SAMPLE, not observed" in p and "社区食堂 / Community canteen" in p for p in popups)
    park = _cat(_data(full_html[0]), "park")["facilities"]["features"]
    assert park and {f["properties"]["s"] for f in park} == {"osm"}


def test_marker_styles_are_the_legend(result, full_html):
    """Markers and legend swatches come from one definition: the data's marker options are
    ``marker_style`` and the legend's SVG circles carry the same fill, ring and dashes. Observed =
    filled, SAMPLE = hollow with open dashes (butt caps), user and proposed distinct."""
    from circles.outputs.webmap_style import MARKER_SOURCES, marker_style

    page, _ = full_html
    data = _data(page)
    for cat in data["cats"]:
        for src in MARKER_SOURCES:
            assert cat["markers"][src] == json.loads(json.dumps(marker_style(src, cat["colour"])))
    shown = _cat(data, "canteen")
    legend = re.search(r'<div class="circles-legend" id="circles-legend">(.*?)</div></div>', page, re.S)
    assert legend
    for src in MARKER_SOURCES:
        st = shown["markers"][src]
        m = re.search(rf'<svg class="marker" data-src="{src}"[^>]*><circle ([^>]*)>', legend.group(0))
        assert m, src
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(1)))
        assert attrs["fill"] == st["fillColor"] and attrs["stroke"] == st["color"]
        assert float(attrs["fill-opacity"]) == st["fillOpacity"]
        assert float(attrs["stroke-width"]) == st["weight"] and float(attrs["r"]) == st["radius"]
        assert attrs.get("stroke-dasharray") == (st["dashArray"] or None)
        assert attrs["stroke-linecap"] == st["lineCap"]
    osm, sample = marker_style("osm", "#123456"), marker_style("sample", "#123456")
    user, proposed = marker_style("user", "#123456"), marker_style("proposed", "#123456")
    assert (
        osm["fill"] and osm["fillColor"] == "#123456" and osm["fillOpacity"] == 1.0 and not osm["dashArray"]
    )
    assert sample["fillColor"] == "#ffffff" and sample["color"] == "#123456" and sample["dashArray"]
    assert sample["lineCap"] == "butt"  # round caps would close the dash gaps
    gap_px = float(str(sample["dashArray"]).split()[1])
    assert gap_px >= 3 and sample["radius"] >= 7  # gaps visible at every zoom (radius in px)
    assert user["color"] == "#000000" and user["fillColor"] == "#123456"
    assert proposed["fillColor"] not in ("#ffffff", "#123456") and proposed["dashArray"]
    kinds = [tuple(sorted((k, str(v)) for k, v in d.items())) for d in (osm, sample, user, proposed)]
    assert len(set(kinds)) == 4
    assert "实心 = OSM 观测设施 filled = observed (OSM)" in page


def test_offline_no_tiles_no_cdn(full_html):
    page, _ = full_html
    assert "L.tileLayer(" not in page
    assert not re.search(r"https?://[^\"'\s]*\{z\}", page)
    assert "tile.openstreetmap.org" not in page and "autonavi" not in page
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=", page)
    assert "Leaflet 1.9.4" in page  # inlined
    assert "images/layers.png" not in page  # CSS images inlined as data URIs


def test_size_and_rounding(full_html):
    page, path = full_html
    assert path.stat().st_size < 10 * MB
    coords = re.findall(r"\[(1\d\d\.\d+), ?(\d\d\.\d+)\]", page)
    assert coords
    assert max(len(x.split(".")[1]) for x, _ in coords[:2000]) <= 6


def test_osm_tiles(result):
    from circles.outputs.webmap import render_map

    page = render_map(result, category="park", tiles="osm")
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in page
    assert "OpenStreetMap 底图 base map" in page
    assert "L.tileLayer(" in page


def test_amap_tiles_shift_every_layer_to_gcj02(result, canteen_html, amap_html):
    fac = result.data.facilities
    f = fac[fac["category"] == "canteen"].iloc[0]
    lon, lat = float(f.geometry.x), float(f.geometry.y)
    glon, glat = (float(v) for v in wgs84_to_gcj02(lon, lat))
    assert 0.0015 < abs(glon - lon) + abs(glat - lat) < 0.006  # the GCJ-02 offset in Chengdu
    wgs = json.dumps([round(lon, 6), round(lat, 6)], separators=(",", ":"))  # the data's compact JSON
    gcj = json.dumps([round(glon, 6), round(glat, 6)], separators=(",", ":"))
    assert wgs in canteen_html and gcj not in canteen_html
    assert gcj in amap_html and wgs not in amap_html
    assert "autonavi.com" in amap_html and "GCJ-02" in amap_html
    # every layer moved: communities, service areas and facilities of every category
    plain, shifted = _data(canteen_html), _data(amap_html)
    pairs = [(plain["communities"], shifted["communities"])]
    for a, b in zip(plain["cats"], shifted["cats"]):
        pairs += [(a["facilities"], b["facilities"])] + [
            (a["areas"][lv], b["areas"][lv]) for lv in a["areas"]
        ]
    for a, b in pairs:
        assert len(a["features"]) == len(b["features"])
        for fa, fb in zip(a["features"], b["features"]):
            pa, pb = _first_xy(fa["geometry"]), _first_xy(fb["geometry"])
            ex, ey = wgs84_to_gcj02(pa[0], pa[1])
            assert abs(pb[0] - ex) < 2e-6 and abs(pb[1] - ey) < 2e-6


def test_custom_tiles_need_attribution(result):
    from circles.outputs.webmap import render_map, resolve_tiles

    with pytest.raises(InputError):
        resolve_tiles("https://example.org/{z}/{x}/{y}.png")
    with pytest.raises(InputError):
        resolve_tiles("not-a-tile-source")
    spec = resolve_tiles("https://example.org/{z}/{x}/{y}.png", "© Example", "gcj02")
    assert spec.gcj02
    page = render_map(
        result, category="park", tiles="https://example.org/{z}/{x}/{y}.png", tiles_attr="© Example"
    )
    assert "https://example.org/{z}/{x}/{y}.png" in page and "© Example" in page
    assert resolve_tiles(None) is None and resolve_tiles("none") is None


def test_unknown_category_and_bad_minutes(result):
    from circles.outputs.webmap import build_map

    with pytest.raises(UnknownCategoryError):
        build_map(result, category="casino")
    with pytest.raises(UnknownCategoryError):
        build_map(result, category=["canteen", "casino"])
    with pytest.raises(InputError):
        build_map(result, category="canteen", minutes=7)


def test_several_categories_first_shown(result):
    from circles.outputs.webmap import render_map

    page = render_map(result, category=["park", "canteen"], minutes=15)
    data = _data(page)
    assert data["cat"] == "park" and data["minutes"] == 15
    assert sorted(c["key"] for c in data["cats"]) == ["canteen", "park"]
    radios = re.findall(r'name="circles-cat" value="([^"]+)"( checked)?>', page)
    assert [k for k, c in radios if c] == ["park"] and len(radios) == 2
    assert re.search(r'name="circles-min" value="15" checked', page)
    assert "公园绿地 Park" in re.search(r'id="circles-answer">(.*?)</div>', page).group(1)
    assert "15分钟步行内未达标" in page


# ----------------------------------------------------------------------------------------- helpers
def _first_xy(geom: dict) -> tuple[float, float]:
    c = np.asarray(geom["coordinates"] if geom["type"] == "Point" else _first_ring(geom), dtype=float)
    return float(c.reshape(-1, 2)[0, 0]), float(c.reshape(-1, 2)[0, 1])


def _first_ring(geom: dict):
    c = geom["coordinates"]
    while isinstance(c[0][0], list):
        c = c[0]
    return c


# ---------------------------------------------------------------- the distance measure


@pytest.fixture(scope="module")
def distance_map(tmp_path_factory):
    """(plan, page) of the synthetic straight street judged by distance (300 / 500 / 1000 m)."""
    import dataclasses

    from circles.config import get_profile
    from circles.measures import distance_profile
    from circles.outputs.webmap import render_map
    from circles.pipeline import PlanOptions, run_plan
    from circles.routing.graph import ProfileGraph

    from synthetic_line import synthetic_plan

    res = synthetic_plan(tmp_path_factory.mktemp("distance_map"))
    twin = ProfileGraph(res.data.net, distance_profile(get_profile("walk")))
    data = dataclasses.replace(
        res.data, graphs={**res.data.graphs, "walk_distance": twin}, measure="distance"
    )
    plan = run_plan(data, PlanOptions(region="synthetic", categories=["canteen"], measure="distance"))
    return plan, render_map(plan, category="canteen")


def test_a_distance_plan_map_says_metres(distance_map):
    from circles.outputs.webmap_html import DISTANCE_ANSWER_TEMPLATE

    plan, page = distance_map
    data = _data(page)
    assert data["measure"] == "distance"
    assert data["reach"] == {"5": "300 m", "10": "500 m", "15": "1000 m"}
    assert data["text"]["answer"] == DISTANCE_ANSWER_TEMPLATE  # the script names levels by metres too
    switcher = re.search(r'<div id="circles-minutes".*?</div>', page, re.S).group(0)
    labels = re.findall(r'name="circles-min" value="(\d+)"[^>]*>([^<]*)</label>', switcher)
    assert labels == [("5", "300 m"), ("10", "500 m"), ("15", "1000 m")]
    assert "分钟" not in switcher and "步行距离 Walking distance" in page
    answer = re.search(r'<div class="answer" id="circles-answer">(.*?)</div>', page, re.S).group(1)
    assert "步行500 m内未达标" in answer and "within a 500 m walk" in answer and "分钟" not in answer
    legend = re.search(r'<div class="circles-legend" id="circles-legend">.*?</div></div>', page, re.S)
    assert legend and "within 300 m walk" in page and "within 1000 m walk" in page
    assert '步行 <span class="p-min">500 m</span> walk' in page  # the print title
    canteen = _cat(data, "canteen")
    own_m = plan.data.catalog.get("canteen").walk_m  # the planning threshold in metres, in the tooltips
    assert own_m and all(v == own_m for v, a in zip(canteen["thrM"], canteen["applies"]) if a)
    # each level's area is the reach of its metres on the 1 m/s twin
    for lv, metres in (("5", 300.0), ("10", 500.0), ("15", 1000.0)):
        feats = canteen["areas"][lv]["features"]
        assert feats and all(f["properties"]["walk_m"] == metres for f in feats)
    km2 = [canteen["areas"][lv]["features"][0]["properties"]["area_km2"] for lv in ("5", "10", "15")]
    assert km2[0] < km2[1] < km2[2]


def test_a_time_plan_map_keeps_minutes(full_html):
    page, _ = full_html
    data = _data(page)
    assert data["measure"] == "time" and data["reach"] is None
    assert "步行时间 Walking time" in page and "10 分钟 min</label>" in page
