"""PostgreSQL restarts, fails over or stops answering under the app: no failed request once it is back.

The restart and failover tests run two app instances (2 workers x 4 threads each) on one database,
make every request thread hold a connection, break PostgreSQL for real (pg_ctl stop -m fast or
-m immediate and start, the server made read-only and back, a standby promoted), check that
/readyz answers 200 on both instances at once, then send concurrent writes and reads over both:
every one must succeed, and every acknowledged write must be in the database exactly once. The
outage tests check that requests keep failing fast while it is down or stuck. A relay between the
app and PostgreSQL loses answers on purpose (a read is run again, a write never twice) and counts
what the app sends, to prove that no request pays an extra round trip for all this.
"""

import shutil
import socket
import struct
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from comments_harness import PostgresCluster, wait_until
from outages import (
    THREADS,
    UNAVAILABLE,
    WORKERS,
    assert_ready_at_once,
    assert_stored_exactly_once,
    concurrent_writes_and_reads,
    logs,
    readyz,
    timed,
    warm_every_thread,
)


# -- the database under test -----------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster():
    """A cluster of this module's own: its tests stop it, which must not disturb the other tests."""
    own = PostgresCluster()
    own.start()
    yield own
    own.destroy()


@pytest.fixture
def pg(cluster):
    """The module's cluster, running (a failed test may have left it stopped or read-only)."""
    try:
        pg_ctl(cluster, "status")
    except RuntimeError:
        cluster.start()
    set_read_only(cluster.url(), False)
    return cluster


def pg_ctl(cluster: PostgresCluster, *args: str) -> None:
    """pg_ctl on the cluster's data directory, as the account that owns it."""
    cluster._run("pg_ctl", "-D", str(cluster.datadir), *args)


def set_read_only(url: str, read_only: bool) -> None:
    """The whole server refuses writes (SQLSTATE 25006 in every session, as on a standby) or accepts them again."""
    with psycopg.connect(url, autocommit=True) as conn:
        if read_only:
            conn.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        else:
            conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
        conn.execute("SELECT pg_reload_conf()")
    # The reload is asynchronous: wait until a new session sees it.
    expected = "on" if read_only else "off"

    def applied():
        with psycopg.connect(url, autocommit=True) as conn:
            return conn.execute("SHOW default_transaction_read_only").fetchone()[0] == expected

    wait_until(applied, 10, f"default_transaction_read_only = {expected}")


# -- the app ---------------------------------------------------------------------------------
def two_instances(start_server, url: str) -> list:
    settings = {"DATABASE_URL": url, "THREADS": str(THREADS), "DB_CONNECT_TIMEOUT": "3"}
    return [start_server(settings, workers=WORKERS) for _ in range(2)]


def wait_ready(servers) -> None:
    wait_until(lambda: all(readyz(server) == 200 for server in servers), 60, "/readyz 200 on both instances")


# -- restarts and failovers ------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_no_request_fails_once_postgresql_is_back_after_a_restart(pg, start_server, mode):
    url = pg.fresh_database()
    servers = two_instances(start_server, url)
    content_id = "restart-" + mode
    warm_every_thread(servers, url, content_id)

    # fast: every backend sends FATAL 57P01 and closes; immediate: every backend quits at once (SIGQUIT), as in a crash.
    pg_ctl(pg, "-m", mode, "-w", "stop")
    pg.start()
    assert_ready_at_once(servers)

    acknowledged = concurrent_writes_and_reads(servers, content_id)
    assert_stored_exactly_once(url, content_id, acknowledged)


def test_no_request_fails_once_a_read_only_postgresql_accepts_writes_again(pg, start_server):
    url = pg.fresh_database()
    servers = two_instances(start_server, url)
    content_id = "read-only"
    warm_every_thread(servers, url, content_id)

    set_read_only(pg.url(), True)
    try:
        # Every thread's connection now sits on a server that refuses writes (25006): a JSON 503, never a 500.
        for n in range(8):
            answer = servers[n % 2].post_comment(content_id, comment=f"while read-only {n}")
            assert (answer.status_code, answer.json()) == (503, UNAVAILABLE), logs(servers)
        wait_until(lambda: all(readyz(server) == 503 for server in servers), 30, "/readyz 503 on a read-only server")
    finally:
        set_read_only(pg.url(), False)
    assert_ready_at_once(servers)

    acknowledged = concurrent_writes_and_reads(servers, content_id)
    assert_stored_exactly_once(url, content_id, acknowledged)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM comments WHERE comment LIKE 'while read-only%'").fetchone() == (0,)


@pytest.fixture
def primary_and_standby():
    """Two clusters: a primary and a streaming standby of it (pg_basebackup -R), both on loopback."""
    primary, standby = PostgresCluster(), PostgresCluster()
    try:
        primary.start()
        # The standby's own initdb is replaced by a base backup of the primary.
        shutil.rmtree(standby.datadir)
        standby._run(
            "pg_basebackup",
            *("-D", str(standby.datadir), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-X", "stream", "-R", "-c", "fast", "--no-sync"),
        )
        standby.start()
        yield primary, standby
    finally:
        standby.destroy()
        primary.destroy()


def test_no_request_fails_after_a_failover_to_a_promoted_standby(primary_and_standby, start_server):
    primary, standby = primary_and_standby
    database = primary.fresh_database().rsplit("/", 1)[1]
    # Both servers in the URL, as a client of a replicated cluster lists them; libpq takes the first that
    # accepts the connection (the app asks for a read-write one).
    url = f"postgresql://postgres@/{database}?host=127.0.0.1:{primary.port}&host=127.0.0.1:{standby.port}"
    on_primary, on_standby = primary.url(database), standby.url(database)
    servers = two_instances(start_server, url)
    content_id = "failover"
    warm_every_thread(servers, on_primary, content_id)

    def replicated():
        with psycopg.connect(on_primary) as p, psycopg.connect(on_standby) as s:
            query = "SELECT count(*) FROM comments"
            return p.execute(query).fetchone() == s.execute(query).fetchone()

    wait_until(replicated, 30, "the standby to replay the primary's writes")

    # The failover: the standby becomes the primary; the old primary stays up but refuses writes, as it
    # would once it is brought back as a standby. The app's connections all sit on the old one.
    pg_ctl(standby, "-w", "promote")
    set_read_only(primary.url(), True)

    # Before any /readyz: each write on an old connection is refused (25006), so it is sent again on a
    # new connection, which libpq opens on the new primary; reads may still be answered by the old one.
    acknowledged = concurrent_writes_and_reads(servers, content_id)
    assert any("refused a statement as read-only" in server.log(tail=None) for server in servers)
    # Then as a load balancer sees it: ready at once, and everything goes to the new primary.
    assert_ready_at_once(servers)
    acknowledged += concurrent_writes_and_reads(servers, content_id)
    assert_stored_exactly_once(on_standby, content_id, acknowledged)


# -- while PostgreSQL is down ----------------------------------------------------------------
def test_requests_fail_fast_with_a_json_503_while_postgresql_is_down(pg, start_server):
    url = pg.fresh_database()
    server = start_server({"DATABASE_URL": url, "THREADS": str(THREADS), "DB_CONNECT_TIMEOUT": "3"}, workers=WORKERS)
    warm_every_thread([server], url, "outage")

    pg.stop()
    try:
        ready, seconds = timed(lambda: readyz(server))
        assert ready == 503 and seconds < 1, (ready, seconds)

        def during(n):
            if n % 2:
                return timed(lambda: server.post_comment("outage", comment=f"during {n}"))
            return timed(lambda: server.list_comments("outage"))

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(during, range(40)))
    finally:
        pg.start()
    for answer, seconds in answers:
        assert (answer.status_code, answer.json()) == (503, UNAVAILABLE), answer.text
        assert answer.headers["Retry-After"] == "1"
        assert seconds < 1, f"a request took {seconds:.2f}s while the database was down"


class Proxy:
    """A TCP relay 127.0.0.1:port -> PostgreSQL that sees what the app sends, and can stop answering.

    It parses the messages the client sends (the frontend half of PostgreSQL's protocol) and groups
    each connection's messages into exchanges: everything up to a Sync or a simple Query, which is one
    round trip. hang() cuts every relayed connection and then accepts new ones without ever answering,
    as a server that is stuck or unreachable behind a load balancer; resume() relays again.
    lose_answers(n) drops the next n answers of the server, cutting their connections instead: the
    server ran the statement (and committed it), the client never hears of it.
    """

    # Startup-phase request codes (no message type byte): SSLRequest, GSSENCRequest, CancelRequest.
    NEGOTIATION = {80877103, 80877104, 80877102}

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.hanging = False
        self.answers_to_lose = 0
        self.connections_opened = 0
        self.exchanges: list[tuple[str, ...]] = []
        self._lock = threading.Lock()
        self._relayed: list[socket.socket] = []
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                if self.hanging:
                    self._held.append(client)
                    continue
                self.connections_opened += 1
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:  # the server is down: the client sees its connection closed, as with a refusal
                client.close()
                continue
            with self._lock:
                self._relayed += [client, upstream]
            threading.Thread(target=self._relay, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._relay, args=(upstream, client, False), daemon=True).start()

    def _relay(self, source, sink, from_client: bool):
        buffer, started, current = b"", False, []
        try:
            while data := source.recv(65536):
                if from_client:
                    buffer += data
                    buffer, started = self._parse(buffer, started, current)
                elif self._lose_this_answer():
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _parse(self, buffer: bytes, started: bool, current: list) -> tuple[bytes, bool]:
        while True:
            if not started:  # length-prefixed startup packets, no type byte
                if len(buffer) < 8:
                    return buffer, started
                length, code = struct.unpack("!ii", buffer[:8])
                if len(buffer) < length:
                    return buffer, started
                buffer, started = buffer[length:], code not in self.NEGOTIATION
                continue
            if len(buffer) < 5:
                return buffer, started
            kind, length = chr(buffer[0]), struct.unpack("!i", buffer[1:5])[0]
            if len(buffer) < 1 + length:
                return buffer, started
            body, buffer = buffer[5 : 1 + length], buffer[1 + length :]
            # A Parse message that names its statement prepares it for later executions.
            current.append("P(named)" if kind == "P" and body[:1] != b"\0" else kind)
            if kind in ("S", "Q"):
                with self._lock:
                    self.exchanges.append(tuple(current))
                current.clear()

    def _lose_this_answer(self) -> bool:
        with self._lock:
            if self.answers_to_lose:
                self.answers_to_lose -= 1
                return True
            return False

    def lose_answers(self, count: int):
        with self._lock:
            self.answers_to_lose = count

    def reset_counts(self):
        with self._lock:
            self.connections_opened, self.exchanges = 0, []

    def cut(self):
        with self._lock:
            relayed, self._relayed = self._relayed, []
        for sock in relayed:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def hang(self):
        with self._lock:
            self.hanging = True
        self.cut()

    def resume(self):
        with self._lock:
            self.hanging, held, self._held = False, self._held, []
        for sock in held:
            sock.close()

    def close(self):
        self.listener.close()
        self.resume()
        self.cut()


@pytest.fixture
def proxy_to():
    proxies = []

    def make(cluster: PostgresCluster) -> Proxy:
        proxies.append(Proxy(cluster.port))
        return proxies[-1]

    yield make
    for proxy in proxies:
        proxy.close()


def test_a_database_that_does_not_answer_costs_a_connect_timeout_once_per_worker_not_per_request(
    pg, start_server, proxy_to
):
    proxy = proxy_to(pg)
    database = pg.fresh_database().rsplit("/", 1)[1]
    # libpq's smallest connect timeout is 2 s (it reads 1 as 2).
    env = {"DATABASE_URL": proxy.url(database), "THREADS": str(THREADS), "DB_CONNECT_TIMEOUT": "2"}
    server = start_server(env, workers=WORKERS)
    warm_every_thread([server], pg.url(database), "stuck")

    proxy.hang()  # every connection is cut; new ones are accepted and never answered
    answers = []
    for n in range(30):
        if n % 2:
            answers.append(timed(lambda n=n: server.post_comment("stuck", comment=f"while stuck {n}")))
        else:
            answers.append(timed(lambda: server.list_comments("stuck")))
    ready, ready_seconds = timed(lambda: readyz(server))
    proxy.resume()

    assert all((a.status_code, a.json()) == (503, UNAVAILABLE) for a, _ in answers), [a.text for a, _ in answers]
    slow = [seconds for _, seconds in answers if seconds >= 1]
    # The first request of each worker waits for the connect timeout; the worker then answers 503 at once.
    assert len(slow) <= WORKERS and all(seconds < 4 for seconds in slow), [round(s, 2) for _, s in answers]
    assert ready == 503 and ready_seconds < 4, (ready, ready_seconds)

    wait_ready([server])
    # A worker that stopped trying finds the database again by itself, within a connect timeout or so.
    wait_until(
        lambda: all(server.post_comment("stuck", comment="back").status_code == 200 for _ in range(8)),
        10,
        "every worker to write again",
    )


def test_a_request_costs_one_round_trip_to_postgresql(postgres, start_server, proxy_to):
    proxy = proxy_to(postgres)
    database = postgres.fresh_database().rsplit("/", 1)[1]
    server = start_server({"DATABASE_URL": proxy.url(database), "THREADS": str(THREADS)}, workers=WORKERS)
    warm_every_thread([server], postgres.url(database), "round-trips")

    proxy.reset_counts()
    requests_sent = 200

    def one(n):
        if n % 2:
            return server.post_comment("round-trips", comment=f"counted {n}").status_code
        return server.list_comments("round-trips").status_code

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(one, range(requests_sent))) == [200] * requests_sent

    with proxy._lock:
        exchanges, opened = list(proxy.exchanges), proxy.connections_opened
    statements = [e for e in exchanges if "E" in e]
    # psycopg prepares a statement it has run 5 times on a connection: one Parse + Sync, once per connection.
    preparations = [e for e in exchanges if set(e) == {"P(named)", "S"}]
    others = [e for e in exchanges if e not in statements and e not in preparations]
    assert opened == 0, "a request opened a new connection"
    assert len(statements) == requests_sent and not others, (len(statements), Counter(others))
    assert len(preparations) <= WORKERS * THREADS * 2, Counter(preparations)


def test_a_read_whose_connection_breaks_is_run_again_and_a_write_is_never_sent_twice(pg, start_server, proxy_to):
    proxy = proxy_to(pg)
    database = pg.fresh_database().rsplit("/", 1)[1]
    # One request thread: every request below runs on the same connection until it breaks.
    server = start_server({"DATABASE_URL": proxy.url(database), "THREADS": "1"}, workers=1)
    assert server.post_comment("lost", comment="first").status_code == 200
    proxy.reset_counts()

    # The server answers the list, the answer is lost with the connection: the list is asked again.
    proxy.lose_answers(1)
    listed = server.list_comments("lost")
    assert listed.status_code == 200 and [c["comment"] for c in listed.json()] == ["first"], listed.text
    assert proxy.connections_opened == 1

    # The server commits the write, the answer is lost: the app cannot know it committed, so it must
    # not send it again (it would be stored twice); the client gets the 503 and decides.
    proxy.lose_answers(1)
    lost = server.post_comment("lost", comment="answer lost")
    assert (lost.status_code, lost.json()) == (503, UNAVAILABLE)
    with psycopg.connect(pg.url(database), autocommit=True) as conn:
        stored = conn.execute("SELECT count(*) FROM comments WHERE comment = 'answer lost'").fetchone()[0]
    assert stored == 1, f"the write was stored {stored} times"
    assert server.post_comment("lost", comment="next").status_code == 200
