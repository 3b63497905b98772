"""registryops.harbor.user and project_member through ansible-playbook against the emulator."""

import pytest

from .ansible_runner import run_module, run_tasks

PASSWORD = "S3cretPassw0rd"


def user(harbor, check=False, diff=False, **args):
    return run_module("user", args, harbor.url, check=check, diff=diff)


def test_user_lifecycle_and_password_policy(harbor, admin):
    alice = harbor.name("alice")
    created = user(harbor, username=alice, email=f"{alice}@example.com", realname="Alice", password=PASSWORD)
    assert created["changed"] and PASSWORD not in str(created)
    assert harbor.client(alice, PASSWORD).get("/users/current").status_code == 200
    assert not user(harbor, username=alice, email=f"{alice}@example.com", password=PASSWORD)["changed"]

    # update_password=always: unchanged when the password still works, changed (and masked) when not
    assert not user(harbor, username=alice, password=PASSWORD, update_password="always")["changed"]
    harbor.reset_request_counts()
    checked = user(harbor, check=True, diff=True, username=alice, password="N3wPassword",
                   update_password="always")
    assert checked["changed"] and checked["diff"]["after"]["password"].startswith("****")
    assert "N3wPassword" not in str(checked)
    harbor.assert_no_writes()
    assert user(harbor, username=alice, password="N3wPassword", update_password="always")["changed"]
    assert harbor.client(alice, "N3wPassword").get("/users/current").status_code == 200

    promoted = user(harbor, username=alice, sysadmin=True, comment="ops")
    assert promoted["changed"] and promoted["user"]["sysadmin"] is True

    assert user(harbor, username=alice, state="absent")["changed"]
    assert not user(harbor, username=alice, state="absent")["changed"]
    # soft delete frees the name
    assert user(harbor, username=alice, email=f"{alice}@example.com", realname="Alice", password=PASSWORD)["changed"]


def test_user_input_errors_before_any_call(harbor):
    harbor.reset_request_counts()
    weak = user(harbor, username="bob", email="bob@example.com", realname="Bob", password="weak")
    assert weak["failed"] and "password policy" in weak["msg"] and "weak" not in weak["msg"]
    bad_mail = user(harbor, username="bob", email="not-an-email", realname="Bob", password=PASSWORD)
    assert bad_mail["failed"] and "email" in bad_mail["msg"]
    long_comment = user(harbor, username="bob", comment="x" * 31)
    assert long_comment["failed"] and "30" in long_comment["msg"]
    assert harbor.request_counts()["total"] == 0


def member(harbor, check=False, diff=False, **args):
    return run_module("project_member", args, harbor.url, check=check, diff=diff)


def test_single_member_lifecycle(harbor, admin):
    payments, carol = harbor.name("payments"), harbor.name("carol")
    admin.create_project(payments)
    admin.create_user(carol)
    assert member(harbor, project=payments, user=carol, role="developer")["changed"]
    assert not member(harbor, project=payments, user=carol, role="developer")["changed"]
    changed = member(harbor, project=payments, user=carol, role="maintainer", diff=True)
    assert changed["diff"]["before"]["members"][f"user:{carol}"] == "developer"
    assert changed["diff"]["after"]["members"][f"user:{carol}"] == "maintainer"
    roles = {m["entity_name"]: m["role_id"] for m in admin.get(f"/projects/{payments}/members",
                                                               headers={"X-Is-Resource-Name": "true"}).json()}
    assert roles[carol] == 4
    assert member(harbor, project=payments, user=carol, state="absent")["changed"]
    assert not member(harbor, project=payments, user=carol, state="absent")["changed"]


@pytest.mark.emulator_only
def test_exclusive_membership_of_150_members_is_idempotent_and_keeps_the_caller(harbor, admin):
    pid = admin.create_project("big")
    for i in range(150):
        admin.create_user(f"u{i:03d}")
    wanted = [{"user": f"u{i:03d}", "role": "developer" if i % 2 else "guest"} for i in range(150)]
    first = member(harbor, project="big", members=wanted, exclusive=True)
    assert first["changed"]
    assert admin.get(f"/projects/{pid}/members", params={"page_size": 1}).headers["X-Total-Count"] == "151"
    harbor.reset_request_counts()
    again = member(harbor, project="big", members=wanted, exclusive=True)
    assert not again["changed"]
    counts = harbor.request_counts()
    assert counts["writes"] == 0 and counts["total"] <= 4  # project + two pages of members
    # shrinking the list removes the rest, but never the admin running the module
    trimmed = member(harbor, project="big", members=wanted[:10], exclusive=True)
    assert trimmed["changed"]
    names = {m["entity_name"] for m in admin.get(f"/projects/{pid}/members", params={"page_size": 100}).json()}
    assert names == {"admin"} | {f"u{i:03d}" for i in range(10)}


@pytest.mark.emulator_only
def test_member_errors(harbor, admin):
    missing_project = member(harbor, project="nope", user="admin", role="guest")
    assert missing_project["failed"] and "project nope not found" in missing_project["msg"]
    admin.create_project("p")
    missing_user = member(harbor, project="p", user="ghost", role="guest")
    assert missing_user["failed"] and "404" in missing_user["msg"]
    no_role = member(harbor, project="p", user="admin")
    assert no_role["failed"] and "role is required" in no_role["msg"]


@pytest.mark.emulator_only
def test_developer_cannot_add_members(harbor, admin):
    pid = admin.create_project("team")
    admin.create_user("dev", password=PASSWORD)
    admin.add_member(pid, "dev", 2)
    admin.create_user("eve")
    rc, results = run_tasks([{"registryops.harbor.project_member": {"project": "team", "user": "eve",
                                                                    "role": "guest"}}],
                            harbor.url, username="dev", password=PASSWORD)
    assert results[0]["failed"] and "403" in results[0]["msg"] and "role" in results[0]["msg"]
