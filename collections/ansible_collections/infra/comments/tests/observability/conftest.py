"""Fixtures: Debian's promtool, and one bare Prometheus server on loopback whose parser checks every expression."""

import pytest
from prometheus_process import PrometheusServer, binary


@pytest.fixture(scope="session")
def promtool():
    return binary("promtool")


@pytest.fixture(scope="session")
def parser(tmp_path_factory):
    """A real Prometheus that scrapes nothing: its /api/v1/format_query parses (and prints back) an expression."""
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus-parser"), {"scrape_configs": []}).start()
    yield server
    server.stop()
