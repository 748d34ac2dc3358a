"""The command line: results on the default region, one clear line and exit 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from circles.cli import app

from osm_fixtures import WAYS, write_osm

runner = CliRunner()


def test_isochrone_on_the_default_region(tmp_path, chengdu_osm):
    out = tmp_path / "iso.geojson"
    res = runner.invoke(
        app, ["isochrone", "--lon", "104.0657", "--lat", "30.6598", "--minutes", "5,10,15", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert sorted(f["properties"]["minutes"] for f in fc["features"]) == [5, 10, 15]
    areas = {f["properties"]["minutes"]: f["properties"]["area_m2"] for f in fc["features"]}
    assert areas[5] < areas[10] < areas[15]
    assert all(f["properties"]["profile"] == "walk" for f in fc["features"])
    assert "km²" in res.output


def test_isochrone_on_any_osm_file(tmp_path):
    osm = write_osm(tmp_path / "t.osm", WAYS)
    out = tmp_path / "iso.geojson"
    res = runner.invoke(
        app,
        [
            "isochrone",
            "--osm",
            str(osm),
            "--lon",
            "104.0705",
            "--lat",
            "30.661",
            "--minutes",
            "5",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    (feat,) = json.loads(out.read_text())["features"]
    assert 0 < feat["properties"]["street_m"] <= 100.5


@pytest.mark.parametrize(
    "args,message",
    [
        (["--lon", "104.0657", "--lat", "30.0"], "outside region chengdu-central"),
        (["--lon", "204", "--lat", "30.66"], "not a valid WGS84"),
        (["--lon", "104.0657", "--lat", "30.6598", "--profile", "car"], "unknown profile 'car'"),
        (["--lon", "104.0657", "--lat", "30.6598", "--region", "atlantis"], "unknown region 'atlantis'"),
        (["--lon", "104.0657", "--lat", "30.6598", "--minutes", "5,ten"], "minutes must be numbers"),
        (["--lon", "104.0657", "--lat", "30.6598", "--osm", "/nonexistent/x.osm.pbf"], "OSM file not found"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(tmp_path, args, message, chengdu_osm):
    res = runner.invoke(app, ["isochrone", *args, "--out", str(tmp_path / "x.geojson")])
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "x.geojson").exists()


def test_point_too_far_from_streets(tmp_path):
    osm = write_osm(tmp_path / "t.osm", WAYS)
    res = runner.invoke(
        app,
        [
            "isochrone",
            "--osm",
            str(osm),
            "--lon",
            "104.0727",
            "--lat",
            "30.661",
            "--max-snap-m",
            "100",
            "--out",
            str(tmp_path / "x.geojson"),
        ],
    )
    assert res.exit_code == 2 and "farther than 100 m" in res.output
    res = runner.invoke(
        app,
        [
            "isochrone",
            "--osm",
            str(osm),
            "--lon",
            "104.2",
            "--lat",
            "30.661",
            "--out",
            str(tmp_path / "x.geojson"),
        ],
    )
    assert res.exit_code == 2 and "outside the network of t.osm" in res.output


def test_network_report(chengdu_osm):
    res = runner.invoke(app, ["network"])
    assert res.exit_code == 0
    rep = json.loads(res.output)
    assert rep["islands"]["n_islands"] >= 1 and rep["nodes"] > 8000


def test_map_command_and_plan_writes_the_map(tmp_path, chengdu_osm):
    out = tmp_path / "m.html"
    res = runner.invoke(app, ["map", "--category", "canteen", "--out", str(out)])
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    assert "社区食堂" in html and "© OpenStreetMap contributors" in html
    res = runner.invoke(app, ["plan", "--category", "park", "--out", str(tmp_path / "p")])
    assert res.exit_code == 0 and (tmp_path / "p" / "map.html").exists()
    bad = runner.invoke(app, ["map", "--minutes", "7", "--out", str(tmp_path / "x.html")])
    assert bad.exit_code == 2 and "minutes" in bad.output and not (tmp_path / "x.html").exists()


def test_sites_command_exports_a_shapefile_zip(tmp_path, chengdu_osm):
    import pyogrio

    out = tmp_path / "sites.shp.zip"
    res = runner.invoke(app, ["sites", "--category", "canteen", "--k", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "MILP (HiGHS)" in res.output and "residential area" in res.output
    layers = [name for name, _ in pyogrio.list_layers(f"/vsizip/{out}")]
    assert "sites" in layers
    df = pyogrio.read_dataframe(f"/vsizip/{out}", layer="sites")
    assert 1 <= len(df) <= 3 and df.crs.to_epsg() == 4326
    bad = runner.invoke(app, ["sites", "--category", "canteen", "--out", str(tmp_path / "x.docx")])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


@pytest.mark.parametrize(
    "opt,value",
    [
        ("--buffer-m", "nan"),
        ("--buffer-m", "-5"),
        ("--buffer-m", "inf"),
        ("--max-snap-m", "0"),
        ("--max-snap-m", "nan"),
    ],
)
def test_isochrone_option_ranges(tmp_path, opt, value, chengdu_osm):
    res = runner.invoke(
        app,
        [
            "isochrone",
            "--lon",
            "104.0657",
            "--lat",
            "30.6598",
            opt,
            value,
            "--out",
            str(tmp_path / "x.geojson"),
        ],
    )
    assert res.exit_code == 2 and opt in res.output and "Traceback" not in res.output


def test_outputs_that_are_directories_or_files(tmp_path, chengdu_osm):
    res = runner.invoke(app, ["isochrone", "--lon", "104.0657", "--lat", "30.6598", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "is a directory" in res.output
    f = tmp_path / "f.txt"
    f.write_text("keep me")
    res = runner.invoke(app, ["plan", "--out", str(f)])
    assert res.exit_code == 2 and "is a file" in res.output and f.read_text() == "keep me"


# --- a planner's own registers: one coordinate system per file ---------------------------------------


def _register(path, rows):
    import pandas as pd

    pd.DataFrame(rows, columns=["名称", "类别", "经度", "纬度"]).to_csv(
        path, index=False, encoding="utf-8-sig"
    )
    return path


def test_plan_refuses_an_undeclared_table_and_the_old_global_crs(tmp_path, chengdu_osm):
    reg = _register(tmp_path / "食堂.csv", [["甲食堂", "社区食堂", 104.0657, 30.6598]])
    res = runner.invoke(app, ["plan", "--out", str(tmp_path / "o"), "--facilities", str(reg)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    for choice in ("wgs84", "gcj02", "bd09", "EPSG"):
        assert choice in res.output
    assert not (tmp_path / "o").exists()  # nothing written
    old = runner.invoke(
        app, ["plan", "--out", str(tmp_path / "o"), "--facilities", str(reg), "--crs", "gcj02"]
    )
    assert old.exit_code == 2 and "no longer accepted" in old.output and "canteens.xlsx:gcj02" in old.output
    bad = runner.invoke(app, ["plan", "--out", str(tmp_path / "o"), "--facilities", f"{reg}:mars"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_plan_with_a_chinese_gcj02_register(tmp_path, chengdu_osm):
    """类别 = 社区食堂, 经度/纬度 in GCJ-02, declared per file: the canteens land where they belong."""
    from circles.io.coords import wgs84_to_gcj02

    lon, lat = wgs84_to_gcj02([104.0657, 104.0712], [30.6598, 30.6631])
    reg = _register(
        tmp_path / "canteens.csv",
        [["甲食堂", "社区食堂", lon[0], lat[0]], ["乙食堂", "食堂", lon[1], lat[1]]],
    )
    out = tmp_path / "o"
    res = runner.invoke(
        app, ["plan", "--out", str(out), "--facilities", f"{reg}:gcj02", "--category", "社区食堂", "--no-map"]
    )
    assert res.exit_code == 0, res.output
    fac = json.loads((out / "facilities.geojson").read_text(encoding="utf-8"))["features"]
    user = [f for f in fac if f["properties"]["source"] == "user"]
    assert len(user) == 2 and {f["properties"]["category"] for f in user} == {"canteen"}
    x, y = user[0]["geometry"]["coordinates"]
    assert abs(x - 104.0657) < 2e-5 and abs(y - 30.6598) < 2e-5  # converted back to WGS84
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["input_checks"][0]["crs_read_as"] == "gcj02"


def test_gaps_within_any_minutes_rolled_up(tmp_path, chengdu_osm):
    """'Which communities lack a canteen within 10 minutes', per district, as Excel; and per 小区 as CSV."""
    import openpyxl
    import pandas as pd

    xlsx = tmp_path / "g.xlsx"
    res = runner.invoke(
        app,
        ["gaps", "--category", "社区食堂", "--minutes", "10", "--group-by", "district", "--out", str(xlsx)],
    )
    assert res.exit_code == 0, res.output
    wb = openpyxl.load_workbook(xlsx)
    rows = list(wb[wb.sheetnames[1]].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert header[1] == "单元 unit" and {r[2] for r in body} == {"district"}
    assert len({r[1] for r in body}) == len(body) >= 3  # one row per district
    short_10 = sum(r[5] for r in body)
    csv = tmp_path / "g.csv"
    res = runner.invoke(app, ["gaps", "--category", "canteen", "--minutes", "15", "--out", str(csv)])
    assert res.exit_code == 0, res.output
    per_row_15 = pd.read_csv(csv, encoding="utf-8-sig")
    assert (per_row_15["category"] == "canteen").all() and len(per_row_15) <= short_10  # 15 min reaches more
    bad = runner.invoke(app, ["gaps", "--district", "Nowhere", "--out", str(tmp_path / "other.csv")])
    assert bad.exit_code == 2 and "成华区 (Chenghua)" in bad.output


def test_isochrone_raster_and_exact_polygons_agree(tmp_path, chengdu_osm):
    import shapely
    from shapely.geometry import shape

    polys = {}
    for flag in ([], ["--exact-polygon"]):
        out = tmp_path / f"iso{len(flag)}.geojson"
        args = ["isochrone", "--lon", "104.0657", "--lat", "30.6598", "--minutes", "10", "--out", str(out)]
        res = runner.invoke(app, args + flag)
        assert res.exit_code == 0, res.output
        polys[len(flag)] = shape(json.loads(out.read_text(encoding="utf-8"))["features"][0]["geometry"])
    raster, exact = polys[0], polys[1]
    iou = shapely.area(shapely.intersection(raster, exact)) / shapely.area(shapely.union(raster, exact))
    assert iou > 0.97


def test_outputs_are_not_overwritten_without_force(tmp_path, chengdu_osm):
    out = tmp_path / "iso.geojson"
    args = ["isochrone", "--lon", "104.0657", "--lat", "30.6598", "--minutes", "5", "--out", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    before = out.read_bytes()
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--force" in again.output and out.read_bytes() == before
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
    folder = tmp_path / "plan"
    folder.mkdir()
    (folder / "summary.json").write_text("{}", encoding="utf-8")
    res = runner.invoke(app, ["plan", "--out", str(folder), "--category", "canteen", "--no-map"])
    assert res.exit_code == 2 and "summary.json" in res.output and "--force" in res.output
    assert (folder / "summary.json").read_text(encoding="utf-8") == "{}"  # untouched


def test_country_picks_the_access_rule_set():
    """--country overrides the region's rule set: Finland walks cycleways, China does not (OSM wiki
    access table, data/access_rules.toml), so the same extract has more walkable street under FI."""
    reports = {}
    for country in ("CN", "fi"):
        res = runner.invoke(app, ["network", "--country", country])
        assert res.exit_code == 0, res.output
        reports[country] = json.loads(res.output)
    assert reports["CN"]["access_rules"] == "CN" and reports["fi"]["access_rules"] == "FI"
    assert reports["fi"]["segments"] > reports["CN"]["segments"]
    assert reports["fi"]["street_km"] > reports["CN"]["street_km"]
    default = json.loads(runner.invoke(app, ["network"]).output)
    assert default["access_rules"] == "CN"  # regions.toml: country = "CN"


@pytest.mark.parametrize("bad", ["X1", "china", "C"])
def test_bad_country_is_one_line(bad, tmp_path):
    res = runner.invoke(app, ["network", "--country", bad])
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0 and "ISO 3166-1 alpha-2" in res.output
    res = runner.invoke(app, ["plan", "--country", bad, "--out", str(tmp_path / "p")])
    assert res.exit_code == 2 and "ISO 3166-1 alpha-2" in res.output


@pytest.mark.parametrize(
    ("var", "where"),
    [("CIRCLES_DATA_DIR", "shared_data_dir"), ("CIRCLES_PROJECT_DATA", "project_data_dir")],
)
def test_an_empty_data_folder_variable_is_unset(monkeypatch, tmp_path, var, where):
    """``CIRCLES_DATA_DIR=`` (empty) means the default folder, not the current one (which made every
    command look for the region's extract in the working folder)."""
    import circles.config as config

    monkeypatch.delenv(var, raising=False)
    default = getattr(config, where)()
    monkeypatch.setenv(var, "")
    assert getattr(config, where)() == default and default != Path(".")
    monkeypatch.setenv(var, str(tmp_path))
    assert getattr(config, where)() == tmp_path


@pytest.mark.parametrize(
    "args",
    [
        ["sites", "--category", "canteen", "--k", "0", "--out", "x.gpkg"],
        ["isochrone", "--lon", "east", "--lat", "30.66"],
        ["sites"],
        ["frobnicate"],
        ["plan", "--bogus"],
    ],
)
def test_usage_errors_are_one_line(args, capsys):
    """A bad option value, a missing option, an unknown command: ``error: …`` in one line, exit 2 (they
    were a box of five lines). Called as the ``circles`` script calls it (not through CliRunner)."""
    with pytest.raises(SystemExit) as e:
        app(args, prog_name="circles")
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: circles"), err


def test_an_unexpected_error_is_one_line(monkeypatch, capsys):
    import circles.cli as cli

    def boom(country):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(cli, "check_country", boom)
    with pytest.raises(SystemExit) as e:
        app(["network", "--country", "CN"], prog_name="circles")
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert err == "error: unexpected RuntimeError: boom second line (run with -v for the details)\n"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--osm", "{tmp}/nope.osm.pbf"], {}, "OSM file not found"),
        ([], {"CIRCLES_DATA_DIR": "{tmp}"}, "OSM extract of region 'chengdu-central' not found"),
        (["--facilities", "{tmp}/nope.csv:wgs84"], {}, "file not found"),
        ([], {"CIRCLES_FACILITIES": "[not json"}, "CIRCLES_FACILITIES cannot be read"),
    ],
)
def test_serve_checks_its_inputs_before_starting(monkeypatch, tmp_path, args, env, message):
    """A missing extract or input file, or an unreadable variable, is one line before any server
    starts (it was a traceback from each worker's start-up)."""
    import api.main

    def never(*a, **k):
        raise AssertionError("the server must not start")

    monkeypatch.setattr(api.main, "run_server", never)
    for k, v in env.items():
        monkeypatch.setenv(k, v.format(tmp=tmp_path))
    argv = [a.format(tmp=tmp_path) for a in args]
    res = runner.invoke(app, ["serve", *argv, "--state-dir", str(tmp_path / "state")])
    assert res.exit_code == 2, res.output
    assert res.output.strip().count("\n") == 0 and message in res.output, res.output


def test_serve_on_a_port_in_use_is_one_line(monkeypatch, tmp_path):
    import socket

    import api.main

    monkeypatch.setattr(api.main, "run_server", lambda *a, **k: pytest.fail("the server must not start"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = runner.invoke(app, ["serve", "--port", str(port), "--state-dir", str(tmp_path / "s")])
    assert res.exit_code == 2 and res.output.strip().count("\n") == 0
    assert f"cannot listen on 127.0.0.1:{port}" in res.output
