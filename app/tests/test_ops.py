"""Operations endpoints and logs: health, readiness, metrics, OpenAPI, Swagger UI, JSON request logs."""

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor

import requests

from comments_api import create_app
from comments_api.config import Settings
from comments_harness import free_port, wait_until


def test_app_starts_with_the_database_down_alive_but_not_ready():
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    client = create_app(Settings.from_env({"DATABASE_URL": unreachable, "DB_CONNECT_TIMEOUT": "1"})).test_client()

    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz").json == {"status": "OK"}
    assert client.get("/readyz").status_code == 503
    post = client.post("/api/comment/new", json={"email": "a@example.com", "comment": "hi", "content_id": 1})
    assert post.status_code == 503
    assert post.json == {"status": "ERROR", "message": "database unavailable, try again later"}


def test_readyz_is_200_when_the_database_answers(server):
    response = requests.get(server.url("/readyz"), timeout=5)

    assert response.status_code == 200
    assert response.json()["status"] == "OK"


def metric_value(text: str, name: str, **labels) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        sample, value = line.rsplit(" ", 1)
        match = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})?", sample)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return 0.0


def test_metrics_add_up_over_several_workers(start_server, tmp_path):
    # sync workers take one connection at a time, so concurrent clients are spread over all three.
    server = start_server({"DATA_DIR": str(tmp_path), "WORKER_CLASS": "sync", "THREADS": "1"}, workers=3)

    def post(i):
        body = {"email": "a@example.com", "comment": f"#{i}", "content_id": 7}
        return requests.post(server.url("/api/comment/new"), json=body, timeout=10).status_code

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(post, range(30))) == [200] * 30
    for _ in range(5):
        requests.get(server.url("/api/comment/list/7"), timeout=5)
    requests.get(server.url("/api/comment/list/nothing-here"), timeout=5)

    response = requests.get(server.url("/metrics"), timeout=5)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = response.text
    assert metric_value(text, "comments_created_total") == 30
    assert metric_value(text, "http_requests_total", route="/api/comment/new", method="POST", status="200") == 30
    assert (
        metric_value(
            text,
            "http_request_duration_seconds_count",
            route="/api/comment/list/<content_id>",
            method="GET",
            status="200",
        )
        == 5
    )
    assert (
        metric_value(
            text,
            "http_request_duration_seconds_count",
            route="/api/comment/list/<content_id>",
            method="GET",
            status="404",
        )
        == 1
    )
    assert (
        metric_value(
            text,
            "http_request_duration_seconds_bucket",
            route="/api/comment/new",
            method="POST",
            status="200",
            le="+Inf",
        )
        == 30
    )
    # The requests really were spread over workers, so the totals above were summed across them.
    entries = [json.loads(line) for line in server.log(tail=None).splitlines() if line.startswith("{")]
    pids = {e["pid"] for e in entries if e.get("msg") == "request" and e.get("method") == "POST"}
    assert len(pids) > 1, server.log()


def test_each_request_is_one_json_log_line(start_server, tmp_path):
    server = start_server({"DATA_DIR": str(tmp_path)})
    requests.post(
        server.url("/api/comment/new"),
        json={"email": "a@example.com", "comment": "hi", "content_id": 1},
        headers={"X-Request-ID": "abc-123"},
        timeout=5,
    )
    requests.get(server.url("/api/comment/list/missing"), timeout=5)

    def request_lines():
        lines = [json.loads(line) for line in server.log(tail=None).splitlines() if line.startswith("{")]
        lines = [entry for entry in lines if entry.get("msg") == "request"]
        return lines if len(lines) >= 3 else None

    # /healthz (start-up probe), the POST and the GET
    entries = wait_until(request_lines, 5, "the request log lines")
    post = next(e for e in entries if e["method"] == "POST")
    get = next(e for e in entries if e["path"] == "/api/comment/list/missing")
    assert post["path"] == "/api/comment/new"
    assert post["status"] == 200
    assert post["request_id"] == "abc-123"
    assert post["duration_ms"] > 0
    assert get["status"] == 404
    assert re.fullmatch(r"[0-9a-f]{32}", get["request_id"])


def test_openapi_document_describes_the_api(server):
    response = requests.get(server.url("/openapi.json"), timeout=5)

    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) >= {
        "/api/comment/new",
        "/api/comment/list/{content_id}",
        "/healthz",
        "/readyz",
        "/metrics",
    }
    new_comment = document["components"]["schemas"]["NewComment"]
    assert new_comment["properties"]["comment"]["maxLength"] == 5000


def test_swagger_ui_is_served_by_the_app_itself(server):
    for page_path, asset_prefix in (("/apidocs", "/apidocs/"), ("/apidocs/", "/apidocs/")):
        page = requests.get(server.url(page_path), timeout=5)
        assert page.status_code == 200
        assert page.headers["Content-Type"].startswith("text/html")
        # Works with no internet: every script and stylesheet is relative, served by the app.
        references = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert references and not [r for r in references if "//" in r]
        for name in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
            asset = requests.get(server.url(asset_prefix + name), timeout=5)
            assert asset.status_code == 200
            assert len(asset.content) > 1000
    assert "SwaggerUIBundle" in requests.get(server.url("/apidocs/swagger-ui-bundle.js"), timeout=5).text


def test_workers_recycled_by_max_requests_keep_serving_and_counting(start_server, tmp_path):
    server = start_server({"DATA_DIR": str(tmp_path), "MAX_REQUESTS": "10"}, workers=2)

    codes = [server.post_comment(8, comment=f"#{i}").status_code for i in range(60)]

    assert codes == [200] * 60
    assert len(server.list_comments(8).json()) == 60
    metrics = requests.get(server.url("/metrics"), timeout=5).text
    # Counts of workers that have exited stay in the total.
    assert metric_value(metrics, "comments_created_total") == 60
    assert server.log(tail=None).count("Booting worker") > 2


def test_invented_methods_do_not_create_new_metric_series(server):
    for method in ("FOO", "BAR", "BAZ"):
        assert requests.request(method, server.url("/healthz"), timeout=5).status_code == 405

    metrics = requests.get(server.url("/metrics"), timeout=5).text

    assert 'method="FOO"' not in metrics
    assert metric_value(metrics, "http_requests_total", route="<unmatched>", method="OTHER", status="405") >= 3


def test_a_lost_request_log_line_does_not_fail_the_request(tmp_path):
    """stderr whose reader has gone (EPIPE): the comment is stored, so the answer must be 200, not 500."""
    app = create_app(Settings.from_env({"DATA_DIR": str(tmp_path), "LOG_REQUESTS": "true"}))
    client = app.test_client()
    read_end, write_end = os.pipe()
    os.close(read_end)
    saved_stderr = os.dup(2)
    os.dup2(write_end, 2)
    try:
        created = client.post("/api/comment/new", json={"email": "a@example.com", "comment": "c", "content_id": 7})
        listed = client.get("/api/comment/list/7")
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(write_end)

    assert created.status_code == 200, created.get_json()
    assert listed.status_code == 200
    assert len(listed.get_json()) == 1


def test_a_request_id_ending_in_a_newline_is_replaced_not_echoed(client):
    """`$` also matches before a final newline: such an id would split the log line, and as a
    response header it made the request fail with a 500."""
    response = client.get("/healthz", environ_overrides={"HTTP_X_REQUEST_ID": "forged\n"})

    assert response.status_code == 200
    assert re.fullmatch("[0-9a-f]{32}", response.headers["X-Request-ID"])
