"""Every error, expected or not, answers JSON {"status": "ERROR", "message": ...}."""

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge

from .db import DatabaseUnavailable
from .validation import ValidationError

log = logging.getLogger(__name__)


def error_response(status: int, message: str, **headers):
    response = jsonify(status="ERROR", message=message)
    response.status_code = status
    response.headers.update(headers)
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError):
        return error_response(exc.status, str(exc))

    @app.errorhandler(DatabaseUnavailable)
    def _database(exc: DatabaseUnavailable):
        log.warning("database unavailable: %s", exc)
        return error_response(503, "database unavailable, try again later", **{"Retry-After": "1"})

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if isinstance(exc, NotFound):
            message = f"no such route: {request.method} {request.path}"
        elif isinstance(exc, MethodNotAllowed):
            allowed = ", ".join(sorted(exc.valid_methods or ()))
            message = f"method {request.method} is not allowed on {request.path}; allowed: {allowed}"
        elif isinstance(exc, RequestEntityTooLarge):
            message = f"request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes"
        else:
            message = exc.description or exc.name
        response = error_response(exc.code or 500, message)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal error; see the server log")
