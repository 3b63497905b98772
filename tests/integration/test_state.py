"""registryops.harbor.state, the registry_config role and playbooks/drift.yml, through real
ansible-playbook runs against the emulator."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from ..conftest import start_harbor
from .ansible_runner import REPO, run_module

pytestmark = pytest.mark.emulator_only  # request counts, purge of a whole instance, a second emulator

PASSWORDS = {"alice": "Passw0rdAlice", "bob": "Passw0rdBob1", "carol": "Passw0rdCarol"}


def structure(harbor):
    return {
        "users": [{"username": name, "email": "%s@example.com" % name, "realname": name.title(), "password": pw}
                  for name, pw in sorted(PASSWORDS.items())],
        "registries": [{"name": "peer", "type": "harbor", "url": harbor.url, "insecure": True}],
        "projects": [
            {"name": "payments", "public": False, "auto_scan": True, "storage_quota": "10GiB",
             "members": [{"user": "alice", "role": "developer"}, {"user": "bob", "role": "guest"}],
             "robots": [{"name": "ci", "permission_preset": "push", "duration": -1}],
             "retention": {"rules": [{"template": "latestPushedK", "params": {"latestPushedK": 5}}],
                           "schedule": "daily"},
             "immutable_rules": [{"tags": {"pattern": "v*"}}],
             "labels": [{"name": "gold", "color": "#FFD700"}],
             "webhooks": [{"name": "ci", "event_types": ["PUSH_ARTIFACT"],
                           "targets": [{"address": "http://ci.example.com/hook", "auth_header": "Bearer t0psecret"}]}]},
            {"name": "cache", "proxy_cache_registry": "peer"},
        ],
        "robots": [{"name": "auditor", "permissions": [
            {"namespace": "/", "access": [{"resource": "audit-log", "action": "list"}]}]}],
        "labels": [{"name": "release"}],
        "replication_policies": [{"name": "pay-out", "direction": "push", "registry": "peer",
                                  "filters": {"name": "payments/**"}, "trigger": "manual"}],
        "config": {"settings": {"robot_token_duration": 45}},
    }


# the lists one run of structure() reads once everything exists: users, registries, projects, quotas,
# policies, system robots, global labels, configuration; for payments its members, robots, labels,
# webhooks (+ supported events), immutable rules and retention policy
LIST_CALLS = 15


def state(harbor, args, **kwargs):
    return run_module("state", args, harbor.url, **kwargs)


def no_secret_in(result):
    text = json.dumps(result)
    for secret in list(PASSWORDS.values()) + ["t0psecret"]:
        assert secret not in text


def test_converge_rerun_change_check_and_purge(harbor, admin):
    desired = structure(harbor)

    # check mode from empty: the whole plan, nothing written
    harbor.reset_request_counts()
    planned = state(harbor, desired, check=True, diff=True)
    harbor.assert_no_writes()
    assert planned["changed"] and planned["summary"]["create"] == 15 and planned["summary"]["update"] == 2
    assert {(d["kind"], d["name"], d["action"], d["status"]) for d in planned["drift"]} >= {
        ("user", "alice", "create", "planned"), ("member", "payments/user:bob", "create", "planned"),
        ("robot", "payments+ci", "create", "planned"), ("config", "configuration", "update", "planned")}
    assert any(d["before_header"].startswith("project payments") for d in planned["diff"])
    no_secret_in(planned)

    # converge from empty
    applied = state(harbor, desired)
    assert applied["changed"] and not applied.get("failed"), applied.get("msg")
    assert applied["summary"]["failed"] == 0 and applied["summary"]["create"] == 15
    assert sorted(applied["secrets"]) == ["robot$auditor", "robot$payments+ci"]
    no_secret_in(applied)
    members = {m["entity_name"]: m["role_id"] for m in admin.get(
        "/projects/payments/members", headers={"X-Is-Resource-Name": "true"}).json()}
    assert members == {"admin": 1, "alice": 2, "bob": 3}
    project = admin.get("/projects/payments", headers={"X-Is-Resource-Name": "true"}).json()
    assert project["metadata"]["auto_scan"] == "true" and project["metadata"].get("retention_id")
    cache = admin.get("/projects/cache", headers={"X-Is-Resource-Name": "true"}).json()
    assert cache["registry_id"] == admin.get("/registries").json()[0]["id"]
    assert harbor.client("alice", PASSWORDS["alice"]).get("/users/current").status_code == 200

    # unchanged rerun: only the list calls, no write, no secret
    harbor.reset_request_counts()
    rerun = state(harbor, desired)
    counts = harbor.request_counts()
    assert not rerun["changed"] and rerun["summary"]["unchanged"] == 17 and "secrets" not in rerun
    assert counts["writes"] == 0 and counts["total"] == rerun["requests"]["total"] == LIST_CALLS

    # one field of one object: exactly one write, the field-level difference reported
    desired["projects"][0]["members"][1]["role"] = "developer"
    harbor.reset_request_counts()
    changed = state(harbor, desired, diff=True)
    counts = harbor.request_counts()
    assert changed["changed"] and counts["writes"] == 1 and counts["total"] == LIST_CALLS + 1
    assert changed["drift"] == [{"kind": "member", "name": "payments/user:bob", "action": "update",
                                 "status": "applied",
                                 "changes": [{"field": "role", "before": "guest", "after": "developer"}]}]
    assert changed["diff"][0]["before"] == {"role": "guest"} and changed["diff"][0]["after"] == {"role": "developer"}

    # purge: what the structure does not name goes, except protected objects and the caller
    admin.create_user("mallory")
    admin.create_project("stray")
    admin.add_member("payments", "mallory", 3)
    admin.create("/labels", {"name": "stray-label", "scope": "g"})
    desired["users"] = [u for u in desired["users"] if u["username"] != "carol"]
    desired["purge"] = True
    desired["protected"] = {"users": ["admin"], "projects": ["library"], "labels": ["release"]}
    harbor.reset_request_counts()
    preview = state(harbor, desired, check=True)
    harbor.assert_no_writes()
    deletes = sorted((d["kind"], d["name"]) for d in preview["drift"] if d["action"] == "delete")
    assert deletes == [("label", "stray-label"), ("member", "payments/user:mallory"), ("project", "stray"),
                       ("user", "carol"), ("user", "mallory")]
    assert all(d.get("purged") for d in preview["drift"])
    purged = state(harbor, desired)
    assert purged["changed"] and purged["summary"]["delete"] == 5 and not purged.get("failed"), purged.get("msg")
    users = {u["username"] for u in admin.get("/users").json()}
    projects = {p["name"] for p in admin.get("/projects").json()}
    assert users == {"admin", "alice", "bob"} and projects == {"library", "payments", "cache"}
    members = {m["entity_name"] for m in admin.get("/projects/payments/members",
                                                   headers={"X-Is-Resource-Name": "true"}).json()}
    assert members == {"admin", "alice", "bob"}  # the caller's own membership stays
    assert not state(harbor, desired)["changed"]


def test_a_failure_mid_run_leaves_the_rest_applied_and_a_rerun_finishes(harbor, admin):
    admin.create_user("carol")  # carol@example.com is taken
    desired = {
        "users": [{"username": "dave", "email": "carol@example.com", "realname": "Dave", "password": "Passw0rdDave"},
                  {"username": "erin", "email": "erin@example.com", "realname": "Erin", "password": "Passw0rdErin"}],
        "projects": [
            {"name": "p1", "members": [{"user": "dave", "role": "developer"}, {"user": "erin", "role": "guest"}]},
            {"name": "p2", "members": [{"user": "erin", "role": "maintainer"}]},
            {"name": "cache", "proxy_cache_registry": "nowhere", "members": [{"user": "erin", "role": "guest"}]},
        ],
    }
    failed = state(harbor, desired)
    assert failed["failed"] and "2 change(s) failed, 2 not attempted" in failed["msg"]
    errors = {(f["kind"], f["name"]): f["error"] for f in failed["failures"]}
    assert "409" in errors[("user", "dave")]
    assert "nowhere" in errors[("project", "cache")]
    skipped = {(s["kind"], s["name"]): s["reason"] for s in failed["not_attempted"]}
    assert skipped == {("member", "p1/user:dave"): "not attempted: it needs user dave, which failed",
                       ("member", "cache/user:erin"): "not attempted: it needs project cache, which failed"}
    assert {p["name"] for p in admin.get("/projects").json()} == {"library", "p1", "p2"}
    roles = {m["entity_name"]: m["role_id"] for m in admin.get("/projects/p2/members",
                                                               headers={"X-Is-Resource-Name": "true"}).json()}
    assert roles["erin"] == 4

    desired["users"][0]["email"] = "dave@example.com"
    desired["projects"].pop()
    finished = state(harbor, desired)
    assert finished["changed"] and not finished.get("failed"), finished.get("msg")
    assert finished["summary"]["create"] == 2  # dave, and his membership: nothing twice
    assert len([u for u in admin.get("/users").json() if u["username"] in ("dave", "erin")]) == 2
    assert not state(harbor, desired)["changed"]


def test_every_invalid_object_is_reported_before_any_request(harbor):
    harbor.reset_request_counts()
    result = state(harbor, {
        "users": [{"username": "ok", "email": "not-an-email"},
                  {"username": "weak", "email": "w@example.com", "realname": "W", "password": "short"},
                  {"username": "ok", "email": "again@example.com"}],
        "projects": [{"name": "Bad Name"},
                     {"name": "good", "members": [{"user": "a", "group": "b", "role": "guest"},
                                                  {"user": "c", "role": "boss"}],
                      "robots": [{"name": "ci", "level": "system", "permission_preset": "pull"}]}],
        "robots": [{"name": "bot", "permission_preset": "pull", "regenerate_secret": True}],
        "replication_policies": [{"name": "rp", "direction": "push", "registry": "x", "trigger": "scheduled",
                                  "cron": "* * * * * *"}],
        "parallel": 0,
    })
    assert result["failed"] and harbor.request_counts()["total"] == 0
    for where in ("users[0]: email", "users[1]: password", "users[2]: user ok is also declared at users[0]",
                  "projects[0] (Bad Name): name", "projects[1] (good).members[0]: parameters are mutually exclusive",
                  "projects[1] (good).members[1]: value of role", "projects[1] (good).robots[0]: level",
                  "robots[0]: regenerate_secret", "replication_policies[0]: cron", "parallel must be"):
        assert where in result["msg"], where
    assert len(result["errors"]) == 10 and "short" not in json.dumps(result)


def test_structure_from_a_src_file(harbor, admin, tmp_path):
    """src: the structure's keys from a YAML (or JSON) file, the same result as inline; a key given
    twice, an unknown key, a broken or missing file fail before any request."""
    desired = structure(harbor)
    users = desired.pop("users")
    path = tmp_path / "registry-state.yml"
    path.write_text(yaml.safe_dump(desired))
    applied = state(harbor, {"src": str(path), "users": users})
    assert applied["changed"] and not applied.get("failed"), applied.get("msg")
    assert applied["summary"]["create"] == 15
    assert applied["invocation"]["module_args"]["src"] == str(path)
    assert applied["invocation"]["module_args"]["users"] == "<3 objects>"
    no_secret_in(applied)
    as_json = tmp_path / "registry-state.json"
    as_json.write_text(json.dumps(dict(desired, users=users)))
    harbor.reset_request_counts()
    rerun = state(harbor, {"src": str(as_json)})
    assert not rerun["changed"] and rerun["summary"]["unchanged"] == 17
    counts = harbor.request_counts()
    assert counts["writes"] == 0 and counts["total"] == LIST_CALLS
    no_secret_in(rerun)  # the passwords read from the file are masked like inline ones

    bad = tmp_path / "bad.yml"
    harbor.reset_request_counts()
    for content, args, message in [
        (yaml.safe_dump({"users": users}), {"users": users}, "users given both in src"),
        (yaml.safe_dump({"user": users}), {}, "unknown key(s) user"),
        ("projects: [unclosed", {}, "neither JSON nor valid YAML"),
        ("- just\n- a list\n", {}, "must hold a mapping"),
        (yaml.safe_dump({"projects": "payments"}), {}, "projects"),
    ]:
        bad.write_text(content)
        failed = state(harbor, dict(args, src=str(bad)))
        assert failed["failed"] and message in failed["msg"], (message, failed["msg"])
    missing = state(harbor, {"src": str(tmp_path / "nowhere.yml")})
    assert missing["failed"] and "cannot be read" in missing["msg"]
    assert harbor.request_counts()["total"] == 0


def test_structure_as_content_text(harbor, admin):
    """content: the structure as JSON (or YAML) text, e.g. a rendered template: the same result as
    inline, the text never echoed, bad text failing before any request."""
    desired = structure(harbor)
    applied = state(harbor, {"content": json.dumps(desired)})
    assert applied["changed"] and not applied.get("failed"), applied.get("msg")
    assert applied["summary"]["create"] == 15
    assert applied["invocation"]["module_args"]["content"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    no_secret_in(applied)
    harbor.reset_request_counts()
    rerun = state(harbor, {"content": yaml.safe_dump(desired)})
    assert not rerun["changed"] and rerun["summary"]["unchanged"] == 17
    counts = harbor.request_counts()
    assert counts["writes"] == 0 and counts["total"] == LIST_CALLS

    harbor.reset_request_counts()
    for args, message in [
        ({"content": json.dumps({"users": desired["users"]}), "users": desired["users"]}, "users given both in content"),
        ({"content": "projects: [unclosed"}, "content is neither JSON nor valid YAML"),
        ({"content": "[1, 2]"}, "content must hold a mapping"),
        ({"content": "{}", "src": "/nowhere.yml"}, "mutually exclusive"),
    ]:
        failed = state(harbor, args)
        assert failed["failed"] and message in failed["msg"], (message, failed["msg"])
    assert harbor.request_counts()["total"] == 0


def test_a_developer_gets_a_clear_403(harbor, admin):
    admin.create_user("dev", password="Passw0rdDev1")
    result = state(harbor, {"users": []}, username="dev", password="Passw0rdDev1")
    assert result["failed"] and "reading users failed" in result["msg"] and "403" in result["msg"]
    assert "Hint" in result["msg"]


# -- the role and the drift playbook ---------------------------------------------------------------
def inventory(tmp_path, hosts):
    """Two registries in an inventory like inventories/examples/registry_config, with a small truth."""
    common = {
        "ansible_connection": "local", "harbor_username": "admin", "harbor_password": "Harbor12345",
        "registry_config_users": [{"username": u, "email": "%s@example.com" % u, "realname": u, "password": p}
                                  for u, p in sorted(PASSWORDS.items())],
        "registry_config_people": {"ops": ["carol"]},
        "registry_config_teams": {"payments": {"admins": ["alice"], "developers": ["bob", "carol"],
                                               "projects": [{"name": "payments", "storage_quota": "5GiB"}]}},
        "registry_config_project_defaults": {"auto_scan": True},
        "registry_config_role_matrix": {"admins": "projectAdmin", "developers": "guest", "ops": "maintainer"},
    }
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"vars": common, "children": {"registries": {"hosts": {
        name: {"harbor_url": url} for name, url in hosts.items()}}}}}))
    return str(path)


def playbook(args, inventory_path, check=False):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_DEPRECATION_WARNINGS="0", ANSIBLE_LOCALHOST_WARNING="0")
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory_path] + args
    if check:
        cmd.append("--check")
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_role_matrix_and_drift_report_across_two_registries(harbor, admin, tmp_path):
    other = start_harbor(tmp_path / "second")
    try:
        inv = inventory(tmp_path, {"harbor-a": harbor.url, "harbor-b": other.url})
        done = playbook(["playbooks/registry_config.yml"], inv)
        assert done.returncode == 0, done.stdout[-3000:]
        assert "changed=1" in done.stdout, done.stdout[-3000:]
        harbor.reset_request_counts()
        again = playbook(["playbooks/registry_config.yml"], inv)
        assert again.returncode == 0 and "changed=0" in again.stdout and "changed=1" not in again.stdout, \
            again.stdout[-3000:]
        harbor.assert_no_writes()
        for instance in (harbor, other):
            roles = {m["entity_name"]: m["role_id"] for m in instance.client().get(
                "/projects/payments/members", headers={"X-Is-Resource-Name": "true"}).json()}
            # carol is a developer (guest) and in ops (maintainer): the higher role wins
            assert roles == {"admin": 1, "alice": 1, "bob": 3, "carol": 4}

        # drift on one registry only: a role changed by hand, a project metadata flag, an extra user
        pid = admin.get("/projects/payments", headers={"X-Is-Resource-Name": "true"}).json()["project_id"]
        bob = next(m for m in admin.get("/projects/%d/members" % pid).json() if m["entity_name"] == "bob")
        admin.put("/projects/%d/members/%d" % (pid, bob["id"]), json={"role_id": 1})
        admin.put("/projects/%d" % pid, json={"metadata": {"auto_scan": "false"}})
        harbor.reset_request_counts()
        other.reset_request_counts()
        report_dir = tmp_path / "report"
        drift = playbook(["playbooks/drift.yml", "-e", "drift_report_dir=%s" % report_dir, "-e", "fail_on_drift=true"],
                         inv)
        assert drift.returncode != 0 and "Drift found: 2 difference(s)" in drift.stdout, drift.stdout[-3000:]
        harbor.assert_no_writes()
        other.assert_no_writes()
        markdown = (report_dir / "drift.md").read_text()
        assert "| harbor-a | %s | 2 | drift |" % harbor.url in markdown
        assert "| harbor-b | %s | 0 | in sync |" % other.url in markdown
        assert '| member | payments/user:bob | update | role | "projectAdmin" | "guest" |' in markdown
        assert '| project | payments | update | auto_scan | "false" | "true" |' in markdown
        assert "No drift: the registry matches the inventory" in markdown
        html = (report_dir / "drift.html").read_text()
        assert "payments/user:bob" in html and "in sync" in html and html.strip().endswith("</html>")
        for secret in PASSWORDS.values():
            assert secret not in markdown + html + drift.stdout

        # without fail_on_drift the report is written and the run succeeds
        quiet = playbook(["playbooks/drift.yml", "-e", "drift_report_dir=%s" % report_dir], inv)
        assert quiet.returncode == 0, quiet.stdout[-3000:]
    finally:
        other.server.stop()
