"""CommentsFlask (framework.py) keeps Flask's behaviour where it skips Flask's per-request steps."""

import json
from http import HTTPStatus
from unittest import mock

import orjson
import pytest
from flask import Blueprint, Flask, request_started, url_for
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.wrappers import Response as WerkzeugResponse

from comments_api import framework
from comments_api.framework import Headers, JSONProvider


def test_each_host_gets_its_own_urls_and_redirects_after_the_adapter_is_reused(app):
    app.add_url_rule("/echo/", "echo", lambda: url_for("echo", _external=True))
    client = app.test_client()
    for host in [f"h{n}.example" for n in range(70)] * 2:  # past the 64 remembered hosts, then again
        assert client.get("/echo/", headers={"Host": host}).text == f"http://{host}/echo/"
        redirect = client.get("/echo?x=1", headers={"Host": host})
        assert (redirect.status_code, redirect.headers["Location"]) == (308, f"http://{host}/echo/?x=1")


def test_trusted_hosts_still_refuse_other_hosts(app):
    app.config["TRUSTED_HOSTS"] = ["good.example"]
    client = app.test_client()
    assert client.get("/healthz", headers={"Host": "good.example"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400


def test_hooks_run_in_flasks_order_and_signals_reach_their_receivers(app):
    calls = []
    bp = Blueprint("extra", __name__)
    bp.before_request(lambda: calls.append("bp before"))
    bp.after_request(lambda r: calls.append("bp after") or r)
    bp.teardown_request(lambda e: calls.append("bp teardown"))
    bp.add_url_rule("/extra", "extra", lambda: calls.append("view") or "ok")
    app.before_request(lambda: calls.append("app before"))
    app.after_request(lambda r: calls.append("app after") or r)
    app.register_blueprint(bp)

    def started(sender, **extra):
        calls.append("started")

    with request_started.connected_to(started, app):
        assert app.test_client().get("/extra").text == "ok"
    assert calls[calls.index("started") :] == [
        "started", "app before", "bp before", "view", "bp after", "app after", "bp teardown",
    ]  # fmt: skip
    calls.clear()
    app.test_client().get("/healthz")
    assert calls == ["app before", "app after"]
    with pytest.raises(AssertionError, match="already handled its first request"):
        app.before_request(lambda: None)


def test_headers_keep_werkzeugs_rules():
    headers = Headers()
    headers["Content-Type"] = "text/plain"
    headers["content-type"] = "application/json"  # replaces, whatever the case
    headers["Content-Length"] = 3  # not a str: Werkzeug's way
    assert headers.to_wsgi_list() == [("content-type", "application/json"), ("Content-Length", "3")]
    with pytest.raises(ValueError, match="newline"):
        headers["X-Request-ID"] = "a\nInjected: yes"


# -- JSON through orjson: the bytes and values json gives -------------------------------------
_plain = st.one_of(
    st.text(),
    st.integers(min_value=-(2**70), max_value=2**70),  # past 64 bits too: orjson refuses, json writes
    st.booleans(),
    st.none(),
)
_any = st.recursive(
    _plain | st.floats(allow_nan=True), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)
)


@given(st.dictionaries(st.text(), _plain) | st.dictionaries(st.text(), _any))
@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example({"status": "SUCCESS", "id": 5, "content_id": "2"})
@example({"k": "a\x7fb"})  # DEL: json escapes it, orjson does not
@example({"k": "\ud800"})  # a lone surrogate: orjson refuses
@example({"n": 2**64})
@example({"f": 1e16})  # 1e+16 against orjson's 1e16
def test_json_answers_are_json_dumps_bytes(app, obj):
    with app.app_context():
        body = app.json.response(obj).get_data()
    assert body == (json.dumps(obj, separators=(",", ":")) + "\n").encode()


def _text_of(value) -> str:
    """A JSON text with the value's numbers as written (floats and huge ints kept apart from ints)."""
    return json.dumps(value)


@given(
    st.one_of(
        st.dictionaries(st.text(), _plain).map(_text_of),
        st.dictionaries(st.text(), _any).map(_text_of),
        _any.map(_text_of),
        st.text(max_size=40),  # mostly not JSON: the error must be json's, word for word
        st.sampled_from(
            [
                '{"a": 1, "a": 2, "b": 3}',  # duplicate keys: the last one, in the first one's place
                '{"n": 18446744073709551616}',  # 2**64: orjson reads a float
                '{"n": -9223372036854775809}',  # below int64: orjson reads a float
                '{"n": 1.0}',
                '{"n": NaN}',
                '\ufeff{"a": 1}',
                '{"s": "\\ud800"}',
                '{"s": "\\u0000"}',
                '{"a": 1,}',
                '{"s": "a\x01"}',
                " \t\n{}\r\n",
                "",
            ]
        ),
    )
)
@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_json_bodies_read_as_json_loads_reads_them(app, text):
    for raw in (text.encode("utf-8", "surrogatepass"), text):
        try:
            expected = ("ok", repr(json.loads(raw)))
        except (ValueError, RecursionError) as exc:
            expected = ("error", type(exc).__name__, str(exc))
        try:
            got = ("ok", repr(app.json.loads(raw)))
        except (ValueError, RecursionError) as exc:
            got = ("error", type(exc).__name__, str(exc))
        assert got == expected


def test_json_bodies_in_other_encodings_and_depths_are_json_loads_own():
    provider = JSONProvider(Flask(__name__))
    assert provider.loads('{"a": 1}'.encode("utf-16")) == {"a": 1}
    assert provider.loads(b"\xef\xbb\xbf" + b'{"a": 1}') == {"a": 1}
    with pytest.raises(RecursionError):
        provider.loads(b"[" * 100000 + b"]" * 100000)


def test_orjson_does_the_plain_work_and_json_the_rest(app):
    """The properties above hold whichever library ran; this checks which one did."""
    with (
        mock.patch.object(framework.orjson, "dumps", wraps=orjson.dumps) as dumps,
        mock.patch.object(framework.orjson, "loads", wraps=orjson.loads) as loads,
        app.app_context(),
    ):
        app.json.response(status="OK", id=1)
        assert app.json.loads(b'{"a": "b", "n": 1}') == {"a": "b", "n": 1}
        assert (dumps.call_count, loads.call_count) == (1, 1)
        app.json.response(status="OK", nested={"a": 1})  # not flat: json.dumps
        app.json.response(status="\u00e9")  # written by orjson, not ASCII: json.dumps' bytes instead
        assert app.json.loads(b'{"n": 1.5}') == {"n": 1.5}  # a float: json.loads
        assert (dumps.call_count, loads.call_count) == (2, 2)


# -- status lines, Content-Type, routing: Werkzeug's answers, remembered -----------------------
def test_status_lines_are_werkzeugs(app):
    for status in (200, 404, 299, 999, "201 CREATED", "299 Custom Reason", HTTPStatus.ACCEPTED):
        ours, theirs = app.response_class(status=status), WerkzeugResponse(status=status)
        assert (ours.status, ours.status_code) == (theirs.status, theirs.status_code)
        ours.status_code = 418  # the setter Flask's error handlers use
        assert ours.status == "418 I'M A TEAPOT"
    assert app.response_class._status_lines[404] == ("404 NOT FOUND", 404)  # the memo is Werkzeug's hook


def test_content_types_are_parsed_as_werkzeug_parses_them_and_params_are_per_request(app):
    client = app.test_client()
    body = {"email": "a@example.com", "comment": "hi", "content_id": 1}
    for content_type, status in [
        ("application/json", 200),
        ("application/json; charset=utf-8", 200),
        ("Application/JSON", 200),
        ("application/vnd.api+json", 200),
        ("text/plain", 415),
        ("application/jsonx", 415),
    ] * 2:  # the second time from the memo
        answer = client.post("/api/comment/new", data=json.dumps(body), headers={"Content-Type": content_type})
        assert answer.status_code == status, (content_type, answer.text)
    environ = {"CONTENT_TYPE": "application/json; charset=utf-8", "REQUEST_METHOD": "POST"}
    first = app.request_class(environ)
    first.mimetype_params["charset"] = "changed"
    second = app.request_class(environ)
    assert (second.mimetype, second.mimetype_params) == ("application/json", {"charset": "utf-8"})


def test_paths_without_variables_match_from_the_memo_and_everything_else_as_before(app):
    client = app.test_client()
    body = json.dumps({"email": "a@example.com", "comment": "hi", "content_id": 7})
    for _ in range(3):  # the first request binds, the second fills the memo, the third reads it
        assert client.post("/api/comment/new?x=1", data=body, content_type="application/json").status_code == 200
        assert client.get("/healthz").status_code == 200
        assert client.head("/healthz").status_code == 200
        assert client.get("/api/comment/new").status_code == 405
        assert client.get("/healthz/").status_code == 404
        assert client.get("/api/comment/list/7").status_code == 200
        assert client.get("/apidocs/").status_code == 200
        assert client.get("/apidocs").status_code == 200
    paths = {key[2] for key in app._static_matches}
    assert {"/api/comment/new", "/healthz", "/apidocs", "/apidocs/"} <= paths
    assert not any("/list/" in path for path in paths)  # a path with a variable is never remembered
