"""Running a job list on Dask distributed: a ``LocalCluster`` by default, or an existing cluster.

The client only schedules: for each job it submits :func:`~circles.batch.tasks.prepare_job` (which
loads the job on a worker and computes it whole, or stages its tiles) and then one
:func:`~circles.batch.tasks.run_tile` per staged tile, as results come in (``as_completed``). Workers
read and write files under the output folder, which must be visible to all of them.

* **Resumable.** A job's fingerprint hashes its entry, the batch settings, the size and modification
  time of every file it reads and the circles version. A partition whose marker carries the current
  fingerprint is not computed again; a job whose partitions are all finished is ``skipped``; a job
  whose fingerprint changed is cleared and computed anew.
* **Failures stay local.** An exception in a task fails its job (recorded with its type, message and
  traceback in the manifest); the other jobs and the job's other tiles go on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..config import get_region, project_data_dir
from ..errors import CirclesError, InputError
from ..inputs import sample_layer_path
from .jobs import BadJob, Job
from .outputs import BatchLayout, merge_stats, read_json, summary_rows, write_json, write_summary
from .tasks import JobSettings, prepare_job, run_tile

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client, Future

__all__ = [
    "DEFAULT_TILE_KM",
    "BatchEvent",
    "BatchOptions",
    "BatchReport",
    "JobOutcome",
    "batch_client",
    "job_fingerprint",
    "run_batch",
]

log = logging.getLogger(__name__)

#: A job whose communities spread wider than this (km, either direction) is cut into tiles.
DEFAULT_TILE_KM = 10.0
#: Environment variable naming an existing scheduler, as Dask itself reads it.
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


@dataclass(frozen=True)
class BatchOptions:
    """Batch settings: ``tile_km`` and ``horizon_min`` for jobs that do not set their own; the cluster:
    ``scheduler`` (an address such as ``tcp://host:8786``; default ``$DASK_SCHEDULER_ADDRESS``), or a
    ``LocalCluster`` of ``workers`` (default: the machine's cores) with ``threads_per_worker`` threads,
    worker ``processes`` (False: threads of this process, for tests) and the dashboard at
    ``dashboard_address`` (None: no dashboard)."""

    tile_km: float = DEFAULT_TILE_KM
    horizon_min: float | None = None
    scheduler: str | None = None
    workers: int | None = None
    threads_per_worker: int = 1
    processes: bool = True
    dashboard_address: str | None = ":8787"

    def job_settings(self, job: Job) -> JobSettings:
        tile_km = job.tile_km if job.tile_km is not None else self.tile_km
        horizon = job.horizon_min if job.horizon_min is not None else self.horizon_min
        return JobSettings(tile_m=float(tile_km) * 1000.0, horizon_min=horizon)


@dataclass(frozen=True)
class BatchEvent:
    """Progress: ``kind`` (``submitted``, ``finished``, ``failed``, ``job``), the job and tile it is
    about, and the counts so far."""

    kind: str
    job: str
    tile: int | None
    tasks_done: int
    tasks_total: int
    jobs_done: int
    jobs_total: int
    message: str = ""


@dataclass
class JobOutcome:
    """One job's result: ``status`` ``done`` (computed now, possibly resuming), ``skipped`` (finished
    by an earlier run), ``failed``; the job's record from its preparing task (``info``), the markers
    of its partitions, its errors and the number of tasks run for it in this batch."""

    name: str
    spec: dict[str, Any]
    status: str = "pending"
    fingerprint: str = ""
    inputs: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    markers: dict[int, dict[str, Any]] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    tasks_run: int = 0
    running: int = 0
    started_s: float = field(default_factory=time.perf_counter)
    elapsed_s: float = 0.0

    def record(self, layout: BatchLayout) -> dict[str, Any]:
        """The job's manifest entry."""
        tiles = int(self.info.get("tiles", len(self.markers)) or 0)
        return {
            "name": self.name,
            "status": self.status,
            "spec": self.spec,
            "settings": self.settings,
            "fingerprint": self.fingerprint,
            "inputs": self.inputs,
            "tiles": tiles,
            "tasks_run": self.tasks_run,
            "elapsed_s": round(self.elapsed_s, 3),
            "partitions": sorted(f for m in self.markers.values() for f in m.get("files", [])),
            "info": {k: v for k, v in self.info.items() if k not in ("pending", "markers")},
            "tile_timings_s": {
                str(k): {key: m.get(key) for key in ("elapsed_s", "load_s", "worker", "network_nodes")}
                for k, m in sorted(self.markers.items())
            },
            "errors": self.errors,
        }


@dataclass
class BatchReport:
    """What a batch did: the outcome of every job, the cluster it ran on and the files it wrote."""

    out_dir: Path
    jobs: list[JobOutcome]
    cluster: dict[str, Any]
    elapsed_s: float
    files: list[Path] = field(default_factory=list)

    @property
    def tasks_run(self) -> int:
        return sum(j.tasks_run for j in self.jobs)

    def count(self, status: str) -> int:
        return sum(j.status == status for j in self.jobs)

    @property
    def failed(self) -> list[JobOutcome]:
        return [j for j in self.jobs if j.status == "failed"]


# ---------------------------------------------------------------------------- fingerprints


def _stat(path: Path) -> dict[str, Any]:
    try:
        st = Path(path).stat()
    except OSError:
        return {"path": str(path), "missing": True}
    return {"path": str(path), "size_bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def job_fingerprint(job: Job, settings: JobSettings) -> tuple[str, list[dict[str, Any]]]:
    """A hash of everything the job's results depend on: its entry, its settings, every file it reads
    (path, size, modification time: the user's files, the region's extract and district boundaries,
    the catalog, profiles, regions and the sample layer) and the circles version. Also returns the
    files' records for the manifest. Raises for an unknown region."""
    files = list(job.input_paths())
    if job.region is not None:
        region = get_region(job.region)
        files += [region.osm_path, *([region.districts_path] if region.districts_path else [])]
        files.append(sample_layer_path(region.key))
    data_dir = project_data_dir()
    files += [data_dir / "catalog.toml", data_dir / "profiles.toml", data_dir / "regions.toml"]
    inputs = [_stat(p) for p in files]
    payload = {
        "job": job.record(),
        "settings": {"tile_m": settings.tile_m, "horizon_min": settings.horizon_min},
        "inputs": inputs,
        "circles": __version__,
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()
    return digest, inputs


# ---------------------------------------------------------------------------- the cluster


@contextmanager
def batch_client(options: BatchOptions) -> Iterator[Client]:
    """A Dask client: to ``options.scheduler`` or ``$DASK_SCHEDULER_ADDRESS`` when given, else to a new
    ``LocalCluster`` (closed on exit)."""
    from distributed import Client, LocalCluster

    address = options.scheduler or os.environ.get(SCHEDULER_ENV) or None
    if address and options.workers:
        raise InputError(
            f"--workers starts a local cluster; with a scheduler ({address}) its own workers run the jobs"
        )
    if address:
        with Client(address) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=options.workers or os.cpu_count() or 1,
            threads_per_worker=options.threads_per_worker,
            processes=options.processes,
            dashboard_address=options.dashboard_address,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(len(cluster.workers))
        client.run(warm_worker)  # every worker imports the library now, in parallel, not at its first task
        yield client


def warm_worker() -> None:
    """Import what the tasks use (geopandas, pyogrio, scipy's graph routines, the pipeline), so a worker's
    first task costs what its others do."""
    import importlib

    for name in ("geopandas", "pyogrio", "scipy.sparse.csgraph", "circles.pipeline", "circles.batch.tasks"):
        importlib.import_module(name)


def cluster_record(client: Client) -> dict[str, Any]:
    """Scheduler address, dashboard link and workers of a client's cluster."""
    info = client.scheduler_info()
    workers = info.get("workers", {})
    return {
        "scheduler": info.get("address"),
        "dashboard": client.dashboard_link if info.get("services", {}).get("dashboard") else None,
        "workers": len(workers),
        "threads": sum(int(w.get("nthreads", 0)) for w in workers.values()),
        "memory_limit_bytes": {a: w.get("memory_limit") for a, w in workers.items()},
    }


def versions() -> dict[str, str]:
    """Versions of circles, Python and the libraries results depend on."""
    out = {"circles": __version__, "python": platform.python_version()}
    for name in (
        "dask",
        "distributed",
        "numpy",
        "scipy",
        "pandas",
        "geopandas",
        "shapely",
        "pyproj",
        "pyarrow",
    ):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover
            out[name] = "absent"
    return out


# ---------------------------------------------------------------------------- scheduling


def _error_record(task: str, exc: BaseException, tb: Any) -> dict[str, Any]:
    lines = traceback.format_exception(type(exc), exc, tb)
    return {
        "task": task,
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(lines)[-6000:],
    }


class _Scheduler:
    """Submits each job's tasks and follows them to the end (one instance per batch)."""

    def __init__(
        self,
        client: Client,
        layout: BatchLayout,
        options: BatchOptions,
        on_event: Callable[[BatchEvent], None] | None,
    ):
        from distributed import as_completed

        self.client = client
        self.layout = layout
        self.options = options
        self.on_event = on_event or (lambda e: None)
        self.pending = as_completed()
        self.tasks: dict[Any, tuple[str, int | None]] = {}  # future key -> (job, tile; None = prepare)
        self.jobs: dict[str, JobOutcome] = {}
        self.done_tasks = 0
        self.total_tasks = 0
        self.done_jobs = 0
        self.total_jobs = 0

    def _event(self, kind: str, job: str, tile: int | None = None, message: str = "") -> None:
        self.on_event(
            BatchEvent(
                kind, job, tile, self.done_tasks, self.total_tasks, self.done_jobs, self.total_jobs, message
            )
        )

    def _submit(self, outcome: JobOutcome, tile: int | None, fn: Callable[..., Any], *args: Any) -> None:
        fut = self.client.submit(fn, *args, pure=False, priority=self._priority(outcome, tile))
        self.tasks[fut.key] = (outcome.name, tile)
        outcome.running += 1
        outcome.tasks_run += 1
        self.total_tasks += 1
        self.pending.add(fut)
        self._event("submitted", outcome.name, tile)

    @staticmethod
    def _priority(outcome: JobOutcome, tile: int | None) -> int:
        """Largest work first (LPT), so the longest jobs do not end up alone at the tail: a job's prepare
        task by the bytes of the files it reads; tiles of a job already prepared before any new job."""
        if tile is not None:
            return 2**40
        return sum(int(i.get("size_bytes", 0)) for i in outcome.inputs) // 1024

    def start(self, job: Job | BadJob) -> None:
        """Decide what ``job`` still needs and submit it (or record it as skipped or failed)."""
        self.total_jobs += 1
        spec = job.record() if isinstance(job, Job) else {"entry": job.entry}
        outcome = self.jobs[job.name] = JobOutcome(job.name, spec)
        if isinstance(job, BadJob):
            outcome.errors.append({"task": "job list", "type": "InputError", "message": job.error})
            return self._finish(outcome)
        settings = self.options.job_settings(job)
        outcome.settings = {"tile_m": settings.tile_m, "horizon_min": settings.horizon_min}
        try:
            outcome.fingerprint, outcome.inputs = job_fingerprint(job, settings)
        except CirclesError as e:
            outcome.errors.append(_error_record("fingerprint", e, None))
            return self._finish(outcome)
        root, fp = str(self.layout.root), outcome.fingerprint
        info = read_json(self.layout.job_info(job.name))
        if info is None or info.get("fingerprint") != fp:
            self.layout.clear_job(job.name)
            return self._submit(outcome, None, prepare_job, job, root, fp, settings)
        outcome.info = info
        missing = []
        for k in range(int(info.get("tiles", 1))):
            marker = self.layout.finished_tile(job.name, k, fp)
            if marker is None:
                missing.append(k)
            else:
                outcome.markers[k] = marker
        if not missing:
            outcome.status = "skipped"
            return self._finish(outcome)
        if not all((self.layout.staging(job.name, k) / "tile.json").exists() for k in missing):
            return self._submit(outcome, None, prepare_job, job, root, fp, settings)
        for k in missing:
            self._submit(outcome, k, run_tile, job.name, k, root, fp)

    def _finish(self, outcome: JobOutcome) -> None:
        if outcome.status != "skipped":
            outcome.status = "failed" if outcome.errors else "done"
        outcome.elapsed_s = time.perf_counter() - outcome.started_s
        if outcome.status == "done" and int(outcome.info.get("tiles", 1)) > 1:
            self.layout.clear_staging(outcome.name)
        self.done_jobs += 1
        message = outcome.errors[0]["message"] if outcome.errors else ""
        self._event("job", outcome.name, None, f"{outcome.status}{': ' + message if message else ''}")

    def _handle(self, fut: Future) -> None:
        name, tile = self.tasks.pop(fut.key)
        outcome = self.jobs[name]
        outcome.running -= 1
        self.done_tasks += 1
        task = "prepare" if tile is None else f"tile {tile}"
        if fut.status == "error":
            exc = fut.exception()
            outcome.errors.append(_error_record(task, exc, fut.traceback()))
            log.warning("job %s, %s failed: %s: %s", name, task, type(exc).__name__, exc)
            self._event("failed", name, tile, f"{type(exc).__name__}: {exc}")
        else:
            result = fut.result()
            if tile is None:
                outcome.info = {k: v for k, v in result.items() if k not in ("pending", "markers")}
                outcome.markers.update({int(k): m for k, m in result["markers"].items()})
                root, fp = str(self.layout.root), outcome.fingerprint
                for k in result["pending"]:
                    self._submit(outcome, k, run_tile, name, k, root, fp)
            else:
                outcome.markers[tile] = result
            self._event("finished", name, tile)
        fut.release()
        if outcome.running == 0:
            self._finish(outcome)

    def wait(self) -> None:
        """Follow every submitted task (and those submitted on the way) to its end."""
        for fut in self.pending:
            self._handle(fut)


# ---------------------------------------------------------------------------- the batch


def run_batch(
    jobs: Sequence[Job | BadJob],
    out_dir: Path,
    options: BatchOptions | None = None,
    *,
    client: Client | None = None,
    on_event: Callable[[BatchEvent], None] | None = None,
    jobs_file: Path | None = None,
) -> BatchReport:
    """Run ``jobs`` on Dask and write their partitions, ``summary.parquet``/``.csv`` and
    ``manifest.json`` under ``out_dir``. Uses ``client`` when given, else :func:`batch_client`.
    Jobs that fail are reported in the returned :class:`BatchReport` and the manifest; they never stop
    the others."""
    options = options or BatchOptions()
    names = [j.name for j in jobs]
    if len(set(names)) < len(names):
        raise InputError(f"job names must be unique (each names an output partition): {sorted(names)}")
    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir} is a file; give a folder for the batch outputs")
    out_dir.mkdir(parents=True, exist_ok=True)
    layout = BatchLayout(out_dir)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    with _client_for(options, client) as cl:
        cluster = cluster_record(cl)
        sched = _Scheduler(cl, layout, options, on_event)
        for job in jobs:
            sched.start(job)
        sched.wait()
    outcomes = [sched.jobs[j.name] for j in jobs]
    report = BatchReport(out_dir, outcomes, cluster, time.perf_counter() - t0)
    report.files = write_summary(layout, _summary(outcomes))
    manifest = {
        "format": "circles-batch/1",
        "jobs_file": None if jobs_file is None else str(Path(jobs_file).resolve()),
        "out_dir": str(out_dir),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "elapsed_s": round(report.elapsed_s, 3),
        "cluster": cluster,
        "versions": versions(),
        "settings": {"tile_km": options.tile_km, "horizon_min": options.horizon_min},
        "counts": {s: report.count(s) for s in ("done", "skipped", "failed")},
        "tasks_run": report.tasks_run,
        "jobs": [o.record(layout) for o in outcomes],
    }
    report.files.append(write_json(layout.manifest, manifest))
    return report


def _summary(outcomes: list[JobOutcome]) -> list[dict[str, Any]]:
    """Summary rows of every job: per category for finished ones, one row with the error for failed ones."""
    from ..catalog import load_catalog

    catalog = load_catalog()
    rows: list[dict[str, Any]] = []
    for o in outcomes:
        if o.status == "failed":
            rows.append(
                {"job": o.name, "status": "failed", "error": o.errors[0]["message"] if o.errors else ""}
            )
        else:
            rows += summary_rows(
                o.name, {**o.info, "status": o.status}, merge_stats(o.markers.values()), catalog
            )
    return rows


@contextmanager
def _client_for(options: BatchOptions, client: Client | None) -> Iterator[Client]:
    if client is not None:
        yield client
        return
    with batch_client(options) as cl:
        yield cl
