"""The alert rules: promtool accepts every file, its unit tests pass, and they would catch a broken alert.

`promtool test rules` (tests/observability/rules/*.test.yml) shows each alert firing when it should and quiet when
it should not; this module also makes sure every alert has both kinds of case, and that each case has teeth: the
firing cases fail against an alert that never fires, the quiet ones against the same alert without its threshold.
"""

import subprocess

import pytest
import yaml
from content import RULE_TESTS_DIR, alerts, rule_files, rule_test_files, rules
from promql_lexer import analyse, duration_seconds, value_parts

SEVERITIES = {"critical", "warning"}
REQUIRED_ANNOTATIONS = ("summary", "description", "runbook")
# kube-prometheus-stack scrapes every 30 s by default; a rate window holds at least 4 scrapes (fewer samples are
# left in a window on Prometheus 3, whose ranges are left-open).
MIN_RANGE_SECONDS = 120


def run_promtool(promtool, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(promtool), *map(str, args)], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("path", rule_files(), ids=lambda p: p.name)
def test_promtool_check_rules(promtool, path):
    result = run_promtool(promtool, "check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules(path))} rules found" in result.stdout


@pytest.mark.parametrize("path", rule_test_files(), ids=lambda p: p.name)
def test_promtool_test_rules(promtool, path):
    result = run_promtool(promtool, "test", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def cases(test_files) -> dict[str, dict[str, int]]:
    """For each alert name, how many `firing` (exp_alerts given) and `quiet` (exp_alerts empty) cases test it."""
    found = {}
    for path in test_files:
        for group in yaml.safe_load(path.read_text())["tests"]:
            for case in group.get("alert_rule_test", []):
                kind = "firing" if case.get("exp_alerts") else "quiet"
                counts = found.setdefault(case["alertname"], {"firing": 0, "quiet": 0})
                counts[kind] += 1
    return found


def untested(alert_names, test_files) -> list[str]:
    """Alerts lacking a firing or a quiet case, as "Name: no firing case" lines."""
    found = cases(test_files)
    missing = []
    for name in sorted(alert_names):
        for kind in ("firing", "quiet"):
            if not found.get(name, {}).get(kind):
                missing.append(f"{name}: no {kind} case")
    return missing


def test_every_alert_fires_and_stays_quiet_in_a_unit_test():
    assert alerts(), "no alert found in roles/observability/files/rules"
    assert untested(alerts(), rule_test_files()) == []


def test_the_coverage_check_sees_an_alert_without_tests(tmp_path):
    only_firing = tmp_path / "only-firing.test.yml"
    only_firing.write_text(
        yaml.safe_dump({"tests": [{"alert_rule_test": [{"alertname": "A", "eval_time": "1m", "exp_alerts": [{}]}]}]})
    )
    assert untested({"A", "B"}, [only_firing]) == ["A: no quiet case", "B: no firing case", "B: no quiet case"]


def test_series_values_stay_promtool_notation_when_reloaded():
    """`values: 0x5` is the YAML number 5 to any YAML reader (the mutation runs below reload the files): `0+0x5`."""
    for path in rule_test_files():
        for group in yaml.safe_load(path.read_text())["tests"]:
            for series in group.get("input_series", []):
                assert isinstance(series["values"], str), f"{path.name}: {series['series']} values {series['values']!r}"


def test_every_test_file_loads_rule_files_that_exist_and_every_rule_file_is_tested():
    tested = set()
    for path in rule_test_files():
        for rule_file in yaml.safe_load(path.read_text())["rule_files"]:
            resolved = (path.parent / rule_file).resolve()
            assert resolved.exists(), f"{path.name}: rule file {rule_file} does not exist"
            tested.add(resolved)
    assert {p.resolve() for p in rule_files()} <= tested


@pytest.mark.parametrize("name", sorted(alerts()))
def test_alert_says_what_and_what_to_do(name):
    path, rule = alerts()[name]
    assert rule.get("labels", {}).get("severity") in SEVERITIES, f"{path.name}: {name} needs a severity label"
    for key in REQUIRED_ANNOTATIONS:
        assert str(rule.get("annotations", {}).get(key, "")).strip(), f"{path.name}: {name} has no {key} annotation"
    # keep_firing_for exists from 2.42 on but not in every tool reading these rules; nothing here needs it.
    assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, f"{path.name}: {name}: {sorted(rule)}"


@pytest.mark.parametrize("path", rule_files(), ids=lambda p: p.name)
def test_rule_expressions_suit_prometheus_2_and_3(path):
    for rule in rules(path):
        analysis = analyse(rule["expr"])  # also refuses Prometheus 3-only quoted names
        for selector in analysis.selectors:
            for matcher in selector.matchers:
                # Prometheus 3 normalises le and quantile values of classic histograms on ingestion ("1" -> "1.0").
                assert matcher.label not in ("le", "quantile"), f"{path.name}: a matcher on {matcher.label}"
        for window in analysis.ranges:
            seconds = duration_seconds(window.split(":")[0])
            assert seconds >= MIN_RANGE_SECONDS, f"{path.name}: range [{window}] is under {MIN_RANGE_SECONDS}s"


# -- the unit tests have teeth --------------------------------------------------------------------------------
def _mutated_run(promtool, tmp_path, alert_name, expr, kind) -> subprocess.CompletedProcess:
    """promtool test rules on `alert_name`'s `kind` cases only, against its rule file with `expr` in its place."""
    path, _rule = alerts()[alert_name]
    document = yaml.safe_load(path.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert_name:
                rule["expr"] = expr
    mutated_rules = tmp_path / path.name
    mutated_rules.write_text(yaml.safe_dump(document, sort_keys=False))
    groups = []
    for test_path in rule_test_files():
        test_document = yaml.safe_load(test_path.read_text())
        if (RULE_TESTS_DIR / test_document["rule_files"][0]).resolve() != path.resolve():
            continue
        for group in test_document["tests"]:
            selected = [
                case
                for case in group.get("alert_rule_test", [])
                if case["alertname"] == alert_name and bool(case.get("exp_alerts")) == (kind == "firing")
            ]
            if selected:
                groups.append(
                    {**{k: v for k, v in group.items() if k != "promql_expr_test"}, "alert_rule_test": selected}
                )
    assert groups, f"no {kind} case for {alert_name}"
    test_file = tmp_path / f"{alert_name}-{kind}.test.yml"
    test_file.write_text(
        yaml.safe_dump(
            {"rule_files": [str(mutated_rules)], "evaluation_interval": "1m", "tests": groups}, sort_keys=False
        )
    )
    return run_promtool(promtool, "test", "rules", test_file)


@pytest.mark.parametrize("name", sorted(alerts()))
def test_firing_cases_fail_against_an_alert_that_never_fires(promtool, tmp_path, name):
    result = _mutated_run(promtool, tmp_path, name, "vector(1) < 0", "firing")
    assert result.returncode != 0, f"{name}'s firing cases pass even when the alert never fires:\n{result.stdout}"


@pytest.mark.parametrize("name", sorted(alerts()))
def test_quiet_cases_fail_against_the_alert_without_its_threshold(promtool, tmp_path, name):
    _path, rule = alerts()[name]
    unthresholded = " or ".join(f"({part})" for part in value_parts(rule["expr"]))
    result = _mutated_run(promtool, tmp_path, name, unthresholded, "quiet")
    assert result.returncode != 0, f"{name}'s quiet cases pass even when it fires on any data:\n{result.stdout}"


@pytest.mark.parametrize("kind", ["firing", "quiet"])
@pytest.mark.parametrize("name", sorted(alerts()))
def test_the_selected_cases_pass_with_the_alert_as_written(promtool, tmp_path, name, kind):
    """The two tests above fail for the mutation, not because the cut-down test files are broken."""
    _path, rule = alerts()[name]
    result = _mutated_run(promtool, tmp_path, name, rule["expr"], kind)
    assert result.returncode == 0, result.stdout + result.stderr
