"""Helpers for the harbor_node role tests: real ansible-playbook runs and what they printed.

Each run gets an inventory file; hosts use the local connection and this venv's Python unless
the test says otherwise. The default callback prints task results as one-line JSON
(ANSIBLE_CALLBACK_RESULT_FORMAT=json), which `Run` reads back per host.
"""

import datetime
import json
import os
import re
import subprocess
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.dirname(sys.executable)
ROLE = "registryops.harbor.harbor_node"
ROLE_DIR = os.path.join(REPO, "roles", "harbor_node")

# "fatal: [host]: FAILED! => {...}", or per loop item "failed: [host] (item=...) => {...}"
_FATAL = re.compile(r"^(?:fatal|failed): \[([^\]]+)\](?: \(item=.*?\))?(?:: FAILED!)? => (\{.*\})\s*$")
_RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


class Run:
    """One ansible-playbook run: rc, output, the recap per host and the failure messages per host."""

    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.recap = {}
        self.failures = {}
        for line in self.stdout.splitlines():
            fatal = _FATAL.match(line)
            if fatal:
                try:
                    result = json.loads(fatal.group(2))
                except ValueError:
                    result = {"msg": fatal.group(2)}
                self.failures.setdefault(fatal.group(1), []).append(result.get("msg", ""))
            recap = _RECAP.match(line)
            if recap:
                host, ok, changed, unreachable, failed = recap.groups()
                self.recap[host] = {"ok": int(ok), "changed": int(changed), "unreachable": int(unreachable),
                                    "failed": int(failed)}

    def failure(self, host):
        return " ".join(str(m) for m in self.failures.get(host, []))

    def __str__(self):
        return f"rc={self.rc}\n--- stdout\n{self.stdout[-12000:]}\n--- stderr\n{self.stderr[-4000:]}"

    __repr__ = __str__


def write_yaml(path, data):
    with open(path, "w") as handle:
        yaml.safe_dump(data, handle, sort_keys=False)
    return str(path)


def local_host_vars(**extra):
    return {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, **extra}


def ansible_playbook(playbook, inventory, *args, timeout=900, extra_env=None):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_CALLBACK_FORMAT_PRETTY="0",
               ANSIBLE_DEPRECATION_WARNINGS="0", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_RETRY_FILES_ENABLED="0",
               ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_FORKS="25")
    env.update(extra_env or {})
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", str(inventory), str(playbook), *args]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    return Run(proc)


def make_certificate(directory, name="harbor.example.com", ip_addresses=()):
    """A test CA and a server certificate it signs (SANs: `name`, localhost and `ip_addresses`).
    Returns (certificate path, key path, CA path)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def build(subject_name, issuer_name, public_key, signing_key, ca):
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_name)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
                   .public_key(public_key).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            names = [x509.DNSName(name), x509.DNSName("localhost")]
            names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = build("registryops test CA", "registryops test CA", ca_key.public_key(), ca_key, True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = build(name, "registryops test CA", key.public_key(), ca_key, False)
    paths = [os.path.join(directory, f) for f in ("server.crt", "server.key", "ca.crt")]
    for path, data in zip(paths, [cert.public_bytes(serialization.Encoding.PEM),
                                  key.private_bytes(serialization.Encoding.PEM,
                                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                                    serialization.NoEncryption()),
                                  ca.public_bytes(serialization.Encoding.PEM)]):
        with open(path, "wb") as handle:
            handle.write(data)
    os.chmod(paths[1], 0o600)
    return tuple(paths)
