"""Real servers for the tests: a throwaway PostgreSQL cluster and `comments-api` (gunicorn) processes.

Everything listens on 127.0.0.1 on a free port. No mocks: the tests talk HTTP to gunicorn, and
gunicorn talks to a real SQLite file or a real PostgreSQL server.
"""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def postgres_bindir() -> Path:
    """Where initdb/pg_ctl are: on PATH, else Debian's versioned directory (newest first)."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    raise RuntimeError("PostgreSQL server programs not found: install Debian's 'postgresql' package")


class PostgresCluster:
    """A cluster in a temporary directory, started and stopped with pg_ctl.

    PostgreSQL refuses to run as root, so when the tests run as root (as CI does) the server
    programs run as an unprivileged account that owns the directory: `postgres` if the Debian
    package created it, else `nobody`.
    """

    def __init__(self):
        self.bindir = postgres_bindir()
        self.port = free_port()
        self.run_as = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    self.run_as = pwd.getpwnam(name)
                    break
                except KeyError:
                    continue
            if self.run_as is None:
                raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' account exists")
        # Under /tmp (world-traversable) rather than pytest's per-user 0700 directory.
        self.root = Path(tempfile.mkdtemp(prefix="comments-api-pg-"))
        self.datadir = self.root / "data"
        self.logfile = self.root / "server.log"
        if self.run_as:
            os.chown(self.root, self.run_as.pw_uid, self.run_as.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )

    def _run(self, program: str, *args: str) -> None:
        kwargs = {}
        if self.run_as:
            kwargs = {"user": self.run_as.pw_uid, "group": self.run_as.pw_gid, "extra_groups": []}
        result = subprocess.run(
            [str(self.bindir / program), *args], capture_output=True, text=True, cwd=self.root, **kwargs
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{self.log()}"
            )

    def start(self) -> None:
        # fsync off: a throwaway cluster, and the tests are about the app, not about disks.
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", "60", "-o", options, "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop()
        except RuntimeError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        try:
            return self.logfile.read_text()[-3000:]
        except OSError:
            return ""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def fresh_database(self) -> str:
        """URL of a new, empty database, so that tests sharing the cluster do not see each other."""
        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def comments_api_command() -> list[str]:
    """The installed console script beside this interpreter (what `pip install ./app` provides)."""
    script = Path(sys.executable).with_name("comments-api")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "comments_api"]


class AppServer:
    """One `comments-api` process (gunicorn master and its workers) on a free loopback port."""

    def __init__(self, env: dict, log_path: Path, workers: int = 2):
        self.port = free_port()
        self.workers = workers
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WEB_CONCURRENCY": str(workers),
            "THREADS": "4",
            "GRACEFUL_TIMEOUT": "10",
            **env,
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.process = None

    def start(self, timeout: float = 30) -> "AppServer":
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            comments_api_command(),
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until(self._healthy, timeout, f"comments-api on port {self.port} to answer /healthz")
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"comments-api did not start:\n{self.log()}") from None
        return self

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"comments-api exited with {self.process.returncode}:\n{self.log()}")
        # Every worker has built its app: tests that need requests spread over workers rely on it.
        if self.log(tail=None).count('"msg": "app created"') < self.workers:
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
