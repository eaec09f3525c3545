"""The `comments-api` command: gunicorn serving create_app(), configured from the environment."""

import glob
import os
import shutil
import sys
import tempfile

from gunicorn.app.base import BaseApplication

from .config import ConfigError, Settings


class CommentsApplication(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        from . import gunicorn_conf

        for key, value in self.options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)
        self.cfg.set("child_exit", gunicorn_conf.child_exit)
        self.cfg.set("worker_exit", gunicorn_conf.worker_exit)

    def load(self):
        # Runs in each worker after the fork, so each has its own database pool.
        from . import create_app

        return create_app()


def prepare_metrics_dir() -> str | None:
    """Point PROMETHEUS_MULTIPROC_DIR at an empty directory; return it if we made it (to remove).

    It must be set before prometheus_client is imported anywhere, as the library picks its
    multiprocess mode at import time.
    """
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if given:
        os.makedirs(given, exist_ok=True)
        # Files of a previous run would be added to this run's totals.
        for path in glob.glob(os.path.join(given, "*.db")):
            os.remove(path)
        return None
    made = tempfile.mkdtemp(prefix="comments-api-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
    return made


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        print("usage: comments-api  (configured by environment variables; see app/README.md)", file=sys.stderr)
        return 0 if argv[0] in ("-h", "--help") else 2
    try:
        from . import gunicorn_conf

        Settings.from_env()  # fail here, once, rather than in every worker
        options = gunicorn_conf._settings()
    except ConfigError as exc:
        print(f"comments-api: {exc}", file=sys.stderr)
        return 2
    made = prepare_metrics_dir()
    master = os.getpid()
    try:
        CommentsApplication(options).run()
    finally:
        # Workers are forked from inside run() and leave through SystemExit, so they pass this
        # `finally` too: only the master may remove the directory the other workers still use.
        if made and os.getpid() == master:
            shutil.rmtree(made, ignore_errors=True)
    return 0
