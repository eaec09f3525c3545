"""The lexer the metric-name checks rely on, on the constructs that could fool it."""

import pytest
from promql_lexer import Matcher, PromQLSyntaxError, analyse, duration_seconds, value_parts


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (route, status) (rate(http_requests_total{job="a", status=~"5.."}[5m]))', {"http_requests_total"}),
        ("histogram_quantile(0.99, sum by (le) (rate(d_bucket[5m]))) > 0.5", {"d_bucket"}),
        ("a / on (pod) group_left (node) b", {"a", "b"}),
        ("a * on() group_right b", {"a", "b"}),
        ("sum(rate(x[5m])) without (instance, job)", {"x"}),
        ('{__name__="foo", job="a"}', {"foo"}),
        ("x offset 5m", {"x"}),
        ("x offset -1h30m", {"x"}),
        ("x @ 1609746000", {"x"}),
        ("x @ start()", {"x"}),
        ("max_over_time(x[10m:1m])", {"x"}),
        ('label_replace(up, "dst", "$1", "src", "(.*)")', {"up"}),
        ("SUM BY (x) (y) OR Z", {"y", "Z"}),
        ('count_values("code", x) and topk(3, y) unless vector(0)', {"x", "y"}),
        ("time() - z > bool 1", {"z"}),
        ("# a comment naming not_a_metric\nfoo", {"foo"}),
        ('x{a="b}c", d=~`e{f`}', {"x"}),
        ("1 + 2 * -3 ^ 2 % 5", set()),
        ("nan != Inf", set()),
        ("job:http_requests:rate5m > 0", {"job:http_requests:rate5m"}),
        ("a atan2 b", {"a", "b"}),
        ("absent(up{job='x'})", {"up"}),
        ('sum by (le) (x{le="0.5"})', {"x"}),
    ],
)
def test_metric_names(expr, names):
    assert analyse(expr).names == names


def test_matchers_and_ranges():
    result = analyse('rate(a{job="x", code!~"5.."}[5m]) + max_over_time(b[1h:30s]) + c{d="e\\"f"}')
    assert [s.name for s in result.selectors] == ["a", "b", "c"]
    assert result.selectors[0].matchers == [Matcher("job", "=", "x"), Matcher("code", "!~", "5..")]
    assert result.selectors[2].matchers == [Matcher("d", "=", 'e"f')]
    assert result.ranges == ["5m", "1h:30s"]


def test_nameless_selector_is_kept_without_a_name():
    result = analyse('count({job="x"})')
    assert result.names == set()
    assert [s.name for s in result.selectors] == [None]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ('rate(x{job="$namespace"}[$__rate_interval])', "unsubstituted dashboard variable"),
        ('{"utf8.metric"}', "Prometheus 3 syntax"),
        ('x{"dotted.label"="a"}', "Prometheus 3 syntax"),
        ("rate(x[5m]", "unclosed"),
        ("x)", "unbalanced"),
        ("x{job=5}", "not a string"),
        ('x{job="a" env="b"}', "expected ','"),
    ],
)
def test_refuses(expr, message):
    with pytest.raises(PromQLSyntaxError, match=message):
        analyse(expr)


@pytest.mark.parametrize(
    ("expr", "parts"),
    [
        ("max by (a) (x) < 1 or absent(x)", ["max by (a) (x)", "absent(x)"]),
        (
            "histogram_quantile(0.99, sum by (le) (rate(x[5m]))) > 0.5",
            ["histogram_quantile(0.99, sum by (le) (rate(x[5m])))"],
        ),
        (
            'sum(rate(x{code=~"5.."}[5m])) / sum(rate(x[5m])) > 0.05',
            ['sum(rate(x{code=~"5.."}[5m])) / sum(rate(x[5m]))'],
        ),
        ("x", ["x"]),
        ("a > bool 1", ["a"]),
        ("(a > 1) or b == 0", ["(a > 1)", "b"]),
    ],
)
def test_value_parts(expr, parts):
    assert value_parts(expr) == parts


def test_durations():
    assert duration_seconds("1h30m") == 5400
    assert duration_seconds("90s") == 90
    assert duration_seconds("250ms") == 0.25
    with pytest.raises(ValueError, match="not a PromQL duration"):
        duration_seconds("5 m")
