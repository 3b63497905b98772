"""The replication_topology role through playbooks/replication_topology.yml, against real emulator
processes with their own registries: a fan-out to five replicas and a three-level tree, where a pushed
image reaches every node with the same digest and a deletion follows; and invalid topologies that fail
before any request reaches a Harbor."""

import os
import subprocess
import sys
import threading
import time

import pytest
import requests
import yaml

from harbor_emulator.registry_client import RegistryClient, RegistryError

from ..conftest import ADMIN, Client, requires_distribution, start_harbor
from ..emulator_process import EmulatorProcess
from ..images import push_image
from .ansible_runner import REPO

# fresh emulators, their request logs and lab-only restarts: never a real Harbor
pytestmark = pytest.mark.emulator_only

COPY_TIMEOUT = 60  # seconds for an image (or a deletion) to reach the farthest node


# -- helpers shared with test_replication_report.py ------------------------------------------------------
def start_nodes(tmp_path, names, registry=True):
    """One emulator process per name (each with its own registry), started side by side."""
    nodes = {name: EmulatorProcess(tmp_path / name, registry=registry) for name in names}
    errors = []

    def start(node):
        try:
            node.start(timeout=60)
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(node,)) for node in nodes.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        stop_nodes(nodes)
        raise errors[0]
    return nodes


def stop_nodes(nodes):
    for node in nodes.values():
        if node.process is not None and node.process.poll() is None:
            node.stop()


def write_inventory(tmp_path, urls, topology, **extra):
    """An inventory shaped like the role README's example: one host per Harbor in
    group registries, the topology in group vars."""
    common = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
              "harbor_username": ADMIN[0], "harbor_password": ADMIN[1], "harbor_topology": topology}
    common.update(extra)
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"vars": common, "children": {"registries": {"hosts": {
        name: {"harbor_url": url} for name, url in urls.items()}}}}}))
    return str(path)


def playbook(name, inventory, *args):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_DEPRECATION_WARNINGS="0", ANSIBLE_LOCALHOST_WARNING="0")
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory,
           os.path.join("playbooks", name)] + list(args)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def recap(stdout):
    """{host: {ok, changed, failed, ...}} from the PLAY RECAP."""
    out, in_recap = {}, False
    for line in stdout.splitlines():
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        if in_recap and ":" in line:
            host, counts = line.split(":", 1)
            out[host.strip()] = {k: int(v) for k, v in (pair.split("=") for pair in counts.split())}
    return out


def api(node):
    return Client(node.url, auth=ADMIN)


def registry(node):
    return RegistryClient(node.url, *ADMIN)


def wait_until(check, what, timeout=COPY_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(0.2)


def digest_on(node, repo, ref):
    """The digest of repo:ref on one node; None while replication has not yet created the project
    there (a pull token for a project that does not exist grants nothing: 401, as in Harbor)."""
    try:
        return registry(node).head_manifest(repo, ref)
    except RegistryError as exc:
        if exc.status == 401:
            return None
        raise


def digests(nodes, repo, ref):
    return {name: digest_on(node, repo, ref) for name, node in nodes.items()}


# -- validation before any write -------------------------------------------------------------------------
def test_invalid_topologies_fail_before_any_request(tmp_path):
    harbors = {name: start_harbor(tmp_path / name) for name in ("hq", "eu", "us", "paris")}
    try:
        urls = {name: harbor.url for name, harbor in harbors.items()}
        bad_graph = {"kind": "tree", "root": "hq",
                     "edges": [{"from": "hq", "to": "eu"}, {"from": "eu", "to": "hq"}, {"from": "hq", "to": "us"},
                               {"from": "eu", "to": "paris"}, {"from": "us", "to": "paris", "cron": "0 * 1 * * *"},
                               {"from": "us", "to": "lyon"}]}
        for harbor in harbors.values():
            harbor.reset_request_counts()
        inventory = write_inventory(tmp_path, urls, bad_graph)
        run = playbook("replication_topology.yml", inventory)
        assert run.returncode != 0
        assert "The replication topology is not valid:" in run.stdout, run.stdout[-3000:]
        for expected in ("edges[5].to: unknown node 'lyon': not an inventory host",
                         "paris has 2 parents (eu -> paris, us -> paris)",
                         "cycle hq -> eu -> hq", "declare dual_master: [[hq, eu]]",
                         "edges[4]: cron '0 * 1 * * *': the minutes field cannot be '*'"):
            assert expected in run.stdout, (expected, run.stdout[-3000:])
        assert set(recap(run.stdout)) == set(urls)
        assert all(counts["failed"] == 1 and counts["changed"] == 0 for counts in recap(run.stdout).values())
        for harbor in harbors.values():
            assert harbor.request_counts()["total"] == 0  # not even a read

        # a valid topology, but nodes without a password for their parent: still nothing sent
        data = yaml.safe_load(open(inventory))
        del data["all"]["vars"]["harbor_password"]
        data["all"]["children"]["registries"]["hosts"]["hq"]["harbor_password"] = ADMIN[1]
        data["all"]["vars"]["harbor_topology"] = {"kind": "fanout", "root": "hq", "replicas": ["eu", "us"]}
        with open(inventory, "w") as handle:
            yaml.safe_dump(data, handle)
        run = playbook("replication_topology.yml", inventory, "--limit", "hq")
        assert run.returncode != 0
        assert "Without a password: eu, us." in run.stdout, run.stdout[-3000:]
        for harbor in harbors.values():
            assert harbor.request_counts()["total"] == 0
    finally:
        for harbor in harbors.values():
            harbor.server.stop()


# -- fan-out ------------------------------------------------------------------------------------------------
@requires_distribution
def test_fanout_to_five_replicas_same_digest_and_deletion(tmp_path):
    replicas = ["r%d" % i for i in range(1, 6)]
    nodes = start_nodes(tmp_path, ["master"] + replicas)
    try:
        topology = {"kind": "fanout", "root": "master", "replicas": replicas, "projects": ["lib"],
                    "cron": "0 30 2 * * *"}
        inventory = write_inventory(tmp_path, {n: p.url for n, p in nodes.items()}, topology)
        first = playbook("replication_topology.yml", inventory)
        assert first.returncode == 0, first.stdout[-3000:]
        assert recap(first.stdout)["master"]["changed"] == 3  # endpoints, event policies, catch-up policies
        assert all(recap(first.stdout)[r]["changed"] == 0 for r in replicas)

        master = api(nodes["master"])
        endpoints = {r["name"]: r for r in master.get("/registries").json()}
        assert sorted(endpoints) == ["topology-%s" % r for r in replicas]
        assert all(e["type"] == "harbor" and e["url"] == nodes[e["name"][9:]].url for e in endpoints.values())
        policies = {p["name"]: p for p in master.get("/replication/policies", params={"page_size": 20}).json()}
        assert len(policies) == 10
        events, catchup = policies["topology-r3-events"], policies["topology-r3-catchup"]
        assert events["trigger"]["type"] == "event_based" and events["deletion"] is True
        assert events["dest_registry"]["name"] == "topology-r3" and events["enabled"] and events["override"]
        assert events["filters"] == [{"type": "name", "value": "lib/**"}]
        assert catchup["trigger"] == {"type": "scheduled", "trigger_settings": {"cron": "0 30 2 * * *"}}
        assert catchup["deletion"] is False
        for replica in replicas:
            assert api(nodes[replica]).get("/replication/policies").json() == []

        again = playbook("replication_topology.yml", inventory)
        assert again.returncode == 0, again.stdout[-3000:]
        assert all(counts["changed"] == 0 for counts in recap(again.stdout).values()), again.stdout[-3000:]

        master.create_project("lib")
        master.create_project("other")
        push_image(nodes["master"].url, "other/tool", "v1", auth=ADMIN)  # outside the filter
        image = push_image(nodes["master"].url, "lib/app", "v1", auth=ADMIN)
        wait_until(lambda: set(digests({r: nodes[r] for r in replicas}, "lib/app", "v1").values()) == {image.digest},
                   "lib/app:v1 on every replica")
        runs = master.get("/replication/executions").json()
        assert len(runs) == 5 and {r["trigger"] for r in runs} == {"event_based"}  # none for other/tool
        assert all(digests({r: nodes[r]}, "other/tool", "v1")[r] is None for r in replicas)

        assert master.delete("/projects/lib/repositories/app/artifacts/v1").status_code == 200
        wait_until(lambda: set(digests({r: nodes[r] for r in replicas}, "lib/app", image.digest).values()) == {None},
                   "the deletion on every replica")
    finally:
        stop_nodes(nodes)


# -- three levels ---------------------------------------------------------------------------------------------
@requires_distribution
def test_three_level_tree_relays_pushes_and_deletions_to_the_sites(tmp_path):
    # two regions with one site each keeps it to five emulators (ten processes) on a 2-CPU machine
    tree = {"hq": ["eu", "us"], "eu": ["eu-paris"], "us": ["us-austin"]}
    names = ["hq"] + [child for parent in ("hq", "eu", "us") for child in tree[parent]]
    nodes = start_nodes(tmp_path, names)
    try:
        topology = {"kind": "tree", "root": "hq", "cron": "",
                    "edges": [{"from": parent, "to": child} for parent, children in tree.items() for child in children]}
        inventory = write_inventory(tmp_path, {n: p.url for n, p in nodes.items()}, topology)
        for node in nodes.values():
            requests.delete(node.url + "/lab/requests", timeout=10)
        checked = playbook("replication_topology.yml", inventory, "--check", "--diff")
        assert checked.returncode == 0, checked.stdout[-3000:]
        assert {h: c["changed"] for h, c in recap(checked.stdout).items() if c["changed"]} == {"hq": 2, "eu": 2, "us": 2}
        assert all(requests.get(n.url + "/lab/requests", timeout=10).json()["writes"] == 0 for n in nodes.values())
        assert ADMIN[1] not in checked.stdout  # the endpoints' secrets stay out of the diff

        run = playbook("replication_topology.yml", inventory)
        assert run.returncode == 0, run.stdout[-3000:]
        for parent, children in tree.items():
            names_there = sorted(p["name"] for p in api(nodes[parent]).get("/replication/policies").json())
            assert names_there == sorted("topology-%s-events" % c for c in children)  # cron "": no catch-up
        for site in ("eu-paris", "us-austin"):
            assert api(nodes[site]).get("/registries").json() == []

        api(nodes["hq"]).create_project("apps")
        image = push_image(nodes["hq"].url, "apps/web", "1.0", auth=ADMIN)
        others = {n: p for n, p in nodes.items() if n != "hq"}
        wait_until(lambda: set(digests(others, "apps/web", "1.0").values()) == {image.digest},
                   "apps/web:1.0 on the regions and the sites")
        # the sites got it from their region, not from hq
        hq_targets = {api(nodes["hq"]).get("/replication/policies/%d" % e["policy_id"]).json()["name"]
                      for e in api(nodes["hq"]).get("/replication/executions").json()}
        assert hq_targets == {"topology-eu-events", "topology-us-events"}
        assert len(api(nodes["eu"]).get("/replication/executions").json()) == 1

        assert api(nodes["hq"]).delete("/projects/apps/repositories/web/artifacts/1.0").status_code == 200
        wait_until(lambda: set(digests(others, "apps/web", image.digest).values()) == {None},
                   "the deletion on the regions and the sites")
    finally:
        stop_nodes(nodes)
