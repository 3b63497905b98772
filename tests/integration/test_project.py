"""registryops.harbor.project through ansible-playbook against the emulator."""

import pytest

from .ansible_runner import run_module


def project(harbor, check=False, diff=False, **args):
    return run_module("project", args, harbor.url, check=check, diff=diff)


def test_create_idempotent_update_check_mode_delete(harbor, admin):
    name = harbor.name("team-a")
    first = project(harbor, name=name, public=True, auto_scan=True, storage_quota="10GiB",
                    cve_allowlist=["CVE-2021-1", "CVE-2021-2"])
    assert first["changed"] is True
    created = admin.get(f"/projects/{name}", headers={"X-Is-Resource-Name": "true"}).json()
    assert created["metadata"]["public"] == "true" and created["metadata"]["auto_scan"] == "true"
    quota = admin.get("/quotas", params={"reference": "project", "reference_id": created["project_id"]}).json()[0]
    assert quota["hard"]["storage"] == 10 * 1024 ** 3

    again = project(harbor, name=name, public=True, auto_scan=True, storage_quota="10GiB",
                    cve_allowlist=["CVE-2021-2", "CVE-2021-1"])
    assert again["changed"] is False

    harbor.reset_request_counts()
    checked = project(harbor, check=True, diff=True, name=name, public=False, storage_quota="20GiB")
    assert checked["changed"] is True
    assert checked["diff"]["before"]["public"] == "true" and checked["diff"]["after"]["public"] == "false"
    assert checked["diff"]["after"]["storage_quota"] == "20GiB"
    harbor.assert_no_writes()
    assert admin.get(f"/projects/{name}", headers={"X-Is-Resource-Name": "true"}).json()["metadata"]["public"] == "true"

    updated = project(harbor, name=name, public=False, storage_quota="20GiB")
    assert updated["changed"] is True
    assert admin.get(f"/quotas/{quota['id']}").json()["hard"]["storage"] == 20 * 1024 ** 3

    deleted = project(harbor, name=name, state="absent")
    assert deleted["changed"] is True
    assert admin.get(f"/projects/{name}", headers={"X-Is-Resource-Name": "true"}).status_code == 404
    assert project(harbor, name=name, state="absent")["changed"] is False


def test_bad_input_fails_before_any_write(harbor):
    harbor.reset_request_counts()
    bad_name = project(harbor, name="Bad_Name")
    assert bad_name["failed"] and "pattern" in bad_name["msg"]
    bad_quota = project(harbor, name="ok", storage_quota="10 parsecs")
    assert bad_quota["failed"] and "storage_quota" in bad_quota["msg"]
    assert harbor.request_counts()["total"] == 0


def test_wrong_password_is_a_clear_401(harbor):
    result = run_module("project", {"name": "x"}, harbor.url, password="wrong")
    assert result["failed"] and "401" in result["msg"] and "api_username" in result["msg"]
    assert "wrong" not in str(result)


@pytest.mark.emulator_only
def test_non_empty_project_needs_force(harbor_registry):
    from ..images import push_image

    harbor = harbor_registry
    assert project(harbor, name="full")["changed"]
    push_image(harbor.url, "full/app", "v1", auth=("admin", "Harbor12345"))
    push_image(harbor.url, "full/team/tool", "v1", auth=("admin", "Harbor12345"))
    refused = project(harbor, name="full", state="absent")
    assert refused["failed"] and "force: true" in refused["msg"] and "412" not in refused["msg"].split(":")[0]
    admin = harbor.client()
    assert admin.get("/projects/full", headers={"X-Is-Resource-Name": "true"}).status_code == 200
    forced = project(harbor, name="full", state="absent", force=True)
    assert forced["changed"], forced.get("msg")
    assert admin.get("/projects/full", headers={"X-Is-Resource-Name": "true"}).status_code == 404
