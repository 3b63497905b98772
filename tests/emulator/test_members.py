"""Project members as Harbor's member API treats them: roles, users by id or name, groups,
listing (entityname, order, pagination past the 10th and 100th member), updates and deletes."""

import re

import pytest

from tests.conftest import Client

INVALID_ROLE = "Failed to update project member, role is not in 1,2,3,4,5"
ROLE_NAMES = {1: "projectAdmin", 2: "developer", 3: "guest", 4: "maintainer", 5: "limitedGuest"}


def error(response, status, code, message=None):
    assert response.status_code == status, response.text
    first = response.json()["errors"][0]
    assert first["code"] == code
    if message is not None:
        assert first["message"] == message
    return first["message"]


@pytest.fixture
def project(admin):
    return admin.create_project("team")


def members_of(admin, pid, **params):
    return admin.get(f"/projects/{pid}/members", params=params)


# -- roles --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role_id", [1, 2, 3, 4, 5])
def test_each_role(admin, project, role_id):
    admin.create_user("someone")
    mid = admin.add_member(project, "someone", role_id)
    member = admin.get(f"/projects/{project}/members/{mid}").json()
    assert member == {"id": mid, "project_id": project, "entity_name": "someone", "entity_id": member["entity_id"],
                      "entity_type": "u", "role_id": role_id, "role_name": ROLE_NAMES[role_id]}


@pytest.mark.parametrize("role_id", [0, 6, -1, None])
def test_roles_outside_1_to_5_are_refused(admin, project, role_id):
    admin.create_user("someone")
    body = {"member_user": {"username": "someone"}}
    if role_id is not None:
        body["role_id"] = role_id
    error(admin.post(f"/projects/{project}/members", json=body), 400, "BAD_REQUEST", INVALID_ROLE)
    assert len(members_of(admin, project).json()) == 1  # only the owner


def test_duplicate_member_is_409(admin, project):
    uid = admin.create_user("twice")
    admin.add_member(project, "twice", 2)
    again = admin.post(f"/projects/{project}/members", json={"role_id": 3, "member_user": {"user_id": uid}})
    error(again, 409, "CONFLICT", "The project member specified already exist")
    # the owner is already a member too
    error(admin.post(f"/projects/{project}/members", json={"role_id": 2, "member_user": {"username": "admin"}}),
          409, "CONFLICT")


# -- who ------------------------------------------------------------------------------------------------
def test_member_user_by_id_or_username(admin, project):
    uid = admin.create_user("by-id")
    admin.create_user("by-name")
    assert admin.create(f"/projects/{project}/members", {"role_id": 2, "member_user": {"user_id": uid}})
    assert admin.create(f"/projects/{project}/members", {"role_id": 2, "member_user": {"username": "by-name"}})
    names = {m["entity_name"]: m["entity_id"] for m in members_of(admin, project).json()}
    assert names["by-id"] == uid and "by-name" in names


def test_unknown_users(admin, project):
    error(admin.post(f"/projects/{project}/members", json={"role_id": 2, "member_user": {"username": "ghost"}}),
          404, "NOT_FOUND", "user ghost is not found")
    error(admin.post(f"/projects/{project}/members", json={"role_id": 2, "member_user": {"user_id": 999}}),
          400, "BAD_REQUEST", "User 999 not found")
    error(admin.post(f"/projects/{project}/members", json={"role_id": 2}), 400, "BAD_REQUEST",
          "at least one of member_user or member_group must be provided")
    error(admin.post(f"/projects/{project}/members", json={"role_id": 2, "member_user": {"username": 5}}),
          400, "BAD_REQUEST")


def test_http_groups_are_created_on_first_use(admin, project):
    other = admin.create_project("other-team")
    body = {"role_id": 3, "member_group": {"group_name": "ops", "group_type": 2}}
    mid = admin.create(f"/projects/{project}/members", body)
    member = admin.get(f"/projects/{project}/members/{mid}").json()
    assert member["entity_type"] == "g" and member["entity_name"] == "ops" and member["role_name"] == "guest"
    second = admin.create(f"/projects/{other}/members", body)
    assert admin.get(f"/projects/{other}/members/{second}").json()["entity_id"] == member["entity_id"]
    by_id = {"role_id": 2, "member_group": {"id": member["entity_id"]}}
    error(admin.post(f"/projects/{project}/members", json=by_id), 409, "CONFLICT")
    error(admin.post(f"/projects/{project}/members", json={"role_id": 2, "member_group": {"id": 999}}),
          400, "BAD_REQUEST", "Group 999 not found")
    ldap = {"role_id": 2, "member_group": {"group_name": "cn=devs", "group_type": 1}}
    error(admin.post(f"/projects/{project}/members", json=ldap), 400, "BAD_REQUEST")


def test_location_names_the_project_as_the_caller_did(admin, project):
    admin.create_user("located")
    response = admin.post("/projects/team/members", json={"role_id": 2, "member_user": {"username": "located"}})
    assert response.status_code == 201
    assert re.fullmatch(r"/api/v2\.0/projects/team/members/\d+", response.headers["Location"])


# -- listing ---------------------------------------------------------------------------------------------
def test_listed_by_name_and_entityname_is_exact(admin, project):
    for name in ("carol", "bob", "bobby"):
        admin.create_user(name)
        admin.add_member(project, name, 2)
    assert [m["entity_name"] for m in members_of(admin, project).json()] == ["admin", "bob", "bobby", "carol"]
    only_bob = members_of(admin, project, entityname="bob")
    assert [m["entity_name"] for m in only_bob.json()] == ["bob"]
    # Harbor counts the members before filtering by entityname
    assert only_bob.headers["X-Total-Count"] == "4"
    assert members_of(admin, project, entityname="bo").json() == []


def follow_pages(admin, pid):
    """Every member, following Link rel="next" like a careful client."""
    seen, url = [], f"/projects/{pid}/members"
    while url:
        response = admin.get(url)
        seen.extend(response.json())
        match = re.search(r'<([^>]+)>; rel="next"', response.headers.get("Link", ""))
        url = match.group(1).replace("/api/v2.0", "", 1) if match else None
    return seen


def test_the_eleventh_member_and_the_hundred_and_first(admin, project):
    for i in range(105):
        admin.create_user(f"user{i:03d}")
        admin.add_member(project, f"user{i:03d}", 2)
    first = members_of(admin, project)
    assert len(first.json()) == 10 and first.headers["X-Total-Count"] == "106"
    assert 'rel="next"' in first.headers["Link"]
    # a client reading one page misses the 11th member; one following Link does not
    eleventh = members_of(admin, project, page=2).json()[0]["entity_name"]
    assert eleventh not in {m["entity_name"] for m in first.json()}
    everyone = follow_pages(admin, project)
    assert len(everyone) == 106 and len({m["id"] for m in everyone}) == 106
    big = members_of(admin, project, page_size=100)
    rest = members_of(admin, project, page_size=100, page=2)
    assert len(big.json()) == 100 and len(rest.json()) == 6
    assert 'rel="prev"' in rest.headers["Link"] and 'rel="next"' not in rest.headers["Link"]
    error(members_of(admin, project, page_size=101), 400, "BAD_REQUEST")


# -- update and delete ---------------------------------------------------------------------------------------
def test_put_role(admin, project):
    admin.create_user("climber")
    mid = admin.add_member(project, "climber", 3)
    assert admin.put(f"/projects/{project}/members/{mid}", json={"role_id": 4}).status_code == 200
    member = admin.get(f"/projects/{project}/members/{mid}").json()
    assert (member["role_id"], member["role_name"]) == (4, "maintainer")
    error(admin.put(f"/projects/{project}/members/{mid}", json={"role_id": 9}), 400, "BAD_REQUEST", INVALID_ROLE)
    error(admin.put(f"/projects/{project}/members/{mid}", json={"role_id": "2"}), 400, "BAD_REQUEST")
    error(admin.put(f"/projects/{project}/members/abc", json={"role_id": 2}), 400, "BAD_REQUEST")
    # Harbor updates no row and still answers 200
    assert admin.put(f"/projects/{project}/members/99999", json={"role_id": 2}).status_code == 200


def test_delete(admin, project):
    admin.create_user("leaver")
    mid = admin.add_member(project, "leaver", 2)
    assert admin.delete(f"/projects/{project}/members/{mid}").status_code == 200
    error(admin.get(f"/projects/{project}/members/{mid}"), 404, "NOT_FOUND")
    assert admin.delete(f"/projects/{project}/members/{mid}").status_code == 200  # idempotent, as in Harbor
    assert "leaver" not in {m["entity_name"] for m in members_of(admin, project).json()}


def test_member_ids_are_scoped_to_their_project(admin, project):
    other = admin.create_project("elsewhere")
    admin.create_user("roamer")
    mid = admin.add_member(other, "roamer", 2)
    error(admin.get(f"/projects/{project}/members/{mid}"), 404, "NOT_FOUND")
    assert admin.delete(f"/projects/{project}/members/{mid}").status_code == 200
    assert admin.get(f"/projects/{other}/members/{mid}").status_code == 200  # untouched


def test_members_of_a_deleted_user_vanish(harbor, admin, project):
    other = admin.create_project("second")
    uid = admin.create_user("temp")
    admin.add_member(project, "temp", 2)
    admin.add_member(other, "temp", 1)
    assert admin.delete(f"/users/{uid}").status_code == 200
    for pid in (project, other):
        assert "temp" not in {m["entity_name"] for m in members_of(admin, pid).json()}
    # a new user of the same name starts with no memberships
    admin.create_user("temp")
    assert Client(harbor.url, auth=("temp", "Passw0rd!")).get(f"/projects/{project}").status_code == 403


def test_a_project_admin_manages_members(harbor, admin, project):
    admin.create_user("lead")
    admin.create_user("newbie")
    admin.add_member(project, "lead", 1)
    lead = Client(harbor.url, auth=("lead", "Passw0rd!"))
    mid = lead.add_member(project, "newbie", 5)
    assert lead.put(f"/projects/{project}/members/{mid}", json={"role_id": 2}).status_code == 200
    assert lead.delete(f"/projects/{project}/members/{mid}").status_code == 200
