"""The observability content under test: the dashboards and rule files the role ships, and every query in them."""

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

COLLECTION = Path(__file__).resolve().parents[2]
FILES = COLLECTION / "roles" / "observability" / "files"
DASHBOARD_DIR = FILES / "dashboards"
RULES_DIR = FILES / "rules"
RULE_TESTS_DIR = Path(__file__).resolve().parent / "rules"

# The three dashboards the issue asks for, with the uid each keeps (links and bookmarks use it).
DASHBOARD_UIDS = {
    "comments-api.json": "comments-api",
    "gateway.json": "comments-gateway",
    "database.json": "comments-database",
}
# Grafana 12.1 (kube-prometheus-stack 77.6.2's grafana chart 9.4.5) writes dashboards with this schema version.
GRAFANA_SCHEMA_VERSION = 41


@dataclass(frozen=True)
class Query:
    """One query of the content: where it is, its language, and its text as written."""

    where: str  # "comments-api.json: panel 3 'Error ratio' target B", "database.rules.yml: alert X"
    language: str  # "promql", "logql" or "series" (a variable's label_values() selector)
    text: str
    variables: dict  # the dashboard's variables with the value each takes in the tests (empty for rules)


def _no_duplicate_keys(pairs):
    keys = [key for key, _value in pairs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"duplicate keys {duplicates}")
    return dict(pairs)


def load_dashboard(path: Path) -> dict:
    """The dashboard's JSON; duplicate keys (which json.loads would silently merge) are an error."""
    return json.loads(path.read_text(), object_pairs_hook=_no_duplicate_keys)


def dashboards() -> dict[str, dict]:
    return {path.name: load_dashboard(path) for path in sorted(DASHBOARD_DIR.glob("*.json"))}


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.rules.yml"))


def rule_test_files() -> list[Path]:
    return sorted(RULE_TESTS_DIR.glob("*.test.yml"))


def rules(path: Path) -> list[dict]:
    return [rule for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]


def alerts() -> dict[str, tuple[Path, dict]]:
    found = {}
    for path in rule_files():
        for rule in rules(path):
            if "alert" in rule:
                if rule["alert"] in found:
                    raise ValueError(
                        f"alert {rule['alert']} is defined in {found[rule['alert']][0].name} and {path.name}"
                    )
                found[rule["alert"]] = (path, rule)
    return found


def all_panels(dashboard: dict) -> list[dict]:
    """Every panel, those inside collapsed rows too."""
    found = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def variable_values(dashboard: dict) -> dict[str, str]:
    """What each variable stands for in the tests: its default (the All value for a multi-value "All")."""
    values = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable["type"] in ("query", "custom", "constant", "textbox"):
            current = variable.get("current", {}).get("value")
            if isinstance(current, list):
                current = current[0] if current else ""
            if current == "$__all":
                current = variable.get("allValue") or ".+"
            if current is None:
                current = variable.get("query", "")
            values[variable["name"]] = current
    return values


def variable_query(variable: dict) -> str:
    query = variable.get("query", "")
    return query.get("query", "") if isinstance(query, dict) else query


_LABEL_VALUES = re.compile(r"^label_values\((?:(?P<selector>.+),\s*)?(?P<label>[A-Za-z_][A-Za-z0-9_]*)\)$")


def label_values_parts(query: str) -> tuple[str | None, str]:
    """`label_values(up{job="x"}, namespace)` -> ('up{job="x"}', "namespace")."""
    match = _LABEL_VALUES.match(query.strip())
    if match is None:
        raise ValueError(f"not a label_values(selector, label) query: {query!r}")
    return match.group("selector"), match.group("label")


def dashboard_queries(name: str, dashboard: dict) -> list[Query]:
    values = variable_values(dashboard)
    queries = []
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            if "expr" not in target:
                continue
            datasource = target.get("datasource") or panel.get("datasource") or {}
            language = {"prometheus": "promql", "loki": "logql"}.get(datasource.get("type"), datasource.get("type"))
            where = f"{name}: panel {panel['id']} {panel.get('title')!r} target {target.get('refId')}"
            queries.append(Query(where, language, target["expr"], values))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable["type"] == "query":
            selector, _label = label_values_parts(variable_query(variable))
            if selector:
                queries.append(Query(f"{name}: variable {variable['name']}", "series", selector, values))
    return queries


def rule_queries() -> list[Query]:
    return [
        Query(
            f"{path.name}: {'alert ' + rule['alert'] if 'alert' in rule else 'record ' + rule['record']}",
            "promql",
            rule["expr"],
            {},
        )
        for path in rule_files()
        for rule in rules(path)
    ]


def all_queries() -> list[Query]:
    queries = rule_queries()
    for name, dashboard in dashboards().items():
        queries.extend(dashboard_queries(name, dashboard))
    return queries


def substitute(query: Query, rate_interval: str = "1m") -> str:
    """The query as Grafana sends it: its variables replaced by their test values, $__rate_interval by a window."""
    builtins = {"__rate_interval": rate_interval, "__interval": "15s", "__range": "1h"}
    values = {**builtins, **query.variables}

    def replace(match: re.Match) -> str:
        name = match.group("braced") or match.group("plain") or match.group("old")
        if name not in values:
            return match.group(0)  # left for the lexer, which names it as an unsubstituted variable
        return values[name]

    pattern = r"\$\{(?P<braced>[A-Za-z0-9_]+)(?::[a-z]+)?\}|\$(?P<plain>[A-Za-z0-9_]+)|\[\[(?P<old>[A-Za-z0-9_]+)\]\]"
    return re.sub(pattern, replace, query.text)
