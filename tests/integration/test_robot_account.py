"""registryops.harbor.robot_account through ansible-playbook against the emulator."""

import pytest
from .ansible_runner import run_module, run_tasks

# changes system-wide settings or needs the emulator (request log, fresh state, lab peers)
pytestmark = pytest.mark.emulator_only

PASSWORD = "S3cretPassw0rd"


def robot(harbor, check=False, diff=False, **args):
    return run_module("robot_account", args, harbor.url, check=check, diff=diff)


def api_robot(admin, full_name, project_id=None):
    q = "Level=project,ProjectID=%s" % project_id if project_id else "Level=system"
    return next((r for r in admin.get("/robots", params={"q": q, "page_size": 100}).json() if r["name"] == full_name),
                None)


def test_project_robot_lifecycle_secret_only_on_create_and_regenerate(harbor, admin):
    pid = admin.create_project("payments")
    created = robot(harbor, name="ci", project="payments", permission_preset="pull", duration=-1,
                    description="CI pulls", diff=True)
    assert created["changed"] and created["robot"]["full_name"] == "robot$payments+ci"
    secret = created["secret"]
    assert secret and secret not in str(created["diff"]) and secret not in str(created["robot"])
    stored = api_robot(admin, "robot$payments+ci", pid)
    assert stored["duration"] == -1 and stored["permissions"][0]["namespace"] == "payments"
    assert {(a["resource"], a["action"]) for a in stored["permissions"][0]["access"]} >= {
        ("repository", "pull"), ("artifact", "read")}

    # the robot can pull (read the project's repositories) but not manage members
    bot = harbor.client("robot$payments+ci", secret)
    assert bot.get("/projects/payments/repositories").status_code == 200
    admin.create_user("eve")
    refused = bot.post(f"/projects/{pid}/members", json={"role_id": 3, "member_user": {"username": "eve"}})
    assert refused.status_code == 403

    # idempotent, also with the same permissions given explicitly in another order
    again = robot(harbor, name="ci", project="payments", permission_preset="pull", duration=-1,
                  description="CI pulls")
    assert not again["changed"] and "secret" not in again
    explicit = [{"resource": r, "action": a} for r, a in reversed([
        ("repository", "pull"), ("repository", "read"), ("repository", "list"), ("artifact", "read"),
        ("artifact", "list"), ("tag", "list")])]
    assert not robot(harbor, name="ci", project="payments", permissions=explicit)["changed"]

    # check mode: shows the change, writes nothing, returns no secret
    harbor.reset_request_counts()
    checked = robot(harbor, check=True, diff=True, name="ci", project="payments", permission_preset="push",
                    disable=True)
    assert checked["changed"] and "secret" not in checked
    after = {(p["resource"], p["action"]) for p in checked["diff"]["after"]["permissions"]}
    assert ("repository", "push") in after and checked["diff"]["after"]["disable"] is True
    assert checked["diff"]["before"]["disable"] is False
    assert harbor.request_counts()["writes"] == 0

    updated = robot(harbor, name="ci", project="payments", permission_preset="push")
    assert updated["changed"] and "secret" not in updated
    stored = api_robot(admin, "robot$payments+ci", pid)
    assert ("repository", "push") in {(a["resource"], a["action"]) for a in stored["permissions"][0]["access"]}
    assert stored["description"] == "CI pulls" and stored["duration"] == -1  # untouched options kept
    assert harbor.client("robot$payments+ci", secret).get("/projects/payments/repositories").status_code == 200

    # regenerate: a new secret, returned once, masked in the diff; the old one stops working
    harbor.reset_request_counts()
    checked = robot(harbor, check=True, diff=True, name="ci", project="payments", regenerate_secret=True)
    assert checked["changed"] and "secret" not in checked and harbor.request_counts()["writes"] == 0
    rotated = robot(harbor, diff=True, name="ci", project="payments", regenerate_secret=True)
    new_secret = rotated["secret"]
    assert rotated["changed"] and new_secret and new_secret != secret
    assert rotated["diff"]["after"]["secret"].startswith("****") and new_secret not in str(rotated["diff"])
    assert harbor.client("robot$payments+ci", secret).get("/projects/payments/repositories").status_code == 401
    assert harbor.client("robot$payments+ci", new_secret).get("/projects/payments/repositories").status_code == 200

    assert robot(harbor, name="ci", project="payments", state="absent")["changed"]
    assert api_robot(admin, "robot$payments+ci", pid) is None
    assert not robot(harbor, name="ci", project="payments", state="absent")["changed"]


def test_fixed_secret_is_compared_by_logging_in(harbor, admin):
    admin.create_project("web")
    fixed = "Fixed5ecretValue"
    created = robot(harbor, name="deploy", project="web", permission_preset="pull", secret=fixed)
    assert created["changed"] and "secret" not in created  # the caller chose it: nothing to return
    assert harbor.client("robot$web+deploy", fixed).get("/projects/web/repositories").status_code == 200
    assert not robot(harbor, name="deploy", project="web", secret=fixed)["changed"]
    other = "Other5ecretValue"
    harbor.reset_request_counts()
    checked = robot(harbor, check=True, diff=True, name="deploy", project="web", secret=other)
    assert checked["changed"] and harbor.request_counts()["writes"] == 0
    assert other not in str(checked) and checked["diff"]["after"]["secret"].startswith("****")
    assert robot(harbor, name="deploy", project="web", secret=other)["changed"]
    assert harbor.client("robot$web+deploy", other).get("/projects/web/repositories").status_code == 200
    assert not robot(harbor, name="deploy", project="web", secret=other)["changed"]


def test_system_robot_with_namespaces(harbor, admin):
    admin.create_project("alpha")
    admin.create_project("beta")
    perms = [{"namespace": "alpha", "access": [{"resource": "repository", "action": "push"},
                                              {"resource": "repository", "action": "pull"}]},
             {"namespace": "/", "access": [{"resource": "registry", "action": "list"}]}]
    created = robot(harbor, name="mirror", level="system", permissions=perms, permission_preset="pull",
                    duration=90)
    assert created["changed"] and created["robot"]["full_name"] == "robot$mirror" and created["secret"]
    stored = api_robot(admin, "robot$mirror")
    kinds = {p["namespace"]: p["kind"] for p in stored["permissions"]}
    assert kinds == {"alpha": "project", "/": "system", "*": "project"}
    assert not robot(harbor, name="mirror", level="system", permissions=list(reversed(perms)),
                     permission_preset="pull")["changed"]
    bot = harbor.client("robot$mirror", created["secret"])
    assert bot.get("/projects/beta/repositories").status_code == 200  # preset on every project
    assert bot.get("/registries").status_code == 200

    # dropping a namespace is an update; level cannot change
    assert robot(harbor, name="mirror", level="system", permissions=perms[:1])["changed"]
    assert {p["namespace"] for p in api_robot(admin, "robot$mirror")["permissions"]} == {"alpha"}
    moved = robot(harbor, name="mirror", project="alpha", permission_preset="pull")
    assert moved["failed"] and "cannot change" in moved["msg"] and "delete" in moved["msg"].lower()
    assert robot(harbor, name="mirror", level="system", state="absent")["changed"]


def test_bad_input_fails_before_any_request(harbor):
    harbor.reset_request_counts()
    cases = [
        (dict(name="Bad Name", project="p", permission_preset="pull"), "name"),
        (dict(name="ci", project="p", permission_preset="pull", duration=0), "duration"),
        (dict(name="ci", project="p", permission_preset="pull", secret="short"), "secret policy"),
        (dict(name="ci", project="p", permissions=[{"resource": "repository", "action": "fly"}]),
         "permissions[0]: action 'fly'"),
        (dict(name="ci", project="p", permissions=[{"resource": "registry", "action": "list"}]),
         "permissions[0]: 'registry'"),
        (dict(name="ci", project="p", permissions=[{"namespace": "p", "access": [
            {"resource": "repository", "action": "pull"}]}]), "level: system"),
        (dict(name="ci", level="system", permissions=[{"resource": "repository", "action": "pull"}]),
         "inside access"),
        (dict(name="ci", level="system", permissions=[{"namespace": "/", "access": [
            {"resource": "repository", "action": "pull"}]}]), "system-wide"),
        (dict(name="ci", level="system", project="p"), "project only applies"),
        (dict(name="ci", permission_preset="pull"), "project"),
        (dict(name="ci", project="p", secret="Passw0rdOk", regenerate_secret=True), "mutually exclusive"),
    ]
    # one playbook for all cases: each task fails on its own (ignore_errors) and is recorded
    rc, results = run_tasks([{"registryops.harbor.robot_account": args, "ignore_errors": True}
                             for args, _ in cases], harbor.url)
    assert len(results) == len(cases)
    for (args, message), result in zip(cases, results):
        assert result["failed"] and message in result["msg"], (args, result["msg"])
    assert "short" not in str(results[2])
    assert harbor.request_counts()["total"] == 0


def test_missing_permissions_and_project(harbor, admin):
    missing_project = robot(harbor, name="ci", project="nope", permission_preset="pull")
    assert missing_project["failed"] and "project nope not found" in missing_project["msg"]
    assert not robot(harbor, name="ci", project="nope", state="absent")["changed"]
    admin.create_project("p")
    harbor.reset_request_counts()
    no_perms = robot(harbor, name="ci", project="p")
    assert no_perms["failed"] and "permission_preset" in no_perms["msg"]
    assert harbor.request_counts()["writes"] == 0


def test_project_admin_manages_robots_of_their_project(harbor, admin):
    pid = admin.create_project("squad")
    admin.create_user("lead", password=PASSWORD)
    admin.add_member(pid, "lead", 1)
    task = {"registryops.harbor.robot_account": {"name": "ci", "project": "squad", "permission_preset": "push"}}
    rc, results = run_tasks([task, task], harbor.url, username="lead", password=PASSWORD)
    assert results[0]["changed"] and results[0]["secret"] and not results[1]["changed"]
    assert api_robot(admin, "robot$squad+ci", pid) is not None


def test_developer_and_robot_lack_rights(harbor, admin):
    pid = admin.create_project("team")
    admin.create_user("dev", password=PASSWORD)
    admin.add_member(pid, "dev", 2)
    rc, results = run_tasks([{"registryops.harbor.robot_account": {"name": "x", "project": "team",
                                                                   "permission_preset": "pull"}}],
                            harbor.url, username="dev", password=PASSWORD)
    assert results[0]["failed"] and "403" in results[0]["msg"] and "role" in results[0]["msg"]

    created = robot(harbor, name="puller", project="team", permission_preset="pull")
    rc, results = run_tasks([{"registryops.harbor.robot_account": {"name": "y", "project": "team",
                                                                   "permission_preset": "pull"}}],
                            harbor.url, username="robot$team+puller", password=created["secret"])
    assert results[0]["failed"] and "403" in results[0]["msg"]
    assert created["secret"] not in str(results[0])
