"""registryops.harbor.registry and replication_policy through ansible-playbook against emulators."""

import pytest

from ..conftest import start_harbor
from .ansible_runner import run_module

# changes system-wide settings or needs the emulator (request log, fresh state, lab peers)
pytestmark = pytest.mark.emulator_only


@pytest.fixture
def peer(tmp_path):
    """A second Harbor to register as an endpoint (the health check needs it to answer)."""
    h = start_harbor(tmp_path / "peer")
    yield h
    h.server.stop()


def registry(harbor, check=False, diff=False, **args):
    return run_module("registry", args, harbor.url, check=check, diff=diff)


def policy(harbor, check=False, diff=False, **args):
    return run_module("replication_policy", args, harbor.url, check=check, diff=diff)


def endpoint_args(peer, **extra):
    return dict(name="peer", type="harbor", url=peer.url, access_key="admin", access_secret="Harbor12345", **extra)


def test_registry_lifecycle(harbor, peer, admin):
    created = registry(harbor, **endpoint_args(peer))
    assert created["changed"] and "Harbor12345" not in str(created)
    assert not registry(harbor, **endpoint_args(peer))["changed"]
    harbor.reset_request_counts()
    checked = registry(harbor, check=True, diff=True, **endpoint_args(peer, description="the peer"))
    assert checked["changed"] and harbor.request_counts()["writes"] == 0
    assert checked["diff"]["after"]["description"] == "the peer"
    assert registry(harbor, **endpoint_args(peer, description="the peer"))["changed"]
    stored = admin.get("/registries", params={"q": "name=peer"}).json()[0]
    assert stored["description"] == "the peer"
    rotated = registry(harbor, diff=True, **endpoint_args(peer, update_secret="always"))
    assert rotated["changed"] and "Harbor12345" not in str(rotated)
    assert registry(harbor, name="peer", state="absent")["changed"]
    assert not registry(harbor, name="peer", state="absent")["changed"]


def test_unhealthy_endpoint_is_refused_clearly(harbor):
    result = registry(harbor, name="dead", type="harbor", url="http://127.0.0.1:9")
    assert result["failed"] and "reachable" in result["msg"]


def test_bad_url_fails_before_any_call(harbor):
    harbor.reset_request_counts()
    result = registry(harbor, name="x", type="harbor", url="ftp://nope")
    assert result["failed"] and "http://" in result["msg"]
    assert harbor.request_counts()["total"] == 0


def test_policy_lifecycle_and_the_deletion_trap(harbor, peer, admin):
    assert registry(harbor, **endpoint_args(peer))["changed"]
    args = dict(name="to-peer", direction="push", registry="peer", filters={"name": "apps/**", "tag": "v*"},
                trigger="event_based", replicate_deletion=True)
    assert policy(harbor, **args)["changed"]
    stored = admin.get("/replication/policies", params={"q": "name=to-peer"}).json()[0]
    assert stored["deletion"] is True and stored["replicate_deletion"] is True
    assert stored["dest_registry"]["name"] == "peer"
    assert not policy(harbor, **args)["changed"]  # no perpetual diff on replicate_deletion

    harbor.reset_request_counts()
    checked = policy(harbor, check=True, diff=True, **dict(args, trigger="scheduled", cron="0 0 2 * * *",
                                                             replicate_deletion=False))
    assert checked["changed"] and harbor.request_counts()["writes"] == 0
    assert checked["diff"]["before"]["trigger"] == "event_based"
    assert checked["diff"]["after"]["cron"] == "0 0 2 * * *"

    changed = policy(harbor, **dict(args, trigger="scheduled", cron="0 0 2 * * *", replicate_deletion=False))
    assert changed["changed"]
    stored = admin.get(f"/replication/policies/{stored['id']}").json()
    assert stored["trigger"]["trigger_settings"]["cron"] == "0 0 2 * * *" and stored["deletion"] is False
    assert stored["filters"]  # a full update keeps the filters

    # the endpoint cannot go while the policy uses it, and the message names the policy
    blocked = registry(harbor, name="peer", state="absent")
    assert blocked["failed"] and "to-peer" in blocked["msg"]
    assert policy(harbor, name="to-peer", state="absent")["changed"]
    assert registry(harbor, name="peer", state="absent")["changed"]


@pytest.mark.parametrize("args,message", [
    (dict(trigger="scheduled", cron="0 0 2 * *"), "6 fields"),
    (dict(trigger="scheduled", cron="5 0 2 * * *"), "seconds"),
    (dict(trigger="scheduled", cron="0 * 2 * * *"), "minutes"),
    (dict(trigger="event_based", single_active=True), "single_active"),
    (dict(dest_namespace_replace_count=7), "dest_namespace_replace_count"),
])
def test_policy_input_errors_before_any_call(harbor, args, message):
    harbor.reset_request_counts()
    result = policy(harbor, name="p", direction="push", registry="peer", **args)
    assert result["failed"] and message in result["msg"]
    assert harbor.request_counts()["total"] == 0


def test_proxy_cache_project_on_a_registry_endpoint(harbor, peer, admin):
    assert registry(harbor, **endpoint_args(peer))["changed"]
    args = dict(name="peer-cache", proxy_cache_registry="peer", proxy_speed_kb=2048)
    created = run_module("project", args, harbor.url)
    assert created["changed"], created.get("msg")
    project = admin.get("/projects/peer-cache", headers={"X-Is-Resource-Name": "true"}).json()
    registry_id = admin.get("/registries", params={"q": "name=peer"}).json()[0]["id"]
    assert project["registry_id"] == registry_id and project["metadata"]["proxy_speed_kb"] == "2048"
    assert not run_module("project", args, harbor.url)["changed"]
    missing = run_module("project", dict(name="other-cache", proxy_cache_registry="nope"), harbor.url)
    assert missing["failed"] and "no registry endpoint" in missing["msg"]
    blocked = registry(harbor, name="peer", state="absent")
    assert blocked["failed"] and "proxy-cache" in blocked["msg"]
