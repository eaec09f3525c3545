"""Every metric name a dashboard or an alert uses is one its exporter documents (metric_catalogue.py), and none is
one kube-prometheus-stack drops at scrape time. The app's own names are also checked against the running app
(test_real_prometheus.py); Kong's, CloudNativePG's, kube-state-metrics' and cAdvisor's only against the catalogue,
since none of them runs here."""

import re

import pytest
import yaml
from content import Query, all_queries, substitute
from metric_catalogue import CADVISOR, SOURCES, source_of
from promql_lexer import analyse

import testdata

QUERIES = [q for q in all_queries() if q.language in ("promql", "series")]


def unknown_names(query: Query) -> list[str]:
    return sorted(name for name in analyse(substitute(query)).names if source_of(name) is None)


def dropped_by_kube_prometheus_stack(name: str, values: dict) -> str | None:
    """The drop rule of the chart's cAdvisor scrape that removes `name`, if one does."""
    for relabeling in values["kubelet"]["serviceMonitor"]["cAdvisorMetricRelabelings"]:
        if relabeling.get("action") == "drop" and relabeling.get("sourceLabels") == ["__name__"]:
            if re.fullmatch(relabeling["regex"], name):
                return relabeling["regex"]
    return None


@pytest.fixture(scope="module")
def chart_values():
    """kube-prometheus-stack's default values, at the version requirements/test-data.yml lists (`make test-data`)."""
    try:
        values = testdata.values_file("kube-prometheus-stack")
    except testdata.TestDataError as exc:
        pytest.fail(str(exc))
    if not values.exists():
        pytest.fail(f"{values} is missing: run `make test-data`")
    return yaml.safe_load(values.read_text())


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.where)
def test_every_metric_name_is_catalogued(query):
    unknown = unknown_names(query)
    assert not unknown, (
        f"{query.where} uses {unknown}, which no catalogued exporter documents: a typo, or a metric to add to "
        f"metric_catalogue.py with its upstream source and version"
    )


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.where)
def test_no_cadvisor_metric_the_chart_drops(query, chart_values):
    for name in analyse(substitute(query)).names & CADVISOR.names:
        rule = dropped_by_kube_prometheus_stack(name, chart_values)
        assert rule is None, f"{query.where}: {name} is dropped by kube-prometheus-stack 77.6.2 ({rule})"


def test_the_checks_refuse_a_typo_and_a_dropped_metric(chart_values):
    typo = Query("example", "promql", 'sum(rate(kong_http_request_total{namespace="kong"}[5m]))', {})
    assert unknown_names(typo) == ["kong_http_request_total"]
    assert dropped_by_kube_prometheus_stack("container_spec_memory_limit_bytes", chart_values) == "container_spec.*"
    assert dropped_by_kube_prometheus_stack("container_memory_working_set_bytes", chart_values) is None


def test_the_catalogue_says_where_each_name_comes_from():
    seen = {}
    for source in SOURCES:
        assert source.project and source.version and source.url and source.names, source
        for name in source.names:
            assert re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", name), name
            assert name not in seen, f"{name} is in both {seen.get(name)} and {source.project}"
            seen[name] = source.project


def test_every_exporter_is_used():
    """A catalogue entry nothing reads is a sign of a renamed metric; every source backs at least one query."""
    used = set().union(*(analyse(substitute(q)).names for q in QUERIES))
    for source in SOURCES:
        assert used & source.names, f"nothing uses {source.project}"
