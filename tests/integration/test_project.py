"""registryops.harbor.project through ansible-playbook against the emulator."""

from .ansible_runner import run_module


def project(harbor, check=False, diff=False, **args):
    return run_module("project", args, harbor.url, check=check, diff=diff)


def test_create_idempotent_update_check_mode_delete(harbor, admin):
    first = project(harbor, name="team-a", public=True, auto_scan=True, storage_quota="10GiB",
                    cve_allowlist=["CVE-2021-1", "CVE-2021-2"])
    assert first["changed"] is True
    created = admin.get("/projects/team-a", headers={"X-Is-Resource-Name": "true"}).json()
    assert created["metadata"]["public"] == "true" and created["metadata"]["auto_scan"] == "true"
    quota = admin.get("/quotas", params={"reference": "project", "reference_id": created["project_id"]}).json()[0]
    assert quota["hard"]["storage"] == 10 * 1024 ** 3

    again = project(harbor, name="team-a", public=True, auto_scan=True, storage_quota="10GiB",
                    cve_allowlist=["CVE-2021-2", "CVE-2021-1"])
    assert again["changed"] is False

    harbor.reset_request_counts()
    checked = project(harbor, check=True, diff=True, name="team-a", public=False, storage_quota="20GiB")
    assert checked["changed"] is True
    assert checked["diff"]["before"]["public"] == "true" and checked["diff"]["after"]["public"] == "false"
    assert checked["diff"]["after"]["storage_quota"] == "20GiB"
    assert harbor.request_counts()["writes"] == 0
    assert admin.get("/projects/team-a", headers={"X-Is-Resource-Name": "true"}).json()["metadata"]["public"] == "true"

    updated = project(harbor, name="team-a", public=False, storage_quota="20GiB")
    assert updated["changed"] is True
    assert admin.get(f"/quotas/{quota['id']}").json()["hard"]["storage"] == 20 * 1024 ** 3

    deleted = project(harbor, name="team-a", state="absent")
    assert deleted["changed"] is True
    assert admin.get("/projects/team-a", headers={"X-Is-Resource-Name": "true"}).status_code == 404
    assert project(harbor, name="team-a", state="absent")["changed"] is False


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
