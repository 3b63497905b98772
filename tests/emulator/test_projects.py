"""Projects as Harbor's project API treats them: names, metadata strings, visibility, quotas at
creation, proxy cache, deletion, summary, the metadata endpoints, HEAD and X-Is-Resource-Name."""

import pytest

from tests.conftest import Client, start_harbor

PASSWORD = "Passw0rd!"


def error(response, status, code, message=None):
    assert response.status_code == status, response.text
    first = response.json()["errors"][0]
    assert first["code"] == code
    if message is not None:
        assert first["message"] == message
    return first["message"]


def login(harbor, name):
    return Client(harbor.url, auth=(name, PASSWORD))


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One emulator for the rule tables (each case uses its own project name)."""
    harbor = start_harbor(tmp_path_factory.mktemp("projects"))
    yield harbor
    harbor.server.stop()


# -- names ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Upper", "two__under", "-lead", "trail-", "a..b", "sp ace", "ünï"])
def test_invalid_names(shared, name):
    error(shared.client().post("/projects", json={"project_name": name}), 400, "BAD_REQUEST",
          "project name is not in lower case or contains illegal characters")


def test_name_length(shared):
    admin = shared.client()
    error(admin.post("/projects", json={"project_name": "a" * 256}), 400, "BAD_REQUEST")
    error(admin.post("/projects", json={}), 400, "BAD_REQUEST",
          "Project name  is illegal in length. (greater than 255 or less than 1)")
    assert admin.post("/projects", json={"project_name": "a" * 255}).status_code == 201


@pytest.mark.parametrize("name", ["a", "a.b-c_d", "0day", "x1.y2"])
def test_valid_names(shared, name):
    assert shared.client().post("/projects", json={"project_name": name}).status_code == 201


def test_duplicate_name_is_409(admin):
    admin.create_project("twice")
    error(admin.post("/projects", json={"project_name": "twice"}), 409, "CONFLICT",
          "The project named twice already exists")


# -- metadata strings ----------------------------------------------------------------------------------
def test_metadata_values_are_strings(admin):
    pid = admin.create("/projects", {"project_name": "meta", "metadata": {
        "public": "true", "auto_scan": "1", "severity": "High", "prevent_vul": "False", "whatever": "dropped"}})
    metadata = admin.get(f"/projects/{pid}").json()["metadata"]
    assert metadata == {"public": "true", "auto_scan": "true", "severity": "high", "prevent_vul": "false"}


@pytest.mark.parametrize("metadata, message", [
    ({"auto_scan": True}, None),  # a JSON boolean is not a string
    ({"public": "True"}, "metadata.public should only be 'true' or 'false', but got: 'True'"),
    ({"public": "yes"}, "metadata.public should only be 'true' or 'false', but got: 'yes'"),
    ({"severity": "urgent"}, None),
    ({"auto_scan": "maybe"}, None),
])
def test_bad_metadata_values(shared, metadata, message):
    response = shared.client().post("/projects", json={"project_name": "badmeta", "metadata": metadata})
    error(response, 400, "BAD_REQUEST", message)


def test_public_flag_and_default(admin):
    legacy = admin.create("/projects", {"project_name": "legacy", "public": True})
    assert admin.get(f"/projects/{legacy}").json()["metadata"]["public"] == "true"
    default = admin.create("/projects", {"project_name": "quiet"})
    assert admin.get(f"/projects/{default}").json()["metadata"] == {"public": "false"}


def test_update_merges_metadata_and_ignores_what_cannot_change(admin):
    pid = admin.create_project("upd", storage_limit=2048)
    body = {"project_name": "renamed", "public": True, "storage_limit": 1, "metadata": {"auto_scan": "true"}}
    assert admin.put(f"/projects/{pid}", json=body).status_code == 200
    project = admin.get(f"/projects/{pid}").json()
    assert project["name"] == "upd"
    assert project["metadata"] == {"public": "false", "auto_scan": "true"}
    quota = admin.get("/quotas", params={"reference": "project", "reference_id": pid}).json()[0]
    assert quota["hard"] == {"storage": 2048}
    error(admin.put(f"/projects/{pid}", json={"metadata": {"retention_id": "7"}}), 400, "BAD_REQUEST")
    # proxy cache settings mean nothing to an ordinary project: dropped
    assert admin.put(f"/projects/{pid}", json={"metadata": {"proxy_speed_kb": "100"}}).status_code == 200
    assert "proxy_speed_kb" not in admin.get(f"/projects/{pid}").json()["metadata"]


def test_cve_allowlist_update(admin):
    pid = admin.create_project("cves")
    allow = {"items": [{"cve_id": "CVE-2024-0001"}], "expires_at": 4102444800}
    assert admin.put(f"/projects/{pid}", json={"cve_allowlist": allow}).status_code == 200
    stored = admin.get(f"/projects/{pid}").json()["cve_allowlist"]
    assert stored["items"] == [{"cve_id": "CVE-2024-0001"}] and stored["project_id"] == pid
    wrong = admin.put(f"/projects/{pid}", json={"cve_allowlist": {"project_id": pid + 1, "items": []}})
    error(wrong, 400, "BAD_REQUEST", f"project_id in cve_allowlist must be {pid} but it's {pid + 1}")


# -- visibility -----------------------------------------------------------------------------------------
def test_anonymous_sees_public_projects_only(harbor, admin):
    admin.create_project("open", public=True)
    secret = admin.create_project("closed")
    anonymous = harbor.anonymous()
    listing = anonymous.get("/projects")
    assert sorted(p["name"] for p in listing.json()) == ["library", "open"]
    assert listing.headers["X-Total-Count"] == "2"
    private_only = anonymous.get("/projects", params={"public": "false"})
    assert private_only.json() == [] and private_only.headers["X-Total-Count"] == "0"
    error(anonymous.get(f"/projects/{secret}"), 401, "UNAUTHORIZED")
    assert anonymous.get("/projects/open", headers={"X-Is-Resource-Name": "true"}).status_code == 200


def test_users_see_public_projects_and_their_own(harbor, admin):
    admin.create_project("open", public=True)
    admin.create_project("closed")
    theirs = admin.create_project("theirs")
    admin.create_user("viewer")
    admin.add_member(theirs, "viewer", 3)
    viewer = login(harbor, "viewer")
    assert sorted(p["name"] for p in viewer.get("/projects").json()) == ["library", "open", "theirs"]
    assert [p["name"] for p in viewer.get("/projects", params={"public": "false"}).json()] == ["theirs"]
    assert sorted(p["name"] for p in admin.get("/projects").json()) == ["closed", "library", "open", "theirs"]


def test_list_filters_and_default_order(admin):
    for name in ("zeta", "alpha-team", "beta-team"):
        admin.create_project(name)
    assert [p["name"] for p in admin.get("/projects").json()] == ["alpha-team", "beta-team", "library", "zeta"]
    # name= is a fuzzy match in Harbor
    assert [p["name"] for p in admin.get("/projects", params={"name": "team"}).json()] == ["alpha-team", "beta-team"]
    assert [p["name"] for p in admin.get("/projects", params={"public": "true"}).json()] == ["library"]
    assert len(admin.get("/projects", params={"owner": "admin"}).json()) == 4
    error(admin.get("/projects", params={"public": "sometimes"}), 400, "BAD_REQUEST")


def test_project_shape(admin):
    body = admin.get("/projects/1").json()
    assert body["name"] == "library" and body["owner_name"] == "admin" and body["repo_count"] == 0
    assert body["current_user_role_id"] == 1 and body["current_user_role_ids"] == [1]
    assert "registry_id" not in body  # Go's omitempty: not a proxy cache project


# -- storage limit ----------------------------------------------------------------------------------------
def quota_of(admin, pid):
    quotas = admin.get("/quotas", params={"reference": "project", "reference_id": pid}).json()
    return quotas[0] if quotas else None


def test_storage_limit_only_at_creation_then_quotas(admin):
    pid = admin.create_project("limited", storage_limit=1024)
    quota = quota_of(admin, pid)
    assert quota["hard"] == {"storage": 1024} and quota["ref"]["name"] == "limited"
    assert admin.put(f"/quotas/{quota['id']}", json={"hard": {"storage": 4096}}).status_code == 200
    assert quota_of(admin, pid)["hard"] == {"storage": 4096}
    assert admin.put(f"/quotas/{quota['id']}", json={"hard": {"storage": -1}}).status_code == 200
    error(admin.put(f"/quotas/{quota['id']}", json={"hard": {"storage": 0}}), 400, "BAD_REQUEST",
          "invalid value for resource storage")
    error(admin.put(f"/quotas/{quota['id']}", json={"hard": {"count": 5}}), 400, "BAD_REQUEST",
          "resource count not support")
    error(admin.put(f"/quotas/{quota['id']}", json={"hard": {}}), 400, "BAD_REQUEST", "hard required in body")
    error(admin.put(f"/quotas/{quota['id']}", json={"hard": {"storage": "1G"}}), 400, "BAD_REQUEST")
    error(admin.put("/quotas/9999", json={"hard": {"storage": 1}}), 404, "NOT_FOUND")


def test_storage_limit_defaults(harbor, admin):
    zero = admin.create_project("zero", storage_limit=0)  # 0 means "the default"
    assert quota_of(admin, zero)["hard"] == {"storage": -1}
    error(admin.post("/projects", json={"project_name": "negative", "storage_limit": -5}), 400, "BAD_REQUEST",
          "invalid value for resource storage")
    assert admin.put("/configurations", json={"storage_per_project": 5000}).status_code == 200
    admin.create_user("maker")
    mine = login(harbor, "maker").create_project("mine", storage_limit=1)  # only admins choose the limit
    assert quota_of(admin, mine)["hard"] == {"storage": 5000}


def test_no_quota_when_per_project_quotas_are_off(admin):
    assert admin.put("/configurations", json={"quota_per_project_enable": False}).status_code == 200
    pid = admin.create_project("unquoted", storage_limit=1024)
    assert quota_of(admin, pid) is None
    assert "quota" not in admin.get(f"/projects/{pid}/summary").json()


# -- proxy cache ---------------------------------------------------------------------------------------------
def add_registry(harbor, admin, name="upstream"):
    """An endpoint of a proxy-cacheable type: this emulator itself, as a harbor endpoint."""
    return admin.create("/registries", {"name": name, "type": "harbor", "url": harbor.url, "insecure": True})


def test_proxy_cache_project(harbor, admin):
    rid = add_registry(harbor, admin)
    pid = admin.create("/projects", {"project_name": "cache", "registry_id": rid,
                                     "metadata": {"public": "true", "proxy_speed_kb": "512",
                                                  "enable_content_trust": "true"}})
    project = admin.get(f"/projects/{pid}").json()
    assert project["registry_id"] == rid
    metadata = project["metadata"]
    assert metadata["proxy_speed_kb"] == "512" and "enable_content_trust" not in metadata
    # Harbor attaches a "pulled within 7 days" retention policy
    policy = admin.get(f"/retentions/{metadata['retention_id']}").json()
    assert policy["rules"][0]["template"] == "nDaysSinceLastPull"
    assert policy["rules"][0]["params"] == {"nDaysSinceLastPull": 7}
    assert admin.get(f"/projects/{pid}/summary").json()["registry"]["id"] == rid
    # the endpoint is now in use
    error(admin.delete(f"/registries/{rid}"), 412, "PRECONDITION")


def test_proxy_cache_rules(harbor, admin):
    rid = add_registry(harbor, admin)
    admin.create_user("dev")
    error(login(harbor, "dev").post("/projects", json={"project_name": "mycache", "registry_id": rid}),
          403, "FORBIDDEN", "Only system admin can create proxy cache project")
    error(admin.post("/projects", json={"project_name": "nocache", "registry_id": 0}), 400, "BAD_REQUEST")
    error(admin.post("/projects", json={"project_name": "nocache", "registry_id": 999}), 400, "BAD_REQUEST")
    error(admin.post("/projects", json={"project_name": "badspeed", "registry_id": rid,
                                        "metadata": {"proxy_speed_kb": "fast"}}), 400, "BAD_REQUEST")
    error(admin.post("/projects", json={"project_name": "retained", "metadata": {"retention_id": "3"}}),
          400, "BAD_REQUEST")


def test_proxy_cache_needs_a_supported_registry_type(harbor, admin):
    # the lab cannot reach a quay endpoint, so POST /registries would refuse it as unhealthy:
    # the registry document goes into the store directly, as the registries module writes it
    with harbor.emulator.store.tx() as tx:
        rid = tx.next_id("registry")
        tx.insert("registry", rid, {"id": rid, "name": "quay", "type": "quay", "url": "https://quay.io"},
                  name="quay", unique=["name:quay"])
    error(admin.post("/projects", json={"project_name": "quaycache", "registry_id": rid}), 400, "BAD_REQUEST",
          "unsupported registry type quay")


# -- deletion ----------------------------------------------------------------------------------------------
def test_delete_empty_project_frees_the_name(admin):
    pid = admin.create_project("short-lived")
    assert admin.get(f"/projects/{pid}/_deletable").json() == {"deletable": True}
    assert admin.delete(f"/projects/{pid}").status_code == 200
    error(admin.get(f"/projects/{pid}"), 404, "NOT_FOUND")
    assert admin.get("/quotas", params={"reference": "project", "reference_id": pid}).json() == []
    again = admin.create_project("short-lived")
    assert again != pid


def test_project_with_repositories_cannot_be_deleted(harbor, admin, monkeypatch):
    # repositories live in the registry side; its count is the seam the project module reads
    pid = admin.create_project("full")
    monkeypatch.setattr(harbor.emulator, "repo_count", lambda name: 3 if name == "full" else 0)
    assert admin.get(f"/projects/{pid}/_deletable").json() == {
        "deletable": False, "message": "the project contains repositories, can not be deleted"}
    error(admin.delete(f"/projects/{pid}"), 412, "PRECONDITION",
          "the project contains repositories, can not be deleted")
    assert admin.get(f"/projects/{pid}").json()["repo_count"] == 3


def test_delete_cleans_up_members_and_quota(admin):
    pid = admin.create_project("cleanup")
    admin.create_user("member")
    admin.add_member(pid, "member", 2)
    assert admin.delete(f"/projects/{pid}").status_code == 200
    with_name = admin.get("/projects/cleanup", headers={"X-Is-Resource-Name": "true"})
    error(with_name, 404, "NOT_FOUND")


# -- summary --------------------------------------------------------------------------------------------------
def test_summary_counts(harbor, admin):
    pid = admin.create_project("counted", storage_limit=1 << 20)
    for i, role in enumerate([2, 2, 3, 4, 5]):
        admin.create_user(f"m{i}")
        admin.add_member(pid, f"m{i}", role)
    summary = admin.get(f"/projects/{pid}/summary").json()
    assert summary["repo_count"] == 0
    assert (summary["project_admin_count"], summary["developer_count"], summary["guest_count"],
            summary["maintainer_count"], summary["limited_guest_count"]) == (1, 2, 1, 1, 1)
    assert summary["quota"] == {"hard": {"storage": 1 << 20}, "used": {"storage": 0}}
    # a guest lists members, so sees the counts; a limited guest does not
    assert "guest_count" in login(harbor, "m2").get(f"/projects/{pid}/summary").json()
    limited = login(harbor, "m4").get(f"/projects/{pid}/summary").json()
    assert "guest_count" not in limited and "quota" in limited


# -- metadata endpoints -----------------------------------------------------------------------------------------
def test_metadata_endpoints(admin):
    pid = admin.create_project("metas")
    base = f"/projects/{pid}/metadatas"
    assert admin.post(base + "/", json={"auto_scan": "TRUE"}).status_code == 200
    assert admin.get(base + "/auto_scan").json() == {"auto_scan": "true"}
    error(admin.post(base + "/", json={"auto_scan": "false"}), 409, "CONFLICT")
    error(admin.post(base + "/", json={"auto_scan": "true", "prevent_vul": "true"}), 400, "BAD_REQUEST",
          "only allow one key/value pair")
    error(admin.post(base + "/", json={"retention_id": "1"}), 400, "BAD_REQUEST", "invalid key: retention_id")
    assert admin.put(base + "/severity", json={"severity": "Critical"}).status_code == 200
    assert admin.get(base + "/severity").json() == {"severity": "critical"}
    error(admin.put(base + "/auto_scan", json={"auto_scan": "perhaps"}), 400, "BAD_REQUEST",
          "invalid value: perhaps")
    error(admin.put(base + "/auto_scan", json={"auto_scan": True}), 400, "BAD_REQUEST")
    assert admin.get(base + "/").json() == {"public": "false", "auto_scan": "true", "severity": "critical"}
    assert admin.delete(base + "/auto_scan").status_code == 200
    assert admin.get(base + "/auto_scan").json() == {}  # Harbor: an absent key is an empty map
    assert admin.delete(base + "/auto_scan").status_code == 200


def test_metadata_list_is_not_granted_to_project_roles(harbor, admin):
    # no project role holds (metadata, list) in Harbor: only system admins list the map
    pid = admin.create_project("metalist")
    admin.create_user("owner")
    admin.add_member(pid, "owner", 1)
    owner = login(harbor, "owner")
    error(owner.get(f"/projects/{pid}/metadatas/"), 403, "FORBIDDEN")
    assert owner.get(f"/projects/{pid}/metadatas/public").json() == {"public": "false"}


# -- addressing --------------------------------------------------------------------------------------------------
def test_numeric_names_and_x_is_resource_name(admin):
    first = admin.create_project("first")
    named = admin.create_project(str(first))  # a project whose name is another project's id
    assert admin.get(f"/projects/{first}").json()["name"] == "first"
    by_name = admin.get(f"/projects/{first}", headers={"X-Is-Resource-Name": "true"}).json()
    assert by_name["project_id"] == named
    assert admin.get("/projects/first").json()["project_id"] == first


def test_location_can_carry_the_name(admin):
    response = admin.post("/projects", json={"project_name": "located"},
                          headers={"X-Resource-Name-In-Location": "true"})
    assert response.status_code == 201 and response.headers["Location"] == "/api/v2.0/projects/located"


def test_head(harbor, admin):
    admin.create_project("private-one")
    admin.create_user("stranger")
    stranger = login(harbor, "stranger")
    # any logged-in user may test whether a name is taken, member or not
    assert stranger.head("/projects", params={"project_name": "private-one"}).status_code == 200
    assert stranger.head("/projects", params={"project_name": "nothing"}).status_code == 404
    assert admin.head("/projects").status_code == 400
    # (no body to validate: a HEAD answer is headers only)
    anonymous = Client(harbor.url, auth=None, check=False)
    assert anonymous.head("/projects", params={"project_name": "library"}).status_code == 401


def test_creation_needs_a_login(harbor):
    error(harbor.anonymous().post("/projects", json={"project_name": "anon"}), 401, "UNAUTHORIZED")
