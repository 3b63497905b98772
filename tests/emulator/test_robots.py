"""Robot accounts: creation with a secret in the body, names, validation, permissions, updates,
secret refresh, and robots authenticating with basic auth."""

import time

import pytest

from .. import images
from ..conftest import ADMIN

PASSWORD = "Passw0rd!"
PULL = [{"resource": "repository", "action": "pull"}, {"resource": "repository", "action": "list"},
        {"resource": "project", "action": "read"}]


def system_robot(name="ci", duration=-1, **extra):
    return {"name": name, "level": "system", "duration": duration,
            "permissions": [{"kind": "project", "namespace": "*", "access": PULL}], **extra}


def project_robot(project, name="builder", duration=-1, access=None, **extra):
    return {"name": name, "level": "project", "duration": duration,
            "permissions": [{"kind": "project", "namespace": project, "access": access or PULL}], **extra}


@pytest.fixture
def team(harbor, admin):
    """Project `team` with a project admin, a developer and a guest."""
    admin.create_project("team")
    for name, role in (("pa", 1), ("dev", 2), ("guest", 3)):
        admin.create_user(name, PASSWORD)
        admin.add_member("team", name, role)
    return {name: harbor.client(name, PASSWORD) for name in ("pa", "dev", "guest")}


def create(client, body):
    response = client.post("/robots", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def error(response, status):
    assert response.status_code == status, response.text
    return response.json()["errors"][0]["message"]


# -- creation ------------------------------------------------------------------------------
def test_create_system_robot_returns_secret_and_location(admin):
    response = admin.post("/robots", json=system_robot(description="CI pulls"))
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "robot$ci"
    assert body["expires_at"] == -1
    assert len(body["secret"]) == 32
    assert response.headers["Location"] == f"/api/v2.0/robots/{body['id']}"
    robot = admin.get(f"/robots/{body['id']}").json()
    assert robot["level"] == "system" and robot["description"] == "CI pulls" and robot["duration"] == -1
    assert robot["editable"] is True and robot["disable"] is False
    assert robot["permissions"] == [{"kind": "project", "namespace": "*", "access": PULL}]
    assert robot["creator_type"] == "local" and robot["creator_ref"] == 1


def test_project_robot_full_name_and_expiry(admin):
    admin.create_project("team")
    before = int(time.time())
    body = create(admin, project_robot("team", duration=30))
    assert body["name"] == "robot$team+builder"
    assert before + 30 * 86400 <= body["expires_at"] <= int(time.time()) + 30 * 86400
    robot = admin.get(f"/robots/{body['id']}").json()
    assert robot["level"] == "project" and robot["duration"] == 30


def test_secret_is_never_returned_on_get_or_list(admin):
    admin.create_project("team")
    system_id = create(admin, system_robot())["id"]
    project_id = create(admin, project_robot("team"))["id"]
    project = admin.get("/projects/team", headers={"X-Is-Resource-Name": "true"}).json()
    listed = admin.get("/robots").json() + admin.get(
        "/robots", params={"q": f"Level=project,ProjectID={project['project_id']}"}).json()
    fetched = [admin.get(f"/robots/{rid}").json() for rid in (system_id, project_id)]
    for robot in listed + fetched:
        assert "secret" not in robot and "secret_hash" not in robot


def test_duplicate_name_is_409(admin):
    create(admin, system_robot())
    assert admin.post("/robots", json=system_robot()).status_code == 409


def test_same_short_name_in_two_projects_and_system(admin):
    admin.create_project("a")
    admin.create_project("b")
    names = {create(admin, body)["name"] for body in (project_robot("a", "x"), project_robot("b", "x"),
                                                    system_robot("x"))}
    assert names == {"robot$a+x", "robot$b+x", "robot$x"}


@pytest.mark.parametrize("name", ["CI", "a+b", "-ci", "ci-", "c i", ""])
def test_invalid_names_are_400(admin, name):
    message = error(admin.post("/robots", json=system_robot(name)), 400)
    assert "lower case" in message or "name" in message


@pytest.mark.parametrize("duration", [0, -2, None])
def test_invalid_duration_is_400(admin, duration):
    body = system_robot()
    if duration is None:
        del body["duration"]
    else:
        body["duration"] = duration
    assert "duration" in error(admin.post("/robots", json=body), 400)


def test_validation_errors_are_400(admin):
    admin.create_project("team")
    bad = [
        {**system_robot(), "level": "galaxy"},
        {**system_robot(), "permissions": []},
        {**system_robot(), "permissions": [{"kind": "project", "namespace": "*", "access": []}]},
        {**system_robot(), "permissions": [{"kind": "cluster", "namespace": "*", "access": PULL}]},
        {**system_robot(), "permissions": [{"kind": "project", "namespace": "*",
                                            "access": [{"resource": "repository", "action": "fly"}]}]},
        {**system_robot(), "permissions": [{"kind": "project", "namespace": "*",
                                            "access": [{"resource": "user", "action": "create"}]}]},
        {**system_robot(), "permissions": [{"kind": "system", "namespace": "/",
                                            "access": [{"resource": "repository", "action": "pull"}]}]},
        {**system_robot(), "permissions": [{"kind": "project", "namespace": "*",
                                            "access": [{"resource": "repository", "action": "pull",
                                                        "effect": "maybe"}]}]},
        {**system_robot(), "permissions": [{"kind": "project", "access": PULL}]},
        {**project_robot("team"), "permissions": [{"kind": "project", "namespace": "team", "access": PULL},
                                                  {"kind": "project", "namespace": "team", "access": PULL}]},
        {**project_robot("team"), "permissions": [{"kind": "project", "namespace": "*", "access": PULL}]},
        {**project_robot("team"), "permissions": [{"kind": "system", "namespace": "/",
                                                   "access": [{"resource": "project", "action": "create"}]}]},
        {**system_robot(), "secret": "weak"},
        {**system_robot(), "secret": "alllowercase1"},
        {**system_robot(), "duration": "7"},
        {**system_robot(), "permissions": "all"},
    ]
    for body in bad:
        response = admin.post("/robots", json=body)
        assert response.status_code == 400, (body, response.text)
    assert admin.get("/robots").json() == []


def test_system_robot_with_system_permissions(admin):
    body = {"name": "ops", "level": "system", "duration": -1, "permissions": [
        {"kind": "system", "namespace": "/", "access": [{"resource": "project", "action": "create"},
                                                       {"resource": "audit-log", "action": "list"}]}]}
    robot_id = create(admin, body)["id"]
    assert admin.get(f"/robots/{robot_id}").json()["permissions"] == body["permissions"]


def test_unknown_project_namespace_is_404(admin):
    assert admin.post("/robots", json=project_robot("nowhere")).status_code == 404
    body = system_robot()
    body["permissions"][0]["namespace"] = "nowhere"
    assert admin.post("/robots", json=body).status_code == 404


def test_given_secret_is_used(harbor, admin):
    admin.create_project("team")
    body = create(admin, project_robot("team", secret="MySecret123"))
    assert body["secret"] == "MySecret123"
    robot = harbor.client(body["name"], "MySecret123")
    assert robot.get("/projects/team", headers={"X-Is-Resource-Name": "true"}).status_code == 200


# -- listing -------------------------------------------------------------------------------
def test_list_scopes_and_filters(admin):
    pid = admin.create_project("team")
    for name in ("alpha", "beta", "gamma"):
        create(admin, system_robot(name))
    create(admin, project_robot("team", "alpha"))
    system = admin.get("/robots")
    assert system.headers["X-Total-Count"] == "3"
    assert {r["name"] for r in system.json()} == {"robot$alpha", "robot$beta", "robot$gamma"}
    projects = admin.get("/robots", params={"q": f"Level=project,ProjectID={pid}"}).json()
    assert [r["name"] for r in projects] == ["robot$team+alpha"]
    fuzzy = admin.get("/robots", params={"q": "name=~alp"}).json()
    assert [r["name"] for r in fuzzy] == ["robot$alpha"]
    page = admin.get("/robots", params={"page_size": 2, "sort": "-name"})
    assert [r["name"] for r in page.json()] == ["robot$gamma", "robot$beta"]
    assert 'rel="next"' in page.headers["Link"]
    assert admin.get("/robots", params={"q": "Level=project"}).status_code == 400
    assert admin.get("/robots", params={"q": "Level=galaxy"}).status_code == 400
    assert admin.get("/robots", params={"q": "Level=project,ProjectID=abc"}).status_code == 400
    assert admin.get("/robots", params={"q": "Level=project,ProjectID=999"}).status_code == 404


def test_get_unknown_robot_is_404(admin):
    assert admin.get("/robots/99").status_code == 404
    assert admin.get("/robots/abc").status_code == 400


# -- updates -------------------------------------------------------------------------------
def test_put_updates_description_permissions_disable_and_duration(admin):
    admin.create_project("team")
    created_robot = create(admin, project_robot("team", duration=10))
    robot = admin.get(f"/robots/{created_robot['id']}").json()
    robot.update(description="new", disable=True, duration=20,
                 permissions=[{"kind": "project", "namespace": "team",
                               "access": [{"resource": "repository", "action": "push"}]}])
    assert admin.put(f"/robots/{robot['id']}", json=robot).status_code == 200
    after = admin.get(f"/robots/{robot['id']}").json()
    assert after["description"] == "new" and after["disable"] is True and after["duration"] == 20
    assert after["permissions"][0]["access"] == [{"resource": "repository", "action": "push"}]
    assert after["expires_at"] == created_robot["expires_at"] + 10 * 86400
    robot.pop("duration")  # null/absent keeps the duration
    assert admin.put(f"/robots/{robot['id']}", json=robot).status_code == 200
    assert admin.get(f"/robots/{robot['id']}").json()["duration"] == 20


def test_put_cannot_change_name_level_or_project(admin):
    admin.create_project("team")
    admin.create_project("other")
    robot_id = create(admin, project_robot("team"))["id"]
    robot = admin.get(f"/robots/{robot_id}").json()
    assert "name" in error(admin.put(f"/robots/{robot_id}", json={**robot, "name": "robot$team+renamed"}), 400)
    assert error(admin.put(f"/robots/{robot_id}", json={**robot, "name": "builder"}), 400)
    moved = {**robot, "permissions": [{"kind": "project", "namespace": "other", "access": PULL}]}
    assert "project" in error(admin.put(f"/robots/{robot_id}", json=moved), 400)
    as_system = {**robot, "level": "system", "permissions": [{"kind": "project", "namespace": "*", "access": PULL}]}
    assert admin.put(f"/robots/{robot_id}", json=as_system).status_code == 400
    assert admin.put("/robots/99", json=robot).status_code == 404


def test_refresh_secret(harbor, admin):
    admin.create_project("team")
    created_robot = create(admin, project_robot("team"))
    name, old = created_robot["name"], created_robot["secret"]
    response = admin.patch(f"/robots/{created_robot['id']}", json={})
    assert response.status_code == 200
    new = response.json()["secret"]
    assert new and new != old
    assert harbor.client(name, old).get("/projects/team", headers={"X-Is-Resource-Name": "true"}).status_code == 401
    assert harbor.client(name, new).get("/projects/team", headers={"X-Is-Resource-Name": "true"}).status_code == 200
    chosen = admin.patch(f"/robots/{created_robot['id']}", json={"secret": "Chosen1234"})
    assert chosen.status_code == 200 and chosen.json()["secret"] == ""
    by_name = {"X-Is-Resource-Name": "true"}
    assert harbor.client(name, "Chosen1234").get("/projects/team", headers=by_name).status_code == 200
    assert "secret" in error(admin.patch(f"/robots/{created_robot['id']}", json={"secret": "short1A"}), 400)
    assert admin.patch("/robots/99", json={}).status_code == 404


def test_delete(admin):
    robot_id = create(admin, system_robot())["id"]
    assert admin.delete(f"/robots/{robot_id}").status_code == 200
    assert admin.get(f"/robots/{robot_id}").status_code == 404
    assert admin.delete(f"/robots/{robot_id}").status_code == 404


# -- who may do what -------------------------------------------------------------------------
def test_project_admin_manages_project_robots_only(admin, team):
    pa = team["pa"]
    robot_id = create(pa, project_robot("team"))["id"]
    assert pa.get(f"/robots/{robot_id}").status_code == 200
    robot = pa.get(f"/robots/{robot_id}").json()
    assert pa.put(f"/robots/{robot_id}", json={**robot, "description": "x"}).status_code == 200
    assert pa.patch(f"/robots/{robot_id}", json={}).status_code == 200
    assert pa.post("/robots", json=system_robot()).status_code == 403
    assert pa.get("/robots").status_code == 403  # system robots
    system_id = create(admin, system_robot())["id"]
    assert pa.get(f"/robots/{system_id}").status_code == 403
    assert pa.delete(f"/robots/{system_id}").status_code == 403
    assert pa.delete(f"/robots/{robot_id}").status_code == 200


def test_developer_and_guest_read_but_cannot_manage(admin, team):
    pid = admin.get("/projects/team", headers={"X-Is-Resource-Name": "true"}).json()["project_id"]
    robot_id = create(admin, project_robot("team"))["id"]
    for who in ("dev", "guest"):
        client = team[who]
        assert client.post("/robots", json=project_robot("team", f"by-{who}")).status_code == 403
        assert client.get(f"/robots/{robot_id}").status_code == 200
        listed = client.get("/robots", params={"q": f"Level=project,ProjectID={pid}"})
        assert listed.status_code == 200 and len(listed.json()) == 1
        robot = client.get(f"/robots/{robot_id}").json()
        assert client.put(f"/robots/{robot_id}", json=robot).status_code == 403
        assert client.patch(f"/robots/{robot_id}", json={}).status_code == 403
        assert client.delete(f"/robots/{robot_id}").status_code == 403


def test_outsider_and_anonymous(harbor, admin):
    admin.create_project("team")
    admin.create_user("outsider", PASSWORD)
    robot_id = create(admin, project_robot("team"))["id"]
    outsider = harbor.client("outsider", PASSWORD)
    assert outsider.get(f"/robots/{robot_id}").status_code == 403
    assert outsider.post("/robots", json=project_robot("team", "x")).status_code == 403
    anonymous = harbor.anonymous()
    assert anonymous.get("/robots").status_code == 401
    assert anonymous.post("/robots", json=system_robot()).status_code == 401


# -- robots as callers -----------------------------------------------------------------------
def test_robot_with_project_pull_reads_but_cannot_manage(harbor, admin):
    pid = admin.create_project("team")
    admin.create_user("someone", PASSWORD)
    created_robot = create(admin, project_robot("team"))
    robot = harbor.client(created_robot["name"], created_robot["secret"])
    assert robot.get(f"/projects/{pid}").status_code == 200
    assert robot.get("/projects/team/repositories").status_code == 200
    member = {"role_id": 2, "member_user": {"username": "someone"}}
    assert robot.post(f"/projects/{pid}/members", json=member).status_code == 403
    assert robot.get(f"/projects/{pid}/members").status_code == 403
    assert robot.delete(f"/projects/{pid}").status_code == 403
    other = admin.create_project("other")
    assert robot.get(f"/projects/{other}").status_code == 403


def test_robot_credentials_disabled_and_expired_are_401(harbor, admin):
    admin.create_project("team")
    created_robot = create(admin, project_robot("team"))
    assert harbor.client(created_robot["name"], "Wrong1234").get("/projects/1").status_code == 401
    robot = admin.get(f"/robots/{created_robot['id']}").json()
    assert admin.put(f"/robots/{robot['id']}", json={**robot, "disable": True}).status_code == 200
    assert harbor.client(created_robot["name"], created_robot["secret"]).get("/projects/1").status_code == 401
    assert admin.put(f"/robots/{robot['id']}", json={**robot, "disable": False}).status_code == 200
    with harbor.emulator.store.tx() as tx:  # age the robot past its expiry
        doc = tx.get("robot", robot["id"])
        doc["expires_at"] = int(time.time()) - 60
        tx.update("robot", robot["id"], dict(doc))
    assert harbor.client(created_robot["name"], created_robot["secret"]).get("/projects/1").status_code == 401


def test_system_robot_with_robot_permission_creates_project_robot(harbor, admin):
    admin.create_project("team")
    body = {"name": "maker", "level": "system", "duration": -1, "permissions": [
        {"kind": "project", "namespace": "team", "access": [{"resource": "robot", "action": "create"},
                                                           {"resource": "robot", "action": "read"}]}]}
    maker = create(admin, body)
    client = harbor.client(maker["name"], maker["secret"])
    made = create(client, project_robot("team", "made"))
    assert made["name"] == "robot$team+made"
    assert admin.get(f"/robots/{made['id']}").json()["creator_type"] == "robot"


def test_robot_with_pull_lists_repositories(harbor_registry):
    admin = harbor_registry.client()
    admin.create_project("team")
    images.push_image(harbor_registry.url, "team/web", "v1", auth=ADMIN)
    created_robot = create(admin, project_robot("team"))
    robot = harbor_registry.client(created_robot["name"], created_robot["secret"])
    repositories = robot.get("/projects/team/repositories")
    assert repositories.status_code == 200 and [r["name"] for r in repositories.json()] == ["team/web"]
    assert robot.delete("/projects/team/repositories/web").status_code == 403
