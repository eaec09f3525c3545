"""Comments API: a Flask application factory in the Flask tutorial's style."""

import logging

from flask import Flask

__version__ = "1.0.0"

log = logging.getLogger(__name__)


def create_app(settings=None, test_config: dict | None = None, span_processor=None) -> Flask:
    """Build the app. `settings` defaults to Settings.from_env(); see docs/app.md.

    With tracing on (settings.tracing, from OTEL_EXPORTER_OTLP_ENDPOINT), spans go to the OTLP
    exporter, or to `span_processor` (an OpenTelemetry SDK SpanProcessor) if one is given.
    """
    from . import api, errors, observability, ops
    from .config import Settings
    from .db import Database
    from .framework import CommentsFlask

    settings = settings or Settings.from_env()
    observability.setup_logging(settings.log_level)

    app = CommentsFlask(__name__)
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        MAX_COMMENT_LENGTH=settings.max_comment_length,
        MAX_PAGE_SIZE=settings.max_page_size,
    )
    if test_config:
        app.config.from_mapping(test_config)
    # Keep the fields in the order the code writes them (status first), as the original did.
    app.json.sort_keys = False

    database = Database(settings)
    app.extensions["comments_db"] = database
    # Schema at start-up, not per request. If the database is down now, the app still starts
    # (/readyz says 503) and creates the schema on first use once it is back.
    database.ensure_schema()

    errors.init_app(app)
    annotate_trace = None
    if settings.tracing is not None:
        from . import tracing  # imports OpenTelemetry; never reached with tracing off

        annotate_trace = tracing.init_app(app, settings.tracing, span_processor)
    observability.init_app(app, settings.log_requests, annotate_trace)
    app.register_blueprint(api.bp)
    app.register_blueprint(ops.bp)
    log.info(
        "app created",
        extra={"database": database.backend, "version": __version__, "tracing": settings.tracing is not None},
    )
    return app
