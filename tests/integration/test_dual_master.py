"""The dual_master role against two real emulator processes (each with its own registry), without
containers: accounts mirrored, each node registered on the other, pushes both ways, a rerun that
changes nothing, the catch-up playbook after an outage; and invalid pairs that fail before any
request. molecule/dual_master runs the whole topology (harbor_node, HAProxy) in containers."""

import sys

import pytest
import yaml

from harbor_emulator.registry_client import RegistryClient

from ..conftest import ADMIN, requires_distribution, start_harbor
from ..images import push_image
from .test_topology import api, digests, playbook, recap, start_nodes, stop_nodes, wait_until

pytestmark = pytest.mark.emulator_only  # fresh emulators, their request logs, a stopped node

ROBOT_SECRET = "Pair-Robot-S3cret"
USER_PASSWORD = "Pair-User-Passw0rd"


def write_pair_inventory(tmp_path, urls, host_vars=None, **extra):
    """The shape of inventories/examples/dual_master: group harbor_nodes, accounts as group variables."""
    group = {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "harbor_username": ADMIN[0], "harbor_password": ADMIN[1],
        "registry_config_users": [
            {"username": "alice", "email": "alice@example.com", "realname": "Alice", "password": USER_PASSWORD},
            {"username": "olivia", "email": "olivia@example.com", "realname": "Olivia", "password": USER_PASSWORD}],
        "registry_config_people": {"ops": ["olivia"]},
        "registry_config_role_matrix": {"developers": "developer", "ops": "maintainer"},
        "registry_config_teams": {"apps": {"developers": ["alice"], "projects": [
            {"name": "apps", "robots": [{"name": "puller", "permission_preset": "pull", "duration": -1,
                                         "secret": ROBOT_SECRET}]}]}},
        # no secret: Harbor makes a different one on each node (the role warns)
        "registry_config_system_robots": [{"name": "auditor", "duration": -1, "permissions": [
            {"namespace": "*", "access": [{"resource": "repository", "action": "pull"}]}]}],
        "dual_master_catchup_cron": "0 0 * * * *",
    }
    group.update(extra)
    hosts = {name: dict({"harbor_url": url}, **(host_vars or {}).get(name, {})) for name, url in urls.items()}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"children": {"harbor_nodes": {"hosts": hosts, "vars": group}}}}))
    return str(path)


def role_playbook(tmp_path):
    """The dual_master play of playbooks/ha_dual_master.yml alone (the nodes already run)."""
    path = tmp_path / "pair.yml"
    path.write_text(yaml.safe_dump([{"name": "Dual master", "hosts": "harbor_nodes", "gather_facts": False,
                                     "roles": [{"role": "registryops.harbor.dual_master"}]}]))
    return str(path)


def accounts(node):
    client = api(node)
    users = sorted((u["username"], u["email"]) for u in client.get("/users").json())
    members = sorted((m["entity_name"], m["role_name"]) for m in client.get("/projects/apps/members").json())
    project_id = client.get("/projects/apps").json()["project_id"]
    robots = sorted((r["name"], r["level"], r["duration"], str(r["permissions"]))
                    for r in client.get("/robots").json()  # system robots
                    + client.get("/robots", params={"q": "Level=project,ProjectID=%d" % project_id}).json())
    return users, members, robots


@requires_distribution
def test_pair_mirrors_accounts_replicates_both_ways_and_catches_up(tmp_path):
    nodes = start_nodes(tmp_path, ["harbor-a", "harbor-b"])
    try:
        inventory = write_pair_inventory(tmp_path, {n: p.url for n, p in nodes.items()})
        first = playbook(role_playbook(tmp_path), inventory)
        assert first.returncode == 0, first.stdout[-4000:]
        assert ROBOT_SECRET not in first.stdout and USER_PASSWORD not in first.stdout

        a, b = api(nodes["harbor-a"]), api(nodes["harbor-b"])
        assert accounts(nodes["harbor-a"]) == accounts(nodes["harbor-b"])
        users, members, robots = accounts(nodes["harbor-a"])
        assert ("alice", "alice@example.com") in users
        assert ("alice", "developer") in members and ("olivia", "maintainer") in members
        assert [r[0] for r in robots] == ["robot$apps+puller", "robot$auditor"]
        assert "Robot account(s) robot$auditor have no `secret`" in first.stdout
        for here, peer in ((a, "harbor-b"), (b, "harbor-a")):
            [endpoint] = here.get("/registries").json()
            assert endpoint["name"] == f"peer-{peer}" and endpoint["url"] == nodes[peer].url
            policies = {p["name"]: p for p in here.get("/replication/policies").json()}
            assert set(policies) == {f"peer-{peer}-events", f"peer-{peer}-catchup"}
            assert policies[f"peer-{peer}-events"]["trigger"]["type"] == "event_based"
            assert policies[f"peer-{peer}-events"]["deletion"] is True
            assert policies[f"peer-{peer}-catchup"]["trigger"]["trigger_settings"]["cron"] == "0 0 * * * *"

        # one credential from the inventory pulls from either node
        from_a = push_image(nodes["harbor-a"].url, "apps/web", "1", auth=ADMIN)
        from_b = push_image(nodes["harbor-b"].url, "apps/api", "1", auth=ADMIN)
        wait_until(lambda: digests(nodes, "apps/web", "1") == {"harbor-a": from_a.digest, "harbor-b": from_a.digest},
                   "a -> b")
        wait_until(lambda: digests(nodes, "apps/api", "1") == {"harbor-a": from_b.digest, "harbor-b": from_b.digest},
                   "b -> a")
        for node in nodes.values():
            robot = RegistryClient(node.url, "robot$apps+puller", ROBOT_SECRET)
            assert robot.get_manifest("apps/web", "1")[2] == from_a.digest

        again = playbook(role_playbook(tmp_path), inventory)
        assert again.returncode == 0, again.stdout[-4000:]
        assert all(counts["changed"] == 0 for counts in recap(again.stdout).values()), again.stdout[-4000:]

        # harbor-b down: the events of three pushes to harbor-a are lost; the catch-up playbook copies them
        nodes["harbor-b"].stop()
        lost = [push_image(nodes["harbor-a"].url, "apps/batch", "v%d" % n, auth=ADMIN) for n in (1, 2, 3)]
        wait_until(lambda: all(e["status"] in ("Failed", "Succeed") for e in a.get("/replication/executions").json())
                   and sum(e["status"] == "Failed" for e in a.get("/replication/executions").json()) >= 3,
                   "harbor-a's events to fail while harbor-b is down")
        nodes["harbor-b"].start(timeout=60)
        assert {i.tag: digests({"b": nodes["harbor-b"]}, i.repo, i.tag)["b"] for i in lost} == \
            {"v1": None, "v2": None, "v3": None}
        caught_up = playbook("dual_master_catchup.yml", inventory)
        assert caught_up.returncode == 0, caught_up.stdout[-4000:]
        assert "harbor-a -> harbor-b: execution" in caught_up.stdout and "Succeed" in caught_up.stdout
        assert {i.tag: digests({"b": nodes["harbor-b"]}, i.repo, i.tag)["b"] for i in lost} == \
            {i.tag: i.digest for i in lost}
    finally:
        stop_nodes(nodes)


def test_invalid_pairs_fail_before_any_request(tmp_path):
    harbors = {name: start_harbor(tmp_path / name) for name in ("harbor-a", "harbor-b", "harbor-c")}
    try:
        def run_without_requests(urls, expected, **kwargs):
            for harbor in harbors.values():
                harbor.reset_request_counts()
            run = playbook(role_playbook(tmp_path), write_pair_inventory(tmp_path, urls, **kwargs))
            assert run.returncode != 0
            assert expected in run.stdout, (expected, run.stdout[-4000:])
            for harbor in harbors.values():
                assert harbor.request_counts()["total"] == 0  # not even a read
            return run

        urls = {name: harbor.url for name, harbor in harbors.items()}
        run_without_requests(urls, "needs an inventory group 'harbor_nodes' of exactly two Harbor nodes")

        pair = {name: urls[name] for name in ("harbor-a", "harbor-b")}
        run = run_without_requests(pair, "differ in: users", host_vars={"harbor-b": {"registry_config_users": []}})
        assert USER_PASSWORD not in run.stdout
        run_without_requests(pair, "would delete the peer endpoint", registry_config_purge=True,
                             registry_config_registries=[])
        run_without_requests(pair, "cron", dual_master_catchup_cron="0 * 1 * * *")
    finally:
        for harbor in harbors.values():
            harbor.server.stop()
