"""Who may do what, per Harbor's RBAC (src/common/rbac/project/rbac_role.go, v2.11+).

Every principal is tried on every operation against a fresh private project. Harbor answers
401 to anonymous callers and 403 to authenticated callers without the permission; it does not
hide a project behind 404 (a caller who may not read it gets 403 whether it exists or not).
Registry pushes and pulls per role are covered by the registry tests.
"""

import itertools
import uuid

import pytest

from tests.conftest import Client, start_harbor

PASSWORD = "Passw0rd!"
ROLES = {"projectAdmin": 1, "developer": 2, "guest": 3, "maintainer": 4, "limitedGuest": 5}
PRINCIPALS = ["sysadmin", "projectAdmin", "maintainer", "developer", "guest", "limitedGuest", "nonmember",
              "anonymous"]
USERNAMES = {"sysadmin": "sys", "projectAdmin": "padmin", "maintainer": "maint", "developer": "dev",
             "guest": "gst", "limitedGuest": "lguest", "nonmember": "outsider"}
_counter = itertools.count()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One emulator for the module; each test makes its own project."""
    harbor = start_harbor(tmp_path_factory.mktemp("perm"))
    admin = harbor.client()
    for principal, username in USERNAMES.items():
        admin.create_user(username, PASSWORD, sysadmin=principal == "sysadmin")
    admin.create_user("target", PASSWORD)
    admin.create_user("spare", PASSWORD)
    yield harbor
    harbor.server.stop()


def client_for(harbor, principal):
    if principal == "anonymous":
        return harbor.anonymous()
    return Client(harbor.url, auth=(USERNAMES[principal], PASSWORD))


@pytest.fixture
def project(lab):
    """A private project with one member per role, plus a `target` member (guest) to act on."""
    admin = lab.client()
    name = f"perm{next(_counter)}"
    pid = admin.create_project(name)
    for role, role_id in ROLES.items():
        admin.add_member(pid, USERNAMES[role], role_id)
    target = admin.add_member(pid, "target", 3)
    quota = admin.get("/quotas", params={"reference": "project", "reference_id": pid}).json()[0]["id"]
    return {"id": pid, "name": name, "target": target, "quota": quota}


# operation -> (call, principals allowed, status when allowed)
def read_project(c, p):
    return c.get(f"/projects/{p['id']}")


def list_members(c, p):
    return c.get(f"/projects/{p['id']}/members")


def add_member(c, p):
    return c.post(f"/projects/{p['id']}/members", json={"role_id": 2, "member_user": {"username": "spare"}})


def change_member_role(c, p):
    return c.put(f"/projects/{p['id']}/members/{p['target']}", json={"role_id": 2})


def delete_member(c, p):
    return c.delete(f"/projects/{p['id']}/members/{p['target']}")


def update_project_metadata(c, p):
    return c.put(f"/projects/{p['id']}", json={"metadata": {"auto_scan": "true"}})


def update_metadata_entry(c, p):
    return c.put(f"/projects/{p['id']}/metadatas/auto_scan", json={"auto_scan": "true"})


def delete_project(c, p):
    return c.delete(f"/projects/{p['id']}")


def read_quotas(c, p):
    return c.get("/quotas", params={"reference": "project", "reference_id": p["id"]})


def update_quota(c, p):
    return c.put(f"/quotas/{p['quota']}", json={"hard": {"storage": 1024}})


def create_user(c, p):
    name = "u" + uuid.uuid4().hex[:10]
    return c.post("/users", json={"username": name, "password": PASSWORD, "email": f"{name}@example.com",
                                  "realname": name})


def list_users(c, p):
    return c.get("/users")


def read_configurations(c, p):
    return c.get("/configurations")


ADMINS = {"sysadmin", "projectAdmin"}
READERS = {"sysadmin", "projectAdmin", "maintainer", "developer", "guest", "limitedGuest"}
MEMBER_LISTERS = READERS - {"limitedGuest"}
SYSADMIN = {"sysadmin"}

OPERATIONS = {
    "read a private project": (read_project, READERS, 200),
    "list its members": (list_members, MEMBER_LISTERS, 200),
    "add a member": (add_member, ADMINS, 201),
    "change a member's role": (change_member_role, ADMINS, 200),
    "delete a member": (delete_member, ADMINS, 200),
    # maintainers lost metadata writes in Harbor 2.11 (CVE-2024-22278)
    "update project metadata": (update_project_metadata, ADMINS, 200),
    "update one metadata entry": (update_metadata_entry, ADMINS, 200),
    "delete the project": (delete_project, ADMINS, 200),
    # quotas are a system resource: project admins see theirs only in the project summary
    "read quotas": (read_quotas, SYSADMIN, 200),
    "update a quota": (update_quota, SYSADMIN, 200),
    "create a user": (create_user, SYSADMIN, 201),
    "list users": (list_users, SYSADMIN, 200),
    "read configurations": (read_configurations, SYSADMIN, 200),
}


def expected(operation, principal):
    _, allowed, status = OPERATIONS[operation]
    if principal in allowed:
        return status
    return 401 if principal == "anonymous" else 403


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_permission_matrix(lab, project, operation, principal):
    call = OPERATIONS[operation][0]
    response = call(client_for(lab, principal), project)
    want = expected(operation, principal)
    assert response.status_code == want, (operation, principal, response.text)
    if want >= 400:
        code = {401: "UNAUTHORIZED", 403: "FORBIDDEN"}[want]
        assert response.json()["errors"][0]["code"] == code
        if want == 401:
            assert "Basic" in response.headers["WWW-Authenticate"]


def test_refused_writes_change_nothing(lab, project):
    admin = lab.client()
    before = admin.get(f"/projects/{project['id']}/members", params={"page_size": 100}).json()
    maintainer = client_for(lab, "maintainer")
    assert delete_member(maintainer, project).status_code == 403
    assert change_member_role(maintainer, project).status_code == 403
    assert update_project_metadata(maintainer, project).status_code == 403
    assert admin.get(f"/projects/{project['id']}/members", params={"page_size": 100}).json() == before
    assert "auto_scan" not in admin.get(f"/projects/{project['id']}").json()["metadata"]


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_unknown_project_is_404_only_for_those_who_could_see_it(lab, principal):
    response = client_for(lab, principal).get("/projects/999999")
    want = {"sysadmin": 404, "anonymous": 401}.get(principal, 403)
    assert response.status_code == want
    by_name = client_for(lab, principal).get("/projects/no-such-project/members")
    assert by_name.status_code == want


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_public_project_is_readable_by_everyone(lab, principal):
    admin = lab.client()
    pid = admin.create_project(f"pub{next(_counter)}", public=True)
    client = client_for(lab, principal)
    assert client.get(f"/projects/{pid}").status_code == 200
    assert client.get(f"/projects/{pid}/summary").status_code == 200
    # reading a public project is not membership: only its members (and admins) list members
    want = {"sysadmin": 200, "anonymous": 401}.get(principal, 403)
    assert client.get(f"/projects/{pid}/members").status_code == want


def test_current_user_role_is_reported(lab, project):
    for principal, role_id in ROLES.items():
        body = client_for(lab, principal).get(f"/projects/{project['id']}").json()
        assert body["current_user_role_id"] == role_id
        assert body["current_user_role_ids"] == [role_id]
    # a system administrator who is not a member has no role in the project
    assert "current_user_role_id" not in client_for(lab, "sysadmin").get(f"/projects/{project['id']}").json()


def test_permissions_endpoint_lists_the_role(lab, project):
    scope = f"/project/{project['id']}"
    guest = client_for(lab, "guest").get("/users/current/permissions", params={"scope": scope, "relative": "true"})
    pairs = {(p["resource"], p["action"]) for p in guest.json()}
    assert ("member", "list") in pairs and (".", "read") in pairs
    assert ("member", "create") not in pairs
    full = client_for(lab, "projectAdmin").get("/users/current/permissions", params={"scope": scope}).json()
    assert {"resource": f"{scope}/member", "action": "create"} in full
    assert client_for(lab, "anonymous").get("/users/current/permissions").status_code == 401
