"""The comments API: the original two routes, same paths and answers, plus pagination."""

from flask import Blueprint, current_app, jsonify, request

from . import validation
from .errors import error_response
from .observability import COMMENTS_CREATED

bp = Blueprint("api", __name__, url_prefix="/api/comment")


def _db():
    return current_app.extensions["comments_db"]


@bp.post("/new")
def create_comment():
    if not request.is_json:
        # Checked before reading the body: the original only ever accepted JSON.
        return error_response(415, f"Content-Type must be application/json, got {request.mimetype or 'none'!r}")
    body = validation.parse_json_body(request.get_data(cache=False))
    new = validation.new_comment(body, current_app.config["MAX_COMMENT_LENGTH"])
    stored = _db().add_comment(new.content_id, new.email, new.comment)
    COMMENTS_CREATED.inc()
    return jsonify(
        status="SUCCESS",
        message=f"comment created and associated with content_id {new.content_id}",
        id=stored["id"],
        content_id=new.content_id,
        created_at=stored["created_at"],
    )


@bp.get("/list/<content_id>")
def list_comments(content_id: str):
    content_id = validation.canonical_content_id(content_id)
    limit, offset = validation.page(request.args, current_app.config["MAX_PAGE_SIZE"])
    db = _db()
    body = db.list_json(content_id, limit, offset)
    # An empty page past the end of an existing list is a 200 []; only a content id with no
    # comments at all is the original's 404.
    if body == "[]" and (offset == 0 or not db.has_comments(content_id)):
        response = jsonify(status="NOT-FOUND", message=f"content_id {content_id} not found")
        response.status_code = 404
        return response
    return current_app.response_class(body, mimetype="application/json")
