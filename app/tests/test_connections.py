"""The request path's PostgreSQL connections: one per request thread, renewed after they die."""

from concurrent.futures import ThreadPoolExecutor

import psycopg
import requests


def _app_backends(url: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'comments-api' AND datname = current_database()"
        ).fetchall()
    return [pid for (pid,) in rows]


def test_connections_stay_at_one_per_request_thread(postgres, start_server):
    url = postgres.fresh_database()
    server = start_server({"DATABASE_URL": url, "THREADS": "4"}, workers=2)

    def work(n):
        if n % 2:
            return server.post_comment(50, comment=f"c{n}").status_code
        return server.list_comments(50).status_code

    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(work, range(200)))
    assert set(codes) <= {200, 404} and codes.count(200) >= 100, codes
    assert requests.get(server.url("/readyz"), timeout=5).status_code == 200

    # 2 workers x (4 request threads + the /readyz pool, which opens what it needs: 1 here).
    assert 1 <= len(_app_backends(url)) <= 2 * (4 + 1)


def test_killed_connections_are_replaced_before_a_request_uses_them(postgres, start_server):
    url = postgres.fresh_database()
    server = start_server({"DATABASE_URL": url}, workers=2)
    with ThreadPoolExecutor(8) as pool:  # open connections in several threads of both workers
        assert set(pool.map(lambda n: server.post_comment(51, comment=f"warm {n}").status_code, range(40))) == {200}
    before = set(_app_backends(url))

    with psycopg.connect(url, autocommit=True) as conn:
        # With a timeout, pg_terminate_backend waits until the backend has gone, so its FATAL message is on
        # the socket before the requests below (without, it returns at once and a request can race it).
        killed = conn.execute(
            "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity "
            "WHERE application_name = 'comments-api' AND datname = current_database()"
        ).fetchone()[0]
    assert killed >= 2

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: server.post_comment(51, comment=f"after {n}"), range(40)))
    # Each killed backend left its FATAL message and the end of the stream on an idle socket: every
    # thread sees that before sending anything and reconnects, so no request fails.
    assert [a.status_code for a in answers] == [200] * 40, [a.text for a in answers if a.status_code != 200]
    assert not before & set(_app_backends(url)), "a killed backend is still listed as the app's"
