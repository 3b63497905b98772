"""registryops.harbor.info through ansible-playbook against the emulator."""

import pytest
from .ansible_runner import run_module

# changes system-wide settings or needs the emulator (request log, fresh state, lab peers)
pytestmark = pytest.mark.emulator_only


def test_info_reads_everything_across_pages_without_writes_or_secrets(harbor, admin):
    pid = admin.create_project("facts")
    for i in range(120):
        admin.create_user(f"fact{i:03d}")
    for i in range(12):
        admin.add_member(pid, f"fact{i:03d}", 3)
    harbor.reset_request_counts()
    result = run_module("info", {"gather": ["system", "projects", "users", "members"], "project": "facts"},
                        harbor.url, check=True)
    assert result["changed"] is False
    assert result["system"]["harbor_version"]
    assert {p["name"] for p in result["projects"]} == {"library", "facts"}
    assert len(result["users"]) == 121
    assert len(result["members"]) == 13
    assert harbor.request_counts()["writes"] == 0
    assert "password" not in str(result["users"])


def test_info_name_filter_and_members_need_project(harbor, admin):
    admin.create_project("alpha-one")
    admin.create_project("beta")
    filtered = run_module("info", {"gather": ["projects"], "name": "alpha"}, harbor.url)
    assert [p["name"] for p in filtered["projects"]] == ["alpha-one"]
    failed = run_module("info", {"gather": ["members"]}, harbor.url)
    assert failed["failed"] and "project" in failed["msg"]
