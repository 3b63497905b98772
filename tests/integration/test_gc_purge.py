"""registryops.harbor.gc and registryops.harbor.purge_audit through ansible-playbook against the emulator."""

import json

import pytest

from ..conftest import ADMIN
from ..images import push_image
from .ansible_runner import run_module, run_tasks

# changes system-wide settings or needs the emulator (request log, fresh state, lab peers)
pytestmark = pytest.mark.emulator_only

FAST = {"poll_interval": 0.2, "wait_timeout": 60}


def gc(harbor, check=False, diff=False, **args):
    return run_module("gc", args, harbor.url, check=check, diff=diff)


def purge(harbor, check=False, diff=False, **args):
    return run_module("purge_audit", args, harbor.url, check=check, diff=diff)


def each(harbor, module, cases):
    """One playbook, one task per argument dict (failures ignored): bad-input checks in a single run."""
    tasks = [{"name": "case %d" % i, "registryops.harbor." + module: args, "ignore_errors": True}
             for i, args in enumerate(cases)]
    _rc, results = run_tasks(tasks, harbor.url)
    assert len(results) == len(cases)
    return results


def schedule_of(client, base):
    response = client.get(base + "/schedule")
    assert response.status_code == 200
    if not response.content.strip():
        return None
    body = response.json()
    return body["schedule"], json.loads(body["job_parameters"])


# -- gc schedule ----------------------------------------------------------------------------------
def test_gc_schedule_create_idempotent_update_check_mode_diff_remove(harbor, admin):
    harbor.reset_request_counts()
    checked = gc(harbor, check=True, diff=True, schedule="daily", delete_untagged=True, workers=3)
    assert checked["changed"] and harbor.request_counts()["writes"] == 0
    assert checked["diff"]["before"] == {}
    assert checked["diff"]["after"] == {"schedule": "daily", "delete_untagged": True, "workers": 3}
    assert schedule_of(admin, "/system/gc") is None

    created = gc(harbor, schedule="daily", delete_untagged=True, workers=3)
    assert created["changed"]
    assert created["gc"] == {"schedule": "daily", "delete_untagged": True, "dry_run": False, "workers": 3}
    sched, params = schedule_of(admin, "/system/gc")
    assert (sched["type"], sched["cron"]) == ("Daily", "0 0 0 * * *")
    assert params["delete_untagged"] is True and params["workers"] == 3

    assert not gc(harbor, schedule="Daily", delete_untagged=True, workers=3)["changed"]
    assert not gc(harbor, schedule="daily")["changed"]  # only the options given are compared

    harbor.reset_request_counts()
    preview = gc(harbor, check=True, diff=True, schedule="0  30 2 * * 6")
    assert preview["changed"] and harbor.request_counts()["writes"] == 0
    assert preview["diff"]["before"]["schedule"] == "daily"
    assert preview["diff"]["after"]["schedule"] == "0 30 2 * * 6"

    updated = gc(harbor, diff=True, schedule="0 30 2 * * 6")
    assert updated["changed"]
    sched, params = schedule_of(admin, "/system/gc")
    assert (sched["type"], sched["cron"]) == ("Custom", "0 30 2 * * 6")
    assert params["workers"] == 3 and params["delete_untagged"] is True  # PUT kept what was not given
    assert not gc(harbor, schedule="0 30 2 * * 6", workers=3)["changed"]

    assert gc(harbor, schedule="0 30 2 * * 6", workers=5)["changed"]
    assert schedule_of(admin, "/system/gc")[1]["workers"] == 5

    removed = gc(harbor, diff=True, schedule="none")
    assert removed["changed"] and removed["diff"]["after"] == {}
    assert schedule_of(admin, "/system/gc") is None
    assert not gc(harbor, schedule="none")["changed"]


def test_gc_schedule_dry_run_is_read_back(harbor, admin):
    # Harbor's GET returns every parameter of the schedule in job_parameters, dry_run included
    assert gc(harbor, schedule="weekly", dry_run=True)["changed"]
    assert schedule_of(admin, "/system/gc")[1]["dry_run"] is True
    assert not gc(harbor, schedule="weekly", dry_run=True)["changed"]


def test_gc_bad_input_fails_before_any_request(harbor):
    harbor.reset_request_counts()
    cases = [
        (dict(schedule="0 0 * * *"), ["schedule", "6 fields"]),
        (dict(schedule="30 0 0 * * *"), ["schedule", "(seconds) must be 0"]),
        (dict(schedule="0 0 25 * * *"), ["schedule", "hours field"]),
        (dict(schedule="0 0 0 * * MON-FUNDAY"), ["schedule", "day of week field"]),
        (dict(schedule="sometimes"), ["schedule", "none, hourly, daily, weekly"]),
        (dict(schedule="daily", workers=0), ["workers", "between 1 and 10"]),
        (dict(schedule="daily", workers=11), ["workers", "between 1 and 10"]),
        (dict(workers=2), ["nothing to do", "schedule", "run"]),
        (dict(run=True, wait_timeout=0), ["wait_timeout", "positive"]),
        (dict(run=True, poll_interval=0), ["poll_interval", "positive"]),
        (dict(run=True, log_lines=-1), ["log_lines", "0 or more"]),
    ]
    for (args, words), result in zip(cases, each(harbor, "gc", [args for args, _words in cases])):
        assert result.get("failed") and all(w in result["msg"] for w in words), (args, result.get("msg"))
    assert harbor.request_counts()["total"] == 0


def test_gc_needs_a_system_administrator(harbor, admin):
    admin.create_user("dev1", password="Passw0rd!")
    result = run_module("gc", {"schedule": "daily"}, harbor.url, username="dev1", password="Passw0rd!")
    assert result["failed"] and "403" in result["msg"] and "system administrator" in result["msg"]
    result = run_module("gc", {"run": True}, harbor.url, username="dev1", password="Passw0rd!")
    assert result["failed"] and "403" in result["msg"] and "system administrator" in result["msg"]


def test_gc_run_that_errors_fails_with_its_log(harbor):
    # this emulator has no registry attached: its collection ends in Error, like a Harbor whose registryctl is down
    result = gc(harbor, run=True, **FAST)
    assert result["failed"] and result["changed"]
    assert result["run"]["status"] == "Error"
    assert "ended Error" in result["msg"] and str(result["run"]["id"]) in result["msg"]
    assert result["run"]["log_tail"]


def test_gc_run_reports_the_space_freed(harbor_registry):
    harbor = harbor_registry
    admin = harbor.client()
    admin.create_project("junk")
    image = push_image(harbor.url, "junk/big", "v1", auth=ADMIN, layers=2, size=200_000)
    assert admin.delete("/projects/junk/repositories/big/artifacts/v1").status_code == 200

    harbor.reset_request_counts()
    checked = gc(harbor, check=True, run=True, delete_untagged=True)
    assert checked["changed"] and checked["run"]["status"] == "not started (check mode)"
    assert harbor.request_counts()["writes"] == 0

    preview = gc(harbor, run=True, dry_run=True, **FAST)
    assert preview["changed"] and not preview.get("failed"), preview.get("msg")
    assert preview["run"]["status"] == "Success" and preview["run"]["dry_run"] is True
    assert preview["run"]["freed_bytes"] == 0
    assert preview["run"]["reclaimable_bytes"] >= 400_000

    collected = gc(harbor, run=True, delete_untagged=True, workers=2, log_lines=5, **FAST)
    assert not collected.get("failed"), collected.get("msg")
    run = collected["run"]
    assert run["status"] == "Success" and run["dry_run"] is False
    assert 400_000 <= run["freed_bytes"] <= image.size
    assert 0 < len(run["log_tail"]) <= 5
    assert admin.get(f"/system/gc/{run['id']}").json()["job_status"] == "Success"


def test_gc_run_without_waiting(harbor_registry):
    result = gc(harbor_registry, run=True, wait=False)
    assert result["changed"] and not result.get("failed")
    assert result["run"]["id"] and result["run"]["status"] in ("Pending", "Running", "Success")


# -- audit-log purge ---------------------------------------------------------------------------------
def test_purge_schedule_create_idempotent_update_check_mode_diff_remove(harbor, admin):
    created = purge(harbor, diff=True, schedule="0 0 3 * * *", audit_retention_hour=720,
                    include_operations=["pull", "create"])
    assert created["changed"]
    assert created["purge_audit"] == {"schedule": "0 0 3 * * *", "audit_retention_hour": 720,
                                      "include_operations": ["create", "pull"], "dry_run": False}
    sched, params = schedule_of(admin, "/system/purgeaudit")
    assert (sched["type"], sched["cron"]) == ("Custom", "0 0 3 * * *")
    assert params["audit_retention_hour"] == 720 and set(params["include_operations"].split(",")) == {"create", "pull"}

    again = purge(harbor, schedule="0 0 3 * * *", audit_retention_hour=720, include_operations=["create", "pull"])
    assert not again["changed"]

    harbor.reset_request_counts()
    checked = purge(harbor, check=True, diff=True, schedule="weekly", audit_retention_hour=168)
    assert checked["changed"] and harbor.request_counts()["writes"] == 0
    assert checked["diff"]["before"]["schedule"] == "0 0 3 * * *" and checked["diff"]["after"]["schedule"] == "weekly"
    assert checked["diff"]["before"]["audit_retention_hour"] == 720
    assert checked["diff"]["after"]["audit_retention_hour"] == 168

    assert purge(harbor, schedule="weekly", audit_retention_hour=168)["changed"]
    sched, params = schedule_of(admin, "/system/purgeaudit")
    assert sched["type"] == "Weekly" and params["audit_retention_hour"] == 168
    assert set(params["include_operations"].split(",")) == {"create", "pull"}  # kept
    assert not purge(harbor, schedule="weekly", include_operations=["pull", "create"])["changed"]

    removed = purge(harbor, schedule="none")
    assert removed["changed"] and schedule_of(admin, "/system/purgeaudit") is None
    assert not purge(harbor, schedule="none")["changed"]


def test_purge_bad_input_fails_before_any_request(harbor):
    harbor.reset_request_counts()
    cases = [
        (dict(schedule="0 0 3 * *", audit_retention_hour=1, include_operations=["pull"]), ["schedule", "6 fields"]),
        (dict(schedule="daily", audit_retention_hour=0, include_operations=["pull"]),
         ["audit_retention_hour", "between 1 and 240000"]),
        (dict(schedule="daily", audit_retention_hour=240001, include_operations=["pull"]),
         ["audit_retention_hour", "between 1 and 240000"]),
        (dict(schedule="daily", audit_retention_hour=1, include_operations=[]), ["include_operations", "at least one"]),
        (dict(schedule="daily", audit_retention_hour=1, include_operations=["update"]),
         ["include_operations", "create, delete, pull"]),
        (dict(run=True, audit_retention_hour=24), ["run: true needs include_operations"]),
        (dict(run=True, include_operations=["pull"]), ["run: true needs audit_retention_hour"]),
    ]
    for (args, words), result in zip(cases, each(harbor, "purge_audit", [args for args, _words in cases])):
        assert result.get("failed") and all(w in result["msg"] for w in words), (args, result.get("msg"))
    assert harbor.request_counts()["total"] == 0
    # a new schedule needs both parameters: found after reading, before writing
    missing = purge(harbor, schedule="daily", audit_retention_hour=24)
    assert missing["failed"] and "include_operations" in missing["msg"]
    assert harbor.request_counts()["writes"] == 0


def test_purge_run_reports_what_it_purged(harbor, admin):
    for name in ("p1", "p2", "p3"):
        admin.create_project(name)
    harbor.reset_request_counts()
    checked = purge(harbor, check=True, run=True, audit_retention_hour=1, include_operations=["create"])
    assert checked["changed"] and harbor.request_counts()["writes"] == 0

    # entries are younger than an hour: nothing goes
    kept = purge(harbor, run=True, audit_retention_hour=1, include_operations=["create"], **FAST)
    assert not kept.get("failed"), kept.get("msg")
    assert kept["run"]["status"] == "Success" and kept["run"]["purged"] == 0
    assert kept["run"]["log_tail"]
    counted = purge(harbor, run=True, dry_run=True, audit_retention_hour=1, include_operations=["create", "delete"],
                    **FAST)
    assert not counted.get("failed"), counted.get("msg")
    assert counted["run"]["dry_run"] is True and counted["run"]["purged"] == 0 and counted["run"]["purgeable"] == 0
    assert len(admin.get("/audit-logs", params={"q": "operation=create"}).json()) >= 3


def test_purge_needs_a_system_administrator(harbor, admin):
    admin.create_user("dev2", password="Passw0rd!")
    result = run_module("purge_audit", {"schedule": "daily", "audit_retention_hour": 24, "include_operations": ["pull"]},
                        harbor.url, username="dev2", password="Passw0rd!")
    assert result["failed"] and "403" in result["msg"] and "system administrator" in result["msg"]


def test_wrong_password_is_a_clear_401(harbor):
    tasks = [{"name": m, "registryops.harbor." + m: {"schedule": "none"}, "ignore_errors": True}
             for m in ("gc", "purge_audit")]
    _rc, results = run_tasks(tasks, harbor.url, password="wrong")
    for result in results:
        assert result["failed"] and "401" in result["msg"] and "api_username" in result["msg"]
        assert "wrong" not in str(result)
