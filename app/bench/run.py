"""Benchmark the comments API against a ceiling, a reference, a peer and a floor in one run; write BENCHMARKS.md.

The orchestration: which implementations run, on which database, in which order, and what is
measured of each. All run under gunicorn with the very same settings (the app's own
`comments_api.gunicorn_conf`, through bench_conf.py, driven by the same environment), bound to
127.0.0.1, and wrk measures GET of a list of 20 comments and POST of a comment on loopback. The
parts: accounting.py (CPU from /proc), load.py (wrk), pgstats.py (statements and round trips
per request), cost.py (CPU per layer, in process), report.py (BENCHMARKS.md). Run it through
`make bench` (app venv) or `app/bench/run.sh`.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import report
from accounting import CpuMeter, connections_per_worker
from cost import LIST_CONTENT, LIST_PATH, POST_CONTENT, POST_PATH, SEEDED, create_app_schema
from load import BenchError, run_wrk
from pgstats import PRELOAD, data_segments_sent, install, reset, statements

from comments_harness import AppServer, OtlpReceiver, PostgresCluster
from comments_harness.server import APP_CREATED

BENCH_DIR = Path(__file__).resolve().parent
APP_DIR = BENCH_DIR.parent
REPO = APP_DIR.parent
VENV_BIN = Path(sys.executable).parent
# A measurement in which one gunicorn worker holds none of wrk's connections is taken again, up
# to this many times in all (see the note written into BENCHMARKS.md).
ATTEMPTS = 5  # 3 left the app's POST with one idle worker in two runs of 2026-12-06 (0/32 each time)
# Runs of each app tree when the app is compared with itself before a change (tracing off, issue 18).
COMPARE_RUNS = 4
ALL = ("ceiling", "reference", "peer", "floor", "app-sqlite", "app-pg", "app-pg-traced")


@dataclass
class Target:
    key: str
    title: str
    wsgi: str
    backend: str = "none"  # "none", "sqlite" or "postgresql"
    env: dict = field(default_factory=dict)
    seed_over_http: bool = True
    is_app: bool = False  # the comments API itself (its workers log "app created" when ready)
    database: str | None = None  # its PostgreSQL database
    modules: list[set] = field(default_factory=list)  # per worker, the modules it had loaded
    exported: tuple[int, int] | None = None  # (OTLP export requests, bytes) for the traced row


@dataclass
class Result:
    key: str
    method: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    app_cpu_ms: float  # gunicorn master + workers, CPU ms per request
    db_cpu_ms: float  # PostgreSQL server processes, CPU ms per request
    split: list  # wrk's connections held by each worker, mid-measurement
    attempts: int
    others_cores: float  # CPU used by everything but the app, PostgreSQL, wrk and this process, in cores
    statements: dict | None = None  # PostgreSQL statement -> calls per request
    round_trips: float | None = None  # messages the app sent to PostgreSQL, per request

    @property
    def cpu_ms(self) -> float:
        return self.app_cpu_ms + self.db_cpu_ms


def targets(pg: PostgresCluster | None, workdir: Path, tracing: bool) -> list[Target]:
    seeded = {"BENCH_SEED_COMMENTS": str(SEEDED), "BENCH_SEED_CONTENT": str(LIST_CONTENT)}
    made = [
        Target("ceiling", "ceiling: bare WSGI, constant answer", "apps.ceiling:app", seed_over_http=False),
        Target("reference", "reference: original API in memory (Flask)", "apps.reference:app", "none", seeded, False),
        Target("peer", "peer: Flask-SQLAlchemy ORM, PostgreSQL", "apps.peer:app", "postgresql"),
        Target("floor", "floor: bare WSGI + 1 psycopg statement, PostgreSQL", "apps.floor:app", "postgresql"),
        Target(
            "app-sqlite",
            "this app, SQLite",
            "comments_api.wsgi:app",
            "sqlite",
            {"DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}"},
            is_app=True,
        ),
        Target("app-pg", "this app, PostgreSQL", "comments_api.wsgi:app", "postgresql", is_app=True),
    ]
    if tracing:
        made.append(
            Target(
                "app-pg-traced",
                "this app, PostgreSQL, tracing on (OTLP/HTTP to a local sink)",
                "comments_api.wsgi:app",
                "postgresql",
                is_app=True,
            )
        )
    for t in made:
        if t.backend == "postgresql" and pg is not None:
            url = pg.fresh_database()
            t.env["DATABASE_URL"], t.database = url, url.rsplit("/", 1)[1]
            if t.key == "floor":
                create_app_schema(url)  # the app's own table and index
            if t.key == "peer":
                # Its db.create_all() once before the workers start, as a deployment would: two workers
                # creating the table at the same time collide in PostgreSQL's catalog, and gunicorn
                # stops when a worker fails to boot.
                env = dict(os.environ, DATABASE_URL=url, PYTHONPATH=str(BENCH_DIR))
                subprocess.run([sys.executable, "-c", "import apps.peer"], env=env, check=True, capture_output=True)
    return made


def tracing_available() -> bool:
    """The app has the tracing module issue 8 adds, and the OpenTelemetry SDK is installed."""
    try:
        import opentelemetry.sdk  # noqa: F401
    except ImportError:
        return False
    return (APP_DIR / "comments_api" / "tracing.py").exists()


def record_split(out: list, master: int, port: int) -> None:
    out.extend(connections_per_worker(master, port))


def measure(server: AppServer, t: Target, pg, method: str, path: str, args, raw: list) -> Result:
    """Warm-up, then one measurement (again if a worker held no connection), with all its accounting."""
    wrk = dict(connections=args.connections, threads=args.wrk_threads, post_content=POST_CONTENT)
    run_wrk(server.base_url, method, path, args.warmup, **wrk)
    on_pg = t.backend == "postgresql" and pg is not None
    meter = CpuMeter(server.pid, pg.postmaster_pid if on_pg else None)
    for attempt in range(1, ATTEMPTS + 1):
        split = []
        sampler = threading.Timer(args.duration / 2, record_split, args=(split, server.pid, server.port))
        if on_pg:
            reset(pg.url())
            segments = data_segments_sent(server.pid, pg.port)
        meter.start()
        sampler.start()
        run = run_wrk(server.base_url, method, path, args.duration, **wrk)
        sampler.join()
        use = meter.stop()
        if min(split, default=0) > 0 or attempt == ATTEMPTS:
            break
        print(f"  ({t.key}) {method}: one worker held no connection ({'/'.join(map(str, split))}); again", flush=True)
    if run.requests == 0:
        raise BenchError(f"({t.key}) {method}: wrk got no answer in {args.duration} s:\n{run.raw}")
    result = Result(
        t.key,
        method,
        run.rps,
        run.p50_ms,
        run.p99_ms,
        run.requests,
        run.errors,
        1000 * use.app / run.requests,
        1000 * use.db / run.requests,
        split,
        attempt,
        use.others_cores,
    )
    if on_pg:
        result.round_trips = (data_segments_sent(server.pid, pg.port) - segments) / run.requests
        result.statements = {q: n / run.requests for q, n in statements(pg.url(), t.database).items()}
    raw.append(f"### ({t.key}) {method}\n```\n{run.raw.strip()}\n```")
    extra = "" if result.round_trips is None else f"  round trips/req {result.round_trips:.2f}"
    print(
        f"  ({t.key}) {method:4} {result.rps:9.1f} req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
        f"  CPU/req {result.app_cpu_ms:.3f} ms (+db {result.db_cpu_ms:.3f})  conns {'/'.join(map(str, split))}"
        f"  others {use.others_cores:.2f} cores  errors {run.errors}{extra}",
        flush=True,
    )
    return result


def bench_target(t: Target, pg, args, workdir: Path, raw: list) -> list[Result]:
    modules_dir = workdir / f"modules-{t.key}"
    modules_dir.mkdir()
    env = {**t.env, "PYTHONPATH": str(BENCH_DIR), "BENCH_MODULES_DIR": str(modules_dir)}
    if t.is_app:
        # As the comments-api launcher does: one fresh metrics directory shared by the workers.
        metrics = workdir / f"metrics-{t.key}"
        metrics.mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
    server = AppServer(
        env,
        workdir / f"gunicorn-{t.key}.log",
        workers=args.workers,
        threads=args.threads,
        command=[str(VENV_BIN / "gunicorn"), "-c", "python:bench_conf", t.wsgi],
        ready_marker=APP_CREATED if t.is_app else None,
    )
    server.start(timeout=60)
    try:
        if t.seed_over_http:
            for n in range(SEEDED):
                answer = server.post_comment(LIST_CONTENT, f"seed{n}@example.com", f"seed comment number {n}")
                if answer.status_code != 200:
                    raise BenchError(f"({t.key}) seeding: POST answered {answer.status_code}: {answer.text[:200]}")
        if t.key != "ceiling":
            # Every worker must answer the same 20 comments (the reference seeds per worker).
            for _ in range(2 * args.workers):
                answer = server.list_comments(LIST_CONTENT)
                if answer.status_code != 200 or len(answer.json()) != SEEDED:
                    raise BenchError(f"({t.key}) the list has not {SEEDED} comments: {answer.text[:200]}")
        return [measure(server, t, pg, m, p, args, raw) for m, p in (("GET", LIST_PATH), ("POST", POST_PATH))]
    finally:
        server.stop()
        t.modules = [set(f.read_text().split()) for f in sorted(modules_dir.glob("*.txt"))]


def in_process_costs(pg: PostgresCluster, args, workdir: Path) -> dict:
    """cost.py's per-layer table on this run's cluster, and the app alone compared with itself before a change:
    before and with tracing (issue 8), before the request path's cost was cut and now (issue 18)."""
    cost = [str(sys.executable), str(BENCH_DIR / "cost.py"), "--json", "--calls", str(args.calls)]
    cost += ["--admin-url", pg.url()]

    def run(extra: list, pythonpath: str | None = None) -> list[dict]:
        env = dict(os.environ)
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        out = subprocess.run(cost + extra, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise BenchError(f"cost.py failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout)

    def compare(trees: dict, commit: str) -> dict:
        """The app alone, one tree after the other, COMPARE_RUNS times each: the lowest of each is kept, and
        the spread between runs of the same tree says how large a difference noise makes. trees: name ->
        a commit to take app/comments_api from, or None for the app as it is here."""
        paths = {}
        for name, rev in trees.items():
            if rev is None:
                paths[name] = None
                continue
            tree = workdir / f"app-{name}-{rev.replace('^', '-parent')}"
            tree.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", rev, "app/comments_api"], capture_output=True, check=True
            )
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
            paths[name] = str(tree / "app")
        runs = {name: [] for name in paths}
        for _ in range(COMPARE_RUNS):
            for name, pythonpath in paths.items():
                runs[name].append(run(["--app-only"], pythonpath))
        found = {
            "commit": git("log", "-1", "--format=%h", commit),
            "changed_since": git("log", "--format=%h", f"{commit}..HEAD", "--", "app/comments_api").split(),
            "dirty": bool(git("status", "--porcelain", "--", "app/comments_api")),
            "runs": COMPARE_RUNS,
        }
        for name, results in runs.items():
            keys = [(r["method"], r["key"]) for r in results[0]]
            samples = {key: [x[i]["us"] for x in results] for i, key in enumerate(keys)}
            found[name] = {key: min(v) for key, v in samples.items()}
            found[f"{name}_spread"] = {key: (max(v) - min(v)) / min(v) for key, v in samples.items()}
            found[f"{name}_calls"] = {key: results[0][i]["python_calls"] for i, key in enumerate(keys)}
        return found

    print("(in process) CPU per layer", flush=True)
    found = {"layers": run([])}
    added = commit_adding("app/comments_api/tracing.py")
    if added:
        # The commit before tracing and the tracing commit, so that the two differ by the tracing change alone.
        print("(in process) the app before and with tracing", flush=True)
        found["tracing_off"] = compare({"before": f"{added}^", "tracing": added}, added)
    cut = commit_adding("app/comments_api/framework.py")
    if cut:
        # The app before the first change of issue 18's request path, and the app as it is now.
        print("(in process) the app before issue 18's request path and now", flush=True)
        found["own_cost"] = compare({"before": f"{cut}^", "now": None}, cut)
    return found


def git(*args: str) -> str:
    out = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else ""


def commit_adding(path: str) -> str | None:
    """The commit that added this file of the app; None if it has none (or this is no git clone)."""
    if not (REPO / path).exists():
        return None
    return git("log", "--diff-filter=A", "--format=%H", "-1", "--", path) or None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per measurement (default 10)")
    p.add_argument("--warmup", type=int, default=3, help="seconds of warm-up before each (default 3)")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--wrk-threads", type=int, default=1)
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY) for all")
    p.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (THREADS) for all")
    p.add_argument("--calls", type=int, default=2000, help="calls per layer for the in-process costs (cost.py)")
    p.add_argument(
        "--only",
        default=",".join(ALL),
        help=f"comma-separated subset of {','.join(ALL)} (BENCHMARKS.md is then not written)",
    )
    p.add_argument("--output", type=Path, default=APP_DIR / "BENCHMARKS.md")
    args = p.parse_args(argv)
    only = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = sorted(set(only) - set(ALL))
    if unknown:
        raise BenchError(f"--only: unknown {', '.join(unknown)}; choose from {', '.join(ALL)}")
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (Debian: apt-get install wrk)")
    if shutil.which("ss") is None:
        raise BenchError("ss is not installed (Debian: apt-get install iproute2)")
    # Tracing is on only where a row asks for it: an OTEL_* variable of the caller's must not leak in.
    for name in [k for k in os.environ if k.startswith("OTEL_")]:
        del os.environ[name]
    full = set(only) == set(ALL)

    load_before, start = os.getloadavg(), time.monotonic()
    results, raw, costs = [], [], {}
    tracing = tracing_available()
    with tempfile.TemporaryDirectory(prefix="comments-bench-") as tmp:
        workdir = Path(tmp)
        pg = None
        try:
            pg = PostgresCluster(durable=True, settings=PRELOAD)
            pg.start()
            install(pg.url())
            chosen = [t for t in targets(pg, workdir, tracing) if t.key in only]
            for t in chosen:
                print(f"({t.key}) {t.title}", flush=True)
                if t.key == "app-pg-traced":
                    with OtlpReceiver(keep_bodies=False) as sink:
                        t.env["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.url
                        results += bench_target(t, pg, args, workdir, raw)
                        t.exported = sink.received()
                else:
                    results += bench_target(t, pg, args, workdir, raw)
            if full:
                costs = in_process_costs(pg, args, workdir)
            pg_version = pg.version
        finally:
            if pg:
                pg.destroy()
    wall, load_after = time.monotonic() - start, os.getloadavg()

    if not full:
        for r in results:
            print(f"({r.key}) {r.method}: {r.rps:.0f} req/s, CPU {r.cpu_ms:.3f} ms/req")
        return 1 if any(r.errors for r in results) else 0

    text = report.render(
        report.Run(
            results=results,
            targets=chosen,
            costs=costs,
            args=args,
            attempts=ATTEMPTS,
            machine=report.machine(pg_version),
            load_before=load_before,
            load_after=load_after,
            wall_s=wall,
            raw=raw,
            tracing=tracing,
        )
    )
    report.write(args.output, text)
    print("\n".join(line for line in text.splitlines() if line.startswith("|")))
    print(f"wrote {args.output}")
    failed = [r for r in results if r.errors]
    if failed:
        print("requests failed: " + ", ".join(f"({r.key}) {r.method}: {r.errors}" for r in failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BenchError, TimeoutError, RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        sys.exit(1)
