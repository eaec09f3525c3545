"""Operations endpoints: liveness, readiness, metrics, the OpenAPI document and Swagger UI."""

from flask import Blueprint, Response, abort, current_app, jsonify, request, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from .observability import metrics_payload
from .openapi import openapi_document

bp = Blueprint("ops", __name__)

SWAGGER_ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js")

# Asset and document URLs are relative, so the page also works behind a gateway that serves the
# app under a path prefix.
_SWAGGER_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Comments API - Swagger UI</title>
  <link rel="stylesheet" href="{assets}swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{assets}swagger-ui-bundle.js"></script>
  <script src="{assets}swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: "{spec}",
      dom_id: "#swagger-ui",
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout"
    }});
  </script>
</body>
</html>
"""


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers. Never touches the database."""
    return jsonify(status="OK")


@bp.get("/readyz")
def readyz():
    db = current_app.extensions["comments_db"]
    if db.ping():
        return jsonify(status="OK", database=db.backend)
    response = jsonify(status="UNAVAILABLE", message="database unreachable", database=db.backend)
    response.status_code = 503
    return response


@bp.get("/metrics")
def metrics():
    payload, content_type = metrics_payload()
    return Response(payload, content_type=content_type)


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document(current_app.config))


@bp.get("/apidocs")
@bp.get("/apidocs/")
def apidocs():
    if request.path.endswith("/"):
        page = _SWAGGER_PAGE.format(assets="", spec="../openapi.json")
    else:
        page = _SWAGGER_PAGE.format(assets="apidocs/", spec="openapi.json")
    return Response(page, content_type="text/html; charset=utf-8")


@bp.get("/apidocs/<name>")
def apidocs_asset(name: str):
    if name not in SWAGGER_ASSETS:
        abort(404)
    return send_from_directory(swagger_ui_path, name, max_age=86400)
