"""Debian's Prometheus 2.42 binaries (`make prometheus` unpacks them) and a real server on a free loopback port."""

import os
import subprocess
from pathlib import Path

import pytest
import requests
import yaml

from comments_harness import free_port, wait_until

REPO = Path(__file__).resolve().parents[6]
DEFAULT_DIR = REPO / ".venv" / "prometheus" / "usr" / "bin"
# The version Debian 12 ships, which `make prometheus` pins; the cluster runs 3.5 (README.md here).
EXPECTED_VERSION = "2.42.0"


def binary(name: str) -> Path:
    """promtool or prometheus: $PROMTOOL / $PROMETHEUS (the Makefile exports them), else .venv/prometheus."""
    path = Path(os.environ.get(name.upper(), DEFAULT_DIR / name))
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make prometheus` (Debian's prometheus package, unpacked, no service)")
    version = subprocess.run([str(path), "--version"], capture_output=True, text=True, check=False)
    first_line = (version.stdout + version.stderr).splitlines()[0] if (version.stdout + version.stderr) else ""
    if f"version {EXPECTED_VERSION}" not in first_line:
        pytest.fail(f"{path} is not {name} {EXPECTED_VERSION}: {first_line!r}")
    return path


class PrometheusServer:
    """`prometheus` with the given configuration (a dict, written as YAML) in a directory of its own."""

    def __init__(self, root: Path, config: dict):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.config_path = self.root / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log_path = self.root / "prometheus.log"
        self.process = None
        self._log = None

    def start(self, timeout: float = 30) -> "PrometheusServer":
        command = [
            str(binary("prometheus")),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.root / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.root)
        try:
            wait_until(self._ready, timeout, f"prometheus on port {self.port} to be ready")
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"prometheus did not start:\n{self.log()}") from None
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {self.process.returncode}:\n{self.log()}")
        try:
            return requests.get(f"{self.base_url}/-/ready", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self._log is not None:
            self._log.close()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def api(self, path: str, **params) -> dict:
        """GET /api/v1/<path>; the `data` of a success, an AssertionError with Prometheus's message otherwise."""
        response = requests.get(f"{self.base_url}/api/v1/{path}", params=params, timeout=30)
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"/api/v1/{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def format_query(self, expr: str) -> str:
        """Prometheus's own parse of `expr`, printed back (an AssertionError naming the parse error)."""
        return self.api("format_query", query=expr)

    def query(self, expr: str) -> list[dict]:
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", f"{expr}: a {data['resultType']}, not an instant vector"
        return data["result"]
