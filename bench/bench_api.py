"""HTTP load benchmark of the FastAPI service, on loopback only.

Usage::

    python bench/bench_api.py                   # 2,000 requests per endpoint, 20 clients, <= 60 s per run
    python bench/bench_api.py --quick           # smoke run: 200 requests per endpoint, <= 10 s per run
    python bench/bench_api.py --requests 500 --clients 10 --time-cap 30
    python bench/bench_api.py --targets [--quick]   # the load targets: bench/load_targets.py

The script starts the service itself, in a subprocess::

    python -m uvicorn --factory api.main:create_app --host 127.0.0.1 --port <free port>

with ``CIRCLES_STATE_DIR`` set to a new temporary folder, so the facility writes below never touch a real
database. It waits for ``GET /healthz`` to answer, then runs these phases:

1. warm-up: a few requests of each kind, not counted;
2. ``GET /healthz`` (at most 1,000), sequential then concurrent: the floor set by HTTP, the framework
   and the load generator, with next to no handler work;
3. ``GET /gaps``: random filters (category from ``GET /categories`` or none, level 5/10/15 or none,
   limit 20-100, offset, format mostly json), first with 1 client, then with ``--clients`` concurrent
   clients, over the same request list;
4. ``GET /isochrones``: random points inside lon 104.05-104.12, lat 30.66-30.72, minutes 5, 10, 15 or
   5,10,15, profile walk; sequential, then concurrent. Points more than 500 m from a street get a 422:
   that is a correct answer, counted as 4xx, not as an error;
5. mixed: concurrent reads (half /gaps, half /isochrones), first alone, then the same reads with one
   ``POST /facilities`` per ``--write-every`` reads, to show how reads behave while the coverage is
   recomputed. Rows "(in a write)" are the reads that were in flight while a write was.

Each run stops after its requests or after ``--time-cap`` seconds, whichever comes first; in-flight
requests then finish (30 s client time-out). An *error* is a 5xx or a failed connection (time-out,
reset); 4xx answers are counted on their own. Latency is measured in the client, from sending the
request to having read the whole body. The clients are threads with one keep-alive ``http.client``
connection each (about 0.1 ms of client CPU per request). They share the machine's CPUs with the server,
so the JSON also records, per run, the CPU used by the server, by the load generator and by everything
else on the machine (other work skews the numbers). Throughput is completed requests / wall time.

The targets (``/gaps`` p95 < 50 ms, ``/isochrones`` p95 < 200 ms, zero errors, all under the concurrent
load) are printed as PASS/MISS for information. The exit code is 0 unless the service failed to start.
Results go to ``bench/results/api.json`` (``api-quick.json`` with ``--quick``). The server is
terminated at the end, also on Ctrl-C or an exception.

Only 127.0.0.1 is contacted (``http.client`` does not use proxy settings from the environment).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HOST = "127.0.0.1"

BBOX = (104.05, 30.66, 104.12, 30.72)  # lon/lat box for isochrone and write points
ISO_MINUTES = ("5", "10", "15", "5,10,15")

# targets, under the concurrent load (information only: printed as PASS/MISS, never an exit code)
TARGET_P95_MS = {"/gaps": 50.0, "/isochrones": 200.0}
TARGET_ERRORS = 0

STARTUP_TIMEOUT_S = 120.0
REQUEST_TIMEOUT_S = 30.0


# ---------------------------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child before exec (Linux): SIGTERM if the bench dies
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Server:
    """The service in a subprocess, in its own session (so a terminal Ctrl-C reaches only the bench,
    which then stops the server cleanly). Its log goes to a file in the state folder."""

    def __init__(self, port: int, state_dir: Path):
        self.port = port
        self.state_dir = state_dir
        # one worker: the plan lives in each process's memory and an edit updates only its own process
        self.cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "api.main:create_app",
            "--host",
            HOST,
            "--port",
            str(port),
        ]
        self.log_path = state_dir / "uvicorn.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = dict(os.environ, CIRCLES_STATE_DIR=str(self.state_dir), PYTHONUNBUFFERED="1")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )

    def wait_healthy(self, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with code {self.proc.returncode} during start-up")
            try:
                status, body = get_json(self.port, "/healthz", timeout=5.0)
                if status == 200:
                    return body
            except (OSError, http.client.HTTPException, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not answer GET /healthz within {timeout_s:.0f} s")

    def cpu_s(self) -> float | None:
        """CPU seconds (user + system) used by the server process so far (Linux /proc), else None."""
        try:
            f = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError, AttributeError):
            return None

    def stopped_cleanly(self) -> bool:
        return "Finished server process" in self.log_tail(5)

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()  # uvicorn: graceful shutdown on SIGTERM
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()
        return self.proc.returncode


# ---------------------------------------------------------------------------------------------- requests
def gaps_requests(rng: random.Random, n: int, categories: list[str]) -> list[dict]:
    out = []
    for _ in range(n):
        params: dict = {}
        if rng.random() < 0.85:
            params["category"] = rng.choice(categories)
        lvl = rng.choice([None, 5, 10, 15])
        if lvl is not None:
            params["level"] = lvl
        limit = rng.randint(20, 100)
        params["limit"] = limit
        if rng.random() < 0.4:
            params["offset"] = limit * rng.randint(1, 5)
        u = rng.random()
        fmt = "json" if u < 0.9 else ("csv" if u < 0.95 else "geojson")
        if fmt != "json":
            params["format"] = fmt
        out.append({"method": "GET", "path": "/gaps", "params": params, "tag": fmt})
    return out


def iso_requests(rng: random.Random, n: int) -> list[dict]:
    out = []
    for _ in range(n):
        m = rng.choice(ISO_MINUTES)
        params = {
            "lon": round(rng.uniform(BBOX[0], BBOX[2]), 6),
            "lat": round(rng.uniform(BBOX[1], BBOX[3]), 6),
            "minutes": m,
            "profile": "walk",
        }
        out.append({"method": "GET", "path": "/isochrones", "params": params, "tag": f"minutes={m}"})
    return out


def write_request(rng: random.Random, categories: list[str]) -> dict:
    body = {
        "category": rng.choice(categories),
        "lon": round(rng.uniform(BBOX[0], BBOX[2]), 6),
        "lat": round(rng.uniform(BBOX[1], BBOX[3]), 6),
        "crs": "wgs84",
        "name": "bench_api load test",
    }
    return {"method": "POST", "path": "/facilities", "json": body, "tag": body["category"]}


def mixed_requests(rng: random.Random, n: int, categories: list[str], write_every: int) -> list[dict]:
    reads = gaps_requests(rng, n, categories) + iso_requests(rng, n)
    rng.shuffle(reads)
    out = []
    for i, r in enumerate(reads[:n], 1):
        out.append(r)
        if write_every > 0 and i % write_every == 0:
            out.append(write_request(rng, categories))
    return out


# ---------------------------------------------------------------------------------------------- load
def get_json(port: int, path: str, timeout: float = REQUEST_TIMEOUT_S) -> tuple[int, object]:
    con = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        con.request("GET", path)
        r = con.getresponse()
        return r.status, json.loads(r.read())
    finally:
        con.close()


def machine_cpu_busy_s() -> float | None:
    """CPU seconds all processes on the machine have been busy so far (Linux /proc/stat), else None."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return (sum(f[:8]) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait
    except (OSError, ValueError, IndexError):
        return None


def run_load(
    port: int, reqs: list[dict], clients: int, time_cap_s: float, server: Server | None = None
) -> dict:
    """``clients`` threads, each with its own keep-alive connection (stdlib ``http.client``), take the
    next request from ``reqs`` until it is empty or the time cap has passed (closed loop: a client
    sends its next request once the previous answer is read).

    Threads and ``http.client`` rather than ``httpx.AsyncClient``: at 20 connections the latter spent
    ~1.8 ms of client CPU per request and by itself pushed GET /healthz p95 to ~180 ms, against ~0.1 ms
    and ~10 ms here, so it measured mostly itself."""
    samples: list[dict] = []
    lock = threading.Lock()
    it = iter(reqs)
    cpu0 = (time.process_time(), server.cpu_s() if server else None, machine_cpu_busy_s())
    t0 = time.perf_counter()
    deadline = t0 + time_cap_s

    def worker() -> None:
        con = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_S)
        mine = []
        try:
            while True:
                with lock:
                    req = next(it, None)
                if req is None or time.perf_counter() >= deadline:
                    return
                url = req["path"] + ("?" + urlencode(req["params"]) if req.get("params") else "")
                body, headers = None, {}
                if req.get("json") is not None:
                    body = json.dumps(req["json"]).encode()
                    headers = {"Content-Type": "application/json"}
                status, err = None, None
                s = time.perf_counter()
                try:
                    con.request(req["method"], url, body=body, headers=headers)
                    r = con.getresponse()
                    r.read()
                    status = r.status
                except (OSError, http.client.HTTPException) as e:  # refused, reset, time-out, bad response
                    err = type(e).__name__
                    con.close()  # reconnects on the next request
                e_ = time.perf_counter()
                mine.append(
                    {
                        "path": req["path"],
                        "tag": req["tag"],
                        "start": s - t0,
                        "end": e_ - t0,
                        "ms": (e_ - s) * 1000.0,
                        "status": status,
                        "exc": err,
                    }
                )
        finally:
            con.close()
            with lock:
                samples.extend(mine)

    threads = [threading.Thread(target=worker, name=f"client-{i}", daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cpu1 = (time.process_time(), server.cpu_s() if server else None, machine_cpu_busy_s())
    cpu = {
        "client_cpu_s": round(cpu1[0] - cpu0[0], 2),
        "client_cpu_utilisation": round((cpu1[0] - cpu0[0]) / wall, 2),
    }
    if cpu0[1] is not None and cpu1[1] is not None:
        srv = cpu1[1] - cpu0[1]
        cpu.update(
            server_cpu_s=round(srv, 2),
            server_cpu_per_request_ms=round(srv * 1000 / max(len(samples), 1), 2),
            server_cpu_utilisation=round(srv / wall, 2),
        )  # 1.0 = one core busy all the time
        if cpu0[2] is not None and cpu1[2] is not None:  # CPU taken by everything else on the machine
            cpu["other_cpu_utilisation"] = round(
                max(0.0, (cpu1[2] - cpu0[2]) - srv - (cpu1[0] - cpu0[0])) / wall, 2
            )
    return {
        "samples": samples,
        "wall_s": wall,
        "planned": len(reqs),
        "capped": len(samples) < len(reqs),
        "cpu": cpu,
    }


def summarise(samples: list[dict], wall_s: float) -> dict:
    n = len(samples)
    ms = np.array([s["ms"] for s in samples], dtype=float)
    ok = sum(1 for s in samples if s["status"] is not None and 200 <= s["status"] < 300)
    c4 = sum(1 for s in samples if s["status"] is not None and 400 <= s["status"] < 500)
    c5 = sum(1 for s in samples if s["status"] is not None and s["status"] >= 500)
    conn = sum(1 for s in samples if s["exc"] is not None)
    out = {
        "requests": n,
        "ok_2xx": ok,
        "client_4xx": c4,
        "server_5xx": c5,
        "connection_failures": conn,
        "errors": c5 + conn,
        "wall_s": round(wall_s, 3),
        "throughput_rps": round(n / wall_s, 1) if wall_s > 0 else None,
        "status_counts": {
            str(k): v for k, v in sorted(Counter(s["status"] for s in samples).items(), key=str)
        },
    }
    if conn:
        out["exceptions"] = dict(Counter(s["exc"] for s in samples if s["exc"]))
    if n:
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        out.update(
            {
                "mean_ms": round(float(ms.mean()), 2),
                "p50_ms": round(float(p50), 2),
                "p95_ms": round(float(p95), 2),
                "p99_ms": round(float(p99), 2),
                "max_ms": round(float(ms.max()), 2),
                "min_ms": round(float(ms.min()), 2),
            }
        )
        ms2 = np.array([s["ms"] for s in samples if s["status"] is not None and 200 <= s["status"] < 300])
        if len(ms2) and len(ms2) < n:
            out["p95_ms_2xx_only"] = round(float(np.percentile(ms2, 95)), 2)
    return out


def by_tag(samples: list[dict]) -> dict:
    out = {}
    for tag in sorted({s["tag"] for s in samples}):
        ms = np.array([s["ms"] for s in samples if s["tag"] == tag])
        p50, p95 = np.percentile(ms, [50, 95])
        out[tag] = {"requests": len(ms), "p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2)}
    return out


def overlapping(reads: list[dict], writes: list[dict]) -> list[dict]:
    """Reads whose time in flight overlapped at least one write's."""
    iv = sorted((w["start"], w["end"]) for w in writes)
    return [r for r in reads if any(ws < r["end"] and r["start"] < we for ws, we in iv)]


# ---------------------------------------------------------------------------------------------- report
def table(rows: list[tuple]) -> str:
    head = (
        "run",
        "endpoint",
        "clients",
        "requests",
        "2xx",
        "4xx",
        "errors",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "req/s",
        "target",
    )
    cells = [head] + [tuple("" if c is None else str(c) for c in r) for r in rows]
    w = [max(len(r[i]) for r in cells) for i in range(len(head))]
    right = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
    line = lambda r: "  ".join(c.rjust(w[i]) if i in right else c.ljust(w[i]) for i, c in enumerate(r))
    return "\n".join([line(cells[0]), "  ".join("-" * x for x in w)] + [line(r) for r in cells[1:]])


def row(run: str, endpoint: str, clients: int, s: dict, target: str = "") -> tuple:
    f = lambda k: f"{s[k]:.1f}" if k in s else "-"
    return (
        run,
        endpoint,
        clients,
        s["requests"],
        s["ok_2xx"],
        s["client_4xx"],
        s["errors"],
        f("p50_ms"),
        f("p95_ms"),
        f("p99_ms"),
        f("max_ms"),
        f"{s['throughput_rps']:.1f}" if s.get("throughput_rps") else "-",
        target,
    )


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- main
def bench(server: Server, args) -> dict:
    rng = random.Random(args.seed)
    status, cats = get_json(server.port, "/categories")
    if status != 200:
        raise RuntimeError(f"GET /categories answered {status}")
    categories = [x["key"] for x in cats]

    results: dict = {"runs": {}}
    endpoints = {
        "/healthz": [{"method": "GET", "path": "/healthz", "tag": "-"}] * min(args.requests, 1000),
        "/gaps": gaps_requests(rng, args.requests, categories),
        "/isochrones": iso_requests(rng, args.requests),
    }

    log("warm-up ...")
    warm = gaps_requests(random.Random(args.seed + 1), 20, categories) + iso_requests(
        random.Random(args.seed + 2), 20
    )
    run_load(server.port, warm, min(4, args.clients), args.time_cap)

    for ep, reqs in endpoints.items():
        for mode, clients in (("sequential", 1), ("concurrent", args.clients)):
            log(f"{ep}: {mode}, {clients} client(s), {len(reqs)} requests, cap {args.time_cap:.0f} s ...")
            r = run_load(server.port, reqs, clients, args.time_cap, server)
            s = summarise(r["samples"], r["wall_s"])
            s.update(
                clients=clients,
                planned=r["planned"],
                stopped_by_time_cap=r["capped"],
                cpu=r["cpu"],
                by_variant=by_tag(r["samples"]),
            )
            results["runs"][f"{ep} {mode}"] = s
            log(
                f"  {s['requests']} done in {s['wall_s']:.1f} s, p95 {s.get('p95_ms', float('nan')):.1f} ms, "
                f"{s['errors']} errors, {s['client_4xx']} 4xx; CPU: {r['cpu']}"
            )

    mixed = mixed_requests(rng, args.mixed_reads, categories, args.write_every)
    reads_only = [m for m in mixed if m["method"] == "GET"]
    for name, reqs in (("mixed, no writes", reads_only), ("mixed", mixed)):
        nw = len(reqs) - len([m for m in reqs if m["method"] == "GET"])
        log(
            f"{name}: {args.clients} clients, {len(reqs)} requests ({nw} writes), cap {args.time_cap:.0f} s ..."
        )
        r = run_load(server.port, reqs, args.clients, args.time_cap, server)
        log(f"  {len(r['samples'])} done in {r['wall_s']:.1f} s; CPU: {r['cpu']}")
        smp = r["samples"]
        writes = [x for x in smp if x["path"] == "/facilities"]
        out = {
            "planned": r["planned"],
            "stopped_by_time_cap": r["capped"],
            "clients": args.clients,
            "write_every": args.write_every if nw else None,
            "cpu": r["cpu"],
            "all": summarise(smp, r["wall_s"]),
        }
        for ep in ("/gaps", "/isochrones", "/facilities"):
            part = [x for x in smp if x["path"] == ep]
            if part:
                out[ep] = summarise(part, r["wall_s"])
            if ep != "/facilities" and part and writes:
                ov = overlapping(part, writes)
                if ov:  # reads in flight while a write was: how much the recomputation slows them
                    out[f"{ep} during a write"] = summarise(ov, r["wall_s"])
                    out[f"{ep} during a write"]["throughput_rps"] = None  # not meaningful for a subset
        results["runs"][name] = out
    return results


def report(results: dict, args) -> tuple[str, list[dict]]:
    runs = results["runs"]
    rows, verdicts = [], []
    for mode, clients in (("sequential", 1), ("concurrent", args.clients)):
        rows.append(row(f"{mode} (floor)", "/healthz", clients, runs[f"/healthz {mode}"]))
    for ep in ("/gaps", "/isochrones"):
        seq, con = runs[f"{ep} sequential"], runs[f"{ep} concurrent"]
        t = TARGET_P95_MS[ep]
        ok = con.get("p95_ms", float("inf")) < t
        rows.append(row("sequential", ep, 1, seq))
        rows.append(row("concurrent", ep, args.clients, con, f"p95<{t:.0f}: {'PASS' if ok else 'MISS'}"))
        verdicts.append(
            {
                "target": f"{ep} p95 < {t:.0f} ms ({args.clients} clients)",
                "value_ms": con.get("p95_ms"),
                "result": "PASS" if ok else "MISS",
            }
        )
    for name in ("mixed, no writes", "mixed"):
        m = runs[name]
        for key in (
            "/gaps",
            "/isochrones",
            "/facilities",
            "/gaps during a write",
            "/isochrones during a write",
        ):
            if key in m:
                ep, _, extra = key.partition(" ")
                rows.append(
                    row(
                        (name if name != "mixed" else "mixed, writes") + (" (in a write)" if extra else ""),
                        ep,
                        args.clients,
                        m[key],
                    )
                )
    errors = sum(r["all"]["errors"] if "all" in r else r["errors"] for r in runs.values())
    verdicts.append(
        {
            "target": "zero errors (5xx or connection failures), all runs",
            "value": errors,
            "result": "PASS" if errors == TARGET_ERRORS else "MISS",
        }
    )
    txt = (
        table(rows)
        + "\n\nTargets (information only):\n"
        + "\n".join(
            f"  {v['result']:4}  {v['target']}: "
            + (f"{v['value_ms']:.1f} ms" if "value_ms" in v else str(v["value"]))
            for v in verdicts
        )
    )
    cpu = [r["cpu"] for r in runs.values() if "other_cpu_utilisation" in r.get("cpu", {})]
    if cpu:
        srv = ", ".join(
            f"{k} {r['cpu']['server_cpu_per_request_ms']:.2f}"
            for k, r in runs.items()
            if "server_cpu_per_request_ms" in r.get("cpu", {}) and k.endswith("sequential")
        )
        other = max(c["other_cpu_utilisation"] for c in cpu)
        txt += (
            f"\n\nServer CPU per request, ms (sequential runs): {srv}."
            f"\nOther processes used up to {other:.2f} of {os.cpu_count()} CPUs during a run"
            + (" -- WARNING: the machine was busy, latencies are inflated." if other > 0.3 else ".")
        )
    return txt, verdicts


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--targets" in argv:  # the load targets of issue 13 (1 and 2 workers, 20 and 100 clients)
        from load_targets import main as load_targets

        return load_targets([a for a in argv if a != "--targets"])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=2000, help="requests per endpoint and run (default 2000)")
    ap.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    ap.add_argument("--time-cap", type=float, default=60.0, help="seconds per run, at most (default 60)")
    ap.add_argument("--mixed-reads", type=int, default=1000, help="reads in the mixed run (default 1000)")
    ap.add_argument(
        "--write-every", type=int, default=50, help="one POST /facilities per this many reads (default 50)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="smoke run: 200 requests, 10 s cap, 200 mixed reads")
    ap.add_argument("--out", type=Path, default=None, help="results JSON (default bench/results/api.json)")
    ap.add_argument(
        "--keep-state", action="store_true", help="keep the temporary state folder (log, database)"
    )
    args = ap.parse_args(argv)
    if not (
        1 <= args.clients <= 200
        and 1 <= args.requests <= 100_000
        and 0 < args.time_cap <= 600
        and 1 <= args.mixed_reads <= 100_000
        and args.write_every >= 0
    ):
        ap.error(
            "need 1-200 clients, 1-100000 requests and mixed reads, a time cap of (0, 600] s, write-every >= 0"
        )
    if args.quick:
        args.requests, args.time_cap, args.mixed_reads = (
            min(args.requests, 200),
            min(args.time_cap, 10.0),
            min(args.mixed_reads, 200),
        )
    out_path = args.out or HERE / "results" / ("api-quick.json" if args.quick else "api.json")

    # a SIGTERM to the bench unwinds like Ctrl-C, so the server is always stopped
    signal.signal(signal.SIGTERM, _interrupt)

    state_dir = Path(tempfile.mkdtemp(prefix="circles-bench-api-"))
    server = Server(free_port(), state_dir)
    started = datetime.now(UTC)
    load0 = os.getloadavg() if hasattr(os, "getloadavg") else None
    t_all = time.perf_counter()
    try:
        log(f"starting: {' '.join(server.cmd)} (CIRCLES_STATE_DIR={state_dir})")
        server.start()
        t = time.perf_counter()
        try:
            health = server.wait_healthy(STARTUP_TIMEOUT_S)
        except RuntimeError as e:
            print(f"service failed to start: {e}\n--- server log ---\n{server.log_tail()}", file=sys.stderr)
            return 1
        startup_s = time.perf_counter() - t
        log(
            f"healthy after {startup_s:.1f} s: region {health['region']}, {health['communities']} communities, "
            f"{health['facilities']} facilities"
        )
        results = bench(server, args)
    except KeyboardInterrupt:
        log("interrupted: stopping the server")
        return 130
    finally:
        rc = server.stop()
        clean = server.stopped_cleanly()
        log(
            f"server stopped (exit code {rc}; {'graceful shutdown' if clean else 'no graceful-shutdown line in its log'})"
        )
        if not args.keep_state:
            shutil.rmtree(state_dir, ignore_errors=True)
        else:
            log(f"state kept in {state_dir}")

    txt, verdicts = report(results, args)
    print(txt)
    doc = {
        "benchmark": "bench/bench_api.py",
        "started_utc": started.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - t_all, 1),
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_start": load0,
            "load_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "client": "threads + http.client (stdlib), keep-alive",
            "uvicorn": _version("uvicorn"),
            "fastapi": _version("fastapi"),
            "h11": _version("h11"),
            "httptools": _version("httptools"),
            "uvloop": _version("uvloop"),
        },
        "server": {
            "command": " ".join(server.cmd[1:]),
            "workers": 1,
            "startup_s": round(startup_s, 2),
            "healthz": health,
            "exit_code": rc,
            "graceful_shutdown": clean,
        },
        "parameters": {
            "requests_per_run": args.requests,
            "clients": args.clients,
            "time_cap_s": args.time_cap,
            "mixed_reads": args.mixed_reads,
            "write_every": args.write_every,
            "seed": args.seed,
            "quick": args.quick,
            "request_timeout_s": REQUEST_TIMEOUT_S,
            "bbox": BBOX,
            "latency": "client side, request sent to body read, ms",
        },
        "targets": verdicts,
        "runs": results["runs"],
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    log(f"wrote {out_path}")
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _version(mod: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(mod)
    except Exception:
        return None


if __name__ == "__main__":
    sys.exit(main())
