"""(b) The reference: the original challenge's API as a minimal Flask app keeping comments in memory.

Same routes and answers as the original (`POST /api/comment/new`, `GET /api/comment/list/<id>`),
no validation, no database. It is what the real app is compared with: the price of persistence,
validation and observability. Memory is per gunicorn worker (the flaw that made one original
solution run a single pod), so each worker seeds the same BENCH_SEED_COMMENTS comments on
content_id BENCH_SEED_CONTENT at import, and every worker then answers the list alike.
"""

import os
import threading

from flask import Flask, jsonify, request

app = Flask(__name__)
app.json.sort_keys = False
comments: dict[str, list[dict]] = {}
lock = threading.Lock()


@app.post("/api/comment/new")
def api_comment_new():
    data = request.get_json()
    content_id = str(data["content_id"])
    with lock:
        comments.setdefault(content_id, []).append({"email": data["email"], "comment": data["comment"]})
    return jsonify(status="SUCCESS", message=f"comment created and associated with content_id {content_id}")


@app.get("/api/comment/list/<content_id>")
def api_comment_list(content_id):
    with lock:
        found = list(comments.get(content_id, ()))
    if found:
        return jsonify(found)
    return jsonify(status="NOT-FOUND", message=f"content_id {content_id} not found"), 404


@app.get("/healthz")
def healthz():
    return jsonify(status="OK")


_seed_content = os.environ.get("BENCH_SEED_CONTENT", "1")
for _n in range(int(os.environ.get("BENCH_SEED_COMMENTS", "0"))):
    comments.setdefault(_seed_content, []).append(
        {"email": f"seed{_n}@example.com", "comment": f"seed comment number {_n}"}
    )
