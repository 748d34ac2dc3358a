"""``circles batch JOBS --out DIR``: every job of a job list on Dask, with a progress bar.

:func:`batch_command` is a plain Typer command function; the application registers it with
``app.command("batch")(batch_command)``. Library errors become one line on stderr and exit code 2; a
batch in which some job failed writes everything else and exits with code 1.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import CirclesError, InputError
from .runner import DEFAULT_TILE_KM, SCHEDULER_ENV, BatchEvent, BatchOptions, BatchReport

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

__all__ = ["batch_command"]

log = logging.getLogger(__name__)

JobsArg = Annotated[
    Path,
    typer.Argument(
        help=(
            "Job list: a TOML file (\\[\\[job]] tables) or a CSV file (one row per job) naming a "
            "region or an OSM file, optional communities/facilities/population files with their "
            "coordinate systems (FILE[#SHEET_OR_LAYER][:CRS]), categories, measure (coverage|gaps: what is "
            "written), travel_measure (time|distance: minutes or walking metres), tile_km, horizon_min."
        ),
        show_default=False,
    ),
]
OutOpt = Annotated[Path, typer.Option("--out", help="Output folder (partitions, summary, manifest).")]
WorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", min=1, help="Workers of the local Dask cluster (default: one per core)."),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        envvar=SCHEDULER_ENV,
        help=f"Address of an existing Dask scheduler, e.g. tcp://HOST:8786 (also ${SCHEDULER_ENV}); its "
        "workers must see the output folder and the input files.",
    ),
]
TileOpt = Annotated[
    float,
    typer.Option(
        "--tile-km",
        min=0.0,
        help="Cut a job into tiles of this side when its communities spread wider (km; 0: never). A job's "
        "own tile_km wins.",
    ),
]
HorizonOpt = Annotated[
    float | None,
    typer.Option(
        "--horizon-min",
        min=0.0,
        help="Report nearest times up to this many minutes (default: the largest threshold; a longer "
        "horizon widens the tiles' halo). A job's own horizon_min wins.",
    ),
]
DashboardOpt = Annotated[
    str, typer.Option("--dashboard", help="Address of the local cluster's dashboard (host:port or :port).")
]


def batch_command(
    jobs: JobsArg,
    out: OutOpt,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    tile_km: TileOpt = DEFAULT_TILE_KM,
    horizon_min: HorizonOpt = None,
    dashboard: DashboardOpt = ":8787",
) -> None:
    """Every place of a job list in one batch on Dask distributed: coverage per community and category
    as GeoParquet partitions (job=…/tile=…), one summary table of all jobs and a manifest. Large regions
    are cut into tiles with a halo (exact); a re-run skips finished partitions; a failing job is
    reported and does not stop the others."""
    try:
        report = _run(jobs, out, workers, scheduler, tile_km, horizon_min, dashboard)
    except CirclesError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    except OSError as e:  # an output folder that cannot be written, a job list that cannot be read
        typer.echo(f"error: {e.strerror or e}: {e.filename or ''}", err=True)
        raise typer.Exit(2) from None
    if report.failed:
        raise typer.Exit(1)


def _run(
    jobs_file: Path,
    out: Path,
    workers: int | None,
    scheduler: str | None,
    tile_km: float,
    horizon_min: float | None,
    dashboard: str,
) -> BatchReport:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .jobs import load_jobs
    from .runner import batch_client, run_batch

    if scheduler and workers:
        raise InputError("give --workers (a local cluster) or --scheduler (an existing one), not both")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder for the batch outputs")
    jobs = load_jobs(jobs_file)
    options = BatchOptions(
        tile_km=tile_km,
        horizon_min=horizon_min or None,
        scheduler=scheduler,
        workers=workers,
        dashboard_address=dashboard,
    )
    console = Console(stderr=True)
    with batch_client(options) as client:
        console.print(f"[bold]{len(jobs)} jobs[/bold] on {client.scheduler_info().get('address')}")
        console.print(f"dashboard: {client.dashboard_link}")
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=not console.is_terminal) as bar:
            job_bar = bar.add_task("jobs", total=len(jobs))
            task_bar = bar.add_task("tasks", total=0)

            def show(e: BatchEvent) -> None:
                bar.update(job_bar, completed=e.jobs_done)
                bar.update(task_bar, completed=e.tasks_done, total=e.tasks_total)
                if e.kind == "failed":
                    where = "" if e.tile is None else f" tile {e.tile}"
                    console.print(f"[red]failed[/red] {e.job}{where}: {e.message}")

            report = run_batch(jobs, out, options, client=client, on_event=show, jobs_file=jobs_file)
    _print_report(report, console)
    return report


def _print_report(report: BatchReport, console: Console) -> None:
    from rich.table import Table

    table = Table(title=f"circles batch: {report.out_dir}")
    for col in ("job", "status", "tiles", "tasks", "time", "error"):
        table.add_column(col)
    for j in report.jobs:
        error = j.errors[0]["message"].splitlines()[0][:100] if j.errors else ""
        style = {"failed": "red", "skipped": "dim"}.get(j.status, "")
        table.add_row(
            j.name,
            f"[{style}]{j.status}[/{style}]" if style else j.status,
            str(j.info.get("tiles", "")),
            str(j.tasks_run),
            f"{j.elapsed_s:.1f} s",
            error,
        )
    console.print(table)
    counts = ", ".join(f"{report.count(s)} {s}" for s in ("done", "skipped", "failed"))
    console.print(f"{counts}; {report.tasks_run} tasks in {report.elapsed_s:.1f} s")
    typer.echo(f"wrote {', '.join(str(p) for p in report.files)}")
