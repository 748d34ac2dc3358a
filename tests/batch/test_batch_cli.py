"""``circles batch`` as a command: an existing scheduler by option or environment, exit codes, and one
line for bad input."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from circles.batch.cli import batch_command

app = typer.Typer()
app.command("batch")(batch_command)


@app.callback()
def _main() -> None:
    """Like the circles application: batch is a sub-command."""


runner = CliRunner()


def test_batch_on_an_existing_scheduler_from_the_environment(tmp_path, chengdu_osm, dask_cluster):
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("name,region,categories\ncanteens,chengdu-central,canteen;park\n", encoding="utf-8")
    env = {"DASK_SCHEDULER_ADDRESS": dask_cluster.scheduler_address}
    result = runner.invoke(app, ["batch", str(jobs), "--out", str(tmp_path / "out")], env=env)
    assert result.exit_code == 0, result.output
    assert "canteens" in result.output and "1 done" in result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["cluster"]["scheduler"] == dask_cluster.scheduler_address
    assert (tmp_path / "out" / "coverage" / "job=canteens" / "tile=0" / "part-0.parquet").exists()
    again = runner.invoke(
        app,
        ["batch", str(jobs), "--out", str(tmp_path / "out"), "--scheduler", dask_cluster.scheduler_address],
    )
    assert again.exit_code == 0 and "1 skipped" in again.output


def test_a_failed_job_makes_exit_code_1(tmp_path, dask_cluster):
    jobs = tmp_path / "jobs.toml"
    jobs.write_text('[[job]]\nname = "gone"\nosm = "absent.osm.pbf"\n', encoding="utf-8")
    args = ["batch", str(jobs), "--out", str(tmp_path / "out"), "--scheduler", dask_cluster.scheduler_address]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "OSM file not found" in result.output and (tmp_path / "out" / "summary.csv").exists()


def test_bad_input_is_one_line_and_exit_code_2(tmp_path):
    result = runner.invoke(app, ["batch", str(tmp_path / "absent.toml"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "job list not found" in result.output
    jobs = tmp_path / "jobs.toml"
    jobs.write_text('[[job]]\nregion = "chengdu-central"\n', encoding="utf-8")
    both = [
        "batch",
        str(jobs),
        "--out",
        str(tmp_path / "out"),
        "--workers",
        "2",
        "--scheduler",
        "tcp://x:8786",
    ]
    result = runner.invoke(app, both)
    assert result.exit_code == 2 and "not both" in result.output
    (tmp_path / "file").write_text("", encoding="utf-8")
    result = runner.invoke(app, ["batch", str(jobs), "--out", str(tmp_path / "file")])
    assert result.exit_code == 2 and "is a file" in result.output
