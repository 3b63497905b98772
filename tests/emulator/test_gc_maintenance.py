"""Garbage collection around maintenance mode: read-only refuses the GC API's writes (as Harbor's
global read-only middleware does) while a run already started finishes; and the lab fault
that makes the next real runs fail the way a collection fails when the storage refuses deletes."""

import time

import requests

from ..conftest import ADMIN
from ..images import push_image

FINAL = ("Success", "Error", "Stopped")
MANUAL = {"schedule": {"type": "Manual"}, "parameters": {"dry_run": False, "delete_untagged": True}}


def wait_run(client, gc_id, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"/system/gc/{gc_id}").json()
        if run["job_status"] in FINAL:
            return run
        assert time.monotonic() < deadline, f"GC {gc_id} did not finish: {run}"
        time.sleep(0.05)


def start(client, body=MANUAL):
    response = client.post("/system/gc/schedule", json=body)
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def read_only(client, value):
    assert client.put("/configurations", json={"read_only": value}).status_code == 200


def fault(harbor, **body):
    method = requests.put if body else requests.get
    response = method(harbor.url + "/lab/faults/gc", json=body or None, timeout=10)
    return response.status_code, response.json()


def test_read_only_refuses_every_gc_write_but_not_reads(harbor, admin):
    gc_id = start(admin)
    wait_run(admin, gc_id)
    read_only(admin, True)
    for method, path, body in (("post", "/system/gc/schedule", MANUAL),
                               ("put", "/system/gc/schedule", {"schedule": {"type": "Daily", "cron": "0 0 0 * * *"}}),
                               ("put", f"/system/gc/{gc_id}", None)):
        response = getattr(admin, method)(path, json=body)
        assert response.status_code == 403, (method, path, response.text)
        error = response.json()["errors"][0]
        assert error["code"] == "DENIED" and "read only mode" in error["message"]
    assert admin.get("/system/gc").status_code == 200 and len(admin.get("/system/gc").json()) == 1
    assert admin.get("/system/gc/schedule").status_code == 200
    read_only(admin, False)
    wait_run(admin, start(admin))


def test_a_run_started_before_read_only_finishes_in_read_only(harbor_registry):
    admin = harbor_registry.client()
    admin.create_project("junk")
    push_image(harbor_registry.url, "junk/app", "v1", auth=ADMIN)  # Distribution cannot collect an empty storage
    gc_id = start(admin)
    read_only(admin, True)  # right after the start: the job service does not go through the API's middleware
    assert wait_run(admin, gc_id)["job_status"] == "Success"
    read_only(admin, False)


def test_injected_failure_fails_the_next_real_runs_only(harbor_registry):
    harbor = harbor_registry
    admin = harbor.client()
    admin.create_project("junk")
    push_image(harbor.url, "junk/app", "v1", auth=ADMIN, size=50_000)
    assert admin.delete("/projects/junk/repositories/app/artifacts/v1").status_code == 200

    assert fault(harbor) == (200, {"fail_runs": 0, "delay_seconds": 0})
    assert fault(harbor, fail_runs=1, delay_seconds=1) == (200, {"fail_runs": 1, "delay_seconds": 1})
    dry = wait_run(admin, start(admin, {"schedule": {"type": "Manual"}, "parameters": {"dry_run": True}}))
    assert dry["job_status"] == "Success"  # a dry run deletes nothing, so a storage that refuses deletes does not matter
    assert fault(harbor) == (200, {"fail_runs": 1, "delay_seconds": 1})

    failed_id = start(admin)
    assert admin.get(f"/system/gc/{failed_id}").json()["job_status"] in ("Pending", "Running")  # works a second first
    assert wait_run(admin, failed_id)["job_status"] == "Error"
    log = admin.get(f"/system/gc/{failed_id}/log").text
    assert "failed to delete blobs from storage" in log
    assert fault(harbor) == (200, {"fail_runs": 0, "delay_seconds": 1})

    collected_id = start(admin)  # the fault is used up: the next run collects
    collected = wait_run(admin, collected_id)
    assert collected["job_status"] == "Success"
    assert "freed_space" in collected["job_parameters"]
    assert "freed 0 bytes" not in admin.get(f"/system/gc/{collected_id}/log").text


def test_fault_body_is_checked(harbor):
    response = requests.put(harbor.url + "/lab/faults/gc", json={"fail_runs": -1}, timeout=10)
    assert response.status_code == 400
    response = requests.put(harbor.url + "/lab/faults/gc", json={}, timeout=10)
    assert response.status_code == 400
    response = requests.put(harbor.url + "/lab/faults/gc", json={"fail_runs": 1, "delay_seconds": 601}, timeout=10)
    assert response.status_code == 400
