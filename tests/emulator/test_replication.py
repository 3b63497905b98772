"""Replication: policy rules (each validation path, the deletion/replicate_deletion trap),
executions, tasks and logs through the API; then real copies between two emulators, each
with its own Distribution registry (push, pull, event-based, deletions, two-way without
ping-pong, a peer going down, stop, scheduled triggers)."""

import datetime
import threading
import time

import pytest
from croniter import croniter

from harbor_emulator import jobs, replicator
from harbor_emulator.registry_client import RegistryClient
from harbor_emulator.server import Server, build

from ..conftest import ADMIN, start_harbor
from ..images import push_image
from ..pg import pg_cluster, pg_url  # noqa: F401  (fixtures)

FINAL = ("Succeed", "Failed", "Stopped")


# -- helpers ----------------------------------------------------------------------------------
def wait_for(check, timeout=15.0, what="condition"):
    """Poll `check()` until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def wait_final(client, execution_id, timeout=20.0):
    def final():
        execution = client.get(f"/replication/executions/{execution_id}").json()
        return execution if execution["status"] in FINAL else None
    return wait_for(final, timeout, f"execution {execution_id} to finish")


def run(client, policy_id, timeout=20.0):
    return wait_final(client, client.create("/replication/executions", {"policy_id": policy_id}), timeout)


def logs(client, execution_id):
    tasks = client.get(f"/replication/executions/{execution_id}/tasks", params={"page_size": 100}).json()
    return "".join(client.get(f"/replication/executions/{execution_id}/tasks/{t['id']}/log").text for t in tasks)


def message(response):
    return response.json()["errors"][0]["message"]


def endpoint(target, name="peer", registry_type="harbor", url=None, auth=ADMIN):
    body = {"name": name, "type": registry_type, "url": url or target.url}
    if auth:
        body["credential"] = {"type": "basic", "access_key": auth[0], "access_secret": auth[1]}
    return body


def registry_client(harbor):
    """A /v2 client of an emulator (through its Harbor front, as admin)."""
    return RegistryClient(harbor.url, *ADMIN)


def executions(client, policy_id, **params):
    return client.get("/replication/executions", params={"policy_id": policy_id, "page_size": 100, **params}).json()


@pytest.fixture
def self_endpoint(harbor, admin):
    """This emulator registered on itself as a Harbor endpoint (enough for the API rules)."""
    return admin.create("/registries", endpoint(harbor))


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    """One emulator (with itself as an endpoint) shared by the many small rule checks."""
    harbor = start_harbor(tmp_path_factory.mktemp("rules"))
    admin = harbor.client()
    yield admin, admin.create("/registries", endpoint(harbor))
    harbor.server.stop()


def policy_body(registry_id, name="p", **extra):
    body = {"name": name, "dest_registry": {"id": registry_id}, "enabled": True,
            "trigger": {"type": "manual"}, "filters": [{"type": "name", "value": "proj/**"}]}
    body.update(extra)
    return body


# =====================================================================================
# policy rules
# =====================================================================================
def test_policy_shape_and_defaults(admin, self_endpoint):
    policy_id = admin.create("/replication/policies", {"name": "minimal", "dest_registry": {"id": self_endpoint}})
    policy = admin.get(f"/replication/policies/{policy_id}").json()
    assert policy["src_registry"]["id"] == 0 and policy["src_registry"]["name"] == "Local"
    assert policy["dest_registry"]["id"] == self_endpoint
    assert policy["dest_registry"]["credential"]["access_secret"] == "*****"
    assert policy["dest_namespace_replace_count"] == -1
    assert policy["enabled"] is False  # Harbor's zero value when the field is left out
    assert policy["trigger"]["type"] == "manual"
    assert policy["deletion"] is False and policy["replicate_deletion"] is False
    assert ADMIN[1] not in admin.get("/replication/policies").text


@pytest.mark.parametrize("sent, expected", [
    ({"replicate_deletion": True, "deletion": False}, False),
    ({"replicate_deletion": True}, False),
    ({"deletion": True}, True),
    ({"deletion": True, "replicate_deletion": False}, True),
])
def test_deletion_trap_create_and_update_read_only_deletion(rules, sent, expected):
    admin, self_endpoint = rules
    policy_id = admin.create("/replication/policies", policy_body(self_endpoint, name="trap", **sent))
    policy = admin.get(f"/replication/policies/{policy_id}").json()
    assert policy["deletion"] is expected and policy["replicate_deletion"] is expected
    flipped = {k: not v for k, v in sent.items()}
    assert admin.put(f"/replication/policies/{policy_id}",
                     json=policy_body(self_endpoint, name="trap", **flipped)).status_code == 200
    policy = admin.get(f"/replication/policies/{policy_id}").json()
    assert policy["deletion"] is flipped.get("deletion", False)
    assert policy["replicate_deletion"] is policy["deletion"]
    assert admin.delete(f"/replication/policies/{policy_id}").status_code == 200


@pytest.mark.parametrize("change, fragment", [
    ({"name": ""}, "empty name"),
    ({"src_registry": {"id": 1}}, "either src_registry or dest_registry"),
    ({"dest_registry": None}, "either src_registry or dest_registry"),
    ({"dest_registry": {"id": 0}}, "either src_registry or dest_registry"),
    ({"dest_registry": {"id": 99}}, "registry 99 not found"),
    ({"filters": [{"type": "color", "value": "x"}]}, "invalid filter type"),
    ({"filters": [{"type": "name", "value": "a/**", "decoration": "matches"}]}, "only tag and label"),
    ({"filters": [{"type": "resource", "value": "image", "decoration": "excludes"}]}, "only tag and label"),
    ({"filters": [{"type": "resource", "value": "chart"}]}, "invalid resource filter"),
    ({"filters": [{"type": "tag", "value": ["v1"]}]}, "isn't string"),
    ({"filters": [{"type": "label", "value": "prod"}]}, "string slice"),
    ({"filters": [{"type": "tag", "value": "v*", "decoration": "sometimes"}]}, "invalid filter decoration"),
    ({"trigger": {"type": "hourly"}}, "invalid trigger type"),
    ({"trigger": {"type": "scheduled"}}, "cron string cannot be empty"),
    ({"trigger": {"type": "scheduled", "trigger_settings": {"cron": "0 * * * *"}}}, "6 fields"),
    ({"trigger": {"type": "scheduled", "trigger_settings": {"cron": "5 0 * * * *"}}}, "must be 0"),
    ({"trigger": {"type": "scheduled", "trigger_settings": {"cron": "* 0 * * * *"}}}, "must be 0"),
    ({"trigger": {"type": "scheduled", "trigger_settings": {"cron": "0 * * * * *"}}}, "Minutes"),
    ({"trigger": {"type": "scheduled", "trigger_settings": {"cron": "0 0 25 * * *"}}}, "invalid cron"),
    ({"trigger": {"type": "event_based"}, "single_active_replication": True}, "single active replication"),
    ({"dest_namespace": "Bad_NS"}, "invalid destination namespace"),
    ({"dest_namespace_replace_count": 4}, "dest_namespace_replace_count"),
    ({"dest_namespace_replace_count": -2}, "dest_namespace_replace_count"),
    ({"enabled": "yes"}, "enabled"),
    ({"override": 1}, "override"),
])
def test_policy_validation(rules, change, fragment):
    admin, self_endpoint = rules
    body = policy_body(self_endpoint, **change)
    body = {k: v for k, v in body.items() if v is not None}
    response = admin.post("/replication/policies", json=body)
    assert response.status_code == 400, response.text
    assert fragment in message(response)
    assert admin.get("/replication/policies").json() == []


def test_valid_filters_triggers_and_namespaces_round_trip(admin, self_endpoint):
    filters = [{"type": "name", "value": "proj/**"}, {"type": "tag", "value": "v*", "decoration": "excludes"},
               {"type": "label", "value": ["prod"], "decoration": "matches"}, {"type": "resource", "value": "image"}]
    body = policy_body(self_endpoint, filters=filters, dest_namespace="mirror/team",
                       dest_namespace_replace_count=1, override=True, speed=-5, copy_by_chunk=True,
                       single_active_replication=True,
                       trigger={"type": "scheduled", "trigger_settings": {"cron": "0 30 2 * * *"}})
    policy = admin.get(f"/replication/policies/{admin.create('/replication/policies', body)}").json()
    assert policy["filters"] == filters
    assert policy["trigger"] == {"type": "scheduled", "trigger_settings": {"cron": "0 30 2 * * *"}}
    assert (policy["dest_namespace"], policy["dest_namespace_replace_count"]) == ("mirror/team", 1)
    assert policy["speed"] == 0  # negative speeds become 0, as in Harbor
    assert policy["override"] and policy["copy_by_chunk"] and policy["single_active_replication"]


def test_names_are_unique_and_put_replaces_the_whole_policy(admin, self_endpoint):
    first = admin.create("/replication/policies", policy_body(self_endpoint, name="one", description="d",
                                                             override=True))
    admin.create("/replication/policies", policy_body(self_endpoint, name="two"))
    assert admin.post("/replication/policies", json=policy_body(self_endpoint, name="one")).status_code == 409
    assert admin.put(f"/replication/policies/{first}", json=policy_body(self_endpoint, name="two")).status_code == 409
    assert admin.put(f"/replication/policies/{first}",
                     json={"name": "one", "dest_registry": {"id": self_endpoint}}).status_code == 200
    policy = admin.get(f"/replication/policies/{first}").json()
    assert policy["description"] == "" and policy["override"] is False and policy["enabled"] is False
    assert policy["filters"] == []
    listed = admin.get("/replication/policies", params={"q": "name=~on"})
    assert [p["name"] for p in listed.json()] == ["one"]
    assert admin.get("/replication/policies", params={"name": "tw"}).json()[0]["name"] == "two"
    assert admin.put("/replication/policies/99", json=policy_body(self_endpoint, name="x")).status_code == 404


def test_delete_policy_and_412_while_an_execution_runs(harbor, admin, self_endpoint):
    policy_id = admin.create("/replication/policies", policy_body(self_endpoint))
    with harbor.emulator.store.tx() as tx:  # an execution some worker is running right now
        tx.insert("replication_execution", 900, {"id": 900, "policy_id": policy_id, "status": "InProgress",
                                                 "status_text": "", "trigger": "manual", "start_time": "",
                                                 "end_time": "", "stop_requested": False, "resource": None},
                  parent=policy_id)
    response = admin.delete(f"/replication/policies/{policy_id}")
    assert response.status_code == 412 and "stop it first" in message(response)
    assert admin.put("/replication/executions/900").status_code == 200  # stop: no task runs, so Stopped now
    assert admin.get("/replication/executions/900").json()["status"] == "Stopped"
    assert admin.delete(f"/replication/policies/{policy_id}").status_code == 200
    assert admin.get(f"/replication/policies/{policy_id}").status_code == 404
    assert admin.get("/replication/executions/900").status_code == 404
    assert admin.delete(f"/replication/policies/{policy_id}").status_code == 404


def test_system_admins_only(harbor, admin, self_endpoint):
    policy_id = admin.create("/replication/policies", policy_body(self_endpoint))
    admin.create_user("dev", password="Passw0rd!")
    dev = harbor.client("dev", "Passw0rd!")
    assert dev.get("/replication/policies").status_code == 403
    assert dev.post("/replication/policies", json=policy_body(self_endpoint, name="x")).status_code == 403
    assert dev.post("/replication/executions", json={"policy_id": policy_id}).status_code == 403
    assert dev.get("/replication/executions").status_code == 403
    assert harbor.anonymous().get("/replication/policies").status_code == 401


# =====================================================================================
# executions through the API (no registry attached: runs fail, clearly)
# =====================================================================================
def test_executions_api(admin, self_endpoint):
    disabled = admin.create("/replication/policies", policy_body(self_endpoint, name="off", enabled=False))
    response = admin.post("/replication/executions", json={"policy_id": disabled})
    assert response.status_code == 412 and "disabled" in message(response)
    assert admin.post("/replication/executions", json={"policy_id": 99}).status_code == 404
    assert admin.post("/replication/executions", json={}).status_code == 400
    policy_id = admin.create("/replication/policies", policy_body(self_endpoint))
    response = admin.post("/replication/executions", json={"policy_id": policy_id})
    assert response.status_code == 201 and response.content == b""
    assert response.headers["Location"].startswith("/api/v2.0/replication/executions/")
    execution = wait_final(admin, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert execution["status"] == "Failed" and execution["trigger"] == "manual"
    assert "no registry is attached" in execution["status_text"]
    assert execution["total"] == 0 and execution["end_time"] >= execution["start_time"]
    second = run(admin, policy_id)
    assert [e["id"] for e in executions(admin, policy_id)] == [second["id"], execution["id"]]  # newest first
    assert [e["id"] for e in executions(admin, policy_id, sort="id")] == [execution["id"], second["id"]]
    assert executions(admin, policy_id, status="Succeed") == []
    assert len(executions(admin, policy_id, status="Failed", trigger="manual")) == 2
    assert executions(admin, policy_id, trigger="scheduled") == []
    page = admin.get("/replication/executions", params={"page_size": 1, "page": 2})
    assert page.headers["X-Total-Count"] == "2" and len(page.json()) == 1
    assert admin.put(f"/replication/executions/{execution['id']}").status_code == 200  # final: nothing to stop
    assert admin.get(f"/replication/executions/{execution['id']}").json()["status"] == "Failed"
    assert admin.get(f"/replication/executions/{execution['id']}/tasks").json() == []
    assert admin.get(f"/replication/executions/{execution['id']}/tasks/5/log").status_code == 404
    assert admin.get("/replication/executions/999").status_code == 404
    assert admin.put("/replication/executions/999").status_code == 404


def test_schedule_fires_once_per_slot(harbor, admin, self_endpoint):
    cron = "0 15 * * * *"
    policy_id = admin.create("/replication/policies", policy_body(
        self_endpoint, trigger={"type": "scheduled", "trigger_settings": {"cron": cron}}))
    admin.create("/replication/policies", policy_body(
        self_endpoint, name="off", enabled=False, trigger={"type": "scheduled", "trigger_settings": {"cron": cron}}))
    slot = croniter(cron, datetime.datetime.now(datetime.timezone.utc),
                    second_at_beginning=True).get_next(datetime.datetime)
    fired = jobs.tick(harbor.emulator, slot)
    assert [(name, key) for name, key, _ in fired] == [("replication", str(policy_id))]
    assert jobs.tick(harbor.emulator, slot) == []  # the slot is claimed in the database
    response = admin.post(harbor.url + "/lab/schedules/tick", params={"at": slot.isoformat()})
    assert response.status_code == 200 and response.json() == {"fired": []}
    later = slot + datetime.timedelta(hours=1)
    assert admin.post(harbor.url + "/lab/schedules/tick", params={"at": later.isoformat()}).json()["fired"]
    assert jobs.tick(harbor.emulator, slot + datetime.timedelta(minutes=1)) == []  # not a slot of this cron
    found = executions(admin, policy_id, trigger="scheduled")
    assert len(found) == 2
    assert harbor.client("admin", "nope").post(harbor.url + "/lab/schedules/tick").status_code == 401


# =====================================================================================
# pure rules of the engine
# =====================================================================================
@pytest.mark.parametrize("pattern, value, expected", [
    ("proj/**", "proj/a/b", True), ("proj/*", "proj/a/b", False), ("proj/*", "proj/a", True),
    ("**", "", True), ("v?", "v1", True), ("v?", "v10", False), ("{v1,v2}*", "v2.1", True),
    ("{v1,v2}*", "v3", False), ("proj/{app,web}", "proj/web", True), ("[ab]x", "bx", True),
    ("proj/app", "proj/app", True), ("proj/app", "proj/apps", False),
])
def test_doublestar_patterns(pattern, value, expected):
    assert replicator.glob_match(pattern, value) is expected


@pytest.mark.parametrize("count, expected", [(-1, "n/image"), (0, "n/a/b/c/image"), (1, "n/b/c/image"),
                                             (2, "n/c/image"), (3, "n/image")])
def test_destination_namespace_replacement(count, expected):
    assert replicator.destination_repository("a/b/c/image", "n", count) == expected
    assert replicator.destination_repository("a/b/c/image", "", count) == "a/b/c/image"


def test_destination_namespace_replacement_too_deep():
    with pytest.raises(replicator.ReplicationFailure):
        replicator.destination_repository("a/image", "n", 2)


# =====================================================================================
# real copies between two emulators
# =====================================================================================
@pytest.fixture
def peer(harbor_registry, tmp_path):
    """A second emulator with its own Distribution (B); `harbor_registry` is A."""
    b = start_harbor(tmp_path / "b", registry=True)
    yield b
    b.server.stop()


def test_manual_push_copies_same_digest_skips_and_overrides(harbor_registry, peer):
    a, b = harbor_registry.client(), peer.client()
    a.create_project("proj")
    v1 = push_image(harbor_registry.url, "proj/app", "v1", auth=ADMIN)
    v2 = push_image(harbor_registry.url, "proj/app", "v2", auth=ADMIN)
    push_image(harbor_registry.url, "proj/app", "dev", auth=ADMIN)
    push_image(harbor_registry.url, "proj/other", "v1", auth=ADMIN)
    registry_id = a.create("/registries", endpoint(peer))
    policy_id = a.create("/replication/policies", policy_body(
        registry_id, filters=[{"type": "name", "value": "proj/app"}, {"type": "tag", "value": "v*"}],
        dest_namespace="mirror"))
    execution = run(a, policy_id)
    assert (execution["status"], execution["total"], execution["succeed"]) == ("Succeed", 2, 2), execution
    remote = registry_client(peer)
    assert remote.head_manifest("mirror/app", "v1") == v1.digest
    assert remote.head_manifest("mirror/app", "v2") == v2.digest
    assert remote.head_manifest("mirror/app", "dev") is None
    assert b.get("/projects/mirror").status_code == 200  # Harbor creates the destination project
    text = logs(a, execution["id"])
    assert f"copied proj/app:v1 to mirror/app:v1: digest {v1.digest}, {v1.size} bytes" in text
    assert ADMIN[1] not in text
    tasks = a.get(f"/replication/executions/{execution['id']}/tasks").json()
    assert {t["operation"] for t in tasks} == {"copy"} and tasks[0]["dst_resource"].startswith("mirror/app")

    again = run(a, policy_id)
    assert again["status"] == "Succeed" and "already exists on the destination" in logs(a, again["id"])

    other = push_image(remote, "mirror/app", "v1")  # the destination's v1 now differs
    run(a, policy_id)
    assert remote.head_manifest("mirror/app", "v1") == other.digest  # override false: left alone
    body = policy_body(registry_id, filters=[{"type": "name", "value": "proj/app"}, {"type": "tag", "value": "v*"}],
                       dest_namespace="mirror", override=True)
    assert a.put(f"/replication/policies/{policy_id}", json=body).status_code == 200
    assert run(a, policy_id)["status"] == "Succeed"
    assert remote.head_manifest("mirror/app", "v1") == v1.digest


def test_event_based_push_replicates_pushes_and_deletions(harbor_registry, peer):
    a = harbor_registry.client()
    a.create_project("proj")
    registry_id = a.create("/registries", endpoint(peer))
    event_policy = a.create("/replication/policies", policy_body(
        registry_id, name="events", trigger={"type": "event_based"}, deletion=True,
        filters=[{"type": "name", "value": "proj/app"}]))
    manual_policy = a.create("/replication/policies", policy_body(
        registry_id, name="manual", deletion=True, filters=[{"type": "name", "value": "proj/keep"}]))
    remote = registry_client(peer)

    image = push_image(harbor_registry.url, "proj/app", "v1", auth=ADMIN)
    wait_for(lambda: remote.head_manifest("proj/app", "v1") == image.digest, what="the event-based copy")
    assert executions(a, event_policy, trigger="event_based")

    response = a.delete("/projects/proj/repositories/app/artifacts/v1")
    assert response.status_code == 200
    wait_for(lambda: remote.head_manifest("proj/app", image.digest) is None, what="the replicated deletion")
    deletions = [t for e in executions(a, event_policy)
                 for t in a.get(f"/replication/executions/{e['id']}/tasks").json() if t["operation"] == "deletion"]
    assert deletions and deletions[0]["status"] == "Succeed"

    kept = push_image(harbor_registry.url, "proj/keep", "v1", auth=ADMIN)
    assert run(a, manual_policy)["status"] == "Succeed"
    assert a.delete("/projects/proj/repositories/keep/artifacts/v1").status_code == 200
    assert run(a, manual_policy)["status"] == "Succeed"
    assert remote.head_manifest("proj/keep", "v1") == kept.digest  # manual runs never delete


def two_way(harbor_registry, peer):
    """Project proj on both emulators and an event-based policy with deletions each way:
    (client a, client b, policy id on a, policy id on b)."""
    a, b = harbor_registry.client(), peer.client()
    for client in (a, b):
        client.create_project("proj")
    on_a = a.create("/replication/policies", policy_body(a.create("/registries", endpoint(peer)), name="a-to-b",
                                                         trigger={"type": "event_based"}, deletion=True))
    on_b = b.create("/replication/policies", policy_body(b.create("/registries", endpoint(harbor_registry)),
                                                         name="b-to-a", trigger={"type": "event_based"},
                                                         deletion=True))
    return a, b, on_a, on_b


def test_two_way_event_replication_has_no_ping_pong(harbor_registry, peer):
    a, b, on_a, on_b = two_way(harbor_registry, peer)
    from_a = push_image(harbor_registry.url, "proj/app", "v1", auth=ADMIN)
    from_b = push_image(peer.url, "proj/app", "v2", auth=ADMIN)
    remote_a, remote_b = registry_client(harbor_registry), registry_client(peer)
    wait_for(lambda: remote_b.head_manifest("proj/app", "v1") == from_a.digest, what="A -> B")
    wait_for(lambda: remote_a.head_manifest("proj/app", "v2") == from_b.digest, what="B -> A")

    def settled():
        runs = executions(a, on_a) + executions(b, on_b)
        return runs if runs and all(e["status"] in FINAL for e in runs) else None
    wait_for(settled, what="all executions to finish")
    time.sleep(1.0)  # a ping-pong would keep creating executions: give it the chance to show
    runs_a, runs_b = executions(a, on_a), executions(b, on_b)
    assert 1 <= len(runs_a) <= 2 and 1 <= len(runs_b) <= 2, (runs_a, runs_b)
    assert all(e["status"] == "Succeed" for e in runs_a + runs_b)
    echoes = "".join(logs(b, e["id"]) for e in runs_b) + "".join(logs(a, e["id"]) for e in runs_a)
    assert "already exists on the destination" in echoes


def test_a_deleted_tag_is_deleted_at_the_destination_and_the_echo_stops(harbor_registry, peer):
    """Harbor's DeleteTagEvent: the event-based policy deletes that tag only (the artifact and its other
    tags stay); the destination's own echo finds nothing to delete and ends there."""
    a, b, on_a, on_b = two_way(harbor_registry, peer)
    image = push_image(harbor_registry.url, "proj/app", "v1", auth=ADMIN)
    remote_a, remote_b = registry_client(harbor_registry), registry_client(peer)
    wait_for(lambda: remote_b.head_manifest("proj/app", "v1") == image.digest, what="A -> B")
    assert a.post(f"/projects/proj/repositories/app/artifacts/{image.digest}/tags",
                  json={"name": "keep"}).status_code == 201
    assert b.post(f"/projects/proj/repositories/app/artifacts/{image.digest}/tags",
                  json={"name": "keep"}).status_code == 201

    assert a.delete(f"/projects/proj/repositories/app/artifacts/{image.digest}/tags/v1").status_code == 200
    wait_for(lambda: remote_b.head_manifest("proj/app", "v1") is None, what="the replicated tag deletion")
    assert remote_b.head_manifest("proj/app", "keep") == image.digest  # the artifact and its other tag stay
    assert remote_a.head_manifest("proj/app", "keep") == image.digest

    # each side: its push (or the echo of the other's), the tag `keep` it created, the deletion (or its echo)
    def settled():
        runs_a, runs_b = executions(a, on_a), executions(b, on_b)
        done = len(runs_a) == 3 and len(runs_b) == 3 and all(e["status"] in FINAL for e in runs_a + runs_b)
        return (runs_a, runs_b) if done else None
    wait_for(settled, what="three executions on each side, finished")
    time.sleep(1.0)  # an echo of the echo would show up now
    runs_a, runs_b = executions(a, on_a), executions(b, on_b)
    assert len(runs_a) == 3 and len(runs_b) == 3, (runs_a, runs_b)
    assert all(e["status"] == "Succeed" for e in runs_a + runs_b), (runs_a, runs_b)
    tasks_b = [t for e in runs_b for t in b.get(f"/replication/executions/{e['id']}/tasks").json()]
    assert [t["operation"] for t in tasks_b].count("deletion") == 1  # B's echo of the deletion, once
    assert "does not exist on the destination registry, nothing to delete" in "".join(
        logs(b, e["id"]) for e in runs_b)


def restart(harbor, data_dir, port):
    """Bring an emulator back on the same port with the same state."""
    emulator = build(data_dir=str(data_dir), start_registry=True, listen=("127.0.0.1", port))
    server = Server(emulator, "127.0.0.1", port)
    emulator.settings.external_url = server.url
    server.start_background()
    harbor.server, harbor.emulator = server, emulator
    return harbor


def test_peer_down_retries_then_fails_and_a_rerun_succeeds(harbor_registry, peer, tmp_path):
    a = harbor_registry.client()
    a.create_project("proj")
    image = push_image(harbor_registry.url, "proj/app", "v1", auth=ADMIN)
    policy_id = a.create("/replication/policies", policy_body(a.create("/registries", endpoint(peer))))
    peer.server.stop()
    failed = run(a, policy_id)
    assert failed["status"] == "Failed" and failed["failed"] == 1, failed
    text = logs(a, failed["id"])
    assert f"(attempt 1/{replicator.RETRIES})" in text and "retrying in" in text
    assert f"failed after {replicator.RETRIES} attempt(s)" in text and "[ERROR]" in text
    restart(peer, tmp_path / "b", int(peer.url.rsplit(":", 1)[1]))
    assert run(a, policy_id)["status"] == "Succeed"
    assert registry_client(peer).head_manifest("proj/app", "v1") == image.digest


def test_pull_from_a_docker_registry_endpoint(harbor_registry, peer):
    a, b = harbor_registry.client(), peer.client()
    b.create_project("lib")
    tool = push_image(peer.url, "lib/tool", "1.0", auth=ADMIN)
    push_image(peer.url, "lib/tool", "latest", auth=ADMIN)
    raw_url = peer.emulator.registry.url  # B's Distribution itself, no Harbor in front
    registry_id = a.create("/registries", endpoint(peer, name="distribution", registry_type="docker-registry",
                                                    url=raw_url, auth=None))
    policy_id = a.create("/replication/policies", {
        "name": "pull", "src_registry": {"id": registry_id}, "enabled": True, "dest_namespace": "pulled",
        "dest_namespace_replace_count": 1,
        "filters": [{"type": "name", "value": "lib/**"}, {"type": "tag", "value": "latest", "decoration": "excludes"}]})
    policy = a.get(f"/replication/policies/{policy_id}").json()
    assert policy["dest_registry"]["name"] == "Local" and policy["src_registry"]["type"] == "docker-registry"
    execution = run(a, policy_id)
    assert execution["status"] == "Succeed" and execution["total"] == 1, execution
    assert registry_client(harbor_registry).head_manifest("pulled/tool", "1.0") == tool.digest
    assert registry_client(harbor_registry).head_manifest("pulled/tool", "latest") is None
    artifacts = wait_for(lambda: a.get("/projects/pulled/repositories/tool/artifacts").json(),
                         what="the pulled artifact in A's API")
    assert artifacts[0]["digest"] == tool.digest

    # the same from B as a Harbor endpoint (listing through its API, copying through its /v2 front)
    harbor_id = a.create("/registries", endpoint(peer, name="harbor-b"))
    from_harbor = a.create("/replication/policies", {
        "name": "pull-harbor", "src_registry": {"id": harbor_id}, "enabled": True, "dest_namespace": "fromb",
        "filters": [{"type": "name", "value": "lib/*"}, {"type": "tag", "value": "{1.0,2.0}"}]})
    assert run(a, from_harbor)["status"] == "Succeed"
    assert registry_client(harbor_registry).head_manifest("fromb/tool", "1.0") == tool.digest

    # maintenance mode: the local Harbor takes no pushes, replicated ones included
    assert a.put("/configurations", json={"read_only": True}).status_code == 200
    push_image(registry_client(peer), "lib/tool", "2.0")
    blocked = run(a, from_harbor)
    assert blocked["status"] == "Failed" and "read only mode" in logs(a, blocked["id"])
    assert a.put("/configurations", json={"read_only": False}).status_code == 200


def test_stop_a_running_execution(harbor_registry):
    """Copy A into itself at 1 KB/s: each artifact takes seconds, long enough to stop."""
    a = harbor_registry.client()
    a.create_project("proj")
    for tag in ("v1", "v2", "v3"):
        push_image(harbor_registry.url, "proj/app", tag, size=3000, auth=ADMIN)
    registry_id = a.create("/registries", endpoint(harbor_registry, name="self"))
    policy_id = a.create("/replication/policies", policy_body(registry_id, dest_namespace="copy", speed=1))
    execution_id = a.create("/replication/executions", {"policy_id": policy_id})
    wait_for(lambda: a.get(f"/replication/executions/{execution_id}/tasks",
                           params={"status": "InProgress"}).json(), what="a running task")
    assert a.put(f"/replication/executions/{execution_id}").status_code == 200
    execution = wait_final(a, execution_id, timeout=5)
    assert execution["status"] == "Stopped" and execution["total"] == 3
    assert execution["stopped"] >= 2 and execution["in_progress"] == 0, execution
    assert "stopped" in logs(a, execution_id)


def test_label_and_resource_filters(harbor_registry):
    """Copy A into itself: `matches` takes only labelled artifacts, `excludes` only the others."""
    a = harbor_registry.client()
    a.create_project("proj")
    labelled = push_image(harbor_registry.url, "proj/app", "v1", auth=ADMIN)
    plain = push_image(harbor_registry.url, "proj/app", "v2", auth=ADMIN)
    label_id = a.create("/labels", {"name": "prod", "scope": "g"})
    assert a.post("/projects/proj/repositories/app/artifacts/v1/labels", json={"id": label_id}).status_code == 200
    registry_id = a.create("/registries", endpoint(harbor_registry, name="self"))
    matches = a.create("/replication/policies", policy_body(registry_id, name="prod-only", dest_namespace="prod",
                                                            filters=[{"type": "name", "value": "proj/**"},
                                                                     {"type": "label", "value": ["prod"]},
                                                                     {"type": "resource", "value": "image"}]))
    excludes = a.create("/replication/policies", policy_body(
        registry_id, name="not-prod", dest_namespace="rest",
        filters=[{"type": "name", "value": "proj/**"},
                 {"type": "label", "value": ["prod"], "decoration": "excludes"}]))
    assert run(a, matches)["total"] == 1 and run(a, excludes)["total"] == 1
    local = registry_client(harbor_registry)
    assert local.head_manifest("prod/app", "v1") == labelled.digest
    assert local.head_manifest("prod/app", "v2") is None
    assert local.head_manifest("rest/app", "v2") == plain.digest
    assert local.head_manifest("rest/app", "v1") is None


def test_work_of_a_dead_runner_is_resumed(harbor_registry):
    """A job left Running by a runner that no longer beats (its process died) is claimed
    again and the execution resumes: the interrupted task runs again."""
    from harbor_emulator.resources import replication as api

    a = harbor_registry.client()
    a.create_project("proj")
    image = push_image(harbor_registry.url, "proj/app", "v1", auth=ADMIN)
    registry_id = a.create("/registries", endpoint(harbor_registry, name="self"))
    policy_id = a.create("/replication/policies", policy_body(registry_id, dest_namespace="resumed"))
    store = harbor_registry.emulator.store
    with store.tx() as tx:
        policy = tx.get("replication_policy", policy_id)
        execution_id = tx.next_id("replication_execution")
        tx.insert("replication_execution", execution_id, {
            "id": execution_id, "policy_id": policy_id, "status": "InProgress", "status_text": "",
            "trigger": "manual", "start_time": "", "end_time": "", "stop_requested": False, "resource": None},
            parent=policy_id)
        task = api.new_task(tx, execution_id, "copy", "image", "proj/app [1 item(s) in total]",
                            "resumed/app [1 item(s) in total]",
                            {"repo": "proj/app", "digest": image.digest, "tags": ["v1"], "dst_repo": "resumed/app"})
        task.update(status="InProgress")
        tx.update("replication_task", task["id"], dict(task))
        job_id = tx.next_id("job")
        tx.insert("job", job_id, {"id": job_id, "type": "replication", "ref": execution_id, "status": "Running",
                                  "owner": "a-runner-that-died"})
    assert policy["enabled"]
    execution = wait_final(a, execution_id)
    assert execution["status"] == "Succeed" and execution["total"] == 1, execution
    assert "running it again" in logs(a, execution_id)
    assert registry_client(harbor_registry).head_manifest("resumed/app", "v1") == image.digest


def test_scheduled_policy_copies_when_its_slot_fires(harbor_registry):
    a = harbor_registry.client()
    a.create_project("proj")
    image = push_image(harbor_registry.url, "proj/app", "v1", auth=ADMIN)
    registry_id = a.create("/registries", endpoint(harbor_registry, name="self"))
    cron = "0 0 3 * * *"
    policy_id = a.create("/replication/policies", policy_body(
        registry_id, dest_namespace="nightly", trigger={"type": "scheduled", "trigger_settings": {"cron": cron}}))
    slot = croniter(cron, datetime.datetime.now(datetime.timezone.utc),
                    second_at_beginning=True).get_next(datetime.datetime)
    response = a.post(harbor_registry.url + "/lab/schedules/tick", params={"at": slot.isoformat()})
    assert response.json()["fired"][0]["key"] == str(policy_id)
    [execution] = executions(a, policy_id)
    assert execution["trigger"] == "scheduled"
    assert wait_final(a, execution["id"])["status"] == "Succeed"
    assert registry_client(harbor_registry).head_manifest("nightly/app", "v1") == image.digest


# =====================================================================================
# several emulator processes sharing one database
# =====================================================================================
@pytest.fixture(params=["sqlite", "postgresql"])
def shared_db(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("pg_url")


def test_nodes_sharing_a_database_run_each_job_once_and_fire_each_slot_once(tmp_path, shared_db, monkeypatch):
    handled = []
    real = jobs.HANDLERS["replication"]

    def counting(emulator, ref):
        handled.append((ref, emulator))
        real(emulator, ref)

    monkeypatch.setitem(jobs.HANDLERS, "replication", counting)
    nodes = [start_harbor(tmp_path / f"node{i}", db=shared_db) for i in (1, 2)]
    try:
        clients = [node.client() for node in nodes]
        registry_id = clients[0].create("/registries", endpoint(nodes[0]))
        cron = "0 45 * * * *"
        policy_id = clients[0].create("/replication/policies", policy_body(
            registry_id, trigger={"type": "scheduled", "trigger_settings": {"cron": cron}}))
        started = [clients[i % 2].create("/replication/executions", {"policy_id": policy_id}) for i in range(12)]
        for execution_id in started:
            wait_final(clients[0], execution_id)
        assert sorted(ref for ref, _ in handled) == sorted(started)  # each job ran exactly once
        slot = croniter(cron, datetime.datetime.now(datetime.timezone.utc),
                        second_at_beginning=True).get_next(datetime.datetime)
        fired = []
        threads = [threading.Thread(target=lambda n=node: fired.extend(jobs.tick(n.emulator, slot))) for node in nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(fired) == 1
        assert len(executions(clients[1], policy_id, trigger="scheduled")) == 1
    finally:
        for node in nodes:
            node.server.stop()
