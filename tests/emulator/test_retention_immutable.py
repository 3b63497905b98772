"""Tag retention policies (one per project, templates, selectors, triggers, executions) and
immutable tag rules."""

import copy

import pytest

from .. import images
from ..conftest import ADMIN

PASSWORD = "Passw0rd!"
TAGS = [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}]
REPOS = {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}


def rule(template="latestPushedK", params=None, tags=None, repos=None, **extra):
    return {"action": "retain", "template": template,
            "params": {"latestPushedK": 10} if params is None else params,
            "tag_selectors": tags or TAGS, "scope_selectors": repos or REPOS, **extra}


def policy(project_id, rules=None, cron=""):
    return {"algorithm": "or", "rules": [rule()] if rules is None else rules,
            "trigger": {"kind": "Schedule", "settings": {"cron": cron}},
            "scope": {"level": "project", "ref": project_id}}


@pytest.fixture
def team(harbor, admin):
    pid = admin.create_project("team")
    for name, role in (("pa", 1), ("maint", 4), ("dev", 2), ("guest", 3)):
        admin.create_user(name, PASSWORD)
        admin.add_member("team", name, role)
    clients = {name: harbor.client(name, PASSWORD) for name in ("pa", "maint", "dev", "guest")}
    clients["pid"] = pid
    return clients


def project_meta(admin, pid):
    return admin.get(f"/projects/{pid}").json()["metadata"]


# -- retention -------------------------------------------------------------------------------
def test_metadatas_lists_templates_and_selectors(admin):
    meta = admin.get("/retentions/metadatas").json()
    templates = {t["rule_template"]: t for t in meta["templates"]}
    assert set(templates) == {"always", "latestPushedK", "latestPulledN", "nDaysSinceLastPush", "nDaysSinceLastPull"}
    assert templates["latestPushedK"]["params"] == [{"type": "int", "unit": "COUNT", "required": True}]
    assert templates["always"]["params"] == []
    assert meta["tag_selectors"][0]["decorations"] == ["matches", "excludes"]
    assert meta["scope_selectors"][0]["decorations"] == ["repoMatches", "repoExcludes"]


def test_create_get_update_one_policy_per_project(admin):
    pid = admin.create_project("team")
    response = admin.post("/retentions", json=policy(pid, cron="0 0 0 * * *"))
    assert response.status_code == 201, response.text
    rid = int(response.headers["Location"].rsplit("/", 1)[1])
    assert project_meta(admin, pid)["retention_id"] == str(rid)
    got = admin.get(f"/retentions/{rid}").json()
    assert got["id"] == rid and got["algorithm"] == "or"
    assert got["scope"] == {"level": "project", "ref": pid}
    assert got["trigger"]["settings"] == {"cron": "0 0 0 * * *"}
    assert got["rules"][0]["params"] == {"latestPushedK": 10}
    assert got["rules"][0]["tag_selectors"] == TAGS and got["rules"][0]["scope_selectors"] == REPOS
    second = admin.post("/retentions", json=policy(pid))
    assert second.status_code == 400 and "already has retention policy" in second.text
    rules = [rule("nDaysSinceLastPull", {"nDaysSinceLastPull": 7}),
             rule("always", {}, tags=[{"kind": "doublestar", "decoration": "excludes", "pattern": "dev-*",
                                       "extras": '{"untagged":true}'}])]
    assert admin.put(f"/retentions/{rid}", json=policy(pid, rules)).status_code == 200
    got = admin.get(f"/retentions/{rid}").json()
    assert [r["template"] for r in got["rules"]] == ["nDaysSinceLastPull", "always"]
    assert got["rules"][1]["tag_selectors"][0]["extras"] == '{"untagged":true}'
    assert got["trigger"]["settings"]["cron"] == ""


def test_put_must_target_the_projects_policy(admin):
    a = admin.create_project("a")
    b = admin.create_project("b")
    rid_a = int(admin.post("/retentions", json=policy(a)).headers["Location"].rsplit("/", 1)[1])
    admin.post("/retentions", json=policy(b))
    assert admin.put(f"/retentions/{rid_a}", json=policy(b)).status_code == 404
    assert admin.put("/retentions/99", json=policy(a)).status_code == 404


def test_delete_keeps_the_metadata_like_harbor(admin):
    pid = admin.create_project("team")
    rid = int(admin.post("/retentions", json=policy(pid)).headers["Location"].rsplit("/", 1)[1])
    assert admin.delete(f"/retentions/{rid}").status_code == 200
    assert admin.get(f"/retentions/{rid}").status_code == 404
    assert admin.delete(f"/retentions/{rid}").status_code == 400
    assert project_meta(admin, pid)["retention_id"] == str(rid)
    assert admin.post("/retentions", json=policy(pid)).status_code == 400
    # clearing the dangling metadata allows a new policy
    assert admin.delete(f"/projects/{pid}/metadatas/retention_id").status_code == 200
    assert admin.post("/retentions", json=policy(pid)).status_code == 201


def bad_policies(pid):
    base = policy(pid)
    cases = []

    def variant(mutate):
        body = copy.deepcopy(base)
        mutate(body)
        cases.append(body)

    variant(lambda b: b["rules"][0].update(template="newestFirst"))
    variant(lambda b: b["rules"][0].update(params={}))
    variant(lambda b: b["rules"][0].update(params={"latestPushedK": -1}))
    variant(lambda b: b["rules"][0].update(params={"latestPushedK": True}))
    variant(lambda b: b["rules"][0].update(params={"latestPushedK": "10"}))
    variant(lambda b: b["rules"][0].update(action="delete"))
    variant(lambda b: b["rules"][0].update(tag_selectors=[]))
    variant(lambda b: b["rules"][0]["tag_selectors"][0].update(decoration="repoMatches"))
    variant(lambda b: b["rules"][0]["tag_selectors"][0].update(kind="regexp"))
    variant(lambda b: b["rules"][0]["tag_selectors"][0].update(pattern=""))
    variant(lambda b: b["rules"][0]["tag_selectors"][0].update(extras="{not json"))
    variant(lambda b: b["rules"][0].update(scope_selectors={}))
    variant(lambda b: b["rules"][0].update(scope_selectors={"repository": [{"kind": "doublestar",
                                                                            "decoration": "matches",
                                                                            "pattern": "**"}]}))
    variant(lambda b: b["rules"][0].update(scope_selectors={**REPOS, "namespace": REPOS["repository"]}))
    variant(lambda b: b["rules"][0].update(priority="high"))
    variant(lambda b: b.update(rules=[rule()] * 16))
    variant(lambda b: b.update(algorithm="and"))
    variant(lambda b: b["trigger"].update(kind="Event"))
    variant(lambda b: b["trigger"]["settings"].update(cron="0 0 * * *"))
    variant(lambda b: b["trigger"]["settings"].update(cron="0 * * * * *"))
    variant(lambda b: b["trigger"]["settings"].update(cron="0 0 0 32 * *"))
    variant(lambda b: b["scope"].update(level="system"))
    variant(lambda b: b["scope"].update(ref=0))
    variant(lambda b: b["scope"].update(ref=999))
    variant(lambda b: b.pop("scope"))
    variant(lambda b: b.update(rules="all"))
    return cases


def test_validation_errors_are_400(admin):
    pid = admin.create_project("team")
    for body in bad_policies(pid):
        response = admin.post("/retentions", json=body)
        assert response.status_code == 400, (body, response.text)
    assert "retention_id" not in project_meta(admin, pid)


def test_duplicate_rules_are_409(admin):
    pid = admin.create_project("team")
    response = admin.post("/retentions", json=policy(pid, [rule(), rule()]))
    assert response.status_code == 409 and "conflict" in response.text


def test_retention_permissions(harbor, admin, team):
    pid = team["pid"]
    assert team["guest"].post("/retentions", json=policy(pid)).status_code == 403
    response = team["maint"].post("/retentions", json=policy(pid))
    assert response.status_code == 201
    rid = int(response.headers["Location"].rsplit("/", 1)[1])
    assert team["guest"].get(f"/retentions/{rid}").status_code == 403
    assert team["dev"].get(f"/retentions/{rid}").status_code == 200
    assert team["guest"].put(f"/retentions/{rid}", json=policy(pid)).status_code == 403
    assert team["maint"].put(f"/retentions/{rid}", json=policy(pid, [rule("always", {})])).status_code == 200
    admin.create_user("outsider", PASSWORD)
    assert harbor.client("outsider", PASSWORD).get(f"/retentions/{rid}").status_code == 403
    assert harbor.anonymous().get("/retentions/metadatas").status_code == 401
    assert team["pa"].delete(f"/retentions/{rid}").status_code == 200


def test_executions_are_recorded_without_tasks(admin):
    pid = admin.create_project("team")
    rid = int(admin.post("/retentions", json=policy(pid)).headers["Location"].rsplit("/", 1)[1])
    assert admin.get(f"/retentions/{rid}/executions").json() == []
    response = admin.post(f"/retentions/{rid}/executions", json={"dry_run": True})
    assert response.status_code == 201
    eid = int(response.headers["Location"].rsplit("/", 1)[1])
    listed = admin.get(f"/retentions/{rid}/executions")
    assert listed.headers["X-Total-Count"] == "1"
    execution = listed.json()[0]
    assert execution["id"] == eid and execution["dry_run"] is True and execution["status"] == "Succeed"
    assert execution["trigger"] == "MANUAL" and execution["policy_id"] == rid
    tasks = admin.get(f"/retentions/{rid}/executions/{eid}/tasks")
    assert tasks.status_code == 200 and tasks.json() == [] and tasks.headers["X-Total-Count"] == "0"
    assert admin.get(f"/retentions/{rid}/executions/99/tasks").status_code == 404
    assert admin.patch(f"/retentions/{rid}/executions/{eid}", json={"action": "pause"}).status_code == 400
    assert admin.patch(f"/retentions/{rid}/executions/{eid}", json={"action": "stop"}).status_code == 200
    assert admin.post("/retentions/99/executions", json={}).status_code == 400
    assert admin.post(f"/retentions/{rid}/executions", json={"dry_run": "yes"}).status_code == 400


# -- immutable tag rules -----------------------------------------------------------------------
def immutable(pattern="release-*", repo="**", **extra):
    return {"tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": pattern}],
            "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches",
                                                "pattern": repo}]}, **extra}


def test_immutable_rule_crud(admin):
    pid = admin.create_project("team")
    response = admin.post(f"/projects/{pid}/immutabletagrules", json=immutable())
    assert response.status_code == 201 and response.content == b""
    rule_id = int(response.headers["Location"].rsplit("/", 1)[1])
    rules = admin.get("/projects/team/immutabletagrules", headers={"X-Is-Resource-Name": "true"}).json()
    assert len(rules) == 1
    stored = rules[0]
    assert stored["id"] == rule_id and stored["action"] == "immutable" and stored["template"] == "immutable_template"
    assert stored["disabled"] is False and stored["tag_selectors"][0]["pattern"] == "release-*"
    update = {**stored, "disabled": True, "tag_selectors": [{"kind": "doublestar", "decoration": "excludes",
                                                            "pattern": "dev-*"}]}
    assert admin.put(f"/projects/{pid}/immutabletagrules/{rule_id}", json=update).status_code == 200
    after = admin.get(f"/projects/{pid}/immutabletagrules").json()[0]
    assert after["disabled"] is True and after["tag_selectors"][0]["decoration"] == "excludes"
    assert admin.delete(f"/projects/{pid}/immutabletagrules/{rule_id}").status_code == 200
    assert admin.get(f"/projects/{pid}/immutabletagrules").json() == []
    assert admin.delete(f"/projects/{pid}/immutabletagrules/{rule_id}").status_code == 404


def test_immutable_rules_paginate(admin):
    pid = admin.create_project("team")
    for i in range(12):
        admin.create(f"/projects/{pid}/immutabletagrules", immutable(f"v{i}.*"))
    first = admin.get(f"/projects/{pid}/immutabletagrules")
    assert first.headers["X-Total-Count"] == "12" and len(first.json()) == 10
    assert len(admin.get(f"/projects/{pid}/immutabletagrules", params={"page": 2}).json()) == 2


def test_immutable_validation_and_errors(admin):
    pid = admin.create_project("team")
    other = admin.create_project("other")
    rule_id = admin.create(f"/projects/{pid}/immutabletagrules", immutable())
    bad = [
        immutable(action="retain"),
        immutable(template="latestPushedK"),
        {"tag_selectors": immutable()["tag_selectors"]},
        {"scope_selectors": immutable()["scope_selectors"]},
        immutable(pattern=""),
        {**immutable(), "tag_selectors": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "x"}]},
        {**immutable(), "scope_selectors": {"repository": [{"kind": "regex", "decoration": "repoMatches",
                                                            "pattern": "x"}]}},
        immutable(disabled="no"),
    ]
    for body in bad:
        response = admin.post(f"/projects/{pid}/immutabletagrules", json=body)
        assert response.status_code == 400, (body, response.text)
    assert admin.post(f"/projects/{pid}/immutabletagrules", json=immutable()).status_code == 409
    assert admin.put(f"/projects/{pid}/immutabletagrules/{rule_id}",
                     json={**immutable(), "id": rule_id + 1}).status_code == 400
    assert admin.put(f"/projects/{other}/immutabletagrules/{rule_id}",
                     json={**immutable(), "id": rule_id}).status_code == 404
    second = admin.create(f"/projects/{pid}/immutabletagrules", immutable("other-*"))
    assert admin.put(f"/projects/{pid}/immutabletagrules/{second}",
                     json={**immutable(), "id": second}).status_code == 409
    assert admin.delete(f"/projects/{other}/immutabletagrules/{rule_id}").status_code == 404
    assert admin.get("/projects/999/immutabletagrules").status_code == 404


def test_immutable_permissions(harbor, team):
    pid = team["pid"]
    assert team["dev"].post(f"/projects/{pid}/immutabletagrules", json=immutable()).status_code == 403
    assert team["guest"].get(f"/projects/{pid}/immutabletagrules").status_code == 403
    rule_id = team["maint"].create(f"/projects/{pid}/immutabletagrules", immutable())
    assert team["dev"].get(f"/projects/{pid}/immutabletagrules").status_code == 403
    assert team["pa"].get(f"/projects/{pid}/immutabletagrules").status_code == 200
    assert team["dev"].delete(f"/projects/{pid}/immutabletagrules/{rule_id}").status_code == 403
    assert team["maint"].delete(f"/projects/{pid}/immutabletagrules/{rule_id}").status_code == 200
    assert harbor.anonymous().get(f"/projects/{pid}/immutabletagrules").status_code == 401


def test_immutable_rules_protect_pushed_tags(harbor_registry):
    admin = harbor_registry.client()
    pid = admin.create_project("apps")
    for repo, tag in (("apps/web", "release-1"), ("apps/web", "dev-1"), ("apps/tools/cli", "release-1")):
        images.push_image(harbor_registry.url, repo, tag, auth=ADMIN)
    admin.create(f"/projects/{pid}/immutabletagrules", immutable("release-*", repo="{web,other}"))

    def immutable_tags(repo):
        artifacts = admin.get(f"/projects/apps/repositories/{repo}/artifacts",
                              params={"with_immutable_status": "true"}).json()
        return {t["name"]: t["immutable"] for a in artifacts for t in a["tags"]}

    assert immutable_tags("web") == {"release-1": True, "dev-1": False}
    assert immutable_tags("tools%252Fcli") == {"release-1": False}  # ** would be needed to reach tools/cli
    assert admin.delete("/projects/apps/repositories/web/artifacts/release-1/tags/release-1").status_code == 412
    rule = admin.get(f"/projects/{pid}/immutabletagrules").json()[0]
    admin.put(f"/projects/{pid}/immutabletagrules/{rule['id']}", json={**rule, "disabled": True})
    assert immutable_tags("web") == {"release-1": False, "dev-1": False}
