"""Roles of HA topology 1 (tls, loadbalancer, postgresql, redis, shared_storage) on this host.

Real ansible-playbook runs (local connection, every path in a temp dir):
- the tls role makes a lab CA and host certificates with the asked SANs, idempotently, and refuses
  provided files that do not belong together;
- every HAProxy variant the loadbalancer role renders passes `haproxy -c`, every keepalived file
  passes `keepalived -t`, with the VRRP peers and priorities of each load balancer;
- HAProxy run with the rendered terminate-mode configuration, in front of three TLS backends on
  loopback addresses, answers every request while a backend dies (refusing connections, or
  closing them unanswered), resends idempotent requests that failed on a node, and never resends
  a POST;
- bad input to every role fails with a clear message before anything is written;
- postgresql's password check accepts exactly the password a real PostgreSQL stored.
Whole-role runs (packages, systemd services) are the molecule scenario's job (molecule/ha_shared_storage).
"""

import http.server
import json
import os
import shutil
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import requests
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.dirname(sys.executable)
CI = os.environ.get("CI", "").lower() == "true"


def need(condition, reason):
    """Skip when this machine lacks something; under CI that is a failure."""
    if condition:
        return
    if CI:
        pytest.fail("CI=true and " + reason)
    pytest.skip(reason)


def need_tools(*tools):
    """openssl, haproxy, keepalived (Debian packages of the same names), systemd-escape, systemd-analyze (systemd)."""
    missing = [tool for tool in tools if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")]
    need(not missing, "missing %s (Debian packages haproxy keepalived openssl postgresql)" % ", ".join(missing))


def tool(name):
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def ansible_playbook(workdir, inventory, plays, *args):
    """Run `plays` with the repository's ansible.cfg; return the CompletedProcess."""
    inventory_path = os.path.join(workdir, "inventory-%d.yml" % time.monotonic_ns())
    playbook_path = os.path.join(workdir, "playbook-%d.yml" % time.monotonic_ns())
    with open(inventory_path, "w") as handle:
        yaml.safe_dump(inventory, handle)
    with open(playbook_path, "w") as handle:
        yaml.safe_dump(plays, handle)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_ROLES_PATH=os.path.join(REPO, "roles"), ANSIBLE_DEPRECATION_WARNINGS="0",
               ANSIBLE_LOCALHOST_WARNING="0", PATH=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    return subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", inventory_path, playbook_path, *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def recap(output):
    """{host: {ok, changed, failed, ...}} from the PLAY RECAP."""
    counts = {}
    for line in output.split("PLAY RECAP")[-1].splitlines()[1:]:
        if ":" not in line:
            continue
        host, rest = line.split(":", 1)
        counts[host.strip()] = {key: int(value) for key, value in (item.split("=") for item in rest.split())}
    return counts


def local(**host_vars):
    return {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, **host_vars}


def free_port(address="127.0.0.1"):
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


BACKEND_ADDRESSES = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]


def vrrp_interface():
    """keepalived refuses the loopback interface, even to check a file: any other interface of this host."""
    names = sorted(name for name in os.listdir("/sys/class/net") if name != "lo")
    need(bool(names), "keepalived -t needs a non-loopback network interface")
    return names[0]


# ---------------------------------------------------------------------------------------------------
# Every role variable is documented (meta/argument_specs.yml) and has a default unless it is required.
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["tls", "loadbalancer", "postgresql", "redis", "shared_storage", "dual_master"])
def test_every_variable_is_documented(role):
    with open(os.path.join(REPO, "roles", role, "defaults", "main.yml")) as handle:
        defaults = yaml.safe_load(handle) or {}
    with open(os.path.join(REPO, "roles", role, "meta", "argument_specs.yml")) as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    required = {name for name, spec in options.items() if spec.get("required")}
    assert set(defaults) == set(options) - required
    assert all(spec.get("description") and spec.get("type") for spec in options.values())
    assert all(name.startswith(role + "_") for name in options)


# ---------------------------------------------------------------------------------------------------
# One ansible-playbook run renders everything the tests below read.
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rendered():
    need_tools("openssl", "haproxy", "keepalived", "systemd-escape", "systemd-analyze")
    workdir = tempfile.mkdtemp(prefix="roles-infra-")
    out = os.path.join(workdir, "out")
    os.makedirs(out)
    tls_dir = os.path.join(workdir, "tls")
    frontend_port = free_port()
    backend_port = free_port()
    common_lb = {
        "loadbalancer_backend_https_port": backend_port,
        "loadbalancer_backend_http_port": backend_port,
        "loadbalancer_stats_socket": os.path.join(workdir, "admin.sock"),
        "loadbalancer_stats_listen": "",
        "loadbalancer_log_target": "stdout",
        "loadbalancer_backend_ca": os.path.join(tls_dir, "ca.crt"),
        "loadbalancer_tls_bundle": os.path.join(tls_dir, "server.pem"),
    }
    variants = {
        "passthrough": {"loadbalancer_http_enabled": True, "loadbalancer_http_action": "redirect"},
        "terminate": {"loadbalancer_tls_mode": "terminate", "loadbalancer_https_port": frontend_port},
        "terminate_plain": {"loadbalancer_tls_mode": "terminate", "loadbalancer_backend_tls": False,
                            "loadbalancer_external_hostname": "registry.example.test"},
        # dual master: the second node is a standby (HAProxy `backup`)
        "standby": {"loadbalancer_tls_mode": "terminate", "loadbalancer_backend_servers": [
            {"name": "harbor-a", "address": BACKEND_ADDRESSES[0]},
            {"name": "harbor-b", "address": BACKEND_ADDRESSES[1], "backup": True}]},
        "http_only": {"loadbalancer_https_enabled": False, "loadbalancer_http_enabled": True,
                      "loadbalancer_health_check_body": "",
                      "loadbalancer_l7_retry_methods": ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]},
    }
    inventory = {"all": {"children": {
        "controller": {"hosts": {"localhost": local()}},
        "variants": {"hosts": {name: local(**common_lb, **values) for name, values in variants.items()}},
        "loadbalancers": {"hosts": {
            "lb1": local(loadbalancer_vrrp_address="127.0.0.21"),
            "lb2": local(loadbalancer_vrrp_address="127.0.0.22"),
            "lb3": local(loadbalancer_vrrp_address="127.0.0.23", loadbalancer_vrrp_nopreempt=True,
                         loadbalancer_vrrp_auth_pass="s3cr3t"),
        }},
        "harbor_nodes": {"hosts": {"node%d" % (index + 1): local(loadbalancer_backend_address=address)
                                   for index, address in enumerate(BACKEND_ADDRESSES)}},
    }}}
    template = os.path.join(REPO, "roles", "loadbalancer", "templates")
    interface = vrrp_interface()
    plays = [
        {"name": "Certificates", "hosts": "controller", "gather_facts": False,
         "vars": {"tls_dir": tls_dir, "tls_lab_ca_dir": os.path.join(workdir, "ca"), "tls_vip": "10.9.9.9",
                  "tls_extra_dns_names": ["registry.example.test", "127.0.0.1"]},
         "roles": ["tls"]},
        {"name": "HAProxy variants", "hosts": "variants", "gather_facts": False, "tasks": [
            {"name": "Resolve the backends", "ansible.builtin.include_role": {
                "name": "loadbalancer", "tasks_from": "validate.yml", "public": True},
             "vars": {"loadbalancer_keepalived_enabled": False}},
            {"name": "Render", "ansible.builtin.template": {
                "src": os.path.join(template, "haproxy.cfg.j2"), "dest": out + "/{{ inventory_hostname }}.cfg",
                "mode": "0644", "validate": "haproxy -c -f %s"}},
        ]},
        {"name": "keepalived", "hosts": "loadbalancers", "gather_facts": False,
         "vars": {"loadbalancer_vip": "192.0.2.200", "loadbalancer_vip_prefix": 24,
                  "loadbalancer_vrrp_interface": interface, "loadbalancer_https_enabled": False,
                  "loadbalancer_http_enabled": True},
         "tasks": [
             {"name": "Resolve peers", "ansible.builtin.include_role": {
                 "name": "loadbalancer", "tasks_from": "validate.yml", "public": True}},
             {"name": "Render", "ansible.builtin.template": {
                 "src": os.path.join(template, "keepalived.conf.j2"),
                 "dest": out + "/{{ inventory_hostname }}-keepalived.conf", "mode": "0600",
                 "validate": "keepalived -t -f %s"}},
         ]},
        {"name": "NFS mount unit", "hosts": "controller", "gather_facts": False,
         "vars": {"shared_storage_path": "/data/harbor-registry",
                  "shared_storage_mount_source": "nfs.example.test:/exports/harbor",
                  "shared_storage_mount_options": "rw,nfsvers=4.1,hard,_netdev"},
         "tasks": [
             {"name": "Name the unit", "ansible.builtin.command": {
                 "argv": ["systemd-escape", "--path", "--suffix=mount", "{{ shared_storage_path }}"]},
              "register": "unit_name", "changed_when": False},
             {"name": "Render", "ansible.builtin.template": {
                 "src": os.path.join(REPO, "roles", "shared_storage", "templates", "nfs.mount.j2"),
                 "dest": out + "/{{ unit_name.stdout }}", "mode": "0644"}},
         ]},
    ]
    first = ansible_playbook(workdir, inventory, plays)
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
    second = ansible_playbook(workdir, inventory, plays)
    assert second.returncode == 0, second.stdout[-6000:] + second.stderr[-3000:]
    yield {"workdir": workdir, "out": out, "interface": interface, "tls_dir": tls_dir, "frontend_port": frontend_port,
           "backend_port": backend_port, "first": first, "second": second}
    if not os.environ.get("KEEP"):
        shutil.rmtree(workdir, ignore_errors=True)


def read(path):
    with open(path) as handle:
        return handle.read()


# ---------------------------------------------------------------------------------------------------
# tls
# ---------------------------------------------------------------------------------------------------
def openssl(*args):
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=True).stdout


def test_lab_ca_certificate_has_the_asked_names_and_verifies(rendered):
    tls_dir = rendered["tls_dir"]
    text = openssl("x509", "-in", os.path.join(tls_dir, "server.crt"), "-noout", "-text")
    san = text.split("Subject Alternative Name:")[1].splitlines()[1].strip()
    names = sorted(item.strip() for item in san.split(","))
    # the inventory name, the extra DNS name, the VIP, and an "extra DNS name" that is an address
    assert names == sorted(["DNS:localhost", "DNS:registry.example.test", "IP Address:10.9.9.9",
                            "IP Address:127.0.0.1"])
    assert "CA:FALSE" in text and "TLS Web Server Authentication" in text
    verified = subprocess.run(["openssl", "verify", "-purpose", "sslserver", "-CAfile",
                               os.path.join(tls_dir, "ca.crt"), os.path.join(tls_dir, "server.crt")],
                              capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # the bundle is the certificate then its key, and only root may read key and bundle
    bundle = read(os.path.join(tls_dir, "server.pem"))
    assert bundle == read(os.path.join(tls_dir, "server.crt")).rstrip("\n") + "\n" + \
        read(os.path.join(tls_dir, "server.key")).rstrip("\n") + "\n"
    for name in ("server.key", "server.pem"):
        assert oct(os.stat(os.path.join(tls_dir, name)).st_mode & 0o777) == "0o600"


def test_second_run_changes_nothing(rendered):
    counts = recap(rendered["second"].stdout)
    assert counts and all(host["changed"] == 0 for host in counts.values()), rendered["second"].stdout[-3000:]
    assert recap(rendered["first"].stdout)["localhost"]["changed"] > 0


def test_a_new_name_makes_a_new_certificate_from_the_same_ca(rendered):
    workdir = rendered["workdir"]
    tls_dir = os.path.join(workdir, "tls-renamed")
    before_ca = read(os.path.join(rendered["tls_dir"], "ca.crt"))
    play = [{"hosts": "localhost", "gather_facts": False, "roles": ["tls"],
             "vars": {"tls_dir": tls_dir, "tls_lab_ca_dir": os.path.join(workdir, "ca"),
                      "tls_extra_dns_names": ["other.example.test"]}}]
    result = ansible_playbook(workdir, {"all": {"hosts": {"localhost": local()}}}, play)
    assert result.returncode == 0, result.stdout[-4000:]
    assert read(os.path.join(tls_dir, "ca.crt")) == before_ca
    text = openssl("x509", "-in", os.path.join(tls_dir, "server.crt"), "-noout", "-ext", "subjectAltName")
    assert "other.example.test" in text and "registry.example.test" not in text
    # the key is the host's, kept across certificates
    assert read(os.path.join(tls_dir, "server.key")) == read(os.path.join(rendered["tls_dir"], "server.key"))


# ---------------------------------------------------------------------------------------------------
# loadbalancer: rendered configurations
# ---------------------------------------------------------------------------------------------------
def backend_section(config, name):
    return config.split("\nbackend " + name + "\n")[1].split("\n\n")[0]


def test_passthrough_checks_nodes_over_tls_and_redispatches(rendered):
    config = read(os.path.join(rendered["out"], "passthrough.cfg"))
    assert "retries 3" in config and "option redispatch 1" in config
    assert "inter 1s fall 2 rise 2 on-marked-down shutdown-sessions" in config
    backend = backend_section(config, "harbor_tcp")
    assert "mode tcp" in backend
    assert "http-check send meth GET uri /api/v2.0/ping ver HTTP/1.1 hdr Host localhost" in backend
    assert "http-check expect status 200" in backend and "http-check expect string Pong" in backend
    servers = [line.split() for line in backend.splitlines() if line.strip().startswith("server ")]
    assert [(parts[1], parts[2]) for parts in servers] == [
        ("node%d" % (index + 1), "%s:%d" % (address, rendered["backend_port"]))
        for index, address in enumerate(BACKEND_ADDRESSES)]
    assert all("check-ssl" in parts and "required" in parts for parts in servers)
    # HTTP redirects, and no layer-7 retry exists in a tcp backend
    assert "http-request redirect scheme https code 301" in config and "retry-on" not in config


def test_a_standby_backend_gets_traffic_only_when_no_other_node_is_up(rendered):
    backend = backend_section(read(os.path.join(rendered["out"], "standby.cfg")), "harbor_https")
    servers = {line.split()[1]: line.split() for line in backend.splitlines() if line.strip().startswith("server ")}
    assert set(servers) == {"harbor-a", "harbor-b"}
    assert servers["harbor-b"][-1] == "backup" and "backup" not in servers["harbor-a"]


def test_terminate_modes_retry_only_idempotent_methods(rendered):
    tls_backend = backend_section(read(os.path.join(rendered["out"], "terminate.cfg")), "harbor_https")
    assert "retry-on all-retryable-errors" in tls_backend
    assert "acl registryops_l7_retryable method GET HEAD OPTIONS" in tls_backend
    assert "http-request disable-l7-retry if !registryops_l7_retryable" in tls_backend
    assert " ssl verify required ca-file " in tls_backend
    plain = read(os.path.join(rendered["out"], "terminate_plain.cfg"))
    assert "default_backend harbor_http" in plain and "backend harbor_https" not in plain
    assert "hdr Host registry.example.test" in plain
    http_only = read(os.path.join(rendered["out"], "http_only.cfg"))
    assert "frontend harbor_https" not in http_only and "http-check expect string" not in http_only
    assert "method GET HEAD OPTIONS PUT DELETE" in http_only


def test_keepalived_peers_priorities_and_options(rendered):
    configs = {name: read(os.path.join(rendered["out"], name + "-keepalived.conf")) for name in ("lb1", "lb2", "lb3")}

    def peers(config):
        return config.split("unicast_peer {")[1].split("}")[0].split()

    assert "priority 150" in configs["lb1"] and "priority 140" in configs["lb2"] and "priority 130" in configs["lb3"]
    assert "unicast_src_ip 127.0.0.21" in configs["lb1"] and peers(configs["lb1"]) == ["127.0.0.22", "127.0.0.23"]
    assert peers(configs["lb3"]) == ["127.0.0.21", "127.0.0.22"]
    for config in configs.values():
        assert "state BACKUP" in config and "advert_int 1" in config
        assert "192.0.2.200/24 dev %s" % rendered["interface"] in config
        assert 'script "/usr/bin/systemctl is-active --quiet haproxy.service"' in config
    assert "nopreempt" in configs["lb3"] and "nopreempt" not in configs["lb1"]
    assert "auth_pass s3cr3t" in configs["lb3"] and "authentication" not in configs["lb1"]


def test_nfs_mount_unit_is_valid_for_its_path(rendered):
    unit = os.path.join(rendered["out"], r"data-harbor\x2dregistry.mount")
    assert os.path.exists(unit), os.listdir(rendered["out"])
    verified = subprocess.run([tool("systemd-analyze"), "verify", unit], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    text = read(unit)
    assert "What=nfs.example.test:/exports/harbor" in text and "Where=/data/harbor-registry" in text
    assert "Type=nfs" in text and "Options=rw,nfsvers=4.1,hard,_netdev" in text


# ---------------------------------------------------------------------------------------------------
# loadbalancer: HAProxy with the rendered terminate-mode configuration, in front of real backends
# ---------------------------------------------------------------------------------------------------
class Backend:
    """An HTTPS server on one loopback address: answers Pong to the health check and its name otherwise.
    `mode` switches what it does with requests: ok, close (drop the connection unanswered), 502."""

    def __init__(self, name, address, port, tls_dir):
        self.name, self.mode, self.hits = name, "ok", []
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if self.path == "/api/v2.0/ping":
                    body = b"Pong"
                else:
                    backend.hits.append((self.command, self.path))
                    if backend.mode == "close" or (backend.mode == "close-get" and self.command == "GET"):
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if backend.mode == "502":
                        self.send_response(502)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    body = backend.name.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = answer

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(tls_dir, "server.crt"), os.path.join(tls_dir, "server.key"))
        self.server = Server((address, port), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        """The node is gone: its port refuses connections."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def haproxy_in_front(rendered):
    need(os.geteuid() == 0, "HAProxy's rendered configuration chroots and drops to the haproxy user: needs root")
    backends = [Backend("node%d" % (index + 1), address, rendered["backend_port"], rendered["tls_dir"])
                for index, address in enumerate(BACKEND_ADDRESSES)]
    log_path = os.path.join(rendered["workdir"], "haproxy.log")
    with open(log_path, "w") as log:
        process = subprocess.Popen([tool("haproxy"), "-db", "-f", os.path.join(rendered["out"], "terminate.cfg")],
                                   stdout=log, stderr=subprocess.STDOUT)
    session = requests.Session()
    # No proxy and no CA bundle from the environment (REQUESTS_CA_BUNDLE would override `verify`).
    session.trust_env = False
    session.verify = os.path.join(rendered["tls_dir"], "ca.crt")
    url = "https://127.0.0.1:%d" % rendered["frontend_port"]
    try:
        deadline, last = time.monotonic() + 15, None
        while True:
            try:
                last = session.get(url + "/", timeout=2)
                if last.status_code == 200:
                    break
            except requests.ConnectionError as error:
                last = error
            assert process.poll() is None and time.monotonic() < deadline, "%r\n%s" % (last, read(log_path))
            time.sleep(0.2)
        yield session, url, backends
    finally:
        process.terminate()
        process.wait(timeout=10)
        for backend in backends:
            if backend.thread.is_alive():
                backend.stop()


def test_no_client_error_while_a_node_dies(haproxy_in_front):
    session, url, backends = haproxy_in_front
    answers, failures = [], []
    for index in range(150):
        if index == 30:
            backends[1].mode = "close"   # dying: accepts, then drops requests unanswered
        if index == 60:
            backends[1].stop()           # dead: refuses connections
        try:
            response = session.get(url + "/v2/", timeout=10)
            answers.append(response.text)
            if response.status_code != 200:
                failures.append((index, response.status_code))
        except requests.RequestException as error:
            failures.append((index, repr(error)))
    assert failures == []
    # the dying node saw requests and answered none; the others served everything
    assert backends[1].hits and "node2" not in answers[30:]
    assert set(answers) == {"node1", "node2", "node3"}


def test_failed_get_goes_to_another_node_and_post_is_never_resent(haproxy_in_front):
    session, url, backends = haproxy_in_front
    backends[0].mode = "502"
    backends[2].mode = "close"
    for _ in range(12):
        response = session.get(url + "/api/v2.0/projects", timeout=10)
        assert (response.status_code, response.text) == (200, "node2")
    for backend in backends:
        backend.hits.clear()
    statuses = []
    for _ in range(6):
        try:
            statuses.append(session.post(url + "/api/v2.0/projects", json={}, timeout=10).status_code)
        except requests.RequestException as error:
            statuses.append(type(error).__name__)
    posts = {backend.name: [hit for hit in backend.hits if hit[0] == "POST"] for backend in backends}
    # each POST reached exactly one node: the ones that reached a failing node failed, none was resent
    assert sum(len(hits) for hits in posts.values()) == len(statuses) == 6
    assert statuses.count(200) == len(posts["node2"])
    assert len(posts["node1"]) + len(posts["node3"]) > 0


# ---------------------------------------------------------------------------------------------------
# Bad input: a clear message, nothing written
# ---------------------------------------------------------------------------------------------------
ONE_BACKEND = {"loadbalancer_backend_servers": [{"name": "node1", "address": "127.0.0.1"}]}
# case: (role, variables, text expected in the failure message or in the failed assertion)
# tls cases are completed by the test: CERT, KEY, CA, LAB_CA_KEY and OTHER_CA stand for files it made.
BAD_INPUT = {
    "tls_wrong_key": ("tls", {"tls_provided_key": "LAB_CA_KEY"}, "the key does not belong to the certificate"),
    "tls_missing_file": ("tls", {"tls_provided_key": "/nonexistent/key.pem"},
                         "not found on the controller: /nonexistent/key.pem"),
    "tls_wrong_ca": ("tls", {"tls_provided_ca": "OTHER_CA"}, "does not verify against the CA"),
    "lb_no_backends": ("loadbalancer", {"loadbalancer_backend_group": "nobody"}, "(found: 0)"),
    "lb_no_vip": ("loadbalancer", {**ONE_BACKEND, "loadbalancer_vrrp_address": "10.0.0.1"},
                  "loadbalancer_vip | length > 0"),
    "lb_long_pass": ("loadbalancer", {**ONE_BACKEND, "loadbalancer_vip": "10.0.0.9",
                                      "loadbalancer_vrrp_address": "10.0.0.1", "loadbalancer_vrrp_auth_pass": "123456789"},
                     "loadbalancer_vrrp_auth_pass | length <= 8"),
    "lb_redirect_without_https": ("loadbalancer", {**ONE_BACKEND, "loadbalancer_https_enabled": False,
                                                   "loadbalancer_http_enabled": True,
                                                   "loadbalancer_http_action": "redirect"},
                                  "loadbalancer_http_action != 'redirect' or loadbalancer_https_enabled"),
    "lb_no_bundle": ("loadbalancer", {**ONE_BACKEND, "loadbalancer_keepalived_enabled": False,
                                      "loadbalancer_tls_mode": "terminate",
                                      "loadbalancer_tls_bundle": "/nonexistent/bundle.pem"},
                     "needs the certificate+key bundle /nonexistent/bundle.pem"),
    "pg_no_networks": ("postgresql", {"postgresql_harbor_password": "x"}, "set postgresql_client_networks"),
    "pg_bad_name": ("postgresql", {"postgresql_harbor_password": "x", "postgresql_client_networks": ["10.0.0.0/8"],
                                   "postgresql_databases": ["Registry;drop"]},
                    "postgresql_databases | reject('match', '^[a-z_][a-z0-9_]*$')"),
    "pg_no_password": ("postgresql", {"postgresql_client_networks": ["10.0.0.0/8"]},
                       "missing required arguments: postgresql_harbor_password"),
    "redis_empty_password": ("redis", {"redis_password": ""}, "redis_password | length > 0"),
    "redis_no_service": ("redis", {"redis_password": "p", "redis_server_enabled": False},
                         "redis_server_enabled or redis_sentinel_enabled"),
    "storage_nfs_no_server": ("shared_storage", {"shared_storage_mode": "nfs"},
                              "nfs mode needs shared_storage_nfs_server"),
    "storage_relative_path": ("shared_storage", {"shared_storage_path": "data/registry"},
                              "must be an absolute path"),
    "storage_s3_typo": ("shared_storage", {"shared_storage_mode": "s3",
                                           "shared_storage_s3": {"region": "r", "bucket": "b", "buckett": "x"}},
                        "unknown: buckett"),
    "storage_s3_half_keys": ("shared_storage", {"shared_storage_mode": "s3",
                                                "shared_storage_s3": {"region": "r", "bucket": "b", "accesskey": "a"}},
                             "(shared_storage_s3.accesskey is defined) == (shared_storage_s3.secretkey is defined)"),
    "storage_swift_no_container": ("shared_storage", {"shared_storage_mode": "swift", "shared_storage_swift": {
        "authurl": "https://keystone.example.test/v3", "username": "u", "password": "p"}},
                                   "shared_storage_swift.container"),
    "storage_bad_mode": ("shared_storage", {"shared_storage_mode": "ceph"},
                         "value of shared_storage_mode must be one of"),
}


def test_bad_input_fails_clearly_before_any_write(rendered):
    workdir = rendered["workdir"]
    other = os.path.join(workdir, "other-ca")
    os.makedirs(other, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=other",
                    "-keyout", os.path.join(other, "ca.key"), "-out", os.path.join(other, "ca.crt"), "-days", "2"],
                   capture_output=True, check=True)
    files = {"LAB_CA_KEY": os.path.join(workdir, "ca", "ca.key"), "OTHER_CA": os.path.join(other, "ca.crt")}
    provided = {"tls_mode": "provided", "tls_dir": os.path.join(workdir, "never-written"),
                "tls_provided_cert": os.path.join(rendered["tls_dir"], "server.crt"),
                "tls_provided_key": os.path.join(rendered["tls_dir"], "server.key"),
                "tls_provided_ca": os.path.join(rendered["tls_dir"], "ca.crt")}
    tasks = []
    for case, (role, case_vars, _) in BAD_INPUT.items():
        if role == "tls":
            case_vars = {**provided, **{key: files.get(value, value) for key, value in case_vars.items()}}
        record = "{{ outcome | combine({'%s': (ansible_failed_result.msg | default('') | string) ~ ' | ' ~ " \
                 "(ansible_failed_result.assertion | default('') | string)}) }}" % case
        tasks.append({"name": case, "block": [
            {"name": case + " run", "ansible.builtin.include_role": {"name": role}, "vars": case_vars},
            {"name": case + " did not fail",
             "ansible.builtin.set_fact": {"outcome": "{{ outcome | combine({'%s': 'NO FAILURE'}) }}" % case}},
        ], "rescue": [{"name": case + " failed", "ansible.builtin.set_fact": {"outcome": record}}]})
    tasks.append({"name": "Save the outcomes", "ansible.builtin.copy": {
        "content": "{{ outcome | to_json }}", "dest": os.path.join(workdir, "bad-input.json"), "mode": "0644"}})
    play = [{"hosts": "localhost", "gather_facts": False, "vars": {"outcome": {}}, "tasks": tasks}]
    inventory = {"all": {"hosts": {"localhost": local()},
                         "children": {"loadbalancers": {"hosts": {}}, "harbor_nodes": {"hosts": {}}}}}
    result = ansible_playbook(workdir, inventory, play)
    assert result.returncode == 0, result.stdout[-5000:]
    with open(os.path.join(workdir, "bad-input.json")) as handle:
        outcome = json.load(handle)
    for case, (_, _, expected) in BAD_INPUT.items():
        assert expected in outcome[case], (case, outcome[case])
    # nothing but the outcome file was written, and the provided-mode destination was never created
    assert recap(result.stdout)["localhost"]["changed"] == 1
    assert not os.path.exists(os.path.join(workdir, "never-written"))


# ---------------------------------------------------------------------------------------------------
# postgresql: the password check against verifiers a real PostgreSQL stored
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def postgres_cluster():
    binaries = sorted(d for d in os.listdir("/usr/lib/postgresql") if os.path.isdir(
        os.path.join("/usr/lib/postgresql", d, "bin"))) if os.path.isdir("/usr/lib/postgresql") else []
    need(bool(binaries), "no PostgreSQL server under /usr/lib/postgresql (Debian package postgresql)")
    need(os.geteuid() == 0, "the cluster runs as the postgres user (runuser needs root)")
    bindir = os.path.join("/usr/lib/postgresql", binaries[-1], "bin")
    workdir = tempfile.mkdtemp(prefix="roles-infra-pg-")
    shutil.chown(workdir, "postgres")
    data = os.path.join(workdir, "data")
    port = free_port()

    def as_postgres(*args, **kwargs):
        return subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, **kwargs)

    assert as_postgres(os.path.join(bindir, "initdb"), "-D", data, "-A", "peer").returncode == 0
    started = as_postgres(os.path.join(bindir, "pg_ctl"), "-D", data, "-w", "-l", os.path.join(workdir, "log"),
                          "-o", "-p %d -k %s -c listen_addresses=''" % (port, workdir), "start")
    assert started.returncode == 0, started.stdout + started.stderr

    def psql(sql):
        result = as_postgres("psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", workdir, "-p", str(port),
                             "-d", "postgres", input=sql)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    try:
        yield psql
    finally:
        as_postgres(os.path.join(bindir, "pg_ctl"), "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.parametrize("encryption", ["scram-sha-256", "md5"])
@pytest.mark.parametrize("password", ["Lab-Db-Passw0rd", "quote ' backslash \\ dollar $ \"q\"", "ünï € 密码"])
def test_password_check_matches_what_postgresql_stored(postgres_cluster, encryption, password):
    literal = "'" + password.replace("'", "''") + "'"
    postgres_cluster("SET password_encryption = '%s'; DROP ROLE IF EXISTS harbor_check; "
                     "CREATE ROLE harbor_check LOGIN PASSWORD %s;" % (encryption, literal))
    verifier = postgres_cluster("SELECT rolpassword FROM pg_authid WHERE rolname = 'harbor_check'")
    assert verifier.startswith("SCRAM-SHA-256$" if encryption == "scram-sha-256" else "md5")
    script = read(os.path.join(REPO, "roles", "postgresql", "files", "password_matches.py"))

    def check(attempt):
        return subprocess.run([sys.executable, "-c", script], text=True, capture_output=True,
                              input=json.dumps({"user": "harbor_check", "password": attempt,
                                                "verifier": verifier})).returncode

    assert check(password) == 0
    assert check(password + "x") == 1
    assert check(password[:-1]) == 1
