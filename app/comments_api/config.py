"""Settings read from the environment, checked once at start-up.

Every variable is listed in app/README.md. A bad value stops the start with a message naming the
variable, rather than surfacing later as a confusing runtime error.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url


class ConfigError(ValueError):
    """A configuration variable has a value the app cannot use."""


def env_int(name: str, default: int, minimum: int = 0, environ=None) -> int:
    environ = os.environ if environ is None else environ
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def env_bool(name: str, default: bool, environ=None) -> bool:
    environ = os.environ if environ is None else environ
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def default_data_dir(environ) -> Path:
    """$XDG_DATA_HOME/comments-api, else ~/.local/share/comments-api (the XDG base directory rule).

    Not the working directory: `comments-api` started from a source tree would leave its
    database there. Containers set DATA_DIR to their volume.
    """
    base = environ.get("XDG_DATA_HOME", "").strip()
    if base:
        return Path(base) / "comments-api"
    home = environ.get("HOME", "").strip()
    return Path(home or os.path.expanduser("~")) / ".local" / "share" / "comments-api"


def database_url(environ=None) -> URL:
    """The SQLAlchemy URL: DATABASE_URL, else a SQLite file under DATA_DIR.

    `postgresql://` (and the older `postgres://`) are mapped to the psycopg 3 driver, because
    SQLAlchemy would otherwise look for psycopg2, which is not installed.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get("DATABASE_URL", "").strip()
    if not raw:
        data_dir = Path(environ.get("DATA_DIR", "").strip() or default_data_dir(environ))
        return make_url(f"sqlite:///{(data_dir / 'comments.db').absolute()}")
    try:
        url = make_url(raw)
    except Exception:
        raise ConfigError(f"DATABASE_URL is not a database URL: {raw!r}") from None
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return url.set(drivername="postgresql+psycopg")
    if url.drivername in ("sqlite", "sqlite+pysqlite"):
        if not url.database or url.database == ":memory:":
            raise ConfigError(
                "DATABASE_URL must name a SQLite file (sqlite:///path/to/file.db); "
                "an in-memory database would differ per worker"
            )
        return url
    raise ConfigError(f"DATABASE_URL scheme {url.drivername!r} is not supported; use sqlite:/// or postgresql://")


@dataclass(frozen=True)
class Settings:
    database_url: URL
    max_comment_length: int
    max_body_bytes: int
    max_page_size: int
    db_pool_size: int
    db_max_overflow: int
    db_pool_timeout: int
    db_connect_timeout: int
    sqlite_busy_timeout_ms: int
    log_level: str
    log_requests: bool

    @classmethod
    def from_env(cls, environ=None) -> "Settings":
        environ = os.environ if environ is None else environ
        log_level = environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {log_level!r}")
        return cls(
            database_url=database_url(environ),
            max_comment_length=env_int("MAX_COMMENT_LENGTH", 5000, 1, environ),
            max_body_bytes=env_int("MAX_BODY_BYTES", 64 * 1024, 1024, environ),
            max_page_size=env_int("MAX_PAGE_SIZE", 100, 1, environ),
            # Only /readyz and schema creation use the pool; requests use their thread's connection.
            db_pool_size=env_int("DB_POOL_SIZE", 2, 1, environ),
            db_max_overflow=env_int("DB_MAX_OVERFLOW", 5, 0, environ),
            db_pool_timeout=env_int("DB_POOL_TIMEOUT", 5, 1, environ),
            db_connect_timeout=env_int("DB_CONNECT_TIMEOUT", 3, 1, environ),
            sqlite_busy_timeout_ms=env_int("SQLITE_BUSY_TIMEOUT_MS", 10000, 0, environ),
            log_level=log_level,
            log_requests=env_bool("LOG_REQUESTS", True, environ),
        )
