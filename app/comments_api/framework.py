"""The app's Flask class: Flask, without the per-request work this app never needs.

Every request pays for Flask's general machinery; these overrides, each through a hook Flask
documents for it, drop the parts that do nothing here and keep Flask's behaviour for everything
the app uses (docs/app.md, Choices: the request path; `make bench` measures it).
"""

import json
import sys
from itertools import chain

import orjson
from flask import Flask
from flask import Request as FlaskRequest
from flask import Response as FlaskResponse
from flask.ctx import AppContext as FlaskAppContext
from flask.globals import _cv_app, _cv_request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import NullSession, SessionInterface
from flask.signals import (
    appcontext_popped,
    appcontext_pushed,
    appcontext_tearing_down,
    request_finished,
    request_started,
    request_tearing_down,
)
from werkzeug._internal import _wsgi_decoding_dance
from werkzeug.datastructures import Headers as WerkzeugHeaders
from werkzeug.http import parse_options_header
from werkzeug.routing import MapAdapter as WerkzeugMapAdapter
from werkzeug.utils import get_content_type

_unset = object()  # an argument not given (Flask's own default for the exception of a teardown)

# The current request context (its .request and .app), in one C call: what the `request` and
# `current_app` proxies each look up behind a Python call of their own. Routes and hooks use it
# to reach both at once.
request_context = _cv_request.get


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


# The value types orjson writes exactly as json.dumps does (separators "," and ":", ensure_ascii):
# str, int (orjson refuses one past 64 bits: json's way then), True, False, None. A float is
# written differently (1e+16 against 1e16), so an object holding one never takes orjson.
_ORJSON_EXACT = frozenset((str, int, bool, type(None)))


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON; the app's answers (one flat object) written by orjson, byte for byte json.dumps' output.

    json.dumps builds a new JSONEncoder whenever it is given any argument, and Flask always gives
    some; the encoder keeps no state between calls, so one per set of settings serves every thread.
    An answer that is one object of plain values (every answer of the API, the probes and the
    errors) is written by orjson, about a fifth of the instructions, and kept only when its bytes
    are those json.dumps writes: all ASCII without DEL (json escapes anything outside space to "~"
    as \\uXXXX; orjson writes UTF-8 and DEL as they are) and keys in the given order. Anything else
    (nested values, floats, another type, non-ASCII text, sorted keys, a refusal by orjson) is
    json.dumps' own work.
    """

    def __init__(self, app):
        super().__init__(app)
        self._made = (None, None, None)

    def _compact(self) -> tuple[json.JSONEncoder, str]:
        """The encoder for the current settings, and the Content-Type Werkzeug writes for the mimetype."""
        settings = (self.default, self.ensure_ascii, self.sort_keys, self.mimetype)
        made_for, encoder, content_type = self._made
        if made_for != settings:
            encoder = json.JSONEncoder(
                default=self.default, ensure_ascii=self.ensure_ascii, sort_keys=self.sort_keys, separators=(",", ":")
            )
            content_type = get_content_type(self.mimetype, "utf-8")
            self._made = (settings, encoder, content_type)
        return encoder, content_type

    def loads(self, s, **kwargs):
        """json.loads' result, found by orjson when it is one object of plain values.

        orjson reads an integer past 64 bits as a float, refuses what json.loads accepts beyond the
        standard (NaN, a byte order mark, UTF-16, a lone surrogate) and words its errors its own way;
        so its result is kept only when it is an object of str, int, bool and None values, which
        json.loads reads the same, and json.loads parses everything else, errors included.
        """
        if not kwargs:
            try:
                obj = orjson.loads(s)
            except orjson.JSONDecodeError:
                pass
            else:
                if type(obj) is dict:
                    for value in obj.values():  # a loop, not all() over a generator: one frame less per value
                        if type(value) not in _ORJSON_EXACT:
                            break
                    else:
                        return obj
        return json.loads(s, **kwargs)

    def response(self, *args, **kwargs):
        if self.compact is False or (self.compact is None and self._app.config["DEBUG"]):
            return super().response(*args, **kwargs)  # indented: not the request path
        encoder, content_type = self._compact()
        obj = self._prepare_response_obj(args, kwargs)
        body = None
        plain = type(obj) is dict and self.ensure_ascii and not self.sort_keys
        if plain:
            for key, value in obj.items():
                if type(key) is not str or type(value) not in _ORJSON_EXACT:
                    plain = False
                    break
        if plain:
            try:
                body = orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)
            except TypeError:  # an int past 64 bits, a lone surrogate: json.dumps decides
                pass
            else:
                if not body.isascii() or b"\x7f" in body:
                    body = None
        if body is None:
            body = f"{encoder.encode(obj)}\n".encode()
        return self._app.response_class(body, content_type=content_type)


class Headers(WerkzeugHeaders):
    def __setitem__(self, key, value):
        """Werkzeug's, in one step for the usual case: a str header not set yet, a str value without a newline.

        Werkzeug takes four calls to get there for every header of every response. Anything else
        (a header already there, another type, a newline to refuse, an index or a slice) goes Werkzeug's way.
        """
        if type(key) is str and type(value) is str and "\n" not in value and "\r" not in value:
            lower = key.lower()
            for name, _ in self._list:
                if name.lower() == lower:
                    break
            else:
                self._list.append((key, value))
                return
        super().__setitem__(key, value)


class Response(FlaskResponse):
    # Werkzeug's status line for each status code set as an int, worked out once per code: it
    # formats and upper-cases the reason phrase on every response.
    _status_lines: dict[int, tuple[str, int]] = {}

    def __init__(self, response=None, status=None, headers=None, *args, **kwargs):
        super().__init__(response, status, Headers() if headers is None else headers, *args, **kwargs)

    def _clean_status(self, value):
        if type(value) is not int:
            return super()._clean_status(value)  # a str, an HTTPStatus: Werkzeug's way
        line = self._status_lines.get(value)
        if line is None:
            line = super()._clean_status(value)
            if len(self._status_lines) < 1000:  # codes are 100-999; bound it whatever is set
                self._status_lines[value] = line
        return line

    def get_wsgi_response(self, environ):
        """Werkzeug's answer, without its general steps where they would change nothing.

        Werkzeug copies the headers, looks for Location, Content-Location and Content-Length to fix
        them up, and wraps the body in an iterator that encodes it and calls close(). For the app's
        own answers (a 2xx other than 204 to a method other than HEAD, the body one bytes object,
        Content-Length set when it was, no Location, nothing to call on close) none of that changes
        a byte: they are sent as they are. Every other response takes Werkzeug's way.
        """
        body, status = self.response, self.status_code
        if (
            200 <= status < 300
            and status != 204
            and type(body) is list
            and len(body) == 1
            and type(body[0]) is bytes
            and not self._on_close
            and not self.direct_passthrough
            and environ["REQUEST_METHOD"] != "HEAD"
        ):
            headers = list(self.headers._list)  # Headers.to_wsgi_list(), without its two calls
            names = {name.lower() for name, _ in headers}
            if "content-length" in names and "location" not in names and "content-location" not in names:
                return body, self.status, headers
        return super().get_wsgi_response(environ)


class Request(FlaskRequest):
    # Werkzeug's parse of each Content-Type value seen, kept for the next request carrying it:
    # clients send a handful of values, each parsed with a regular expression on every request.
    # At most 64 are kept (clients choose them).
    _content_types: dict[str, tuple[str, dict[str, str]]] = {}

    def _parse_content_type(self):
        if not hasattr(self, "_parsed_content_type"):
            value = self.headers.get("Content-Type", "")
            parsed = self._content_types.get(value)
            if parsed is None:
                parsed = parse_options_header(value)
                if len(self._content_types) < 64:
                    self._content_types[value] = parsed
            # The parameters are a dict the request hands out (mimetype_params): each its own copy.
            self._parsed_content_type = (parsed[0], dict(parsed[1]) if parsed[1] else {})

    @property
    def max_content_length(self):
        """Flask's (this request's own, else the app's MAX_CONTENT_LENGTH), with the app looked up once."""
        if self._max_content_length is not None:
            return self._max_content_length
        app_ctx = _cv_app.get(None)
        if app_ctx is None:
            return FlaskRequest.max_content_length.fget(self)
        return app_ctx.app.config["MAX_CONTENT_LENGTH"]

    @max_content_length.setter
    def max_content_length(self, value):
        self._max_content_length = value

    def close(self):
        """Werkzeug closes the uploaded files it parsed; a request whose files were never read has none."""
        if "files" in self.__dict__:
            super().close()


class MapAdapter(WerkzeugMapAdapter):
    """Werkzeug's URL adapter, with the match of a path without variables remembered.

    Such a path (/api/comment/new, /healthz) always matches the same rule with no values, whatever
    the query string, so its match is worked out once per host, method and path, as long as the
    rules do not change (Flask refuses new ones after the first request). A path with variables
    (/api/comment/list/<content_id>), a redirect, a 404 or 405 is matched by Werkzeug every time.
    """

    _static_matches: dict | None = None  # CommentsFlask gives it its app's dict after the first request

    def match(self, path_info=None, method=None, return_rule=False, query_args=None, websocket=None):
        if (
            self._static_matches is None
            or path_info is not None
            or method is not None
            or query_args is not None
            or websocket is not None
        ):
            return super().match(path_info, method, return_rule, query_args, websocket)
        key = (self.server_name, self.subdomain, self.path_info, self.default_method, self.websocket)
        rule = self._static_matches.get(key)
        if rule is None:
            rule, values = super().match(return_rule=True)
            if values or rule.arguments or rule.redirect_to is not None or len(self._static_matches) >= 256:
                return (rule, values) if return_rule else (rule.endpoint, values)
            self._static_matches[key] = rule
        # Werkzeug's answer for it: a new empty dict of values each time (hooks may fill it).
        return (rule, {}) if return_rule else (rule.endpoint, {})


class AppContext(FlaskAppContext):
    """Flask's application context; its two signals are sent only when something listens to them.

    blinker finds that out on every send (a call, a generator, a dict lookup); checking the signal's
    receivers first gives the same outcome for nothing.
    """

    def push(self):
        if appcontext_pushed.receivers:
            super().push()
        else:
            self._cv_tokens.append(_cv_app.set(self))

    def pop(self, exc=_unset):
        if appcontext_popped.receivers:
            super().pop(sys.exc_info()[1] if exc is _unset else exc)
            return
        try:
            if len(self._cv_tokens) == 1:
                self.app.do_teardown_appcontext(sys.exc_info()[1] if exc is _unset else exc)
        finally:
            ctx = _cv_app.get()
            _cv_app.reset(self._cv_tokens.pop())
        if ctx is not self:
            raise AssertionError(f"Popped wrong app context. ({ctx!r} instead of {self!r})")


class CommentsFlask(Flask):
    session_interface = NoSessions()
    request_class = Request
    response_class = Response
    json_provider_class = JSONProvider

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync_functions = {}
        self._hooks = {}
        self._url_adapters = {}
        self._static_matches = {}

    def create_url_adapter(self, request):
        """Flask's URL adapter for the request, with what depends only on the host worked out once per host.

        Flask binds the URL map to every request's environ: it reads the host twice, checks it and
        IDNA-encodes it. With no SERVER_NAME, TRUSTED_HOSTS, host or subdomain matching (this app's
        settings) the outcome depends only on the environ's host, scheme, script name and upgrade
        headers, so the first request from a host binds as Flask does and later ones reuse its
        server name, script name and subdomain with their own path, method and query string.
        A host that Flask refuses is never remembered; at most 64 hosts are (clients choose them).
        """
        config = self.config
        if request is None and config["SERVER_NAME"] is None:
            return None  # Flask's answer: nothing to bind to outside a request without SERVER_NAME
        if (
            request is None
            or config["SERVER_NAME"] is not None
            or config["TRUSTED_HOSTS"] is not None
            or self.url_map.host_matching
            or self.subdomain_matching
        ):
            return super().create_url_adapter(request)
        env = request.environ
        key = (
            env["wsgi.url_scheme"],
            env.get("HTTP_HOST"),
            env.get("SERVER_NAME"),
            env.get("SERVER_PORT"),
            env.get("HTTP_CONNECTION"),
            env.get("HTTP_UPGRADE"),
            env.get("SCRIPT_NAME"),
        )
        known = self._url_adapters.get(key)
        if known is None:
            adapter = super().create_url_adapter(request)
            if len(self._url_adapters) < 64:
                self._url_adapters[key] = (request.host, adapter)
            return adapter
        request.host, bound = known
        path_info, query_args = env.get("PATH_INFO"), env.get("QUERY_STRING")
        adapter = MapAdapter(
            self.url_map,
            bound.server_name,
            bound.script_name,
            bound.subdomain,
            bound.url_scheme,
            "/" if path_info is None else _wsgi_decoding_dance(path_info),
            env["REQUEST_METHOD"],
            query_args and _wsgi_decoding_dance(query_args),  # None and "" as they are
        )
        if self._got_first_request:  # rules can still change before it
            adapter._static_matches = self._static_matches
        return adapter

    def app_context(self):
        return AppContext(self)

    def _hooks_for(self, req):
        """The request's hooks in the order Flask calls them, for the blueprints of its endpoint.

        Flask works them out on every request from the endpoint's blueprint path (three times: before,
        after, teardown); they can only change before the first request (Flask refuses a new hook
        after it), so they are worked out once per endpoint, the first time it is requested.
        """
        rule = req.url_rule  # Request.endpoint's own steps, without the property's call
        endpoint = rule.endpoint if rule is not None else None
        hooks = self._hooks.get(endpoint)
        if hooks is None:
            blueprints = req.blueprints
            first_app = (None, *reversed(blueprints))
            last_app = tuple(chain(blueprints, (None,)))
            hooks = (
                [f for n in first_app for f in self.url_value_preprocessors.get(n, ())],
                [self.ensure_sync(f) for n in first_app for f in self.before_request_funcs.get(n, ())],
                [self.ensure_sync(f) for n in last_app for f in reversed(self.after_request_funcs.get(n, ()))],
                [self.ensure_sync(f) for n in last_app for f in reversed(self.teardown_request_funcs.get(n, ()))],
            )
            if self._got_first_request:
                self._hooks[endpoint] = hooks
        return hooks

    def full_dispatch_request(self):
        self._got_first_request = True
        try:
            if request_started.receivers:
                request_started.send(self, _async_wrapper=self.ensure_sync)
            rv = self.preprocess_request()
            if rv is None:
                rv = self.dispatch_request()
        except Exception as e:
            rv = self.handle_user_exception(e)
        return self.finalize_request(rv)

    def dispatch_request(self):
        """Flask's, with the request context looked up once rather than through its proxy."""
        req = _cv_request.get().request
        if req.routing_exception is not None:
            self.raise_routing_exception(req)
        rule = req.url_rule
        if getattr(rule, "provide_automatic_options", False) and req.method == "OPTIONS":
            return self.make_default_options_response()
        view = self.view_functions[rule.endpoint]
        return (self._sync_functions.get(view) or self.ensure_sync(view))(**req.view_args)

    def finalize_request(self, rv, from_error_handler=False):
        if request_finished.receivers:
            return super().finalize_request(rv, from_error_handler)
        # make_response returns an instance of response_class as it is (two isinstance checks
        # and a cast later): only other return values go through it.
        response = rv if type(rv) is self.response_class else self.make_response(rv)
        try:
            response = self.process_response(response)
        except Exception:
            if not from_error_handler:
                raise
            self.logger.exception("Request finalizing failed with an error while handling an error")
        return response

    def preprocess_request(self):
        ctx = _cv_request.get()
        req = ctx.request
        # Kept on the request context for process_response and do_teardown_request.
        ctx.comments_hooks = hooks = self._hooks_for(req)
        url_value_preprocessors, before, _, _ = hooks
        if url_value_preprocessors:
            endpoint, view_args = req.endpoint, req.view_args
            for url_func in url_value_preprocessors:
                url_func(endpoint, view_args)
        for before_func in before:
            rv = before_func()
            if rv is not None:
                return rv
        return None

    def process_response(self, response):
        ctx = _cv_request.get()
        for func in ctx._after_request_functions:
            response = self.ensure_sync(func)(response)
        for func in (getattr(ctx, "comments_hooks", None) or self._hooks_for(ctx.request))[2]:
            response = func(response)
        if ctx._session is not NoSessions._null and not self.session_interface.is_null_session(ctx._session):
            self.session_interface.save_session(self, ctx._session, response)
        return response

    def do_teardown_request(self, exc=_unset):
        if exc is _unset:
            exc = sys.exc_info()[1]
        ctx = _cv_request.get()
        for func in (getattr(ctx, "comments_hooks", None) or self._hooks_for(ctx.request))[3]:
            func(exc)
        if request_tearing_down.receivers:
            request_tearing_down.send(self, _async_wrapper=self.ensure_sync, exc=exc)

    def do_teardown_appcontext(self, exc=_unset):
        if exc is _unset:
            exc = sys.exc_info()[1]
        for func in reversed(self.teardown_appcontext_funcs):
            self.ensure_sync(func)(exc)
        if appcontext_tearing_down.receivers:
            appcontext_tearing_down.send(self, _async_wrapper=self.ensure_sync, exc=exc)

    def ensure_sync(self, func):
        """Flask's answer for func, remembered: Flask asks for every hook and view on every request,
        and each answer is an `inspect` call. Only registered functions come here, so the memo is
        as small as the app."""
        sync = self._sync_functions.get(func)
        if sync is None:
            sync = self._sync_functions[func] = super().ensure_sync(func)
        return sync
