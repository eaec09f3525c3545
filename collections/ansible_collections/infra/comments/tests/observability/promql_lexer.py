"""What a PromQL expression selects: its metric names, label matchers and range durations.

Prometheus 2.42 (Debian 12's, the one these tests run) parses and formats an expression (`/api/v1/format_query`)
but has no endpoint that returns its syntax tree (`/api/v1/parse_query` came later). So the names come from this
lexer, which knows just enough of the grammar to tell a metric name from a function, an aggregation, a keyword,
a label in `by (...)`/`on (...)`, a label matcher, a string or a duration. It is tested on its own
(test_promql_lexer.py) and, on every expression of the dashboards and rules, against the real parser: the names
found in an expression and in Prometheus's own formatting of it must agree (test_dashboards.py).
"""

import ast
import re
from dataclasses import dataclass, field

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`]*`)
  | (?P<duration>(?:\d+(?:ms|[smhdwy]))+)(?![A-Za-z0-9_])
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,(){}\[\]@:])
    """,
    re.VERBOSE,
)

# Keywords are case-insensitive in PromQL, as are aggregation names (`SUM BY (x) (y)` is valid).
_LABEL_LIST_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_KEYWORDS = _LABEL_LIST_KEYWORDS | {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
_SET_OPERATORS = frozenset({"and", "or", "unless"})
_COMPARISONS = frozenset({"==", "!=", ">", "<", ">=", "<="})
_MATCH_OPERATORS = frozenset({"=", "!=", "=~", "!~"})
_OPENING = {"(": ")", "[": "]", "{": "}"}


class PromQLSyntaxError(ValueError):
    """The expression is not PromQL this lexer (and Prometheus 2.42) understands; the message says where."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str


@dataclass
class Selector:
    """One vector selector: `name{matchers}`; name is None for `{...}` without `__name__="..."`."""

    name: str | None
    matchers: list[Matcher] = field(default_factory=list)


@dataclass
class Analysis:
    selectors: list[Selector]
    ranges: list[str]  # the durations of range selectors and subqueries, as written ("5m", "5m:1m")

    @property
    def names(self) -> set[str]:
        return {s.name for s in self.selectors if s.name is not None}


def _unquote(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    return ast.literal_eval(text)


def tokenize(expr: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if match is None:
            char = expr[position]
            hint = " (an unsubstituted dashboard variable?)" if char == "$" else ""
            raise PromQLSyntaxError(f"unexpected {char!r} at offset {position}{hint} in: {expr}")
        kind = match.lastgroup
        if kind not in ("space", "comment"):
            tokens.append(Token(kind, match.group(), match.start(), match.end()))
        position = match.end()
    _check_balance(tokens, expr)
    return tokens


def _check_balance(tokens: list[Token], expr: str) -> None:
    stack = []
    for token in tokens:
        if token.kind != "op":
            continue
        if token.text in _OPENING:
            stack.append(token.text)
        elif token.text in _OPENING.values():
            if not stack or _OPENING[stack.pop()] != token.text:
                raise PromQLSyntaxError(f"unbalanced {token.text!r} at offset {token.start} in: {expr}")
    if stack:
        raise PromQLSyntaxError(f"unclosed {stack[-1]!r} in: {expr}")


def _is(token: Token | None, text: str) -> bool:
    return token is not None and token.kind == "op" and token.text == text


def _matchers(tokens: list[Token], i: int, expr: str) -> tuple[list[Matcher], int]:
    """Matchers of the `{` at tokens[i]; returns them and the index after the closing `}`."""
    matchers, i = [], i + 1
    while not _is(tokens[i], "}"):
        label = tokens[i]
        if label.kind == "string":
            raise PromQLSyntaxError(
                f"quoted name {label.text} at offset {label.start}: UTF-8 names are Prometheus 3 syntax that "
                f"2.42 does not parse, in: {expr}"
            )
        op = tokens[i + 1] if i + 1 < len(tokens) else None
        value = tokens[i + 2] if i + 2 < len(tokens) else None
        if label.kind != "ident" or op is None or op.text not in _MATCH_OPERATORS or value is None:
            raise PromQLSyntaxError(f"bad label matcher at offset {label.start} in: {expr}")
        if value.kind != "string":
            raise PromQLSyntaxError(f"label matcher value is not a string at offset {value.start} in: {expr}")
        matchers.append(Matcher(label.text, op.text, _unquote(value.text)))
        i += 3
        if _is(tokens[i], ","):
            i += 1
        elif not _is(tokens[i], "}"):
            raise PromQLSyntaxError(f"expected ',' or '}}' at offset {tokens[i].start} in: {expr}")
    return matchers, i + 1


def _skip_group(tokens: list[Token], i: int) -> int:
    """Index after the bracket group opened at tokens[i]."""
    depth = 0
    while True:
        if tokens[i].kind == "op" and tokens[i].text in _OPENING:
            depth += 1
        elif tokens[i].kind == "op" and tokens[i].text in _OPENING.values():
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1


def analyse(expr: str) -> Analysis:
    tokens = tokenize(expr)
    selectors, ranges = [], []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if token.kind == "ident":
            word = token.text.lower()
            if word in _LABEL_LIST_KEYWORDS:
                i = _skip_group(tokens, i + 1) if _is(following, "(") else i + 1
                continue
            aggregation_modifier = (
                following is not None
                and following.kind == "ident"
                and following.text.lower()
                in (
                    "by",
                    "without",
                )
            )
            # A keyword, a function or aggregation name (`sum(`), or an aggregation with its modifier first (`sum by`).
            if word in _KEYWORDS or _is(following, "(") or aggregation_modifier:
                i += 1
                continue
            if _is(following, "{"):
                matchers, i = _matchers(tokens, i + 1, expr)
            else:
                matchers, i = [], i + 1
            selectors.append(Selector(token.text, matchers))
            continue
        if _is(token, "{"):
            matchers, i = _matchers(tokens, i, expr)
            names = [m.value for m in matchers if m.label == "__name__" and m.op == "="]
            selectors.append(Selector(names[0] if names else None, matchers))
            continue
        if _is(token, "["):
            end = _skip_group(tokens, i)
            ranges.append("".join(t.text for t in tokens[i + 1 : end - 1]))
            i = end
            continue
        i += 1
    return Analysis(selectors, ranges)


def value_parts(expr: str) -> list[str]:
    """The operands an alert compares: each top-level `and`/`or`/`unless` part, cut before its comparison.

    `max(x) < 1 or absent(y)` gives ["max(x)", "absent(y)"]: what a test evaluates to see the data an alert
    looks at, whether or not the alert fires.
    """
    tokens = tokenize(expr)
    parts, depth, part_start, cut = [], 0, 0, None
    for token in tokens:
        if token.kind == "op" and token.text in _OPENING:
            depth += 1
        elif token.kind == "op" and token.text in _OPENING.values():
            depth -= 1
        elif depth == 0 and token.kind == "ident" and token.text.lower() in _SET_OPERATORS:
            parts.append(expr[part_start : cut if cut is not None else token.start].strip())
            part_start, cut = token.end, None
        elif depth == 0 and token.kind == "op" and token.text in _COMPARISONS and cut is None:
            cut = token.start
    parts.append(expr[part_start : cut if cut is not None else len(expr)].strip())
    return parts


_DURATION_PART = re.compile(r"(\d+)(ms|[smhdwy])")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def duration_seconds(text: str) -> float:
    """`1h30m` -> 5400.0; a ValueError for anything that is not a PromQL duration."""
    if not re.fullmatch(r"(?:\d+(?:ms|[smhdwy]))+", text):
        raise ValueError(f"not a PromQL duration: {text!r}")
    return sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))
