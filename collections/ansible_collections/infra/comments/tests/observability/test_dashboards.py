"""The dashboards: each parses, keeps its uid, has unique panel ids and names its datasources by variable or uid;
every PromQL expression parses in a real Prometheus; the logs panel selects the app's lines by request id."""

import re

import pytest
from content import (
    DASHBOARD_DIR,
    DASHBOARD_UIDS,
    GRAFANA_SCHEMA_VERSION,
    all_panels,
    dashboard_queries,
    dashboards,
    label_values_parts,
    load_dashboard,
    substitute,
    variable_query,
)
from promql_lexer import analyse, duration_seconds, tokenize

# The panels the issue lists, by dashboard (a panel may show more than one of them).
REQUIRED_PANELS = {
    "comments-api.json": [
        "Requests/s by route and status",
        "Error ratio",
        "Latency p50 / p95 / p99 (API routes)",
        "Comments created/s",
        "Ready replicas and HPA",
        "Pod CPU against its limit",
        "Pod memory against its limit",
        "Restarts (last hour)",
        "Request logs (filter: request id)",
    ],
    "gateway.json": [
        "Requests/s by service and status code",
        "Kong latency against upstream latency (p95)",
        "Bandwidth",
        "Connections",
    ],
    "database.json": [
        "Instances up",
        "Primary and replicas",
        "Connections",
        "Transactions/s",
        "Replication lag",
        "Database size",
        "Last base backup age",
        "WAL archiving",
    ],
}
# Grafana computes $__rate_interval as at least four scrape intervals; any other window is at least that long.
MIN_FIXED_RANGE_SECONDS = 120

DASHBOARDS = dashboards()
NAMES = sorted(DASHBOARDS)
QUERIES = [query for name in NAMES for query in dashboard_queries(name, DASHBOARDS[name])]
PROMQL = [q for q in QUERIES if q.language in ("promql", "series")]
LOGQL = [q for q in QUERIES if q.language == "logql"]


def test_the_three_dashboards_are_there():
    assert NAMES == sorted(DASHBOARD_UIDS)


def test_duplicate_keys_are_refused(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('{"uid": "a", "uid": "b"}')
    with pytest.raises(ValueError, match=r"duplicate keys \['uid'\]"):
        load_dashboard(path)


@pytest.mark.parametrize("name", NAMES)
def test_dashboard_identity(name):
    dashboard = DASHBOARDS[name]
    assert dashboard["uid"] == DASHBOARD_UIDS[name], "a dashboard keeps its uid: links and bookmarks use it"
    assert len(dashboard["uid"]) <= 40 and re.fullmatch(r"[A-Za-z0-9_-]+", dashboard["uid"])
    assert dashboard.get("id") is None, "a provisioned dashboard has no numeric id (Grafana gives one)"
    assert dashboard["schemaVersion"] == GRAFANA_SCHEMA_VERSION
    assert dashboard["title"].strip()


@pytest.mark.parametrize("name", NAMES)
def test_panel_ids_are_unique_and_panels_are_placed(name):
    panels = all_panels(DASHBOARDS[name])
    ids = [panel.get("id") for panel in panels]
    assert all(isinstance(i, int) and not isinstance(i, bool) for i in ids), ids
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {sorted(i for i in ids if ids.count(i) > 1)}"
    for panel in panels:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, (panel["title"], grid)


@pytest.mark.parametrize("name", NAMES)
def test_panels_the_issue_lists(name):
    titles = [panel["title"] for panel in all_panels(DASHBOARDS[name])]
    missing = [title for title in REQUIRED_PANELS[name] if title not in titles]
    assert not missing, f"{name} lacks {missing}"
    for panel in all_panels(DASHBOARDS[name]):
        if panel["type"] != "row":
            assert panel.get("targets"), f"{name}: panel {panel['title']!r} has no query"
            assert panel.get("description", "").strip(), f"{name}: panel {panel['title']!r} has no description"


def datasource_refs(node, path="$"):
    """Every `datasource` value in the dashboard, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield path, value
            yield from datasource_refs(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from datasource_refs(value, f"{path}[{index}]")


def datasource_problems(dashboard: dict) -> list[str]:
    variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
    problems = []
    for path, ref in datasource_refs(dashboard):
        if not isinstance(ref, dict) or not isinstance(ref.get("uid"), str) or not ref["uid"]:
            problems.append(f"{path}: {ref!r} is not a {{type, uid}} reference")
            continue
        if set(ref) - {"type", "uid"}:
            problems.append(f"{path}: {ref!r} carries more than type and uid (a numeric id?)")
        variable = re.fullmatch(r"\$\{(\w+)\}|\$(\w+)", ref["uid"])
        if variable:
            name = variable.group(1) or variable.group(2)
            target = variables.get(name)
            if target is None or target["type"] != "datasource":
                problems.append(f"{path}: {ref['uid']} is not a datasource variable of the dashboard")
            elif ref.get("type") != target["query"]:
                problems.append(f"{path}: type {ref.get('type')!r} but ${name} selects {target['query']!r}")
        elif ref["uid"].isdigit():
            problems.append(f"{path}: numeric uid {ref['uid']!r}")
    text_ids = [key for key in ("datasourceId", "datasourceUid") if key in str(dashboard)]
    problems.extend(f"legacy key {key}" for key in text_ids)
    return problems


@pytest.mark.parametrize("name", NAMES)
def test_datasources_by_variable_or_uid(name):
    dashboard = DASHBOARDS[name]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    if any(panel["type"] == "logs" for panel in all_panels(dashboard)):
        assert variables["loki"]["type"] == "datasource" and variables["loki"]["query"] == "loki"
    assert datasource_problems(dashboard) == []


def test_the_datasource_check_refuses_names_ids_and_unknown_variables():
    dashboard = {
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus"}]},
        "panels": [
            {"datasource": "Prometheus"},
            {"datasource": {"type": "prometheus", "uid": "${nope}"}},
            {"datasource": {"type": "loki", "uid": "${datasource}"}},
            {"datasource": {"type": "prometheus", "uid": "12"}},
            {"datasource": {"type": "prometheus", "uid": "P1", "id": 3}},
            {"datasource": {"type": "prometheus", "uid": "${datasource}"}},
        ],
    }
    problems = datasource_problems(dashboard)
    assert len(problems) == 5, problems


@pytest.mark.parametrize("name", NAMES)
def test_variables(name):
    for variable in DASHBOARDS[name]["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, variable["name"]
            label_values_parts(variable_query(variable))  # a label_values(selector, label) query


@pytest.mark.parametrize("query", PROMQL, ids=lambda q: q.where)
def test_promql_parses_in_prometheus(parser, query):
    expr = substitute(query)
    formatted = parser.format_query(expr)
    # The lexer that the metric-name checks rely on sees the same names as Prometheus's own parse.
    assert analyse(expr).names == analyse(formatted).names, formatted
    assert analyse(expr).names, f"{query.where}: selects no metric"


@pytest.mark.parametrize("query", PROMQL, ids=lambda q: q.where)
def test_promql_windows(query):
    raw = analyse(substitute(query, rate_interval="4242s")).ranges
    for window in raw:
        if window != "4242s":
            assert duration_seconds(window.split(":")[0]) >= MIN_FIXED_RANGE_SECONDS, f"{query.where}: [{window}]"


def test_a_broken_expression_is_refused_by_prometheus(parser):
    with pytest.raises(AssertionError, match="parse error"):
        parser.format_query("sum(rate(http_requests_total[5m])")


def stream_selector(expr: str) -> dict[str, tuple[str, str]]:
    """The `{...}` stream selector that starts a LogQL query, as {label: (operator, value)}."""
    tokens = tokenize(expr.split("|", 1)[0])
    analysis = analyse("x" + "".join(t.text for t in tokens))
    return {m.label: (m.op, m.value) for m in analysis.selectors[0].matchers}


@pytest.mark.parametrize("query", LOGQL, ids=lambda q: q.where)
def test_logs_select_the_app_by_request_id(query):
    expr = substitute(query)
    selector = stream_selector(expr)
    assert selector.get("namespace") == ("=", "comments"), selector
    assert selector.get("container") == ("=", "comments-api"), selector
    pipeline = [stage.strip() for stage in expr.split("|")[1:]]
    assert "json" in pipeline, "the app writes JSON lines: `| json` makes request_id a field"
    assert any(
        re.fullmatch(r'request_id\s*=~\s*"\$request_id"', stage.strip()) for stage in query.text.split("|")[1:]
    ), "the logs panel filters on the request id variable"


def test_comments_api_has_a_logs_panel():
    assert [q.where for q in LOGQL if q.where.startswith("comments-api.json")]


def test_dashboard_files_are_json_only():
    assert sorted(p.name for p in DASHBOARD_DIR.iterdir()) == NAMES
