"""The tracing switch both ways: OpenTelemetry spans when OTEL_EXPORTER_OTLP_ENDPOINT is set, no
OpenTelemetry code at all when it is not; and the real `comments-api` exporting over OTLP/HTTP."""

import io
import json
import logging
import os
import re
import subprocess
import sys

import pytest
import requests
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from comments_api import create_app
from comments_api.config import ConfigError, Settings, tracing_settings
from comments_api.tracing import REQUEST_ID_ATTRIBUTE
from comments_harness import OtlpReceiver, free_port, wait_until

LIST_ROUTE = "GET /api/comment/list/<content_id>"
# An endpoint nothing listens on: the in-process tests hand their own span processor to the app,
# so nothing is ever sent there.
UNUSED_ENDPOINT = "http://127.0.0.1:9"


def access_lines(text: str) -> list[dict]:
    """The per-request JSON lines in a server's (or a captured stderr's) output."""
    entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [entry for entry in entries if entry.get("msg") == "request"]


# -- the settings ----------------------------------------------------------------------------
class TestSettings:
    def test_unset_endpoint_means_no_tracing(self):
        assert tracing_settings({}) is None
        assert Settings.from_env({"DATA_DIR": "/nonexistent"}).tracing is None

    def test_the_endpoint_gets_the_traces_path_as_the_sdk_appends_it(self):
        for endpoint in ("http://tempo:4318", "http://tempo:4318/"):
            tracing = tracing_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
            assert tracing.traces_endpoint == "http://tempo:4318/v1/traces"
            assert tracing.service_name == ""

    def test_the_traces_endpoint_is_used_as_it_is(self):
        tracing = tracing_settings(
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://tempo:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://collector.example:443/otlp/traces",
                "OTEL_SERVICE_NAME": "comments-eu",
            }
        )
        assert tracing.traces_endpoint == "https://collector.example:443/otlp/traces"
        assert tracing.service_name == "comments-eu"

    def test_the_sdk_disabled_switch_turns_it_off(self):
        assert (
            tracing_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://tempo:4318", "OTEL_SDK_DISABLED": "true"}) is None
        )
        assert tracing_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://tempo:4318", "OTEL_SDK_DISABLED": "false"})

    def test_probes_and_scrapes_are_not_traced_unless_the_instrumentation_variable_says_otherwise(self):
        endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://tempo:4318"}
        default = tracing_settings(endpoint).excluded_urls
        pattern = re.compile(default)
        assert pattern.search("http://10.1.2.3:8000/healthz")
        assert pattern.search("http://comments-api:8000/metrics")
        assert pattern.search("http://[::1]:8000/readyz?verbose=1")
        assert not pattern.search("http://comments-api:8000/api/comment/list/metrics")
        assert not pattern.search("http://comments-api:8000/api/comment/list/healthz")
        given = tracing_settings({**endpoint, "OTEL_PYTHON_FLASK_EXCLUDED_URLS": "apidocs"})
        assert given.excluded_urls == "apidocs"

    @pytest.mark.parametrize(
        ("env", "message"),
        [
            (
                {"OTEL_EXPORTER_OTLP_ENDPOINT": "tempo:4318"},
                "OTEL_EXPORTER_OTLP_ENDPOINT must be the http:// or https://",
            ),
            ({"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT must be"),
            ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://"}, "OTEL_EXPORTER_OTLP_ENDPOINT must be"),
            ({"OTEL_EXPORTER_OTLP_ENDPOINT": "grpc://tempo:4317"}, "OTEL_EXPORTER_OTLP_ENDPOINT must be"),
            ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://tempo:99999"}, "OTEL_EXPORTER_OTLP_ENDPOINT must be"),
            ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://tempo:port"}, "OTEL_EXPORTER_OTLP_ENDPOINT must be"),
            ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "tempo"}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be"),
            ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf"),
            ({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL must be"),
            ({"OTEL_EXPORTER_OTLP_COMPRESSION": "br"}, "OTEL_EXPORTER_OTLP_COMPRESSION must be none, gzip or deflate"),
            ({"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, "OTEL_EXPORTER_OTLP_TIMEOUT must be a number"),
            ({"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "0"}, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT must be >="),
            ({"OTEL_TRACES_SAMPLER": "always"}, "OTEL_TRACES_SAMPLER must be one of always_on,"),
            (
                {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "10%"},
                "OTEL_TRACES_SAMPLER_ARG must be a number",
            ),
            (
                {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"},
                "OTEL_TRACES_SAMPLER_ARG must be between 0 and 1",
            ),
            ({"OTEL_BSP_SCHEDULE_DELAY": "5s"}, "OTEL_BSP_SCHEDULE_DELAY must be an integer"),
            ({"OTEL_BSP_MAX_QUEUE_SIZE": "0"}, "OTEL_BSP_MAX_QUEUE_SIZE must be >= 1"),
            ({"OTEL_SDK_DISABLED": "yes"}, "OTEL_SDK_DISABLED must be true or false"),
        ],
    )
    def test_a_bad_value_names_the_variable(self, env, message):
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://tempo:4318", **env}
        with pytest.raises(ConfigError, match=re.escape(message)):
            Settings.from_env(env)

    def test_the_command_refuses_a_malformed_endpoint_before_starting(self, tmp_path):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update({"DATA_DIR": str(tmp_path), "OTEL_EXPORTER_OTLP_ENDPOINT": "tempo:4318", "PORT": str(free_port())})
        command = [sys.executable, "-m", "comments_api"]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)

        assert result.returncode == 2
        assert "comments-api: OTEL_EXPORTER_OTLP_ENDPOINT must be" in result.stderr
        assert "'tempo:4318'" in result.stderr


# -- in process, spans to an in-memory exporter ----------------------------------------------
@pytest.fixture
def traced(tmp_path):
    """An app with tracing on whose spans go to an in-memory exporter, through create_app's span_processor."""
    exporter = InMemorySpanExporter()
    settings = Settings.from_env(
        {"DATA_DIR": str(tmp_path), "LOG_REQUESTS": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": UNUSED_ENDPOINT}
    )
    app = create_app(settings, span_processor=SimpleSpanProcessor(exporter))
    return app.test_client(), exporter


def test_spans_are_named_by_the_route_and_the_log_line_carries_their_ids(traced, capfd):
    client, exporter = traced
    created = client.post("/api/comment/new", json={"email": "a@example.com", "comment": "c", "content_id": 42})
    listed = client.get("/api/comment/list/42", headers={"X-Request-ID": "kong-abc-123"})
    assert (created.status_code, listed.status_code) == (200, 200)

    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"POST /api/comment/new", LIST_ROUTE}
    span = spans[LIST_ROUTE]
    assert span.attributes["http.route"] == "/api/comment/list/<content_id>"
    assert span.attributes[REQUEST_ID_ATTRIBUTE] == "kong-abc-123"
    assert span.attributes["http.status_code"] == 200
    assert span.resource.attributes["service.name"] == "comments-api"
    assert span.resource.attributes["service.version"] == "1.0.0"

    lines = {entry["request_id"]: entry for entry in access_lines(capfd.readouterr().err)}
    line = lines["kong-abc-123"]
    assert line["trace_id"] == f"{span.context.trace_id:032x}"
    assert line["span_id"] == f"{span.context.span_id:016x}"
    assert re.fullmatch("[0-9a-f]{32}", line["trace_id"]) and re.fullmatch("[0-9a-f]{16}", line["span_id"])
    post = spans["POST /api/comment/new"]
    assert lines[created.headers["X-Request-ID"]]["trace_id"] == f"{post.context.trace_id:032x}"
    assert post.context.trace_id != span.context.trace_id


def test_an_incoming_traceparent_continues_the_callers_trace(traced, capfd):
    client, exporter = traced
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    client.get("/api/comment/list/nothing", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})

    (span,) = exporter.get_finished_spans()
    assert f"{span.context.trace_id:032x}" == trace_id
    assert f"{span.parent.span_id:016x}" == parent_id
    assert span.name == LIST_ROUTE  # a 404 of a known route keeps the route's name
    (line,) = access_lines(capfd.readouterr().err)
    assert line["trace_id"] == trace_id


def test_the_span_name_is_never_the_raw_path(traced):
    client, exporter = traced
    client.get("/api/comment/list/some-item-id")
    client.get("/no/such/path/x1")
    client.open("/healthz/x", method="FOO")

    names = [span.name for span in exporter.get_finished_spans()]
    assert names == [LIST_ROUTE, "GET", "HTTP"]
    assert not [name for name in names if "some-item-id" in name or "x1" in name]


def test_probes_and_metrics_scrapes_make_no_spans_and_their_lines_no_trace_id(traced, capfd):
    client, exporter = traced
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path).status_code == 200

    assert exporter.get_finished_spans() == ()
    lines = access_lines(capfd.readouterr().err)
    assert len(lines) == 3 and not [line for line in lines if "trace_id" in line]


def test_log_lines_of_a_traced_request_carry_its_trace_id(tmp_path, capfd):
    """The database is down: the app logs a warning (through `logging`) while it answers 503."""
    exporter = InMemorySpanExporter()
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    settings = Settings.from_env(
        {"DATABASE_URL": unreachable, "DB_CONNECT_TIMEOUT": "1", "OTEL_EXPORTER_OTLP_ENDPOINT": UNUSED_ENDPOINT}
    )
    client = create_app(settings, span_processor=SimpleSpanProcessor(exporter)).test_client()
    (handler,) = [h for h in logging.getLogger("comments_api").handlers if getattr(h, "_comments_api", False)]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        response = client.post("/api/comment/new", json={"email": "a@example.com", "comment": "c", "content_id": 1})
    finally:
        handler.setStream(previous)

    assert response.status_code == 503
    (span,) = exporter.get_finished_spans()
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    (warning,) = [e for e in entries if e["msg"].startswith("database unavailable")]
    assert warning["trace_id"] == f"{span.context.trace_id:032x}"
    assert warning["span_id"] == f"{span.context.span_id:016x}"
    (line,) = access_lines(capfd.readouterr().err)
    assert line["trace_id"] == warning["trace_id"]


def test_otel_service_name_names_the_service(tmp_path):
    exporter = InMemorySpanExporter()
    settings = Settings.from_env(
        {"DATA_DIR": str(tmp_path), "OTEL_EXPORTER_OTLP_ENDPOINT": UNUSED_ENDPOINT, "OTEL_SERVICE_NAME": "comments-eu"}
    )
    create_app(settings, span_processor=SimpleSpanProcessor(exporter)).test_client().get("/api/comment/list/1")

    (span,) = exporter.get_finished_spans()
    assert span.resource.attributes["service.name"] == "comments-eu"


# -- a fresh interpreter: with the variable unset, no OpenTelemetry module is ever loaded --------
SERVE_AND_LIST_MODULES = """
import json, sys
import comments_api.cli, comments_api.gunicorn_conf  # what `comments-api` imports before forking
from comments_api.wsgi import app  # create_app() from the environment, as in each worker
client = app.test_client()
client.post("/api/comment/new", json={"email": "a@example.com", "comment": "c", "content_id": 1})
client.get("/api/comment/list/1")
client.get("/api/comment/list/2")
comments_api.gunicorn_conf.worker_exit(None, None)  # the hook each worker runs on its way out
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] == "opentelemetry")))
"""


def serve_in_a_fresh_interpreter(tmp_path, **env) -> tuple[list[str], list[dict]]:
    """The opentelemetry modules loaded after serving three requests, and the request log lines."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    clean.update({"DATA_DIR": str(tmp_path), "LOG_REQUESTS": "true", **env})
    result = subprocess.run(
        [sys.executable, "-c", SERVE_AND_LIST_MODULES], env=clean, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), access_lines(result.stderr)


def test_without_the_variable_no_opentelemetry_module_is_loaded(tmp_path):
    modules, lines = serve_in_a_fresh_interpreter(tmp_path)

    assert modules == []
    assert len(lines) == 3
    assert not [line for line in lines if "trace_id" in line or "span_id" in line]


def test_with_the_variable_the_same_script_loads_opentelemetry_and_logs_trace_ids(tmp_path, otlp_receiver):
    """The other side of the switch, so the check above could fail."""
    modules, lines = serve_in_a_fresh_interpreter(tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=otlp_receiver.url)

    assert "opentelemetry.instrumentation.flask" in modules
    assert "opentelemetry.exporter.otlp.proto.http.trace_exporter" in modules
    assert len(lines) == 3 and all(re.fullmatch("[0-9a-f]{32}", line["trace_id"]) for line in lines)
    # worker_exit flushed the batch before the interpreter left.
    assert {span["trace_id"] for span in otlp_receiver.spans()} == {line["trace_id"] for line in lines}


# -- the real `comments-api` exporting to an OTLP/HTTP receiver on loopback ------------------
@pytest.fixture
def otlp_receiver():
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


def test_the_real_server_sends_each_requests_span_to_the_otlp_endpoint(start_server, otlp_receiver, tmp_path):
    server = start_server(
        {
            "DATA_DIR": str(tmp_path),
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.url,
            "OTEL_SERVICE_NAME": "comments-api-e2e",
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # a standard SDK variable: export every 0.1 s
        }
    )
    assert server.post_comment(5).status_code == 200
    listed = requests.get(server.url("/api/comment/list/5"), headers={"X-Request-ID": "e2e-list-1"}, timeout=5)
    assert listed.status_code == 200

    def list_span():
        return next((s for s in otlp_receiver.spans() if s["name"] == LIST_ROUTE), None)

    span = wait_until(list_span, 15, "the list request's span at the OTLP receiver")
    assert span["service"] == "comments-api-e2e"
    assert span["kind"] == 2  # SPAN_KIND_SERVER
    assert span["attributes"][REQUEST_ID_ATTRIBUTE].string_value == "e2e-list-1"
    assert span["attributes"]["http.route"].string_value == "/api/comment/list/<content_id>"
    (line,) = [entry for entry in access_lines(server.log(tail=None)) if entry["request_id"] == "e2e-list-1"]
    assert line["trace_id"] == span["trace_id"]
    assert line["span_id"] == span["span_id"]
    with otlp_receiver.lock:
        paths_and_types = {(path, content_type) for path, content_type, _ in otlp_receiver.requests}
    assert paths_and_types == {("/v1/traces", "application/x-protobuf")}
    # The start-up probe (/healthz) made no span.
    assert {s["name"] for s in otlp_receiver.spans()} <= {"POST /api/comment/new", LIST_ROUTE}


def test_a_worker_sends_its_last_spans_when_it_stops(start_server, otlp_receiver, tmp_path):
    """Batches wait up to a minute here: the span arrives only because the worker flushes on SIGTERM."""
    server = start_server(
        {
            "DATA_DIR": str(tmp_path),
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.url,
            "OTEL_BSP_SCHEDULE_DELAY": "60000",
        },
        workers=1,
    )
    response = requests.get(server.url("/api/comment/list/9"), headers={"X-Request-ID": "last-words"}, timeout=5)
    assert response.status_code == 404
    assert otlp_receiver.spans() == []

    assert server.stop() == 0

    (span,) = otlp_receiver.spans()
    assert span["attributes"][REQUEST_ID_ATTRIBUTE].string_value == "last-words"
