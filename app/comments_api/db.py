"""The database: one SQLAlchemy engine (a connection pool) per process, the schema, the queries.

SQLAlchemy Core rather than psycopg directly: one code path serves SQLite and PostgreSQL, the pool
and its disconnect handling come for free, and Core statements cost little more than raw SQL.
"""

import logging
import threading
import zlib
from datetime import datetime, timezone
from pathlib import Path

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
    insert,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
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


class DatabaseUnavailable(Exception):
    """The database could not be reached or refused the operation."""


def _set_sqlite_pragmas(dbapi_connection, _record, busy_timeout_ms: int) -> None:
    cursor = dbapi_connection.cursor()
    # busy_timeout first, so that switching to WAL waits for another worker's lock.
    cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    # WAL lets readers run beside the one writer: several gunicorn workers share the file.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def make_engine(settings: Settings):
    url = settings.database_url
    if url.get_backend_name() == "sqlite":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000},
        )
        event.listen(
            engine,
            "connect",
            lambda conn, rec: _set_sqlite_pragmas(conn, rec, settings.sqlite_busy_timeout_ms),
        )
        return engine
    return create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        # No pre-ping: it would cost a round trip per request. A dropped connection is detected
        # when used; SQLAlchemy then invalidates the whole pool, so one request fails (503) and
        # the next ones reconnect.
        pool_recycle=1800,
        connect_args={"connect_timeout": settings.db_connect_timeout},
    )


def _utc_iso(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    # SQLite gives back the naive UTC time that was stored.
    return value.isoformat(timespec="microseconds") + "Z"


class Database:
    """Owns the engine of one process. Safe to share between threads."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.engine = make_engine(settings)
        self.backend = self.engine.dialect.name
        self._schema_ready = False
        self._schema_lock = threading.Lock()
        self._insert = insert(comments).returning(comments.c.id)
        self._list_columns = (comments.c.id, comments.c.email, comments.c.comment, comments.c.created_at)

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
            try:
                with self.engine.begin() as conn:
                    if self.backend == "postgresql":
                        # Replicas starting together: IF NOT EXISTS alone can still collide on
                        # PostgreSQL's catalog (duplicate pg_type row), so serialise them.
                        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
                    conn.execute(CreateTable(comments, if_not_exists=True))
                    for index in comments.indexes:
                        conn.execute(CreateIndex(index, if_not_exists=True))
            except SQLAlchemyError as exc:
                log.warning("database schema not ready: %s", _short(exc))
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
        created_at = datetime.now(timezone.utc)
        row = {"content_id": content_id, "email": email, "comment": comment, "created_at": created_at}
        try:
            with self.engine.begin() as conn:
                new_id = conn.execute(self._insert, row).scalar_one()
        except DBAPIError as exc:
            raise DatabaseUnavailable(_short(exc)) from exc
        return {"id": new_id, "created_at": _utc_iso(created_at)}

    def list_comments(self, content_id: str, limit: int | None = None, offset: int = 0) -> list[dict]:
        self._require_schema()
        query = select(*self._list_columns).where(comments.c.content_id == content_id).order_by(comments.c.id)
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
        except DBAPIError as exc:
            raise DatabaseUnavailable(_short(exc)) from exc
        return [
            {"id": r.id, "email": r.email, "comment": r.comment, "created_at": _utc_iso(r.created_at)}
            for r in rows
        ]

    def has_comments(self, content_id: str) -> bool:
        self._require_schema()
        query = select(comments.c.id).where(comments.c.content_id == content_id).limit(1)
        try:
            with self.engine.connect() as conn:
                return conn.execute(query).first() is not None
        except DBAPIError as exc:
            raise DatabaseUnavailable(_short(exc)) from exc

    def ping(self) -> bool:
        """True when the database answers and the schema is in place."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            log.warning("database ping failed: %s", _short(exc))
            return False
        return self.ensure_schema()

    def close(self) -> None:
        self.engine.dispose()


def _short(exc: Exception) -> str:
    """First line of a driver error: enough to diagnose, without the SQL and parameters."""
    original = getattr(exc, "orig", None) or exc
    return (str(original).strip().splitlines() or [type(original).__name__])[0]
