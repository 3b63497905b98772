"""Shared fixtures: an in-process Harbor emulator on a free port, and API clients for it.

Every response a test client receives is checked against Harbor's swagger spec (see
harbor_spec.py): the emulator tests double as conformance tests.
"""

import os
import shutil
import sys

import pytest
import requests

from harbor_emulator.server import Server, build

# The collection is importable as ansible_collections.registryops.harbor through the
# .collections link that `make venv` creates.
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, ".collections"))

from . import harbor_spec

ADMIN = ("admin", "Harbor12345")


class Client:
    """A cookie-less API client (like the collection's), rooted at /api/v2.0."""

    def __init__(self, base, auth=None, check=True):
        self.base = base
        self.session = requests.Session()
        self.session.auth = auth
        self.check = check

    def request(self, method, path, **kwargs):
        url = path if path.startswith("http") else self.base + "/api/v2.0" + path
        response = self.session.request(method, url, timeout=30, **kwargs)
        self.session.cookies.clear()  # keep no cookies: Harbor's CSRF rule
        if self.check:
            harbor_spec.check(method, url, kwargs.get("json"), response)
        return response

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def head(self, path, **kw):
        return self.request("HEAD", path, **kw)

    # -- shortcuts used by many tests ------------------------------------------------
    def create(self, path, body):
        """POST and return the new id from Location; fails the test on anything but 201."""
        response = self.post(path, json=body)
        assert response.status_code == 201, response.text
        return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])

    def create_user(self, name, password="Passw0rd!", sysadmin=False):
        uid = self.create("/users", {"username": name, "password": password, "email": f"{name}@example.com",
                                     "realname": name})
        if sysadmin:
            assert self.put(f"/users/{uid}/sysadmin", json={"sysadmin_flag": True}).status_code == 200
        return uid

    def create_project(self, name, public=False, **extra):
        return self.create("/projects", {"project_name": name, "metadata": {"public": str(public).lower()}, **extra})

    def add_member(self, project, username, role_id):
        return self.create(f"/projects/{project}/members", {"role_id": role_id, "member_user": {"username": username}})


class Harbor:
    def __init__(self, server):
        self.server = server
        self.emulator = server.emulator
        self.url = server.url

    def client(self, username=None, password=None, check=True):
        auth = ADMIN if username is None else (username, password)
        return Client(self.url, auth=auth, check=check)

    def anonymous(self):
        return Client(self.url, auth=None)

    def request_counts(self):
        return requests.get(self.url + "/lab/requests", timeout=10).json()

    def reset_request_counts(self):
        requests.delete(self.url + "/lab/requests", timeout=10)

    def assert_no_writes(self):
        """Check mode proof: no write request reached the emulator since the last reset."""
        counts = self.request_counts()
        assert counts["writes"] == 0, counts


def start_harbor(data_dir, registry=False, db=None):
    emulator = build(db=db, data_dir=str(data_dir), start_registry=registry, listen=("127.0.0.1", 0))
    server = Server(emulator, "127.0.0.1", 0)
    emulator.settings.external_url = server.url
    return Harbor(server.start_background())


@pytest.fixture
def harbor(tmp_path):
    """An emulator without a registry: the API alone, fastest."""
    h = start_harbor(tmp_path / "harbor")
    yield h
    h.server.stop()


def have_distribution():
    return shutil.which("docker-registry") is not None


requires_distribution = pytest.mark.skipif(
    not have_distribution() and not os.environ.get("CI"),
    reason="Debian's docker-registry is not installed on this machine (make test installs it; CI always has it)",
)


@pytest.fixture
def harbor_registry(tmp_path):
    """An emulator with its own CNCF Distribution registry."""
    if not have_distribution():
        if os.environ.get("CI") == "true":
            pytest.fail("docker-registry (CNCF Distribution) is missing in CI: `make deps` installs it")
        pytest.skip("docker-registry (CNCF Distribution) is not installed; `make test` installs it")
    h = start_harbor(tmp_path / "harbor", registry=True)
    yield h
    h.server.stop()


@pytest.fixture
def admin(harbor):
    return harbor.client()
