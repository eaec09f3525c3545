"""gunicorn settings from the environment, the ones `comments-api` runs with.

Also usable alone: `gunicorn -c python:comments_api.gunicorn_conf` (then set
PROMETHEUS_MULTIPROC_DIR yourself to an empty directory, or /metrics counts one worker only).
"""

import os

from .config import env_int


def _settings(environ=None) -> dict:
    environ = os.environ if environ is None else environ
    host = environ.get("HOST", "").strip() or "0.0.0.0"
    port = env_int("PORT", 8000, 1, environ)
    threads = env_int("THREADS", 4, 1, environ)
    settings = {
        "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
        "workers": env_int("WEB_CONCURRENCY", 2, 1, environ),
        "threads": threads,
        # gthread keeps client connections alive between requests; with THREADS=1 and
        # WORKER_CLASS=sync it is the classic one-request-per-process model.
        "worker_class": environ.get("WORKER_CLASS", "").strip() or "gthread",
        "timeout": env_int("TIMEOUT", 30, 0, environ),
        "graceful_timeout": env_int("GRACEFUL_TIMEOUT", 30, 0, environ),
        "keepalive": env_int("KEEPALIVE", 5, 0, environ),
        "max_requests": env_int("MAX_REQUESTS", 0, 0, environ),
        "max_requests_jitter": env_int("MAX_REQUESTS_JITTER", 0, 0, environ),
        "backlog": env_int("BACKLOG", 2048, 1, environ),
        # The app writes one JSON line per request itself; gunicorn's access log would double it.
        "accesslog": None,
        "errorlog": "-",
        "loglevel": (environ.get("LOG_LEVEL", "").strip() or "info").lower(),
        "proc_name": "comments-api",
        # gunicorn's control socket sits at one fixed path per user: two servers (tests, replicas
        # sharing a home) would fight over it, and nothing here uses it.
        "control_socket_disable": True,
        "forwarded_allow_ips": environ.get("FORWARDED_ALLOW_IPS", "").strip() or "127.0.0.1,::1",
    }
    # Worker heartbeats are file writes; on a container's overlay filesystem they can stall.
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        settings["worker_tmp_dir"] = "/dev/shm"
    return settings


def child_exit(server, worker):
    """Drop the metric files of a worker that exited, as prometheus_client's multiprocess docs ask."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker):
    """Send the spans a worker still holds before it exits (nothing to do with tracing off)."""
    from . import tracing  # OpenTelemetry itself is imported only by tracing.init_app()

    tracing.shutdown()


# Module-level names are what `gunicorn -c python:comments_api.gunicorn_conf` reads.
globals().update(_settings())
wsgi_app = "comments_api.wsgi:app"
