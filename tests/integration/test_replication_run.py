"""registryops.harbor.replication_run end to end: two emulators with registries, a real image moved.

Endpoints and policies are created through the API directly so these tests do not depend on the
registry and replication_policy modules.
"""

import pytest

from ..conftest import ADMIN, start_harbor
from ..images import push_image
from .ansible_runner import run_module, run_tasks

# changes system-wide settings or needs the emulator (request log, fresh state, lab peers)
pytestmark = pytest.mark.emulator_only

FAST = {"poll_interval": 0.2, "wait_timeout": 120, "retry_delay": 0}


def replication_run(harbor, check=False, **args):
    return run_module("replication_run", args, harbor.url, check=check)


def setup_push(source, target, name="to-b", **policy):
    """Register `target` on `source` and create an enabled manual push policy for project lib."""
    client = source.client()
    registry_id = client.create("/registries", {
        "name": "b", "type": "harbor", "url": target.url, "insecure": True,
        "credential": {"type": "basic", "access_key": ADMIN[0], "access_secret": ADMIN[1]}})
    body = {"name": name, "dest_registry": {"id": registry_id}, "enabled": True, "override": True,
            "filters": [{"type": "name", "value": "lib/**"}], "trigger": {"type": "manual"}}
    body.update(policy)
    return client.create("/replication/policies", body)


def digest_on(harbor, repo, tag):
    response = harbor.client().get(f"/projects/lib/repositories/{repo}/artifacts/{tag}")
    return response.json()["digest"] if response.status_code == 200 else None


@pytest.fixture
def pair(harbor_registry, tmp_path):
    """Harbor A (harbor_registry) with lib/app:v1 pushed, Harbor B registered on A, policy to-b."""
    b = start_harbor(tmp_path / "b", registry=True)
    a = harbor_registry
    a.client().create_project("lib")
    image = push_image(a.url, "lib/app", "v1", auth=ADMIN)
    policy_id = setup_push(a, b)
    yield a, b, image, policy_id
    b.server.stop()


def test_run_moves_the_image_and_returns_the_summary(pair):
    a, b, image, policy_id = pair

    a.reset_request_counts()
    checked = replication_run(a, check=True, policy="to-b")
    assert checked["changed"] and not checked.get("failed")
    assert checked["policy_id"] == policy_id and checked["execution"] == {}
    assert a.request_counts()["writes"] == 0
    assert digest_on(b, "app", "v1") is None

    result = replication_run(a, policy="to-b", **FAST)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    execution = result["execution"]
    assert execution["status"] == "Succeed" and execution["trigger"] == "manual"
    assert (execution["total"], execution["succeed"], execution["failed"]) == (1, 1, 0)
    assert execution["failed_tasks"] == [] and execution["attempt"] == 1
    assert execution["start_time"] and execution["end_time"]
    assert [attempt["id"] for attempt in result["attempts"]] == [execution["id"]]
    assert digest_on(b, "app", "v1") == image.digest == digest_on(a, "app", "v1")

    # a run is an action: a second one starts another execution (Harbor skips what B already has)
    again = replication_run(a, policy="to-b", **FAST)
    assert again["changed"] and again["execution"]["id"] != execution["id"]
    assert again["execution"]["status"] == "Succeed"


def test_failed_run_is_retried_then_fails_with_the_log_tail(pair):
    a, b, _image, _policy_id = pair
    b.server.stop()  # the destination is down

    result = replication_run(a, policy="to-b", retry_failed=1, log_lines=3, **FAST)
    assert result["failed"] and result["changed"]
    assert "failed after 2 attempt(s)" in result["msg"] and str(result["execution"]["id"]) in result["msg"]
    assert len(result["attempts"]) == 2
    assert [attempt["attempt"] for attempt in result["attempts"]] == [1, 2]
    assert all(attempt["status"] == "Failed" for attempt in result["attempts"])
    assert result["attempts"][0]["id"] != result["attempts"][1]["id"]
    execution = result["execution"]
    assert execution["failed"] == 1 and execution["total"] == 1
    task = execution["failed_tasks"][0]
    assert task["src_resource"].startswith("lib/app")
    assert 0 < len(task["log_tail"]) <= 3
    assert any("ERROR" in line for line in task["log_tail"])
    assert "Harbor12345" not in str(result)


def test_timeout_names_the_execution_and_state_stopped_stops_it(harbor_registry, tmp_path):
    a = harbor_registry
    b = start_harbor(tmp_path / "b", registry=True)
    try:
        a.client().create_project("lib")
        push_image(a.url, "lib/slow", "v1", auth=ADMIN, size=400_000)
        setup_push(a, b, name="slow", speed=1)  # 1 KB/s: the copy takes minutes

        timed_out = replication_run(a, policy="slow", poll_interval=0.2, wait_timeout=2)
        assert timed_out["failed"] and timed_out["changed"]
        execution_id = timed_out["execution"]["id"]
        assert f"execution {execution_id}" in timed_out["msg"] and "wait_timeout" in timed_out["msg"]
        assert timed_out["execution"]["status"] in ("Pending", "InProgress")

        a.reset_request_counts()
        checked = replication_run(a, check=True, policy="slow", state="stopped")
        assert checked["changed"] and [e["id"] for e in checked["stopped"]] == [execution_id]
        assert a.request_counts()["writes"] == 0

        stopped = replication_run(a, policy="slow", state="stopped", poll_interval=0.2, wait_timeout=60)
        assert stopped["changed"] and not stopped.get("failed"), stopped.get("msg")
        assert [e["id"] for e in stopped["stopped"]] == [execution_id]
        assert stopped["stopped"][0]["status"] == "Stopped"
        assert a.client().get(f"/replication/executions/{execution_id}").json()["status"] == "Stopped"

        nothing = replication_run(a, policy="slow", state="stopped")
        assert nothing["changed"] is False and nothing["stopped"] == []
    finally:
        b.server.stop()


def test_no_wait_returns_at_once(pair):
    a, _b, _image, _policy_id = pair
    result = replication_run(a, policy="to-b", wait=False)
    assert result["changed"] and not result.get("failed")
    assert result["execution"]["id"] and result["execution"]["status"] in ("Pending", "InProgress", "Succeed")


def test_bad_input_unknown_and_disabled_policies(harbor, admin):
    harbor.reset_request_counts()
    cases = [
        (dict(policy=""), ["policy", "name of a replication policy"]),
        (dict(policy="p", wait_timeout=0), ["wait_timeout", "positive"]),
        (dict(policy="p", poll_interval=0), ["poll_interval", "positive"]),
        (dict(policy="p", retry_failed=-1), ["retry_failed", "0 or more"]),
        (dict(policy="p", retry_delay=-1), ["retry_delay", "0 or more"]),
        (dict(policy="p", log_lines=-1), ["log_lines", "0 or more"]),
        (dict(policy="p", retry_failed=2, wait=False), ["retry_failed", "wait: true"]),
        (dict(policy="p", state="paused"), ["state", "started, stopped"]),
    ]
    tasks = [{"name": str(i), "registryops.harbor.replication_run": args, "ignore_errors": True}
             for i, (args, _words) in enumerate(cases)]
    _rc, results = run_tasks(tasks, harbor.url)
    for (args, words), result in zip(cases, results):
        assert result.get("failed") and all(w in result["msg"] for w in words), (args, result.get("msg"))
    assert harbor.request_counts()["total"] == 0

    registry_id = admin.create("/registries", {"name": "self", "type": "harbor", "url": harbor.url, "insecure": True})
    admin.create("/replication/policies", {"name": "off", "dest_registry": {"id": registry_id}, "enabled": False,
                                           "trigger": {"type": "manual"}})
    harbor.reset_request_counts()
    tasks = [{"name": name, "registryops.harbor.replication_run": {"policy": name}, "ignore_errors": True}
             for name in ("nope", "off")]
    _rc, (unknown, disabled) = run_tasks(tasks, harbor.url)
    assert unknown["failed"] and "'nope' not found" in unknown["msg"]
    assert disabled["failed"] and "disabled" in disabled["msg"] and "enabled: true" in disabled["msg"]
    assert harbor.request_counts()["writes"] == 0


def test_permissions_developer_gets_a_clear_403(harbor, admin):
    admin.create_user("dev", password="Passw0rd!")
    result = run_module("replication_run", {"policy": "any"}, harbor.url, username="dev", password="Passw0rd!")
    assert result["failed"] and "403" in result["msg"] and "system administrator" in result["msg"]
    result = run_module("replication_run", {"policy": "any"}, harbor.url, password="wrong")
    assert result["failed"] and "401" in result["msg"] and "api_username" in result["msg"]
