"""The floor: the least a durable implementation of the API can do per request in Python.

A bare WSGI callable, no framework, no validation, no logging, no metrics: each request thread
keeps one psycopg connection (autocommit) and each request runs exactly one statement, the app's
own (the list rendered as JSON by PostgreSQL, the INSERT ... RETURNING id), so the difference to
the app is the app's layers and nothing else. DATABASE_URL: a PostgreSQL database whose
`comments` table the benchmark created with the app's schema.
"""

import json
import os
import threading
from datetime import UTC, datetime

import psycopg

DATABASE_URL = os.environ["DATABASE_URL"]
LIST = (
    "SELECT coalesce(json_agg(page ORDER BY id), '[]')::text FROM ("
    "SELECT id, email, comment, "
    """to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at """
    "FROM comments WHERE content_id = %s ORDER BY id) AS page"
)
INSERT = "INSERT INTO comments (content_id, email, comment, created_at) VALUES (%s, %s, %s, %s) RETURNING id"
JSON = [("Content-Type", "application/json")]
LIST_PREFIX = "/api/comment/list/"
local = threading.local()


def connection() -> psycopg.Connection:
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = psycopg.connect(DATABASE_URL, autocommit=True)
    return conn


def respond(start_response, status: str, body: bytes) -> list[bytes]:
    start_response(status, [*JSON, ("Content-Length", str(len(body)))])
    return [body]


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith(LIST_PREFIX):
        content_id = path[len(LIST_PREFIX) :]
        (body,) = connection().execute(LIST, (content_id,)).fetchone()
        if body == "[]":
            message = {"status": "NOT-FOUND", "message": f"content_id {content_id} not found"}
            return respond(start_response, "404 Not Found", json.dumps(message).encode())
        return respond(start_response, "200 OK", body.encode())
    if path == "/api/comment/new":
        data = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        content_id, created_at = str(data["content_id"]), datetime.now(UTC)
        (new_id,) = connection().execute(INSERT, (content_id, data["email"], data["comment"], created_at)).fetchone()
        answer = {
            "status": "SUCCESS",
            "message": f"comment created and associated with content_id {content_id}",
            "id": new_id,
            "content_id": content_id,
            "created_at": created_at.isoformat(),
        }
        return respond(start_response, "200 OK", json.dumps(answer).encode())
    if path == "/healthz":
        return respond(start_response, "200 OK", b'{"status":"OK"}')
    return respond(start_response, "404 Not Found", b'{"status":"NOT-FOUND"}')
