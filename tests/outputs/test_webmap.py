"""Structure of the coverage map's HTML (no browser): layers, legend, attribution, offline assets,
GCJ-02 shift for 高德 tiles, size."""

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


def test_write_map_creates_parents_and_returns_path(full_html):
    page, path = full_html
    assert path.exists() and path.parent.name == "sub"
    assert page.startswith("<!DOCTYPE html>")
    assert not list(path.parent.glob("*.tmp"))


def test_every_category_and_level_is_a_layer(result, full_html):
    from circles.outputs.webmap import DISTRICTS_LAYER, LEVELS_MIN, STREETS_LAYER, layer_names

    page, _ = full_html
    overlays = _overlay_names(page)
    planned = set(result.coverage["category"])
    cats = [c for c in result.data.catalog.values() if c.key in planned]
    assert len(overlays) == 5 * len(cats) + 2
    assert overlays[-2:] == [STREETS_LAYER, DISTRICTS_LAYER]  # context, drawn underneath
    for cat in cats:
        names = layer_names(cat)
        assert set(names) == {*(f"area_{lv}" for lv in LEVELS_MIN), "facilities", "communities"}
        for name in names.values():
            assert name in overlays, name
            assert _htmlsafe(name) in page  # CJK written as UTF-8, not \\u escapes
    assert overlays[0].startswith("社区食堂 Community canteen")  # the default view comes first
    assert "社区10分钟覆盖率与缺口 community share and gaps (10 min)" in page


def test_only_the_chosen_category_is_shown(result, full_html):
    """Layers with show=False are created but not added: only canteen's are added on load."""
    page, _ = full_html
    block = re.search(r"overlays\s*:\s*\{(.*?)\}\s*,\s*\};", page, re.S).group(1)
    var_of = dict(re.findall(r'^\s*("(?:[^"\\]|\\.)*")\s*:\s*(\w+)\s*,', block, re.M))
    shown = {json.loads(k) for k, v in var_of.items() if re.search(rf"\b{v}\.addTo\(", page)}
    assert shown == {
        "街道网络 Street network (OSM)",
        "区界 District boundaries",  # offline orientation
        "社区食堂 Community canteen · 10分钟步行范围 10-min walk area",
        "社区食堂 Community canteen · 设施 facilities",
        "社区食堂 Community canteen · 社区10分钟覆盖率与缺口 community share and gaps (10 min)",
    }


def test_legend_title_attribution_and_weighting(result, full_html):
    page, _ = full_html
    for text in (
        "图例 Legend",
        "社区覆盖率 Community covered share",
        "服务范围 Service areas",
        "示例数据 SAMPLE",
        "not observed",
        "black outline = gap",
        "图层 Layers",
        "© OpenStreetMap contributors",
        result.data.region.name_zh,
        "OpenStreetMap 2018",
    ):
        assert text in page, text
    assert result.data.weight_kind == "area"
    assert "AREA-weighted" in page and "按面积加权 area-weighted" in page
    assert "addAttribution" in page
    assert re.search(r"L\.control\.scale\(", page)
    assert "L.control.layers(" in page and '"collapsed": false' in page


def test_answer_line_counts_canteen_gaps_within_10_minutes(result, canteen_html):
    cov = result.coverage[result.coverage["category"] == "canteen"]
    lacking = int((cov["applies"] & (cov["share_10"] < cov["target_share"] - 1e-9)).sum())
    m = re.search(r'<b class="big">(\d+) / (\d+)</b>', canteen_html)
    assert m and (int(m.group(1)), int(m.group(2))) == (lacking, int(cov["applies"].sum()))
    assert lacking > 0


def test_communities_coloured_by_10_minute_share_and_gaps_outlined(result, canteen_html):
    from circles.outputs.webmap_style import GAP_OUTLINE, share_colour

    fc = _geojson_layers(canteen_html)
    comm = next(f for f in fc if f["features"] and f["features"][0]["id"].startswith("c"))
    cov = result.coverage[result.coverage["category"] == "canteen"].set_index("community_row")
    assert len(comm["features"]) == len(result.data.communities)
    for feat in comm["features"]:
        row = cov.loc[int(feat["id"][1:])]
        assert feat["properties"]["c"] == share_colour(row["share_10"])
        assert feat["properties"]["g"] == int(row["share_10"] < row["target_share"] - 1e-9)
    tip = comm["features"][0]["properties"]["tip"]
    assert "covered within 10 min" in tip and "Nearest" in tip and "area-weighted" in tip
    assert f'"color": "{GAP_OUTLINE}"' in canteen_html


def test_sample_facilities_marked(result, canteen_html):
    fac = result.data.facilities
    assert (fac.loc[fac["category"] == "canteen", "source"] == "sample").all()
    popups = [
        f["properties"]["popup"]
        for fc in _geojson_layers(canteen_html)
        for f in fc["features"]
        if "popup" in f["properties"]
    ]
    assert len(popups) == int((fac["category"] == "canteen").sum())
    assert all("示例数据 SAMPLE, not observed" in p and "社区食堂 / Community canteen" in p for p in popups)
    assert '"dashArray": "3 2"' in canteen_html  # hollow dashed marker


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
    coords = re.findall(r"\[(1\d\d\.\d+), (\d\d\.\d+)\]", page)
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
    wgs = json.dumps([round(lon, 6), round(lat, 6)])
    gcj = json.dumps([round(glon, 6), round(glat, 6)])
    assert wgs in canteen_html and gcj not in canteen_html
    assert gcj in amap_html and wgs not in amap_html
    assert "autonavi.com" in amap_html and "GCJ-02" in amap_html
    # every layer moved: communities and service areas too
    plain, shifted = _geojson_layers(canteen_html), _geojson_layers(amap_html)
    assert len(plain) == len(shifted)
    for a, b in zip(plain, shifted):
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
    names = _overlay_names(page)
    assert len(names) == 12 and names[0].startswith("公园绿地 Park")
    assert "社区15分钟覆盖率与缺口" in page


# ----------------------------------------------------------------------------------------- helpers
def _htmlsafe(text: str) -> str:
    """``text`` as Jinja's ``tojson`` writes it inside a script (after the UTF-8 pass)."""
    for ch, esc in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("'", "\\u0027")):
        text = text.replace(ch, esc)
    return text


def _geojson_layers(page: str) -> list[dict]:
    return [json.loads(m) for m in re.findall(r"_add\((\{.*?\})\);\n", page)]


def _first_xy(geom: dict) -> tuple[float, float]:
    c = np.asarray(geom["coordinates"] if geom["type"] == "Point" else _first_ring(geom), dtype=float)
    return float(c.reshape(-1, 2)[0, 0]), float(c.reshape(-1, 2)[0, 1])


def _first_ring(geom: dict):
    c = geom["coordinates"]
    while isinstance(c[0][0], list):
        c = c[0]
    return c
