"""The database: one SQLAlchemy engine per process, the schema, the queries.

SQLAlchemy (with psycopg 3 for PostgreSQL) gives one engine and table definition for SQLite and
PostgreSQL. The per-request statements bypass its execution layer (see SQL_INSERT) and its pool
(see Database._connection). How connections survive PostgreSQL restarts and failovers: see
open_and_idle and Database._run.
"""

import json
import logging
import select
import threading
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

from psycopg.pq import TransactionStatus
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.schema import CreateIndex, CreateTable

from .config import Settings

log = logging.getLogger(__name__)

metadata = MetaData()

comments = Table(
    "comments",
    metadata,
    # BIGINT on PostgreSQL; SQLite needs exactly INTEGER for an auto-incrementing rowid alias.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    # Canonical string form: the number 1 and the string "1" are the same content item.
    Column("content_id", String(64), nullable=False),
    Column("email", String(320), nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
# Listing is "WHERE content_id = ? ORDER BY id": this index answers it without a sort.
Index("ix_comments_content_id_id", comments.c.content_id, comments.c.id)

# Any constant works; it only has to be the same in every replica of this app.
SCHEMA_LOCK_KEY = zlib.crc32(b"comments_api.schema")
# Connections are replaced after this long, before an idle timeout of a firewall or proxy on the
# way cuts them silently.
RECYCLE_SECONDS = 1800
# Each dialect's name for "a normal transaction" (the engine's default is AUTOCOMMIT).
TRANSACTIONAL = {"postgresql": "READ COMMITTED", "sqlite": "SERIALIZABLE"}
# A connection attempt refused by a server that is down fails within milliseconds, and so does a statement
# on a connection the server closed. One that fails only after this long waited for a server that does not
# answer (stuck, or cut off: the connect timeout, or the TCP timings of tcp_timings() gave up): then
# requests stop trying (503 at once) and one background attempt every PROBE_INTERVAL_SECONDS finds out
# when it is back.
SLOW_FAILURE_SECONDS = 0.5
PROBE_INTERVAL_SECONDS = 0.5
# libpq's PQTRANS_IDLE, as the int psycopg's pgconn returns (comparing with the IntEnum is slower).
_IDLE = int(TransactionStatus.IDLE)


class DatabaseUnavailable(Exception):
    """The database could not be reached or refused the operation."""


def _set_sqlite_pragmas(dbapi_connection, _record, busy_timeout_ms: int) -> None:
    cursor = dbapi_connection.cursor()
    # busy_timeout first, so that switching to WAL waits for another worker's lock.
    cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    # WAL lets readers run beside the one writer: several gunicorn workers share the file.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def open_and_idle(dbapi_connection) -> bool:
    """True when a psycopg connection is open, idle and has nothing waiting on its socket. No round trip.

    PostgreSQL never writes to an idle connection on its own (the app never LISTENs), so anything
    readable there means it is closing it: the FATAL message of a shutdown or pg_terminate_backend
    (57P01), of a crash (57P02) or of an idle timeout, then the end of the stream; the socket of a
    server killed outright only has the end of the stream (or a reset). libpq has not read any of it
    yet (it reads only when asked to), so psycopg still says the connection is fine: a zero-timeout
    poll of the socket tells. The same holds over TLS.
    (Changed settings, such as default_transaction_read_only after a reload, come with the answer
    to the next statement, never on their own, so they do not make a live connection look dead.)
    About a microsecond.
    """
    pgconn = dbapi_connection.pgconn
    # UNKNOWN once libpq knows the connection is bad or closed; ACTIVE, INTRANS, INERROR when not idle.
    if pgconn.transaction_status != _IDLE:
        return False
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN)
    return not poller.poll(0)


def _check_out_open_connections(dbapi_connection, _record, _proxy) -> None:
    """Pool checkout hook (/readyz, the schema): a connection closed while idle is replaced, not handed out."""
    if not open_and_idle(dbapi_connection):
        raise DisconnectionError("connection closed by the server while idle")  # the pool opens a new one


def tcp_timings(settings: Settings) -> dict:
    """libpq's TCP settings: a peer that stopped answering (a partition, a node gone) is found within seconds.

    A statement sent to such a peer is never acknowledged: the kernel gives up after tcp_user_timeout.
    A statement that was acknowledged but whose answer never comes, and an idle connection, are probed
    by keepalives after keepalives_idle seconds of silence, every keepalives_interval; Linux then gives
    up once tcp_user_timeout has passed since the peer was last heard (keepalives_count only counts
    when tcp_user_timeout is 0). Without these, the kernel waits about 15 minutes (2 hours when idle).
    """
    return {
        "keepalives": 1,
        "keepalives_idle": settings.db_keepalives_idle,
        "keepalives_interval": settings.db_keepalives_interval,
        "keepalives_count": settings.db_keepalives_count,
        "tcp_user_timeout": settings.db_tcp_user_timeout_ms,
    }


def server_options(settings: Settings) -> str:
    """The session settings PostgreSQL applies to each of the app's connections (libpq `options`).

    statement_timeout bounds a statement the server runs but does not finish (a lock, an overloaded
    server): it is cancelled, so nothing of it is written, and the request gets 503. The same TCP
    timings on the server's end make a backend whose app connection was cut off exit within seconds,
    rather than stay idle for hours and hold one of max_connections after the network heals.
    """
    tcp = tcp_timings(settings)
    return (
        f"-c timezone=UTC -c statement_timeout={settings.db_statement_timeout_ms}"
        f" -c tcp_keepalives_idle={tcp['keepalives_idle']} -c tcp_keepalives_interval={tcp['keepalives_interval']}"
        f" -c tcp_keepalives_count={tcp['keepalives_count']} -c tcp_user_timeout={tcp['tcp_user_timeout']}"
    )


def make_engine(settings: Settings):
    url = settings.database_url
    common = dict(
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        # Every request runs one statement: autocommit saves the BEGIN and ROLLBACK/COMMIT round
        # trips (three round trips per request become one).
        isolation_level="AUTOCOMMIT",
        # With autocommit no transaction is ever left open: no ROLLBACK needed on check-in.
        pool_reset_on_return=None,
    )
    if url.get_backend_name() == "sqlite":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000}, **common)
        event.listen(
            engine,
            "connect",
            lambda conn, rec: _set_sqlite_pragmas(conn, rec, settings.sqlite_busy_timeout_ms),
        )
        return engine
    connect_args = {
        "connect_timeout": settings.db_connect_timeout,
        **tcp_timings(settings),
        "options": server_options(settings),
        "application_name": "comments-api",
    }
    # Every new connection goes to a server that accepts writes: when DATABASE_URL lists several
    # hosts, libpq skips standbys and read-only servers; with one host (CloudNativePG's -rw Service,
    # which already follows the primary) a connection to a read-only server fails at once (503, and
    # /readyz 503) instead of failing every write with 25006. PostgreSQL 14+ reports what libpq
    # needs at connection start: no extra round trip. The URL can ask otherwise (?target_session_attrs=any).
    if "target_session_attrs" not in url.query:
        connect_args["target_session_attrs"] = "read-write"
    engine = create_engine(
        url,
        # No pre-ping, which would cost a round trip per checkout: the checkout hook looks at the
        # socket instead (open_and_idle).
        pool_recycle=RECYCLE_SECONDS,
        connect_args=connect_args,
        **common,
    )
    event.listen(engine, "checkout", _check_out_open_connections)
    return engine


def _utc_iso(value: datetime) -> str:
    """An aware datetime as the API shows times: "YYYY-MM-DDTHH:MM:SS.ffffffZ" in UTC."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _sqlite_iso(value: str) -> str:
    # Stored as SQLAlchemy stores SQLite datetimes: "YYYY-MM-DD HH:MM:SS.ffffff", in UTC.
    return value.replace(" ", "T", 1) + "Z"


def _sqlite_stored(value: datetime) -> str:
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


# The request path runs these few statements on DBAPI connections directly: SQLAlchemy's
# execution layer (statement compilation, result objects) would cost more per request than the
# database round trip itself. The table and its DDL stay SQLAlchemy's. "?" is rewritten for the
# driver's parameter style.
SQL_INSERT = "INSERT INTO comments (content_id, email, comment, created_at) VALUES (?, ?, ?, ?) RETURNING id"
SQL_ROWS = "SELECT id, email, comment, created_at FROM comments WHERE content_id = ? ORDER BY id"
SQL_ANY = "SELECT 1 FROM comments WHERE content_id = ? LIMIT 1"
# PostgreSQL renders the list as JSON text itself, in C: that saves converting every row to
# Python objects and back to JSON in the worker, the largest cost of a list request.
SQL_JSON_POSTGRESQL = (
    "SELECT coalesce(json_agg(page ORDER BY id), '[]')::text FROM ("
    "SELECT id, email, comment, "
    """to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at """
    "FROM comments WHERE content_id = ? ORDER BY id{page}) AS page"
)
PAGE = " LIMIT ? OFFSET ?"


class Database:
    """Owns the engine and the connections of one process. Safe to share between threads."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.engine = make_engine(settings)
        self.backend = self.engine.dialect.name
        self._schema_ready = False
        self._schema_lock = threading.Lock()
        self._local = threading.local()
        # Bumped when a connection turns out dead; connections of an older generation are dropped.
        self._generation = 0
        statements = {"insert": SQL_INSERT, "any": SQL_ANY, "list": SQL_ROWS, "page": SQL_ROWS + PAGE}
        if self.backend == "postgresql":
            statements["list"] = SQL_JSON_POSTGRESQL.format(page="")
            statements["page"] = SQL_JSON_POSTGRESQL.format(page=PAGE)
        placeholder = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        self._sql = {name: sql.replace("?", placeholder) for name, sql in statements.items()}
        self._to_stored = _sqlite_stored if self.backend == "sqlite" else (lambda value: value)
        dbapi = self.engine.dialect.loaded_dbapi
        # Errors that mean "the database is not there right now" (503), as opposed to bugs.
        self._unavailable_errors = (dbapi.OperationalError, dbapi.InterfaceError)
        if self.backend == "postgresql":
            self._usable = open_and_idle
            # SQLSTATE 25006: the server refused the statement before running it (a standby, or read-only).
            self._read_only_errors = (dbapi.errors.ReadOnlySqlTransaction,)
        else:
            self._usable = lambda conn: True  # a SQLite file does not close connections
            self._read_only_errors = ()
        # True while connection attempts or connections time out (see SLOW_FAILURE_SECONDS): requests that need a
        # new connection answer 503 at once, a background thread retries.
        self._unreachable = False
        self._unreachable_lock = threading.Lock()

    def _connection(self):
        """This thread's own DBAPI connection (autocommit), opened on first use.

        Each request thread keeps one connection for its lifetime instead of checking one out of
        the pool and back in on every request: a gthread worker runs a fixed set of THREADS
        threads, so this holds THREADS connections per worker, and the pool's bookkeeping (about
        40 us of each request) is gone. The connection is opened through the engine, so it gets
        the same connect arguments and SQLite pragmas, then detached from the pool, which keeps
        serving /readyz and the schema creation only.

        Before it is used, the kept connection is checked without a round trip (open_and_idle): one
        the server closed while it was idle (a restart, a failover, a terminated backend) is replaced
        here, before any statement is sent on it.
        """
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is not None:
            if local.generation == self._generation and time.monotonic() < local.expires and self._usable(conn):
                return conn
            # Closed by the server, too old, or another thread saw the database go away since.
            local.conn = None
            _close_quietly(conn)
        if self._unreachable:
            raise DatabaseUnavailable("database unreachable: connection attempts time out")
        started = time.monotonic()
        try:
            fairy = self.engine.raw_connection()
        # The pool hands the driver's own error through when it cannot connect.
        except (DBAPIError, SATimeoutError, *self._unavailable_errors) as exc:
            self._failed_slowly(started, exc)
            raise DatabaseUnavailable(_short(exc)) from exc
        fairy.detach()
        local.conn, local.generation = fairy.dbapi_connection, self._generation
        local.expires = time.monotonic() + RECYCLE_SECONDS
        return local.conn

    def _drop(self, conn) -> None:
        """This thread's connection failed: close it, and every connection opened before it with it.

        After an outage or a failover every connection opened before it is dead or on the wrong
        server: each thread drops its own at its next use, before running a statement on it; the
        pool is replaced now (connections checked out of the old one are closed when returned)."""
        self._local.conn = None
        _close_quietly(conn)
        self._forget_connections()

    def _forget_connections(self) -> None:
        self._generation += 1
        self.engine.dispose()

    def _failed_slowly(self, started: float, exc: Exception) -> None:
        """A connection attempt or a statement failed. If slowly, requests stop trying until the database answers."""
        if time.monotonic() - started < SLOW_FAILURE_SECONDS:
            return  # refused or closed: trying again costs nothing, and the first attempt after the restart succeeds
        if isinstance(exc, SATimeoutError):
            return  # no free connection in this worker's pool: the database was not even asked
        with self._unreachable_lock:
            if self._unreachable:
                return
            self._unreachable = True
        log.warning("database does not answer: requests needing a connection get 503 at once until it does")
        threading.Thread(target=self._probe_until_reachable, name="database-probe", daemon=True).start()

    def _probe_until_reachable(self) -> None:
        while self._unreachable:
            time.sleep(PROBE_INTERVAL_SECONDS)
            if self._check() is None:
                self._set_reachable()

    def _set_reachable(self) -> None:
        if not self._unreachable:
            return
        with self._unreachable_lock:
            if not self._unreachable:
                return
            # A connection from before the outage may have been closed at the server's end only (its TCP
            # timings gave up first, and the reset was lost): every thread opens a new one, then requests
            # may try again.
            self._forget_connections()
            self._unreachable = False
        log.info("database answers again")

    def _run(self, name: str, params: tuple, fetch: str, idempotent: bool):
        """Execute one statement on this thread's connection (autocommit) and fetch "one" or "all".

        A statement is sent at most twice, on two different connections, and a second time only when
        running it twice cannot write twice:
        - the server refused it as read-only (25006: a failover left this connection on a standby,
          or the server is read-only): it did not run, so it is sent again on a new connection, which
          target_session_attrs=read-write opens on a primary (or fails to open: 503);
        - the connection broke and the statement is a read (idempotent).
        A write whose connection broke after it was sent is not sent again: it may have committed
        before the server went away (autocommit), so the client gets 503 and decides. A connection
        that died while idle is not such a case: _connection() replaces it before anything is sent.
        """
        for attempt in (1, 2):
            conn = self._connection()
            cursor = None
            started = time.monotonic()
            try:
                cursor = conn.execute(self._sql[name], params)
                return cursor.fetchone() if fetch == "one" else cursor.fetchall()
            except self._read_only_errors as exc:
                self._drop(conn)
                if attempt == 2:
                    raise DatabaseUnavailable(f"database is read-only: {_short(exc)}") from exc
                log.info("database refused a statement as read-only (25006): retrying on a new connection")
            except self._unavailable_errors as exc:
                broken = self.engine.dialect.is_disconnect(exc, conn, cursor) or getattr(conn, "closed", False)
                if broken:
                    self._drop(conn)
                    # Broken only after a while: the server stopped answering (tcp_timings() gave up), as
                    # when a connection attempt times out. A read is then not run again: 503 now, not after a
                    # connect timeout more.
                    self._failed_slowly(started, exc)
                if not (broken and idempotent and attempt == 1) or self._unreachable:
                    raise DatabaseUnavailable(_short(exc)) from exc
                log.info("database connection broke during a read: retrying on a new connection")
            finally:
                if cursor is not None:
                    _close_quietly(cursor)

    # -- schema ------------------------------------------------------------------------------
    def ensure_schema(self) -> bool:
        """Create the table and index if missing; True when the schema is in place.

        Called at start-up and, until it has succeeded once, before each use: a replica that
        starts while the database is down becomes ready when it comes back. After success it is
        a boolean test, never a query.
        """
        if self._schema_ready:
            return True
        with self._schema_lock:
            if self._schema_ready:
                return True
            if self._unreachable:
                return False
            started = time.monotonic()
            try:
                # DDL in a transaction, unlike the autocommit request path.
                with self.engine.execution_options(isolation_level=TRANSACTIONAL[self.backend]).begin() as conn:
                    if self.backend == "postgresql":
                        # Replicas starting together: IF NOT EXISTS alone can still collide on
                        # PostgreSQL's catalog (duplicate pg_type row), so serialise them.
                        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
                    conn.execute(CreateTable(comments, if_not_exists=True))
                    for index in comments.indexes:
                        conn.execute(CreateIndex(index, if_not_exists=True))
            except SQLAlchemyError as exc:
                log.warning("database schema not ready: %s", _short(exc))
                self._failed_slowly(started, exc)
                return False
            self._schema_ready = True
            log.info("database schema ready", extra={"backend": self.backend})
            return True

    def _require_schema(self) -> None:
        if not self.ensure_schema():
            raise DatabaseUnavailable("database unavailable")

    # -- queries -----------------------------------------------------------------------------
    def add_comment(self, content_id: str, email: str, comment: str) -> dict:
        self._require_schema()
        created_at = datetime.now(UTC)
        # One INSERT in autocommit mode: atomic on its own, so a failure never leaves half a write.
        (new_id,) = self._run("insert", (content_id, email, comment, self._to_stored(created_at)), "one", False)
        return {"id": new_id, "created_at": _utc_iso(created_at)}

    def list_json(self, content_id: str, limit: int | None = None, offset: int = 0) -> str:
        """The comments of one content item, oldest first, as a JSON array (text, ready to send)."""
        self._require_schema()
        if limit is None:
            name, params = "list", (content_id,)
        else:
            name, params = "page", (content_id, limit, offset)
        if self.backend == "postgresql":
            return self._run(name, params, "one", True)[0]
        rows = self._run(name, params, "all", True)
        return json.dumps(
            [{"id": i, "email": e, "comment": c, "created_at": _sqlite_iso(t)} for i, e, c, t in rows],
            separators=(",", ":"),
        )

    def has_comments(self, content_id: str) -> bool:
        self._require_schema()
        return self._run("any", (content_id,), "one", True) is not None

    def _check(self) -> str | None:
        """None when the database answers and accepts writes, else what is wrong. A round trip on the pool."""
        try:
            for _ in range(2):
                with self.engine.connect() as conn:
                    if self.backend != "postgresql":
                        conn.execute(text("SELECT 1"))
                        return None
                    if conn.exec_driver_sql("SELECT current_setting('transaction_read_only')").scalar() == "off":
                        return None
                    conn.invalidate()
                # A server that is now a standby (a failover) or read-only: every connection opened
                # before is on it too. The pool and the threads replace theirs, and the new ones
                # (read-write, see make_engine) land on the primary or fail.
                self._forget_connections()
        except SQLAlchemyError as exc:
            return _short(exc)
        return "the server is read-only (a standby, or default_transaction_read_only)"

    def ping(self) -> bool:
        """True when the database answers, accepts writes and the schema is in place (/readyz)."""
        if self._unreachable:
            # The probe thread is asking every PROBE_INTERVAL_SECONDS; asking here too would hold a request
            # thread for a connect timeout on each call.
            return False
        problem = self._check()
        if problem is not None:
            log.warning("database ping failed: %s", problem)
            self._forget_connections()
            return False
        return self.ensure_schema()


def _close_quietly(resource) -> None:
    try:
        resource.close()
    except Exception:  # a cursor or connection of a dead connection may refuse to close
        pass


def _short(exc: Exception) -> str:
    """First line of a driver error: enough to diagnose, without the SQL and parameters."""
    original = getattr(exc, "orig", None) or exc
    return (str(original).strip().splitlines() or [type(original).__name__])[0]
