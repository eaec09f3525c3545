"""OpenTelemetry traces, only when OTEL_EXPORTER_OTLP_ENDPOINT is set (docs/app.md, "Tracing").

No OpenTelemetry module is imported at this module's top: with tracing off, create_app() never
calls init_app() and the process loads none of it, so the request path is exactly the untraced one.

With tracing on, each app gets its own TracerProvider (a span per request, named by the Flask
route template) whose BatchSpanProcessor sends spans to the OTLP/HTTP exporter from a background
thread. create_app() runs in each gunicorn worker after the fork (`comments-api` never preloads
the app), so that thread is started in the worker that fills its queue, never in the master.
"""

import logging

# The request id (X-Request-ID, which Kong's correlation-id plugin sets) on the span, so that a log
# line leads to its trace (trace_id) and a trace to its log lines (request_id).
REQUEST_ID_ATTRIBUTE = "comments.request_id"

# Providers made in this process: worker_exit (gunicorn_conf) flushes them before the worker goes.
_providers: list = []


def init_app(app, tracing, span_processor=None):
    """Trace `app`'s requests; return the function observability calls after each request.

    `tracing` is config.TracingSettings. Spans go to `span_processor` if given (the tests pass a
    SimpleSpanProcessor over an in-memory exporter), else to a BatchSpanProcessor over the
    OTLP/HTTP exporter. The SDK reads its other OTEL_* variables (sampler, batching, exporter
    headers, timeout, compression, certificates, resource attributes) itself.
    """
    from opentelemetry import trace
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.sdk.trace import TracerProvider

    from .observability import _METHODS

    if span_processor is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        span_processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=tracing.traces_endpoint))
    provider = TracerProvider(resource=_resource(tracing.service_name))
    provider.add_span_processor(span_processor)
    _providers.append(provider)

    def name_unmatched(span, environ):
        # The instrumentation names a request that matched no route "GET /the/raw/path": one name
        # per path a client invents. The method alone, as OpenTelemetry's HTTP conventions say.
        from flask import request

        if request.url_rule is None and span.is_recording():
            method = request.method
            span.update_name(method if method in _METHODS else "HTTP")

    FlaskInstrumentor.instrument_app(
        app,
        request_hook=name_unmatched,
        tracer_provider=provider,
        excluded_urls=tracing.excluded_urls,
        # SQLCommenter context (route names in SQL comments): not used, and it costs each request.
        enable_commenter=False,
    )
    get_current_span = trace.get_current_span
    _log_through_app_handler(get_current_span)

    def annotate(request_id: str) -> str:
        """Put the request id on the current span; the access log line's trace fields (or "")."""
        span = get_current_span()
        if not span.is_recording():  # not traced: an excluded URL, or not sampled
            return ""
        span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
        context = span.get_span_context()
        return f', "trace_id": "{context.trace_id:032x}", "span_id": "{context.span_id:016x}"'

    return annotate


def _resource(service_name: str):
    """The SDK's resource (OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME) with this app's defaults."""
    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource

    from . import __version__
    from .config import DEFAULT_SERVICE_NAME

    detected = Resource.create()
    ours = {}
    if service_name:
        ours[SERVICE_NAME] = service_name
    elif str(detected.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        # Neither OTEL_SERVICE_NAME nor a service.name in OTEL_RESOURCE_ATTRIBUTES.
        ours[SERVICE_NAME] = DEFAULT_SERVICE_NAME
    if SERVICE_VERSION not in detected.attributes:
        ours[SERVICE_VERSION] = __version__
    return detected.merge(Resource(ours))


def _log_through_app_handler(get_current_span) -> None:
    """Lines logged during a traced request carry its trace_id and span_id; the SDK's warnings
    (a failed export, a full queue) are JSON lines like the app's, not Python's bare last resort."""

    def add_ids(record: logging.LogRecord) -> bool:
        span = get_current_span()
        if span.is_recording():
            context = span.get_span_context()
            record.trace_id = f"{context.trace_id:032x}"
            record.span_id = f"{context.span_id:016x}"
        return True

    sdk_logger = logging.getLogger("opentelemetry")
    for handler in logging.getLogger("comments_api").handlers:
        if getattr(handler, "_comments_api", False) and not getattr(handler, "_comments_api_tracing", False):
            handler.addFilter(add_ids)
            handler._comments_api_tracing = True
            sdk_logger.addHandler(handler)
            sdk_logger.propagate = False
            if sdk_logger.level == logging.NOTSET:
                sdk_logger.setLevel(logging.WARNING)


def shutdown() -> None:
    """Send the spans still queued and stop the export threads (a worker about to exit)."""
    while _providers:
        _providers.pop().shutdown()
