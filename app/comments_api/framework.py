"""The app's Flask class: Flask, without the per-request work this app never needs.

Every request pays for Flask's general machinery; these overrides, each through a hook Flask
documents for it, drop the parts that do nothing here and keep Flask's behaviour for everything
the app uses (app/README.md, Choices: the request path; `make bench` measures it).
"""

import json

from flask import Flask
from flask import Response as FlaskResponse
from flask.json.provider import DefaultJSONProvider
from flask.sessions import NullSession, SessionInterface


class NoSessions(SessionInterface):
    """The app keeps no sessions: no secret key, no cookie, nothing to open or save.

    Flask's default interface finds that out on every request and builds a new NullSession each
    time. Here every request gets the same one: it refuses any write (as Flask's own does without
    a secret key), so sharing it between requests and threads shares nothing.
    """

    _null = NullSession()

    def open_session(self, app, request):
        return self._null

    def save_session(self, app, session, response):  # pragma: no cover - null sessions are never saved
        return None


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, written by one encoder made once rather than one made per response.

    json.dumps builds a new JSONEncoder whenever it is given any argument, and Flask always gives
    some; the encoder keeps no state between calls, so one per set of settings serves every thread.
    The bytes are json.dumps' own.
    """

    def __init__(self, app):
        super().__init__(app)
        self._encoder = (None, None)

    def _compact_encoder(self) -> json.JSONEncoder:
        settings = (self.default, self.ensure_ascii, self.sort_keys)
        made_for, encoder = self._encoder
        if made_for != settings:
            encoder = json.JSONEncoder(
                default=self.default, ensure_ascii=self.ensure_ascii, sort_keys=self.sort_keys, separators=(",", ":")
            )
            self._encoder = (settings, encoder)
        return encoder

    def response(self, *args, **kwargs):
        if (self.compact is None and self._app.debug) or self.compact is False:
            return super().response(*args, **kwargs)  # indented: not the request path
        body = self._compact_encoder().encode(self._prepare_response_obj(args, kwargs))
        return self._app.response_class(f"{body}\n", mimetype=self.mimetype)


class Response(FlaskResponse):
    def get_wsgi_response(self, environ):
        """Werkzeug's answer, without its general steps where they would change nothing.

        Werkzeug copies the headers, looks for Location, Content-Location and Content-Length to fix
        them up, and wraps the body in an iterator that encodes it and calls close(). For the app's
        own answers (a 2xx other than 204 to a method other than HEAD, the body one bytes object,
        Content-Length set when it was, no Location, nothing to call on close) none of that changes
        a byte: they are sent as they are. Every other response takes Werkzeug's way.
        """
        body = self.response
        if (
            200 <= self.status_code < 300
            and self.status_code != 204
            and type(body) is list
            and len(body) == 1
            and type(body[0]) is bytes
            and not self._on_close
            and not self.direct_passthrough
            and environ["REQUEST_METHOD"] != "HEAD"
        ):
            headers = self.headers.to_wsgi_list()
            names = {name.lower() for name, _ in headers}
            if "content-length" in names and "location" not in names and "content-location" not in names:
                return body, self.status, headers
        return super().get_wsgi_response(environ)


class CommentsFlask(Flask):
    session_interface = NoSessions()
    response_class = Response
    json_provider_class = JSONProvider

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync_functions = {}

    def ensure_sync(self, func):
        """Flask's answer for func, remembered: Flask asks for every hook and view on every request,
        and each answer is an `inspect` call. Only registered functions come here, so the memo is
        as small as the app."""
        sync = self._sync_functions.get(func)
        if sync is None:
            sync = self._sync_functions[func] = super().ensure_sync(func)
        return sync
