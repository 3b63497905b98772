"""harbor_node role, offline_installer runtime: what can be tested without Harbor's images.

The offline installer itself (docker load, prepare, docker-compose) cannot run here: no Harbor
images and no image registry can be had on these machines. What is tested, with real
ansible-playbook runs on this host (local connection, every path in a temp dir):
- the pre-flight checks refuse bad input, in check mode and in real mode, before any write;
- harbor.yml for every storage x database x Redis combination holds only keys Harbor documents,
  with the values given (secrets with YAML-hostile characters included);
- the shared secrets are byte-identical on every node of a cluster, survive re-runs unchanged,
  come back on a node that lost them, and a disagreement is refused without printing a secret.
"""

import hashlib
import os

import pytest
import yaml

from .harbor_node_support import ROLE, ROLE_DIR, ansible_playbook, local_host_vars, make_certificate, write_yaml

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 and os.environ.get("CI", "").lower() != "true",
    reason="the role writes files owned by Harbor's uid 10000 (chown needs root); CI runs as root")


# ---------------------------------------------------------------------------------------------------
# harbor.yml keys, written from Harbor's own documentation of the file:
# goharbor/harbor make/harbor.yml.tmpl (v2.15; the file install.sh users copy to harbor.yml) and the
# v2.15.0 migration template make/photon/prepare/migrations/version_2_15_0/harbor.yml.jinja.
# A dict is a section whose keys are listed; None is a value.
# ---------------------------------------------------------------------------------------------------
# storage_service.<driver> takes the parameters of CNCF Distribution's storage drivers, which
# harbor.yml.tmpl links: https://distribution.github.io/distribution/storage-drivers/ (s3, swift pages).
S3_PARAMETERS = {"accesskey", "secretkey", "region", "regionendpoint", "forcepathstyle", "bucket", "encrypt", "keyid",
                 "secure", "skipverify", "v4auth", "chunksize", "multipartcopychunksize",
                 "multipartcopymaxconcurrency", "multipartcopythresholdsize", "rootdirectory", "storageclass",
                 "objectacl", "useragent", "usedualstack", "accelerate", "loglevel", "sessiontoken"}
SWIFT_PARAMETERS = {"authurl", "username", "password", "container", "region", "tenant", "tenantid", "domain",
                    "domainid", "tenantdomain", "tenantdomainid", "trustid", "authversion", "prefix", "endpointtype",
                    "insecureskipverify", "chunksize", "secretkey", "accesskey", "tempurlcontainerkey",
                    "tempurlmethods"}


def section(*keys, **subsections):
    return {**{key: None for key in keys}, **subsections}


HARBOR_YML = section(
    "hostname", "external_url", "harbor_admin_password", "data_volume", "_version",
    http=section("port"),
    https=section("port", "certificate", "private_key", "strong_ssl_ciphers"),
    ip_family=section(ipv6=section("enabled"), ipv4=section("enabled")),
    internal_tls=section("enabled", "dir"),
    database=section("password", "max_idle_conns", "max_open_conns", "conn_max_lifetime", "conn_max_idle_time"),
    storage_service=section("ca_bundle", filesystem=section("maxthreads"), s3=section(*S3_PARAMETERS),
                            swift=section(*SWIFT_PARAMETERS), redirect=section("disable")),
    trivy=section("ignore_unfixed", "skip_update", "skip_java_db_update", "db_repository", "java_db_repository",
                  "offline_scan", "security_check", "insecure", "timeout", "github_token"),
    jobservice=section("max_job_workers", "max_job_duration_hours", "job_loggers", "logger_sweeper_duration"),
    notification=section("webhook_job_max_retry", "webhook_job_http_client_timeout"),
    log=section("level", local=section("rotate_count", "rotate_size", "location"),
                external_endpoint=section("protocol", "host", "port")),
    external_database=section(harbor=section("host", "port", "db_name", "username", "password", "ssl_mode",
                                             "max_idle_conns", "max_open_conns")),
    redis=section("registry_db_index", "jobservice_db_index", "trivy_db_index", "harbor_db_index",
                  "cache_layer_db_index"),
    external_redis=section("host", "password", "username", "sentinel_master_set", "registry_db_index",
                           "jobservice_db_index", "trivy_db_index", "idle_timeout_seconds", "harbor_db_index",
                           "cache_layer_db_index", tlsOptions=section("enable", "rootCA")),
    uaa=section("ca_file"),
    proxy=section("http_proxy", "https_proxy", "no_proxy", "components"),
    network=section("allow_private_network_access"),
    metric=section("enabled", "port", "path"),
    upload_purging=section("enabled", "age", "interval", "dryrun"),
    cache=section("enabled", "expire_hours"),
    core=section("quota_update_provider"),
)


def undocumented_keys(doc, schema, path=""):
    """Paths of keys in `doc` that the schema does not list."""
    found = []
    for key, value in doc.items():
        where = f"{path}.{key}" if path else key
        if key not in schema:
            found.append(where)
        elif isinstance(schema[key], dict):
            assert isinstance(value, dict), f"{where} must be a section, got {value!r}"
            found += undocumented_keys(value, schema[key], where)
    return found


def test_schema_catches_an_undocumented_key():
    assert undocumented_keys({"hostname": "h", "https": {"port": 443, "cert": "x"}, "redis_url": "r"},
                             HARBOR_YML) == ["https.cert", "redis_url"]


# ---------------------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------------------
ADMIN_PASSWORD = "Adm1n-Passw0rd"
DB_PASSWORD = "d'b: \"pa#ss\" {x}"  # characters that break hand-written YAML
REDIS_PASSWORD = "r3dis: &anchor *ref"
S3 = {"region": "eu-west-1", "bucket": "harbor-images", "accesskey": "AKIDEXAMPLE", "secretkey": "s3: #secret",
      "regionendpoint": "https://s3.example.com", "forcepathstyle": True, "secure": True, "v4auth": True,
      "chunksize": 5242880, "rootdirectory": "/harbor"}
SWIFT = {"authurl": "https://keystone.example.com:5000/v3", "username": "harbor", "password": "sw1ft: pass",
         "container": "harbor", "region": "RegionOne", "tenant": "registry", "domain": "Default", "authversion": 3}


@pytest.fixture
def workdir(tmp_path):
    cert, key, _ = make_certificate(str(tmp_path))
    bundle = tmp_path / "harbor-offline-installer-v2.15.2.tgz"
    bundle.write_bytes(os.urandom(4096))  # a stand-in: only its checksum is read
    return {"dir": tmp_path, "cert": cert, "key": key, "bundle": str(bundle),
            "checksum": "sha256:" + hashlib.sha256(bundle.read_bytes()).hexdigest()}


def good_vars(work, host):
    """Variables that pass the pre-flight checks; each host writes under its own directory."""
    base = work["dir"] / host
    return local_host_vars(
        harbor_runtime="offline_installer", harbor_node_hostname="harbor.example.com",
        harbor_node_admin_password=ADMIN_PASSWORD, harbor_node_database_password=DB_PASSWORD,
        harbor_node_tls_certificate=work["cert"], harbor_node_tls_private_key=work["key"],
        harbor_node_bundle_path=work["bundle"], harbor_node_bundle_checksum=work["checksum"],
        harbor_node_data_volume=str(base / "data"), harbor_node_install_root=str(base / "opt"),
    )


def role_play(tasks_from, hosts="all", extra_tasks=()):
    return [{"hosts": hosts, "gather_facts": False, "tasks": [
        {"name": f"Run harbor_node's {tasks_from} tasks",
         "ansible.builtin.include_role": {"name": ROLE, "tasks_from": tasks_from, "public": True}},
        *extra_tasks]}]


# ---------------------------------------------------------------------------------------------------
# pre-flight: bad input fails before any write, in check mode and in real mode
# ---------------------------------------------------------------------------------------------------
# host -> (variables changed from good_vars (None removes one), text the failure must contain)
BAD_INPUTS = {
    "checksum_mismatch": ({"harbor_node_bundle_checksum": "sha256:" + "0" * 64}, "is not harbor_node_bundle_checksum"),
    "checksum_missing": ({"harbor_node_bundle_checksum": ""}, "harbor_node_bundle_checksum is mandatory"),
    "bundle_missing": ({"harbor_node_bundle_path": "/nonexistent/harbor.tgz"}, "/nonexistent/harbor.tgz is missing"),
    "bundle_twice": ({"harbor_node_bundle_url": "https://example.com/harbor.tgz"}, "exactly one of"),
    "certificate_missing": ({"harbor_node_tls_certificate": "/nonexistent/server.crt"},
                            "/nonexistent/server.crt (TLS certificate or key) is not a file"),
    "key_missing": ({"harbor_node_tls_private_key": "/nonexistent/server.key"},
                    "/nonexistent/server.key (TLS certificate or key) is not a file"),
    "admin_password_missing": ({"harbor_node_admin_password": None}, "harbor_node_admin_password is required"),
    "admin_password_weak": ({"harbor_node_admin_password": "harbor"}, "harbor_node_admin_password is required"),
    "hostname_localhost": ({"harbor_node_hostname": "127.0.0.1"}, "not localhost or 127.0.0.1"),
    "external_db_without_password": ({"harbor_node_database_type": "external", "harbor_node_database_host": "db1",
                                      "harbor_node_database_password": ""}, "harbor_node_database_password is required"),
    "external_db_without_host": ({"harbor_node_database_type": "external"}, "an external database needs host"),
    "storage_type_invalid": ({"harbor_node_storage_type": "nfs"}, "harbor_node_storage_type must be one of"),
    "s3_unknown_parameter": ({"harbor_node_storage_type": "s3",
                              "harbor_node_storage_s3": {"region": "r", "bucket": "b", "bucket_name": "x"}},
                             "unknown: bucket_name"),
    "s3_without_bucket": ({"harbor_node_storage_type": "s3", "harbor_node_storage_s3": {"region": "r"}},
                          "harbor_node_storage_s3 needs region, bucket"),
    "sentinel_without_master_set": ({"harbor_node_redis_type": "external",
                                     "harbor_node_redis_host": "s1:26379,s2:26379"}, "harbor_node_redis_sentinel_master_set"),
    "redis_host_without_port": ({"harbor_node_redis_type": "external", "harbor_node_redis_host": "redis1"},
                                "an external Redis needs harbor_node_redis_host as"),
    "runtime_unknown": ({"harbor_runtime": "kubernetes"}, "harbor_runtime must be one of"),
    "emulator_on_s3": ({"harbor_runtime": "emulator", "harbor_node_storage_type": "s3",
                        "harbor_node_storage_s3": {"region": "r", "bucket": "b"}}, "the emulator:"),
    "secret_key_length": ({"harbor_node_secret_key": "short"}, "harbor_node_secret_key takes 16 characters"),
}


@pytest.mark.parametrize("mode", ["check", "real"])
def test_preflight_refuses_bad_input_before_any_write(workdir, mode):
    hosts = {"good": good_vars(workdir, "good")}
    for name, (changes, _) in BAD_INPUTS.items():
        host_vars = good_vars(workdir, name)
        for key, value in changes.items():
            if value is None:
                host_vars.pop(key)
            else:
                host_vars[key] = value
        hosts[name] = host_vars
    inventory = write_yaml(workdir["dir"] / "inventory.yml", {"all": {"hosts": hosts}})
    playbook = write_yaml(workdir["dir"] / "preflight.yml", role_play("preflight"))

    run = ansible_playbook(playbook, inventory, *(["--check"] if mode == "check" else []))

    assert run.recap["good"]["failed"] == 0 and run.recap["good"]["changed"] == 0, run
    for name, (_, message) in BAD_INPUTS.items():
        assert run.recap[name]["failed"] == 1, f"{name} passed the pre-flight checks\n{run}"
        assert message in run.failure(name), f"{name}: {run.failure(name)!r}"
    # nothing was written for any host: their data and install directories do not exist
    assert sorted(p.name for p in workdir["dir"].iterdir() if p.is_dir()) == []
    assert ADMIN_PASSWORD not in run.stdout and DB_PASSWORD not in run.stdout


def test_preflight_comes_first_in_the_role():
    with open(os.path.join(ROLE_DIR, "tasks", "main.yml")) as handle:
        tasks = yaml.safe_load(handle)
    assert tasks[0]["ansible.builtin.include_tasks"] == "preflight.yml"
    with open(os.path.join(ROLE_DIR, "tasks", "preflight.yml")) as handle:
        modules = {key for task in yaml.safe_load(handle) for key in task if key.startswith("ansible.")}
    assert modules <= {"ansible.builtin.assert", "ansible.builtin.stat"}, modules  # reads and checks only


# ---------------------------------------------------------------------------------------------------
# harbor.yml for each storage x database x Redis combination
# ---------------------------------------------------------------------------------------------------
STORAGES = {"filesystem": {}, "s3": {"harbor_node_storage_s3": S3}, "swift": {"harbor_node_storage_swift": SWIFT}}
DATABASES = {
    "internal": {},
    "external": {"harbor_node_database_type": "external", "harbor_node_database_host": "db1.example.com",
                 "harbor_node_database_port": 6432, "harbor_node_database_name": "harbor",
                 "harbor_node_database_username": "harbor", "harbor_node_database_ssl_mode": "verify-full"},
}
REDISES = {
    "internal": {},
    "external": {"harbor_node_redis_type": "external", "harbor_node_redis_host": "redis1.example.com:6379",
                 "harbor_node_redis_password": REDIS_PASSWORD},
    "sentinel": {"harbor_node_redis_type": "external", "harbor_node_redis_password": REDIS_PASSWORD,
                 "harbor_node_redis_host": "s1.example.com:26379,s2.example.com:26379,s3.example.com:26379",
                 "harbor_node_redis_sentinel_master_set": "harbor-master",
                 "harbor_node_redis_registry_db_index": 11, "harbor_node_redis_jobservice_db_index": 12,
                 "harbor_node_redis_trivy_db_index": 13, "harbor_node_redis_idle_timeout_seconds": 60},
}
COMBINATIONS = [(s, d, r) for s in STORAGES for d in DATABASES for r in REDISES]


@needs_root
def test_harbor_yml_for_every_combination_holds_only_documented_keys(workdir):
    hosts = {}
    for storage, database, redis in COMBINATIONS:
        name = f"{storage}-{database}-{redis}"
        hosts[name] = {**good_vars(workdir, name), "harbor_node_storage_type": storage, **STORAGES[storage],
                       **DATABASES[database], **REDISES[redis]}
    # one host also turns on what the others leave at their defaults
    hosts["filesystem-internal-internal"].update(
        harbor_node_with_trivy=True, harbor_node_trivy_github_token="ghp_token", harbor_node_cache_enabled=True,
        harbor_node_external_url="https://registry.example.com:8443", harbor_node_storage_redirect_disable=True,
        harbor_node_log_external_endpoint={"protocol": "udp", "host": "syslog1", "port": 514},
        harbor_node_proxy_http="http://proxy:3128", harbor_node_proxy_components=["core", "jobservice"])
    inventory = write_yaml(workdir["dir"] / "inventory.yml", {"all": {"hosts": hosts}})
    make_dir = {"name": "Create the release directory the role renders into",
                "ansible.builtin.file": {"path": "{{ harbor_node_install_dir }}", "state": "directory",
                                         "mode": "0755"}}
    playbook = write_yaml(workdir["dir"] / "render.yml", [
        {"hosts": "all", "gather_facts": False, "tasks": [
            {"name": "Check the variables",
             "ansible.builtin.include_role": {"name": ROLE, "tasks_from": "preflight", "public": True}},
            make_dir,
            {"name": "Render harbor.yml",
             "ansible.builtin.include_role": {"name": ROLE, "tasks_from": "harbor_yml"}}]}])

    run = ansible_playbook(playbook, inventory)
    assert run.rc == 0, run
    for secret in (ADMIN_PASSWORD, DB_PASSWORD, REDIS_PASSWORD, S3["secretkey"], SWIFT["password"]):
        assert secret not in run.stdout, "a secret reached the output"

    for storage, database, redis in COMBINATIONS:
        name = f"{storage}-{database}-{redis}"
        path = workdir["dir"] / name / "opt" / "2.15.2" / "harbor" / "harbor.yml"
        assert oct(path.stat().st_mode & 0o777) == "0o600", name
        doc = yaml.safe_load(path.read_text())
        assert undocumented_keys(doc, HARBOR_YML) == [], name
        assert doc["hostname"] == "harbor.example.com"
        assert doc["harbor_admin_password"] == ADMIN_PASSWORD
        assert doc["https"] == {"port": 443, "certificate": workdir["cert"], "private_key": workdir["key"],
                                "strong_ssl_ciphers": False}
        assert doc["http"] == {"port": 80}
        assert doc["data_volume"] == str(workdir["dir"] / name / "data")
        assert doc["_version"] == "2.15.0"

        drivers = set(doc["storage_service"]) - {"ca_bundle", "redirect"}
        assert drivers == {storage}, name
        if storage == "filesystem":
            assert doc["storage_service"]["filesystem"] == {"maxthreads": 100}
        else:
            assert doc["storage_service"][storage] == (S3 if storage == "s3" else SWIFT)

        if database == "internal":
            assert "external_database" not in doc
            assert doc["database"] == {"password": DB_PASSWORD, "max_idle_conns": 100, "max_open_conns": 900,
                                       "conn_max_lifetime": "5m", "conn_max_idle_time": 0}
        else:
            assert "database" not in doc
            assert doc["external_database"] == {"harbor": {
                "host": "db1.example.com", "port": 6432, "db_name": "harbor", "username": "harbor",
                "password": DB_PASSWORD, "ssl_mode": "verify-full", "max_idle_conns": 2, "max_open_conns": 0}}

        if redis == "internal":
            assert "external_redis" not in doc
        elif redis == "external":
            assert doc["external_redis"] == {"host": "redis1.example.com:6379", "password": REDIS_PASSWORD,
                                             "registry_db_index": 1, "jobservice_db_index": 2, "trivy_db_index": 5,
                                             "idle_timeout_seconds": 30}
        else:
            assert doc["external_redis"] == {
                "host": "s1.example.com:26379,s2.example.com:26379,s3.example.com:26379", "password": REDIS_PASSWORD,
                "sentinel_master_set": "harbor-master", "registry_db_index": 11, "jobservice_db_index": 12,
                "trivy_db_index": 13, "idle_timeout_seconds": 60}

    full = yaml.safe_load((workdir["dir"] / "filesystem-internal-internal" / "opt" / "2.15.2" / "harbor" /
                           "harbor.yml").read_text())
    assert full["external_url"] == "https://registry.example.com:8443"
    assert full["trivy"]["github_token"] == "ghp_token" and full["trivy"]["security_check"] == "vuln"
    assert full["cache"] == {"enabled": True, "expire_hours": 24}
    assert full["storage_service"]["redirect"] == {"disable": True}
    assert full["log"]["external_endpoint"] == {"protocol": "udp", "host": "syslog1", "port": 514}
    assert full["proxy"] == {"http_proxy": "http://proxy:3128", "https_proxy": "", "no_proxy": "",
                             "components": ["core", "jobservice"]}
    plain = yaml.safe_load((workdir["dir"] / "s3-internal-internal" / "opt" / "2.15.2" / "harbor" /
                            "harbor.yml").read_text())
    assert "trivy" not in plain and "external_url" not in plain


# ---------------------------------------------------------------------------------------------------
# shared secrets: identical bytes on every node of a cluster
# ---------------------------------------------------------------------------------------------------
NODES = ["node1", "node2", "node3"]
SECRET_FILES = {  # offline_installer: name -> path under the node's directory
    "secret_key": ("data", "secret", "keys", "secretkey"),
    "token_private_key": ("data", "secret", "core", "private_key.pem"),
    "token_certificate": ("data", "secret", "registry", "root.crt"),
    "csrf_key": ("opt", "secrets", "csrf_key"),
}


def read_secrets(work, node):
    return {name: (work["dir"] / node).joinpath(*parts).read_bytes() for name, parts in SECRET_FILES.items()}


@needs_root
def test_shared_secrets_are_identical_on_every_node(workdir):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    inventory = write_yaml(workdir["dir"] / "inventory.yml",
                           {"all": {"hosts": {node: good_vars(workdir, node) for node in NODES}}})
    playbook = write_yaml(workdir["dir"] / "secrets.yml", role_play("secrets"))

    first = ansible_playbook(playbook, inventory)
    assert first.rc == 0, first
    secrets = read_secrets(workdir, "node1")
    for node in NODES[1:]:
        assert read_secrets(workdir, node) == secrets, node
    assert len(secrets["secret_key"]) == 16 and secrets["secret_key"].isalnum()  # no newline: Harbor wants 16
    assert len(secrets["csrf_key"]) == 32 and secrets["csrf_key"].isalnum()
    key = serialization.load_pem_private_key(secrets["token_private_key"], password=None)
    assert secrets["token_private_key"].startswith(b"-----BEGIN RSA PRIVATE KEY-----") and key.key_size == 4096
    certificate = x509.load_pem_x509_certificate(secrets["token_certificate"])
    assert certificate.public_key().public_numbers() == key.public_key().public_numbers()
    path = workdir["dir"] / "node2" / "data" / "secret" / "keys" / "secretkey"
    assert (path.stat().st_uid, path.stat().st_gid, path.stat().st_mode & 0o777) == (10000, 10000, 0o600)
    for value in secrets.values():
        assert value.decode().strip().splitlines()[1 if b"BEGIN" in value else 0] not in first.stdout

    again = ansible_playbook(playbook, inventory)
    assert again.rc == 0 and all(again.recap[node]["changed"] == 0 for node in NODES), again
    assert all(read_secrets(workdir, node) == secrets for node in NODES)

    # a node that lost its secrets gets the cluster's back, not new ones
    for parts in SECRET_FILES.values():
        (workdir["dir"] / "node2").joinpath(*parts).unlink()
    restored = ansible_playbook(playbook, inventory)
    assert restored.rc == 0 and restored.recap["node2"]["changed"] > 0 and restored.recap["node1"]["changed"] == 0
    assert read_secrets(workdir, "node2") == secrets


@needs_root
def test_disagreeing_secrets_are_refused_without_showing_them(workdir):
    hosts = {node: good_vars(workdir, node) for node in NODES}
    inventory = write_yaml(workdir["dir"] / "inventory.yml", {"all": {"hosts": hosts}})
    playbook = write_yaml(workdir["dir"] / "secrets.yml", role_play("secrets"))
    assert ansible_playbook(playbook, inventory).rc == 0
    cluster_key = read_secrets(workdir, "node1")["secret_key"]

    # node3 holds another key (say, installed alone once): which one encrypted the data is unknown
    odd = workdir["dir"] / "node3" / "data" / "secret" / "keys" / "secretkey"
    odd.write_bytes(b"0123456789abcdef")
    run = ansible_playbook(playbook, inventory)
    assert run.rc != 0
    for node in NODES:
        assert "nodes hold different values (node1, node2 / node3)" in run.failure(node), run
    assert cluster_key.decode() not in run.stdout and "0123456789abcdef" not in run.stdout
    assert odd.read_bytes() == b"0123456789abcdef"  # refused before any write

    # a key given in the variables that differs from the nodes' is refused too, unless replacing is asked for
    odd.write_bytes(cluster_key)
    given = "GivenKey16chars0"
    for node in NODES:
        hosts[node]["harbor_node_secret_key"] = given
    write_yaml(workdir["dir"] / "inventory.yml", {"all": {"hosts": hosts}})
    run = ansible_playbook(playbook, inventory)
    assert run.rc != 0 and "differs from the one on node1, node2, node3" in run.failure("node1"), run
    assert given not in run.stdout
    run = ansible_playbook(playbook, inventory, "-e", "harbor_node_replace_secrets=true")
    assert run.rc == 0, run
    assert all(read_secrets(workdir, node)["secret_key"] == given.encode() for node in NODES)


@needs_root
def test_two_clusters_in_one_play_get_their_own_secrets(workdir):
    hosts = {node: good_vars(workdir, node) for node in NODES + ["other1", "other2"]}
    for node in NODES:
        hosts[node]["harbor_node_cluster_hosts"] = NODES
    for node in ("other1", "other2"):
        hosts[node]["harbor_node_cluster_hosts"] = ["other1", "other2"]
    inventory = write_yaml(workdir["dir"] / "inventory.yml", {"all": {"hosts": hosts}})
    run = ansible_playbook(write_yaml(workdir["dir"] / "secrets.yml", role_play("secrets")), inventory)
    assert run.rc == 0, run
    first, second = read_secrets(workdir, "node1"), read_secrets(workdir, "other1")
    assert read_secrets(workdir, "node3") == first and read_secrets(workdir, "other2") == second
    assert all(first[name] != second[name] for name in SECRET_FILES)


# ---------------------------------------------------------------------------------------------------
# the role's contract: every variable documented, pins that agree with the test-host wheelhouse
# ---------------------------------------------------------------------------------------------------
def _load(*parts):
    with open(os.path.join(ROLE_DIR, *parts)) as handle:
        return yaml.safe_load(handle)


def test_argument_specs_document_every_variable_and_its_default():
    defaults = _load("defaults", "main.yml")
    options = _load("meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    # harbor_runtime is inventory-wide (read in vars/main.yml); the admin password has no default
    assert set(options) == set(defaults) | {"harbor_runtime", "harbor_node_admin_password"}
    for name, value in defaults.items():
        if "default" in options[name]:
            assert options[name]["default"] == value, name
        else:
            assert value is None or name == "harbor_node_emulator_requirements", name
    assert options["harbor_node_admin_password"]["required"] is True


def test_emulator_pins_match_the_test_host_wheelhouse():
    with open(os.path.join(ROLE_DIR, "..", "..", "lab", "images", "lab-wheels.txt")) as handle:
        wheelhouse = {line.split("#")[0].strip() for line in handle if line.split("#")[0].strip()}
    build_tools = {pin for pin in wheelhouse if pin.split("==")[0] in ("setuptools", "wheel", "packaging")}
    pins = _load("defaults", "main.yml")["harbor_node_emulator_requirements"]
    assert all("==" in pin for pin in pins)
    assert set(pins) == wheelhouse - build_tools
