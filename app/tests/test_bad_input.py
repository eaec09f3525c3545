"""Every class of bad request gets a 4xx JSON error naming the problem, and writes nothing.

Run over HTTP against gunicorn on both backends: NUL characters, for one, are only a problem for
PostgreSQL, and an oversized body is refused by the app under gunicorn, not by a test client.
"""

import json

import pytest
import requests

JSON = {"Content-Type": "application/json"}
GOOD = {"email": "reader@example.com", "comment": "hello", "content_id": "{cid}"}


def body(**changes):
    data = dict(GOOD)
    for key, value in changes.items():
        if value is ...:
            del data[key]
        else:
            data[key] = value
    return data


# (name, request keyword arguments, expected status, text the message must contain)
POST_CASES = [
    ("not json", {"data": b"{email: nope", "headers": JSON}, 400, "not valid JSON"),
    ("empty body", {"data": b"", "headers": JSON}, 400, "request body is empty"),
    ("invalid utf-8", {"data": b'{"email": "\xff"}', "headers": JSON}, 400, "not valid JSON"),
    ("json array", {"json": [GOOD]}, 400, "must be a JSON object, got an array"),
    ("json string", {"json": "hello"}, 400, "must be a JSON object, got a string"),
    (
        "text/plain",
        {"data": json.dumps(GOOD), "headers": {"Content-Type": "text/plain"}},
        415,
        "Content-Type must be application/json",
    ),
    ("form", {"data": {"email": "a@example.com"}}, 415, "Content-Type must be application/json"),
    ("no content type", {"data": json.dumps(GOOD).encode(), "headers": {"Content-Type": ""}}, 415, "Content-Type"),
    ("missing email", {"json": body(email=...)}, 400, "missing required field email"),
    ("missing comment", {"json": body(comment=...)}, 400, "missing required field comment"),
    ("missing content_id", {"json": body(content_id=...)}, 400, "missing required field content_id"),
    ("missing all", {"json": {}}, 400, "missing required fields email, comment, content_id"),
    ("email a number", {"json": body(email=42)}, 400, "email must be a string, got a number"),
    ("email null", {"json": body(email=None)}, 400, "email must be a string, got null"),
    ("email invalid", {"json": body(email="not-an-address")}, 400, "email is not a valid e-mail address"),
    ("email no domain", {"json": body(email="someone@")}, 400, "email is not a valid e-mail address"),
    ("email too long", {"json": body(email="a" * 250 + "@example.com")}, 400, "email is longer than 254"),
    ("comment a list", {"json": body(comment=["hi"])}, 400, "comment must be a string, got an array"),
    ("comment empty", {"json": body(comment="")}, 400, "comment must not be empty"),
    ("comment blank", {"json": body(comment=" \n\t ")}, 400, "comment must not be empty"),
    ("comment too long", {"json": body(comment="x" * 5001)}, 400, "comment is longer than 5000 characters"),
    ("comment with NUL", {"json": body(comment="a\x00b")}, 400, "comment contains a NUL character"),
    (
        "comment lone surrogate",
        {"data": b'{"email": "a@example.com", "comment": "\\ud800", "content_id": 1}', "headers": JSON},
        400,
        "unpaired surrogate",
    ),
    ("content_id boolean", {"json": body(content_id=True)}, 400, "content_id must be an integer or a string"),
    ("content_id fraction", {"json": body(content_id=1.5)}, 400, "content_id must be an integer or a string"),
    ("content_id object", {"json": body(content_id={"id": 1})}, 400, "content_id must be an integer or a string"),
    ("content_id null", {"json": body(content_id=None)}, 400, "got null"),
    ("content_id with space", {"json": body(content_id="a b")}, 400, "content_id must match"),
    ("content_id empty", {"json": body(content_id="")}, 400, "content_id must match"),
    ("content_id too long", {"json": body(content_id="a" * 65)}, 400, "content_id must match"),
    ("content_id ending in a newline", {"json": body(content_id="abc\n")}, 400, "content_id must match"),
    ("content_id beyond 64 bits", {"json": body(content_id=2**63)}, 400, "content_id as a number must be between"),
    (
        "body too large",
        {"data": b'{"comment": "' + b"x" * (64 * 1024) + b'"}', "headers": JSON},
        413,
        "larger than 65536 bytes",
    ),
]


def _fill(value, content_id):
    if isinstance(value, dict):
        return {k: _fill(v, content_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, content_id) for v in value]
    return content_id if value == "{cid}" else value


@pytest.mark.parametrize(("kwargs", "status", "message"), [c[1:] for c in POST_CASES], ids=[c[0] for c in POST_CASES])
def test_bad_post_is_refused_with_a_clear_json_error(server, content_id, kwargs, status, message):
    kwargs = _fill(kwargs, content_id)

    response = requests.post(server.url("/api/comment/new"), timeout=10, **kwargs)

    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["status"] == "ERROR"
    assert message in response.json()["message"]
    # Nothing was written for this content id.
    assert server.list_comments(content_id).status_code == 404


# (name, method, path, expected status, text the message must contain)
OTHER_CASES = [
    ("unknown route", "GET", "/api/comments", 404, "no such route: GET /api/comments"),
    ("list without id", "GET", "/api/comment/list/", 404, "no such route"),
    (
        "GET on new",
        "GET",
        "/api/comment/new",
        405,
        "method GET is not allowed on /api/comment/new; allowed: OPTIONS, POST",
    ),
    ("DELETE on list", "DELETE", "/api/comment/list/1", 405, "allowed: GET, HEAD, OPTIONS"),
    ("PUT on healthz", "PUT", "/healthz", 405, "method PUT is not allowed"),
    ("bad content id in path", "GET", "/api/comment/list/a.b", 400, "content_id must match"),
    ("too long content id in path", "GET", "/api/comment/list/" + "a" * 65, 400, "content_id must match"),
    ("content id ending in a newline in path", "GET", "/api/comment/list/abc%0A", 400, "content_id must match"),
    ("limit not a number", "GET", "/api/comment/list/1?limit=ten", 400, "limit must be an integer, got 'ten'"),
    ("limit zero", "GET", "/api/comment/list/1?limit=0", 400, "limit must be between 1 and 100, got 0"),
    ("negative offset", "GET", "/api/comment/list/1?offset=-1", 400, "offset must be 0 or more, got -1"),
    ("offset a fraction", "GET", "/api/comment/list/1?offset=1.5", 400, "offset must be an integer"),
    ("unknown swagger asset", "GET", "/apidocs/secret.txt", 404, "no such route"),
]


@pytest.mark.parametrize(
    ("method", "path", "status", "message"), [c[1:] for c in OTHER_CASES], ids=[c[0] for c in OTHER_CASES]
)
def test_bad_route_method_or_parameter_gets_a_json_error(server, method, path, status, message):
    response = requests.request(method, server.url(path), timeout=10)

    assert response.status_code == status, response.text
    assert response.json()["status"] == "ERROR"
    assert message in response.json()["message"]


def test_method_not_allowed_lists_the_allowed_methods(server):
    response = requests.get(server.url("/api/comment/new"), timeout=10)

    assert response.headers["Allow"] == "OPTIONS, POST"
