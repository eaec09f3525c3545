"""The app (or any WSGI app under gunicorn) as a process on a free loopback port, started and stopped."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from .net import free_port, wait_until

# What each comments_api worker logs once its app is built.
APP_CREATED = '"msg": "app created"'


def comments_api_command() -> list[str]:
    """The installed console script beside this interpreter (what `pip install ./app` provides)."""
    script = Path(sys.executable).with_name("comments-api")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "comments_api"]


class AppServer:
    """One gunicorn master and its workers on a free loopback port: `comments-api` unless `command` is given.

    Configured through the environment the app reads (HOST, PORT, WEB_CONCURRENCY, THREADS, ...);
    `env` adds to and overrides the caller's environment, except PROMETHEUS_MULTIPROC_DIR, which is
    not inherited (each server gets the launcher's fresh one) unless `env` sets it. The server is
    ready when `ready_marker` appears `workers` times in its log (every worker has built its app)
    and /healthz answers 200; `ready_marker=None` waits for /healthz only.
    """

    def __init__(
        self,
        env: dict,
        log_path: Path,
        workers: int = 2,
        threads: int = 4,
        command: list[str] | None = None,
        ready_marker: str | None = APP_CREATED,
    ):
        self.port = free_port()
        self.workers = workers
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path)
        self.command = command or comments_api_command()
        self.ready_marker = ready_marker
        inherited = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        self.env = {
            **inherited,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WEB_CONCURRENCY": str(workers),
            "THREADS": str(threads),
            "GRACEFUL_TIMEOUT": "10",
            **env,
        }
        self.process = None
        self._log = None

    @property
    def pid(self) -> int:
        """The gunicorn master's pid (the workers are its children)."""
        return self.process.pid

    def start(self, timeout: float = 30) -> "AppServer":
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until(self._healthy, timeout, f"{self.command[-1]} on port {self.port} to answer /healthz")
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"{self.command[-1]} did not start:\n{self.log()}") from None
        return self

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.command[-1]} exited with {self.process.returncode}:\n{self.log()}")
        # Every worker has built its app: tests that need requests spread over workers rely on it.
        if self.ready_marker and self.log(tail=None).count(self.ready_marker) < self.workers:
            return False
        try:
            return requests.get(self.url("/healthz"), timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def url(self, path: str) -> str:
        return self.base_url + path

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, as Kubernetes or systemd would send; the exit code (SIGKILL after timeout)."""
        if self.process is None:
            return None
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(10)
            return self.process.returncode
        finally:
            self._log.close()

    def log(self, tail: int | None = 5000) -> str:
        """The server's output (stdout and stderr); its last `tail` characters unless None."""
        try:
            text = self.log_path.read_text(errors="replace")
            return text[-tail:] if tail else text
        except OSError:
            return ""

    # -- the API, as a client uses it ---------------------------------------------------------
    def post_comment(self, content_id, email="reader@example.com", comment="Nice post!", **kwargs):
        return requests.post(
            self.url("/api/comment/new"),
            json={"email": email, "comment": comment, "content_id": content_id},
            timeout=10,
            **kwargs,
        )

    def list_comments(self, content_id, **params):
        return requests.get(self.url(f"/api/comment/list/{content_id}"), params=params or None, timeout=10)
