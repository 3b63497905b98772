"""The CNCF Distribution registry behind the emulator (LAB ONLY).

attach() starts Debian's `docker-registry` (Distribution 2.8) on a free loopback port with
its storage under <data_dir>/registry, or uses --registry-url, and sets `emulator.registry`.
Push events reach the emulator through Distribution's notifications, POSTed to a small
loopback receiver of our own (the emulator's own URL is not known yet when the registry
starts); an external registry can POST the same envelope to /lab/registry-events.

Below the registry: Harbor's registry front, i.e. /service/token (HMAC-signed bearer
tokens) and the /v2 proxy applying Harbor's authorization before streaming to Distribution.
Its routes register when resources/artifacts.py imports this module.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import traceback
from urllib.parse import quote

import requests
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Response

from .errors import HarborError
from .registry_client import MANIFEST_TYPES, RegistryClient, RegistryError
from .store import Duplicate
from .web import json_response, route

BINARY = "docker-registry"
START_TIMEOUT = 15
CHUNK = 1 << 16
READ_ONLY_MESSAGE = "The system is in read only mode. Any modification is prohibited."


# =====================================================================================
# the registry process and what the emulator asks of it
# =====================================================================================
def attach(emulator, start_registry):
    emulator.registry = None
    settings = emulator.settings
    if settings.registry_url:
        storage = getattr(settings, "registry_storage", None)  # optional: the shared storage root, if mounted here
        emulator.registry = Registry(settings.registry_url, storage_root=storage)
    elif start_registry:
        emulator.registry = start_local(emulator)


def registry_config(port, storage_root, notify_url=None, http_secret=None):
    """Distribution's config.yml for the lab (also usable by lab scripts running a shared registry)."""
    lines = [
        "version: 0.1",
        "log:", "  level: info", "  fields:", "    service: registry",
        "storage:", "  filesystem:", f"    rootdirectory: {json.dumps(storage_root)}", "  delete:", "    enabled: true",
        "  maintenance:", "    uploadpurging:", "      enabled: false",
        "http:", f"  addr: 127.0.0.1:{port}", f"  secret: {http_secret or secrets.token_hex(16)}",
        "  headers:", "    X-Content-Type-Options: [nosniff]",
    ]
    # no blob descriptor cache: garbage-collect runs beside the server and must not leave it stale
    if notify_url:
        lines += ["notifications:", "  endpoints:", "    - name: harbor-emulator",
                  f"      url: {json.dumps(notify_url)}",
                  "      timeout: 5s", "      threshold: 5", "      backoff: 1s",
                  "      ignoredmediatypes: [application/octet-stream]", "      ignore:", "        actions: [pull]"]
    return "\n".join(lines) + "\n"


def start_local(emulator):
    binary = shutil.which(BINARY)
    if binary is None:
        raise RuntimeError(f"{BINARY} (CNCF Distribution) is not installed; install Debian's docker-registry "
                           "package or run with --no-registry / --registry-url")
    data_dir = emulator.settings.data_dir
    storage = os.path.join(data_dir, "registry")
    os.makedirs(storage, exist_ok=True)
    receiver = EventReceiver(emulator)
    emulator.background.append(receiver.stop)
    secret = _persistent_secret(os.path.join(data_dir, "registry-http-secret"))
    config_path = os.path.join(data_dir, "registry-config.yml")
    log_path = os.path.join(data_dir, "registry.log")
    last_error = None
    for _ in range(3):  # a free port can be taken between probing and binding: try again
        port = _free_port()
        with open(config_path, "w") as handle:
            handle.write(registry_config(port, storage, receiver.url, secret))
        registry = Registry(f"http://127.0.0.1:{port}", storage_root=storage, config_path=config_path,
                            notifications=True, binary=binary)
        try:
            registry.start(log_path)
        except RuntimeError as exc:
            last_error = exc
            continue
        emulator.background.append(registry.stop)
        return registry
    raise last_error


def _persistent_secret(path):
    if not os.path.exists(path):
        with open(path, "w") as handle:
            handle.write(secrets.token_hex(16))
    with open(path) as handle:
        return handle.read().strip()


def _die_with_parent():
    """On Linux, have the registry terminated if the emulator is killed (no orphans after kill -9).
    The kernel ties this to the starting thread, so only when started from the main thread."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None

    def set_parent_death_signal():
        import ctypes
        import signal

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass

    return set_parent_death_signal


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Registry:
    """The Distribution registry: process control, health, and a read-only view of its content.

    With `storage_root` (the registry started here, or a shared storage mounted here) the
    content is read from Distribution's filesystem layout, which also lists untagged
    manifests; otherwise through the HTTP API."""

    def __init__(self, url, storage_root=None, config_path=None, notifications=False, binary=BINARY):
        self.url = url.rstrip("/")
        self.storage_root = storage_root
        self.config_path = config_path
        self.notifications = notifications
        self.binary = binary
        self.process = None
        self.session = requests.Session()  # the /v2 proxy's connection pool to the registry
        self.session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=64))

    # -- process ----------------------------------------------------------------------
    def start(self, log_path):
        log = open(log_path, "ab")
        try:
            self.process = subprocess.Popen([self.binary, "serve", self.config_path], stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            preexec_fn=_die_with_parent())
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.binary} exited with {self.process.returncode}: {_tail(log_path)}")
            if self.healthy(timeout=0.5):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.binary} did not answer within {START_TIMEOUT}s: {_tail(log_path)}")

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def healthy(self, timeout=3):
        try:
            return requests.get(self.url + "/v2/", timeout=timeout).status_code in (200, 401)
        except requests.RequestException:
            return False

    def client(self):
        """A RegistryClient to the raw registry (no Harbor authorization)."""
        return RegistryClient(self.url)

    # -- content ------------------------------------------------------------------------
    @property
    def _v2(self):
        return os.path.join(self.storage_root, "docker", "registry", "v2")

    def _repo_dir(self, repo):
        return os.path.join(self._v2, "repositories", *repo.split("/"))

    def repositories(self, project=None):
        """Names of the repositories that hold manifests (under `project` when given)."""
        if self.storage_root:
            return self._fs_repositories(project)
        names = self.client().catalog()
        if project:
            names = [n for n in names if n.startswith(project + "/")]
        return [n for n in names if self.client().tags(n)]

    def _fs_repositories(self, project):
        top = os.path.join(self._v2, "repositories")
        start = os.path.join(top, project) if project else top
        names = []
        for dirpath, dirnames, _ in os.walk(start):
            if "_manifests" in dirnames:
                names.append(os.path.relpath(dirpath, top).replace(os.sep, "/"))
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("_"))
        return sorted(n for n in names if "/" in n)

    def repo_state(self, repo, known_digests=()):
        """({tag: digest}, {digests}) of `repo`, or None when the registry does not know it."""
        if self.storage_root:
            return self._fs_repo_state(repo)
        client = self.client()
        tags = {tag: client.head_manifest(repo, tag) for tag in client.tags(repo)}
        tags = {tag: digest for tag, digest in tags.items() if digest}
        digests = set(tags.values()) | {d for d in known_digests if d not in tags.values()
                                        and client.head_manifest(repo, d)}
        if not digests and repo not in client.catalog():
            return None
        return tags, digests

    def _fs_repo_state(self, repo):
        manifests = os.path.join(self._repo_dir(repo), "_manifests")
        if not os.path.isdir(manifests):
            return None
        tags = {}
        tags_dir = os.path.join(manifests, "tags")
        for tag in _listdir(tags_dir):
            link = _read(os.path.join(tags_dir, tag, "current", "link"))
            if link:
                tags[tag] = link.decode().strip()
        revisions = os.path.join(manifests, "revisions", "sha256")
        digests = {"sha256:" + h for h in _listdir(revisions) if os.path.exists(os.path.join(revisions, h, "link"))}
        return {t: d for t, d in tags.items() if d in digests}, digests

    def tag_digest(self, repo, tag):
        if self.storage_root:
            link = _read(os.path.join(self._repo_dir(repo), "_manifests", "tags", tag, "current", "link"))
            return link.decode().strip() if link else None
        return self.client().head_manifest(repo, tag)

    def wait_for_tag(self, repo, tag, digest, timeout=2.0):
        deadline = time.monotonic() + timeout
        while self.tag_digest(repo, tag) != digest and time.monotonic() < deadline:
            time.sleep(0.02)

    def manifest_bytes(self, repo, digest):
        if self.storage_root:
            data = _read(self._blob_path(digest))
            if data is not None:
                return data
        return self.client().get_manifest(repo, digest)[0]

    def blob_bytes(self, repo, digest):
        if self.storage_root:
            data = _read(self._blob_path(digest))
            if data is not None:
                return data
        return self.client().get_blob(repo, digest)

    def _blob_path(self, digest):
        hexpart = digest.split(":", 1)[1]
        return os.path.join(self._v2, "blobs", "sha256", hexpart[:2], hexpart, "data")

    def untag(self, repo, tag):
        """Remove a tag (Distribution 2.8 has no tag DELETE); False when only the API can forget it."""
        if not self.storage_root:
            return False
        shutil.rmtree(os.path.join(self._repo_dir(repo), "_manifests", "tags", tag), ignore_errors=True)
        return True

    def remove_repository(self, repo):
        """Forget an (emptied) repository: its links go, blobs stay until garbage collection."""
        if not self.storage_root:
            return
        path = self._repo_dir(repo)
        for sub in ("_manifests", "_layers", "_uploads"):
            shutil.rmtree(os.path.join(path, sub), ignore_errors=True)
        top = os.path.join(self._v2, "repositories")
        while path != top and os.path.isdir(path) and not os.listdir(path):
            os.rmdir(path)
            path = os.path.dirname(path)

    # -- facts the API shows --------------------------------------------------------------
    def repo_count(self, project_name):
        return len(self.repositories(project_name))

    def storage_used(self, project_name):
        """Bytes of the unique manifests and blobs referenced by the project's repositories."""
        sizes = {}
        for repo in self.repositories(project_name):
            state = self.repo_state(repo)
            for digest in state[1] if state else ():
                self._add_sizes(repo, digest, sizes)
        return sum(sizes.values())

    def _add_sizes(self, repo, digest, sizes):
        try:
            raw = self.manifest_bytes(repo, digest)
            doc = json.loads(raw)
        except (RegistryError, ValueError):
            return  # vanished meanwhile, or not a manifest: nothing to count
        sizes[digest] = len(raw)
        if not isinstance(doc, dict):
            return
        for item in [doc.get("config")] + list(doc.get("layers") or []):
            if isinstance(item, dict) and item.get("digest") and not item.get("urls"):
                sizes[item["digest"]] = int(item.get("size") or 0)

    # -- garbage collection ---------------------------------------------------------------
    def garbage_collect(self, dry_run=False, delete_untagged=False):
        """Run `docker-registry garbage-collect`; returns (log text, bytes freed or to be freed).

        Untagged manifests are deleted by us first (Harbor deletes untagged artifacts but
        keeps the children of a tagged index, which Distribution's --delete-untagged does not)."""
        if not self.config_path:
            raise RuntimeError("garbage collection needs the registry this emulator started")
        log = []
        untagged = self.untagged_manifests() if delete_untagged else []
        before = _tree_size(self.storage_root)
        for repo, digest in untagged:
            log.append(f"{repo}: {'would delete' if dry_run else 'deleting'} untagged manifest {digest}")
            if not dry_run:
                try:
                    self.client().delete_manifest(repo, digest)
                except RegistryError as exc:
                    log.append(f"{repo}: failed to delete {digest}: {exc}")
        command = [self.binary, "garbage-collect"] + (["--dry-run"] if dry_run else []) + [self.config_path]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        output = result.stdout + result.stderr
        log.append(output.strip())
        if result.returncode != 0:
            raise RuntimeError(f"garbage-collect failed ({result.returncode}): {output[-2000:]}")
        if dry_run:
            eligible = set(re.findall(r"blob eligible for deletion: (sha256:[0-9a-f]{64})", output))
            eligible |= self._freed_by_deleting(untagged)
            freed = sum(_size(self._blob_path(d)) for d in eligible)
        else:
            freed = max(before - _tree_size(self.storage_root), 0)
        return "\n".join(line for line in log if line), freed

    def untagged_manifests(self):
        """[(repo, digest)] of manifests without a tag that no other manifest of the repo refers to."""
        out = []
        for repo in self.repositories():
            state = self.repo_state(repo)
            if not state:
                continue
            tags, digests = state
            referenced = set()
            for digest in digests:
                referenced |= set(_children(self.manifest_bytes(repo, digest)))
            out += [(repo, d) for d in sorted(digests) if d not in tags.values() and d not in referenced]
        return out

    def _freed_by_deleting(self, untagged):
        """Blobs only the given manifests (and their children) hold: what a real run would free."""
        doomed = set(untagged)
        kept, dropped = {}, {}
        for repo in self.repositories():
            state = self.repo_state(repo)
            for digest in (state[1] if state else ()):
                target = dropped if (repo, digest) in doomed else kept
                self._add_sizes(repo, digest, target)
        return set(dropped) - set(kept)


def _children(raw):
    try:
        doc = json.loads(raw)
    except ValueError:
        return []
    if not isinstance(doc, dict):
        return []
    return [m.get("digest") for m in doc.get("manifests") or [] if isinstance(m, dict)]


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _tree_size(root):
    total = 0
    for dirpath, _, filenames in os.walk(root):
        total += sum(_size(os.path.join(dirpath, name)) for name in filenames)
    return total


def _tail(path, lines=20):
    data = _read(path) or b""
    return b"\n".join(data.splitlines()[-lines:]).decode(errors="replace")


# =====================================================================================
# notifications: Distribution's event envelope -> artifacts bookkeeping + emulator.publish
# =====================================================================================
class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code="-", size="-"):
        pass


class EventReceiver:
    """A loopback HTTP endpoint for Distribution's notifications (bound before the registry starts)."""

    def __init__(self, emulator):
        self.emulator = emulator
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/events"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def _app(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        handle_envelope(self.emulator, environ["wsgi.input"].read(length) if length else b"")
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def handle_envelope(emulator, raw):
    """Record and publish the manifest pushes of one envelope. Never raises: Distribution
    would otherwise retry the envelope forever and hold back the ones after it."""
    try:
        events = json.loads(raw or b"{}").get("events") or []
    except (ValueError, AttributeError):
        return 0
    handled = 0
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("target"), dict):
            continue
        target = event["target"]
        if event.get("action") != "push" or target.get("mediaType") not in MANIFEST_TYPES:
            continue  # deletions are published where they are made (API, /v2 proxy)
        try:
            manifest_pushed(emulator, target.get("repository"), target.get("digest"), target.get("tag"),
                            target.get("mediaType"))
            handled += 1
        except Exception:
            traceback.print_exc(file=sys.stderr)
    return handled


def manifest_pushed(emulator, repository, digest, tag, media_type):
    from .resources import artifacts

    if not repository or not digest:
        return
    if tag and emulator.registry is not None:
        # Distribution notifies before it links the tag: give the link a moment to appear
        emulator.registry.wait_for_tag(repository, tag, digest)
    artifacts.reconcile_repository(emulator, repository)
    emulator.publish({"action": "push", "repository": repository, "digest": digest, "tag": tag or None,
                      "media_type": media_type})


@route("/lab/registry-events", methods=["POST"], prefix="", tx=False, auth=False)
def lab_registry_events(ctx):
    """LAB ONLY: Distribution notification endpoint for a registry given with --registry-url."""
    return {"handled": handle_envelope(ctx.emulator, ctx.request.get_data())}


# =====================================================================================
# tokens: /service/token issues HMAC-signed bearer tokens the /v2 front verifies
# =====================================================================================
TOKEN_TTL = 1800
_SECRET_MEMO = {}  # the signing key never changes once stored, so remembering it is safe


def token_key(emulator):
    """The signing key, shared by every emulator process of one database."""
    key = _SECRET_MEMO.get(id(emulator.store))
    if key:
        return key
    for _ in range(2):
        try:
            with emulator.store.tx() as tx:
                doc = tx.get("registry_token_key", 1)
                if doc is None:
                    doc = {"key": secrets.token_hex(32)}
                    tx.insert("registry_token_key", 1, doc, unique=["1"])
            break
        except Duplicate:
            continue  # another process stored it first: read theirs
    _SECRET_MEMO[id(emulator.store)] = doc["key"].encode()
    return _SECRET_MEMO[id(emulator.store)]


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(emulator, subject, access, service):
    now = int(time.time())
    payload = _b64(json.dumps({"sub": subject, "aud": service, "iat": now, "exp": now + TOKEN_TTL,
                               "access": access}).encode())
    signature = _b64(hmac.new(token_key(emulator), payload.encode(), hashlib.sha256).digest())
    return payload + "." + signature, now


def read_token(emulator, token):
    """The payload of a valid, unexpired token, or None."""
    payload, _, signature = token.partition(".")
    expected = _b64(hmac.new(token_key(emulator), payload.encode(), hashlib.sha256).digest())
    if not signature or not hmac.compare_digest(signature, expected):
        return None
    try:
        claims = json.loads(_unb64(payload))
    except ValueError:
        return None
    return claims if claims.get("exp", 0) > time.time() else None


def parse_scope(scope):
    """'repository:p/r:pull,push' -> ("repository", "p/r", ["pull", "push"]), or None."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name or not actions:
        return None
    return kind, name, [a for a in actions.split(",") if a]


def granted_actions(tx, principal, kind, name, wanted):
    if kind == "registry":
        return ["*"] if name == "catalog" and principal.sysadmin else []
    if kind != "repository":
        return []
    project = tx.get_by_name("project", name.split("/")[0])
    if project is None:
        return []
    expanded = ["pull", "push", "delete"] if "*" in wanted else wanted
    return [a for a in expanded if a in ("pull", "push", "delete") and principal.can(tx, project, "repository", a)]


@route("/service/token", prefix="", tx=False, auth=False)
def token_service(ctx):
    scopes = [s for raw in ctx.request.args.getlist("scope") for s in raw.split()]
    service = ctx.request.args.get("service") or ctx.emulator.settings.registry_service
    with ctx.emulator.store.tx() as tx:
        principal = ctx.emulator.principal(tx, ctx.request)  # bad credentials: 401
        access = []
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None:
                raise HarborError(400, f"invalid scope: {scope}")
            kind, name, wanted = parsed
            access.append({"type": kind, "name": name,
                           "actions": granted_actions(tx, principal, kind, name, wanted)})
    token, issued = make_token(ctx.emulator, principal.username, access, service)
    issued_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(issued))
    return {"token": token, "access_token": token, "expires_in": TOKEN_TTL, "issued_at": issued_at}


# =====================================================================================
# the /v2 front: Harbor's authorization, then a streaming proxy to Distribution
# =====================================================================================
NAME = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPO_NAME = re.compile(rf"^{NAME}(?:/{NAME})+$")
REPO_PATH = re.compile(r"^(?P<name>.+?)/(?P<kind>manifests|blobs|tags)/(?P<rest>.*)$")
TAG = re.compile(r"^[\w][\w.-]{0,127}$")
DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$")
METHOD_ACTIONS = {"GET": "pull", "HEAD": "pull", "POST": "push", "PUT": "push", "PATCH": "push",
                  "DELETE": "delete"}
HOP_HEADERS = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
               "transfer-encoding", "upgrade", "host", "content-length", "authorization"}


def registry_error(status, code, message, headers=None):
    body = {"errors": [{"code": code, "message": message}]}
    return json_response(body, status, {"Docker-Distribution-Api-Version": "registry/2.0", **(headers or {})})


class Denied(Exception):
    def __init__(self, response):
        super().__init__("denied")
        self.response = response


class Caller:
    """Who calls /v2: a principal (basic auth or anonymous) or the grants of a bearer token."""

    def __init__(self, principal=None, token=None, sent_credentials=False):
        self.principal = principal
        self.token = token
        self.sent_credentials = sent_credentials

    @property
    def authenticated(self):
        if self.token is not None:
            return self.token.get("sub") != "anonymous"
        return self.principal is not None and not self.principal.anonymous

    def may(self, tx, project, repo, action):
        if self.token is not None:
            return any(a.get("type") == "repository" and a.get("name") == repo and action in a.get("actions", [])
                       for a in self.token.get("access") or [])
        return self.principal.can(tx, project, "repository", action)

    def may_list_catalog(self):
        if self.token is not None:
            return any(a.get("type") == "registry" and a.get("name") == "catalog"
                       for a in self.token.get("access") or [])
        return self.principal.sysadmin


def challenge(emulator, request, scopes=()):
    """Harbor answers a client that sent credentials with Basic, a bare CLI with the token service."""
    if request.headers.get("Authorization"):
        return 'Basic realm="harbor"'
    settings = emulator.settings
    value = f'Bearer realm="{settings.external_url}/service/token",service="{settings.registry_service}"'
    if scopes:
        value += f',scope="{" ".join(scopes)}"'
    return value


def unauthorized(emulator, request, message, scopes=()):
    return Denied(registry_error(401, "UNAUTHORIZED", message,
                                 {"WWW-Authenticate": challenge(emulator, request, scopes)}))


def identify(emulator, tx, request):
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        claims = read_token(emulator, header[7:].strip())
        if claims is None:
            raise unauthorized(emulator, request, "invalid or expired token")
        return Caller(token=claims, sent_credentials=True)
    try:
        principal = emulator.principal(tx, request)
    except HarborError:
        raise unauthorized(emulator, request, "invalid username or password") from None
    return Caller(principal=principal, sent_credentials=bool(header))


def scope_text(repo, action):
    return f"repository:{repo}:{'pull,push' if action == 'push' else action}"


def authorize(emulator, tx, request, rest):
    """Harbor's rules for one /v2 request; returns (repository or None, action) or raises Denied."""
    method = request.method
    if method not in ("GET", "HEAD") and emulator.config_value(tx, "read_only"):
        raise Denied(registry_error(403, "DENIED", READ_ONLY_MESSAGE))
    caller = identify(emulator, tx, request)
    if rest == "":
        if not caller.authenticated:
            raise unauthorized(emulator, request, "unauthorized")
        return None, None
    if rest.rstrip("/") == "_catalog":
        if not caller.may_list_catalog():
            raise Denied(registry_error(401, "UNAUTHORIZED", "unauthorized to list catalog",
                                        {"WWW-Authenticate": 'Basic realm="harbor"'}))
        return None, None
    match = REPO_PATH.match(rest)
    if match is None or method not in METHOD_ACTIONS:
        raise Denied(registry_error(404, "NOT_FOUND", f"/v2/{rest} not found"))
    repo, action = match.group("name"), METHOD_ACTIONS[method]
    if not REPO_NAME.match(repo):
        raise Denied(registry_error(400, "NAME_INVALID", f"invalid repository name: {repo} "
                                    "(Harbor wants project/repository)"))
    reference_error = bad_reference(match.group("kind"), match.group("rest"))
    if reference_error is not None:
        raise Denied(reference_error)
    accesses = [(repo, action)]
    mount_from = request.args.get("from") if method == "POST" and request.args.get("mount") else None
    if mount_from:
        accesses.append((mount_from, "pull"))
    scopes = [scope_text(r, a) for r, a in accesses]
    if method == "HEAD" and not request.headers.get("Authorization"):
        raise unauthorized(emulator, request, "authorize header needed to send HEAD to repository", scopes)
    for name, wanted in accesses:
        project = tx.get_by_name("project", name.split("/")[0])
        if project is None:
            raise Denied(registry_error(404, "NOT_FOUND", f"project {name.split('/')[0]} not found"))
        if not caller.may(tx, project, name, wanted):
            raise unauthorized(emulator, request, f"unauthorized to access repository: {name}, action: {wanted}",
                               scopes)
    if match.group("kind") == "manifests" and method in ("PUT", "DELETE"):
        check_immutable(tx, repo, match.group("rest"))
    return repo, (match.group("kind"), match.group("rest"))


def check_immutable(tx, repo, reference):
    """Harbor refuses to overwrite an immutable tag or delete an artifact that carries one."""
    from .resources import artifacts

    project = tx.get_by_name("project", repo.split("/")[0])
    record = tx.get_by_name("repository", repo)
    if record is None:
        return
    if ":" in reference:
        artifact = tx.get_by_name("artifact", reference, parent=record.oid)
        names = [t["name"] for t in tx.list("tag", parent=record.oid)
                 if artifact and t["artifact_id"] == artifact["id"]]
    else:
        names = [reference] if tx.get_by_name("tag", reference, parent=record.oid) else []
    for name in names:
        if artifacts.tag_immutable(tx, project, repo, name):
            raise Denied(registry_error(412, "PRECONDITION", f"Failed to process request due to '{repo}:{name}' "
                                        "configured as immutable."))


def bad_reference(kind, rest):
    """Distribution 2.8 answers 500 to a malformed reference; Harbor refuses it with a 400 first."""
    if kind == "manifests" and not (TAG.match(rest) or DIGEST.match(rest)):
        return registry_error(400, "TAG_INVALID" if ":" not in rest else "DIGEST_INVALID",
                              f"invalid reference: {rest}")
    if kind == "blobs" and not rest.startswith("uploads") and not DIGEST.match(rest):
        return registry_error(400, "DIGEST_INVALID", f"invalid digest: {rest}")
    return None


@route("/v2/", methods=["GET", "HEAD"], prefix="", tx=False, auth=False)
def v2_root(ctx):
    return v2_proxy(ctx, "")


@route("/v2/<path:rest>", methods=["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"], prefix="", tx=False,
       auth=False)
def v2_proxy(ctx, rest):
    emulator, request = ctx.emulator, ctx.request
    registry = emulator.registry
    if registry is None:
        return registry_error(503, "UNAVAILABLE", "this emulator runs without a registry (--no-registry)")
    try:
        with emulator.store.tx() as tx:
            repo, target = authorize(emulator, tx, request, rest)
    except Denied as denied:
        return denied.response
    upstream = forward(registry, request, "/v2/" + rest)
    if repo is not None and target[0] == "manifests":
        after_manifest_call(emulator, registry, request, repo, target[1], upstream)
    return relay(emulator, registry, request, upstream)


class _Body:
    """The request body as a sized stream, so the registry gets a Content-Length and no chunking."""

    def __init__(self, stream, length):
        self.stream, self.remaining = stream, length

    def __len__(self):
        return self.remaining

    def read(self, size=CHUNK):
        data = self.stream.read(min(size if size and size > 0 else CHUNK, self.remaining))
        self.remaining -= len(data)
        return data

    def __iter__(self):
        while self.remaining > 0:
            data = self.read(CHUNK)
            if not data:
                return
            yield data


def forward(registry, request, path):
    url = registry.url + quote(path, safe="/:@")
    query = request.environ.get("QUERY_STRING")
    if query:
        url += "?" + query
    # X-Forwarded-* of a proxy in front of the emulator (nginx on a harbor_node) describe the
    # emulator's address, not the private registry's: forwarded, they make Distribution answer
    # uploads with a Location that relay() cannot map back
    headers = {k: v for k, v in request.headers.items()
               if k.lower() not in HOP_HEADERS and not k.lower().startswith("x-forwarded-")}
    body = None
    if request.method in ("PUT", "POST", "PATCH"):
        length = request.content_length
        if length:
            body = _Body(request.stream, length)
            headers["Content-Length"] = str(length)
        elif request.environ.get("wsgi.input_terminated"):  # chunked upload from the client
            body = iter(lambda: request.stream.read(CHUNK), b"")
        else:
            body = b""
    try:
        return registry.session.request(request.method, url, data=body, headers=headers, stream=True,
                                        allow_redirects=False, timeout=(5, 600))
    except requests.RequestException as exc:
        raise HarborError(502, f"the registry is not reachable: {exc}") from None


def relay(emulator, registry, request, upstream):
    headers = []
    for key, value in upstream.raw.headers.items():
        if key.lower() in HOP_HEADERS - {"content-length"}:
            continue
        if key.lower() == "location" and value.startswith(registry.url):
            value = emulator.settings.external_url + value[len(registry.url):]
        headers.append((key, value))
    if request.method == "HEAD" or upstream.status_code in (204, 304):
        upstream.close()
        response = Response(b"", status=upstream.status_code, headers=headers)
        if "Content-Length" in upstream.headers:  # a HEAD tells the size of what a GET would send
            response.headers["Content-Length"] = upstream.headers["Content-Length"]
        return response

    def stream():
        try:
            yield from upstream.raw.stream(CHUNK, decode_content=False)
        finally:
            upstream.close()

    return Response(stream(), status=upstream.status_code, headers=headers, direct_passthrough=True)


def after_manifest_call(emulator, registry, request, repo, reference, upstream):
    """Harbor's bookkeeping around manifests: pull counts, deletions, and pushes when the
    registry sends no notifications to us."""
    from .resources import artifacts

    digest = upstream.headers.get("Docker-Content-Digest") or (reference if ":" in reference else None)
    try:
        if request.method == "GET" and upstream.status_code == 200 and digest:
            artifacts.record_pull(emulator, repo, digest, None if ":" in reference else reference)
        elif request.method == "DELETE" and upstream.status_code == 202:
            artifacts.forget_artifact(emulator, repo, reference)
        elif request.method == "PUT" and upstream.status_code == 201 and not registry.notifications:
            media_type = request.headers.get("Content-Type", "").split(";")[0]
            manifest_pushed(emulator, repo, digest, None if ":" in reference else reference, media_type)
    except Exception:  # bookkeeping must never break the registry protocol
        traceback.print_exc(file=sys.stderr)

