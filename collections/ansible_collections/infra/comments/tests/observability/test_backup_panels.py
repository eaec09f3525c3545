"""The Database dashboard's Backups row computes what its panels say, on series shaped like the exporters' output.

The panels' own expressions (read from database.json, variables at their defaults) are evaluated by promtool's
engine (`promql_expr_test`) on input series named and labelled as CloudNativePG's pg_stat_archiver query, its
collector and the Barman Cloud plugin expose them (metric_catalogue.py says where each name was read). The alerts
on the same series are tested in rules/database.test.yml.
"""

import subprocess

import pytest
import yaml
from content import DASHBOARD_DIR, dashboard_queries, load_dashboard, substitute

SELECTOR = 'namespace="comments", cluster="comments-db", job="comments/comments-db"'
# Every 1 min for 10 min; the expressions are evaluated at 10m (600 s).
ARCHIVE_SERIES = {
    # comments-db-1 archived at 400 s and has failed every attempt since (newest at 550 s), one more each minute,
    # with 12 segments waiting; comments-db-2, a replica, archives nothing (CloudNativePG reports -1 for no time).
    f'cnpg_pg_stat_archiver_last_archived_time{{{SELECTOR}, pod="comments-db-1"}}': "60 120 180 240 300 400x5",
    f'cnpg_pg_stat_archiver_last_failed_time{{{SELECTOR}, pod="comments-db-1"}}': "-1x5 550x5",
    f'cnpg_pg_stat_archiver_failed_count{{{SELECTOR}, pod="comments-db-1"}}': "0+1x10",
    f'cnpg_collector_pg_wal_archive_status{{{SELECTOR}, pod="comments-db-1", value="ready"}}': "12x10",
    f'cnpg_collector_pg_wal_archive_status{{{SELECTOR}, pod="comments-db-1", value="done"}}': "3x10",
    f'cnpg_pg_stat_archiver_last_archived_time{{{SELECTOR}, pod="comments-db-2"}}': "-1x10",
    f'cnpg_pg_stat_archiver_last_failed_time{{{SELECTOR}, pod="comments-db-2"}}': "-1x10",
    f'cnpg_pg_stat_archiver_failed_count{{{SELECTOR}, pod="comments-db-2"}}': "0+0x10",
    f'cnpg_collector_pg_wal_archive_status{{{SELECTOR}, pod="comments-db-2", value="ready"}}': "0+0x10",
}
BACKUP_SERIES = {
    # Both instances report the newest successful backup, finished at 300 s.
    f'barman_cloud_cloudnative_pg_io_last_available_backup_timestamp{{{SELECTOR}, pod="comments-db-{n}"}}': "300x10"
    for n in (1, 2)
}
NO_BACKUP_SERIES = {
    # The plugin's 0: the object store holds no backup of the cluster.
    f'barman_cloud_cloudnative_pg_io_last_available_backup_timestamp{{{SELECTOR}, pod="comments-db-1"}}': "0+0x10",
}

# (panel title, refId) -> (input series, expected samples at 10m)
CASES = {
    "backup age": (("Last base backup age", "A"), BACKUP_SERIES, [{"labels": "{}", "value": 300}]),
    "no backup": (("Last base backup age", "A"), NO_BACKUP_SERIES, []),
    "archiving state": (
        ("WAL archiving", "A"),
        ARCHIVE_SERIES,
        [{"labels": '{pod="comments-db-1"}', "value": 1}, {"labels": '{pod="comments-db-2"}', "value": 0}],
    ),
    "failed attempts": (
        ("WAL archiver", "A"),
        ARCHIVE_SERIES,
        [{"labels": '{pod="comments-db-1"}', "value": 2}, {"labels": '{pod="comments-db-2"}', "value": 0}],
    ),
    "segments waiting": (
        ("WAL archiver", "B"),
        ARCHIVE_SERIES,
        [{"labels": '{pod="comments-db-1"}', "value": 12}, {"labels": '{pod="comments-db-2"}', "value": 0}],
    ),
}


def panel_expression(title: str, ref_id: str) -> str:
    queries = dashboard_queries("database.json", load_dashboard(DASHBOARD_DIR / "database.json"))
    (query,) = [q for q in queries if q.where.endswith(f"{title!r} target {ref_id}")]
    return substitute(query, rate_interval="2m")


def evaluate(promtool, tmp_path, expr: str, series: dict, expected: list) -> str:
    """promtool test rules with one promql_expr_test; its output, or "" when it passes."""
    test = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": name, "values": values} for name, values in series.items()],
                "promql_expr_test": [{"expr": expr, "eval_time": "10m", "exp_samples": expected}],
            }
        ],
    }
    path = tmp_path / "panel.test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run(
        [str(promtool), "test", "rules", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_backup_panel_shows_what_it_says(promtool, tmp_path, case):
    (title, ref_id), series, expected = CASES[case]
    expr = panel_expression(title, ref_id)
    assert evaluate(promtool, tmp_path, expr, series, expected) == "", expr


def test_the_panel_check_fails_on_a_wrong_value(promtool, tmp_path):
    """The check has teeth: the age panel against one second more is refused."""
    expr = panel_expression("Last base backup age", "A")
    assert "FAILED" in evaluate(promtool, tmp_path, expr, BACKUP_SERIES, [{"labels": "{}", "value": 301}])
