"""Routing and per-request context shared by every resource module.

A resource module declares handlers with `@route(rule, methods)`; a handler takes a `Ctx`
plus the rule's values and returns a dict/list (200 JSON), None (200 empty body, as Harbor
answers updates and deletes), or a werkzeug Response (e.g. `created(...)`).
"""

import json
from urllib.parse import unquote

from werkzeug.wrappers import Response

from .errors import bad_request, not_found
from .validate import Body

API = "/api/v2.0"
ROUTES = []  # (rule, methods, handler, options)


def route(rule, methods=("GET",), prefix=API, tx=True, auth=True):
    """Register a handler. tx=False: the handler opens its own transactions (streaming).
    auth=False: no credential check (the handler reads the Authorization header itself)."""

    def register(handler):
        ROUTES.append((prefix + rule, tuple(methods), handler, {"tx": tx, "auth": auth}))
        return handler

    return register


def json_response(body, status=200, headers=None):
    data = json.dumps(body)
    response = Response(data, status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def empty(status=200, headers=None):
    response = Response(b"", status=status)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def created(path, body=None):
    """201 with Location (path under /api/v2.0) and an empty body, like Harbor."""
    response = Response(b"" if body is None else json.dumps(body), status=201,
                        mimetype="application/json" if body is not None else None)
    response.headers["Location"] = API + path
    return response


def listing(items, headers):
    return json_response(items, headers=headers)


class Ctx:
    """What a handler needs: the request, the transaction, the caller and the emulator."""

    def __init__(self, emulator, request, tx, principal):
        self.emulator = emulator
        self.request = request
        self.tx = tx
        self.principal = principal
        self._body = None

    @property
    def args(self):
        return self.request.args

    def body(self, required=True):
        if self._body is None:
            self._body = Body.of(self.request, required)
        return self._body

    def bool_arg(self, name, default=False):
        raw = self.request.args.get(name)
        if raw is None or raw == "":
            return default
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise bad_request(f"{name} in query must be of type boolean: \"{raw}\"")

    def int_arg(self, name, default=None):
        raw = self.request.args.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise bad_request(f"{name} in query must be of type int64: \"{raw}\"") from None

    # -- lookups shared by many resources ------------------------------------------
    def project(self, name_or_id):
        """Resolve {project_name_or_id}: a number is an id unless X-Is-Resource-Name: true."""
        by_name = self.request.headers.get("X-Is-Resource-Name", "").lower() == "true"
        project = None
        if not by_name and name_or_id.isdigit():
            project = self.tx.get("project", int(name_or_id))
        else:
            project = self.tx.get_by_name("project", name_or_id)
        if project is None:
            raise not_found(f"project {name_or_id} not found")
        return project

    def int_id(self, raw, what):
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise bad_request(f"{what} in path must be of type int64: \"{raw}\"") from None
        if value <= 0:
            raise bad_request(f"{what} in path should be greater than or equal to 1")
        return value


def repo_name(raw):
    """Harbor wants repository names in paths URL-encoded twice (a%252Fb); undo the second."""
    return unquote(raw)
