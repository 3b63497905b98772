"""Registry endpoints: validation, the health check at create/update/ping, masking of secrets,
412 on delete when in use, capabilities (info, adapters)."""

import socket

import pytest

SECRET = "Repl1cat0rSecret"


def dead_url():
    """A loopback URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def peer_user(admin):
    """The account endpoints use to reach this very emulator (a Harbor endpoint of itself)."""
    admin.create_user("replicator", password=SECRET, sysadmin=True)
    return ("replicator", SECRET)


def harbor_endpoint(harbor, name="peer", secret=SECRET, **extra):
    body = {"name": name, "type": "harbor", "url": harbor.url, "insecure": False, "description": "a peer",
            "credential": {"type": "basic", "access_key": "replicator", "access_secret": secret}}
    body.update(extra)
    return body


def message(response):
    return response.json()["errors"][0]["message"]


def test_create_checks_health_and_never_returns_the_secret(harbor, admin, peer_user):
    registry_id = admin.create("/registries", harbor_endpoint(harbor))
    got = admin.get(f"/registries/{registry_id}")
    assert got.status_code == 200
    body = got.json()
    assert body["credential"] == {"type": "basic", "access_key": "replicator", "access_secret": "*****"}
    assert body["status"] == "healthy" and body["type"] == "harbor" and body["url"] == harbor.url
    listed = admin.get("/registries")
    for response in (got, listed):
        assert SECRET not in response.text
    assert listed.headers["X-Total-Count"] == "1"


def test_dead_endpoint_is_refused_as_unhealthy(harbor, admin):
    for registry_type in ("harbor", "docker-registry"):
        response = admin.post("/registries", json={"name": f"dead-{registry_type}", "type": registry_type,
                                                   "url": dead_url()})
        assert response.status_code == 400, response.text
        assert "unhealthy" in message(response)
    assert admin.get("/registries").json() == []


def test_wrong_credentials_are_refused(harbor, admin, peer_user):
    response = admin.post("/registries", json=harbor_endpoint(harbor, secret="Wr0ngSecret!"))
    assert response.status_code == 400
    assert "credentials were rejected" in message(response)
    assert "Wr0ngSecret!" not in response.text


def test_cloud_types_are_unreachable_here(admin):
    response = admin.post("/registries", json={"name": "ecr", "type": "aws-ecr",
                                               "url": "https://api.ecr.us-east-1.amazonaws.com",
                                               "credential": {"access_key": "AKIA", "access_secret": "x"}})
    assert response.status_code == 400
    assert "unreachable" in message(response)


@pytest.mark.parametrize("body, fragment", [
    ({"name": "x", "type": "nope", "url": "http://127.0.0.1:1"}, "invalid registry type"),
    ({"name": "x", "type": "harbor"}, "url cannot be empty"),
    ({"name": "x", "type": "harbor", "url": "ftp://127.0.0.1"}, "invalid HTTP scheme"),
    ({"name": "", "type": "harbor", "url": "http://127.0.0.1:1"}, "name cannot be empty"),
    ({"name": "n" * 65, "type": "harbor", "url": "http://127.0.0.1:1"}, "max length of name is 64"),
    ({"name": "x", "url": "http://127.0.0.1:1"}, "type in body is required"),
    ({"name": "x", "type": "harbor", "url": "http://127.0.0.1:1", "insecure": "yes"}, "insecure"),
    ({"name": "x", "type": "harbor", "url": "http://127.0.0.1:1", "credential": {"type": "token"}},
     "invalid credential type"),
])
def test_create_validation(admin, body, fragment):
    response = admin.post("/registries", json=body)
    assert response.status_code == 400
    assert fragment in message(response)


def test_duplicate_name_is_409(harbor, admin, peer_user):
    admin.create("/registries", harbor_endpoint(harbor))
    response = admin.post("/registries", json=harbor_endpoint(harbor))
    assert response.status_code == 409


def test_url_without_scheme_defaults_to_http_and_trailing_slash_is_dropped(harbor, admin, peer_user):
    url = harbor.url.split("://", 1)[1] + "/"
    registry_id = admin.create("/registries", harbor_endpoint(harbor, url=url))
    assert admin.get(f"/registries/{registry_id}").json()["url"] == harbor.url


def test_list_q_and_pagination(harbor, admin, peer_user):
    for name in ("alpha", "alphabet", "beta"):
        admin.create("/registries", harbor_endpoint(harbor, name=name))
    assert [r["name"] for r in admin.get("/registries", params={"q": "name=~alph"}).json()] == ["alpha", "alphabet"]
    assert [r["name"] for r in admin.get("/registries", params={"name": "eta"}).json()] == ["beta"]
    page = admin.get("/registries", params={"page_size": 2, "page": 2})
    assert page.headers["X-Total-Count"] == "3" and len(page.json()) == 1


def test_update_uses_the_flat_shape_and_rechecks_health(harbor, admin, peer_user):
    registry_id = admin.create("/registries", harbor_endpoint(harbor))
    changes = {"description": "changed", "name": "renamed"}
    assert admin.put(f"/registries/{registry_id}", json=changes).status_code == 200
    got = admin.get(f"/registries/{registry_id}").json()
    assert got["description"] == "changed" and got["name"] == "renamed"
    assert got["credential"]["access_secret"] == "*****"  # kept when not sent
    bad = admin.put(f"/registries/{registry_id}", json={"access_secret": "Wr0ngSecret!"})
    assert bad.status_code == 400 and "unhealthy" in message(bad)
    dead = admin.put(f"/registries/{registry_id}", json={"url": dead_url()})
    assert dead.status_code == 400
    assert admin.get(f"/registries/{registry_id}").json()["url"] == harbor.url  # nothing changed
    other = admin.create("/registries", harbor_endpoint(harbor, name="other"))
    assert admin.put(f"/registries/{other}", json={"name": "renamed"}).status_code == 409
    assert admin.put("/registries/999", json={"description": "x"}).status_code == 404


def test_delete_is_412_while_a_policy_or_a_proxy_cache_project_uses_it(harbor, admin, peer_user):
    registry_id = admin.create("/registries", harbor_endpoint(harbor))
    policy_id = admin.create("/replication/policies", {"name": "push", "dest_registry": {"id": registry_id},
                                                       "enabled": True})
    response = admin.delete(f"/registries/{registry_id}")
    assert response.status_code == 412 and "replication policies" in message(response)
    assert admin.delete(f"/replication/policies/{policy_id}").status_code == 200
    project_id = admin.create_project("cache", registry_id=registry_id)
    response = admin.delete(f"/registries/{registry_id}")
    assert response.status_code == 412 and "proxy cache" in message(response)
    assert admin.delete(f"/projects/{project_id}").status_code == 200
    assert admin.delete(f"/registries/{registry_id}").status_code == 200
    assert admin.get(f"/registries/{registry_id}").status_code == 404
    assert admin.delete(f"/registries/{registry_id}").status_code == 404


def test_ping_by_id_and_by_url(harbor, admin, peer_user):
    registry_id = admin.create("/registries", harbor_endpoint(harbor))
    assert admin.post("/registries/ping", json={"id": registry_id}).status_code == 200
    assert admin.post("/registries/ping", json={"type": "harbor", "url": harbor.url, "access_key": "replicator",
                                                 "access_secret": SECRET}).status_code == 200
    dead = admin.post("/registries/ping", json={"type": "harbor", "url": dead_url()})
    assert dead.status_code == 400 and "unhealthy" in message(dead)
    wrong = admin.post("/registries/ping", json={"id": registry_id, "access_secret": "Wr0ngSecret!"})
    assert wrong.status_code == 400
    assert admin.post("/registries/ping", json={"url": harbor.url}).status_code == 400
    assert admin.post("/registries/ping", json={"id": 999}).status_code == 404


def test_info_adapters_and_adapterinfos(harbor, admin, peer_user):
    registry_id = admin.create("/registries", harbor_endpoint(harbor))
    info = admin.get(f"/registries/{registry_id}/info").json()
    assert info["type"] == "harbor" and "event_based" not in info["supported_triggers"]
    assert {f["type"] for f in info["supported_resource_filters"]} == {"name", "tag", "label", "resource"}
    local = admin.get("/registries/0/info").json()
    assert "event_based" in local["supported_triggers"]
    adapters = admin.get("/replication/adapters").json()
    assert {"harbor", "docker-registry", "aws-ecr", "docker-hub"} <= set(adapters)
    infos = admin.get("/replication/adapterinfos").json()
    assert infos["docker-hub"]["endpoint_pattern"]["endpoints"][0]["value"] == "https://hub.docker.com"


def test_system_admins_only(harbor, admin, peer_user):
    registry_id = admin.create("/registries", harbor_endpoint(harbor))
    admin.create_user("dev", password="Passw0rd!")
    dev = harbor.client("dev", "Passw0rd!")
    assert dev.get("/registries").status_code == 403
    assert dev.get(f"/registries/{registry_id}").status_code == 403
    assert dev.post("/registries", json=harbor_endpoint(harbor, name="x")).status_code == 403
    assert dev.delete(f"/registries/{registry_id}").status_code == 403
    assert harbor.anonymous().get("/registries").status_code == 401


def test_project_summary_shows_the_public_registry_shape(harbor, admin, peer_user):
    registry_id = admin.create("/registries", harbor_endpoint(harbor))
    admin.create_project("cache", registry_id=registry_id)
    summary = admin.get("/projects/cache/summary", headers={"X-Is-Resource-Name": "true"})
    assert summary.json()["registry"]["id"] == registry_id
    assert SECRET not in summary.text
