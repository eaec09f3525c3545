"""Barman Cloud against an S3 server on 127.0.0.1: the programs the Barman Cloud plugin runs in the instance pods.

`S3Server` is moto's S3 server (`moto_server`) on a free loopback port; `BarmanCloud` builds the
barman-cloud command lines for one server name in one bucket, the way the plugin's sidecar calls them
(WAL archiving and restoring with gzip, base backups, restores), and runs them. Both come from the
backup venv (`make backup-venv`, requirements/backup-test.txt), named by the BACKUP_VENV variable,
so barman's and moto's boto3/botocore pins stay out of the app's venv.
"""

import os
import shlex
import signal
import subprocess
from pathlib import Path

import requests

from comments_harness import free_port, wait_until

# moto accepts any key; the variables keep boto3 from looking anywhere else for credentials (the instance
# metadata service above all: no packet may leave 127.0.0.1), and from reading the caller's ~/.aws.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "test-access-key",
    "AWS_SECRET_ACCESS_KEY": "test-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
}


def backup_venv() -> Path:
    """The venv holding barman-cloud and moto (BACKUP_VENV, as the Makefile sets it)."""
    raw = os.environ.get("BACKUP_VENV")
    if not raw:
        raise RuntimeError("BACKUP_VENV is not set: run `make backup-mechanism`, which builds the venv and sets it")
    venv = Path(raw).resolve()
    for program in ("barman-cloud-backup", "moto_server"):
        if not (venv / "bin" / program).exists():
            raise RuntimeError(f"BACKUP_VENV={venv} has no bin/{program}: run `make backup-venv`")
    return venv


class S3Server:
    """moto's S3 server on 127.0.0.1 (its own process group, killed by stop())."""

    def __init__(self, venv: Path, log_path: Path):
        self.venv = venv
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.process = subprocess.Popen(
            [str(venv / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **AWS_ENV},
        )
        try:
            wait_until(self._up, 30, f"moto_server on {self.endpoint}")
        except BaseException:
            self.stop()
            raise

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {self.process.returncode}: {self.log_path.read_text()}")
        try:
            return requests.get(self.endpoint, timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._log.close()

    def client(self, *args: str) -> str:
        """s3_client.py (boto3, in the backup venv) against this server; its output."""
        result = subprocess.run(
            [str(self.venv / "bin" / "python"), str(Path(__file__).with_name("s3_client.py")), self.endpoint, *args],
            capture_output=True,
            text=True,
            env={**os.environ, **AWS_ENV},
            timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"s3_client.py {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result.stdout

    def create_bucket(self, bucket: str) -> None:
        self.client("create-bucket", bucket)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        return self.client("list", bucket, prefix).split()

    def move(self, bucket: str, source: str, target: str) -> None:
        self.client("move", bucket, source, target)


class BarmanCloud:
    """barman-cloud command lines for server `server_name` under s3://bucket/prefix on `endpoint`."""

    def __init__(self, venv: Path, endpoint: str, bucket: str, prefix: str, server_name: str, run_as=None):
        self.bin = venv / "bin"
        self.endpoint = endpoint
        self.destination = f"s3://{bucket}/{prefix}"
        self.server_name = server_name
        self.run_as = run_as

    def command(self, program: str, *args: str) -> list[str]:
        """The full command: `env` with the credentials, the program, the object store options, `args`."""
        env = [f"{name}={value}" for name, value in AWS_ENV.items()]
        store = ["--cloud-provider", "aws-s3", "--endpoint-url", self.endpoint]
        return ["env", *env, str(self.bin / program), *store, *args]

    def shell(self, program: str, *args: str) -> str:
        """The same as one shell line, for archive_command and restore_command (%p, %f left for PostgreSQL)."""
        return " ".join(shlex.quote(part) if "%" not in part else part for part in self.command(program, *args))

    def archive_command(self) -> str:
        return self.shell("barman-cloud-wal-archive", "--gzip", self.destination, self.server_name, "%p")

    def restore_command(self) -> str:
        return self.shell("barman-cloud-wal-restore", self.destination, self.server_name, "%f", "%p")

    def run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a barman-cloud program as the PostgreSQL account (as the plugin runs it in the pod)."""
        kwargs = {}
        if self.run_as:
            kwargs = {"user": self.run_as.pw_uid, "group": self.run_as.pw_gid, "extra_groups": []}
        result = subprocess.run(
            self.command(program, *args), capture_output=True, text=True, cwd="/", timeout=300, **kwargs
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{program} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result
