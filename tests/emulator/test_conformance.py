"""Conformance with Harbor's swagger (../shared/harbor/swagger-v2.15.2.yaml or $HARBOR_SWAGGER).

Every response the test client receives is validated against the spec (harbor_spec.check);
this file makes sure that check is live (the spec is there, the checker rejects a wrong
body), walks the read operations of every implemented area with objects in place so
lists are not empty, and proves the emulator serves no API path Harbor does not have.
"""

import os
import re

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from harbor_emulator import web

from .. import harbor_spec

API = "/api/v2.0"


def require_spec():
    path = harbor_spec.spec_path()
    if os.path.exists(path):
        return path
    if os.environ.get("CI"):
        pytest.fail(f"Harbor's swagger spec is missing at {path}: CI must have ../shared/harbor/ or HARBOR_SWAGGER")
    pytest.skip(f"Harbor's swagger spec is not at {path} (set HARBOR_SWAGGER)")


def test_spec_file_exists_and_loads():
    path = require_spec()
    spec = harbor_spec.load()
    assert spec and len(spec["ops"]) >= 200, f"{path} holds {len(spec.get('ops', []))} operations"


class FakeResponse:
    def __init__(self, status, body):
        import json

        self.status_code = status
        self.content = json.dumps(body).encode()
        self.text = self.content.decode()
        self._body = body

    def json(self):
        return self._body


def test_checker_rejects_what_harbor_would_not_send():
    require_spec()
    url = "http://h" + API + "/projects/7"
    harbor_spec.check("GET", url, None, FakeResponse(200, {"project_id": 7, "name": "a"}))
    with pytest.raises(AssertionError, match="does not match the spec"):
        harbor_spec.check("GET", url, None, FakeResponse(200, {"project_id": "seven"}))
    with pytest.raises(AssertionError, match="does not declare"):
        harbor_spec.check("GET", url, None, FakeResponse(204, {}))
    with pytest.raises(AssertionError, match="request body the spec rejects"):
        harbor_spec.check("POST", "http://h" + API + "/projects", {"project_name": 5}, FakeResponse(201, None))


# -- (c) no invented API paths -------------------------------------------------------------


def concrete(rule):
    """A path that matches a werkzeug rule: each <variable> becomes a sample segment."""
    return re.sub(r"<[^>]+>", "1", rule)


def test_every_api_route_is_a_harbor_operation():
    require_spec()
    invented, served = [], set()
    for rule, methods, _, _ in web.ROUTES:
        if not rule.startswith(API + "/") and rule != API:
            continue  # lab-only (/lab/...) and registry (/v2/...) paths live outside Harbor's API
        for method in methods:
            template, op = harbor_spec.find(method, concrete(rule))
            if op is None:
                invented.append(f"{method} {rule}")
            else:
                served.add((method, template))
    assert not invented, f"emulator routes that Harbor v2.15 does not have: {invented}"
    total = len(harbor_spec.load()["ops"])
    print(f"\nemulator serves {len(served)} of the spec's {total} operations")


# -- (b) a walk over the implemented read operations -------------------------------------------


class Walk:
    """GETs (and the creates they need) of what the emulator implements; the rest is skipped."""

    def __init__(self, harbor, client):
        self.client = client
        self.urls = harbor.emulator.url_map.bind("localhost")
        self.read, self.skipped = set(), set()

    def serves(self, method, path):
        try:
            self.urls.match(API + path.split("?")[0], method=method)
            return True
        except (NotFound, MethodNotAllowed):
            return False

    def get(self, path, params=None, nonempty=False):
        if not self.serves("GET", path):
            self.skipped.add(path)
            return None
        response = self.client.get(path, params=params)
        assert response.status_code == 200, (path, response.status_code, response.text)
        self.read.add(path)
        if not response.content or not response.headers.get("Content-Type", "").startswith("application/json"):
            return response.text
        body = response.json()
        if nonempty:
            assert body, f"GET {path} {params or ''} is empty although objects exist"
        return body

    def create(self, path, body, expect=201):
        """POST when implemented; returns the new id (from Location, or the body's id)."""
        if not self.serves("POST", path):
            self.skipped.add("POST " + path)
            return None
        response = self.client.post(path, json=body)
        assert response.status_code == expect, (path, response.status_code, response.text)
        if "Location" in response.headers:
            return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
        return response.json().get("id") if response.content else True


@pytest.fixture
def walk(harbor, admin):
    require_spec()
    return Walk(harbor, admin)


def test_read_walk_core(walk, admin):
    pid = admin.create_project("walk", public=True, storage_limit=10 * 1024 ** 3)
    uid = admin.create_user("walker")
    mid = admin.add_member(pid, "walker", 2)

    assert walk.get("/ping") == "Pong"
    walk.get("/health")
    walk.get("/systeminfo")
    walk.get("/systeminfo/volumes")
    walk.get("/configurations")
    walk.get("/projects", nonempty=True)
    walk.get("/projects", params={"q": "name=~wal", "sort": "-creation_time", "page_size": 5}, nonempty=True)
    walk.get(f"/projects/{pid}")
    walk.get("/projects/walk")
    walk.get(f"/projects/{pid}/_deletable")
    walk.get(f"/projects/{pid}/summary")
    walk.get(f"/projects/{pid}/metadatas/", nonempty=True)
    walk.get(f"/projects/{pid}/metadatas/public")
    walk.get(f"/projects/{pid}/members", nonempty=True)
    walk.get(f"/projects/{pid}/members", params={"entityname": "walker"}, nonempty=True)
    walk.get(f"/projects/{pid}/members/{mid}")
    walk.get("/users", nonempty=True)
    walk.get(f"/users/{uid}")
    walk.get("/users/search", params={"username": "walk"}, nonempty=True)
    walk.get("/users/current")
    walk.get("/users/current/permissions", params={"scope": f"/project/{pid}", "relative": "true"})
    quotas = walk.get("/quotas", params={"reference": "project", "reference_id": pid}, nonempty=True)
    walk.get(f"/quotas/{quotas[0]['id']}")
    walk.get("/quotas", params={"sort": "-hard.storage"}, nonempty=True)
    # what a project member (not an admin) reads is validated too
    member = walk.client.__class__(walk.client.base, auth=("walker", "Passw0rd!"))
    assert member.get(f"/projects/{pid}").status_code == 200
    assert member.get("/users/current").status_code == 200
    print(f"\nread {len(walk.read)} paths; not implemented: {sorted(walk.skipped)}")


def test_read_walk_policies_and_jobs(harbor, walk, admin):
    pid = admin.create_project("policies")

    # registries and replication
    rid = walk.create("/registries", {"name": "peer", "type": "harbor", "url": harbor.url, "insecure": True,
                                      "credential": {"type": "basic", "access_key": "admin",
                                                     "access_secret": "Harbor12345"}})
    walk.get("/replication/adapters")
    walk.get("/replication/adapterinfos")
    if rid:
        walk.get("/registries", nonempty=True)
        walk.get(f"/registries/{rid}")
        walk.get(f"/registries/{rid}/info")
        policy = walk.create("/replication/policies", {
            "name": "push-policies", "dest_registry": {"id": rid}, "dest_namespace": "mirror",
            "filters": [{"type": "name", "value": "policies/**"},
                        {"type": "tag", "value": "v*", "decoration": "matches"}],
            "trigger": {"type": "manual"}, "enabled": True, "override": True, "deletion": False})
        if policy:
            walk.get("/replication/policies", nonempty=True)
            walk.get(f"/replication/policies/{policy}")
            execution = walk.create("/replication/executions", {"policy_id": policy})
            if execution:
                walk.get("/replication/executions", params={"policy_id": policy}, nonempty=True)
                walk.get(f"/replication/executions/{execution}")
                tasks = walk.get(f"/replication/executions/{execution}/tasks")
                for task in tasks or []:
                    walk.get(f"/replication/executions/{execution}/tasks/{task['id']}/log")

    # robots
    robot = walk.create("/robots", {"name": "walkbot", "level": "project", "duration": -1,
                                    "permissions": [{"kind": "project", "namespace": "policies",
                                                     "access": [{"resource": "repository", "action": "pull"}]}]})
    if robot:
        # without a project in q, Harbor lists system-level robots only
        walk.get("/robots", params={"q": f"Level=project,ProjectID={pid}"}, nonempty=True)
        walk.get(f"/robots/{robot}")

    # labels
    label = walk.create("/labels", {"name": "gold", "scope": "g", "color": "#FFDD00"})
    walk.create("/labels", {"name": "local", "scope": "p", "project_id": pid})
    if label:
        walk.get("/labels", params={"scope": "g"}, nonempty=True)
        walk.get("/labels", params={"scope": "p", "project_id": pid}, nonempty=True)
        walk.get(f"/labels/{label}")

    # retention and immutable tag rules
    walk.get("/retentions/metadatas")
    selectors = {"tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v*"}],
                 "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches",
                                                      "pattern": "**"}]}}
    retention = walk.create("/retentions", {
        "algorithm": "or", "scope": {"level": "project", "ref": pid},
        "trigger": {"kind": "Schedule", "settings": {"cron": ""}, "references": {}},
        "rules": [{"disabled": False, "action": "retain", "template": "latestPushedK",
                   "params": {"latestPushedK": 5}, **selectors}]})
    if retention:
        walk.get(f"/retentions/{retention}")
        walk.get(f"/retentions/{retention}/executions")
    if walk.create(f"/projects/{pid}/immutabletagrules", {"disabled": False, "action": "immutable",
                                                          "template": "immutable_template", **selectors}):
        walk.get(f"/projects/{pid}/immutabletagrules", nonempty=True)

    # webhooks
    hook = walk.create(f"/projects/{pid}/webhook/policies", {
        "name": "hook", "enabled": True, "event_types": ["PUSH_ARTIFACT", "DELETE_ARTIFACT"],
        "targets": [{"type": "http", "address": "http://127.0.0.1:9/hook", "skip_cert_verify": True}]})
    if hook:
        walk.get(f"/projects/{pid}/webhook/policies", nonempty=True)
        walk.get(f"/projects/{pid}/webhook/policies/{hook}")
        walk.get(f"/projects/{pid}/webhook/events")
        walk.get(f"/projects/{pid}/webhook/lasttrigger")

    # GC and audit-log purge
    walk.get("/system/gc/schedule")
    gc = walk.create("/system/gc/schedule", {"schedule": {"type": "Manual"},
                                             "parameters": {"dry_run": True, "delete_untagged": False,
                                                            "workers": 1}})
    if gc:
        history = walk.get("/system/gc", nonempty=True)
        walk.get(f"/system/gc/{history[0]['id']}")
    walk.get("/system/purgeaudit/schedule")
    walk.get("/system/purgeaudit")

    # audit logs of the writes above, and the registry-backed lists (empty without pushes)
    walk.get("/audit-logs")
    walk.get("/projects/policies/logs")
    walk.get("/auditlog-exts")
    walk.get("/auditlog-exts/events")
    walk.get("/repositories")
    walk.get("/projects/policies/repositories")
    print(f"\nread {len(walk.read)} paths; not implemented: {sorted(walk.skipped)}")
