"""The README's demo, `make demo`, end to end: nine lab Harbors, the environments configured,
a sample image promoted by digest dev -> test -> staging -> prod and carried by the tree to every
edge, the replication report written, and everything it started stopped again."""

import os
import re
import socket
import subprocess
import time

import pytest
import yaml

from .ansible_runner import REPO

pytestmark = pytest.mark.emulator_only  # starts the lab inventory's own emulators


def lab_ports():
    hosts = yaml.safe_load(open(os.path.join(REPO, "inventories", "lab", "hosts.yml")))
    urls = re.findall(r"http://127\.0\.0\.1:(\d+)", yaml.safe_dump(hosts))
    return sorted(int(port) for port in urls)


def listening(port):
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_make_demo_promotes_one_digest_everywhere_and_stops_what_it_started():
    ports = lab_ports()
    assert len(ports) == 9
    busy = [port for port in ports if listening(port)]
    if busy:
        pytest.fail("ports of the lab inventory already in use: %s (a demo still running?)" % busy)
    started = time.monotonic()
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0")
    run = subprocess.run(["make", "demo"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - started
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    print("\nmake demo: %.0f s" % seconds)
    digests = re.findall(r'"(sha256:[0-9a-f]{64})  ([\w-]+)"', output)
    assert sorted(host for _, host in digests) == sorted([
        "harbor-dev", "harbor-test", "harbor-staging", "harbor-prod",
        "region-eu", "region-us", "edge-paris", "edge-berlin", "edge-austin"])
    assert len({digest for digest, _ in digests}) == 1, digests
    assert "5 edge(s): 5 succeeded, 0 failed" in output
    report = os.path.join(REPO, ".lab", "replication-report", "replication_report.md")
    text = open(report).read()
    for child in ("region-eu", "region-us", "edge-paris", "edge-berlin", "edge-austin"):
        assert child in text
    assert [port for port in ports if listening(port)] == [], "the demo left emulators running"
