"""Integration fixtures: a fresh emulator per test, reached by real ansible-playbook runs.

With HARBOR_URL (and HARBOR_USERNAME / HARBOR_PASSWORD) set, the tests that can run
against a real Harbor do so instead: they name their objects with a unique prefix and
delete them afterwards. Tests marked `emulator_only` (they need the emulator's request
log, a fresh instance, a second registry or lab-only hooks) are skipped then, and say so.
"""

import os
import uuid

import pytest

from ..conftest import Client, admin, start_harbor  # noqa: F401  (admin is re-exported)

REAL_HARBOR = os.environ.get("HARBOR_URL")


def pytest_configure(config):
    config.addinivalue_line("markers", "emulator_only: needs the lab emulator (skipped against a real Harbor)")


class RealHarbor:
    """A real Harbor instance: the same interface as the emulator's test handle."""

    def __init__(self):
        self.url = REAL_HARBOR.rstrip("/")
        self.username = os.environ.get("HARBOR_USERNAME", "admin")
        self.password = os.environ.get("HARBOR_PASSWORD", "")
        self.prefix = "it" + uuid.uuid4().hex[:8]

    def name(self, base):
        return f"{self.prefix}-{base}"

    def client(self, username=None, password=None, check=False):
        auth = (self.username, self.password) if username is None else (username, password)
        return Client(self.url, auth=auth, check=False)

    def anonymous(self):
        return Client(self.url, auth=None, check=False)

    def reset_request_counts(self):
        pass

    def assert_no_writes(self):
        """A real Harbor has no request log; the tests' state assertions cover check mode there."""

    def request_counts(self):
        pytest.skip("this check needs the emulator's request log; HARBOR_URL points at a real Harbor")

    def cleanup(self):
        api = self.client()
        for project in api.get("/projects", params={"q": f"name=~{self.prefix}", "page_size": 100}).json() or []:
            if project["name"].startswith(self.prefix):
                api.delete(f"/projects/{project['project_id']}")
        for user in api.get("/users", params={"q": f"username=~{self.prefix}", "page_size": 100}).json() or []:
            if user["username"].startswith(self.prefix):
                api.delete(f"/users/{user['user_id']}")


@pytest.fixture
def harbor(tmp_path, request):
    if REAL_HARBOR:
        if request.node.get_closest_marker("emulator_only"):
            pytest.skip("needs the lab emulator; HARBOR_URL points at a real Harbor")
        real = RealHarbor()
        yield real
        real.cleanup()
        return
    h = start_harbor(tmp_path / "harbor")
    h.name = lambda base: base
    yield h
    h.server.stop()
