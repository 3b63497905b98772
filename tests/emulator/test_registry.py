"""The registry side: /v2 with Harbor's authorization, the token service, and the
repository/artifact/tag APIs over a real CNCF Distribution registry."""

import hashlib
import time

import pytest
import requests

from harbor_emulator.registry_client import RegistryClient, RegistryError, copy_image, parse_challenge

from .. import images

ADMIN = ("admin", "Harbor12345")
PASSWORD = "Passw0rd!"


@pytest.fixture
def h(harbor_registry):
    return harbor_registry


@pytest.fixture
def admin(h):
    return h.client()


def registry_as(h, user=None):
    return RegistryClient(h.url, user, PASSWORD if user and user != "admin" else ADMIN[1] if user else None)


def user_with_role(admin, project, name, role_id):
    admin.create_user(name, PASSWORD)
    admin.add_member(project, name, role_id)
    return name


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# -- pushing and reading back ---------------------------------------------------------------
def test_push_as_admin_shows_in_repositories_artifacts_and_tags(h, admin):
    admin.create_project("apps")
    image = images.push_image(h.url, "apps/web", "v1", layers=2, size=2048, auth=ADMIN)

    repos = admin.get("/projects/apps/repositories").json()
    assert [(r["name"], r["artifact_count"]) for r in repos] == [("apps/web", 1)]
    artifacts = admin.get("/projects/apps/repositories/web/artifacts").json()
    assert len(artifacts) == 1
    art = artifacts[0]
    assert art["digest"] == image.digest and art["size"] == image.size and art["type"] == "IMAGE"
    assert art["manifest_media_type"] == image.media_type
    assert art["repository_name"] == "apps/web" and art["project_id"] == repos[0]["project_id"]
    assert [t["name"] for t in art["tags"]] == ["v1"]
    assert art["extra_attrs"]["architecture"] == "amd64"
    by_tag = admin.get("/projects/apps/repositories/web/artifacts/v1").json()
    by_digest = admin.get(f"/projects/apps/repositories/web/artifacts/{image.digest}").json()
    assert by_tag["id"] == by_digest["id"] == art["id"]  # ids are stable across requests
    tags = admin.get(f"/projects/apps/repositories/web/artifacts/{image.digest}/tags").json()
    assert [(t["name"], t["artifact_id"]) for t in tags] == [("v1", art["id"])]
    assert admin.get("/projects/apps").json()["repo_count"] == 1


def test_nested_repository_names_are_double_encoded(h, admin):
    admin.create_project("deep")
    image = images.push_image(h.url, "deep/a/b", "1.0", auth=ADMIN)
    repo = admin.get("/projects/deep/repositories/a%252Fb").json()
    assert repo["name"] == "deep/a/b"
    assert admin.get("/projects/deep/repositories/a%252Fb/artifacts/1.0").json()["digest"] == image.digest
    assert admin.get("/projects/deep/repositories/a%2Fb").status_code == 404


def test_push_and_delete_events_are_published(h, admin):
    events = []
    h.emulator.listeners.append(events.append)
    admin.create_project("ev")
    image = images.push_image(h.url, "ev/app", "v1", auth=ADMIN)
    assert wait_for(lambda: any(e["action"] == "push" for e in events))
    push = [e for e in events if e["action"] == "push"][0]
    assert (push["repository"], push["digest"], push["tag"]) == ("ev/app", image.digest, "v1")
    assert admin.delete(f"/projects/ev/repositories/app/artifacts/{image.digest}").status_code == 200
    delete = [e for e in events if e["action"] == "delete"]
    assert delete and delete[0]["digest"] == image.digest and delete[0]["tags"] == ["v1"]


def test_pull_counts_and_pull_time(h, admin):
    admin.create_project("pulls")
    images.push_image(h.url, "pulls/app", "v1", auth=ADMIN)
    registry_as(h, "admin").get_manifest("pulls/app", "v1")
    repo = admin.get("/projects/pulls/repositories/app").json()
    assert repo["pull_count"] == 1
    art = admin.get("/projects/pulls/repositories/app/artifacts/v1").json()
    assert not art["pull_time"].startswith("0001")


# -- authorization on /v2 ------------------------------------------------------------------------
def test_v2_without_credentials_gets_a_bearer_challenge(h):
    response = requests.get(h.url + "/v2/", timeout=10)
    assert response.status_code == 401
    scheme, params = parse_challenge(response.headers["WWW-Authenticate"])
    assert scheme == "bearer"
    assert params["realm"] == h.url + "/service/token" and params["service"] == "harbor-registry"
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert requests.get(h.url + "/v2/", auth=ADMIN, timeout=10).status_code == 200
    assert requests.get(h.url + "/v2/", auth=("admin", "wrong"), timeout=10).status_code == 401


def test_anonymous_pulls_public_but_not_private(h, admin):
    admin.create_project("pub", public=True)
    admin.create_project("priv")
    images.push_image(h.url, "pub/app", "v1", auth=ADMIN)
    images.push_image(h.url, "priv/app", "v1", auth=ADMIN)
    anonymous = RegistryClient(h.url)
    assert anonymous.get_manifest("pub/app", "v1")[2]
    with pytest.raises(RegistryError) as denied:
        anonymous.get_manifest("priv/app", "v1")
    assert denied.value.status == 401
    with pytest.raises(RegistryError) as push_denied:
        images.push_image(anonymous, "pub/app", "v2")
    assert push_denied.value.status == 401


def test_roles_decide_push_pull_and_delete(h, admin):
    admin.create_project("team")
    images.push_image(h.url, "team/base", "v1", auth=ADMIN)
    dev = registry_as(h, user_with_role(admin, "team", "dev", 2))
    guest = registry_as(h, user_with_role(admin, "team", "guest", 3))
    limited = registry_as(h, user_with_role(admin, "team", "limited", 5))
    maintainer = registry_as(h, user_with_role(admin, "team", "maint", 4))

    pushed = images.push_image(dev, "team/app", "v1")
    assert guest.get_manifest("team/app", "v1")[2] == pushed.digest
    assert limited.get_manifest("team/app", "v1")[2] == pushed.digest
    # Harbor answers every refused registry action with 401 UNAUTHORIZED (v2auth middleware)
    with pytest.raises(RegistryError) as guest_push:
        images.push_image(guest, "team/app", "v2")
    assert guest_push.value.status == 401 and guest_push.value.code == "UNAUTHORIZED"
    with pytest.raises(RegistryError) as dev_delete:
        dev.delete_manifest("team/app", pushed.digest)
    assert dev_delete.value.status == 401
    maintainer.delete_manifest("team/app", pushed.digest)
    assert admin.get(f"/projects/team/repositories/app/artifacts/{pushed.digest}").status_code == 404


def test_push_to_a_missing_project_is_404(h):
    with pytest.raises(RegistryError) as missing:
        images.push_image(h.url, "nosuch/app", "v1", auth=ADMIN)
    assert missing.value.status == 404


def test_robot_with_pull_only_can_pull_and_not_push(h, admin):
    admin.create_project("bots")
    images.push_image(h.url, "bots/app", "v1", auth=ADMIN)
    response = admin.post("/robots", json={"name": "puller", "level": "project", "duration": -1, "permissions": [
        {"kind": "project", "namespace": "bots", "access": [{"resource": "repository", "action": "pull"}]}]})
    assert response.status_code == 201, response.text
    robot = response.json()
    client = RegistryClient(h.url, robot["name"], robot["secret"])
    assert client.get_manifest("bots/app", "v1")[2]
    with pytest.raises(RegistryError) as denied:
        images.push_image(client, "bots/app", "v2")
    assert denied.value.status == 401


def test_token_service_grants_only_allowed_actions(h, admin):
    admin.create_project("tok")
    user_with_role(admin, "tok", "reader", 3)
    scope = "repository:tok/app:pull,push"
    token = requests.get(h.url + "/service/token", params={"service": "harbor-registry", "scope": scope},
                         auth=("reader", PASSWORD), timeout=10)
    assert token.status_code == 200
    body = token.json()
    assert body["token"] == body["access_token"] and body["expires_in"] > 0 and body["issued_at"]
    images.push_image(h.url, "tok/app", "v1", auth=ADMIN)
    bearer = {"Authorization": f"Bearer {body['token']}", "Accept": images.MANIFEST_V2}
    assert requests.get(h.url + "/v2/tok/app/manifests/v1", headers=bearer, timeout=10).status_code == 200
    upload = requests.post(h.url + "/v2/tok/app/blobs/uploads/", headers=bearer, timeout=10)
    assert upload.status_code == 401  # the token was not granted push
    forged = dict(bearer, Authorization="Bearer " + body["token"][:-2] + "xx")
    assert requests.get(h.url + "/v2/tok/app/manifests/v1", headers=forged, timeout=10).status_code == 401
    bad = requests.get(h.url + "/service/token", params={"scope": "repository:tok/app:pull"},
                       auth=("reader", "nope"), timeout=10)
    assert bad.status_code == 401


def test_basic_auth_is_accepted_directly_on_v2(h, admin):
    admin.create_project("basic")
    image = images.push_image(h.url, "basic/app", "v1", auth=ADMIN)
    response = requests.get(h.url + "/v2/basic/app/manifests/v1", auth=ADMIN, timeout=10,
                            headers={"Accept": image.media_type})
    assert response.status_code == 200 and response.headers["Docker-Content-Digest"] == image.digest
    head = requests.head(h.url + "/v2/basic/app/manifests/v1", auth=ADMIN, timeout=10,
                         headers={"Accept": image.media_type})
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(response.content)


def test_catalog_is_for_system_administrators(h, admin):
    admin.create_project("cat", public=True)
    images.push_image(h.url, "cat/app", "v1", auth=ADMIN)
    assert "cat/app" in registry_as(h, "admin").catalog()
    admin.create_user("plain", PASSWORD)
    assert requests.get(h.url + "/v2/_catalog", auth=("plain", PASSWORD), timeout=10).status_code == 401


def test_upload_location_points_at_the_emulator(h, admin):
    admin.create_project("loc")
    response = requests.post(h.url + "/v2/loc/app/blobs/uploads/", auth=ADMIN, timeout=10)
    assert response.status_code == 202
    assert response.headers["Location"].startswith(h.url + "/v2/loc/app/blobs/uploads/")


# -- read-only mode --------------------------------------------------------------------------------
def test_read_only_blocks_pushes_and_deletes_but_not_pulls(h, admin):
    admin.create_project("ro")
    image = images.push_image(h.url, "ro/app", "v1", auth=ADMIN)
    assert admin.put("/configurations", json={"read_only": True}).status_code == 200
    with pytest.raises(RegistryError) as push:
        images.push_image(h.url, "ro/app", "v2", auth=ADMIN)
    assert push.value.status == 403 and push.value.code == "DENIED"
    assert "read only" in push.value.message
    assert registry_as(h, "admin").get_manifest("ro/app", "v1")[2] == image.digest
    for path in (f"/projects/ro/repositories/app/artifacts/{image.digest}",
                 "/projects/ro/repositories/app/artifacts/v1/tags/v1", "/projects/ro/repositories/app"):
        response = admin.delete(path)
        assert response.status_code == 403, path
        assert response.json()["errors"][0] == {"code": "DENIED", "message": "The system is in read only mode. "
                                                "Any modification is prohibited."}
    assert admin.put("/configurations", json={"read_only": False}).status_code == 200
    assert admin.delete(f"/projects/ro/repositories/app/artifacts/{image.digest}").status_code == 200


# -- deleting, copying, tagging, labels ---------------------------------------------------------------
def test_delete_artifact_removes_it_from_the_registry(h, admin):
    admin.create_project("del")
    keep = images.push_image(h.url, "del/app", "keep", auth=ADMIN)
    drop = images.push_image(h.url, "del/app", "drop", auth=ADMIN)
    assert admin.delete("/projects/del/repositories/app/artifacts/drop").status_code == 200
    raw = h.emulator.registry.client()
    assert raw.head_manifest("del/app", drop.digest) is None
    assert raw.tags("del/app") == ["keep"]
    listed = admin.get("/projects/del/repositories/app/artifacts").json()
    assert [a["digest"] for a in listed] == [keep.digest]
    assert admin.delete("/projects/del/repositories/app/artifacts/drop").status_code == 404


def test_developer_cannot_delete_artifacts_maintainer_can(h, admin):
    admin.create_project("perm")
    image = images.push_image(h.url, "perm/app", "v1", auth=ADMIN)
    user_with_role(admin, "perm", "dev2", 2)
    user_with_role(admin, "perm", "maint2", 4)
    dev, maint = h.client("dev2", PASSWORD), h.client("maint2", PASSWORD)
    assert dev.delete(f"/projects/perm/repositories/app/artifacts/{image.digest}").status_code == 403
    assert dev.post("/projects/perm/repositories/app/artifacts/v1/tags", json={"name": "dev"}).status_code == 201
    assert dev.delete("/projects/perm/repositories/app/artifacts/v1/tags/dev").status_code == 403
    assert maint.delete(f"/projects/perm/repositories/app/artifacts/{image.digest}").status_code == 200


def test_copy_artifact_keeps_the_digest_and_tags(h, admin):
    admin.create_project("src")
    admin.create_project("dst")
    image = images.push_image(h.url, "src/app", "v1", auth=ADMIN)
    response = admin.post("/projects/dst/repositories/copied/artifacts", params={"from": f"src/app@{image.digest}"})
    assert response.status_code == 201, response.text
    assert response.headers["Location"].endswith(f"/artifacts/{image.digest}")
    copied = admin.get(f"/projects/dst/repositories/copied/artifacts/{image.digest}").json()
    assert copied["digest"] == image.digest and copied["size"] == image.size
    assert [t["name"] for t in copied["tags"]] == ["v1"]
    assert registry_as(h, "admin").get_manifest("dst/copied", "v1")[2] == image.digest
    by_tag = admin.post("/projects/dst/repositories/other/artifacts", params={"from": "src/app:v1"})
    assert by_tag.status_code == 201
    assert admin.post("/projects/dst/repositories/x/artifacts", params={"from": "src/app@sha256:" + "0" * 64}) \
        .status_code == 404
    assert admin.post("/projects/dst/repositories/x/artifacts", params={"from": "nonsense"}).status_code == 400


def test_index_with_two_children_is_pushed_and_copied_intact(h, admin):
    admin.create_project("multi")
    admin.create_project("mirror")
    index = images.push_index(h.url, "multi/app", "latest", auth=ADMIN)
    listed = admin.get("/projects/multi/repositories/multi%252Fapp/artifacts").status_code
    assert listed == 404  # the repository path is relative to the project
    listed = admin.get("/projects/multi/repositories/app/artifacts").json()
    assert [a["digest"] for a in listed] == [index.digest]  # children are not listed on their own
    art = listed[0]
    assert art["manifest_media_type"] == index.media_type and art["size"] == index.size
    refs = {r["child_digest"]: r for r in art["references"]}
    assert set(refs) == {c.digest for c in index.children}
    assert all(r["child_id"] and r["parent_id"] == art["id"] for r in refs.values())
    assert {r["platform"]["architecture"] for r in refs.values()} == {"amd64", "arm64"}
    child = index.children[0].digest
    assert admin.delete(f"/projects/multi/repositories/app/artifacts/{child}").status_code == 412

    response = admin.post("/projects/mirror/repositories/app/artifacts", params={"from": f"multi/app@{index.digest}"})
    assert response.status_code == 201, response.text
    raw = h.emulator.registry.client()
    assert raw.head_manifest("mirror/app", "latest") == index.digest
    for c in index.children:
        assert raw.head_manifest("mirror/app", c.digest) == c.digest
        assert all(raw.blob_exists("mirror/app", b) for b in c.blobs)
    # and through the client's own copy, to a registry path that never saw the image
    assert copy_image(raw, "multi/app", "latest", raw, "mirror/other", "v1") == index.digest
    assert admin.delete("/projects/multi/repositories/app/artifacts/latest").status_code == 200
    assert all(raw.head_manifest("multi/app", c.digest) is None for c in index.children)


def test_tags_create_conflict_and_delete(h, admin):
    admin.create_project("tags")
    image = images.push_image(h.url, "tags/app", "v1", auth=ADMIN)
    base = f"/projects/tags/repositories/app/artifacts/{image.digest}/tags"
    response = admin.post(base, json={"name": "stable"})
    assert response.status_code == 201
    assert response.headers["Location"].endswith("/tags/stable")
    assert admin.post(base, json={"name": "stable"}).status_code == 409
    assert admin.post(base, json={"name": "-bad tag"}).status_code == 400
    assert admin.post(base, json={"name": 5}).status_code == 400
    raw = h.emulator.registry.client()
    assert raw.head_manifest("tags/app", "stable") == image.digest
    assert sorted(t["name"] for t in admin.get(base).json()) == ["stable", "v1"]
    assert admin.delete(f"{base}/stable").status_code == 200
    assert admin.delete(f"{base}/stable").status_code == 404
    assert raw.head_manifest("tags/app", "stable") is None  # the registry forgot it too
    assert [t["name"] for t in admin.get(base).json()] == ["v1"]
    assert admin.delete(f"{base}/v1").status_code == 200
    untagged = admin.get("/projects/tags/repositories/app/artifacts").json()
    assert [a["digest"] for a in untagged] == [image.digest] and "tags" not in untagged[0]
    assert admin.get("/projects/tags/repositories/app/artifacts", params={"q": "tags=nil"}).json()[0]["digest"] \
        == image.digest


def test_artifact_labels(h, admin):
    admin.create_project("lbl")
    images.push_image(h.url, "lbl/app", "v1", auth=ADMIN)
    label_id = admin.create("/labels", {"name": "prod", "scope": "g", "color": "#00ff00"})
    path = "/projects/lbl/repositories/app/artifacts/v1/labels"
    assert admin.post(path, json={"id": label_id}).status_code == 200
    assert admin.post(path, json={"id": label_id}).status_code == 409
    assert admin.post(path, json={"id": 999}).status_code == 404
    assert admin.post(path, json={"id": "x"}).status_code == 400
    art = admin.get("/projects/lbl/repositories/app/artifacts/v1", params={"with_label": "true"}).json()
    assert [label["name"] for label in art["labels"]] == ["prod"]
    assert admin.delete(f"{path}/{label_id}").status_code == 200
    assert admin.delete(f"{path}/{label_id}").status_code == 404


def test_repository_update_and_delete(h, admin):
    admin.create_project("repo")
    images.push_image(h.url, "repo/app", "v1", auth=ADMIN)
    images.push_image(h.url, "repo/app", "v2", auth=ADMIN)
    assert admin.put("/projects/repo/repositories/app", json={"description": "the app"}).status_code == 200
    assert admin.get("/projects/repo/repositories/app").json()["description"] == "the app"
    assert admin.put("/projects/repo/repositories/app", json={"description": 3}).status_code == 400
    assert admin.get("/projects/repo").json()["repo_count"] == 1
    assert admin.delete("/projects/repo/repositories/app").status_code == 200
    assert admin.get("/projects/repo/repositories/app").status_code == 404
    assert admin.get("/projects/repo/repositories").json() == []
    assert admin.get("/projects/repo").json()["repo_count"] == 0
    assert admin.delete("/projects/repo").status_code == 200  # an empty project can go


def test_repository_lists_paginate_filter_and_hide_private_projects(h, admin):
    admin.create_project("many")
    admin.create_project("hidden")
    for name in ("alpha", "beta", "gamma"):
        images.push_image(h.url, f"many/{name}", "v1", size=64, auth=ADMIN)
    images.push_image(h.url, "hidden/secret", "v1", size=64, auth=ADMIN)
    page = admin.get("/projects/many/repositories", params={"page_size": 2})
    assert page.headers["X-Total-Count"] == "3" and len(page.json()) == 2 and 'rel="next"' in page.headers["Link"]
    fuzzy = admin.get("/projects/many/repositories", params={"q": "name=~al"}).json()
    assert [r["name"] for r in fuzzy] == ["many/alpha"]
    assert {r["name"] for r in admin.get("/repositories", params={"page_size": 50}).json()} >= \
        {"many/alpha", "hidden/secret"}
    admin.create_user("outsider", PASSWORD)
    outsider = h.client("outsider", PASSWORD)
    assert "hidden/secret" not in {r["name"] for r in outsider.get("/repositories").json()}
    assert outsider.get("/projects/hidden/repositories").status_code == 403
    project_artifacts = admin.get("/projects/many/artifacts", params={"page_size": 10}).json()
    assert {a["repository_name"] for a in project_artifacts} == {"many/alpha", "many/beta", "many/gamma"}


def test_quota_usage_counts_unique_blobs(h, admin):
    project_id = admin.create_project("quota")
    first = images.push_image(h.url, "quota/a", "v1", size=4096, auth=ADMIN)
    images.push_image(h.url, "quota/a", "v2", size=4096, auth=ADMIN)
    copy = admin.post("/projects/quota/repositories/b/artifacts", params={"from": f"quota/a@{first.digest}"})
    assert copy.status_code == 201
    used = admin.get("/quotas", params={"reference_id": project_id}).json()[0]["used"]["storage"]
    assert used == 2 * first.size or abs(used - 2 * first.size) < 200  # the copy shares every blob
    assert admin.get("/projects/quota").json()["repo_count"] == 2


# -- garbage collection ------------------------------------------------------------------------------
def test_gc_dry_run_reports_and_real_run_frees(h, admin):
    admin.create_project("gc")
    image = images.push_image(h.url, "gc/app", "v1", layers=2, size=8192, auth=ADMIN)
    keep = images.push_image(h.url, "gc/app", "keep", size=1024, auth=ADMIN)
    registry = h.emulator.registry
    assert registry.garbage_collect(dry_run=True)[1] == 0
    assert admin.delete(f"/projects/gc/repositories/app/artifacts/{image.digest}").status_code == 200
    log, would_free = registry.garbage_collect(dry_run=True)
    assert would_free == image.size and "eligible" in log
    log, freed = registry.garbage_collect(dry_run=False)
    assert freed >= image.size
    assert registry.garbage_collect(dry_run=True)[1] == 0
    assert registry.client().get_manifest("gc/app", "keep")[2] == keep.digest


def test_gc_delete_untagged_keeps_children_of_tagged_indexes(h, admin):
    admin.create_project("untag")
    index = images.push_index(h.url, "untag/multi", "v1", auth=ADMIN)
    loose = images.push_image(h.url, "untag/app", None, size=2048, auth=ADMIN)
    registry = h.emulator.registry
    _, would_free = registry.garbage_collect(dry_run=True, delete_untagged=True)
    assert would_free == loose.size
    registry.garbage_collect(dry_run=False, delete_untagged=True)
    raw = registry.client()
    assert raw.head_manifest("untag/app", loose.digest) is None
    assert all(raw.head_manifest("untag/multi", c.digest) == c.digest for c in index.children)
    assert admin.get("/projects/untag/repositories/app/artifacts").json() == []


# -- robustness -----------------------------------------------------------------------------------------
def test_malformed_input_is_never_a_500(h, admin):
    admin.create_project("bad")
    images.push_image(h.url, "bad/app", "v1", auth=ADMIN)
    checks = [
        requests.get(h.url + "/v2/BAD/app/manifests/v1", auth=ADMIN, timeout=10),
        requests.get(h.url + "/v2/single/manifests/v1", auth=ADMIN, timeout=10),
        requests.get(h.url + "/v2/bad/app/nonsense", auth=ADMIN, timeout=10),
        requests.put(h.url + "/v2/bad/app/manifests/v9", auth=ADMIN, data=b"{not json", timeout=10,
                     headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"}),
        requests.get(h.url + "/v2/bad/app/manifests/sha256:zz", auth=ADMIN, timeout=10),
        requests.get(h.url + "/v2/", headers={"Authorization": "Bearer garbage"}, timeout=10),
        requests.get(h.url + "/service/token", params={"scope": "nonsense"}, timeout=10),
        requests.post(h.url + "/lab/registry-events", data=b"\x00garbage", timeout=10),
        admin.get("/projects/bad/repositories/app/artifacts/nope"),
        admin.get("/projects/nosuch/repositories/app/artifacts"),
        admin.get("/projects/bad/repositories/app/artifacts", params={"q": "unknown=1"}),
        admin.get("/projects/bad/repositories/app/artifacts", params={"with_tag": "maybe"}),
        admin.post("/projects/bad/repositories/app/artifacts/v1/tags", data=b"[]",
                   headers={"Content-Type": "application/json"}),
        admin.post("/projects/bad/repositories/app/artifacts/v1/labels", json={"id": -1}),
        admin.delete("/projects/bad/repositories/app/artifacts/v1/labels/abc"),
        admin.post("/projects/bad/repositories/app/artifacts", params={"from": "bad/app@"}),
    ]
    statuses = [r.status_code for r in checks]
    assert all(400 <= s < 500 or s == 200 for s in statuses), statuses
    assert statuses[0] == 400 and statuses[1] == 400 and statuses[6] == 400


def test_large_blobs_stream_through_the_proxy_both_ways(h, admin):
    admin.create_project("big")
    image = images.push_image(h.url, "big/app", "v1", size=6 * 1024 * 1024, auth=ADMIN)
    client = registry_as(h, "admin")
    layer = image.blobs[1]
    stream = client.blob_stream("big/app", layer)
    try:
        digest = hashlib.sha256()
        for chunk in stream.iter_content(1 << 16):
            digest.update(chunk)
    finally:
        stream.close()
    assert "sha256:" + digest.hexdigest() == layer
    # a copy from the raw registry into the emulator uploads with chunked bodies through the proxy
    raw = h.emulator.registry.client()
    assert copy_image(raw, "big/app", "v1", client, "big/copy", "v1") == image.digest
    assert admin.get("/projects/big/repositories/copy/artifacts/v1").json()["size"] == image.size


def test_immutable_tags_are_protected_when_the_rules_say_so(h, admin, monkeypatch):
    from harbor_emulator.resources import immutable

    monkeypatch.setattr(immutable, "is_immutable", lambda tx, project, repo, tag: tag == "locked", raising=False)
    admin.create_project("imm")
    image = images.push_image(h.url, "imm/app", "locked", auth=ADMIN)
    with pytest.raises(RegistryError) as overwrite:
        images.push_image(h.url, "imm/app", "locked", auth=ADMIN)
    assert overwrite.value.status == 412
    assert admin.delete(f"/projects/imm/repositories/app/artifacts/{image.digest}").status_code == 412
    assert admin.delete("/projects/imm/repositories/app/artifacts/locked/tags/locked").status_code == 412
    tags = admin.get("/projects/imm/repositories/app/artifacts/locked/tags",
                     params={"with_immutable_status": "true"}).json()
    assert tags[0]["immutable"] is True


@pytest.fixture
def external(h, tmp_path):
    """A second emulator (own database) in front of the first one's registry, as with --registry-url."""
    from harbor_emulator.server import Server, build

    emulator = build(data_dir=str(tmp_path / "external"), registry_url=h.emulator.registry.url,
                     start_registry=False, listen=("127.0.0.1", 0))
    server = Server(emulator, "127.0.0.1", 0)
    emulator.settings.external_url = server.url
    server.start_background()
    yield server
    server.stop()


def test_external_registry_mode_works_over_http_only(h, external):
    from ..conftest import Client

    events = []
    external.emulator.listeners.append(events.append)
    admin = Client(external.url, auth=ADMIN)
    admin.create_project("ext")
    image = images.push_image(external.url, "ext/app", "v1", auth=ADMIN)
    assert [(e["action"], e["tag"]) for e in events] == [("push", "v1")]  # published by the proxy itself
    assert admin.post("/projects/ext/repositories/app/artifacts/v1/tags", json={"name": "v2"}).status_code == 201
    art = admin.get("/projects/ext/repositories/app/artifacts/v1").json()
    assert art["digest"] == image.digest and sorted(t["name"] for t in art["tags"]) == ["v1", "v2"]
    assert admin.delete("/projects/ext/repositories/app/artifacts/v1/tags/v2").status_code == 200
    art = admin.get("/projects/ext/repositories/app/artifacts/v1").json()
    assert [t["name"] for t in art["tags"]] == ["v1"]  # remembered as deleted, though the registry keeps it
    assert admin.get("/projects/ext").json()["repo_count"] == 1
    assert admin.delete("/projects/ext/repositories/app").status_code == 200
    assert admin.get("/projects/ext/repositories").json() == []
    assert h.emulator.registry.client().head_manifest("ext/app", image.digest) is None
