"""Where a request's CPU goes: CPU time per call of each layer, in one process, no HTTP server.

wrk's req/s on a busy 2-core machine move with the load; CPU time per request does not, so this is
the figure to use when changing the app's code. It runs the layers one by one through Flask's test
client against a real, throwaway PostgreSQL (durable settings, as in run.py):

  .venv-app/bin/python app/bench/cost.py [--calls N]    (after `make app-venv`)
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from run import LIST_CONTENT, SEEDED, DurablePostgres


def cpu_ms(fn, calls: int) -> float:
    fn()  # warm: compiled-statement caches, prepared statements, imports
    start = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - start) * 1000 / calls


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=2000, help="calls per layer (default 2000)")
    args = p.parse_args(argv)

    pg = DurablePostgres()
    pg.start()
    try:
        with tempfile.TemporaryDirectory(prefix="comments-cost-") as tmp:
            os.environ.update(DATABASE_URL=pg.url(), PROMETHEUS_MULTIPROC_DIR=tmp, LOG_LEVEL="INFO")
            os.environ.update(BENCH_SEED_COMMENTS=str(SEEDED), BENCH_SEED_CONTENT=str(LIST_CONTENT))
            # Request log lines would flood the terminal (they still cost what they cost): fd 2 goes
            # to a file while the layers run, and comes back before any error is reported.
            saved_stderr = os.dup(2)
            with open(Path(tmp) / "stderr.log", "w") as log:
                os.dup2(log.fileno(), 2)
            try:
                results = measure(args.calls, pg.url())
            finally:
                os.dup2(saved_stderr, 2)
    finally:
        pg.destroy()

    print(f"CPU ms per call in this process ({args.calls} calls each; PostgreSQL's own CPU not included)")
    print("| method | layer | CPU ms |\n|---|---|---:|")
    for method, name, ms in results:
        print(f"| {method} | {name} | {ms:.3f} |")
    return 0


def measure(calls: int, url: str) -> list[tuple[str, str, float]]:
    """CPU ms per call of each layer; the app is built here, after the environment is set."""
    from apps.reference import app as reference

    from comments_api import create_app

    ref, client = reference.test_client(), create_app().test_client()
    body = {"email": "bench@example.com", "comment": "benchmark comment", "content_id": 2}
    for n in range(SEEDED):
        seed = {"email": f"seed{n}@example.com", "comment": f"seed comment number {n}", "content_id": LIST_CONTENT}
        if client.post("/api/comment/new", json=seed).status_code != 200:
            raise RuntimeError("seeding the app failed")
    list_path = f"/api/comment/list/{LIST_CONTENT}"

    import psycopg

    raw = psycopg.connect(url, autocommit=True)

    def raw_list():
        return raw.execute(
            "SELECT id, email, comment, created_at FROM comments WHERE content_id = %s ORDER BY id LIMIT 100",
            (str(LIST_CONTENT),),
        ).fetchall()

    def raw_insert():
        return raw.execute(
            "INSERT INTO comments (content_id, email, comment, created_at) VALUES (%s, %s, %s, now()) RETURNING id",
            ("2", body["email"], body["comment"]),
        ).fetchone()

    layers = [
        ("GET", "(b) reference, whole request", lambda: ref.get(list_path)),
        ("GET", "app /healthz: Flask + request id + metrics + log line", lambda: client.get("/healthz")),
        ("GET", "app list, whole request", lambda: client.get(list_path)),
        ("GET", "floor: the same SELECT with psycopg, one connection, no HTTP", raw_list),
        ("POST", "(b) reference, whole request", lambda: ref.post("/api/comment/new", json=body)),
        ("POST", "app create, whole request", lambda: client.post("/api/comment/new", json=body)),
        ("POST", "floor: the same INSERT with psycopg, one connection, no HTTP", raw_insert),
    ]
    results = [(m, name, cpu_ms(fn, calls)) for m, name, fn in layers]
    raw.close()
    return results


if __name__ == "__main__":
    sys.exit(main())
