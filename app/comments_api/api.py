"""The comments API: the original two routes, same paths and answers, plus pagination."""

from flask import Blueprint

from . import validation
from .errors import error_response
from .framework import request_context
from .observability import COMMENTS_CREATED

bp = Blueprint("api", __name__, url_prefix="/api/comment")


@bp.post("/new")
def create_comment():
    # The app and the request, looked up once: every attribute read through `current_app` or
    # `request` is a context-variable lookup of its own.
    ctx = request_context()
    app, req = ctx.app, ctx.request
    if not req.is_json:
        # Checked before reading the body: the original only ever accepted JSON.
        return error_response(415, f"Content-Type must be application/json, got {req.mimetype or 'none'!r}")
    body = validation.parse_json_body(req.get_data(cache=False), app.json.loads)
    new = validation.new_comment(body, app.config["MAX_COMMENT_LENGTH"])
    stored = app.extensions["comments_db"].add_comment(new.content_id, new.email, new.comment)
    COMMENTS_CREATED.inc()
    return app.json.response(  # flask.jsonify's own step, with the app at hand
        status="SUCCESS",
        message=f"comment created and associated with content_id {new.content_id}",
        id=stored["id"],
        content_id=new.content_id,
        created_at=stored["created_at"],
    )


@bp.get("/list/<content_id>")
def list_comments(content_id: str):
    ctx = request_context()
    app, req = ctx.app, ctx.request
    content_id = validation.canonical_content_id(content_id)
    # Without a query string there are no arguments to parse.
    limit, offset = validation.page(req.args if req.query_string else {}, app.config["MAX_PAGE_SIZE"])
    db = app.extensions["comments_db"]
    body = db.list_json(content_id, limit, offset)
    # An empty page past the end of an existing list is a 200 []; only a content id with no
    # comments at all is the original's 404.
    if body == "[]" and (offset == 0 or not db.has_comments(content_id)):
        response = app.json.response(status="NOT-FOUND", message=f"content_id {content_id} not found")
        response.status_code = 404
        return response
    return app.response_class(body, content_type="application/json")
