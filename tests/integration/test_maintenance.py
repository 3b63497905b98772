"""The maintenance role through playbooks/maintenance.yml against an emulator with its own CNCF
Distribution registry: a real collection that frees the blobs of a deleted artifact inside a
read-only window, a collection that fails (the lab fault of a storage refusing deletes) or outlasts
the wait and still leaves the registry writable, reruns, check mode and the schedule."""

import os

import pytest
import requests

from ..conftest import ADMIN, have_distribution, start_harbor
from ..images import push_image
from .test_promote import run_playbook

# changes system-wide settings and uses the emulator's request log and lab faults
pytestmark = pytest.mark.emulator_only

CONFIG_ROUTE = "PUT /api/v2.0/configurations"
GC_START_ROUTE = "POST /api/v2.0/system/gc/schedule"


@pytest.fixture
def harbor(tmp_path):
    """An emulator with a registry (this module's own: it needs lab faults and the request log)."""
    if os.environ.get("HARBOR_URL"):
        pytest.skip("needs the lab emulator; HARBOR_URL points at a real Harbor")
    if not have_distribution():
        if os.environ.get("CI"):
            pytest.fail("docker-registry (CNCF Distribution) is required in CI")
        pytest.skip("docker-registry (CNCF Distribution) is not installed; `make deps` installs it")
    h = start_harbor(tmp_path / "harbor", registry=True)
    yield h
    h.server.stop()


@pytest.fixture
def inventory(harbor, tmp_path):
    path = tmp_path / "hosts.yml"
    path.write_text(f"all:\n  hosts:\n    harbor-lab:\n      ansible_connection: local\n"
                    f"      harbor_url: {harbor.url}\n      harbor_password: {ADMIN[1]}\n")
    return str(path)


def garbage(harbor):
    """A kept image and a deleted one: the deleted one's blobs are what a collection frees."""
    admin = harbor.client()
    admin.create_project("junk")
    push_image(harbor.url, "junk/keep", "v1", auth=ADMIN, size=2_000)
    gone = push_image(harbor.url, "junk/gone", "v1", auth=ADMIN, layers=2, size=300_000)
    assert admin.delete("/projects/junk/repositories/gone/artifacts/v1").status_code == 200
    return gone


def maintain(inventory, check=False, **variables):
    variables.setdefault("maintenance_hosts", "all")
    variables.setdefault("maintenance_poll_interval", 1)
    return run_playbook("maintenance.yml", inventory, variables, check=check)


def report_of(results):
    facts = [r["ansible_facts"]["maintenance_report"] for r in results
             if "maintenance_report" in r.get("ansible_facts", {})]
    assert facts, "no maintenance_report"
    return facts[-1]


def read_only(harbor):
    return harbor.client().get("/systeminfo").json()["read_only"]


def runs(harbor):
    return harbor.client().get("/system/gc").json()


def test_window_frees_the_deleted_artifact_and_leaves_the_registry_writable(harbor, inventory):
    gone = garbage(harbor)
    stored = [harbor.emulator.registry._blob_path(d) for d in gone.blobs]
    assert all(os.path.exists(path) for path in stored)
    harbor.reset_request_counts()
    rc, results, output = maintain(inventory)
    assert rc == 0, output
    report = report_of(results)
    assert report["collected"] is True and report["status"] == "Success"
    assert report["reclaimable_bytes"] >= 600_000
    assert 600_000 <= report["freed_bytes"] <= gone.size
    assert report["read_only_at_end"] is False and report["failure"] is None
    assert read_only(harbor) is False
    counts = harbor.request_counts()["by_route"]
    assert counts[CONFIG_ROUTE] == 2  # read-only on, then off
    assert counts[GC_START_ROUTE] == 2  # the dry run, then the collection
    history = runs(harbor)
    assert [r["job_status"] for r in history] == ["Success", "Success"]
    assert not any(os.path.exists(path) for path in stored)  # really gone from the storage
    print(f"\nfreed {report['freed_bytes']} bytes (reclaimable {report['reclaimable_bytes']})")

    # a rerun finds nothing to free: a dry run only, no read-only window, nothing changed
    harbor.reset_request_counts()
    rc, results, output = maintain(inventory)
    assert rc == 0, output
    again = report_of(results)
    assert again["collected"] is False and again["reclaimable_bytes"] == 0
    assert not any(r.get("changed") for r in results), output
    counts = harbor.request_counts()["by_route"]
    assert CONFIG_ROUTE not in counts and counts[GC_START_ROUTE] == 1
    assert "Nothing to free" in output


def test_a_failing_collection_still_switches_read_only_off(harbor, inventory):
    garbage(harbor)
    # the next real collection fails after 6 s of work, as when the storage refuses to delete blobs
    assert requests.put(harbor.url + "/lab/faults/gc", json={"fail_runs": 1, "delay_seconds": 6},
                        timeout=10).status_code == 200
    harbor.reset_request_counts()
    rc, results, output = maintain(inventory)
    assert rc != 0
    assert "read-only is off again" in output and "failed to delete blobs from storage" in output
    started = [r for r in results if r.get("run", {}).get("dry_run") is False]
    assert started and started[0]["run"]["status"] in ("Pending", "Running")  # still working when read-only went on
    waited = [r for r in results if "json" in r and isinstance(r["json"], dict) and "job_status" in r["json"]]
    assert waited and waited[-1]["json"]["job_status"] == "Error"
    report = report_of(results)
    assert report["status"] == "Error" and report["read_only_at_end"] is False
    assert "ended Error" in report["failure"]
    assert read_only(harbor) is False
    assert harbor.request_counts()["by_route"][CONFIG_ROUTE] == 2  # on, then off despite the failure
    assert [r["job_status"] for r in runs(harbor)] == ["Error", "Success"]


def test_a_collection_outlasting_the_wait_leaves_it_running_and_the_registry_writable(harbor, inventory):
    garbage(harbor)
    assert requests.put(harbor.url + "/lab/faults/gc", json={"fail_runs": 1, "delay_seconds": 60},
                        timeout=10).status_code == 200
    rc, results, output = maintain(inventory, maintenance_wait_timeout=3)
    assert rc != 0
    report = report_of(results)
    assert "keeps running in Harbor" in report["failure"] and report["read_only_at_end"] is False
    assert read_only(harbor) is False
    assert runs(harbor)[0]["job_status"] == "Running"  # bounded wait: the role did not wait for it


def test_check_mode_writes_nothing(harbor, inventory):
    garbage(harbor)
    harbor.reset_request_counts()
    rc, results, output = maintain(inventory, check=True, maintenance_gc_schedule="daily")
    assert rc == 0, output
    assert harbor.request_counts()["writes"] == 0
    assert report_of(results)["collected"] is False and "Check mode" in output
    assert runs(harbor) == [] and read_only(harbor) is False


def test_already_read_only_is_refused_unless_told_otherwise(harbor, inventory):
    garbage(harbor)
    assert harbor.client().put("/configurations", json={"read_only": True}).status_code == 200
    harbor.reset_request_counts()
    rc, _results, output = maintain(inventory)
    assert rc != 0 and "is already read-only" in output
    assert harbor.request_counts()["writes"] == 0 and read_only(harbor) is True

    rc, results, output = maintain(inventory, maintenance_fail_if_read_only=False)
    assert rc == 0, output
    assert report_of(results)["status"] == "Success" and read_only(harbor) is False


def test_schedule_only_is_idempotent(harbor, inventory):
    rc, results, output = maintain(inventory, maintenance_collect=False, maintenance_gc_schedule="0 30 2 * * 6",
                                   maintenance_delete_untagged=True, maintenance_workers=3)
    assert rc == 0, output
    assert any(r.get("changed") for r in results)
    schedule = harbor.client().get("/system/gc/schedule").json()
    assert schedule["schedule"]["cron"] == "0 30 2 * * 6"
    assert '"delete_untagged": true' in schedule["job_parameters"] and '"workers": 3' in schedule["job_parameters"]
    harbor.reset_request_counts()
    rc, results, output = maintain(inventory, maintenance_collect=False, maintenance_gc_schedule="0 30 2 * * 6",
                                   maintenance_delete_untagged=True, maintenance_workers=3)
    assert rc == 0 and not any(r.get("changed") for r in results), output
    assert harbor.request_counts()["writes"] == 0 and runs(harbor) == []


def test_bad_settings_fail_before_any_request(harbor, inventory):
    harbor.reset_request_counts()
    rc, _results, output = maintain(inventory, maintenance_workers=11)
    assert rc != 0 and "maintenance_workers must be 1 to 10" in output
    rc, _results, output = maintain(inventory, maintenance_collect=False)
    assert rc != 0 and "something to do" in output
    assert harbor.request_counts()["total"] == 0
