"""registryops.harbor.retention_policy and immutable_tag_rule through ansible-playbook against the emulator."""

import pytest
import json

from .ansible_runner import run_module, run_tasks

# changes system-wide settings or needs the emulator (request log, fresh state, lab peers)
pytestmark = pytest.mark.emulator_only

PASSWORD = "S3cretPassw0rd"
HEADERS = {"X-Is-Resource-Name": "true"}


def retention(harbor, check=False, diff=False, **args):
    return run_module("retention_policy", args, harbor.url, check=check, diff=diff)


def immutable(harbor, check=False, diff=False, **args):
    return run_module("immutable_tag_rule", args, harbor.url, check=check, diff=diff)


def policy_of(admin, project):
    retention_id = admin.get(f"/projects/{project}", headers=HEADERS).json()["metadata"].get("retention_id")
    return admin.get(f"/retentions/{retention_id}").json() if retention_id else None


RULES = [
    {"template": "latestPushedK", "params": {"latestPushedK": 10}, "tags": {"pattern": "release-*", "untagged": False}},
    {"template": "nDaysSinceLastPull", "params": {"nDaysSinceLastPull": 30},
     "repositories": {"decoration": "excluding", "pattern": "sandbox/**"}},
]


def test_retention_lifecycle(harbor, admin):
    admin.create_project("payments")
    created = retention(harbor, project="payments", rules=RULES, schedule="daily")
    assert created["changed"]
    policy = policy_of(admin, "payments")
    assert policy["trigger"]["settings"]["cron"] == "0 0 0 * * *" and len(policy["rules"]) == 2
    first = next(r for r in policy["rules"] if r["template"] == "latestPushedK")
    assert first["params"] == {"latestPushedK": 10}
    assert first["tag_selectors"][0]["decoration"] == "matches" and first["tag_selectors"][0]["pattern"] == "release-*"
    assert json.loads(first["tag_selectors"][0]["extras"]) == {"untagged": False}
    second = next(r for r in policy["rules"] if r["template"] == "nDaysSinceLastPull")
    assert second["scope_selectors"]["repository"][0] == {"kind": "doublestar", "decoration": "repoExcludes",
                                                          "pattern": "sandbox/**"}

    # idempotent, whatever the order of the rules and with params as strings; schedule kept when omitted
    again = retention(harbor, project="payments", rules=[
        dict(RULES[1], params={"nDaysSinceLastPull": "30"}), RULES[0]])
    assert not again["changed"]
    assert policy_of(admin, "payments")["id"] == policy["id"]

    harbor.reset_request_counts()
    checked = retention(harbor, check=True, diff=True, project="payments", schedule="0 30 2 * * *",
                        rules=[{"template": "always"}])
    assert checked["changed"] and harbor.request_counts()["writes"] == 0
    assert checked["diff"]["before"]["schedule"] == "0 0 0 * * *"
    assert checked["diff"]["after"]["schedule"] == "0 30 2 * * *"
    assert checked["diff"]["after"]["rules"] == [{"template": "always", "params": {},
                                                  "repositories": {"decoration": "matching", "pattern": "**"},
                                                  "tags": {"decoration": "matching", "pattern": "**",
                                                           "untagged": True},
                                                  "disabled": False}]

    updated = retention(harbor, project="payments", schedule="none", rules=[{"template": "always"}])
    assert updated["changed"]
    policy = policy_of(admin, "payments")
    assert policy["trigger"]["settings"]["cron"] == "" and [r["template"] for r in policy["rules"]] == ["always"]

    removed = retention(harbor, project="payments", state="absent", diff=True)
    assert removed["changed"] and removed["diff"]["after"] == {}
    policy = policy_of(admin, "payments")
    assert policy is not None and policy["rules"] == []  # PUT with no rules: the policy object stays
    assert not retention(harbor, project="payments", state="absent")["changed"]

    # an emptied policy is filled again with PUT (Harbor refuses a second POST)
    assert retention(harbor, project="payments", rules=RULES[:1])["changed"]
    assert policy_of(admin, "payments")["id"] == policy["id"]


def test_retention_recovers_from_a_deleted_policy(harbor, admin):
    """DELETE /retentions/{id} leaves retention_id in the project's metadata; the module clears it."""
    admin.create_project("legacy")
    assert retention(harbor, project="legacy", rules=RULES[:1])["changed"]
    old = policy_of(admin, "legacy")
    assert admin.delete(f"/retentions/{old['id']}").status_code == 200
    assert not retention(harbor, project="legacy", state="absent")["changed"]
    assert retention(harbor, project="legacy", rules=RULES[:1])["changed"]
    assert policy_of(admin, "legacy")["rules"][0]["template"] == "latestPushedK"
    assert not retention(harbor, project="legacy", rules=RULES[:1])["changed"]


def test_retention_bad_input_before_any_request(harbor):
    harbor.reset_request_counts()
    cases = [
        (dict(project="p", rules=[{"template": "latestPushedK"}]), "rules[0].params.latestPushedK is required"),
        (dict(project="p", rules=[{"template": "latestPushedK", "params": {"latestPushedK": -1}}]), "negative"),
        (dict(project="p", rules=[{"template": "latestPushedK", "params": {"latestPushedK": "ten"}}]),
         "whole number"),
        (dict(project="p", rules=[{"template": "latestPushedK", "params": {"nDaysSinceLastPull": 3}}]),
         "takes only latestPushedK"),
        (dict(project="p", rules=[{"template": "always", "params": {"x": 1}}]), "takes no parameters"),
        (dict(project="p", rules=[{"template": "keepEverything"}]), "template"),
        (dict(project="p", rules=[{"template": "always", "repositories": {"pattern": " "}}]),
         "rules[0].repositories.pattern must not be empty"),
        (dict(project="p", rules=[{"template": "always"}], schedule="sometimes"), "schedule"),
        (dict(project="p", rules=[{"template": "always"}] * 2), "rules[1] is the same as rules[0]"),
        (dict(project="p", rules=[{"template": "always", "tags": {"pattern": str(i)}} for i in range(16)]),
         "at most 15"),
        (dict(project="p", rules=[{"template": "always"}], schedule="0 * * * * *"), "minutes"),
        (dict(project="p", rules=[{"template": "always"}], schedule="30 0 0 * * *"), "seconds"),
        (dict(project="p", rules=[{"template": "always"}], schedule="0 0 * * *"), "6 fields"),
        (dict(project="p", rules=[]), "state: absent"),
        (dict(project="p"), "rules is required"),
        (dict(project="p", state="absent", rules=[{"template": "always"}]), "do not set rules"),
        (dict(project="Bad Project", rules=[{"template": "always"}]), "project"),
    ]
    rc, results = run_tasks([{"registryops.harbor.retention_policy": args, "ignore_errors": True}
                             for args, _ in cases], harbor.url)
    for (args, message), result in zip(cases, results):
        assert result["failed"] and message in result["msg"], (args, result["msg"])
    assert len(results) == len(cases)
    assert harbor.request_counts()["total"] == 0


def test_retention_missing_project_and_permissions(harbor, admin):
    missing = retention(harbor, project="nope", rules=[{"template": "always"}])
    assert missing["failed"] and "project nope not found" in missing["msg"]
    pid = admin.create_project("team")
    admin.create_user("visitor", password=PASSWORD)
    admin.add_member(pid, "visitor", 3)  # guests may not touch retention (developers may)
    rc, results = run_tasks([{"registryops.harbor.retention_policy": {"project": "team",
                                                                      "rules": [{"template": "always"}]}}],
                            harbor.url, username="visitor", password=PASSWORD)
    assert results[0]["failed"] and "403" in results[0]["msg"] and "role" in results[0]["msg"]


def rules_of(admin, project):
    return admin.get(f"/projects/{project}/immutabletagrules", headers=HEADERS).json()


def test_immutable_single_rule_lifecycle(harbor, admin):
    admin.create_project("payments")
    created = immutable(harbor, project="payments", tags={"pattern": "v*"}, diff=True)
    assert created["changed"] and created["diff"]["before"]["rules"] == []
    [rule] = rules_of(admin, "payments")
    assert rule["tag_selectors"][0]["pattern"] == "v*" and rule["tag_selectors"][0]["decoration"] == "matches"
    assert rule["scope_selectors"]["repository"][0]["pattern"] == "**" and rule["disabled"] is False
    assert not immutable(harbor, project="payments", tags={"pattern": "v*"},
                         repositories={"pattern": "**", "decoration": "matching"})["changed"]

    harbor.reset_request_counts()
    checked = immutable(harbor, check=True, diff=True, project="payments", tags={"pattern": "v*"}, disabled=True)
    assert checked["changed"] and harbor.request_counts()["writes"] == 0
    assert checked["diff"]["before"]["rules"][0]["disabled"] is False
    assert checked["diff"]["after"]["rules"][0]["disabled"] is True

    assert immutable(harbor, project="payments", tags={"pattern": "v*"}, disabled=True)["changed"]
    assert rules_of(admin, "payments")[0]["disabled"] is True

    # a second rule is added next to the first; absent removes only the one named
    assert immutable(harbor, project="payments", repositories={"decoration": "excluding", "pattern": "tmp/**"},
                     tags={"pattern": "latest"})["changed"]
    assert len(rules_of(admin, "payments")) == 2
    assert immutable(harbor, project="payments", tags={"pattern": "v*"}, state="absent")["changed"]
    [left] = rules_of(admin, "payments")
    assert left["scope_selectors"]["repository"][0]["decoration"] == "repoExcludes"
    assert not immutable(harbor, project="payments", tags={"pattern": "v*"}, state="absent")["changed"]


def test_immutable_exclusive_list(harbor, admin):
    admin.create_project("web")
    admin.create("/projects/web/immutabletagrules", {
        "disabled": False, "action": "immutable", "template": "immutable_template",
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "old-*"}],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}})
    wanted = [{"tags": {"pattern": "v*"}}, {"repositories": {"pattern": "api/**"}, "tags": {"pattern": "stable"},
                                           "disabled": True}]
    assert immutable(harbor, project="web", rules=wanted, exclusive=True)["changed"]
    patterns = {r["tag_selectors"][0]["pattern"]: r["disabled"] for r in rules_of(admin, "web")}
    assert patterns == {"v*": False, "stable": True}
    assert not immutable(harbor, project="web", rules=list(reversed(wanted)), exclusive=True)["changed"]
    assert immutable(harbor, project="web", rules=[], exclusive=True)["changed"]
    assert rules_of(admin, "web") == []


def test_immutable_bad_input_and_permissions(harbor, admin):
    harbor.reset_request_counts()
    cases = [
        (dict(project="p"), "set repositories and/or tags"),
        (dict(project="p", tags={"pattern": ""}), "tags.pattern must not be empty"),
        (dict(project="p", rules=[{"tags": {"pattern": "v*"}}, {"tags": {"pattern": "v*"}, "disabled": True}]),
         "rules[1] has the same selectors as rules[0]"),
        (dict(project="p", tags={"pattern": "v*"}, exclusive=True), "exclusive applies to the list form"),
        (dict(project="p", tags={"pattern": "v*"}, rules=[]), "mutually exclusive"),
    ]
    rc, results = run_tasks([{"registryops.harbor.immutable_tag_rule": args, "ignore_errors": True}
                             for args, _ in cases], harbor.url)
    for (args, message), result in zip(cases, results):
        assert result["failed"] and message in result["msg"], (args, result["msg"])
    assert harbor.request_counts()["total"] == 0

    missing = immutable(harbor, project="nope", tags={"pattern": "v*"})
    assert missing["failed"] and "project nope not found" in missing["msg"]
    assert not immutable(harbor, project="nope", tags={"pattern": "v*"}, state="absent")["changed"]
    pid = admin.create_project("team")
    admin.create_user("dev", password=PASSWORD)
    admin.add_member(pid, "dev", 2)
    rc, results = run_tasks([{"registryops.harbor.immutable_tag_rule": {"project": "team", "tags": {"pattern": "v*"}}}],
                            harbor.url, username="dev", password=PASSWORD)
    assert results[0]["failed"] and "403" in results[0]["msg"]
