"""The WSGI application: authentication, CSRF, transactions, errors, request counters."""

import collections
import hashlib
import hmac
import secrets
import sys
import threading
import traceback
import uuid

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from . import auth, resources  # noqa: F401  (resources registers the routes)
from .errors import HarborError
from .resources import auditlogs
from .store import Duplicate
from .web import ROUTES, Ctx, empty, json_response

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class Settings:
    def __init__(self, admin_password="Harbor12345", external_url="http://127.0.0.1:8080",
                 registry_url=None, data_dir=None, registry_service="harbor-registry"):
        self.admin_password = admin_password
        self.external_url = external_url.rstrip("/")
        self.registry_url = registry_url.rstrip("/") if registry_url else None
        self.data_dir = data_dir
        self.registry_service = registry_service


class RequestLog:
    """LAB ONLY: counts of requests by method and route since the last reset (per process)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = collections.Counter()

    def add(self, method, rule):
        with self._lock:
            self._counts[f"{method} {rule}"] += 1

    def reset(self):
        with self._lock:
            self._counts.clear()

    def report(self):
        with self._lock:
            counts = dict(self._counts)
        writes = sum(n for key, n in counts.items() if key.split(" ", 1)[0] not in SAFE_METHODS)
        return {"total": sum(counts.values()), "writes": writes, "by_route": counts}


_ROUTING = None


def routing():
    """The URL map, compiled once per process (werkzeug's rule compilation is slow and the
    routes never change after import)."""
    global _ROUTING
    if _ROUTING is None or _ROUTING[2] != len(ROUTES):  # rebuilt when a route is added later
        handlers = {}
        rules = []
        # explicit HEAD handlers first: werkzeug also answers HEAD with a GET rule
        ordered = sorted(ROUTES, key=lambda r: "HEAD" not in r[1])
        for index, (rule, methods, handler, options) in enumerate(ordered):
            endpoint = str(index)
            handlers[endpoint] = (rule, handler, options)
            rules.append(Rule(rule, methods=list(methods), endpoint=endpoint, strict_slashes=False))
        _ROUTING = (Map(rules, merge_slashes=False), handlers, len(ROUTES))
    return _ROUTING[0], _ROUTING[1]


class Emulator:
    def __init__(self, store, settings):
        self.store = store
        self.settings = settings
        self.requests = RequestLog()
        self.csrf_secret = secrets.token_bytes(16)
        self.registry = None  # set by the server when a Distribution registry is attached
        self.listeners = []  # callables(event dict) for registry events (replication, audit)
        self.url_map, self._handlers = routing()
        self._matched = {}  # (method, script name, path) -> (endpoint, values): see match()
        from . import bootstrap

        bootstrap.ensure(self)

    def publish(self, event):
        """Registry events ({"action": "push"|"delete", "repository", "digest", "tag", ...}) to listeners."""
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:
                traceback.print_exc(file=sys.stderr)

    # -- facts other parts provide ---------------------------------------------------
    def config_value(self, tx, key):
        from .resources import system

        return system.value(tx, key)

    def repo_count(self, project_name):
        return self.registry.repo_count(project_name) if self.registry else 0

    def storage_used(self, project_name):
        return self.registry.storage_used(project_name) if self.registry else 0

    def registry_healthy(self):
        return self.registry.healthy() if self.registry else True

    def disk_usage(self):
        import shutil

        usage = shutil.disk_usage(self.settings.data_dir or "/")
        return usage.total, usage.free

    # -- WSGI ----------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    MATCHED_MAX = 20000

    def match(self, environ):
        """The route of a request. werkzeug's binding and matching were an eighth of a small GET;
        the routes never change after start, so the match of a (method, path) is remembered.
        Only matches are: a 404/405 goes through werkzeug every time."""
        key = (environ["REQUEST_METHOD"], environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", ""))
        found = self._matched.get(key)
        if found is None:
            found = self.url_map.bind_to_environ(environ).match()
            if len(self._matched) >= self.MATCHED_MAX:
                self._matched.clear()  # ids in paths make the keys unbounded: start over
            self._matched[key] = found
        return found

    def dispatch(self, request):
        request_id = str(uuid.uuid4())
        rule_text = request.path
        try:
            endpoint, values = self.match(request.environ)
            rule_text, handler, options = self._handlers[endpoint]
            self.csrf_check(request)
            response = self.run(request, handler, options, values)
        except NotFound:
            response = json_response(HarborError(404, f"{request.path} not found").body(), 404)
        except MethodNotAllowed:
            response = json_response(HarborError(405, f"method {request.method} not allowed").body(), 405)
        except HarborError as exc:
            response = self.error_response(exc)
        except HTTPException as exc:
            response = json_response(HarborError(exc.code or 500, exc.description or "error").body(), exc.code or 500)
        except Exception:  # a bug of ours: Harbor hides 5xx details, and so do we (the log keeps them)
            traceback.print_exc(file=sys.stderr)
            response = json_response(HarborError(500, "internal server error").body(), 500)
        if not rule_text.startswith("/lab/"):
            self.requests.add(request.method, rule_text)
        response.headers["X-Request-Id"] = request_id
        if rule_text.startswith("/api/") and "sid" not in request.cookies:
            # Harbor hands out a session cookie; a client that sends it back on a write
            # without the CSRF token is refused (see csrf_check).
            response.set_cookie("sid", secrets.token_hex(16), httponly=True, path="/")
        if rule_text.startswith("/api/") and request.method in SAFE_METHODS:
            sid = request.cookies.get("sid")
            if sid:
                response.headers["X-Harbor-Csrf-Token"] = self.csrf_token(sid)
        return response

    def error_response(self, exc):
        response = json_response(exc.body(), exc.status)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="harbor"'
        return response

    def csrf_token(self, sid):
        return hmac.new(self.csrf_secret, sid.encode(), hashlib.sha256).hexdigest()

    def csrf_check(self, request):
        if request.method in SAFE_METHODS or not request.path.startswith("/api/"):
            return
        sid = request.cookies.get("sid")
        if not sid:
            return
        token = request.headers.get("X-Harbor-Csrf-Token", "")
        if not hmac.compare_digest(token, self.csrf_token(sid)):
            raise HarborError(403, "CSRF token invalid")

    def run(self, request, handler, options, values):
        if not options["tx"]:
            principal = self.principal_in_own_tx(request) if options["auth"] else None
            pending = self.audit_begin_in_own_tx(request)
            response = self._respond(handler(Ctx(self, request, None, principal), **values))
            self.audit_finish_in_own_tx(pending, principal, response)
            return response
        with self.store.tx() as tx:
            principal = self.principal(tx, request) if options["auth"] else None
            pending = auditlogs.begin(tx, request)
            try:
                result = handler(Ctx(self, request, tx, principal), **values)
            except Duplicate as exc:
                raise HarborError(409, f"{exc.args[0]} already exists") from None
            response = self._respond(result)
            auditlogs.finish(tx, pending, principal or auth.Principal(), response)
            return response

    # -- audit log: every successful write under /api/ (see resources/auditlogs.py) ----
    def audit_begin_in_own_tx(self, request):
        if not auditlogs.audited(request):
            return None
        with self.store.tx() as tx:
            return auditlogs.begin(tx, request)

    def audit_finish_in_own_tx(self, pending, principal, response):
        if pending is None or not 200 <= response.status_code < 300:
            return
        try:  # the write is done and committed: a failure to audit it must not fail the request
            with self.store.tx() as tx:
                auditlogs.finish(tx, pending, principal or auth.Principal(), response)
        except Exception:
            traceback.print_exc(file=sys.stderr)

    @staticmethod
    def _respond(result):
        if result is None:
            return empty()
        if isinstance(result, (dict, list)):
            return json_response(result)
        return result

    # -- authentication ----------------------------------------------------------------
    def principal_in_own_tx(self, request):
        with self.store.tx() as tx:
            return self.principal(tx, request)

    def principal(self, tx, request):
        """The caller from basic auth; bad credentials are a 401, no credentials anonymous."""
        header = request.headers.get("Authorization")
        if not header:
            return auth.Principal()
        creds = auth.parse_basic(header)
        if creds is None:
            raise HarborError(401, "UnAuthorized")
        return self.authenticate(tx, *creds)

    def authenticate(self, tx, username, password):
        if username.startswith("robot$"):
            robot = tx.get_by_name("robot", username)
            if robot and not robot.get("disable") and auth.check_secret(password, robot.get("secret_hash")) \
                    and not robot_expired(robot):
                return auth.Principal(robot=robot)
            raise HarborError(401, "UnAuthorized")
        user = tx.get_by_name("user", username)
        if user and auth.check_secret(password, user.get("password_hash")):
            return auth.Principal(user=user)
        raise HarborError(401, "UnAuthorized")


def robot_expired(robot):
    import time

    expires_at = robot.get("expires_at", -1)
    return expires_at not in (-1, None) and expires_at < time.time()
