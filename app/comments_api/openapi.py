"""The OpenAPI 3 document, written by hand to match api.py and ops.py exactly.

Limits come from the running configuration, so the document never promises more than the app
accepts. The schemathesis test fuzzes the app against this document.
"""

from functools import lru_cache

from . import __version__
from .validation import CONTENT_ID_PATTERN, INT64_MAX, INT64_MIN


def openapi_document(config) -> dict:
    return _document(config["MAX_COMMENT_LENGTH"], config["MAX_PAGE_SIZE"], config["MAX_CONTENT_LENGTH"])


def _json(schema_ref: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": schema_ref}}}}


ERROR = "#/components/schemas/Error"


@lru_cache(maxsize=4)
def _document(max_comment_length: int, max_page_size: int, max_body_bytes: int) -> dict:
    content_id_path = {
        "name": "content_id",
        "in": "path",
        "required": True,
        "description": 'The content item; the number 1 and the string "1" are the same item.',
        "schema": {"type": "string", "pattern": CONTENT_ID_PATTERN},
    }
    unavailable = _json(ERROR, "The database is unreachable; retry later.")
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Comments API",
            "version": __version__,
            "description": (
                "Post comments about a content item and list them, oldest first. "
                f"Request bodies are limited to {max_body_bytes} bytes."
            ),
        },
        "paths": {
            "/api/comment/new": {
                "post": {
                    "operationId": "createComment",
                    "summary": "Store a comment for a content item.",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewComment"}}},
                    },
                    "responses": {
                        "200": _json("#/components/schemas/Created", "The comment is stored."),
                        "400": _json(ERROR, "The body is not JSON, or a field is missing or invalid."),
                        "413": _json(ERROR, "The body is too large."),
                        "415": _json(ERROR, "The Content-Type is not application/json."),
                        "503": unavailable,
                    },
                }
            },
            "/api/comment/list/{content_id}": {
                "get": {
                    "operationId": "listComments",
                    "summary": "List the comments of a content item, oldest first.",
                    "description": (
                        "Without limit and offset the whole list is returned, as the original API did. "
                        f"With either, one page of at most {max_page_size} comments (limit defaults to "
                        f"{max_page_size}, offset to 0)."
                    ),
                    "parameters": [
                        content_id_path,
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": max_page_size},
                        },
                        {
                            "name": "offset",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
                        },
                    ],
                    "responses": {
                        "200": _json("#/components/schemas/CommentList", "The comments, oldest first."),
                        "400": _json(ERROR, "The content id or a paging parameter is invalid."),
                        "404": _json("#/components/schemas/NotFound", "The content item has no comments."),
                        "503": unavailable,
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "liveness",
                    "summary": "Liveness: the process answers (no database access).",
                    "responses": {"200": _json("#/components/schemas/Health", "Alive.")},
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readiness",
                    "summary": "Readiness: the database answers, accepts writes and the schema is in place.",
                    "responses": {
                        "200": _json("#/components/schemas/Health", "Ready."),
                        "503": _json("#/components/schemas/Health", "The database is unreachable or read-only."),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics, summed over all gunicorn workers.",
                    "responses": {
                        "200": {
                            "description": "Prometheus text exposition format.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "NewComment": {
                    "type": "object",
                    "required": ["email", "comment", "content_id"],
                    "properties": {
                        "email": {"type": "string", "format": "email", "maxLength": 254},
                        "comment": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": max_comment_length,
                            "pattern": r"\S",
                        },
                        "content_id": {
                            "oneOf": [
                                {"type": "integer", "format": "int64", "minimum": INT64_MIN, "maximum": INT64_MAX},
                                {"type": "string", "pattern": CONTENT_ID_PATTERN},
                            ]
                        },
                    },
                },
                "Created": {
                    "type": "object",
                    "required": ["status", "message"],
                    "properties": {
                        "status": {"type": "string", "enum": ["SUCCESS"]},
                        "message": {"type": "string"},
                        "id": {"type": "integer"},
                        "content_id": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                    },
                },
                "Comment": {
                    "type": "object",
                    "required": ["email", "comment"],
                    "properties": {
                        "id": {"type": "integer"},
                        "email": {"type": "string"},
                        "comment": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                    },
                },
                "CommentList": {"type": "array", "items": {"$ref": "#/components/schemas/Comment"}},
                "NotFound": {
                    "type": "object",
                    "required": ["status", "message"],
                    "properties": {
                        "status": {"type": "string", "enum": ["NOT-FOUND"]},
                        "message": {"type": "string"},
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["status", "message"],
                    "properties": {
                        "status": {"type": "string", "enum": ["ERROR"]},
                        "message": {"type": "string"},
                    },
                },
                "Health": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {
                        "status": {"type": "string"},
                        "database": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
            }
        },
    }
