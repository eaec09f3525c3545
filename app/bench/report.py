"""BENCHMARKS.md: the comparison table, each target's verdict, the explanation of any miss (CPU per
request by layer), what PostgreSQL was asked per request, tracing's cost, and the machine."""

import os
import platform
import re
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from cost import SEEDED
from pgstats import short

# Issue 18's targets for the app on PostgreSQL at 32 connections (with >= 0.8x the floor's throughput,
# no errors, one round trip per request), and its cut of the app's own CPU per request (in process).
PEER_TIMES = 3
P99_OVER_FLOOR = 1.25
OWN_COST_CUT = 0.5
GENERATED_END = "<!-- end of generated part: the analysis below is kept across runs -->"
APP = "app-pg"
CONNECTIONS_NOTE = "conns per worker"


@dataclass
class Run:
    results: list
    targets: list
    costs: dict
    args: object
    attempts: int
    machine: list
    load_before: tuple
    load_after: tuple
    wall_s: float
    raw: list
    tracing: bool


def cores() -> int:
    """The cores this process may run on (what `nproc` prints)."""
    return len(os.sched_getaffinity(0))


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
    packages = ("gunicorn", "Flask", "SQLAlchemy", "Flask-SQLAlchemy", "psycopg", "opentelemetry-sdk")
    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return [
        f"- CPU: {os.cpu_count()} x {cpu} (`nproc` = {cores()})",
        f"- Memory: {mem_kb / 1024 / 1024:.1f} GiB; kernel {platform.release()}; Debian {debian}",
        f"- Python {platform.python_version()}; {', '.join(versions)}; SQLite {sqlite3.sqlite_version}; {pg_version}",
        f"- {wrk.split(' Copyright')[0]}",
    ]


def ratio(value: float, base: float | None) -> str:
    return f"{value / base:.2f}x" if base else "-"


def render(run: Run) -> str:
    by = {(r.key, r.method): r for r in run.results}
    titles = {t.key: t.title for t in run.targets}
    a = run.args
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`app/bench/run.py`); the part above the marker is regenerated on each run.",
        "",
        f"Run started {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(time.time() - run.wall_s))}, "
        f"{run.wall_s:.0f} s in all. wrk on loopback: {a.wrk_threads} thread(s), {a.connections} connections, "
        f"{a.warmup} s warm-up then {a.duration} s per measurement. gunicorn for every row: the app's "
        f"`comments_api.gunicorn_conf` (through `bench/bench_conf.py`), gthread, {a.workers} workers x "
        f"{a.threads} threads, bound to 127.0.0.1. The rows on PostgreSQL share one server (durable settings), "
        f"each in a database of its own. GET lists a content with {SEEDED} comments; POST creates a comment "
        "on another content (so the list keeps its size).",
        "",
        "CPU ms/req: CPU time of the gunicorn processes (+ of PostgreSQL) during the measurement, divided by "
        "the requests served; unlike req/s it hardly moves with the machine's load. Round trips/req: messages "
        "the workers sent to PostgreSQL per request (TCP data segments, from `ss -ti`); statements/req: "
        "statements PostgreSQL ran per request (pg_stat_statements, BEGIN/COMMIT included); both count the "
        f"requests still in flight when wrk stopped (at most {a.connections}, which wrk does not count), so 1 "
        "statement per request shows as a little over 1.00. Conns per worker: "
        "how wrk's connections were spread over the gunicorn workers mid-measurement; one where a worker held "
        f"none is taken again, up to {run.attempts} tries. Other load: CPU used during the measurement by "
        f"everything but the rows' processes and wrk (other users of the machine), in cores of the {cores()}.",
        "",
        *table(run, by, titles),
        "",
        "## Targets (issue 18: the app on PostgreSQL at 32 connections)",
        "",
        *verdicts(run, by),
        "",
        *explanations(run, by),
        *layers(run, by),
        *own_cost_section(run),
        *statement_table(run, by, titles),
        *tracing_section(run, by),
        "## Machine",
        "",
        *run.machine,
        f"- Load average (1, 5, 15 min) before the run: {', '.join(f'{x:.2f}' for x in run.load_before)}; "
        f"after: {', '.join(f'{x:.2f}' for x in run.load_after)} (this one includes the benchmark itself; "
        "the 'other load' column does not)",
        "- No CPU pinning: wrk, the gunicorn workers and PostgreSQL share the same cores, together with "
        "whatever else the machine runs (the load average above).",
        "",
        "<details><summary>wrk's own output</summary>",
        "",
        *run.raw,
        "",
        "</details>",
        "",
        GENERATED_END,
    ]
    return "\n".join(lines)


def table(run: Run, by: dict, titles: dict) -> list[str]:
    rows = [
        "| row | method | req/s | p50 ms | p99 ms | vs ceiling | vs floor | vs peer | CPU ms/req | "
        f"round trips/req | statements/req | {CONNECTIONS_NOTE} | other load | requests | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in run.results:
        base = {k: by[(k, r.method)].rps if (k, r.method) in by else None for k in ("ceiling", "floor", "peer")}
        cpu = f"{r.app_cpu_ms:.2f}" + (f" + {r.db_cpu_ms:.2f} db" if r.db_cpu_ms else "")
        trips = "-" if r.round_trips is None else f"{r.round_trips:.2f}"
        stmts = "-" if r.statements is None else f"{sum(r.statements.values()):.2f}"
        tries = f" (try {r.attempts})" if r.attempts > 1 else ""
        rows.append(
            f"| {titles[r.key]} | {r.method} | {r.rps:.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
            f"{ratio(r.rps, base['ceiling'])} | {ratio(r.rps, base['floor'])} | {ratio(r.rps, base['peer'])} | "
            f"{cpu} | {trips} | {stmts} | {'/'.join(map(str, r.split))}{tries} | {r.others_cores:.2f} | "
            f"{r.requests} | {r.errors} |"
        )
    return rows


def checks(run: Run, by: dict) -> list[tuple[str, bool | None, str]]:
    """(target, met, measured) for every target; met None when it could not be measured."""
    found = []
    for method in ("GET", "POST"):
        app, floor, peer = (by.get((k, method)) for k in (APP, "floor", "peer"))
        if app is None:
            continue
        if floor:
            x = app.rps / floor.rps
            found.append(
                (
                    f"app {method} >= 0.8x the floor's throughput",
                    x >= 0.8,
                    f"{x:.2f}x ({app.rps:.0f} of {floor.rps:.0f} req/s); by CPU per request: "
                    f"{floor.cpu_ms / app.cpu_ms:.2f}x",
                )
            )
        if peer:
            x = app.rps / peer.rps
            found.append(
                (
                    f"app {method} >= {PEER_TIMES}x the peer's throughput",
                    x >= PEER_TIMES,
                    f"{x:.2f}x ({app.rps:.0f} against {peer.rps:.0f} req/s); by CPU per request: "
                    f"{peer.cpu_ms / app.cpu_ms:.2f}x",
                )
            )
        if floor:
            bound = P99_OVER_FLOOR * floor.p99_ms
            over = app.p99_ms - bound
            found.append(
                (
                    f"app {method} p99 <= {P99_OVER_FLOOR}x the floor's p99",
                    over <= 0,
                    f"{app.p99_ms:.2f} ms against {bound:.2f} ms ({P99_OVER_FLOOR} x {floor.p99_ms:.2f}): "
                    f"{app.p99_ms / floor.p99_ms:.2f}x" + ("" if over <= 0 else f", {over:.2f} ms over"),
                )
            )
        found.append((f"app {method}: no errors", app.errors == 0, f"{app.errors} of {app.requests} requests"))
        if floor and app.round_trips is not None:
            extra = app.round_trips - floor.round_trips
            stmts = sum(app.statements.values())
            found.append(
                (
                    f"app {method}: no round trip per request beyond the floor's (connection check included)",
                    extra <= 0.02,
                    f"{app.round_trips:.3f} round trips and {stmts:.3f} statements per request; the floor: "
                    f"{floor.round_trips:.3f} and {sum(floor.statements.values()):.3f}",
                )
            )
    return found


def verdicts(run: Run, by: dict) -> list[str]:
    rows = ["| target | verdict | measured |", "|---|---|---|"]
    for name, met, measured in checks(run, by) + own_cost_checks(run) + tracing_checks(run, by):
        verdict = "not measured" if met is None else ("met" if met else "**missed**")
        rows.append(f"| {name} | {verdict} | {measured} |")
    return rows


def layer_costs(run: Run, field: str = "us") -> dict:
    return {(r["method"], r["key"]): r[field] for r in run.costs.get("layers", [])}


def breakdown(c: dict, method: str) -> list[tuple[str, float]]:
    """The app's in-process CPU per request, split into its layers (us)."""
    statement, db_layer = c[(method, "statement")], c[(method, "app-db")]
    fixed, whole = c[("GET", "app-fixed")], c[(method, "app")]
    validation = c.get((method, "app-validation"), 0.0)
    parts = [
        ("the database call (the statement on a bare psycopg connection)", statement),
        ("db.py around it (the thread's connection, its liveness check, conversions)", db_layer - statement),
        ("Flask, request hooks, request id, metrics, access line (the app's /healthz)", fixed),
    ]
    if validation:
        parts.append(("validation (JSON body, e-mail, comment, content id)", validation))
    parts.append(("the route's own code and the response", whole - fixed - db_layer - validation))
    return parts


def explanations(run: Run, by: dict) -> list[str]:
    """Why each missed target was missed, from the CPU per request of the rows and of the layers."""
    c = layer_costs(run)
    out = []
    for name, met, _ in checks(run, by):
        if met is not False:
            continue
        method = name.split()[1].rstrip(":")
        app, floor, peer = (by.get((k, method)) for k in (APP, "floor", "peer"))
        ceiling = by.get(("ceiling", method))
        if "the floor's throughput" in name and (method, "floor") in c:
            parts = breakdown(c, method)
            above = c[(method, "app")] - c[(method, "floor")]
            text = (
                f"**{name}: missed.** Under gunicorn the app costs {app.app_cpu_ms * 1000:.0f} us of worker CPU "
                f"and {app.db_cpu_ms * 1000:.0f} us of PostgreSQL per request, the floor {floor.app_cpu_ms * 1000:.0f}"
                f" + {floor.db_cpu_ms * 1000:.0f} us: with the CPU the limit, the app can reach "
                f"{floor.cpu_ms / app.cpu_ms:.2f}x of the floor. PostgreSQL's share is about the same (the same "
                f"statement, {app.round_trips:.2f} against {floor.round_trips:.2f} round trips per request), so the "
                f"difference is in the workers: {(app.app_cpu_ms - floor.app_cpu_ms) * 1000:.0f} us per request. In "
                f"process (table below) the app's request costs {c[(method, 'app')]:.0f} us against the floor's "
                f"{c[(method, 'floor')]:.0f} us, {above:.0f} us more: "
                + "; ".join(f"{label} {us:.0f} us" for label, us in parts)
                + f". The floor's own code around its statement costs "
                f"{c[(method, 'floor')] - c[(method, 'statement')]:.0f} us. What is left of the workers' difference "
                f"({(app.app_cpu_ms - floor.app_cpu_ms) * 1000 - above:.0f} us) is in no in-process layer: it is what "
                f"the longer request costs more under gunicorn, {run.args.workers} x {run.args.threads} threads on "
                f"{cores()} shared cores (GIL hand-overs while a thread waits on PostgreSQL, caches shared with the "
                "other threads and processes); this benchmark does not split it further."
                f" Other load: {floor.others_cores:.2f} cores during the floor's measurement, "
                f"{app.others_cores:.2f} during the app's."
            )
            if ceiling:
                text += (
                    f" For scale: gunicorn and HTTP alone (the ceiling) cost {ceiling.app_cpu_ms * 1000:.0f} us per "
                    f"request, Flask alone (the reference, in process) {c.get((method, 'reference'), 0):.0f} us."
                )
            out += [text, ""]
        elif "peer" in name:
            out += [
                f"**{name}: missed.** The peer costs {peer.cpu_ms * 1000:.0f} us of CPU per request (workers + "
                f"PostgreSQL) with {peer.round_trips:.2f} round trips, the app {app.cpu_ms * 1000:.0f} us with "
                f"{app.round_trips:.2f}: by CPU the app does {peer.cpu_ms / app.cpu_ms:.2f}x the peer's work per "
                f"second. Other load: {peer.others_cores:.2f} cores during the peer's measurement, "
                f"{app.others_cores:.2f} during the app's"
                + (
                    ", so the throughput ratio understates the app."
                    if app.others_cores > peer.others_cores + 0.2
                    else "."
                ),
                "",
            ]
        elif "p99" in name:
            mean = run.args.connections / app.rps * 1000
            floor_mean = run.args.connections / floor.rps * 1000
            out += [
                f"**{name}: missed.** wrk keeps {run.args.connections} connections in a closed loop, so the mean "
                f"latency is connections / throughput (Little's law): {mean:.1f} ms at {app.rps:.0f} req/s against "
                f"the floor's {floor_mean:.1f} ms at {floor.rps:.0f} req/s; p99 was {app.p99_ms / mean:.1f}x the "
                f"mean for the app, {floor.p99_ms / floor_mean:.1f}x for the floor. A p99 within "
                f"{P99_OVER_FLOOR}x the floor's needs about the floor's throughput, i.e. about its CPU per request "
                "(above).",
                "",
            ]
        elif "errors" in name:
            out += [f"**{name}: missed.** See the gunicorn log lines in the run's output.", ""]
        elif "round trip" in name:
            out += [
                f"**{name}: missed.** Statements the app ran per request: "
                + ", ".join(f"`{short(q)}` {n:.2f}" for q, n in sorted(app.statements.items(), key=lambda x: -x[1]))
                + ".",
                "",
            ]
    return (["## Why the missed targets were missed", "", *out]) if out else []


def layers(run: Run, by: dict) -> list[str]:
    c = layer_costs(run)
    if not c:
        return []
    order = [
        ("ceiling", "ceiling: bare WSGI, constant answer"),
        ("reference", "reference: original API in memory (Flask)"),
        ("statement", "the database call alone: the app's statement on a bare psycopg connection"),
        ("floor", "floor: bare WSGI + that statement"),
        ("app-fixed", "app's fixed cost: its /healthz (Flask, hooks, request id, 2 metrics, access line)"),
        ("app-validation", "app's validation alone (JSON body, e-mail, comment, content id)"),
        ("app-db", "app's db.py alone: Database.list_json / add_comment (connection check + statement)"),
        ("app", "app: whole request"),
        ("app-standin", "app: whole request, the database a stand-in answering at once (no wait)"),
        ("peer", "peer: whole request (Flask-SQLAlchemy)"),
    ]

    calls = layer_costs(run, "python_calls")

    def cell(method, key, table=c):
        value = table.get(("GET" if key == "app-fixed" else method, key))
        return "-" if value is None else f"{value:.0f}"

    rows = [
        "## CPU per request by layer",
        "",
        "In one process, each layer called as gunicorn calls an app (a WSGI call, no HTTP, no test client), "
        f"{run.args.calls} calls each after a warm-up (the lowest mean of 5 blocks), against this run's PostgreSQL "
        "(`bench/cost.py`). "
        "Microseconds of this process's CPU per request; PostgreSQL's own CPU and gunicorn's HTTP work are not in "
        "them (the table above has both: the ceiling row is gunicorn's share). These move less with the "
        "machine's load than req/s, but still by 5-20 % between runs on a busy shared machine. Calls: the Python "
        "and C function calls one request makes (sys.setprofile), exact and independent of the load.",
        "",
        "| layer | GET us | POST us | GET calls | POST calls |",
        "|---|---:|---:|---:|---:|",
        *[
            f"| {label} | {cell('GET', k)} | {cell('POST', k)} | {cell('GET', k, calls)} | {cell('POST', k, calls)} |"
            for k, label in order
        ],
        "",
        "The app's request, layer by layer (us; each layer is measured apart, so a small or negative "
        "difference is within the noise):",
        "",
        "| layer | GET | POST |",
        "|---|---:|---:|",
    ]
    get, post = breakdown(c, "GET"), dict(breakdown(c, "POST"))
    labels = [label for label, _ in get] + [label for label in post if label not in dict(get)]
    for label in labels:
        g = dict(get).get(label)
        rows.append(f"| {label} | {'-' if g is None else f'{g:.0f}'} | {post.get(label, 0):.0f} |")
    rows.append(f"| whole request | {c[('GET', 'app')]:.0f} | {c[('POST', 'app')]:.0f} |")
    return [*rows, ""]


def own_cost(off: dict, tree: str, method: str) -> float:
    """The app's own CPU per request in process: the whole request less its db.py (connection check + statement)."""
    return off[tree][(method, "app")] - off[tree][(method, "app-db")]


def own_cost_checks(run: Run) -> list[tuple[str, bool | None, str]]:
    off = run.costs.get("own_cost")
    if not off:
        return []
    found = []
    for method in ("GET", "POST"):
        before, now = own_cost(off, "before", method), own_cost(off, "now", method)
        calls_before = off["before_calls"][(method, "app")] - off["before_calls"][(method, "app-db")]
        calls_now = off["now_calls"][(method, "app")] - off["now_calls"][(method, "app-db")]
        found.append(
            (
                f"app {method}: its own CPU per request (Flask, hooks, route, response; db.py not included) at most "
                f"{OWN_COST_CUT:.1f}x what it was before issue 18",
                now <= OWN_COST_CUT * before,
                f"{now:.0f} us now against {before:.0f} us at {off['commit']}^, in process, lowest of {off['runs']} "
                f"runs each: {now / before:.2f}x; {calls_now} function calls against {calls_before} "
                f"({calls_now / calls_before:.2f}x)",
            )
        )
    return found


def own_cost_section(run: Run) -> list[str]:
    off = run.costs.get("own_cost")
    if not off:
        return []
    later = ", ".join(off["changed_since"]) or "none"
    dirty = " and uncommitted changes" if off["dirty"] else ""
    rows = [
        "## The app's own cost per request, before issue 18 and now",
        "",
        f"In process (as in the layer table): the app's requests at {off['commit']}^, before the first change of "
        f"issue 18 to the request path ({off['commit']}, later commits to comments_api: {later}{dirty}), and as "
        f"it is now. Alternated, {off['runs']} runs each, the lowest kept; the spread is how far the runs of one "
        "tree lay apart. The app's own cost is the whole request less its db.py (the connection check and the "
        "statement, which issue 18 leaves alone). Function calls per request are exact.",
        "",
        "| request | before us | now us | now / before | spread | calls before | calls now |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]

    def row(label, before, now, spread, calls_before, calls_now):
        rows.append(
            f"| {label} | {before:.0f} | {now:.0f} | {now / before:.2f}x | {spread * 100:.0f} % | "
            f"{calls_before} | {calls_now} |"
        )

    for method, key, label in (
        ("GET", "app-fixed", "/healthz (Flask, hooks, request id, metrics, access line)"),
        ("GET", "app", "GET list, whole request"),
        ("GET", "app-db", "GET list, db.py alone"),
        ("POST", "app", "POST create, whole request"),
        ("POST", "app-db", "POST create, db.py alone"),
    ):
        k = (method, key)
        spread = max(off["before_spread"][k], off["now_spread"][k])
        row(label, off["before"][k], off["now"][k], spread, off["before_calls"][k], off["now_calls"][k])
    for method in ("GET", "POST"):
        whole, db = (method, "app"), (method, "app-db")
        row(
            f"{method}: the app's own cost (whole less db.py)",
            own_cost(off, "before", method),
            own_cost(off, "now", method),
            max(off["before_spread"][whole], off["now_spread"][whole]),
            off["before_calls"][whole] - off["before_calls"][db],
            off["now_calls"][whole] - off["now_calls"][db],
        )
    standin = [m for m in ("GET", "POST") if (m, "app-standin") in off["before"] and (m, "app-standin") in off["now"]]
    for method in standin:
        k = (method, "app-standin")
        row(
            f"{method}: the app's own code without the wait (whole request, the database a stand-in answering at once)",
            off["before"][k],
            off["now"][k],
            max(off["before_spread"][k], off["now_spread"][k]),
            off["before_calls"][k],
            off["now_calls"][k],
        )
    if standin:
        rows += [
            "",
            "The last rows are the same requests with the database replaced by a stand-in that answers at once what "
            "it answered before (`bench/cost.py`, measurement only): the app's own code with nothing to wait for. "
            "The verdict above is on the rows before them, as issue 18 asks; the difference between the two "
            "measures is what the code after the database's wait pays for caches the wait left cold (the core idles "
            "or runs PostgreSQL meanwhile), which grows with how long the wait is (a POST waits for its commit to "
            "reach the disk).",
        ]
    return [*rows, ""]


def statement_table(run: Run, by: dict, titles: dict) -> list[str]:
    rows = []
    for r in run.results:
        if r.statements is None:
            continue
        for query, n in sorted(r.statements.items(), key=lambda x: -x[1]):
            if n >= 0.005:
                rows.append(f"| {titles[r.key]} | {r.method} | `{short(query, 90)}` | {n:.3f} |")
    if not rows:
        return []
    return [
        "## What PostgreSQL ran per request",
        "",
        "pg_stat_statements over each measurement, for the row's own database (statements under 0.005 per "
        "request left out). The app's connection check (issue 9: a dead connection is found before a request "
        "uses it) reads the connection's state on the client and sends nothing, so it shows neither here nor in "
        "the round trips above.",
        "",
        "| row | method | statement | per request |",
        "|---|---|---|---:|",
        *rows,
        "",
    ]


def otel_modules(t) -> int:
    """The most `opentelemetry` modules any of the target's workers had loaded."""
    counts = [sum(1 for m in mods if m == "opentelemetry" or m.startswith("opentelemetry.")) for mods in t.modules]
    return max(counts, default=0)


def tracing_checks(run: Run, by: dict) -> list[tuple[str, bool | None, str]]:
    if not run.tracing:
        return [("tracing off costs nothing (issue 8)", None, "the app has no tracing (comments_api/tracing.py)")]
    found = []
    targets = {t.key: t for t in run.targets}
    plain, traced = targets.get(APP), targets.get("app-pg-traced")
    if plain:
        n = otel_modules(plain)
        control = f"; with tracing on, {otel_modules(traced)} were loaded" if traced and traced.modules else ""
        found.append(
            (
                "tracing off: no `opentelemetry` module loaded in a worker (issue 8)",
                None if len(plain.modules) < run.args.workers else n == 0,
                f"{len(plain.modules)} of {run.args.workers} workers dumped sys.modules on exit, "
                f"{n} opentelemetry modules in any of them{control}",
            )
        )
    off = run.costs.get("tracing_off")
    if off:
        for method in ("GET", "POST"):
            key = (method, "app")
            before_calls, tracing_calls = off["before_calls"][key], off["tracing_calls"][key]
            found.append(
                (
                    f"tracing off: app {method} makes the function calls the app made before tracing (issue 8)",
                    tracing_calls <= before_calls,
                    f"{tracing_calls} Python and C function calls per request at {off['commit']} (tracing added), "
                    f"{before_calls} at {off['commit']}^ (counted with sys.setprofile: exact)",
                )
            )
            with_tracing, before = off["tracing"][key], off["before"][key]
            diff = with_tracing - before
            noise = max(off["tracing_spread"][key], off["before_spread"][key], 0.05)
            found.append(
                (
                    f"tracing off: app {method}'s CPU per request equals the app's before tracing (issue 8)",
                    abs(diff) <= noise * before,
                    f"{with_tracing:.0f} us at {off['commit']} against {before:.0f} us at {off['commit']}^, in "
                    f"process, lowest of {off['runs']} runs each: {diff:+.0f} us ({diff / before * 100:+.1f} %); "
                    f"equal when within the spread between runs of one tree ({noise * 100:.0f} % here, 5 % at least)",
                )
            )
    return found


def tracing_section(run: Run, by: dict) -> list[str]:
    targets = {t.key: t for t in run.targets}
    traced = targets.get("app-pg-traced")
    off = run.costs.get("tracing_off")
    if not run.tracing:
        return []
    rows = ["## Tracing (issue 8)", ""]
    if off:
        later = ", ".join(off["changed_since"]) or "none"
        dirty = " and uncommitted changes" if off["dirty"] else ""
        rows += [
            "Off (`OTEL_EXPORTER_OTLP_ENDPOINT` unset, as in every row but the traced one): the app's requests in "
            f"process (as in the layer table) at {off['commit']}, the commit that added tracing.py, and at the "
            f"commit before it, so that the two differ by the tracing change alone (later commits to comments_api: "
            f"{later}{dirty}; the layer table above is the app as it is now). Alternated, {off['runs']} runs each, "
            "the lowest kept; the spread is how far the runs of one tree lay apart (the noise of this "
            "measurement on this machine). Function calls per request are exact.",
            "",
            f"| request | before ({off['commit']}^) us | with tracing ({off['commit']}) us | difference | spread | "
            "calls before | calls with tracing |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for method, key, label in (
            ("GET", "app-fixed", "/healthz"),
            ("GET", "app", "GET list"),
            ("POST", "app", "POST create"),
        ):
            k = (method, key)
            before, with_tracing = off["before"][k], off["tracing"][k]
            spread = max(off["before_spread"][k], off["tracing_spread"][k])
            rows.append(
                f"| {label} | {before:.0f} | {with_tracing:.0f} | {with_tracing - before:+.0f} us | "
                f"{spread * 100:.0f} % | {off['before_calls'][k]} | {off['tracing_calls'][k]} |"
            )
        rows.append("")
    if traced:
        exports, size = traced.exported or (0, 0)
        for method in ("GET", "POST"):
            on, plain = by.get(("app-pg-traced", method)), by.get((APP, method))
            if on and plain:
                rows.append(
                    f"- On, {method}: {on.app_cpu_ms * 1000:.0f} us of worker CPU per request against "
                    f"{plain.app_cpu_ms * 1000:.0f} us off ({(on.app_cpu_ms - plain.app_cpu_ms) * 1000:+.0f} us, "
                    f"{on.rps / plain.rps:.2f}x the throughput)."
                )
        rows += [
            f"- The sink (an OTLP/HTTP receiver on 127.0.0.1 that answers 200 and drops what it gets) received "
            f"{exports} export requests, {size / 1e6:.1f} MB, from the traced row: the spans were really sent "
            "(the SDK's batch processor, with its default queue of 2048 spans, drops spans when the queue is full).",
            "",
        ]
    return rows


def write(output: Path, text: str) -> None:
    """Replace the generated part of `output`, keeping the analysis below the marker."""
    kept = ""
    if output.exists():
        old = output.read_text()
        if GENERATED_END in old:
            kept = old.split(GENERATED_END, 1)[1]
    output.write_text(text + (kept or "\n"))
