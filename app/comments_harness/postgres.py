"""A throwaway PostgreSQL cluster: initdb and pg_ctl in a temporary directory, on a free loopback port."""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

from .net import free_port


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

    PostgreSQL refuses to run as root, so when this runs as root (as CI does) the server programs
    run as an unprivileged account that owns the directory: `postgres` if the Debian package
    created it, else `nobody`.

    durable=False (the tests) turns fsync off: the tests are about the app, not about disks.
    durable=True (the benchmark) keeps PostgreSQL's defaults, so a POST pays for a real commit.
    `settings` are more server settings (`-c name=value`), e.g. shared_preload_libraries.
    """

    def __init__(self, durable: bool = False, settings: dict | None = None):
        self.bindir = postgres_bindir()
        self.port = free_port()
        self.durable = durable
        self.settings = dict(settings or {})
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
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
        if not self.durable:
            options += " -c fsync=off -c max_connections=200"
        options += "".join(f" -c {name}={value}" for name, value in self.settings.items())
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

    @property
    def postmaster_pid(self) -> int:
        """The running server's main process (its backends are its children)."""
        return int((self.datadir / "postmaster.pid").read_text().split()[0])

    @property
    def version(self) -> str:
        """`postgres --version`, e.g. 'postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)'."""
        return subprocess.run([self.bindir / "postgres", "--version"], capture_output=True, text=True).stdout.strip()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def fresh_database(self) -> str:
        """URL of a new, empty database, so that users of one cluster do not see each other's data."""
        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
