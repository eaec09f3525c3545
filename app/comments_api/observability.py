"""Request ids, one JSON log line per request, and Prometheus metrics.

The log line carries trace_id and span_id when tracing is on (tracing.py gives init_app the
function that adds them); with tracing off the line and its cost are what they always were.

Metrics are module-level because prometheus_client registers them globally (creating them again
in a second create_app() would fail). Under gunicorn the `comments-api` launcher sets
PROMETHEUS_MULTIPROC_DIR before any worker imports this module, so every worker writes its values
to files there and /metrics adds them up across workers.
"""

import json
import logging
import os
import re
import sys
import time
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii

from flask import Flask
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from .framework import request_context

REQUEST_COUNT = Counter("http_requests_total", "HTTP requests handled.", ("route", "method", "status"))
REQUEST_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to handle an HTTP request, from the app's first look at it to its response.",
    ("route", "method", "status"),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
COMMENTS_CREATED = Counter("comments_created_total", "Comments stored.")

# A client's id is echoed only if it is short and plain, so it cannot forge log lines.
_request_id_re = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
UNMATCHED_ROUTE = "<unmatched>"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: the message, the level and any `extra` fields given."""

    _skip = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self._skip:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(level: str) -> None:
    logger = logging.getLogger("comments_api")
    logger.setLevel(level)
    if not any(getattr(h, "_comments_api", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._comments_api = True
        logger.addHandler(handler)
        logger.propagate = False


# A str as JSON, exactly as json.dumps writes it (the C function json.dumps itself calls for one).
_json_string = encode_basestring_ascii
_second = (-1, "")  # (second, its formatted timestamp), reused within that second
# Standard methods keep their name in metrics; anything else is "OTHER", so that a client
# inventing methods cannot create new time series without end.
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"))


def _write_access_line(
    method: str, path: str, status: int, duration: float, request_id: str, trace_fields: str = ""
) -> None:
    """One JSON line on stderr, written with a single write(2).

    Not through `logging`: this runs on every request, and a LogRecord plus a generic formatter
    cost several times more. One write of a line shorter than PIPE_BUF (4 KiB; the path is cut
    at 1 KiB) is atomic, so lines of concurrent threads and workers never interleave. The request
    id was checked against a plain character set and the status is a number, so only the method
    and the path need JSON escaping;
    `trace_fields` is "" or the ready-made `, "trace_id": ..., "span_id": ...` (hex digits only).
    """
    global _second
    now = time.time()
    second = int(now)
    cached = _second
    if cached[0] != second:
        cached = _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    line = (
        f'{{"ts": "{cached[1]}.{int((now - second) * 1000):03d}+00:00", "level": "info", '
        f'"logger": "comments_api.access", "pid": {os.getpid()}, "msg": "request", '
        f'"method": {_json_string(method[:16])}, "path": {_json_string(path[:1024])}, "status": {status}, '
        f'"duration_ms": {duration * 1000:.3f}, "request_id": "{request_id}"{trace_fields}}}\n'
    )
    try:
        os.write(2, line.encode())
    except OSError:
        # A log sink that went away (EPIPE) or is full must not turn an answered request into a
        # 500 (for a POST, after the comment was stored), as logging's handlers do for theirs.
        pass


def init_app(app: Flask, log_requests: bool, annotate_trace=None) -> None:
    """Request ids, metrics and the request log line; `annotate_trace` is tracing.init_app's result or None.

    annotate_trace(request_id) puts the id on the request's span and returns the log line's trace
    fields; it is called in after_request, while the span is still the current one (the Flask
    instrumentation ends it at teardown).
    """
    # One (counter, histogram) pair of children per label set, looked up once: labels() takes a
    # lock and validates the values on every call.
    children: dict[tuple[str, str, int], tuple] = {}

    # Per-request state lives on the request object itself: one context lookup per hook instead
    # of one per `g`/`request` attribute (each goes through a context variable).
    @app.before_request
    def _start_request():
        req = request_context().request
        req.comments_start = time.perf_counter()
        incoming = req.environ.get("HTTP_X_REQUEST_ID")
        # os.urandom(16).hex() is the same 32 hex characters as uuid4().hex, at a quarter the cost.
        req.comments_request_id = incoming if incoming and _request_id_re.fullmatch(incoming) else os.urandom(16).hex()

    @app.after_request
    def _finish_request(response):
        req = request_context().request
        # Missing only if the request failed before _start_request ran: it still gets an id.
        start = getattr(req, "comments_start", None)
        duration = time.perf_counter() - start if start is not None else 0.0
        request_id = getattr(req, "comments_request_id", None) or os.urandom(16).hex()
        response.headers["X-Request-ID"] = request_id
        rule = req.url_rule
        method = req.method
        status = response.status_code
        key = (rule.rule if rule is not None else UNMATCHED_ROUTE, method if method in _METHODS else "OTHER", status)
        pair = children.get(key)
        if pair is None:
            labels = (key[0], key[1], str(status))
            pair = children.setdefault(key, (REQUEST_COUNT.labels(*labels), REQUEST_LATENCY.labels(*labels)))
        pair[0].inc()
        pair[1].observe(duration)
        trace_fields = annotate_trace(request_id) if annotate_trace is not None else ""
        if log_requests:
            _write_access_line(method, req.path, status, duration, request_id, trace_fields)
        return response


def metrics_payload() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
