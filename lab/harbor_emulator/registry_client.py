"""A small Docker Registry HTTP API v2 client (LAB ONLY tooling, also used by the emulator itself).

It speaks to CNCF Distribution, to the emulator's /v2 proxy and to real Harbor alike:
401 challenges of both `Basic` and `Bearer realm=...,service=...,scope=...` are answered
(bearer tokens are fetched from the realm with basic auth and cached per scope).
"""

import hashlib
import json
import re
import threading
import time
from urllib.parse import urljoin

import requests

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_LIST_V2 = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
INDEX_TYPES = (MANIFEST_LIST_V2, OCI_INDEX)
MANIFEST_TYPES = (MANIFEST_V2, OCI_MANIFEST) + INDEX_TYPES
ACCEPT = ", ".join(MANIFEST_TYPES)
CHUNK = 1 << 16


class RegistryError(Exception):
    """A registry call failed: `status` is the HTTP status (0 when unreachable), `code` the first error code."""

    def __init__(self, status, message, code=None):
        super().__init__(f"{status} {code + ': ' if code else ''}{message}")
        self.status = status
        self.code = code
        self.message = message

    @classmethod
    def from_response(cls, response, what):
        code, message = None, response.text[:300]
        try:
            first = response.json()["errors"][0]
            code, message = first.get("code"), first.get("message") or message
        except (ValueError, KeyError, IndexError, TypeError):
            pass
        return cls(response.status_code, f"{what}: {message}", code)


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(reference):
    return ":" in reference


def parse_challenge(header):
    """'Bearer realm="x",service="y"' -> ("bearer", {"realm": "x", "service": "y"})."""
    scheme, _, rest = (header or "").strip().partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


def next_link(response):
    """The path of a `Link: <...>; rel="next"` header, or None."""
    match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', response.headers.get("Link", ""))
    return match.group(1) if match else None


class RegistryClient:
    def __init__(self, base_url, username=None, password=None, verify=True, timeout=30):
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.verify = verify
        self.timeout = timeout
        self.session = requests.Session()
        # also passed with every request: requests lets REQUESTS_CA_BUNDLE from the environment override
        # a session's verify, which would check an endpoint registered as insecure
        self.session.verify = verify
        self._lock = threading.Lock()
        self._scheme = None  # "basic" or "bearer" once a challenge was seen
        self._challenge = {}
        self._tokens = {}  # scope -> (token, expiry)

    def __repr__(self):
        return f"RegistryClient({self.base_url!r}, user={self.username!r})"

    # -- transport ------------------------------------------------------------------
    def _auth_headers(self, scope):
        if self._scheme == "basic" and self.username is not None:
            return {}, (self.username, self.password or "")
        if self._scheme == "bearer":
            token = self._token(scope)
            if token:
                return {"Authorization": f"Bearer {token}"}, None
        return {}, None

    def _token(self, scope, refresh=False):
        with self._lock:
            cached = self._tokens.get(scope)
            if cached and cached[1] > time.time() and not refresh:
                return cached[0]
        params = {"service": self._challenge.get("service", "")}
        if scope:
            params["scope"] = scope.split()  # one `scope` parameter per scope, as Docker sends them
        auth = (self.username, self.password or "") if self.username is not None else None
        try:
            response = self.session.get(self._challenge["realm"], params=params, auth=auth, timeout=self.timeout,
                                        verify=self.verify)
        except requests.RequestException as exc:
            raise RegistryError(0, f"token service unreachable: {exc}") from None
        if response.status_code != 200:
            raise RegistryError.from_response(response, "token request refused")
        body = response.json()
        token = body.get("token") or body.get("access_token")
        expires_in = int(body.get("expires_in") or 60)
        with self._lock:
            self._tokens[scope] = (token, time.time() + max(expires_in - 10, 5))
        return token

    def request(self, method, path, scope="", ok=(200,), what=None, retry=True, **kwargs):
        """One call; answers one 401 challenge, raises RegistryError unless the status is in `ok`."""
        url = path if path.startswith("http") else self.base_url + path
        headers = dict(kwargs.pop("headers", None) or {})
        extra, auth = self._auth_headers(scope)
        try:
            response = self.session.request(method, url, headers={**headers, **extra}, auth=auth,
                                            timeout=self.timeout, verify=self.verify, **kwargs)
        except requests.RequestException as exc:
            raise RegistryError(0, f"{method} {url}: {exc}") from None
        if response.status_code == 401 and retry and self._answer_challenge(response, scope):
            response.close()
            return self.request(method, path, scope, ok, what, retry=False, headers=headers, **kwargs)
        if response.status_code not in ok:
            error = RegistryError.from_response(response, what or f"{method} {path}")
            response.close()
            raise error
        return response

    def _answer_challenge(self, response, scope):
        scheme, params = parse_challenge(response.headers.get("WWW-Authenticate"))
        if scheme == "bearer" and params.get("realm"):
            had_token = self._scheme == "bearer"
            self._scheme, self._challenge = "bearer", params
            self._token(scope or params.get("scope", ""), refresh=had_token)
            return True
        if scheme == "basic" and self.username is not None and self._scheme != "basic":
            self._scheme = "basic"
            return True
        return False

    # -- scopes ---------------------------------------------------------------------
    @staticmethod
    def pull_scope(repo):
        return f"repository:{repo}:pull"

    @staticmethod
    def push_scope(repo):
        return f"repository:{repo}:pull,push"

    # -- API ------------------------------------------------------------------------
    def ping(self):
        """True when /v2/ answers 200 (with the credentials given)."""
        self.request("GET", "/v2/", what="ping")
        return True

    def _paged(self, path, key, scope):
        items, url = [], path
        while url:
            response = self.request("GET", url, scope=scope)
            items.extend(response.json().get(key) or [])
            link = next_link(response)
            url = urljoin(self.base_url + path, link) if link else None
        return items

    def catalog(self, page_size=1000):
        return self._paged(f"/v2/_catalog?n={page_size}", "repositories", "registry:catalog:*")

    def tags(self, repo, page_size=1000):
        """Tags of `repo`; [] for an unknown or tag-less repository."""
        try:
            return self._paged(f"/v2/{repo}/tags/list?n={page_size}", "tags", self.pull_scope(repo))
        except RegistryError as exc:
            if exc.status == 404:
                return []
            raise

    def get_manifest(self, repo, reference):
        """(raw bytes, media type, digest) of a manifest or index."""
        response = self.request("GET", f"/v2/{repo}/manifests/{reference}", scope=self.pull_scope(repo),
                                headers={"Accept": ACCEPT}, what=f"manifest {repo}:{reference}")
        raw = response.content
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if media_type not in MANIFEST_TYPES:
            media_type = _declared_media_type(raw) or media_type
        digest = digest_of(raw)
        return raw, media_type, digest

    def head_manifest(self, repo, reference):
        """The digest of `reference`, or None when it does not exist."""
        response = self.request("HEAD", f"/v2/{repo}/manifests/{reference}", scope=self.pull_scope(repo),
                                headers={"Accept": ACCEPT}, ok=(200, 404), what=f"manifest {repo}:{reference}")
        if response.status_code == 404:
            return None
        return response.headers.get("Docker-Content-Digest") or (reference if is_digest(reference) else None)

    def put_manifest(self, repo, reference, raw, media_type):
        response = self.request("PUT", f"/v2/{repo}/manifests/{reference}", scope=self.push_scope(repo),
                                data=raw, headers={"Content-Type": media_type}, ok=(200, 201, 202),
                                what=f"push manifest {repo}:{reference}")
        return response.headers.get("Docker-Content-Digest") or digest_of(raw)

    def delete_manifest(self, repo, digest):
        self.request("DELETE", f"/v2/{repo}/manifests/{digest}", scope=f"repository:{repo}:delete",
                     ok=(200, 202), what=f"delete manifest {repo}@{digest}")

    def blob_exists(self, repo, digest):
        response = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", scope=self.pull_scope(repo), ok=(200, 404),
                                what=f"blob {repo}@{digest}")
        return response.status_code == 200

    def get_blob(self, repo, digest):
        return self.request("GET", f"/v2/{repo}/blobs/{digest}", scope=self.pull_scope(repo),
                            what=f"blob {repo}@{digest}").content

    def blob_stream(self, repo, digest):
        """An open streaming response of a blob (use `iter_content`, then close it)."""
        return self.request("GET", f"/v2/{repo}/blobs/{digest}", scope=self.pull_scope(repo), stream=True,
                            what=f"blob {repo}@{digest}")

    def put_blob(self, repo, data, digest=None):
        """Monolithic upload (POST then PUT). `data` is bytes, or an iterable of bytes with `digest` given."""
        if digest is None:
            digest = digest_of(data)
        start = self.request("POST", f"/v2/{repo}/blobs/uploads/", scope=self.push_scope(repo), ok=(202,),
                             headers={"Content-Length": "0"}, what=f"start upload {repo}")
        location = urljoin(self.base_url + "/", start.headers["Location"])
        separator = "&" if "?" in location else "?"
        headers = {"Content-Type": "application/octet-stream"}
        if isinstance(data, (bytes, bytearray)):
            headers["Content-Length"] = str(len(data))
        self.request("PUT", f"{location}{separator}digest={digest}", scope=self.push_scope(repo), data=data,
                     headers=headers, ok=(201,), retry=False, what=f"upload {repo}@{digest}")
        return digest

    def mount_blob(self, repo, digest, from_repo):
        """Cross-repository mount; True when mounted, False when the registry started an upload instead."""
        response = self.request("POST", f"/v2/{repo}/blobs/uploads/?mount={digest}&from={from_repo}",
                                scope=f"{self.push_scope(repo)} {self.pull_scope(from_repo)}", ok=(201, 202),
                                headers={"Content-Length": "0"}, what=f"mount {from_repo}@{digest} into {repo}")
        if response.status_code == 202:
            location = urljoin(self.base_url + "/", response.headers["Location"])
            self.request("DELETE", location, scope=self.push_scope(repo), ok=(200, 204, 404))
            return False
        return True


def _declared_media_type(raw):
    try:
        return json.loads(raw).get("mediaType")
    except (ValueError, AttributeError):
        return None


def manifest_children(raw):
    """Child manifest digests of an index, or []."""
    return [m["digest"] for m in json.loads(raw).get("manifests") or []]


def manifest_blobs(raw):
    """Blob digests (config and layers) of an image manifest, or []."""
    doc = json.loads(raw)
    blobs = [doc["config"]["digest"]] if isinstance(doc.get("config"), dict) else []
    blobs += [layer["digest"] for layer in doc.get("layers") or [] if not layer.get("urls")]
    return blobs


def copy_blob(src, src_repo, digest, dst, dst_repo):
    if dst.blob_exists(dst_repo, digest):
        return
    if src.base_url == dst.base_url and dst.mount_blob(dst_repo, digest, src_repo):
        return
    stream = src.blob_stream(src_repo, digest)
    try:
        dst.put_blob(dst_repo, stream.iter_content(CHUNK), digest=digest)
    finally:
        stream.close()


def copy_image(src_client, src_repo, ref, dst_client, dst_repo, dst_ref=None):
    """Copy an image or an index (children first) with all its blobs; digests are preserved.

    Blobs and child manifests already at the destination are skipped. Returns the digest."""
    raw, media_type, digest = src_client.get_manifest(src_repo, ref)
    if media_type in INDEX_TYPES:
        for child in manifest_children(raw):
            if dst_client.head_manifest(dst_repo, child) is None:
                copy_image(src_client, src_repo, child, dst_client, dst_repo, child)
    else:
        for blob in manifest_blobs(raw):
            copy_blob(src_client, src_repo, blob, dst_client, dst_repo)
    dst_client.put_manifest(dst_repo, dst_ref or digest, raw, media_type)
    return digest
