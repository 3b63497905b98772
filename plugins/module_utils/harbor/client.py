# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one HTTP client of the collection for Harbor's /api/v2.0.

- one requests.Session per module run (connection reuse) that keeps no cookies: Harbor
  applies CSRF checks to requests carrying its `sid` cookie, so a cookie jar breaks writes;
- retries with exponential backoff for connection errors and 502/503/504, on idempotent
  methods only (a POST is never repeated: it could create twice);
- pagination at page_size 100 following the `Link: <...>; rel="next"` header;
- Harbor's error body turned into one message with status, code, method, path, request id;
- new ids read from the `Location` header of a 201.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

try:
    from http.cookiejar import DefaultCookiePolicy
except ImportError:  # pragma: no cover - Python 2 is not supported by this collection
    DefaultCookiePolicy = object

try:
    import requests
    from requests.adapters import HTTPAdapter

    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module through missing_required_lib
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = exc

API_PREFIX = "/api/v2.0"
PAGE_SIZE = 100
IDEMPOTENT_METHODS = ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
RETRY_STATUSES = (502, 503, 504)
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


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


class _NoCookies(DefaultCookiePolicy):
    """Refuse every cookie: see the module docstring (CSRF)."""

    def set_ok(self, cookie, request):
        return False

    def return_ok(self, cookie, request):
        return False


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


class HarborClient(object):
    """Calls Harbor's API. Paths are relative to /api/v2.0 (e.g. "/projects")."""

    def __init__(self, url, username=None, password=None, validate_certs=True, ca_path=None, timeout=30,
                 retries=3, backoff=0.5, pool_size=10):
        if not HAS_REQUESTS:
            raise RuntimeError("the Python library requests is required")
        self.base = url.rstrip("/")
        if self.base.endswith(API_PREFIX):
            self.base = self.base[: -len(API_PREFIX)]
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.session = requests.Session()
        self.session.cookies.set_policy(_NoCookies())
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        if username:
            self.session.auth = (username, password or "")
        self.session.verify = ca_path if (validate_certs and ca_path) else bool(validate_certs)
        self.session.headers.update({"Accept": "application/json"})
        self.request_count = 0

    # -- the one place requests are made ---------------------------------------------
    def request(self, method, path, params=None, json=None, headers=None, ok=(200, 201)):
        """Send one request (retrying where safe) and return the response; raise HarborError otherwise."""
        url = path if path.startswith("http") else self.base + API_PREFIX + path
        shown = url[len(self.base):] if url.startswith(self.base) else url
        attempts = 1 + (self.retries if method in IDEMPOTENT_METHODS else 0)
        delay = self.backoff
        for attempt in range(attempts):
            last = attempt == attempts - 1
            self.request_count += 1
            try:
                response = self.session.request(method, url, params=params, json=json, headers=headers,
                                                timeout=self.timeout)
            except requests.exceptions.SSLError as exc:
                raise HarborError(None, method, shown, "TLS verification failed (%s); set ca_path to the CA "
                                  "that signed Harbor's certificate, or validate_certs: false for a lab" % exc)
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                if last:
                    raise HarborError(None, method, shown, "cannot reach Harbor at %s: %s" % (self.base, exc))
                time.sleep(delay)
                delay *= 2
                continue
            if response.status_code in RETRY_STATUSES and not last:
                time.sleep(delay)
                delay *= 2
                continue
            if response.status_code in ok:
                return response
            raise error_from_response(response, method, shown)
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

    def close(self):
        self.session.close()
