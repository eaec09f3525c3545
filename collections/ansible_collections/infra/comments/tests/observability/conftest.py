"""Fixtures: Debian's promtool, and one bare Prometheus server on loopback whose parser checks every expression."""

import sys
from pathlib import Path

import pytest
from prometheus_process import PrometheusServer, binary

# tools/testdata.py: where the upstream test data of requirements/test-data.yml is (`make test-data` records it).
sys.path.insert(0, str(Path(__file__).resolve().parents[6] / "tools"))


@pytest.fixture(scope="session")
def promtool():
    return binary("promtool")


@pytest.fixture(scope="session")
def parser(tmp_path_factory):
    """A real Prometheus that scrapes nothing: its /api/v1/format_query parses (and prints back) an expression."""
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus-parser"), {"scrape_configs": []}).start()
    yield server
    server.stop()
