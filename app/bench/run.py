"""Benchmark the comments API against a ceiling and a reference, in one run, and write BENCHMARKS.md.

(a) ceiling: a bare WSGI app answering a constant, (b) reference: the original API in memory
(Flask), (c) this app on SQLite, (d) this app on PostgreSQL. All four run under gunicorn with the
very same settings (the app's own `comments_api.gunicorn_conf`, driven by the same environment),
bound to 127.0.0.1, and wrk measures GET of a list of 20 comments and POST of a comment on
loopback. Run it through `make bench` (app venv) or `app/bench/run.sh`.
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from comments_harness import PostgresCluster, free_port, wait_until

BENCH_DIR = Path(__file__).resolve().parent
APP_DIR = BENCH_DIR.parent

VENV_BIN = Path(sys.executable).parent
LIST_CONTENT, POST_CONTENT, SEEDED = 1, 2, 20
GENERATED_END = "<!-- end of generated part: the analysis below is kept across runs -->"

TARGETS = (  # (app, method, metric, bound, wording)
    ("d", "GET", "ratio_b", 0.8, "(d) GET >= 0.8x (b)"),
    ("d", "POST", "ratio_b", 0.6, "(d) POST >= 0.6x (b)"),
    ("d", "GET", "p99_ms", 25.0, "(d) GET p99 <= 25 ms"),
    ("d", "POST", "p99_ms", 25.0, "(d) POST p99 <= 25 ms"),
)


class BenchError(RuntimeError):
    pass


def http(method: str, url: str, body: dict | None = None, timeout: float = 5) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


CLK_TCK = os.sysconf("SC_CLK_TCK")
# A measurement in which one gunicorn worker holds none of wrk's connections is taken again, up
# to this many times in all (see the note written into BENCHMARKS.md).
ATTEMPTS = 3


def processes() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, CPU ticks): user + system time of the process and of the children it reaped.

    Reaped children count because a PostgreSQL backend that exits during a measurement (its
    connection closed) must not take its CPU time with it.
    """
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        table[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]))
    return table


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (not idle, not waiting for I/O)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLK_TCK


def descendants(root: int, table: dict) -> set[int]:
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, (ppid, _) in table.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return tree


def cpu_seconds(root: int | None) -> float:
    """CPU seconds used so far by process `root` and all its descendants."""
    if root is None:
        return 0.0
    table = processes()
    return sum(table[pid][1] for pid in descendants(root, table) if pid in table) / CLK_TCK


def connections_per_worker(master: int, port: int) -> list[int]:
    """How many established connections to `port` each gunicorn worker (child of `master`) holds."""
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            if f[3] == "01" and int(f[1].rsplit(":", 1)[1], 16) == port:  # 01: ESTABLISHED
                inodes.add(f"socket:[{f[9]}]")
    counts = []
    for pid, (ppid, _) in processes().items():
        if ppid != master:
            continue
        held = 0
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    held += os.readlink(fd) in inodes
                except OSError:
                    pass
        except OSError:
            continue
        counts.append(held)
    return sorted(counts)


def stop(proc: subprocess.Popen, sig=signal.SIGTERM, seconds: float = 30) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def DurablePostgres() -> PostgresCluster:  # noqa: N802 (kept for cost.py until the split)
    return PostgresCluster(durable=True)


@dataclass
class Target:
    key: str
    title: str
    wsgi: str
    env: dict = field(default_factory=dict)
    seed_over_http: bool = False
    db_pid: int | None = None  # PostgreSQL's postmaster, whose CPU is counted with the app's


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
    others_cores: float  # CPU used by everything but the app, PostgreSQL and wrk, in cores

    ratio_a: float = 0.0
    ratio_b: float = 0.0


def gunicorn_env(base: dict, port: int, args) -> dict:
    env = dict(os.environ, **base)
    env.update(
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY=str(args.workers),
        THREADS=str(args.threads),
        PYTHONPATH=str(BENCH_DIR),
    )
    return env


def run_wrk(url: str, method: str, path: str, seconds: int, args) -> dict:
    cmd = [
        "wrk",
        f"-t{args.wrk_threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(BENCH_DIR / "wrk.lua"),
        url + path,
    ]
    env = dict(os.environ, BENCH_METHOD=method, BENCH_PATH=path, BENCH_POST_CONTENT=str(POST_CONTENT))
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    match = re.search(r"^WRK_JSON (\{.*\})$", out, re.M)
    if not match:
        raise BenchError(f"could not parse wrk's output:\n{out}")
    stats = json.loads(match.group(1))
    # Cross-check the Lua figures with wrk's own summary line.
    printed = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    if printed and abs(float(printed.group(1)) - stats["rps"]) > 0.01 * stats["rps"] + 1:
        raise BenchError(f"wrk's Requests/sec {printed.group(1)} disagrees with {stats['rps']:.1f}")
    stats["raw"] = out
    return stats


def bench_target(t: Target, args, workdir: Path, log_lines: list) -> list[Result]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = workdir / f"gunicorn-{t.key}.log"
    cmd = [str(VENV_BIN / "gunicorn"), "-c", "python:comments_api.gunicorn_conf", t.wsgi]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=gunicorn_env(t.env, port, args), stdout=out, stderr=subprocess.STDOUT)
    try:

        def answers() -> bool:
            if proc.poll() is not None:
                raise BenchError(f"({t.key}) gunicorn exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
            try:
                return http("GET", url + "/healthz")[0] == 200
            except OSError:
                return False

        wait_until(answers, 60, f"({t.key}) gunicorn on {url}")
        list_path = f"/api/comment/list/{LIST_CONTENT}"
        if t.seed_over_http:
            for n in range(SEEDED):
                status, body = http(
                    "POST",
                    url + "/api/comment/new",
                    {
                        "email": f"seed{n}@example.com",
                        "comment": f"seed comment number {n}",
                        "content_id": LIST_CONTENT,
                    },
                )
                if status != 200:
                    raise BenchError(f"({t.key}) seeding: POST answered {status}: {body[:200]!r}")
        if t.key != "a":
            # Every worker must answer the same 20 comments (the reference seeds per worker).
            for _ in range(2 * args.workers):
                status, body = http("GET", url + list_path)
                if status != 200 or len(json.loads(body)) != SEEDED:
                    raise BenchError(f"({t.key}) the list has not {SEEDED} comments: {status} {body[:200]!r}")
        results = []
        for method, path in (("GET", list_path), ("POST", "/api/comment/new")):
            run_wrk(url, method, path, args.warmup, args)
            for attempt in range(1, ATTEMPTS + 1):
                split = []
                sampler = threading.Timer(
                    args.duration / 2, lambda: split.extend(connections_per_worker(proc.pid, port))
                )
                app_cpu, db_cpu = cpu_seconds(proc.pid), cpu_seconds(t.db_pid)
                busy, mine, wall = machine_busy_seconds(), os.times(), time.monotonic()
                sampler.start()
                stats = run_wrk(url, method, path, args.duration, args)
                sampler.join()
                app_cpu, db_cpu = cpu_seconds(proc.pid) - app_cpu, cpu_seconds(t.db_pid) - db_cpu
                # wrk has been reaped: its CPU is in this process's children times.
                now = os.times()
                wrk_cpu = now.children_user + now.children_system - mine.children_user - mine.children_system
                own = now.user + now.system - mine.user - mine.system
                others = machine_busy_seconds() - busy - app_cpu - db_cpu - wrk_cpu - own
                others_cores = max(others, 0.0) / (time.monotonic() - wall)
                if min(split, default=0) > 0 or attempt == ATTEMPTS:
                    break
                print(
                    f"  ({t.key}) {method}: one worker held no connection ({'/'.join(map(str, split))}); "
                    "measuring again",
                    flush=True,
                )
            errors = sum(stats[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts", "non_2xx"))
            r = Result(
                t.key,
                method,
                stats["rps"],
                stats["p50_us"] / 1000,
                stats["p99_us"] / 1000,
                stats["requests"],
                errors,
                1000 * app_cpu / stats["requests"],
                1000 * db_cpu / stats["requests"],
                split,
                attempt,
                others_cores,
            )
            results.append(r)
            log_lines.append(f"### ({t.key}) {method}\n```\n{stats['raw'].strip()}\n```")
            print(
                f"  ({t.key}) {method:4} {r.rps:9.1f} req/s  p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms"
                f"  CPU/req {r.app_cpu_ms:.3f} ms (+db {r.db_cpu_ms:.3f})  conns {'/'.join(map(str, split))}"
                f"  others {others_cores:.2f} cores"
                f"  errors {errors}",
                flush=True,
            )
        return results
    finally:
        stop(proc)


def machine(pg_version: str) -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    debian = Path("/etc/debian_version").read_text().strip() if Path("/etc/debian_version").exists() else "?"
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    pkgs = ", ".join(f"{p} {metadata.version(p)}" for p in ("gunicorn", "Flask", "SQLAlchemy", "psycopg"))
    return [
        f"- CPU: {os.cpu_count()} x {cpu} (`nproc` = {len(os.sched_getaffinity(0))})",
        f"- Memory: {mem_kb / 1024 / 1024:.1f} GiB; kernel {platform.release()}; Debian {debian}",
        f"- Python {platform.python_version()}; {pkgs}; SQLite {sqlite3.sqlite_version}; {pg_version}",
        f"- {wrk.split(' Copyright')[0]}",
    ]


def fmt_ratio(x: float) -> str:
    return f"{x:.2f}x"


def write_report(
    results: list[Result],
    targets: list[Target],
    args,
    machine_lines,
    load_before,
    load_after,
    wall_s: float,
    raw: list[str],
) -> str:
    titles = {t.key: t.title for t in targets}
    rows = [
        "| app | method | req/s | p50 ms | p99 ms | vs (a) | vs (b) | CPU ms/req | conns per worker | other load | requests | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        cpu = f"{r.app_cpu_ms:.2f}" + (f" + {r.db_cpu_ms:.2f} db" if r.db_cpu_ms else "")
        rows.append(
            f"| ({r.key}) {titles[r.key]} | {r.method} | {r.rps:.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
            f"{fmt_ratio(r.ratio_a)} | {fmt_ratio(r.ratio_b)} | {cpu} | {'/'.join(map(str, r.split))}"
            f"{f' (try {r.attempts})' if r.attempts > 1 else ''} | {r.others_cores:.2f} | {r.requests} | {r.errors} |"
        )
    verdicts = []
    by = {(r.key, r.method): r for r in results}
    for key, method, metric, bound, wording in TARGETS:
        r, ref = by[(key, method)], by[("b", method)]
        value = getattr(r, metric)
        if metric == "p99_ms":
            met = value <= bound
            detail = f"{value:.2f} ms" + (
                "" if met else f", {value - bound:.2f} ms ({(value / bound - 1) * 100:.0f} %) over"
            )
        else:
            met = value >= bound
            detail = f"{value:.2f}x" + (
                ""
                if met
                else f", {(1 - value / bound) * 100:.0f} % short "
                f"({r.rps:.0f} req/s of the {bound * ref.rps:.0f} needed)"
            )
            # What the ratio would be with the CPU the only limit: load-independent, see CPU ms/req.
            detail += f"; by CPU per request: {ref.app_cpu_ms / (r.app_cpu_ms + r.db_cpu_ms):.2f}x"
        verdicts.append(f"| {wording} | {'met' if met else '**missed**'} | {detail} |")
    return "\n".join(
        [
            "# Benchmarks",
            "",
            "Written by `make bench` (`app/bench/run.py`); the part above the marker is regenerated on each run.",
            "",
            f"Run started {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(time.time() - wall_s))}, {wall_s:.0f} s in all. "
            f"wrk on loopback: {args.wrk_threads} thread(s), {args.connections} connections, {args.warmup} s warm-up "
            f"then {args.duration} s per measurement. gunicorn for all four: `-c python:comments_api.gunicorn_conf`, "
            f"gthread, {args.workers} workers x {args.threads} threads, bound to 127.0.0.1. GET lists a content with "
            f"{SEEDED} comments; POST creates a comment on another content (so the list keeps its size). "
            "CPU ms/req: CPU time of the gunicorn processes (and of PostgreSQL for (d)) during the "
            "measurement, divided by the requests served; unlike req/s it hardly moves with the machine's load. "
            "Conns per worker: how wrk's connections were spread over the gunicorn workers mid-measurement; "
            f"one where a worker held none is taken again, up to {ATTEMPTS} tries (why: see the analysis). "
            "Other load: CPU used during the measurement by everything except the app, PostgreSQL and wrk "
            "(other users of the machine), in cores of the 2.",
            "",
            *rows,
            "",
            "| target | verdict | measured |",
            "|---|---|---|",
            *verdicts,
            "",
            "## Machine",
            "",
            *machine_lines,
            f"- Load average (1, 5, 15 min) before the run: {', '.join(f'{x:.2f}' for x in load_before)}; "
            f"after: {', '.join(f'{x:.2f}' for x in load_after)} (this one includes the benchmark itself; "
            "the 'other load' column does not)",
            "- No CPU pinning: wrk, the gunicorn workers and (d)'s PostgreSQL share the same cores, "
            "together with whatever else the machine runs (the load average above).",
            "",
            "<details><summary>wrk's own output</summary>",
            "",
            *raw,
            "",
            "</details>",
            "",
            GENERATED_END,
        ]
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per measurement (default 10)")
    p.add_argument("--warmup", type=int, default=3, help="seconds of warm-up before each (default 3)")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--wrk-threads", type=int, default=1)
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY) for all four")
    p.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (THREADS) for all four")
    p.add_argument("--only", default="abcd", help="run a subset, e.g. 'bd' (BENCHMARKS.md is then not written)")
    p.add_argument("--output", type=Path, default=APP_DIR / "BENCHMARKS.md")
    args = p.parse_args(argv)
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (Debian: apt-get install wrk)")

    load_before = os.getloadavg()
    start = time.monotonic()
    results, raw = [], []
    with tempfile.TemporaryDirectory(prefix="comments-bench-") as tmp:
        workdir = Path(tmp)
        pg = None
        metrics_dir = workdir / "metrics"
        targets = [
            Target("a", "ceiling: bare WSGI", "apps.ceiling:app"),
            Target(
                "b",
                "reference: original API in memory",
                "apps.reference:app",
                {"BENCH_SEED_COMMENTS": str(SEEDED), "BENCH_SEED_CONTENT": str(LIST_CONTENT)},
            ),
            Target(
                "c",
                "this app, SQLite",
                "comments_api.wsgi:app",
                {"DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}"},
                seed_over_http=True,
            ),
            Target("d", "this app, PostgreSQL", "comments_api.wsgi:app", {}, seed_over_http=True),
        ]
        try:
            if "d" in args.only:
                pg = DurablePostgres()
                pg.start()
                targets[3].env["DATABASE_URL"] = pg.url()
                targets[3].db_pid = pg.postmaster_pid
            for t in targets:
                if t.key not in args.only:
                    continue
                if t.key in "cd":
                    # As the comments-api launcher does: one metrics directory shared by the workers.
                    shutil.rmtree(metrics_dir, ignore_errors=True)
                    metrics_dir.mkdir()
                    t.env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
                print(f"({t.key}) {t.title}", flush=True)
                results += bench_target(t, args, workdir, raw)
            pg_version = pg.version if pg else "PostgreSQL not run"
        finally:
            if pg:
                pg.destroy()
    wall = time.monotonic() - start
    load_after = os.getloadavg()

    by = {(r.key, r.method): r for r in results}
    for r in results:
        for ref in ("a", "b"):
            if (ref, r.method) in by:
                setattr(r, f"ratio_{ref}", r.rps / by[(ref, r.method)].rps)
    if args.only != "abcd":
        for r in results:
            print(f"({r.key}) {r.method}: vs (a) {r.ratio_a:.2f}x, vs (b) {r.ratio_b:.2f}x")
        return 0

    report = write_report(results, targets, args, machine(pg_version), load_before, load_after, wall, raw)
    kept = ""
    if args.output.exists():
        old = args.output.read_text()
        if GENERATED_END in old:
            kept = old.split(GENERATED_END, 1)[1]
    args.output.write_text(report + (kept or "\n"))
    print("\n".join(line for line in report.splitlines() if line.startswith("|")))
    print(f"wrote {args.output}")
    failed = [r for r in results if r.errors]
    if failed:
        print(
            "requests failed during the run: " + ", ".join(f"({r.key}) {r.method}: {r.errors}" for r in failed),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BenchError, TimeoutError, RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        sys.exit(1)
