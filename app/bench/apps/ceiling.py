"""(a) The ceiling: a bare WSGI callable answering a constant, no framework.

Whatever gunicorn, the network stack and wrk cost per request shows up here and nowhere less.
It still reads the request body, so that POST costs what receiving one costs.
"""

BODY = b'{"status":"OK"}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("200 OK", HEADERS)
    return [BODY]
