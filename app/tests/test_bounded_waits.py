"""Bounded waits on PostgreSQL: every connection's timeouts, a statement cancelled, a real partition.

Every connection the app opens carries its TCP timings (the kernel's socket options), its connect
timeout and a statement_timeout (the server's session settings), from their variables. A statement the
server does not finish in time is cancelled: a JSON 503, nothing written, the connection kept.

The network to PostgreSQL cut off, for real: the partition test makes its own network namespace (ip netns
add; root, as CI runs) and starts PostgreSQL and the app (comments-api, its default settings, WORKERS x
THREADS) inside it, on that namespace's loopback; the test's own client threads enter it too, so no packet
goes anywhere else. Every request thread is made to hold a connection, then an iptables rule inside the
namespace drops every packet to and from PostgreSQL's port: no FIN, no RST, the connections stay open and
silent, as when a node loses power or the network splits. While the database is cut off, a load of
concurrent writes and reads must each get the app's JSON 503 within BOUND_SECONDS, /readyz 503, /healthz
200 (within the bound while every request thread may be waiting, at once after it), and a write must never
be stored twice. Once the rule is gone: every worker finds the database again without a restart, every
request thread works on a new connection, concurrent writes and reads all succeed, every acknowledged
write is stored exactly once, and no PostgreSQL backend of a connection from before the cut is left
behind. The namespace and every process in it go at the end, also when the test fails.
"""

import json
import os
import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from statistics import median
from typing import NamedTuple

import psycopg
import pytest
import requests

from comments_api.config import Settings
from comments_api.db import Database
from comments_harness import AppServer, NetworkNamespace, PostgresCluster, wait_until
from outages import (
    THREADS,
    UNAVAILABLE,
    WORKERS,
    assert_stored_exactly_once,
    concurrent_writes_and_reads,
    logs,
    timed,
    warm_every_thread,
)

# What docs/app.md promises with the default settings: DB_TCP_USER_TIMEOUT_MS (4 s), after which the
# kernel gives up on a silent peer, plus the last step of its retransmission or keepalive timer.
BOUND_SECONDS = 5.0
# Long enough for every thread to hit the dead connections, and for PostgreSQL's end of them to give up too.
CUT_SECONDS = 9.0
CLIENTS = 16  # concurrent clients during the cut: more than the WORKERS x THREADS request threads
CONTENT_ID = "partition"


# -- every connection ------------------------------------------------------------------------
def test_every_connection_carries_its_timeouts_from_the_environment(postgres):
    env = {
        "DATABASE_URL": postgres.fresh_database(),
        "DB_STATEMENT_TIMEOUT_MS": "1234",
        "DB_KEEPALIVES_IDLE": "3",
        "DB_KEEPALIVES_INTERVAL": "2",
        "DB_KEEPALIVES_COUNT": "4",
        "DB_TCP_USER_TIMEOUT_MS": "4321",
    }
    database = Database(Settings.from_env(env))
    try:
        request_thread = database._connection()
        with database.engine.connect() as pooled:  # /readyz's and the schema's
            for conn in (request_thread, pooled.connection.dbapi_connection):
                # What the kernel of the app's end does with a silent peer.
                sock = socket.socket(fileno=os.dup(conn.pgconn.socket))
                try:
                    options = {
                        name: sock.getsockopt(socket.IPPROTO_TCP, getattr(socket, name))
                        for name in ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT", "TCP_USER_TIMEOUT")
                    }
                    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
                finally:
                    sock.close()
                assert options == {"TCP_KEEPIDLE": 3, "TCP_KEEPINTVL": 2, "TCP_KEEPCNT": 4, "TCP_USER_TIMEOUT": 4321}
                # What PostgreSQL's end applies to the session: the statement timeout and the same TCP timings.
                shown = [
                    conn.execute(f"SHOW {name}").fetchone()[0]
                    for name in (
                        "statement_timeout",
                        "tcp_keepalives_idle",
                        "tcp_keepalives_interval",
                        "tcp_keepalives_count",
                        "tcp_user_timeout",
                        "TimeZone",
                    )
                ]
                assert shown == ["1234ms", "3", "2", "4", "4321", "UTC"]
                assert conn.info.get_parameters()["connect_timeout"] == "3"
    finally:
        database.engine.dispose()


def test_a_statement_the_server_does_not_finish_is_cancelled_with_a_json_503(postgres, start_server):
    url = postgres.fresh_database()
    server = start_server({"DATABASE_URL": url, "DB_STATEMENT_TIMEOUT_MS": "500", "THREADS": "1"}, workers=1)
    assert server.post_comment("slow", comment="before").status_code == 200
    with psycopg.connect(url) as locker:
        # Another session holds the table: the app's statements wait for it until statement_timeout cancels them.
        locker.execute("LOCK TABLE comments IN ACCESS EXCLUSIVE MODE")
        write, write_seconds = timed(lambda: server.post_comment("slow", comment="while locked"))
        read, read_seconds = timed(lambda: server.list_comments("slow"))
    for answer, seconds in ((write, write_seconds), (read, read_seconds)):
        assert (answer.status_code, answer.json()) == (503, UNAVAILABLE), answer.text
        assert 0.5 <= seconds < 2, seconds
    # The cancelled write left nothing, and the same connection (the server is fine) serves the next request.
    assert [c["comment"] for c in server.list_comments("slow").json()] == ["before"]
    assert server.post_comment("slow", comment="after").status_code == 200
    assert "database does not answer" not in server.log(tail=None)


# -- a partition -----------------------------------------------------------------------------
@pytest.fixture
def namespace():
    """A network namespace of this test's own, this thread inside it; deleted with its processes at the end."""
    try:
        made = NetworkNamespace("comments-partition")
    except RuntimeError as exc:
        pytest.fail(f"the partition test cannot run: {exc}")
    try:
        with made.entered():
            yield made
    finally:
        made.destroy()
    assert not made.exists()


@pytest.fixture
def cluster(namespace):
    pg = PostgresCluster()
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()


@pytest.fixture
def server(cluster, tmp_path):
    """comments-api with its default settings (the bounds under test are the defaults) on a fresh database."""
    url = cluster.fresh_database()
    app = AppServer({"DATABASE_URL": url}, tmp_path / "server.log", workers=WORKERS, threads=THREADS)
    app.start()
    yield app
    app.stop()


@contextmanager
def cut_off(namespace: NetworkNamespace, port: int):
    """Every packet to or from `port` dropped inside the namespace (both directions, so nothing answers)."""
    rules = [("--dport", str(port)), ("--sport", str(port))]
    for match in rules:
        namespace.run("iptables", "-A", "INPUT", "-p", "tcp", *match, "-j", "DROP")
    try:
        yield
    finally:
        for match in rules:
            namespace.run("iptables", "-D", "INPUT", "-p", "tcp", *match, "-j", "DROP")


def worker_events(server, message: str) -> set[int]:
    """The pids of the workers that logged `message` (the app's JSON log lines)."""
    pids = set()
    for line in server.log(tail=None).splitlines():
        if message in line:
            try:
                pids.add(json.loads(line)["pid"])
            except (ValueError, KeyError):
                pass
    return pids


ROUTES = {
    "write": ("POST", "/api/comment/new"),
    "read": ("GET", f"/api/comment/list/{CONTENT_ID}"),
    "healthz": ("GET", "/healthz"),
    "readyz": ("GET", "/readyz"),
}


class Answer(NamedTuple):
    kind: str  # a key of ROUTES
    sent: float  # seconds after the cut
    seconds: float  # how long it took
    status: int | None  # None: no answer after twice the bound
    body: object  # the JSON body, else the text
    headers: dict


def call(server, kind: str, label: str, cut_at: float) -> Answer:
    """One request of `kind`, timed; a request still unanswered after twice the bound is given up on."""
    method, path = ROUTES[kind]
    comment = {"email": "reader@example.com", "comment": f"while cut {label}", "content_id": CONTENT_ID}
    sent = time.monotonic() - cut_at
    try:
        answer, seconds = timed(
            lambda: requests.request(
                method, server.url(path), json=comment if kind == "write" else None, timeout=2 * BOUND_SECONDS
            )
        )
    except requests.Timeout:
        return Answer(kind, sent, 2 * BOUND_SECONDS, None, "no answer", {})
    try:
        body = answer.json()
    except ValueError:
        body = answer.text
    return Answer(kind, sent, seconds, answer.status_code, body, answer.headers)


def load_while_cut(server, cut_at: float) -> list[Answer]:
    """CLIENTS clients writing and reading, one polling /healthz, one /readyz, until CUT_SECONDS after the cut."""

    def client(role: int | str) -> list[Answer]:
        """Client `role`: a number (writes and reads in turn, half of them starting with each), or a probe's name."""
        done, n = [], 0
        while time.monotonic() - cut_at < CUT_SECONDS:
            if isinstance(role, str):
                kind = role
                time.sleep(0.1)
            else:
                kind = "write" if (role + n) % 2 else "read"
            done.append(call(server, kind, f"{role}-{n}", cut_at))
            n += 1
        return done

    # Threads started by this thread are inside the namespace too.
    with ThreadPoolExecutor(CLIENTS + 2) as pool:
        results = pool.map(client, [*range(CLIENTS), "healthz", "readyz"])
        return [one for done in results for one in done]


def app_backends_older_than(url: str, moment) -> int:
    """The app's PostgreSQL backends whose connection was made before `moment` (the server's clock)."""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'comments-api' AND backend_start < %s",
            (moment,),
        ).fetchone()[0]


def test_a_partition_answers_503_within_the_bound_and_every_thread_recovers_once_healed(namespace, cluster, server):
    started = time.monotonic()
    url = server.env["DATABASE_URL"]
    warm_every_thread([server], url, CONTENT_ID)
    with psycopg.connect(url, autocommit=True) as conn:
        before_cut = conn.execute("SELECT now()").fetchone()[0]

    with cut_off(namespace, cluster.port):
        cut_at = time.monotonic()
        results = load_while_cut(server, cut_at)
    healed_at = time.monotonic()

    by_kind = {kind: [a for a in results if a.kind == kind] for kind in ROUTES}
    database = by_kind["write"] + by_kind["read"]
    wrong = [(a.kind, a.status, a.body) for a in database if (a.status, a.body) != (503, UNAVAILABLE)]
    assert not wrong, f"{len(wrong)} requests did not get the JSON 503: {wrong[:5]}\n{logs([server])}"
    assert all(a.headers.get("Retry-After") == "1" for a in database)
    assert min(len(by_kind["write"]), len(by_kind["read"])) >= CLIENTS, Counter(a.kind for a in results)
    slowest = max(a.seconds for a in database)
    assert slowest < BOUND_SECONDS, f"a request waited {slowest:.2f}s on the cut-off database\n{logs([server])}"
    # Once a worker knows, it does not wait again: every later request is answered at once.
    late = [a.seconds for a in database if a.sent > BOUND_SECONDS + 0.5]
    assert late and max(late) < 0.5, f"requests still waited after the bound: {sorted(late)[-5:]}"
    # Both workers found out the database is gone.
    assert len(worker_events(server, "database does not answer")) == WORKERS, logs([server])

    readiness = by_kind["readyz"]
    assert [a.status for a in readiness] == [503] * len(readiness), readiness
    assert max(a.seconds for a in readiness) < BOUND_SECONDS, readiness
    health = by_kind["healthz"]
    assert [a.status for a in health] == [200] * len(health), health
    # Liveness never waits longer than the bound (only while every request thread of a worker may be waiting
    # on the database), and at once after it.
    assert max(a.seconds for a in health) < BOUND_SECONDS, health
    assert max(a.seconds for a in health if a.sent > BOUND_SECONDS + 0.5) < 0.5, health

    # Healed: each worker finds the database again by itself, then every request thread works on a new connection.
    wait_until(
        lambda: worker_events(server, "database answers again") == worker_events(server, "database does not answer"),
        15,
        "every worker to find the database again",
    )
    recovered_at = time.monotonic()
    warm_every_thread([server], url, CONTENT_ID)
    acknowledged = concurrent_writes_and_reads([server], CONTENT_ID)
    assert_stored_exactly_once(url, CONTENT_ID, acknowledged)
    # A write sent while cut off may have been stored (its answer lost), but never twice: it was not sent again.
    with psycopg.connect(url, autocommit=True) as conn:
        stored = conn.execute("SELECT comment FROM comments WHERE comment LIKE 'while cut %'").fetchall()
    assert not [c for c, n in Counter(c for (c,) in stored).items() if n > 1]
    # PostgreSQL's end of the old connections gave up too (the app's server-side TCP settings): none is left.
    wait_until(lambda: app_backends_older_than(url, before_cut) == 0, 10, "the backends from before the cut to go")

    health_seconds = [a.seconds for a in health]
    print(
        f"\npartition: {len(database)} requests while cut, slowest {slowest:.2f}s, "
        f"median {median(a.seconds for a in database):.3f}s, after the bound at most {max(late):.3f}s; "
        f"/healthz {len(health)} calls, slowest {max(health_seconds):.2f}s, median {median(health_seconds):.3f}s; "
        f"/readyz slowest {max(a.seconds for a in readiness):.2f}s; "
        f"recovered {recovered_at - healed_at:.2f}s after the heal; "
        f"{len(stored)} of {len(by_kind['write'])} writes sent while cut stored (once each); "
        f"test body {time.monotonic() - started:.1f}s"
    )
