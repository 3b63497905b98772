"""Garbage collection: the schedule API (empty GET, POST/PUT, None, validation), manual runs
in the job service, history and logs, scheduled runs, and a real collection that frees the
blobs of a deleted artifact."""

import datetime
import json
import time

import pytest
from croniter import croniter

from harbor_emulator import jobs

from ..conftest import ADMIN
from ..images import push_image

FINAL = ("Success", "Error", "Stopped")


def wait_run(client, gc_id, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"/system/gc/{gc_id}").json()
        if run["job_status"] in FINAL:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"GC {gc_id} did not finish: {run}")
        time.sleep(0.05)


def start(client, dry_run=False, delete_untagged=False):
    response = client.post("/system/gc/schedule", json={
        "schedule": {"type": "Manual"}, "parameters": {"dry_run": dry_run, "delete_untagged": delete_untagged}})
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def message(response):
    return response.json()["errors"][0]["message"]


def test_no_schedule_is_200_with_an_empty_body(admin):
    response = admin.get("/system/gc/schedule")
    assert response.status_code == 200 and response.content == b""


def test_schedule_create_update_and_remove(admin):
    body = {"schedule": {"type": "Custom", "cron": "0 0 2 * * *"},
            "parameters": {"delete_untagged": True, "dry_run": False, "workers": 3}}
    response = admin.post("/system/gc/schedule", json=body)
    assert response.status_code == 201
    assert response.headers["Location"] == "/api/v2.0/system/gc/0"  # Harbor: no run started
    schedule = admin.get("/system/gc/schedule").json()
    assert schedule["schedule"]["type"] == "Custom" and schedule["schedule"]["cron"] == "0 0 2 * * *"
    assert json.loads(schedule["job_parameters"]) == {"delete_untagged": True, "dry_run": False, "workers": 3}
    assert schedule["schedule"]["next_scheduled_time"].endswith("T02:00:00.000Z")
    # POST again replaces (Harbor's POST and PUT share one code path)
    daily = {"schedule": {"type": "Daily", "cron": "0 0 0 * * *"}}
    assert admin.post("/system/gc/schedule", json=daily).status_code == 201
    assert admin.get("/system/gc/schedule").json()["schedule"]["type"] == "Daily"
    weekly = {"schedule": {"type": "Weekly", "cron": "0 0 0 * * 0"}}
    assert admin.put("/system/gc/schedule", json=weekly).status_code == 200
    assert admin.get("/system/gc/schedule").json()["schedule"]["type"] == "Weekly"
    assert admin.put("/system/gc/schedule", json={"schedule": {"type": "None"}}).status_code == 200
    assert admin.get("/system/gc/schedule").content == b""
    assert admin.get("/system/gc").json() == []  # changing schedules runs nothing


@pytest.mark.parametrize("body, fragment", [
    ({}, "schedule in body is required"),
    ({"schedule": {}}, "type in body.schedule is required"),
    ({"schedule": {"type": "Monthly", "cron": "0 0 0 1 * *"}}, "schedule.type must be one of"),
    ({"schedule": {"type": "Custom"}}, "empty cron string"),
    ({"schedule": {"type": "Hourly", "cron": ""}}, "empty cron string"),
    ({"schedule": {"type": "Custom", "cron": "0 0 * * *"}}, "invalid cron"),
    ({"schedule": {"type": "Custom", "cron": "0 0 0 32 * *"}}, "invalid cron"),
    ({"schedule": {"type": "Manual"}, "parameters": {"workers": 0}}, "workers"),
    ({"schedule": {"type": "Manual"}, "parameters": {"workers": 11}}, "workers"),
    ({"schedule": {"type": "Manual"}, "parameters": {"dry_run": "yes"}}, "dry_run"),
    ({"schedule": {"type": "Manual"}, "parameters": {"delete_untagged": 1}}, "delete_untagged"),
])
def test_schedule_validation(admin, body, fragment):
    for method in (admin.post, admin.put):
        response = method("/system/gc/schedule", json=body)
        assert response.status_code == 400, response.text
        assert fragment in message(response)
    assert admin.get("/system/gc").json() == []


def test_manual_run_without_a_registry_fails_with_a_clear_log(admin):
    gc_id = start(admin, dry_run=True)
    run = wait_run(admin, gc_id)
    assert run["job_status"] == "Error" and run["job_name"] == "GARBAGE_COLLECTION"
    assert run["job_kind"] == "MANUAL" and run["schedule"]["type"] == "Manual"
    assert json.loads(run["job_parameters"])["dry_run"] is True
    log = admin.get(f"/system/gc/{gc_id}/log")
    assert log.headers["Content-Type"].startswith("text/plain")
    assert "no registry is attached" in log.text


def test_history_get_stop_and_404s(harbor, admin):
    first = start(admin)
    wait_run(admin, first)
    second = start(admin)
    wait_run(admin, second)
    history = admin.get("/system/gc")
    assert [h["id"] for h in history.json()] == [second, first] and history.headers["X-Total-Count"] == "2"
    page = admin.get("/system/gc", params={"page_size": 1, "page": 2})
    assert [h["id"] for h in page.json()] == [first]
    assert admin.put(f"/system/gc/{first}").status_code == 200  # already final: nothing to stop
    assert admin.get(f"/system/gc/{first}").json()["job_status"] == "Error"
    for path in ("/system/gc/99", "/system/gc/99/log"):
        assert admin.get(path).status_code == 404
    assert admin.put("/system/gc/99").status_code == 404


def test_a_manual_run_while_one_is_in_progress_is_409(harbor, admin):
    with harbor.emulator.store.tx() as tx:  # a run another process is busy with
        tx.insert("gc_execution", 50, {"id": 50, "trigger": "MANUAL", "status": "Running", "parameters": {},
                                       "creation_time": "", "update_time": "", "stop_requested": False})
    response = admin.post("/system/gc/schedule", json={"schedule": {"type": "Manual"}})
    assert response.status_code == 409 and "in progress" in message(response)


def test_stopping_a_pending_run(harbor, admin):
    with harbor.emulator.store.tx() as tx:  # queued, not yet claimed by any worker
        tx.insert("gc_execution", 60, {"id": 60, "trigger": "MANUAL", "status": "Pending",
                                       "parameters": {"dry_run": False, "delete_untagged": False, "workers": 1},
                                       "creation_time": "", "update_time": "", "stop_requested": False})
    assert admin.put("/system/gc/60").status_code == 200
    assert admin.get("/system/gc/60").json()["job_status"] == "Stopped"


def test_the_schedule_fires_in_the_job_service(harbor, admin):
    cron = "0 30 4 * * *"
    assert admin.put("/system/gc/schedule", json={"schedule": {"type": "Custom", "cron": cron},
                                                  "parameters": {"dry_run": True}}).status_code == 200
    slot = croniter(cron, datetime.datetime.now(datetime.timezone.utc),
                    second_at_beginning=True).get_next(datetime.datetime)
    assert [name for name, _, _ in jobs.tick(harbor.emulator, slot)] == ["gc"]
    assert jobs.tick(harbor.emulator, slot) == []
    [run] = admin.get("/system/gc").json()
    assert run["job_kind"] == "SCHEDULE" and run["schedule"]["type"] == "Schedule"
    assert json.loads(run["job_parameters"])["dry_run"] is True


def test_system_admins_only(harbor, admin):
    admin.create_user("dev", password="Passw0rd!")
    dev = harbor.client("dev", "Passw0rd!")
    assert dev.get("/system/gc/schedule").status_code == 403
    assert dev.post("/system/gc/schedule", json={"schedule": {"type": "Manual"}}).status_code == 403
    assert dev.get("/system/gc").status_code == 403
    assert harbor.anonymous().get("/system/gc").status_code == 401


def test_dry_run_then_real_run_frees_the_blobs_of_a_deleted_artifact(harbor_registry):
    admin = harbor_registry.client()
    admin.create_project("proj")
    push_image(harbor_registry.url, "proj/app", "keep", size=4096, auth=ADMIN)
    doomed = push_image(harbor_registry.url, "proj/app", "doomed", layers=2, size=8192, auth=ADMIN)
    assert admin.delete(f"/projects/proj/repositories/app/artifacts/{doomed.digest}").status_code == 200

    dry = wait_run(admin, start(admin, dry_run=True))
    assert dry["job_status"] == "Success", admin.get(f"/system/gc/{dry['id']}/log").text
    params = json.loads(dry["job_parameters"])
    assert params["dry_run"] is True
    assert params["freed_space"] >= 2 * 8192 and params["purged_blobs"] >= 3  # what a real run would free
    assert "would be freed" in admin.get(f"/system/gc/{dry['id']}/log").text

    real = wait_run(admin, start(admin))
    assert real["job_status"] == "Success"
    freed = json.loads(real["job_parameters"])["freed_space"]
    assert 2 * 8192 <= freed <= doomed.size
    log = admin.get(f"/system/gc/{real['id']}/log").text
    assert f"freed {freed} bytes" in log and "manifests are actually deleted" in log

    again = wait_run(admin, start(admin))
    assert json.loads(again["job_parameters"])["freed_space"] == 0  # nothing left to collect
