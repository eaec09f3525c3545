"""What the tests that break PostgreSQL under the app share: a client's view of the app and checks on the data.

test_failover.py (restarts, failovers, a server that does not answer) and test_partition.py (the network to
the database cut in a namespace) run the app as WORKERS x THREADS, make every request thread hold a
connection, break something, then require every request to succeed and every acknowledged write to be
stored exactly once.
"""

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psycopg
import requests

from comments_harness import wait_until

WORKERS, THREADS = 2, 4
ACCESS_LOG = '"logger": "comments_api.access"'
UNAVAILABLE = {"status": "ERROR", "message": "database unavailable, try again later"}


def timed(call):
    """call()'s result and the seconds it took."""
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


def logs(servers) -> str:
    """What the servers logged besides the per-request lines (warnings, errors, tracebacks), for failure messages."""
    lines = [line for server in servers for line in server.log(tail=None).splitlines() if ACCESS_LOG not in line]
    return "\n".join(lines)[-4000:]


def request_threads_holding_a_connection(url: str) -> int:
    """The app's backends on this database whose last statement was a request's (not /readyz's or the schema's)."""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'comments-api' "
            "AND datname = current_database() AND (query LIKE 'INSERT INTO comments%' OR query LIKE 'SELECT coalesce%')"
        ).fetchone()[0]


def warm_every_thread(servers, url: str, content_id: str) -> None:
    """Concurrent writes until every request thread of every instance holds a connection of its own."""
    expected = len(servers) * WORKERS * THREADS

    def burst_then_count():
        with ThreadPoolExecutor(32) as pool:
            answers = list(
                pool.map(lambda n: servers[n % len(servers)].post_comment(content_id, comment=f"warm {n}"), range(64))
            )
        assert [a.status_code for a in answers] == [200] * 64, logs(servers)
        return request_threads_holding_a_connection(url) >= expected

    wait_until(burst_then_count, 60, f"all {expected} request threads to hold a connection", interval=0)
    # /readyz keeps a connection in each worker's pool too: after the break it must not trip on it.
    assert_ready_at_once(servers)


def readyz(server) -> int:
    return requests.get(server.url("/readyz"), timeout=10).status_code


def assert_ready_at_once(servers) -> None:
    """/readyz is 200 from its first call on: its pool replaced the dead connection (or left the standby) itself."""
    answers = [readyz(server) for server in servers for _ in range(2 * WORKERS)]
    assert answers == [200] * len(answers), (answers, logs(servers))


def concurrent_writes_and_reads(servers, content_id: str, count: int = 64) -> list[int]:
    """`count` requests at once, half writes and half reads, spread over the instances; all must succeed.

    Returns the ids of the acknowledged writes.
    """
    tag = uuid.uuid4().hex[:8]

    def one(n):
        server = servers[n % len(servers)]
        if n % 4 < 2:
            return "write", server.post_comment(content_id, comment=f"burst {tag} {n}")
        return "read", server.list_comments(content_id)

    with ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(one, range(count)))
    failed = [(kind, a.status_code, a.text[:200]) for kind, a in answers if a.status_code != 200]
    assert not failed, f"{len(failed)} of {count} requests failed: {failed}\n{logs(servers)}"
    for kind, answer in answers:
        if kind == "read":
            assert isinstance(answer.json(), list) and answer.json(), answer.text
    acknowledged = [a.json()["id"] for kind, a in answers if kind == "write"]
    assert len(acknowledged) == len(set(acknowledged)) == count // 2
    return acknowledged


def assert_stored_exactly_once(url: str, content_id: str, acknowledged: list[int]) -> None:
    """Every acknowledged write is in the database once, and nothing else of that burst is."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT id, comment FROM comments WHERE content_id = %s AND comment LIKE 'burst %%'", (content_id,)
        ).fetchall()
    assert sorted(i for i, _ in rows) == sorted(acknowledged), "the stored ids are not the acknowledged ones"
    duplicated = [c for c, n in Counter(c for _, c in rows).items() if n > 1]
    assert not duplicated, f"written twice: {duplicated}"
