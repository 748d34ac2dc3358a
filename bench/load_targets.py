"""The load targets of issue 13, on loopback: 20 and 100 clients, mixed reads and writes, 1 and 2 worker
processes on one store; afterwards every acknowledged edit is checked on every worker.

Usage (also ``python bench/bench_api.py --targets``)::

    python bench/load_targets.py                  # 3,000 requests per run, <= 60 s per run
    python bench/load_targets.py --quick          # 600 requests per run, <= 20 s per run
    python bench/load_targets.py --workers 2 --clients 100

For each worker count the service is started afresh on a new temporary state folder: N processes
(``python -m uvicorn --factory api.main:create_app``, one port each) on one ``CIRCLES_STATE_DIR`` —
what ``circles serve --workers N`` runs, with each process reachable on its own, so the check below
can ask each one. Client ``i`` talks to worker ``i mod N`` (a client-side balancer).

Each run (one per client count) sends, in random order: ``GET /gaps`` with random filters (50 %, the
``bench_api.py`` mix: category, level, limit 20-100, offset, mostly JSON), ``GET /isochrones`` (15 %),
``GET /facilities`` (10 %), ``GET /communities`` (10 %), ``GET /coverage?category=…&format=csv`` (5 %),
``GET /categories`` (5 %) and one ``POST /facilities`` (a canteen, park or similar at a random point,
with an ``Idempotency-Key``) per 50 reads. Clients are threads with one keep-alive ``http.client``
connection each, opened before the clock starts (~0.1 ms of client CPU per request; the generator
shares the 2 cores with the service and its CPU is reported). Latency is measured in the client from sending the request to
having read the whole answer.

After each run the check asks every worker: every acknowledged POST (201) is listed by
``GET /facilities?source=user``, the workers list the same user facilities, answer the same
``GET /gaps`` (every page) and report ``revision == store_revision``. The targets: 0 errors (5xx,
failed connections), 0 lost and 0 diverging edits, ``/gaps`` p95 <= 50 ms at 20 clients, p99 <= 1 s at
100. Results: ``bench/results/load_targets.json`` (``load_targets-quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bench_api import (
    HERE,
    HOST,
    REQUEST_TIMEOUT_S,
    STARTUP_TIMEOUT_S,
    Server,
    free_port,
    gaps_requests,
    get_json,
    iso_requests,
    log,
    machine_cpu_busy_s,
    summarise,
    write_request,
)

TARGETS = {20: ("p95_ms", 50.0), 100: ("p99_ms", 1000.0)}
SHARES = {"/gaps": 0.50, "/isochrones": 0.15, "/facilities": 0.10, "/communities": 0.10, "/coverage": 0.05}
WRITE_EVERY = 50


# ---------------------------------------------------------------------------------------------- requests
def read_requests(rng: random.Random, n: int, categories: list[str]) -> list[dict]:
    """``n`` reads in the mix of :data:`SHARES` (the rest ``/categories``), shuffled."""
    count = {k: int(n * v) for k, v in SHARES.items()}
    out = gaps_requests(rng, count["/gaps"], categories) + iso_requests(rng, count["/isochrones"])
    for _ in range(count["/facilities"]):
        params = {"limit": rng.choice([20, 50, 100]), "offset": rng.choice([0, 0, 100])}
        if rng.random() < 0.7:
            params["category"] = rng.choice(categories)
        out.append({"method": "GET", "path": "/facilities", "params": params, "tag": "list"})
    for _ in range(count["/communities"]):
        params = {"limit": rng.choice([20, 50, 100]), "offset": rng.choice([0, 50, 100])}
        out.append({"method": "GET", "path": "/communities", "params": params, "tag": "list"})
    for _ in range(count["/coverage"]):
        params = {"category": rng.choice(categories), "format": "csv"}
        out.append({"method": "GET", "path": "/coverage", "params": params, "tag": "csv"})
    out += [{"method": "GET", "path": "/categories", "tag": "-"}] * (n - len(out))
    rng.shuffle(out)
    return out


def mixed(rng: random.Random, n: int, categories: list[str], write_every: int = WRITE_EVERY) -> list[dict]:
    """``n`` reads (:func:`read_requests`) with one ``POST /facilities`` after every ``write_every``."""
    reads = read_requests(rng, n, categories)
    out = []
    for i, r in enumerate(reads, 1):
        out.append(r)
        if i % write_every == 0:
            w = write_request(rng, categories)
            w["headers"] = {"Idempotency-Key": uuid.UUID(int=rng.getrandbits(128)).hex}
            out.append(w)
    return out


# ---------------------------------------------------------------------------------------------- load
def run(
    ports: list[int],
    reqs: list[dict],
    clients: int,
    time_cap_s: float,
    servers: list[Server],
    think_ms: float = 0.0,
    seed: int = 0,
) -> dict:
    """``clients`` threads (client i on ``ports[i % len(ports)]``), each with a keep-alive connection,
    take the next request until none is left or the time cap passed. ``think_ms`` > 0: each client waits
    an exponentially distributed time of that mean between its answer and its next request (people at
    a screen); 0: no wait, a saturating stress test where latency = clients / throughput. Returns the
    samples (with the answer of each POST), the wall time and the CPU used."""
    import threading

    samples: list[dict] = []
    lock = threading.Lock()
    it = iter(reqs)
    # every client opens its connection before the clock starts: the latencies are of requests, not of
    # a hundred TCP handshakes at once from one load generator
    ready = threading.Barrier(clients + 1)
    clock: dict[str, float] = {}

    def client(i: int) -> None:
        port = ports[i % len(ports)]
        con = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_S)
        think = random.Random(seed * 1000 + i)
        mine = []
        try:
            con.connect()
        except OSError:
            pass  # counted as a failed request below, when the first request cannot be sent
        ready.wait()
        t0, deadline = clock["t0"], clock["deadline"]
        try:
            while True:
                with lock:
                    req = next(it, None)
                if req is None or time.perf_counter() >= deadline:
                    return
                mine.append(_one(con, req, t0, port))
                if think_ms > 0:
                    time.sleep(think.expovariate(1000.0 / think_ms))
        finally:
            con.close()
            with lock:
                samples.extend(mine)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    cpu0 = (time.process_time(), [s.cpu_s() for s in servers], machine_cpu_busy_s())
    t0 = clock["t0"] = time.perf_counter()
    clock["deadline"] = t0 + time_cap_s
    ready.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cpu1 = (time.process_time(), [s.cpu_s() for s in servers], machine_cpu_busy_s())
    srv = sum((b or 0.0) - (a or 0.0) for a, b in zip(cpu0[1], cpu1[1]))
    gen = cpu1[0] - cpu0[0]
    cpu = {
        "server_cpu_utilisation": round(srv / wall, 2),
        "load_generator_cpu_utilisation": round(gen / wall, 2),
        "server_cpu_per_request_ms": round(srv * 1000 / max(len(samples), 1), 2),
    }
    if cpu0[2] is not None and cpu1[2] is not None:
        cpu["other_cpu_utilisation"] = round(max(0.0, cpu1[2] - cpu0[2] - srv - gen) / wall, 2)
    return {"samples": samples, "wall_s": wall, "planned": len(reqs), "cpu": cpu}


def _one(con: http.client.HTTPConnection, req: dict, t0: float, port: int) -> dict:
    from urllib.parse import urlencode

    url = req["path"] + ("?" + urlencode(req["params"]) if req.get("params") else "")
    body, headers = None, dict(req.get("headers", {}))
    if req.get("json") is not None:
        body = json.dumps(req["json"]).encode()
        headers["Content-Type"] = "application/json"
    status, err, answer = None, None, None
    s = time.perf_counter()
    try:
        con.request(req["method"], url, body=body, headers=headers)
        r = con.getresponse()
        data = r.read()
        status = r.status
        if req["method"] == "POST" and status == 201:
            answer = json.loads(data)
    except (OSError, http.client.HTTPException) as e:  # refused, reset, time-out, bad response
        err = type(e).__name__
        con.close()  # reconnects on the next request
    e_ = time.perf_counter()
    return {
        "path": req["path"],
        "method": req["method"],
        "tag": req["tag"],
        "port": port,
        "start": s - t0,
        "end": e_ - t0,
        "ms": (e_ - s) * 1000.0,
        "status": status,
        "exc": err,
        "answer": answer,
    }


# ---------------------------------------------------------------------------------------------- check
def _all_pages(port: int, path: str, params: dict) -> tuple[int, list]:
    from urllib.parse import urlencode

    items: list = []
    total = None
    while total is None or len(items) < total:
        status, page = get_json(port, f"{path}?{urlencode({**params, 'limit': 1000, 'offset': len(items)})}")
        if status != 200:
            raise RuntimeError(f"GET {path} on port {port} answered {status}")
        total = page["total"]
        if not page["items"]:
            break
        items += page["items"]
    return int(total), items


def check(ports: list[int], samples: list[dict]) -> dict:
    """Every acknowledged POST present on every worker; the workers agree on /facilities and /gaps."""
    acked = sorted(s["answer"]["facility"]["facility_id"] for s in samples if s["status"] == 201)
    failed = [s for s in samples if s["method"] == "POST" and s["status"] != 201]
    views = []
    for port in ports:
        _, users = _all_pages(port, "/facilities", {"source": "user"})
        gaps = _all_pages(port, "/gaps", {})
        status, health = get_json(port, "/healthz")
        views.append(
            {
                "users": sorted(f["facility_id"] for f in users),
                "gaps": gaps,
                "revision": health["revision"],
                "store_revision": health["store_revision"],
            }
        )
    lost = sorted(set(acked) - set(views[0]["users"]))
    diverging = [
        i
        for i, v in enumerate(views[1:], 1)
        if v["users"] != views[0]["users"]
        or v["gaps"] != views[0]["gaps"]
        or v["revision"] != views[0]["revision"]
    ]
    return {
        "acknowledged_posts": len(acked),
        "posts_not_acknowledged": len(failed),
        "post_statuses_not_201": sorted({str(s["status"] or s["exc"]) for s in failed}),
        "user_facilities_listed": len(views[0]["users"]),
        "lost_edits": len(lost),
        "lost_ids": lost[:20],
        "diverging_workers": diverging,
        "workers_caught_up": all(v["revision"] == v["store_revision"] for v in views),
        "revision": views[0]["revision"],
        "gaps_total": views[0]["gaps"][0],
    }


# ---------------------------------------------------------------------------------------------- main
def start(workers: int, state_dir: Path) -> list[Server]:
    servers = []
    for i in range(workers):
        s = Server(free_port(), state_dir)
        s.log_path = state_dir / f"uvicorn-{i}.log"
        servers.append(s)
    # the first creates the database; the others start once it answers (they then load in parallel)
    servers[0].start()
    servers[0].wait_healthy(STARTUP_TIMEOUT_S)
    for s in servers[1:]:
        s.start()
    for s in servers[1:]:
        s.wait_healthy(STARTUP_TIMEOUT_S)
    return servers


def one_configuration(workers: int, args, categories_seen: list[str]) -> dict:
    state_dir = Path(tempfile.mkdtemp(prefix=f"circles-load-{workers}w-"))
    servers: list[Server] = []
    out: dict = {"workers": workers, "runs": {}}
    try:
        log(f"{workers} worker process(es) on {state_dir} ...")
        servers = start(workers, state_dir)
        ports = [s.port for s in servers]
        status, cats = get_json(ports[0], "/categories")
        categories = [c["key"] for c in cats]
        categories_seen[:] = categories
        rng = random.Random(args.seed + workers)
        warm = read_requests(random.Random(args.seed - 1), 60, categories)
        run(ports, warm, min(4, max(args.clients)), args.time_cap, servers)  # not counted
        for clients in args.clients:
            reqs = mixed(rng, args.requests, categories)
            log(f"  {clients} clients, {len(reqs)} requests, cap {args.time_cap:.0f} s ...")
            r = run(ports, reqs, clients, args.time_cap, servers, args.think_ms, args.seed)
            smp = r["samples"]
            res = {
                "clients": clients,
                "think_ms": args.think_ms,
                "planned": r["planned"],
                "stopped_by_time_cap": len(smp) < r["planned"],
                "cpu": r["cpu"],
                "all": summarise(smp, r["wall_s"]),
            }
            for ep in ("/gaps", "/isochrones", "/facilities", "/communities", "/coverage", "/categories"):
                part = [x for x in smp if x["path"] == ep and x["method"] == "GET"]
                if part:
                    res[f"GET {ep}"] = summarise(part, r["wall_s"])
            posts = [x for x in smp if x["method"] == "POST"]
            if posts:
                res["POST /facilities"] = summarise(posts, r["wall_s"])
            res["check"] = check(ports, smp)
            out["runs"][str(clients)] = res
            g = res.get("GET /gaps", {})
            log(
                f"    {len(smp)} in {r['wall_s']:.1f} s; /gaps p50/p95/p99 {g.get('p50_ms')}/{g.get('p95_ms')}/"
                f"{g.get('p99_ms')} ms; errors {res['all']['errors']}; check {res['check']}; CPU {r['cpu']}"
            )
    finally:
        for s in servers:
            s.stop()
        out["graceful_shutdown"] = [s.stopped_cleanly() for s in servers]
        if args.keep_state:
            log(f"state kept in {state_dir}")
        else:
            shutil.rmtree(state_dir, ignore_errors=True)
    return out


def verdicts(results: dict) -> list[dict]:
    out = []
    for conf in results["configurations"]:
        for clients, res in conf["runs"].items():
            g = res.get("GET /gaps", {})
            key, limit = TARGETS.get(int(clients), ("p95_ms", 50.0))
            chk = res["check"]
            value = g.get(key)
            ok = (
                value is not None
                and value <= limit
                and res["all"]["errors"] == 0
                and chk["lost_edits"] == 0
                and not chk["diverging_workers"]
                and chk["workers_caught_up"]
            )
            out.append(
                {
                    "workers": conf["workers"],
                    "clients": int(clients),
                    "target": f"/gaps {key.split('_')[0]} <= {limit:g} ms, 0 errors, 0 lost or diverging edits",
                    "gaps_p50_ms": g.get("p50_ms"),
                    "gaps_p95_ms": g.get("p95_ms"),
                    "gaps_p99_ms": g.get("p99_ms"),
                    "errors": res["all"]["errors"],
                    "lost_edits": chk["lost_edits"],
                    "diverging_workers": len(chk["diverging_workers"]),
                    "acknowledged_posts": chk["acknowledged_posts"],
                    "result": "PASS" if ok else "MISS",
                }
            )
    return out


def report(rows: list[dict]) -> str:
    head = [
        "workers",
        "clients",
        "/gaps p50",
        "p95",
        "p99",
        "errors",
        "POSTs ok",
        "lost",
        "diverging",
        "result",
    ]
    cells = [head] + [
        [
            str(r["workers"]),
            str(r["clients"]),
            f"{r['gaps_p50_ms']}",
            f"{r['gaps_p95_ms']}",
            f"{r['gaps_p99_ms']}",
            str(r["errors"]),
            str(r["acknowledged_posts"]),
            str(r["lost_edits"]),
            str(r["diverging_workers"]),
            r["result"],
        ]
        for r in rows
    ]
    w = [max(len(c[i]) for c in cells) for i in range(len(head))]
    return "\n".join("  ".join(c[i].rjust(w[i]) for i in range(len(head))) for c in cells)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker processes (default 1 2)")
    ap.add_argument("--clients", type=int, nargs="+", default=[20, 100], help="clients (default 20 100)")
    ap.add_argument("--requests", type=int, default=3000, help="requests per run (default 3000)")
    ap.add_argument("--time-cap", type=float, default=60.0, help="seconds per run, at most (default 60)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="mean wait of each client between an answer and its next request (exponential); "
        "default 0: saturating stress test",
    )
    ap.add_argument("--quick", action="store_true", help="600 requests per run, 20 s cap")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--keep-state", action="store_true")
    args = ap.parse_args(argv)
    if not (
        all(1 <= w <= 4 for w in args.workers)
        and all(1 <= c <= 200 for c in args.clients)
        and 1 <= args.requests <= 100_000
        and 0 < args.time_cap <= 600
        and 0 <= args.think_ms <= 60_000
    ):
        ap.error("need 1-4 workers, 1-200 clients, 1-100000 requests, a time cap of (0, 600] s")
    if args.quick:
        args.requests, args.time_cap = min(args.requests, 600), min(args.time_cap, 20.0)
    think = f"-think{args.think_ms:g}ms" if args.think_ms else ""
    out_path = args.out or HERE / "results" / (
        f"load_targets{think}-quick.json" if args.quick else f"load_targets{think}.json"
    )
    signal.signal(signal.SIGTERM, _interrupt)
    started = datetime.now(UTC)
    t = time.perf_counter()
    categories: list[str] = []
    results: dict = {"configurations": []}
    try:
        for workers in args.workers:
            results["configurations"].append(one_configuration(workers, args, categories))
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    rows = verdicts(results)
    print(report(rows))
    doc = {
        "benchmark": "bench/load_targets.py",
        "started_utc": started.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - t, 1),
        "parameters": {
            "requests_per_run": args.requests,
            "time_cap_s": args.time_cap,
            "shares": SHARES,
            "write_every": WRITE_EVERY,
            "seed": args.seed,
            "think_ms": args.think_ms,
            "client": "threads + http.client keep-alive, connected before the clock starts, client i -> worker i mod N",
            "latency": "client side, request sent to body read, ms",
        },
        "targets": rows,
        **results,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    log(f"wrote {out_path}")
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
