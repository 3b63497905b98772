"""registryops.harbor.promote and playbooks/promote.yml against four emulator processes, each with its
own CNCF Distribution registry: dev -> test -> staging -> prod, real blobs and manifests moved.

The source connection comes from the `harbor` module_defaults group (ansible_runner sets it), the
destination from the module's `destination` option.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc

import pytest
import requests
import yaml

from ..conftest import ADMIN, Client, have_distribution
from ..emulator_process import EmulatorProcess
from ..images import push_image, push_index
from .ansible_runner import REPO, run_module, run_tasks

# four lab emulators, their request logs and a lab-only registry
pytestmark = pytest.mark.emulator_only

ENVIRONMENTS = ("dev", "test", "staging", "prod")


class Env:
    """One environment's Harbor: an emulator process with its own registry."""

    def __init__(self, name, process):
        self.name = name
        self.process = process
        self.url = process.url

    def client(self):
        return Client(self.url, auth=ADMIN)

    def request_counts(self):
        return requests.get(self.url + "/lab/requests", timeout=10).json()

    def reset_request_counts(self):
        requests.delete(self.url + "/lab/requests", timeout=10)

    def registry_writes(self):
        counts = self.request_counts()["by_route"]
        return {k: n for k, n in counts.items() if k.split(" ")[0] not in ("GET", "HEAD")}

    def digest_of(self, repo, reference, project="payments"):
        """The digest the Harbor API shows for project/repo:reference, or None."""
        response = self.client().get(f"/projects/{project}/repositories/{repo}/artifacts/{reference}")
        return response.json()["digest"] if response.status_code == 200 else None

    def manifest(self, repo, reference, project="payments"):
        """Raw manifest bytes over /v2 (what a docker pull gets)."""
        response = requests.get(f"{self.url}/v2/{project}/{repo}/manifests/{reference}", auth=ADMIN, timeout=30,
                                headers={"Accept": "application/vnd.oci.image.index.v1+json, "
                                                   "application/vnd.docker.distribution.manifest.list.v2+json, "
                                                   "application/vnd.docker.distribution.manifest.v2+json"})
        return response.content if response.status_code == 200 else None

    def blob(self, repo, digest, project="payments"):
        response = requests.get(f"{self.url}/v2/{project}/{repo}/blobs/{digest}", auth=ADMIN, timeout=60)
        return response.content if response.status_code == 200 else None


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """dev, test, staging and prod: four emulator processes, started side by side."""
    if os.environ.get("HARBOR_URL"):
        pytest.skip("needs four lab emulators; HARBOR_URL points at a real Harbor")
    if not have_distribution():
        if os.environ.get("CI"):
            pytest.fail("docker-registry (CNCF Distribution) is required in CI")
        pytest.skip("docker-registry (CNCF Distribution) is not installed; `make deps` installs it")
    root = tmp_path_factory.mktemp("chain")
    processes = [EmulatorProcess(root / name, registry=True) for name in ENVIRONMENTS]
    errors = []

    def start(process):
        try:
            process.start(timeout=60)
        except Exception as exc:  # reported below, after every start has ended
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(p,)) for p in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not errors, errors
        envs = {name: Env(name, p) for name, p in zip(ENVIRONMENTS, processes)}
        for env in envs.values():
            env.client().create_project("payments")
        yield envs
    finally:
        for process in processes:
            process.stop()


def destination(env, **extra):
    return dict(api_url=env.url, api_username=ADMIN[0], api_password=ADMIN[1], **extra)


def promote(source, target, check=False, diff=False, **args):
    args.setdefault("project", "payments")
    args["destination"] = destination(target, **args.pop("destination_extra", {}))
    return run_module("promote", args, source.url, check=check, diff=diff)


def reset(*envs):
    for env in envs:
        env.reset_request_counts()


# -- the chain -----------------------------------------------------------------------------------------------
def write_inventory(chain, path):
    inventory = {"all": {"children": {
        name: {"hosts": {f"harbor-{name}": {"harbor_url": env.url, "harbor_username": ADMIN[0],
                                            "harbor_password": ADMIN[1]}}}
        for name, env in chain.items()}}}
    path.write_text(yaml.safe_dump(inventory))
    return str(path)


def run_playbook(playbook, inventory, extra_vars, check=False):
    """ansible-playbook on a playbook of the repository; returns (rc, task results, output)."""
    handle, results_file = tempfile.mkstemp(suffix=".results")
    os.close(handle)
    env = dict(os.environ, TASK_RESULTS_FILE=results_file, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(os.path.dirname(os.path.abspath(__file__)), "callback_plugins"),
               ANSIBLE_CALLBACKS_ENABLED="task_results", ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0")
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory,
           os.path.join(REPO, "playbooks", playbook), "-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    try:
        with open(results_file) as handle:
            results = [json.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        results = []
    finally:
        if os.path.exists(results_file):
            os.unlink(results_file)
    return proc.returncode, results, proc.stdout + proc.stderr


def test_promotion_chain_dev_to_prod_keeps_the_digest(chain, tmp_path):
    dev = chain["dev"]
    image = push_image(dev.url, "payments/api", "1.4.2", auth=ADMIN, layers=3, size=150_000)
    inventory = write_inventory(chain, tmp_path / "hosts.yml")
    source_manifest = dev.manifest("api", image.digest)
    reset(dev, chain["test"])
    rc, results, output = run_playbook("promote.yml", inventory, {
        "promote_from": "dev", "promote_project": "payments", "promote_repository": "api", "promote_tag": "1.4.2"},
        check=True)
    assert rc == 0, output
    assert "(check mode: not there yet)" in output and "copied 1 manifest(s), 4 blob(s)" in output
    assert chain["test"].request_counts()["writes"] == 0 and dev.request_counts()["writes"] == 0
    started = time.monotonic()
    for origin, target in zip(ENVIRONMENTS, ENVIRONMENTS[1:]):
        rc, results, output = run_playbook("promote.yml", inventory, {
            "promote_from": origin, "promote_project": "payments", "promote_repository": "api",
            "promote_tag": "1.4.2"})
        assert rc == 0, output
        copied = [r for r in results if "results" in r and r["results"] and "copied" in r["results"][0]][-1]
        hop = copied["results"][0]
        assert hop["changed"] and hop["source_digest"] == image.digest == hop["destination_digest"]
        assert hop["tags"] == ["1.4.2"] and hop["copied"]["blobs"] == 4 and hop["copied"]["manifests"] == 1
        env = chain[target]
        # the same binary: same digest in Harbor's API, same manifest bytes and blobs over /v2
        assert env.digest_of("api", "1.4.2") == image.digest
        assert env.manifest("api", "1.4.2") == source_manifest
        for blob in image.blobs:
            assert env.blob("api", blob) == dev.blob("api", blob)
    elapsed = time.monotonic() - started
    print(f"\nchain dev->prod, 3 hops of a 4-blob image through playbooks/promote.yml: {elapsed:.1f}s")

    # a rerun of the last hop changes nothing and writes nothing at prod
    reset(chain["prod"])
    rc, results, output = run_playbook("promote.yml", inventory, {
        "promote_from": "staging", "promote_project": "payments", "promote_repository": "api",
        "promote_tag": "1.4.2"})
    assert rc == 0, output
    assert not any(r.get("changed") for r in results), output
    assert chain["prod"].registry_writes() == {}

    # prod is the end of the chain
    rc, _results, output = run_playbook("promote.yml", inventory, {
        "promote_from": "prod", "promote_project": "payments", "promote_repository": "api", "promote_tag": "1.4.2"})
    assert rc != 0 and "no next environment" in output


def test_module_hop_by_digest_is_idempotent_with_diff(chain):
    dev, test = chain["dev"], chain["test"]
    image = push_image(dev.url, "payments/worker", "2.0", auth=ADMIN, layers=2, size=64_000)
    first = promote(dev, test, diff=True, repository="worker", digest=image.digest, tags=["2.0", "stable"])
    assert first["changed"] and not first.get("failed"), first.get("msg")
    assert first["destination_digest"] == image.digest
    assert first["tags_set"] == ["2.0", "stable"] and first["tags_moved"] == []
    assert first["diff"]["before"] == {"digest": None, "tags": {"2.0": None, "stable": None}}
    assert first["diff"]["after"] == {"digest": image.digest, "tags": {"2.0": image.digest, "stable": image.digest}}
    assert test.digest_of("worker", "stable") == image.digest

    reset(dev, test)
    again = promote(dev, test, diff=True, repository="worker", digest=image.digest, tags=["stable", "2.0"])
    assert not again["changed"] and not again.get("failed"), again.get("msg")
    assert again["diff"]["before"] == again["diff"]["after"]
    assert again["copied"] == {"manifests": 0, "blobs": 0, "blobs_mounted": 0, "blobs_present": 0, "bytes": 0}
    assert test.registry_writes() == {} and dev.registry_writes() == {}


def test_check_mode_writes_nothing_and_says_what_would_be_copied(chain):
    dev, staging = chain["dev"], chain["staging"]
    image = push_image(dev.url, "payments/checked", "1.0", auth=ADMIN, layers=2, size=10_000)
    reset(dev, staging)
    result = promote(dev, staging, check=True, diff=True, repository="checked", tag="1.0", tags=["1.0"])
    assert result["changed"] and not result.get("failed"), result.get("msg")
    assert result["source_digest"] == image.digest and result["destination_digest"] is None
    assert result["copied"]["manifests"] == 1 and result["copied"]["blobs"] == 3
    assert result["copied"]["bytes"] == sum(len(dev.blob("checked", b)) for b in image.blobs)
    assert result["diff"]["after"]["tags"] == {"1.0": image.digest}
    assert staging.registry_writes() == {} and dev.registry_writes() == {}
    assert staging.request_counts()["writes"] == 0 and dev.request_counts()["writes"] == 0
    assert staging.digest_of("checked", "1.0") is None and staging.manifest("checked", image.digest) is None


def test_a_tag_pointing_elsewhere_is_refused_unless_forced(chain):
    dev, prod = chain["dev"], chain["prod"]
    release = push_image(dev.url, "payments/web", "3.1", auth=ADMIN, size=5_000)
    other = push_image(prod.url, "payments/web", "stable", auth=ADMIN, size=5_000)
    reset(prod)
    refused = promote(dev, prod, repository="web", tag="3.1", tags=["3.1", "stable"])
    assert refused["failed"]
    assert "stable points to %s" % other.digest in refused["msg"] and "force: true" in refused["msg"]
    assert prod.registry_writes() == {}  # refused before the first write: not even 3.1 was created
    assert prod.digest_of("web", "stable") == other.digest and prod.digest_of("web", "3.1") is None

    checked = promote(dev, prod, check=True, repository="web", tag="3.1", tags=["3.1", "stable"], force=True)
    assert checked["changed"] and checked["tags_moved"] == ["stable"] and checked["tags_set"] == ["3.1"]
    assert prod.registry_writes() == {}

    forced = promote(dev, prod, repository="web", tag="3.1", tags=["3.1", "stable"], force=True)
    assert forced["changed"] and not forced.get("failed"), forced.get("msg")
    assert forced["tags_moved"] == ["stable"] and forced["destination_digest"] == release.digest
    assert prod.digest_of("web", "stable") == release.digest == prod.digest_of("web", "3.1")
    assert prod.digest_of("web", other.digest) == other.digest  # the old artifact stays, untagged


def test_require_labels_refuses_unlabelled_artifacts(chain):
    test, staging = chain["test"], chain["staging"]
    image = push_image(test.url, "payments/gate", "5.0", auth=ADMIN, size=5_000)
    api = test.client()
    tested = api.create("/labels", {"name": "tested", "scope": "g", "color": "#00ff00"})
    api.create("/labels", {"name": "audited", "scope": "g"})
    reset(staging)
    refused = promote(test, staging, repository="gate", tag="5.0", tags=["5.0"], require_labels=["tested"])
    assert refused["failed"]
    assert "does not carry the required label(s) tested" in refused["msg"] and "its labels: none" in refused["msg"]
    assert staging.registry_writes() == {} and staging.digest_of("gate", "5.0") is None

    response = api.post("/projects/payments/repositories/gate/artifacts/5.0/labels", json={"id": tested})
    assert response.status_code == 200, response.text
    still = promote(test, staging, repository="gate", tag="5.0", require_labels=["tested", "audited"])
    assert still["failed"] and "label(s) audited" in still["msg"] and "its labels: tested" in still["msg"]

    allowed = promote(test, staging, repository="gate", tag="5.0", tags=["5.0"], require_labels=["tested"])
    assert allowed["changed"] and not allowed.get("failed"), allowed.get("msg")
    assert allowed["labels"] == ["tested"] and staging.digest_of("gate", "5.0") == image.digest


def test_multi_arch_index_is_copied_children_first(chain):
    dev, test = chain["dev"], chain["test"]
    index = push_index(dev.url, "payments/multi", "1.0", auth=ADMIN, platforms=("amd64", "arm64", "s390x"))
    result = promote(dev, test, repository="multi", tag="1.0", tags=["1.0"])
    assert result["changed"] and not result.get("failed"), result.get("msg")
    assert result["destination_digest"] == index.digest
    assert result["copied"]["manifests"] == 4  # three platforms, then the index
    assert result["media_type"] == index.media_type
    assert test.manifest("multi", "1.0") == dev.manifest("multi", "1.0")
    for child in index.children:
        assert test.manifest("multi", child.digest) == dev.manifest("multi", child.digest)
    artifact = test.client().get("/projects/payments/repositories/multi/artifacts/1.0").json()
    assert sorted(r["child_digest"] for r in artifact["references"]) == sorted(c.digest for c in index.children)
    assert not promote(dev, test, repository="multi", digest=index.digest, tags=["1.0"])["changed"]


def test_between_projects_of_one_harbor_blobs_are_mounted(chain):
    dev = chain["dev"]
    dev.client().create_project("payments-rc")
    image = push_image(dev.url, "payments/mounted", "1.0", auth=ADMIN, layers=2, size=20_000)
    result = promote(dev, dev, repository="mounted", tag="1.0", tags=["1.0"],
                     destination_extra={"project": "payments-rc"})
    assert result["changed"] and not result.get("failed"), result.get("msg")
    assert result["copied"]["blobs_mounted"] == 3 and result["copied"]["blobs"] == 0
    assert dev.digest_of("mounted", "1.0", project="payments-rc") == image.digest


def test_bad_input_fails_before_any_request(chain):
    dev, test = chain["dev"], chain["test"]
    digest = "sha256:" + "a" * 64
    cases = [
        (dict(repository="api", digest="sha256:xyz"), ["digest", "64 lower-case hex"]),
        (dict(repository="api", tag="1.0", digest=digest), ["mutually exclusive"]),
        (dict(repository="api"), ["one of the following is required", "digest", "tag"]),
        (dict(repository="Payments/API", tag="1.0"), ["repository", "lower-case"]),
        (dict(repository="api", tag=".bad"), ["tag", "not a valid tag"]),
        (dict(repository="api", tag="1.0", tags=["ok", "bad tag"]), ["tags", "not a valid tag"]),
        (dict(repository="api", tag="1.0", require_labels=[""]), ["require_labels", "empty"]),
        (dict(project="Bad_Project", repository="api", tag="1.0"), ["project", "invalid"]),
    ]
    tasks = [{"name": "case %d" % i, "ignore_errors": True, "registryops.harbor.promote": dict(
        dict(project="payments", destination=destination(test)), **args)} for i, (args, _w) in enumerate(cases)]
    tasks.append({"name": "same repository", "ignore_errors": True, "registryops.harbor.promote": dict(
        project="payments", repository="api", tag="1.0", destination=destination(dev))})
    tasks.append({"name": "not a URL", "ignore_errors": True, "registryops.harbor.promote": dict(
        project="payments", repository="api", tag="1.0",
        destination=dict(destination(test), api_url="harbor-test.example.com"))})
    cases += [(None, ["same repository"]), (None, ["destination.api_url", "http://"])]
    reset(dev, test)
    _rc, results = run_tasks(tasks, dev.url)
    assert len(results) == len(cases)
    for (args, words), result in zip(cases, results):
        assert result["failed"] and all(w in result["msg"] for w in words), (args, result.get("msg"))
        assert "Harbor12345" not in json.dumps(result)
    assert dev.request_counts()["total"] == 0 and test.request_counts()["total"] == 0


def test_missing_things_and_read_only_destination_are_clear_errors(chain):
    dev, staging = chain["dev"], chain["staging"]
    push_image(dev.url, "payments/lonely", "1.0", auth=ADMIN, size=1_000)
    reset(staging)
    missing = promote(dev, staging, repository="lonely", tag="9.9")
    assert missing["failed"] and "payments/lonely:9.9 is not in the source Harbor" in missing["msg"]
    no_project = promote(dev, staging, repository="lonely", tag="1.0", destination_extra={"project": "nope"})
    assert no_project["failed"] and "destination project nope does not exist" in no_project["msg"]
    assert staging.registry_writes() == {}

    admin = staging.client()
    assert admin.put("/configurations", json={"read_only": True}).status_code == 200
    try:
        refused = promote(dev, staging, repository="lonely", tag="1.0", tags=["1.0"])
    finally:
        assert admin.put("/configurations", json={"read_only": False}).status_code == 200
    assert refused["failed"] and "read only mode" in refused["msg"] and staging.url in refused["msg"]

    wrong = run_module("promote", dict(project="payments", repository="lonely", tag="1.0",
                                       destination=dict(destination(staging), api_password="wrong-password")), dev.url)
    assert wrong["failed"] and "401" in wrong["msg"] and "wrong-password" not in json.dumps(wrong)


def test_big_layers_are_streamed_not_held_in_memory(chain):
    """The copy in this process, with the client of the collection: Python's peak allocation stays far
    below the layer size (the emulators run in their own processes, so only the copy is measured)."""
    from ansible_collections.registryops.harbor.plugins.module_utils.harbor.client import HarborClient
    from ansible_collections.registryops.harbor.plugins.module_utils.harbor.promote import Promotion

    dev, prod = chain["dev"], chain["prod"]
    size = 48 * 1024 * 1024
    image = push_image(dev.url, "payments/big", "1.0", auth=ADMIN, layers=1, size=size)
    params = dict(api_url=dev.url, project="payments", repository="big", digest=image.digest, tag=None,
                  tags=["1.0"], force=False, require_labels=[],
                  destination=dict(api_url=prod.url, project=None, repository=None))
    source, target = HarborClient(dev.url, *ADMIN), HarborClient(prod.url, *ADMIN)
    tracemalloc.start()
    started = time.monotonic()
    try:
        result, _diff = Promotion(source, target, params, check_mode=False).run()
        elapsed = time.monotonic() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        source.close()
        target.close()
    assert result["destination_digest"] == image.digest and result["copied"]["bytes"] >= size
    print(f"\n48 MiB layer copied in {elapsed:.2f}s ({size / elapsed / 1e6:.0f} MB/s), "
          f"peak Python allocation {peak / 1e6:.1f} MB")
    assert peak < 8 * 1024 * 1024, peak
    assert prod.digest_of("big", "1.0") == image.digest


def test_registries_that_want_bearer_tokens_get_them(chain):
    """The token flow of the collection's client: an anonymous read answered with a Bearer challenge,
    then a whole promotion with tokens fetched for each scope instead of basic auth on /v2."""
    from ansible_collections.registryops.harbor.plugins.module_utils.harbor.client import HarborClient
    from ansible_collections.registryops.harbor.plugins.module_utils.harbor.promote import Promotion

    dev, staging = chain["dev"], chain["staging"]
    dev.client().create_project("opensource", public=True)
    image = push_image(dev.url, "opensource/tool", "1.0", auth=ADMIN, size=4_000)

    anonymous = HarborClient(dev.url)  # no credentials: Harbor answers /v2 with a Bearer challenge
    try:
        assert anonymous.manifest_digest("opensource/tool", "1.0") == image.digest
        assert anonymous._token_service["realm"] == dev.url + "/service/token"
        assert anonymous.request_count == 3  # challenged, token, answered
    finally:
        anonymous.close()

    staging.client().create_project("opensource")
    source, target = HarborClient(dev.url, *ADMIN), HarborClient(staging.url, *ADMIN)
    for client in (source, target):  # as if each registry had challenged once
        client._token_service = {"realm": client.base + "/service/token", "service": "harbor-registry"}
    params = dict(api_url=dev.url, project="opensource", repository="tool", digest=None, tag="1.0", tags=["1.0"],
                  force=False, require_labels=[], destination=dict(api_url=staging.url, project=None, repository=None))
    try:
        result, _diff = Promotion(source, target, params, check_mode=False).run()
        assert set(target._tokens) == {"repository:opensource/tool:pull", "repository:opensource/tool:pull,push"}
    finally:
        source.close()
        target.close()
    assert result["destination_digest"] == image.digest == staging.digest_of("tool", "1.0", project="opensource")
