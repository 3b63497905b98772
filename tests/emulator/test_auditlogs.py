"""Audit logs: an entry per successful write, none for reads or failures, the lists and their
filters, project logs, and the audit-log purge (manual, dry run, schedule, history, logs)."""

import datetime
import time

import pytest

from harbor_emulator import jobs
from harbor_emulator.resources import auditlogs

from .. import images
from ..conftest import ADMIN

PASSWORD = "Passw0rd!"
PURGE_ALL = {"audit_retention_hour": 1, "include_operations": "create,delete,update", "dry_run": False}


def entries(admin, **params):
    response = admin.get("/audit-logs", params={"page_size": 100, **params})
    assert response.status_code == 200, response.text
    return response.json()


def insert_old(harbor, hours_ago, operation="create", username="old-user", project_id=0, resource="old"):
    """An entry dated in the past, written straight into the store."""
    with harbor.emulator.store.tx() as tx:
        return auditlogs.record(tx, username, operation, "project", resource, project_id,
                                epoch=time.time() - hours_ago * 3600)


# -- recording -----------------------------------------------------------------------------
def test_writes_are_recorded_and_reads_are_not(admin):
    pid = admin.create_project("team")
    admin.put(f"/projects/{pid}", json={"metadata": {"public": "true"}})
    for _ in range(3):
        admin.get("/projects")
        admin.get(f"/projects/{pid}")
    admin.delete(f"/projects/{pid}")
    logs = entries(admin)
    assert [(e["operation"], e["resource_type"], e["resource"], e["username"]) for e in logs] == [
        ("delete", "project", "team", "admin"),
        ("update", "project", "team", "admin"),
        ("create", "project", "team", "admin"),
    ]
    assert all(set(e) == {"id", "username", "resource", "resource_type", "operation", "op_time"} for e in logs)


def test_failed_writes_are_not_recorded(harbor, admin):
    admin.create_project("team")
    assert admin.post("/projects", json={"project_name": "team"}).status_code == 409
    assert admin.post("/projects", json={"project_name": "Bad Name"}).status_code == 400
    assert harbor.anonymous().post("/projects", json={"project_name": "anon"}).status_code == 401
    assert admin.delete("/projects/999").status_code == 404
    assert len(entries(admin)) == 1


def test_nested_and_named_resources(harbor, admin):
    pid = admin.create_project("team")
    admin.create_user("dev", PASSWORD)
    member_id = admin.add_member("team", "dev", 2)
    admin.put(f"/projects/{pid}/members/{member_id}", json={"role_id": 3})
    robot = admin.post("/robots", json={"name": "ci", "level": "system", "duration": -1, "permissions": [
        {"kind": "project", "namespace": "*", "access": [{"resource": "repository", "action": "pull"}]}]}).json()
    admin.delete(f"/robots/{robot['id']}")
    got = [(e["operation"], e["resource_type"], e["resource"]) for e in reversed(entries(admin))]
    assert got[1:] == [
        ("create", "user", "dev"),
        ("create", "project_member", f"team/members/{member_id}"),
        ("update", "project_member", f"team/members/{member_id}"),
        ("create", "robot", "robot$ci"),
        ("delete", "robot", "robot$ci"),
    ]


def test_robot_writes_are_recorded_under_the_robot_name(harbor, admin):
    admin.create_project("team")
    body = {"name": "meta", "level": "project", "duration": -1, "permissions": [
        {"kind": "project", "namespace": "team", "access": [{"resource": "metadata", "action": "create"}]}]}
    robot = admin.post("/robots", json=body).json()
    client = harbor.client(robot["name"], robot["secret"])
    response = client.post("/projects/team/metadatas/", json={"auto_scan": "true"},
                           headers={"X-Is-Resource-Name": "true"})
    assert response.status_code == 200, response.text
    newest = entries(admin)[0]
    assert (newest["username"], newest["operation"], newest["resource_type"], newest["resource"]) == \
        ("robot$team+meta", "create", "project_metadata", "team")


def test_streaming_api_writes_are_recorded_too(harbor_registry):
    """Handlers that manage their own transactions (artifacts over the registry) are audited as well."""
    admin = harbor_registry.client()
    admin.create_project("apps")
    images.push_image(harbor_registry.url, "apps/web", "v1", auth=ADMIN)
    images.push_image(harbor_registry.url, "apps/web", "v2", auth=ADMIN)
    assert admin.delete("/projects/apps/repositories/web/artifacts/v1/tags/v1").status_code == 200
    assert admin.delete("/projects/apps/repositories/web/artifacts/v2").status_code == 200
    assert admin.get("/projects/apps/repositories/web/artifacts").status_code == 200
    got = [(e["operation"], e["resource_type"], e["resource"]) for e in entries(admin)[:2]]
    assert got == [("delete", "artifact", "apps/web@v2"), ("delete", "tag", "apps/web:v1")]


# -- lists -----------------------------------------------------------------------------------
def test_pagination_and_sort(admin):
    for i in range(15):
        admin.create_project(f"p{i:02d}")
    first = admin.get("/audit-logs")
    assert first.headers["X-Total-Count"] == "15"
    assert len(first.json()) == 10 and 'rel="next"' in first.headers["Link"]
    assert first.json()[0]["resource"] == "p14"  # newest first
    second = admin.get("/audit-logs", params={"page": 2})
    assert len(second.json()) == 5 and 'rel="prev"' in second.headers["Link"]
    oldest_first = admin.get("/audit-logs", params={"sort": "op_time", "page_size": 3}).json()
    assert [e["resource"] for e in oldest_first] == ["p00", "p01", "p02"]
    by_resource = admin.get("/audit-logs", params={"sort": "-resource", "page_size": 2}).json()
    assert [e["resource"] for e in by_resource] == ["p14", "p13"]
    assert admin.get("/audit-logs", params={"sort": "nope"}).status_code == 400
    assert admin.get("/audit-logs", params={"page_size": 101}).status_code == 400


def test_q_filters(harbor, admin):
    admin.create_project("alpha")
    admin.create_project("beta")
    admin.delete("/projects/beta", headers={"X-Is-Resource-Name": "true"})
    insert_old(harbor, 48, username="ghost", resource="ancient")
    assert [e["resource"] for e in entries(admin, q="operation=delete")] == ["beta"]
    assert {e["resource"] for e in entries(admin, q="resource=~alp")} == {"alpha"}
    assert {e["username"] for e in entries(admin, q="username=ghost")} == {"ghost"}
    assert len(entries(admin, q="resource_type=project,operation=create")) == 3
    yesterday = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=24))
    recent = entries(admin, q=f"op_time=[{yesterday:%Y-%m-%d %H:%M:%S}~]")
    assert {e["resource"] for e in recent} == {"alpha", "beta"}
    old = entries(admin, q=f'op_time=["2000-01-01 00:00:00"~"{yesterday:%Y-%m-%d %H:%M:%S}"]')
    assert [e["resource"] for e in old] == ["ancient"]
    assert admin.get("/audit-logs", params={"q": "colour=red"}).status_code == 400
    assert admin.get("/audit-logs", params={"q": "op_time=[yesterday~today]"}).status_code == 400


def test_ext_lists_and_event_types(admin):
    admin.create_project("team")
    ext = admin.get("/auditlog-exts").json()
    assert ext[0]["operation_result"] is True and ext[0]["resource"] == "team"
    assert "operation_description" in ext[0]
    project_ext = admin.get("/projects/team/auditlog-exts").json()
    assert [e["id"] for e in project_ext] == [ext[0]["id"]]
    events = admin.get("/auditlog-exts/events").json()
    assert {"event_type": "create_project"} in events


def test_project_logs_and_visibility(harbor, admin):
    admin.create_project("team")
    admin.create_project("other")
    for name, role in (("pa", 1), ("dev", 2)):
        admin.create_user(name, PASSWORD)
        admin.add_member("team", name, role)
    pa, dev = harbor.client("pa", PASSWORD), harbor.client("dev", PASSWORD)
    team_logs = admin.get("/projects/team/logs").json()
    assert {e["resource_type"] for e in team_logs} == {"project", "project_member"}
    assert all(e["resource"].startswith("team") for e in team_logs)
    assert pa.get("/projects/team/logs").json() == team_logs
    assert dev.get("/projects/team/logs").status_code == 403  # only project admins list logs
    assert pa.get("/projects/other/logs").status_code == 403
    assert admin.get("/projects/nowhere/logs").status_code == 404
    assert harbor.anonymous().get("/audit-logs").status_code == 401
    # outside the system administrators, /audit-logs shows the projects one may list logs of
    assert {e["id"] for e in pa.get("/audit-logs", params={"page_size": 100}).json()} == {e["id"] for e in team_logs}
    assert dev.get("/audit-logs").json() == []


# -- purge -------------------------------------------------------------------------------------
def purge(admin, parameters=None, kind="Manual", cron=None):
    schedule = {"type": kind}
    if cron:
        schedule["cron"] = cron
    return admin.post("/system/purgeaudit/schedule", json={"schedule": schedule,
                                                          "parameters": parameters or PURGE_ALL})


def test_manual_purge_removes_old_entries(harbor, admin):
    admin.create_project("team")
    old_ids = {insert_old(harbor, 5)["id"], insert_old(harbor, 3, operation="delete")["id"]}
    kept_pull = insert_old(harbor, 5, operation="pull")["id"]
    response = purge(admin)
    assert response.status_code == 201, response.text
    purge_id = int(response.headers["Location"].rsplit("/", 1)[1])
    remaining = {e["id"] for e in entries(admin)}
    assert not remaining & old_ids
    assert kept_pull in remaining  # pull was not among the operations to purge
    assert any(e["resource"] == "team" for e in entries(admin))
    job = admin.get(f"/system/purgeaudit/{purge_id}").json()
    assert job["job_status"] == "Success" and job["job_kind"] == "MANUAL" and job["job_name"] == "PURGE_AUDIT_LOG"
    assert '"audit_retention_hour": 1' in job["job_parameters"]
    log = admin.get(f"/system/purgeaudit/{purge_id}/log")
    assert log.status_code == 200 and "Purged 2 rows of audit logs" in log.text
    history = admin.get("/system/purgeaudit")
    assert history.headers["X-Total-Count"] == "1" and history.json()[0]["id"] == purge_id


def test_dry_run_keeps_entries(harbor, admin):
    old = insert_old(harbor, 10)["id"]
    response = purge(admin, {**PURGE_ALL, "dry_run": True})
    assert response.status_code == 201
    purge_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert old in {e["id"] for e in entries(admin)}
    assert "[DRYRUN]Purged 1 rows of audit logs" in admin.get(f"/system/purgeaudit/{purge_id}/log").text


def test_purge_schedule_lifecycle(harbor, admin):
    response = admin.get("/system/purgeaudit/schedule")
    assert response.status_code == 200 and response.content == b""
    assert purge(admin, kind="Daily", cron="0 0 0 * * *").status_code == 201
    schedule = admin.get("/system/purgeaudit/schedule").json()
    assert schedule["schedule"] == {"type": "Daily", "cron": "0 0 0 * * *"}
    assert '"include_operations": "create,delete,update"' in schedule["job_parameters"]
    update = {"schedule": {"type": "Custom", "cron": "0 30 2 * * *"},
              "parameters": {**PURGE_ALL, "audit_retention_hour": 48}}
    assert admin.put("/system/purgeaudit/schedule", json=update).status_code == 200
    schedule = admin.get("/system/purgeaudit/schedule").json()
    assert schedule["schedule"]["cron"] == "0 30 2 * * *" and '"audit_retention_hour": 48' in schedule["job_parameters"]
    assert admin.put("/system/purgeaudit/schedule", json={"schedule": {"type": "None"},
                                                          "parameters": PURGE_ALL}).status_code == 200
    assert admin.get("/system/purgeaudit/schedule").content == b""


def test_scheduled_purge_fires_through_the_job_scheduler(harbor, admin):
    if "purgeaudit" not in jobs.SCHEDULES:
        pytest.skip("jobs.py does not offer register_schedule")
    insert_old(harbor, 5)
    assert purge(admin, kind="Custom", cron="0 0 * * * *").status_code == 201
    top_of_hour = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0, microsecond=0)
    fired = jobs.tick(harbor.emulator, top_of_hour)
    assert [f[0] for f in fired if f[0] == "purgeaudit"] == ["purgeaudit"]
    history = admin.get("/system/purgeaudit").json()
    assert history[0]["job_kind"] == "SCHEDULE" and history[0]["schedule"]["type"] == "Schedule"
    assert not [e for e in entries(admin) if e["username"] == "old-user"]


def test_purge_validation(admin):
    bad = [
        {"parameters": PURGE_ALL},
        {"schedule": {"type": "Manual"}},
        {"schedule": {"type": "Manual"}, "parameters": {}},
        {"schedule": {"type": "Manual"}, "parameters": {"include_operations": "create"}},
        {"schedule": {"type": "Manual"}, "parameters": {"audit_retention_hour": 1}},
        {"schedule": {"type": "Manual"}, "parameters": {**PURGE_ALL, "audit_retention_hour": "1"}},
        {"schedule": {"type": "Manual"}, "parameters": {**PURGE_ALL, "audit_retention_hour": -1}},
        {"schedule": {"type": "Manual"}, "parameters": {**PURGE_ALL, "include_operations": "create,explode"}},
        {"schedule": {"type": "Manual"}, "parameters": {**PURGE_ALL, "dry_run": "yes"}},
        {"schedule": {"type": "Monthly"}, "parameters": PURGE_ALL},
        {"schedule": {"type": "Custom"}, "parameters": PURGE_ALL},
        {"schedule": {"type": "Custom", "cron": "* * * * *"}, "parameters": PURGE_ALL},
        {"schedule": {"type": "Custom", "cron": "5 0 * * * *"}, "parameters": PURGE_ALL},
        {"schedule": {"type": "Custom", "cron": "0 * * * * *"}, "parameters": PURGE_ALL},
        {"schedule": {"type": "Custom", "cron": "0 0 25 * * *"}, "parameters": PURGE_ALL},
    ]
    for body in bad:
        response = admin.post("/system/purgeaudit/schedule", json=body)
        assert response.status_code == 400, (body, response.text)
    assert admin.get("/system/purgeaudit").json() == []


def test_purge_needs_an_administrator(harbor, admin):
    admin.create_user("someone", PASSWORD)
    someone = harbor.client("someone", PASSWORD)
    assert purge(someone).status_code == 403
    assert someone.get("/system/purgeaudit/schedule").status_code == 403
    assert someone.get("/system/purgeaudit").status_code == 403
    assert harbor.anonymous().get("/system/purgeaudit").status_code == 401


def test_unknown_purge_job_is_404_and_stop_is_200(admin):
    assert admin.get("/system/purgeaudit/42").status_code == 404
    assert admin.get("/system/purgeaudit/42/log").status_code == 404
    assert admin.put("/system/purgeaudit/42").status_code == 404
    response = purge(admin)
    purge_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert admin.put(f"/system/purgeaudit/{purge_id}").status_code == 200
    assert admin.get(f"/system/purgeaudit/{purge_id}").json()["job_status"] == "Success"
