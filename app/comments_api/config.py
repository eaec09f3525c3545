"""Settings read from the environment, checked once at start-up.

Every variable is listed in docs/app.md (Settings). A bad value stops the start with a message naming the
variable, rather than surfacing later as a confusing runtime error.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

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


# libpq parameters the app sets on every PostgreSQL connection (db.make_engine), with the variables they
# come from. The same key in DATABASE_URL would be silently overridden, so it is refused instead.
APP_SET_LIBPQ_PARAMETERS = {
    "connect_timeout": "DB_CONNECT_TIMEOUT",
    "keepalives": "DB_KEEPALIVES_IDLE, DB_KEEPALIVES_INTERVAL and DB_KEEPALIVES_COUNT (keepalives are always on)",
    "keepalives_idle": "DB_KEEPALIVES_IDLE",
    "keepalives_interval": "DB_KEEPALIVES_INTERVAL",
    "keepalives_count": "DB_KEEPALIVES_COUNT",
    "tcp_user_timeout": "DB_TCP_USER_TIMEOUT_MS",
    "options": "DB_STATEMENT_TIMEOUT_MS and the TCP settings (server options: timezone, statement_timeout, keepalives)",
}


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
        for key in url.query:
            if key in APP_SET_LIBPQ_PARAMETERS:
                raise ConfigError(
                    f"DATABASE_URL must not set {key}: the app sets it on every connection "
                    f"from {APP_SET_LIBPQ_PARAMETERS[key]}"
                )
        return url.set(drivername="postgresql+psycopg")
    if url.drivername in ("sqlite", "sqlite+pysqlite"):
        if not url.database or url.database == ":memory:":
            raise ConfigError(
                "DATABASE_URL must name a SQLite file (sqlite:///path/to/file.db); "
                "an in-memory database would differ per worker"
            )
        return url
    raise ConfigError(f"DATABASE_URL scheme {url.drivername!r} is not supported; use sqlite:/// or postgresql://")


# The tracing switch: OpenTelemetry is loaded only when it is set (see tracing.py).
OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
DEFAULT_SERVICE_NAME = "comments-api"
# Probes and scrapes would be most of the spans; OTEL_PYTHON_FLASK_EXCLUDED_URLS replaces this.
# Matched (re.search) against the full URL, so anchored after the host: /api/comment/list/metrics stays traced.
DEFAULT_TRACING_EXCLUDED_URLS = r"^https?://[^/]+/(healthz|readyz|metrics)/?(\?|$)"
_SAMPLERS = (
    "always_on",
    "always_off",
    "parentbased_always_on",
    "parentbased_always_off",
    "traceidratio",
    "parentbased_traceidratio",
)


@dataclass(frozen=True)
class TracingSettings:
    """What the app itself decides about tracing; the SDK reads the other OTEL_* variables."""

    traces_endpoint: str  # the full URL spans are POSTed to
    service_name: str  # "" when OTEL_SERVICE_NAME is unset (then OTEL_RESOURCE_ATTRIBUTES' or the default)
    excluded_urls: str  # comma-separated regular expressions, as the Flask instrumentation takes them


def _otlp_url(name: str, raw: str) -> str:
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"{name} must be the http:// or https:// URL of an OTLP/HTTP receiver "
            f"(such as http://tempo:4318), got {raw!r}"
        )
    return raw


def _env_number(name: str, environ, minimum: float, maximum: float | None = None) -> None:
    raw = environ.get(name, "").strip()
    if not raw:
        return
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not minimum <= value <= (maximum if maximum is not None else float("inf")):
        bounds = f"between {minimum:g} and {maximum:g}" if maximum is not None else f">= {minimum:g}"
        raise ConfigError(f"{name} must be {bounds}, got {raw!r}")


def tracing_settings(environ=None) -> TracingSettings | None:
    """None (tracing off, nothing of OpenTelemetry loaded) unless OTEL_EXPORTER_OTLP_ENDPOINT is set.

    Checks here the standard variables that the SDK would otherwise only warn about (and then
    ignore) or fail on in each worker: a typo must stop the start, not silently trace everything.
    """
    environ = os.environ if environ is None else environ
    endpoint = environ.get(OTLP_ENDPOINT, "").strip()
    disabled = environ.get("OTEL_SDK_DISABLED", "").strip().lower()
    if disabled not in ("", "true", "false"):
        raise ConfigError(f"OTEL_SDK_DISABLED must be true or false, got {disabled!r}")
    if not endpoint or disabled == "true":
        return None
    _otlp_url(OTLP_ENDPOINT, endpoint)
    # The exporter's own rule: a signal's endpoint is used as it is, the general one gets /v1/traces.
    traces_endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if traces_endpoint:
        _otlp_url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces_endpoint)
    else:
        traces_endpoint = endpoint.removesuffix("/") + "/v1/traces"
    for name in ("OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"):
        protocol = environ.get(name, "").strip()
        if protocol and protocol != "http/protobuf":
            raise ConfigError(f"{name} must be http/protobuf (the only OTLP exporter installed), got {protocol!r}")
    for name in ("OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"):
        compression = environ.get(name, "").strip().lower()
        if compression not in ("", "none", "gzip", "deflate"):
            raise ConfigError(f"{name} must be none, gzip or deflate, got {compression!r}")
    for name in ("OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"):
        _env_number(name, environ, 0.001)
    sampler = environ.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if sampler and sampler not in _SAMPLERS:
        raise ConfigError(f"OTEL_TRACES_SAMPLER must be one of {', '.join(_SAMPLERS)}, got {sampler!r}")
    if sampler.endswith("traceidratio"):
        _env_number("OTEL_TRACES_SAMPLER_ARG", environ, 0.0, 1.0)
    for name in (
        "OTEL_BSP_SCHEDULE_DELAY",
        "OTEL_BSP_EXPORT_TIMEOUT",
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    ):
        env_int(name, 0, 1, environ)
    excluded = (
        environ.get("OTEL_PYTHON_FLASK_EXCLUDED_URLS", "").strip()
        or environ.get("OTEL_PYTHON_EXCLUDED_URLS", "").strip()
        or DEFAULT_TRACING_EXCLUDED_URLS
    )
    return TracingSettings(
        traces_endpoint=traces_endpoint,
        service_name=environ.get("OTEL_SERVICE_NAME", "").strip(),
        excluded_urls=excluded,
    )


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
    db_statement_timeout_ms: int
    db_keepalives_idle: int
    db_keepalives_interval: int
    db_keepalives_count: int
    db_tcp_user_timeout_ms: int
    sqlite_busy_timeout_ms: int
    log_level: str
    log_requests: bool
    tracing: TracingSettings | None = None  # None: OTEL_EXPORTER_OTLP_ENDPOINT unset, no tracing

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
            # How long a database that stopped answering can hold a request (README: "Bounded waits").
            db_statement_timeout_ms=env_int("DB_STATEMENT_TIMEOUT_MS", 5000, 0, environ),
            db_keepalives_idle=env_int("DB_KEEPALIVES_IDLE", 2, 1, environ),
            db_keepalives_interval=env_int("DB_KEEPALIVES_INTERVAL", 1, 1, environ),
            db_keepalives_count=env_int("DB_KEEPALIVES_COUNT", 2, 1, environ),
            db_tcp_user_timeout_ms=env_int("DB_TCP_USER_TIMEOUT_MS", 4000, 0, environ),
            sqlite_busy_timeout_ms=env_int("SQLITE_BUSY_TIMEOUT_MS", 10000, 0, environ),
            log_level=log_level,
            log_requests=env_bool("LOG_REQUESTS", True, environ),
            tracing=tracing_settings(environ),
        )
