"""The CAD drawing: layers, metres in the stated coordinate system, Chinese texts that ezdxf and GDAL read."""

from __future__ import annotations

import ezdxf
import numpy as np
import pyogrio
import pytest
from pyproj import Transformer

from circles.outputs.dxf import DXF_LAYERS, TEXT_STYLE, mtext_escape
from circles.outputs.export import export, export_layers
from circles.planning.sites import choose_sites

from synthetic_line import synthetic_candidates, synthetic_plan


@pytest.fixture(scope="module")
def line(tmp_path_factory):
    res = synthetic_plan(tmp_path_factory.mktemp("dxf"), categories=("canteen",))
    return res, choose_sites(res, "canteen", 2, synthetic_candidates())


def _texts(doc, layer):
    return [ezdxf.decode_dxf_unicode(e.text) for e in doc.modelspace().query(f'MTEXT[layer=="{layer}"]')]


def test_dxf_layers_units_crs_and_chinese_labels(line, tmp_path):
    res, ch = line
    path = export(res, tmp_path / "sites.dxf", sites=ch)  # the region's Gauss-Kruger zone by default
    doc = ezdxf.readfile(path)
    assert doc.dxfversion == "AC1024" and doc.header["$INSUNITS"] == 6 and doc.header["$MEASUREMENT"] == 1
    custom = dict(doc.header.custom_vars)
    assert custom["CRS"].startswith("EPSG:4544 CGCS2000 / 3-degree Gauss-Kruger CM 105E")
    assert custom["CRS_EPSG"] == "4544" and custom["UNITS"].startswith("metres")
    names = {layer.dxf.name for layer in doc.layers}
    assert set(DXF_LAYERS) <= names
    assert {f"SERVICE_{s}_{m}MIN" for s in ("EXISTING", "WITH_SITES") for m in (5, 10, 15)} <= names
    used = {e.dxf.layer for e in doc.modelspace()}
    assert {"SITE_OUTLINE", "SITE_LABEL", "GAP_COMMUNITY", "GAP_LABEL", "NOTES"} <= used
    assert doc.styles.get(TEXT_STYLE).dxf.font == "simsun.ttc"
    assert all(e.dxf.style == TEXT_STYLE for e in doc.modelspace().query("MTEXT"))
    labels = _texts(doc, "SITE_LABEL")
    assert labels[0].split("\\P") == ["#1 用户候选 乙停车场", "1,600 m² · 40 × 40 m"]
    assert labels[1].startswith("#2 用户候选 丙绿地\\P300 m²")
    assert "测试小区1" in _texts(doc, "GAP_LABEL")
    note = _texts(doc, "NOTES")[0]
    assert "EPSG:4544" in note and "米 metres" in note and "OpenStreetMap" in note
    # B's outline in Gauss-Kruger metres: the polygon of the candidate, projected
    b = ch.sites.geometry.iat[0]
    tr = Transformer.from_crs("EPSG:4326", "EPSG:4544", always_xy=True)
    expect = np.column_stack(tr.transform(*np.asarray(b.exterior.coords)[:-1].T))
    outline = doc.modelspace().query('LWPOLYLINE[layer=="SITE_OUTLINE"]')[0]
    got = np.array([p[:2] for p in outline.get_points()])
    np.testing.assert_allclose(np.sort(got, axis=0), np.sort(expect, axis=0), atol=0.01)
    assert outline.closed
    # C is a point: a 5 m circle at its place
    circle = doc.modelspace().query('CIRCLE[layer=="SITE_OUTLINE"]')[0]
    assert circle.dxf.radius == 5.0


def test_dxf_reads_in_gdal_with_chinese_text(line, tmp_path):
    res, ch = line
    path = export(res, tmp_path / "sites.dxf", sites=ch, crs="EPSG:32648")
    df = pyogrio.read_dataframe(path)
    assert {"SITE_OUTLINE", "SITE_LABEL", "GAP_COMMUNITY", "NOTES"} <= set(df["Layer"])
    labels = list(df.loc[df["Layer"] == "SITE_LABEL", "Text"])
    assert labels[0] == "#1 用户候选 乙停车场\n1,600 m² · 40 × 40 m"
    assert dict(ezdxf.readfile(path).header.custom_vars)["CRS_EPSG"] == "32648"
    # the drawing sits where the sites are, in metres of UTM 48N
    sites = export_layers(res, sites=ch)["sites"].to_crs("EPSG:32648")
    x0, y0, x1, y1 = df[df["Layer"] == "SITE_OUTLINE"].total_bounds
    assert (
        x0 - 10 < sites.geometry.x.min()
        and sites.geometry.x.max() < x1 + 10
        and y0 - 60 < sites.geometry.y.min()
    )


def test_mtext_escape_round_trips():
    text = "成都{东}\\路 m² 𠀀\nline 2"
    escaped = mtext_escape(text)
    assert escaped.replace("𠀀", "").isascii() and "\\P" in escaped and "\\{" in escaped
    back = ezdxf.decode_dxf_unicode(escaped)
    assert back.split("\\P")[0] == "成都\\{东\\}\\\\路 m² 𠀀" and back.endswith("line 2")


def test_dxf_of_the_default_region_has_streets_and_buildings(default_plan_result, tmp_path):
    res = default_plan_result
    ch = choose_sites(res, "canteen", 3)
    path = export(res, tmp_path / "chengdu.dxf", sites=ch)
    doc = ezdxf.readfile(path)
    used = {e.dxf.layer for e in doc.modelspace()}
    assert {"CONTEXT_STREET", "CONTEXT_BUILDING", "STREET_NAME", "SITE_OUTLINE"} <= used
    names = _texts(doc, "STREET_NAME")
    assert any("路" in n or "街" in n for n in names)
    xs = [p[0] for e in doc.modelspace().query('LWPOLYLINE[layer=="CONTEXT_STREET"]') for p in e.get_points()]
    assert 380_000 < min(xs) and max(xs) < 430_000  # CGCS2000 GK CM 105E eastings around Chengdu
    df = pyogrio.read_dataframe(path)
    assert df.loc[df["Layer"] == "STREET_NAME", "Text"].str.contains("[\u4e00-\u9fff]").any()


def test_sites_command_writes_dxf_and_projected_exports(tmp_path, chengdu_osm):
    from typer.testing import CliRunner

    from circles.cli import app

    runner = CliRunner()
    out = tmp_path / "sites.dxf"
    res = runner.invoke(app, ["sites", "--category", "canteen", "--k", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "usable" in res.output and " × " in res.output  # site sizes in the listing
    assert dict(ezdxf.readfile(out).header.custom_vars)["CRS_EPSG"] == "4544"
    overrides = tmp_path / "o.csv"
    overrides.write_text("site_id,usable,reason\nosm:w132543616,yes,test\n", encoding="utf-8")
    gpkg = tmp_path / "sites.gpkg"
    args = ["sites", "--category", "canteen", "--k", "3", "--out", str(gpkg), "--crs", "cgcs2000-gk"]
    res = runner.invoke(app, [*args, "--overrides", str(overrides)])
    assert res.exit_code == 0, res.output
    assert pyogrio.read_info(gpkg, layer="sites")["crs"] == "EPSG:4544"
    cand = pyogrio.read_dataframe(gpkg, layer="candidates").set_index("site_id")
    assert cand.loc["osm:w132543616", "usable"] and "user" in cand.loc["osm:w132543616", "rules"]
    for bad in (["--crs", "wgs84", "--out", str(tmp_path / "x.dxf")], ["--crs", "nope", "--out", str(gpkg)]):
        res = runner.invoke(app, ["sites", "--category", "canteen", *bad])
        assert res.exit_code == 2 and "Traceback" not in res.output and "--crs" in res.output
    res = runner.invoke(
        app, ["sites", "--category", "canteen", "--out", str(gpkg), "--candidates-crs", "gcj02"]
    )
    assert res.exit_code == 2 and "no longer accepted" in res.output
