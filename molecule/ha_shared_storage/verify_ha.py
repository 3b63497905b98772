#!/usr/bin/env python3
"""LAB ONLY: verify HA topology 1 (Harbor nodes sharing storage, database and Redis behind a VIP).

    verify_ha.py CONFIG_JSON        (admin password in $HARBOR_PASSWORD)

CONFIG_JSON: {"vip": "172.28.61.100", "scheme": "https", "ca": "/path/ca.crt",
              "nodes": {"node1": "172.28.61.21", ...}, "loadbalancers": ["lb1", "lb2"],
              "harbor_units": ["harbor-emulator.service", ...], "repo": "/path/to/checkout"}
Inventory names are the container names (molecule's docker driver). Faults are injected with
`docker exec NAME systemctl stop UNIT`. Every wait is bounded; each figure is printed on a line
starting with FIGURE. Exits non-zero on the first failed check.
"""

import json
import os
import statistics
import sys
import threading
import time
import uuid

import requests

CONFIG = json.loads(sys.argv[1])
sys.path.insert(0, CONFIG["repo"])  # tests.images: synthetic images pushed over /v2, no docker pull

from harbor_emulator.registry_client import RegistryError  # noqa: E402
from tests import lab_checks  # noqa: E402
from tests.images import push_image  # noqa: E402
from tests.lab_checks import check, docker_exec, figure, wait_for  # noqa: E402

PASSWORD = os.environ["HARBOR_PASSWORD"]
ADMIN = ("admin", PASSWORD)
CA = CONFIG["ca"]
SCHEME = CONFIG.get("scheme", "https")
VIP_URL = f"{SCHEME}://{CONFIG['vip']}"
NODE_URLS = {name: f"{SCHEME}://{address}" for name, address in CONFIG["nodes"].items()}
LBS = CONFIG["loadbalancers"]
HARBOR_UNITS = CONFIG["harbor_units"]
MIN_LOAD_SECONDS = 22


def harbor_api(base):
    return lab_checks.Api(base, ADMIN, CA)


def registry(base, timeout=lab_checks.TIMEOUT):
    return lab_checks.registry(base, ADMIN, CA, timeout)


def holds_vip(lb):
    output = docker_exec(lb, "ip", "-o", "-4", "addr", "show", check_rc=False).stdout
    return f" {CONFIG['vip']}/" in output


def vip_holders():
    return [lb for lb in LBS if holds_vip(lb)]


def pings(base):
    return harbor_api(base).call("GET", "/ping").text.strip() == "Pong"


class Load(threading.Thread):
    """A client pulling (manifest + a layer) and reading the API through the VIP, without retries."""

    def __init__(self, image, project):
        super().__init__(daemon=True)
        self.image, self.project = image, project
        self.stop_event = threading.Event()
        self.results = []  # (monotonic time, ok, seconds, error)

    def run(self):
        client = registry(VIP_URL)
        api = harbor_api(VIP_URL)
        deadline = time.monotonic() + 180  # bounded even if nobody stops it
        turn = 0
        while not self.stop_event.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            error = None
            try:
                if turn % 2 == 0:
                    _, _, digest = client.get_manifest(self.image.repo, self.image.tag)
                    if digest != self.image.digest:
                        error = f"pulled digest {digest} != {self.image.digest}"
                    else:
                        blob = client.get_blob(self.image.repo, self.image.blobs[-1])
                        if len(blob) == 0:
                            error = "empty layer"
                else:
                    response = api.call("GET", f"/projects/{self.project}")
                    if response.status_code != 200:
                        error = f"GET /projects/{self.project}: {response.status_code} {response.text[:200]}"
            except (requests.RequestException, RegistryError) as exc:
                error = str(exc)[:300]
            self.results.append((started, error is None, time.monotonic() - started, error))
            turn += 1
            time.sleep(0.05)

    def stop(self):
        self.stop_event.set()
        self.join(timeout=30)

    def failures(self, since=0.0, until=float("inf")):
        return [r for r in self.results if not r[1] and since <= r[0] <= until]

    def successes(self, since=0.0):
        return [r for r in self.results if r[1] and r[0] >= since]

    def report(self, label):
        latencies = [r[2] for r in self.results if r[1]]
        figure(f"{label} requests", len(self.results))
        figure(f"{label} failures", len(self.failures()))
        if latencies:
            figure(f"{label} latency p50/max ms",
                   f"{statistics.median(latencies) * 1000:.0f}/{max(latencies) * 1000:.0f}")
        for failure in self.failures()[:5]:
            print(f"  failure: {failure[3]}", flush=True)


def check_everything_on_every_node(project, username, image):
    for name, base in {"vip": VIP_URL, **NODE_URLS}.items():
        api = harbor_api(base)
        response = api.call("GET", f"/projects/{project}")
        check(response.status_code == 200, f"project {project} not readable on {name}: {response.status_code}")
        response = api.call("GET", "/users", params={"q": f"username={username}"})
        check(response.status_code == 200 and any(u["username"] == username for u in response.json()),
              f"user {username} not found on {name}: {response.status_code} {response.text[:200]}")
        client = registry(base)
        _, _, digest = client.get_manifest(image.repo, image.tag)
        check(digest == image.digest, f"{name} serves {image.repo}:{image.tag} as {digest}, pushed {image.digest}")
        for blob in image.blobs:
            check(len(client.get_blob(image.repo, blob)) > 0, f"{name}: blob {blob} missing")
        response = api.call("GET", f"/projects/{project}/repositories/{image.repo.split('/', 1)[1]}/artifacts/"
                            f"{image.tag}")
        check(response.status_code == 200 and response.json()["digest"] == image.digest,
              f"{name}: artifact {image.repo}:{image.tag} not in the API ({response.status_code})")


def node_outage(image, project):
    """Harbor stopped on one node and started again while a client works through the VIP."""
    victim = sorted(NODE_URLS)[1]
    load = Load(image, project)
    load.start()
    time.sleep(3)
    stopped_at = time.monotonic()
    docker_exec(victim, "systemctl", "stop", *HARBOR_UNITS)
    # The node really is down (a test that stops nothing proves nothing).
    wait_for(f"{victim} to stop answering", lambda: not _answers(NODE_URLS[victim]), 10)
    time.sleep(8)
    docker_exec(victim, "systemctl", "start", *HARBOR_UNITS)
    back = wait_for(f"{victim} to answer again", lambda: pings(NODE_URLS[victim]), 90)
    figure("node outage seconds (stop to healthy again)", f"{time.monotonic() - stopped_at:.1f}")
    figure(f"{victim} restart to healthy seconds", f"{back:.1f}")
    remaining = MIN_LOAD_SECONDS - (time.monotonic() - load.results[0][0])
    time.sleep(max(remaining, 4))  # the node takes traffic again before the client stops
    load.stop()
    load.report("node outage: client")
    check(len(load.successes(since=stopped_at)) > 20, "too few requests while the node was down")
    check(not load.failures(), f"{len(load.failures())} failed requests through the VIP during a node outage")


def _answers(base):
    try:
        return pings(base)
    except requests.RequestException:
        return False


def lb_failover(image, project, unit, settle=True):
    """Stop `unit` on the load balancer holding the VIP: the VIP moves within 5 s, requests go on.

    `unit` is started again afterwards; with `settle` the VIP must then stay on one load balancer
    for a few seconds (a preempting configuration would move it back), so a next fault starts quiet.
    """
    active = stable_vip(seconds=2, timeout=30)
    standby = next(lb for lb in LBS if lb != active)
    load = Load(image, project)
    load.start()
    time.sleep(2)
    stopped_at = time.monotonic()
    docker_exec(active, "systemctl", "stop", unit)
    moved = wait_for(f"VIP to move from {active} to {standby}", lambda: holds_vip(standby), 15, interval=0.05)
    moved_at = stopped_at + moved
    first_ok = wait_for("a request through the VIP to succeed after the move",
                        lambda: load.successes(since=moved_at), 15, interval=0.05)
    # Connections opened to the old holder die with the move: the client's first request on each
    # of its two (registry, API) fails once, by a reset or a read timeout. After that window every
    # request must succeed.
    settled_at = moved_at + 2 * lab_checks.TIMEOUT + 1
    time.sleep(max(settled_at - time.monotonic(), 0) + 4)
    load.stop()
    figure(f"VIP failover seconds (stop {unit} on {active} -> VIP on {standby})", f"{moved:.2f}")
    figure(f"stop {unit} -> first successful request after the move, seconds", f"{moved + first_ok:.2f}")
    load.report(f"LB failover ({unit}): client")
    check(moved <= 5, f"the VIP took {moved:.2f} s to move (limit 5 s)")
    check(not holds_vip(active), f"{active} still holds the VIP after stopping {unit}")
    late = load.failures(since=settled_at)
    check(not late, f"{len(late)} requests failed after the failover window: {late[0][3] if late else ''}")
    check(len(load.successes(since=settled_at)) > 10, "requests did not continue after the VIP moved")

    restored_at = time.monotonic()
    docker_exec(active, "systemctl", "start", unit)
    if settle:
        settled = stable_vip(seconds=4, timeout=45)
        figure(f"restore of {unit} on {active}: VIP settled on {settled} after seconds",
               f"{time.monotonic() - restored_at:.1f}")
    wait_for("the API through the VIP after the restore", lambda: pings(VIP_URL), 30)


def stable_vip(seconds, timeout):
    """The load balancer that holds the VIP alone for `seconds` in a row (bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    holder, since = None, time.monotonic()
    while time.monotonic() < deadline:
        holders = vip_holders()
        current = holders[0] if len(holders) == 1 else None
        if current != holder:
            holder, since = current, time.monotonic()
        elif holder and time.monotonic() - since >= seconds:
            return holder
        time.sleep(0.2)
    check(False, f"the VIP did not stay on one load balancer for {seconds} s within {timeout} s")


def main():
    started = time.monotonic()
    vip_ready = wait_for("the API to answer through the VIP", lambda: pings(VIP_URL), 120)
    figure("API through the VIP answered after seconds", f"{vip_ready:.1f}")
    holders = vip_holders()
    check(len(holders) == 1, f"VIP held by {holders or 'no load balancer'}; expected exactly one")
    figure("VIP holder", holders[0])

    # Objects created through the VIP are read back from every node directly.
    suffix = uuid.uuid4().hex[:8]
    project, username = f"ha-verify-{suffix}", f"ha-verify-{suffix}"
    api = harbor_api(VIP_URL)
    response = api.call("POST", "/projects", json={"project_name": project, "metadata": {"public": "false"}})
    check(response.status_code == 201, f"create project through the VIP: {response.status_code} {response.text}")
    response = api.call("POST", "/users", json={"username": username, "password": f"Ha-{suffix}-Pass1",
                                                "email": f"{username}@example.com", "realname": username})
    check(response.status_code == 201, f"create user through the VIP: {response.status_code} {response.text}")

    push_started = time.monotonic()
    image = push_image(registry(VIP_URL, timeout=30), f"{project}/app", "v1", layers=3, size=256 * 1024)
    figure("push through the VIP (3 x 256 KiB layers), seconds", f"{time.monotonic() - push_started:.2f}")
    check_everything_on_every_node(project, username, image)
    print(f"OK: project, user and image {image.repo}@{image.digest} read from {', '.join(NODE_URLS)} directly",
          flush=True)

    node_outage(image, project)
    lb_failover(image, project, "haproxy.service")
    lb_failover(image, project, "keepalived.service", settle=False)

    check_everything_on_every_node(project, username, image)
    print("OK: after the faults every node still has the project, the user and the image digest", flush=True)
    figure("verify total seconds", f"{time.monotonic() - started:.0f}")


if __name__ == "__main__":
    main()
