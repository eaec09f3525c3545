"""CommentsFlask (framework.py) keeps Flask's behaviour where it skips Flask's per-request steps."""

import pytest
from flask import Blueprint, request_started, url_for

from comments_api.framework import Headers


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
