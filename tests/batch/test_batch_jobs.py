"""Job lists: TOML and CSV, defaults, paths against the list's folder, files with their coordinate
systems; a wrong entry fails alone, a wrong list not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from circles.batch.jobs import BadJob, Job, load_jobs, parse_job
from circles.errors import InputError
from circles.io.file_spec import FileSpec


def test_toml_job_list_with_defaults_and_relative_paths(tmp_path):
    (tmp_path / "jobs.toml").write_text(
        """
[defaults]
categories = ["canteen", "park"]
tile_km = 5

[[job]]
region = "chengdu-central"

[[job]]
name = "town-2024"
osm = "extracts/town.osm.pbf"
communities = "town/comm.gpkg#社区"
facilities = ["town/canteens.xlsx#2024:gcj02", "/abs/centres.csv:wgs84"]
population = "town/pop.tif"
measure = "gaps"
tile_km = 0
horizon_min = 30
crs_check = false
""",
        encoding="utf-8",
    )
    a, b = load_jobs(tmp_path / "jobs.toml")
    assert isinstance(a, Job) and isinstance(b, Job)
    assert a.name == "chengdu-central" and a.categories == ("canteen", "park") and a.tile_km == 5
    assert b.name == "town-2024" and b.osm == tmp_path / "extracts/town.osm.pbf"
    assert b.communities == FileSpec(tmp_path / "town/comm.gpkg", None, "社区")
    assert b.facilities == (
        FileSpec(tmp_path / "town/canteens.xlsx", "gcj02", "2024"),
        FileSpec(Path("/abs/centres.csv"), "wgs84"),
    )
    assert b.population == tmp_path / "town/pop.tif"
    assert (b.measure, b.tile_km, b.horizon_min, b.crs_check) == ("gaps", 0.0, 30.0, False)
    opts = b.plan_options()
    assert opts.osm == b.osm and opts.categories == ["canteen", "park"] and not opts.download
    assert [f.crs for f in opts.facilities] == ["gcj02", "wgs84"]


def test_csv_job_list(tmp_path):
    (tmp_path / "jobs.csv").write_text(
        "name,region,osm,facilities,categories,tile_km,sample_facilities\n"
        "a,chengdu-central,,f1.csv:wgs84;f2.xlsx:bd09,canteen; park,3,no\n"
        ",,city.osm,,,,\n",
        encoding="utf-8-sig",
    )
    a, b = load_jobs(tmp_path / "jobs.csv")
    assert isinstance(a, Job) and isinstance(b, Job)
    assert [f.crs for f in a.facilities] == ["wgs84", "bd09"] and a.categories == ("canteen", "park")
    assert a.tile_km == 3 and a.sample_facilities is False
    assert b.name == "city" and b.osm == tmp_path / "city.osm" and b.tile_km is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"region": "x", "colour": "red"}, "unknown key"),
        ({"region": "x", "osm": "y.osm"}, "not both"),
        ({"name": "x"}, "give region"),
        ({"region": "x", "facilities": "a.xlsx:mercator"}, "unknown coordinate system"),
        ({"region": "x", "measure": "isochrones"}, "measure"),
        ({"region": "x", "measure": "distance"}, "coverage or gaps"),  # the output kind, not the measure
        ({"region": "x", "travel_measure": "metres"}, "travel_measure 'metres': choose time"),
        ({"region": "x", "tile_km": -1}, "tile_km"),
        ({"region": "x", "crs_check": "maybe"}, "crs_check"),
        ({"region": "x", "name": "a/b"}, "name"),
    ],
)
def test_a_wrong_entry_is_a_bad_job(entry, message):
    job = parse_job(entry, number=4)
    assert isinstance(job, BadJob)
    assert message in job.error
    assert job.name == entry.get("name", "job4")


def test_a_wrong_list_is_refused(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_jobs(tmp_path / "absent.toml")
    (tmp_path / "two.toml").write_text('[[job]]\nregion = "a"\n[[job]]\nregion = "a"\n', encoding="utf-8")
    with pytest.raises(InputError, match="unique"):
        load_jobs(tmp_path / "two.toml")
    (tmp_path / "none.toml").write_text("[defaults]\ntile_km = 1\n", encoding="utf-8")
    with pytest.raises(InputError, match="no jobs"):
        load_jobs(tmp_path / "none.toml")
    (tmp_path / "cols.csv").write_text("region,colour\na,red\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown column"):
        load_jobs(tmp_path / "cols.csv")
    (tmp_path / "jobs.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match="toml or .csv"):
        load_jobs(tmp_path / "jobs.json")


def test_travel_measure_is_passed_to_the_plan(tmp_path):
    (tmp_path / "jobs.toml").write_text(
        '[defaults]\ntravel_measure = "distance"\n\n[[job]]\nregion = "chengdu-central"\nmeasure = "gaps"\n'
        '\n[[job]]\nname = "by-time"\nregion = "chengdu-central"\ntravel_measure = "time"\n',
        encoding="utf-8",
    )
    a, b = load_jobs(tmp_path / "jobs.toml")
    assert isinstance(a, Job) and isinstance(b, Job)
    assert (a.measure, a.travel_measure, a.plan_options().measure) == ("gaps", "distance", "distance")
    assert (b.measure, b.travel_measure, b.plan_options().measure) == ("coverage", "time", "time")
    assert a.record()["travel_measure"] == "distance"
    assert "travel_measure" not in b.record()  # a time job's fingerprint is what it was before the key
    bad = parse_job({"region": "x", "travel_measure": "metres"})
    assert isinstance(bad, BadJob) and "\n" not in bad.error
