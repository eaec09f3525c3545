"""Where a request's CPU goes: CPU time per request of each layer, in one process, no HTTP server.

wrk's req/s on a busy machine move with the load; CPU time per request hardly does, so this is the
figure to use when changing the app's code. Every layer is called the way gunicorn calls an app (a
WSGI call with a ready environ, no test client in between), against a real PostgreSQL with durable
settings: a throwaway cluster, or --admin-url's, in which fresh databases are made.

  .venv-app/bin/python app/bench/cost.py [--calls N] [--json]    (after `make app-venv`)

`make bench` runs it on the benchmark's cluster and puts the table into BENCHMARKS.md. --app-only
measures the app alone (its /healthz, list and create, and its db.py): run.py also runs that with
PYTHONPATH pointing at an older copy of comments_api, to compare the app with itself before a change
(tracing, issue 8; the request path's cost, issue 18). The wait for
PostgreSQL costs this process nothing, and PostgreSQL's own CPU is not included here.
"""

import argparse
import importlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

LIST_CONTENT, POST_CONTENT, SEEDED = 1, 2, 20
LIST_PATH = f"/api/comment/list/{LIST_CONTENT}"
POST_PATH = "/api/comment/new"
POST_BODY = {"email": "bench@example.com", "comment": "benchmark comment", "content_id": POST_CONTENT}


def cpu_us(fn, calls: int, blocks: int = 5) -> float:
    """CPU microseconds per call of fn() in this process: the lowest mean of `blocks` blocks of calls.

    On a shared machine another process's burst inflates the CPU time of whatever runs beside it
    (caches, a shared core); the quietest block is the closest to the code's own cost.
    """
    for _ in range(20):
        fn()  # warm: prepared statements (psycopg prepares after 5 runs), caches, lazy imports
    per_block, best = max(calls // blocks, 1), float("inf")
    for _ in range(blocks):
        start = time.process_time()
        for _ in range(per_block):
            fn()
        best = min(best, (time.process_time() - start) / per_block)
    return best * 1e6


def python_calls(fn) -> int:
    """Python and C function calls one call of fn() makes: exact, whatever the machine's load."""
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count - 1  # the setprofile(None) call itself


def wsgi_call(app, method: str, path: str, body: dict | None = None, expect: int = 200):
    """A function making the WSGI call gunicorn makes for this request and reading the answer; tried once here."""
    raw = json.dumps(body).encode() if body is not None else b""
    base = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if body is not None:
        base.update(CONTENT_TYPE="application/json", CONTENT_LENGTH=str(len(raw)))
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def call():
        environ = dict(base)
        environ["wsgi.input"] = io.BytesIO(raw)
        result = app(environ, start_response)
        try:
            for _ in result:
                pass
        finally:
            if hasattr(result, "close"):
                result.close()

    call()
    if not statuses or not statuses[-1].startswith(str(expect)):
        raise RuntimeError(f"{method} {path} answered {statuses[-1] if statuses else 'nothing'}, not {expect}")
    return call


def import_app(module: str, database_url: str | None = None):
    """An app module's `app`, imported with DATABASE_URL set for it (the peer and the floor read it then)."""
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    return importlib.import_module(module).app


def seed(app) -> None:
    for n in range(SEEDED):
        body = {"email": f"seed{n}@example.com", "comment": f"seed comment number {n}", "content_id": LIST_CONTENT}
        wsgi_call(app, "POST", POST_PATH, body)


def create_app_schema(database_url: str) -> None:
    """The app's own table and index (comments_api.db), in a database the floor then uses."""
    from sqlalchemy import create_engine

    from comments_api.db import metadata

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    metadata.create_all(engine)
    engine.dispose()


class StandInDatabase:
    """The app's Database answering at once with what the real one answered (measurement only).

    The app's request waits for PostgreSQL in the middle; the code after the wait runs on caches
    the wait left cold (the core idles, other processes run), which the whole request's CPU counts
    and db.py measured alone mostly does not. With this stand-in the same request never waits: the
    difference between the two is that penalty, and this layer is the app's own code alone. It
    answers what the real database answered once, so every request takes the same path.
    """

    def __init__(self, real):
        self.backend = real.backend
        self._list = real.list_json(str(LIST_CONTENT))
        self._created = real.add_comment(str(POST_CONTENT), POST_BODY["email"], POST_BODY["comment"])

    def list_json(self, content_id, limit=None, offset=0):
        return self._list

    def has_comments(self, content_id):
        return True

    def add_comment(self, content_id, email, comment):
        return self._created

    def ping(self):
        return True


def measure(urls: dict, calls: int, app_only: bool = False) -> list[dict]:
    """CPU us per request of each layer: [{method, key, layer, us}]; urls: 'app', 'floor', 'peer' databases.

    The apps are imported here, after the environment is set (prometheus_client picks its
    multiprocess mode at import, and the peer and the floor read DATABASE_URL at import).
    """
    import psycopg

    from comments_api import create_app, validation

    os.environ["DATABASE_URL"] = urls["app"]
    app = create_app()
    seed(app)
    database = app.extensions["comments_db"]
    waitless = create_app()  # the same app, its database a stand-in answering at once
    waitless.extensions["comments_db"] = StandInDatabase(database)
    layers = [
        (
            "GET",
            "app-fixed",
            "app /healthz: Flask, request hooks, request id, 2 metrics, access line",
            wsgi_call(app, "GET", "/healthz"),
        ),
        ("GET", "app", "app, whole list request", wsgi_call(app, "GET", LIST_PATH)),
        ("POST", "app", "app, whole create request", wsgi_call(app, "POST", POST_PATH, POST_BODY)),
        (
            "GET",
            "app-standin",
            "app, whole list request, the database a stand-in answering at once (the app's code without the wait)",
            wsgi_call(waitless, "GET", LIST_PATH),
        ),
        (
            "POST",
            "app-standin",
            "app, whole create request, the database a stand-in answering at once (the app's code without the wait)",
            wsgi_call(waitless, "POST", POST_PATH, POST_BODY),
        ),
        (
            "GET",
            "app-db",
            "app's db.py: Database.list_json (its connection check + the statement)",
            lambda: database.list_json(str(LIST_CONTENT)),
        ),
        (
            "POST",
            "app-db",
            "app's db.py: Database.add_comment (its connection check + the statement)",
            lambda: database.add_comment("2", "bench@example.com", "benchmark comment"),
        ),
    ]
    if not app_only:
        from apps import floor

        max_length = app.config["MAX_COMMENT_LENGTH"]
        raw_body = json.dumps(POST_BODY).encode()
        bare = psycopg.connect(urls["floor"], autocommit=True)
        floor_app = import_app("apps.floor", urls["floor"])
        seed(floor_app)
        peer_app = import_app("apps.peer", urls["peer"])
        seed(peer_app)
        reference = import_app("apps.reference")
        ceiling = import_app("apps.ceiling")
        created_at = "2026-01-01T00:00:00+00:00"
        layers += [
            ("GET", "ceiling", "(ceiling) bare WSGI, constant answer", wsgi_call(ceiling, "GET", LIST_PATH)),
            ("GET", "reference", "(reference) original API in memory, Flask", wsgi_call(reference, "GET", LIST_PATH)),
            (
                "GET",
                "statement",
                "the list statement on a bare psycopg connection (the database call)",
                lambda: bare.execute(floor.LIST, (str(LIST_CONTENT),)).fetchone(),
            ),
            ("GET", "floor", "(floor) bare WSGI + that statement", wsgi_call(floor_app, "GET", LIST_PATH)),
            ("GET", "peer", "(peer) Flask-SQLAlchemy ORM + session", wsgi_call(peer_app, "GET", LIST_PATH)),
            (
                "POST",
                "ceiling",
                "(ceiling) bare WSGI, constant answer",
                wsgi_call(ceiling, "POST", POST_PATH, POST_BODY),
            ),
            (
                "POST",
                "reference",
                "(reference) original API in memory, Flask",
                wsgi_call(reference, "POST", POST_PATH, POST_BODY),
            ),
            (
                "POST",
                "statement",
                "the INSERT on a bare psycopg connection (the database call)",
                lambda: bare.execute(
                    floor.INSERT, ("2", "bench@example.com", "benchmark comment", created_at)
                ).fetchone(),
            ),
            ("POST", "floor", "(floor) bare WSGI + that statement", wsgi_call(floor_app, "POST", POST_PATH, POST_BODY)),
            (
                "POST",
                "app-validation",
                "app's validation: JSON body, e-mail, comment, content id",
                lambda: validation.new_comment(validation.parse_json_body(raw_body), max_length),
            ),
            (
                "POST",
                "peer",
                "(peer) Flask-SQLAlchemy ORM + session",
                wsgi_call(peer_app, "POST", POST_PATH, POST_BODY),
            ),
        ]
    return [
        {"method": m, "key": k, "layer": text, "us": cpu_us(fn, calls), "python_calls": python_calls(fn)}
        for m, k, text, fn in layers
    ]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=2000, help="calls per layer (default 2000)")
    p.add_argument("--admin-url", help="a running PostgreSQL (superuser URL) to make fresh databases in")
    p.add_argument("--app-only", action="store_true", help="only the app's /healthz, list, create and db.py")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    args = p.parse_args(argv)

    from comments_harness import PostgresCluster

    cluster = None
    if args.admin_url:
        admin_url = args.admin_url
    else:
        cluster = PostgresCluster(durable=True)
        cluster.start()
        admin_url = cluster.url()
    try:
        with tempfile.TemporaryDirectory(prefix="comments-cost-") as tmp:
            os.environ.update(PROMETHEUS_MULTIPROC_DIR=tmp, LOG_LEVEL="INFO")
            os.environ.update(BENCH_SEED_COMMENTS=str(SEEDED), BENCH_SEED_CONTENT=str(LIST_CONTENT))
            for name in [k for k in os.environ if k.startswith("OTEL_")]:
                del os.environ[name]  # the app as it runs with tracing off
            urls = {name: fresh_database(admin_url) for name in ("app", "floor", "peer")}
            create_app_schema(urls["floor"])
            # Request log lines would flood the terminal (they still cost what they cost): fd 2 goes
            # to a file while the layers run, and comes back before any error is reported.
            saved_stderr = os.dup(2)
            with open(Path(tmp) / "stderr.log", "w") as log:
                os.dup2(log.fileno(), 2)
            try:
                results = measure(urls, args.calls, args.app_only)
            finally:
                os.dup2(saved_stderr, 2)
    finally:
        if cluster:
            cluster.destroy()

    if args.json:
        print(json.dumps(results))
        return 0
    print(f"CPU us per request in this process ({args.calls} calls each; PostgreSQL's own CPU not included)")
    print("| method | layer | CPU us |\n|---|---|---:|")
    for r in results:
        print(f"| {r['method']} | {r['layer']} | {r['us']:.1f} |")
    return 0


def fresh_database(admin_url: str) -> str:
    """A new empty database on admin_url's server; its URL."""
    import uuid

    import psycopg

    name = "cost_" + uuid.uuid4().hex[:12]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


if __name__ == "__main__":
    sys.exit(main())
