"""harbor_node role, emulator runtime (LAB ONLY), for real in throwaway containers.

Two nodes of the test-host image (registryops/test-host:bookworm, systemd as PID 1) share one
Docker volume at /data/registry and one PostgreSQL in a third container, as the nodes of HA
topology 1 do. The role converges both through community.docker's `docker` connection; the
test then checks idempotence, check mode, health through nginx with the node certificate, and
that the nodes serve one registry: a project and an image pushed through one node are seen
through the other, and a blob upload started on one node finishes on the other (shared blobs
and shared Distribution http secret). Containers, network and volume are removed afterwards.

Like tests/molecule, the fixture starts a Docker engine when none answers (lab/bin/start-dockerd,
stopped again at the end), installs community.docker (lab/bin/install-collections) and brings the
test-host image up to date (lab/images/build-test-host, about a second when it is current). It
skips with the reason when this machine cannot run containers (not root, no docker), except
when CI=true, where that fails.
"""

import hashlib
import json
import os
import shutil
import subprocess
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from .harbor_node_support import REPO, ROLE, ansible_playbook, make_certificate, write_yaml

IMAGE = os.environ.get("LAB_TEST_HOST_IMAGE", "registryops/test-host:bookworm")
ADMIN = ("admin", "Emul4tor-Admin")
DB_PASSWORD = "Db-Passw0rd-lab"
NODES = ["node-a", "node-b"]


def _missing(reason):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and the emulator runtime cannot be tested: {reason}")
    pytest.skip(reason)


def _lab_step(*path):
    return subprocess.run([os.path.join(REPO, *path)], cwd=REPO, capture_output=True, text=True, check=False,
                          timeout=1800)


def docker(*args, check=True, timeout=120):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=timeout)


def container_ip(name, network):
    out = docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", name).stdout
    return json.loads(out)[network]["IPAddress"]


def wait_for_systemd(name, deadline=90):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        state = docker("exec", name, "systemctl", "is-system-running", check=False).stdout.strip()
        if state in ("running", "degraded"):
            return
        time.sleep(1)
    raise AssertionError(f"systemd in {name} did not finish booting: {state}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if os.geteuid() != 0:
        _missing("needs root to start Docker containers (and dockerd)")
    if shutil.which("docker") is None or shutil.which("dockerd") is None:
        _missing("docker/dockerd are not installed (`make deps` as root installs docker.io)")
    started_engine = False
    if docker("version", check=False).returncode != 0:
        result = _lab_step("lab", "bin", "start-dockerd")
        if result.returncode != 0:
            _missing(f"lab/bin/start-dockerd failed: {result.stderr.strip()[-1000:]}")
        started_engine = True
    work = tmp_path_factory.mktemp("harbor-node-emulator")
    suffix = uuid.uuid4().hex[:8]
    network, volume = f"hn-test-{suffix}", f"hn-test-storage-{suffix}"
    names = {role: f"hn-{role}-{suffix}" for role in ["db"] + NODES}
    systemd_flags = ["--tmpfs", "/run", "--tmpfs", "/run/lock", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
                     "--cgroupns", "host", "--stop-signal", "SIGRTMIN+3", "--network", network]
    try:
        for step in (("lab", "bin", "install-collections"), ("lab", "images", "build-test-host")):
            result = _lab_step(*step)
            assert result.returncode == 0, f"{'/'.join(step)} failed:\n{result.stdout}{result.stderr}"
        assert docker("image", "inspect", IMAGE, check=False).returncode == 0, f"{IMAGE} is missing after the build"
        docker("network", "create", network)
        docker("volume", "create", volume)
        docker("run", "-d", "--name", names["db"], "--hostname", "db", *systemd_flags, IMAGE)
        for node in NODES:
            docker("run", "-d", "--name", names[node], "--hostname", node, *systemd_flags,
                   "-v", f"{volume}:/data/registry", IMAGE)
        for name in names.values():
            wait_for_systemd(name)
        # PostgreSQL for the nodes, set up by hand: this test is about harbor_node, not the postgresql role
        docker("exec", names["db"], "bash", "-ec", f"""
            conf=$(ls -d /etc/postgresql/*/main)
            echo "listen_addresses = '*'" >> $conf/postgresql.conf
            echo 'host all all 0.0.0.0/0 scram-sha-256' >> $conf/pg_hba.conf
            systemctl enable --now postgresql >/dev/null 2>&1
            systemctl restart postgresql
            until runuser -u postgres -- pg_isready -q; do sleep 0.2; done
            runuser -u postgres -- psql -qc "CREATE ROLE harbor LOGIN PASSWORD '{DB_PASSWORD}'"
            runuser -u postgres -- createdb -O harbor registry
        """, timeout=120)
        ips = {node: container_ip(names[node], network) for node in NODES}
        cert, key, ca = make_certificate(str(work), name="harbor.lab.test", ip_addresses=list(ips.values()))

        inventory = write_yaml(work / "inventory.yml", {"all": {
            "hosts": {node: {"ansible_host": names[node]} for node in NODES},
            "vars": {
                "ansible_connection": "community.docker.docker",
                "ansible_python_interpreter": "/usr/bin/python3",
                "harbor_runtime": "emulator",
                "harbor_node_hostname": "harbor.lab.test",
                "harbor_node_admin_password": ADMIN[1],
                "harbor_node_database_type": "external",
                "harbor_node_database_host": names["db"],
                "harbor_node_database_username": "harbor",
                "harbor_node_database_password": DB_PASSWORD,
                "harbor_node_data_volume": "/data",
                "harbor_node_tls_certificate": "/etc/registryops/tls/server.crt",
                "harbor_node_tls_private_key": "/etc/registryops/tls/server.key",
                "harbor_node_health_retries": 40,
                "harbor_node_health_delay": 3,
                "test_tls_files": {"cert": cert, "key": key},
            }}})
        playbook = write_yaml(work / "converge.yml", [
            {"name": "Node certificates (what the tls role provides in a topology)",
             "hosts": "all", "gather_facts": False, "tasks": [
                 {"name": "Create the TLS directory", "ansible.builtin.file": {
                     "path": "/etc/registryops/tls", "state": "directory", "mode": "0755"}},
                 {"name": "Copy the certificate", "ansible.builtin.copy": {
                     "src": "{{ test_tls_files.cert }}", "dest": "/etc/registryops/tls/server.crt", "mode": "0644"}},
                 {"name": "Copy the key", "ansible.builtin.copy": {
                     "src": "{{ test_tls_files.key }}", "dest": "/etc/registryops/tls/server.key", "mode": "0600"}}]},
            {"name": "Harbor nodes", "hosts": "all", "gather_facts": False,
             "roles": [{"role": ROLE}]}])
        yield {"names": names, "ips": ips, "ca": ca, "cert": cert, "inventory": inventory, "playbook": playbook,
               "runs": {}}
    finally:
        for name in names.values():
            docker("rm", "-f", "-v", name, check=False)
        docker("volume", "rm", "-f", volume, check=False)
        docker("network", "rm", network, check=False)
        if started_engine:
            _lab_step("lab", "bin", "stop-dockerd")


ENV = {"ANSIBLE_PIPELINING": "1"}


@pytest.fixture(scope="module")
def converged(lab):
    started = time.monotonic()
    run = ansible_playbook(lab["playbook"], lab["inventory"], timeout=1800, extra_env=ENV)
    lab["runs"]["converge"] = (run, time.monotonic() - started)
    print(f"harbor_node emulator: first converge of {len(NODES)} nodes took {lab['runs']['converge'][1]:.0f} s")
    assert run.rc == 0, run
    return lab


def test_converge_keeps_secrets_out_of_the_output(converged):
    run, _ = converged["runs"]["converge"]
    assert ADMIN[1] not in run.stdout and DB_PASSWORD not in run.stdout


def test_second_run_changes_nothing(converged):
    started = time.monotonic()
    run = ansible_playbook(converged["playbook"], converged["inventory"], timeout=1800, extra_env=ENV)
    converged["runs"]["idempotence"] = (run, time.monotonic() - started)
    print(f"harbor_node emulator: second converge took {converged['runs']['idempotence'][1]:.0f} s")
    assert run.rc == 0, run
    assert all(run.recap[node]["changed"] == 0 for node in NODES), run


def test_check_mode_on_converged_nodes_changes_nothing(converged):
    run = ansible_playbook(converged["playbook"], converged["inventory"], "--check", timeout=1800, extra_env=ENV)
    assert run.rc == 0, run
    assert all(run.recap[node]["changed"] == 0 for node in NODES), run


def base(lab, node):
    return f"https://{lab['ips'][node]}"


def test_each_node_is_healthy_behind_nginx_with_its_certificate(converged):
    for node in NODES:
        response = requests.get(base(converged, node) + "/api/v2.0/health", verify=converged["ca"], timeout=10)
        assert response.status_code == 200 and response.json()["status"] == "healthy", response.text
        components = {c["name"]: c["status"] for c in response.json()["components"]}
        assert components["registry"] == "healthy"
        plain = requests.get(f"http://{converged['ips'][node]}/api/v2.0/health", allow_redirects=False, timeout=10)
        assert plain.status_code == 308 and plain.headers["Location"].startswith("https://")
        login = requests.get(base(converged, node) + "/api/v2.0/users/current", auth=ADMIN,
                             verify=converged["ca"], timeout=10)
        assert login.status_code == 200 and login.json()["username"] == "admin"


def test_nodes_share_the_registry_http_secret(converged):
    secrets = {docker("exec", converged["names"][node], "cat", "/var/lib/harbor-emulator/registry-http-secret").stdout
               for node in NODES}
    assert len(secrets) == 1 and len(secrets.pop()) == 32
    mode = docker("exec", converged["names"]["node-a"], "stat", "-c", "%a %U", "/etc/harbor-emulator/env").stdout
    assert mode.split() == ["600", "root"]


def _upload_url(lab, node, location):
    """Distribution's upload Location carries the external URL; aim the same path at `node`."""
    parts = urlsplit(location)
    return base(lab, node) + parts.path + ("?" + parts.query if parts.query else "")


def _push_blob(lab, repo, data, start_on, patch_on, finish_on):
    session = dict(auth=ADMIN, verify=lab["ca"], timeout=30)
    started = requests.post(base(lab, start_on) + f"/v2/{repo}/blobs/uploads/", **session)
    assert started.status_code == 202, started.text
    patched = requests.patch(_upload_url(lab, patch_on, started.headers["Location"]), data=data,
                             headers={"Content-Type": "application/octet-stream"}, **session)
    assert patched.status_code == 202, patched.text
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    done = requests.put(_upload_url(lab, finish_on, patched.headers["Location"]), params={"digest": digest},
                        **session)
    assert done.status_code == 201, done.text
    return digest


def test_nodes_serve_one_registry(converged):
    lab, auth = converged, dict(auth=ADMIN, verify=converged["ca"], timeout=30)
    created = requests.post(base(lab, "node-a") + "/api/v2.0/projects",
                            json={"project_name": "shared", "metadata": {"public": "false"}}, **auth)
    assert created.status_code == 201, created.text
    seen = requests.get(base(lab, "node-b") + "/api/v2.0/projects", params={"name": "shared"}, **auth)
    assert [p["name"] for p in seen.json()] == ["shared"]

    # an upload started on node-a, continued on node-b and finished on node-a: shared blobs and http secret
    layer = os.urandom(200_000)
    layer_digest = _push_blob(lab, "shared/app", layer, "node-a", "node-b", "node-a")
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    config_digest = _push_blob(lab, "shared/app", config, "node-b", "node-b", "node-b")
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
                   "digest": config_digest},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(layer),
                    "digest": layer_digest}]}).encode()
    pushed = requests.put(base(lab, "node-a") + "/v2/shared/app/manifests/v1", data=manifest,
                          headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"}, **auth)
    assert pushed.status_code == 201, pushed.text

    pulled = requests.get(base(lab, "node-b") + "/v2/shared/app/manifests/v1",
                          headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"}, **auth)
    assert pulled.status_code == 200 and pulled.content == manifest
    blob = requests.get(base(lab, "node-b") + f"/v2/shared/app/blobs/{layer_digest}", **auth)
    assert blob.status_code == 200 and blob.content == layer
    # the artifact the push through node-a recorded in the shared database, read through node-b
    deadline = time.monotonic() + 20
    while True:
        artifacts = requests.get(base(lab, "node-b") + "/api/v2.0/projects/shared/repositories/app/artifacts",
                                 **auth)
        tags = [t["name"] for a in (artifacts.json() if artifacts.status_code == 200 else []) for t in a.get("tags") or []]
        if tags == ["v1"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert tags == ["v1"], artifacts.text


def test_a_node_without_https_serves_plain_http(converged):
    run = ansible_playbook(converged["playbook"], converged["inventory"], "--limit", "node-b",
                           "-e", '{"harbor_node_https_enabled": false}', timeout=1800, extra_env=ENV)
    assert run.rc == 0 and run.recap["node-b"]["changed"] > 0, run
    ip = converged["ips"]["node-b"]
    health = requests.get(f"http://{ip}/api/v2.0/health", allow_redirects=False, timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "healthy"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"https://{ip}/api/v2.0/health", verify=converged["ca"], timeout=10)
    # node-a is untouched and still serves HTTPS
    assert requests.get(base(converged, "node-a") + "/api/v2.0/health", verify=converged["ca"],
                        timeout=10).status_code == 200
