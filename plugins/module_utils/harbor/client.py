# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one HTTP client of the collection for Harbor's /api/v2.0.

- urllib3 (the library requests is built on) with one pool of kept-alive connections per module
  run, shared by the module's threads: requests' own layer cost more CPU per call than a
  thousand-object state read can afford (1.3-1.4 ms against 0.5 ms here);
- no cookies: Harbor applies CSRF checks to requests carrying its `sid` cookie, so a cookie jar
  would break writes;
- retries with exponential backoff for connection errors and 502/503/504, on idempotent
  methods only (a POST is never repeated: it could create twice);
- pagination at page_size 100 following the `Link: <...>; rel="next"` header;
- Harbor's error body turned into one message with status, code, method, path, request id;
- new ids read from the `Location` header of a 201;
- TLS: ca_path, else REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE, else the system's trust store;
  validate_certs: false turns verification off. Proxies from the environment, per host,
  honouring NO_PROXY; both read once per client;
- the registry v2 API Harbor serves under /v2 on the same host (for copying artifacts): basic
  auth first, Docker's bearer token flow when the registry answers with a Bearer challenge,
  blobs streamed (never held in memory), manifests addressed by digest, redirects to object
  storage followed without the credentials.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import json as jsonlib
import os
import re
import time

try:
    from urllib.parse import urlencode, urlsplit, unquote
    from urllib.request import getproxies_environment, proxy_bypass_environment
except ImportError:  # pragma: no cover - Python 2 is not supported by this collection
    from urllib import urlencode, unquote, getproxies_environment, proxy_bypass_environment
    from urlparse import urlsplit

try:
    import urllib3
    from urllib3.util.retry import Retry

    HAS_URLLIB3 = True
    URLLIB3_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module through missing_required_lib
    HAS_URLLIB3 = False
    URLLIB3_IMPORT_ERROR = exc

API_PREFIX = "/api/v2.0"
PAGE_SIZE = 100
IDEMPOTENT_METHODS = ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
RETRY_STATUSES = (502, 503, 504)
MAX_REDIRECTS = 10
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
_CHARSET = re.compile(r"charset=([\w.-]+)", re.I)

# Registry v2 media types (Docker schema 2 and OCI); an index lists platform manifests.
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_LIST_V2 = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, MANIFEST_LIST_V2, OCI_MANIFEST, MANIFEST_V2))
BLOB_CHUNK = 1 << 20
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class HarborError(Exception):
    """A failed Harbor call, with everything needed to understand it in one message."""

    def __init__(self, status, method, path, message, code=None, request_id=None):
        self.status = status
        self.method = method
        self.path = path
        self.message = message
        self.code = code
        self.request_id = request_id
        super(HarborError, self).__init__(self.describe())

    def describe(self):
        where = "%s %s" % (self.method, self.path)
        if self.status is None:
            return "%s failed: %s" % (where, self.message)
        text = "%s failed with HTTP %s" % (where, self.status)
        if self.code:
            text += " %s" % self.code
        text += ": %s" % self.message
        if self.request_id:
            text += " (request id %s)" % self.request_id
        return text


class Response(object):
    """One answer: status_code, reason, headers (case-insensitive), content, text, json().
    A streamed answer's body is read from `raw` (a file-like object, bytes as sent) and must be
    close()d."""

    def __init__(self, raw):
        self.raw = raw
        self.status_code = raw.status
        self.reason = raw.reason
        self.headers = raw.headers

    @property
    def content(self):
        return self.raw.data or b""

    @property
    def text(self):
        match = _CHARSET.search(self.headers.get("Content-Type", ""))
        try:
            return self.content.decode(match.group(1) if match else "utf-8", "replace")
        except LookupError:
            return self.content.decode("utf-8", "replace")

    def json(self):
        return jsonlib.loads(self.content.decode("utf-8"))

    def close(self):
        # closed first: a connection with an unread body must not go back to the pool
        self.raw.close()
        self.raw.release_conn()


def error_from_response(response, method, path):
    code, message = None, None
    try:
        body = response.json()
        first = (body.get("errors") or [{}])[0]
        code, message = first.get("code"), first.get("message")
    except (ValueError, AttributeError, IndexError, TypeError):
        pass
    if not message:
        message = (response.text or response.reason or "no message").strip()[:500]
    return HarborError(response.status_code, method, path, message, code, response.headers.get("X-Request-Id"))


def basic_auth(username, password):
    token = base64.b64encode(("%s:%s" % (username, password or "")).encode("utf-8")).decode("ascii")
    return "Basic " + token


def with_query(url, params):
    """`url` with `params` appended (lists as repeated keys, None left out)."""
    pairs = [(key, value) for key, value in params.items() if value is not None]
    if not pairs:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(pairs, doseq=True)


def _is_tls_error(exc):
    reason = getattr(exc, "reason", None)
    return isinstance(exc, urllib3.exceptions.SSLError) or isinstance(reason, urllib3.exceptions.SSLError)


class HarborClient(object):
    """Calls Harbor's API. Paths are relative to /api/v2.0 (e.g. "/projects")."""

    def __init__(self, url, username=None, password=None, validate_certs=True, ca_path=None, timeout=30,
                 retries=3, backoff=0.5, pool_size=10):
        if not HAS_URLLIB3:
            raise RuntimeError("the Python library urllib3 (installed with requests) is required")
        self.base = url.rstrip("/")
        if self.base.endswith(API_PREFIX):
            self.base = self.base[: -len(API_PREFIX)]
        self.timeout = timeout  # seconds, for connecting and for each read
        self._timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.auth = basic_auth(username, password) if username else None
        # Our loop below retries; urllib3 only follows redirects (blob downloads redirected to object
        # storage), and drops Authorization when a redirect leaves the host.
        self._transport_retry = Retry(total=None, connect=0, read=0, redirect=MAX_REDIRECTS, status=0, other=0,
                                      raise_on_redirect=True, raise_on_status=False)
        # ca_path and validate_certs win over REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE; without ca_path the
        # environment's bundle applies (as with requests), else the system's trust store.
        if not validate_certs:
            self.tls = dict(cert_reqs="CERT_NONE")
        else:
            bundle = ca_path or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            self.tls = dict(cert_reqs="CERT_REQUIRED")
            if bundle and os.path.isdir(bundle):
                self.tls["ca_cert_dir"] = bundle
            elif bundle:
                self.tls["ca_certs"] = bundle
        self.pool_size = pool_size
        self.direct = urllib3.PoolManager(num_pools=4, maxsize=pool_size, **self.tls)
        self._proxy_managers = {}  # proxy URL -> ProxyManager
        self._routes = {}  # (scheme, host:port) -> the pool manager for it (direct or a proxy), read once
        self.request_count = 0
        self._token_service = None  # the registry's Bearer challenge, once it sent one
        self._tokens = {}  # token per scope set

    def manager_for(self, url):
        """The pool manager for this URL's host: a proxy from the environment (HTTPS_PROXY, ALL_PROXY...),
        or direct when there is none or NO_PROXY names the host."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._routes:
            proxies = getproxies_environment()
            proxy = proxies.get(parts.scheme) or proxies.get("all")
            if proxy and not proxy_bypass_environment(parts.hostname or "", proxies):
                self._routes[key] = self._proxy_manager(proxy)
            else:
                self._routes[key] = self.direct
        return self._routes[key]

    def _proxy_manager(self, proxy):
        if "://" not in proxy:
            proxy = "http://" + proxy
        if proxy not in self._proxy_managers:
            parts = urlsplit(proxy)
            headers = None
            if parts.username:
                headers = urllib3.make_headers(proxy_basic_auth="%s:%s" % (unquote(parts.username),
                                                                           unquote(parts.password or "")))
            self._proxy_managers[proxy] = urllib3.ProxyManager(proxy, proxy_headers=headers, num_pools=4,
                                                               maxsize=self.pool_size, **self.tls)
        return self._proxy_managers[proxy]

    # -- the one place requests are made ---------------------------------------------
    def request(self, method, path, params=None, json=None, headers=None, ok=(200, 201), data=None, stream=False,
                auth=None):
        """Send one request (retrying where safe) and return the response; raise HarborError otherwise.

        `data` may be a stream (an object with read() and len()): such a request is sent once, never
        repeated, since the stream cannot be rewound. `auth` (an Authorization header value) replaces
        the basic auth for this call."""
        url = path if path.startswith("http") else self.base + API_PREFIX + path
        if params:
            url = with_query(url, params)
        shown = url[len(self.base):] if url.startswith(self.base) else url
        if "/v2/" in shown:  # registry upload URLs carry a long opaque state in their query
            shown = shown.split("?", 1)[0]
        sent = {"Accept": "application/json"}
        if auth or self.auth:
            sent["Authorization"] = auth or self.auth
        body = data
        if json is not None:
            body = jsonlib.dumps(json).encode("utf-8")
            sent["Content-Type"] = "application/json"
        if headers:
            sent.update(headers)
        if hasattr(body, "read"):  # sent as it is read, with its length (never chunked: registries refuse it)
            sent["Content-Length"] = str(len(body))
        manager = self.manager_for(url)
        attempts = 1 + (self.retries if method in IDEMPOTENT_METHODS and not hasattr(data, "read") else 0)
        delay = self.backoff
        for attempt in range(attempts):
            last = attempt == attempts - 1
            self.request_count += 1
            try:
                raw = manager.request(method, url, body=body, headers=sent, redirect=True,
                                      retries=self._transport_retry, timeout=self._timeout,
                                      preload_content=not stream, decode_content=not stream)
            except urllib3.exceptions.HTTPError as exc:
                if _is_tls_error(exc):
                    raise HarborError(None, method, shown, "TLS verification failed (%s); set ca_path to the CA "
                                      "that signed Harbor's certificate, or validate_certs: false for a lab"
                                      % getattr(exc, "reason", exc))
                if last:
                    raise HarborError(None, method, shown, "cannot reach Harbor at %s: %s"
                                      % (self.base, getattr(exc, "reason", None) or exc))
                time.sleep(delay)
                delay *= 2
                continue
            response = Response(raw)
            if response.status_code in RETRY_STATUSES and not last:
                response.close()
                time.sleep(delay)
                delay *= 2
                continue
            if response.status_code in ok:
                return response
            error = error_from_response(response, method, shown)
            response.close()
            raise error
        raise AssertionError("unreachable")  # pragma: no cover

    # -- conveniences ------------------------------------------------------------------
    def get(self, path, params=None, headers=None):
        response = self.request("GET", path, params=params, headers=headers, ok=(200,))
        return response.json() if response.content.strip() else None

    def get_or_none(self, path, params=None, headers=None):
        """GET, with 404 answered as None."""
        try:
            return self.get(path, params=params, headers=headers)
        except HarborError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, path, params=None, headers=None):
        """Every item of a paginated list (page_size 100, following Link rel=next)."""
        query = dict(params or {})
        query.setdefault("page_size", PAGE_SIZE)
        query.setdefault("page", 1)
        response = self.request("GET", path, params=query, headers=headers, ok=(200,))
        items = list(response.json() or [])
        while True:
            match = _NEXT_LINK.search(response.headers.get("Link", ""))
            if not match:
                break
            response = self.request("GET", self.base + match.group(1), headers=headers, ok=(200,))
            items.extend(response.json() or [])
        return items

    def create(self, path, body):
        """POST; return the new object's id from Location (or the body when Harbor sends one)."""
        response = self.request("POST", path, json=body, ok=(200, 201))
        location = response.headers.get("Location", "")
        new_id = location.rstrip("/").rsplit("/", 1)[-1] if location else None
        if new_id is not None and new_id.isdigit():
            new_id = int(new_id)
        body_out = response.json() if response.content.strip() else None
        return new_id, body_out

    def update(self, path, body, method="PUT"):
        self.request(method, path, json=body, ok=(200, 201, 204))

    def delete(self, path):
        self.request("DELETE", path, ok=(200, 202, 204))

    # -- the registry v2 API (Harbor serves /v2 on the host of its API) ---------------------
    # Harbor accepts basic auth on /v2. A registry that answers with a Bearer challenge instead
    # gets Docker's token flow: a token per scope from the challenge's realm, fetched with the
    # same basic credentials, and the call repeated once with it.
    def registry_call(self, method, repository, suffix, scopes, ok=(200,), headers=None, data=None, stream=False,
                      url=None):
        """One /v2 call about `repository` (e.g. suffix "manifests/sha256:..."); `scopes` are the
        token scopes it needs (e.g. ["repository:p/r:pull,push"]). Returns the response."""
        target = url or "%s/v2/%s/%s" % (self.base, repository, suffix)
        key = " ".join(scopes)
        accepted = tuple(ok) + (401,)
        response = self.request(method, target, headers=headers, ok=accepted, data=data, stream=stream,
                                auth=self._registry_auth(key))
        if response.status_code != 401:
            return response
        challenge = response.headers.get("WWW-Authenticate", "")
        error = error_from_response(response, method, target[len(self.base):].split("?", 1)[0])
        response.close()
        scheme, _sep, rest = challenge.strip().partition(" ")
        params = dict(_CHALLENGE_PARAM.findall(rest))
        if scheme.lower() != "bearer" or not params.get("realm") or hasattr(data, "read"):
            raise error  # wrong credentials, or a stream that cannot be sent twice
        self._token_service = params
        self._tokens[key] = self._fetch_token(scopes)
        return self.request(method, target, headers=headers, ok=tuple(ok), data=data, stream=stream,
                            auth=self._registry_auth(key))

    def _registry_auth(self, key):
        if self._token_service is None:
            return None  # the client's basic auth
        if key not in self._tokens:
            self._tokens[key] = self._fetch_token(key.split(" "))
        return "Bearer %s" % self._tokens[key]

    def _fetch_token(self, scopes):
        params = {"scope": list(scopes)}
        if self._token_service.get("service"):
            params["service"] = self._token_service["service"]
        body = self.request("GET", self._token_service["realm"], params=params, ok=(200,)).json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise HarborError(None, "GET", self._token_service["realm"], "the token service returned no token")
        return token

    @staticmethod
    def pull_scope(repository):
        return "repository:%s:pull" % repository

    @staticmethod
    def push_scope(repository):
        return "repository:%s:pull,push" % repository

    def manifest_digest(self, repository, reference):
        """The digest a tag or digest resolves to in `repository`, or None when there is no such manifest."""
        response = self.registry_call("HEAD", repository, "manifests/" + reference, [self.pull_scope(repository)],
                                      ok=(200, 404), headers={"Accept": MANIFEST_ACCEPT})
        response.close()
        if response.status_code == 404:
            return None
        digest = response.headers.get("Docker-Content-Digest")
        if not digest:  # a registry that omits the header: hash what a GET returns
            digest = content_digest(self.get_manifest(repository, reference)[0])
        return digest

    def get_manifest(self, repository, reference):
        """(raw bytes, media type) of a manifest, byte for byte as stored (its digest is over these bytes)."""
        response = self.registry_call("GET", repository, "manifests/" + reference, [self.pull_scope(repository)],
                                      headers={"Accept": MANIFEST_ACCEPT})
        media_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
        return response.content, media_type

    def put_manifest(self, repository, reference, raw, media_type):
        """PUT a manifest under a digest or a tag; returns the digest the registry computed."""
        response = self.registry_call("PUT", repository, "manifests/" + reference, [self.push_scope(repository)],
                                      ok=(201,), headers={"Content-Type": media_type}, data=raw)
        return response.headers.get("Docker-Content-Digest")

    def blob_exists(self, repository, digest):
        response = self.registry_call("HEAD", repository, "blobs/" + digest, [self.pull_scope(repository)],
                                      ok=(200, 404))
        response.close()
        return response.status_code == 200

    def open_blob(self, repository, digest):
        """A streaming GET of a blob (redirects to object storage are followed); close() it when done."""
        return self.registry_call("GET", repository, "blobs/" + digest, [self.pull_scope(repository)],
                                  headers={"Accept": "*/*"}, stream=True)

    def mount_blob(self, repository, digest, from_repository):
        """Cross-repository mount within this registry. Returns None when mounted, otherwise the URL of
        the upload the registry opened instead (it answers 202 when it cannot mount)."""
        scopes = [self.push_scope(repository), self.pull_scope(from_repository)]
        response = self.registry_call("POST", repository, "blobs/uploads/", scopes, ok=(201, 202),
                                      url="%s/v2/%s/blobs/uploads/?mount=%s&from=%s"
                                          % (self.base, repository, digest, from_repository))
        response.close()
        return None if response.status_code == 201 else response.headers.get("Location")

    def upload_blob(self, repository, digest, stream, size, upload_url=None):
        """Monolithic upload of `size` bytes read from `stream` (sent as it is read, with a Content-Length);
        the registry checks the bytes against `digest`. `upload_url`: an upload already opened."""
        if upload_url is None:
            response = self.registry_call("POST", repository, "blobs/uploads/", [self.push_scope(repository)],
                                          ok=(202,))
            response.close()
            upload_url = response.headers.get("Location")
            if not upload_url:
                raise HarborError(response.status_code, "POST", "/v2/%s/blobs/uploads/" % repository,
                                  "the registry opened an upload without a Location")
        if upload_url.startswith("/"):
            upload_url = self.base + upload_url
        upload_url += ("&" if "?" in upload_url else "?") + "digest=" + digest
        response = self.registry_call("PUT", repository, "", [self.push_scope(repository)], ok=(201,),
                                      url=upload_url, headers={"Content-Type": "application/octet-stream"},
                                      data=SizedStream(stream, size) if size else b"")
        response.close()

    def close(self):
        self.direct.clear()
        for manager in self._proxy_managers.values():
            manager.clear()


class SizedStream(object):
    """At most `size` bytes of a readable stream, with a length: the request then carries a
    Content-Length and sends the body block by block instead of loading it."""

    def __init__(self, stream, size):
        self.stream = stream
        self.remaining = int(size)
        self.sent = 0

    def __len__(self):
        return self.remaining

    def read(self, amount=BLOB_CHUNK):
        if self.remaining <= 0:
            return b""
        if amount is None or amount < 0:
            amount = BLOB_CHUNK
        data = self.stream.read(min(amount, self.remaining))
        self.remaining -= len(data)
        self.sent += len(data)
        return data

    def __iter__(self):
        while True:
            data = self.read(BLOB_CHUNK)
            if not data:
                return
            yield data


def content_digest(raw, algorithm="sha256"):
    """The OCI digest of bytes (sha256 or sha512)."""
    return "%s:%s" % (algorithm, hashlib.new(algorithm, raw).hexdigest())
