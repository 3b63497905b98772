"""Pure logic of registryops.harbor.state: validation, planning against a snapshot held in memory,
purge, dependency order and failure isolation (with a fake client: no HTTP)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.client import HarborError
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.state import (
    Converge,
    ItemClient,
    Snapshot,
    Structure,
    field_changes,
    state_argument_spec,
)

CONNECTION = {"api_url": "https://harbor.invalid", "api_username": "admin", "api_password": "Adm1nPassword"}


def params(**structure):
    result = ArgumentSpecValidator(state_argument_spec()).validate(dict(CONNECTION, **structure))
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


class FakeClient(object):
    """Records writes in order; `fail(method, path, body)` may return a HarborError to raise."""

    base = "https://harbor.invalid"
    timeout = 5

    def __init__(self, fail=None):
        self.log = []
        self.request_count = 0
        self.fail = fail or (lambda method, path, body: None)
        self.lock = threading.Lock()
        self.ids = iter(range(100, 10000))
        self.created = []

    def write(self, method, path, body):
        with self.lock:
            self.log.append((method, path, body))
            error = self.fail(method, path, body)
            if error is not None:
                raise error
            new_id = next(self.ids)
            self.created.append((method, path, new_id))
            return new_id

    def create(self, path, body):
        return self.write("POST", path, body), {}

    def update(self, path, body, method="PUT"):
        self.write(method, path, body)

    def delete(self, path):
        self.write("DELETE", path, None)

    def get_or_none(self, path, params=None, headers=None):
        return None

    def list(self, path, params=None, headers=None):
        raise AssertionError("the state module reads in bulk, never per object: %s" % path)


def converge(structure, snap, client, check=False):
    with ThreadPoolExecutor(max_workers=4) as pool:
        return Converge(structure, client, pool, check).converge(snap)


def snapshot():
    snap = Snapshot()
    snap.users = {
        "admin": {"user_id": 1, "username": "admin", "email": "admin@example.com", "realname": "admin",
                  "comment": "", "sysadmin_flag": True},
        "alice": {"user_id": 2, "username": "alice", "email": "alice@example.com", "realname": "Alice",
                  "comment": "", "sysadmin_flag": False},
        "stray": {"user_id": 3, "username": "stray", "email": "stray@example.com", "realname": "Stray",
                  "comment": "", "sysadmin_flag": False},
    }
    snap.projects = {
        "library": {"project_id": 1, "name": "library", "metadata": {"public": "true"}},
        "payments": {"project_id": 2, "name": "payments", "metadata": {"public": "false", "auto_scan": "true"},
                     "cve_allowlist": {"items": []}},
        "old": {"project_id": 3, "name": "old", "metadata": {"public": "false"}},
    }
    snap.members = {"payments": {
        "user:admin": {"id": 10, "entity_name": "admin", "entity_type": "u", "role_id": 1},
        "user:alice": {"id": 11, "entity_name": "alice", "entity_type": "u", "role_id": 3},
        "user:stray": {"id": 12, "entity_name": "stray", "entity_type": "u", "role_id": 2},
    }}
    return snap


def test_every_invalid_object_is_collected_with_where_it_is():
    s = Structure(params(
        users=[{"username": "a", "email": "nope"}, {"username": "a", "email": "a@example.com"}],
        projects=[{"name": "UPPER"}, {"name": "ok", "members": [{"user": "x"}], "robots": [{"name": "r", "project": "ok"}]}],
        labels=[{"name": "l", "scope": "project"}],
    ), check_mode=False)
    assert s.errors == [
        "users[0]: email 'nope' is not a valid e-mail address",
        "users[1]: user a is also declared at users[0]",
        "labels[0]: scope is set by the structure (the enclosing entry or the list it is in); remove it",
        "projects[0] (UPPER): name 'UPPER' is invalid: Harbor names are lower-case letters and digits, optionally "
        "separated by single '.', '_' or '-' (pattern ^[a-z0-9]+(?:[._-][a-z0-9]+)*$), at most 255 characters",
        "projects[1] (ok).members[0]: role is required (one of projectAdmin, developer, guest, maintainer, "
        "limitedGuest)",
        "projects[1] (ok).robots[0]: project is set by the structure (the enclosing entry or the list it is in); "
        "remove it",
    ]


def test_secrets_anywhere_in_the_structure_are_known_for_no_log():
    s = Structure(params(
        users=[{"username": "a", "email": "a@example.com", "realname": "A", "password": "Passw0rdA"}],
        registries=[{"name": "r", "type": "harbor", "url": "https://r.example.com", "access_key": "k",
                     "access_secret": "S3cretKey"}],
        projects=[{"name": "p", "webhooks": [{"name": "w", "event_types": ["PUSH_ARTIFACT"],
                                              "targets": [{"address": "https://h.example.com",
                                                           "auth_header": "Bearer abc"}]}]}],
        config={"secrets": {"ldap_search_password": "LdapS3cret"}, "settings": {"auth_mode": "ldap_auth"}},
    ), check_mode=False)
    assert not s.errors
    assert {"Passw0rdA", "S3cretKey", "Bearer abc", "LdapS3cret"} <= s.no_log_values


def test_plan_uses_the_resources_normalisation_and_finds_objects_in_memory():
    s = Structure(params(
        users=[{"username": "alice", "email": "alice@example.com", "realname": "Alice A."}],
        projects=[{"name": "payments", "public": False, "auto_scan": True,
                   "members": [{"user": "alice", "role": "guest"}, {"user": "admin", "role": "projectAdmin"}]},
                  {"name": "fresh", "members": [{"user": "alice", "role": "developer"}]}],
    ), check_mode=True)
    result = converge(s, snapshot(), FakeClient(), check=True)
    drift = dict(((d["kind"], d["name"]), d) for d in result["drift"])
    # Harbor's "false"/"true" strings equal the booleans: payments and its members are unchanged
    assert ("project", "payments") not in drift and ("member", "payments/user:alice") not in drift
    assert drift[("user", "alice")]["changes"] == [{"field": "realname", "before": "Alice", "after": "Alice A."}]
    assert drift[("project", "fresh")]["action"] == "create"
    assert drift[("member", "fresh/user:alice")]["changes"] == [{"field": "role", "before": None,
                                                                  "after": "developer"}]
    assert result["summary"] == dict(create=2, update=1, delete=0, unchanged=3, failed=0, skipped=0, changes=3)


def test_purge_spares_protected_objects_and_the_caller():
    s = Structure(params(
        users=[{"username": "alice"}], projects=[{"name": "payments", "members": [{"user": "alice", "role": "guest"}]}],
        purge=True,
    ), check_mode=True)
    result = converge(s, snapshot(), FakeClient(), check=True)
    deletes = sorted((d["kind"], d["name"]) for d in result["drift"] if d["action"] == "delete")
    # admin is protected and the caller, library is protected; admin's membership is the caller's
    assert deletes == [("member", "payments/user:stray"), ("project", "old"), ("user", "stray")]


def test_writes_in_dependency_order_and_a_failure_only_holds_back_what_needs_it():
    def fail(method, path, body):
        if method == "POST" and path == "/users" and body["username"] == "dave":
            return HarborError(409, method, "/api/v2.0/users", "user with that email already exists", "CONFLICT")
        return None

    client = FakeClient(fail)
    s = Structure(params(
        users=[{"username": "dave", "email": "d@example.com", "realname": "D", "password": "Passw0rdD"},
               {"username": "erin", "email": "e@example.com", "realname": "E", "password": "Passw0rdE"}],
        projects=[{"name": "payments"},
                  {"name": "p1", "members": [{"user": "dave", "role": "guest"}, {"user": "erin", "role": "guest"}]}],
        purge=True,
    ), check_mode=False)
    result = converge(s, snapshot(), client)
    assert [f["name"] for f in result["failures"]] == ["dave"] and "409" in result["failures"][0]["error"]
    assert result["not_attempted"] == [{"kind": "member", "name": "p1/user:dave", "action": "create",
                                        "reason": "not attempted: it needs user dave, which failed"}]
    order = [(m, p) for m, p, b in client.log]
    new_project = next(i for m, p, i in client.created if (m, p) == ("POST", "/projects"))
    members = order.index(("POST", "/projects/%d/members" % new_project))  # by the id Harbor returned
    assert max(i for i, (m, p) in enumerate(order) if p == "/users") < order.index(("POST", "/projects")) < members
    # deletes come last, projects before users (the reverse of creation)
    deletes = [p for m, p in order if m == "DELETE"]
    assert deletes[0] == "/projects/3" and sorted(deletes[1:]) == ["/users/2", "/users/3"]
    assert order[-3:] == [("DELETE", p) for p in deletes]


def test_check_mode_client_refuses_writes():
    guard = ItemClient(FakeClient(), check_mode=True)
    with pytest.raises(RuntimeError):
        guard.create("/users", {})
    with pytest.raises(RuntimeError):
        guard.request("PATCH", "/robots/1")


def test_field_changes():
    assert field_changes({"a": 1, "m": {"x": "guest", "y": "dev"}}, {"a": "1", "m": {"x": "guest", "y": "admin"}}) == [
        {"field": "m.y", "before": "dev", "after": "admin"}]
    assert field_changes({}, {"name": "p"}) == [{"field": "name", "before": None, "after": "p"}]
    assert field_changes({"l": ["b", "a"]}, {"l": ["a", "b"]}, unordered=("l",)) == []
