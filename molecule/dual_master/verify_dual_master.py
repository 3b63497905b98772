#!/usr/bin/env python3
"""LAB ONLY: verify HA topology 2 (two Harbors replicating to each other, mirrored accounts, one LB).

    verify_dual_master.py PHASE CONFIG_JSON
        (admin password in $HARBOR_PASSWORD, the inventory robot's secret in $ROBOT_SECRET)

PHASE `replicate`: accounts identical on both nodes, pushes travel both ways with the same digest and
without ping-pong, a deleted tag is deleted on the peer, the robot pulls from either node; then node B
is stopped, three images are pushed to A (their events fail: lost) and B is started again. What was
pushed is saved to CONFIG["state_file"] for the next phase.
PHASE `after_catchup` (after the dual_master role's catch-up run): the three images are on B with the
same digests; pulls through the load balancer keep working while A is stopped.

CONFIG_JSON: {"nodes": {"node-a": "172.28.62.21", "node-b": "172.28.62.22"}, "lb": "172.28.62.11",
              "ca": "/path/ca.crt", "prefix": "peer-", "project": "apps", "robot": "robot$apps+puller",
              "harbor_units": [...], "state_file": "/path", "repo": "/path/to/checkout"}
Inventory names are the container names; faults are injected with `docker exec NAME systemctl ...`.
Every wait is bounded; figures are printed on lines starting with FIGURE.
"""

import json
import os
import statistics
import sys
import threading
import time
import uuid
from urllib.parse import quote

import requests

PHASE, CONFIG = sys.argv[1], json.loads(sys.argv[2])
sys.path.insert(0, CONFIG["repo"])  # tests.images: synthetic images pushed over /v2, no docker pull
sys.path.insert(0, os.path.join(CONFIG["repo"], "lab"))

from harbor_emulator.registry_client import RegistryError  # noqa: E402
from tests import lab_checks  # noqa: E402
from tests.images import push_image  # noqa: E402
from tests.lab_checks import check, docker_exec, figure, wait_for  # noqa: E402

ADMIN = ("admin", os.environ["HARBOR_PASSWORD"])
ROBOT = (CONFIG["robot"], os.environ["ROBOT_SECRET"])
CA = CONFIG["ca"]
NAMES = sorted(CONFIG["nodes"])  # node-a, node-b
A, B = NAMES
URLS = {name: f"https://{address}" for name, address in CONFIG["nodes"].items()}
LB_URL = f"https://{CONFIG['lb']}"
PROJECT = CONFIG["project"]
PREFIX = CONFIG["prefix"]
UNITS = CONFIG["harbor_units"]
FINAL = ("Succeed", "Failed", "Stopped")


def harbor_api(base, auth=ADMIN):
    return lab_checks.Api(base, auth, CA)


def registry(base, auth=ADMIN):
    return lab_checks.registry(base, auth, CA)


def answers(base):
    try:
        return requests.get(f"{base}/api/v2.0/ping", verify=CA, timeout=2).text.strip() == "Pong"
    except requests.RequestException:
        return False


def stop_harbor(name):
    docker_exec(name, "systemctl", "stop", *UNITS)
    wait_for(f"{name} to stop answering", lambda: not answers(URLS[name]), 15)  # a stop that stops nothing proves nothing


def start_harbor(name):
    docker_exec(name, "systemctl", "start", *reversed(UNITS))
    return wait_for(f"{name} to answer again", lambda: answers(URLS[name]), 60)


def digest_on(name, repo, tag):
    return registry(URLS[name]).head_manifest(repo, tag)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


# -- accounts ------------------------------------------------------------------------------------------
def accounts(name):
    """What must be identical on both nodes, without ids and times."""
    api = harbor_api(URLS[name])
    users = {u["username"]: (u.get("email"), u.get("realname"), u.get("sysadmin_flag"))
             for u in api.every("/users")}
    projects, members, robot_list = {}, {}, api.every("/robots")  # without a Level: system robots only
    for project in api.every("/projects"):
        projects[project["name"]] = project.get("metadata", {}).get("public")
        members[project["name"]] = sorted((m["entity_name"], m["entity_type"], m["role_name"])
                                          for m in api.every(f"/projects/{project['name']}/members"))
        robot_list += api.every("/robots", q=f"Level=project,ProjectID={project['project_id']}")
    robots = {}
    for robot in robot_list:
        permissions = sorted((p["kind"], p["namespace"], sorted((a["resource"], a["action"]) for a in p["access"]))
                             for p in robot.get("permissions", []))
        robots[robot["name"]] = (robot["level"], robot["duration"], robot["disable"], permissions)
    return {"users": users, "projects": projects, "members": members, "robots": robots}


def check_accounts_mirrored():
    on_a, on_b = accounts(A), accounts(B)
    for kind in on_a:
        check(on_a[kind] == on_b[kind], f"{kind} differ between {A} and {B}:\n{on_a[kind]}\n{on_b[kind]}")
    check("alice" in on_a["users"] and CONFIG["robot"] in on_a["robots"] and on_a["members"].get(PROJECT),
          f"the inventory's accounts are missing: {on_a}")
    figure("accounts compared (users/projects/memberships/robots)",
           "/".join(str(len(on_a[k]) if k != "members" else sum(map(len, on_a[k].values())))
                    for k in ("users", "projects", "members", "robots")))


# -- replication ---------------------------------------------------------------------------------------
def event_executions(name):
    """Executions of this node's event-based policy to its peer."""
    peer = B if name == A else A
    api = harbor_api(URLS[name])
    policies = [p for p in api.every("/replication/policies", name=f"{PREFIX}{peer}-events")
                if p["name"] == f"{PREFIX}{peer}-events"]
    check(len(policies) == 1, f"{name}: policy {PREFIX}{peer}-events not found")
    return api.every("/replication/executions", policy_id=policies[0]["id"])


def settled_counts():
    runs = {name: event_executions(name) for name in NAMES}
    if all(e["status"] in FINAL for executions in runs.values() for e in executions):
        return {name: len(executions) for name, executions in runs.items()}
    return None


def replicate_both_ways():
    before = {name: len(event_executions(name)) for name in NAMES}
    images = {}
    for source, target in ((A, B), (B, A)):
        repo = f"{PROJECT}/{unique('from-' + source)}"
        pushed_at = time.monotonic()
        image = push_image(registry(URLS[source]), repo, "1.0")
        delay = wait_for(f"{repo}:1.0 pushed to {source} to reach {target}",
                         lambda: digest_on(target, repo, "1.0") == image.digest, 60)
        figure(f"replication delay {source} -> {target} (s)", f"{time.monotonic() - pushed_at:.2f} "
                                                              f"(after the push: {delay:.2f})")
        images[source] = image

    # Each push runs one execution on its node and one echo on the peer (skipped: same digest); a
    # ping-pong would keep adding executions.
    wait_for("the event executions to finish", settled_counts, 60)
    counts = settled_counts()
    time.sleep(5)
    after = settled_counts()
    check(after is not None and after == counts, f"executions still growing: {counts} then {after}")
    added = {name: after[name] - before[name] for name in NAMES}
    figure("event executions added by 2 pushes (per node)", added)
    check(all(count <= 2 for count in added.values()), f"more than one execution per push and node: {added}")
    return images


def delete_tag_both_ways(image):
    repo = image.repo.split("/", 1)[1]
    started = time.monotonic()
    response = harbor_api(URLS[A]).call("DELETE", f"/projects/{PROJECT}/repositories/{quote(quote(repo, safe=''), safe='')}"
                                           f"/artifacts/{image.digest}/tags/1.0")
    check(response.status_code == 200, f"delete tag on {A}: {response.status_code} {response.text[:200]}")
    wait_for(f"the tag deletion to reach {B}", lambda: digest_on(B, image.repo, "1.0") is None, 60)
    figure(f"tag deletion delay {A} -> {B} (s)", f"{time.monotonic() - started:.2f}")


def robot_pulls_from_both(image):
    for name in NAMES:
        _, _, digest = registry(URLS[name], ROBOT).get_manifest(image.repo, "1.0")
        check(digest == image.digest, f"the robot pulled {digest} from {name}, expected {image.digest}")
    push = None
    try:
        push_image(registry(URLS[A], ROBOT), f"{PROJECT}/{unique('robot')}", "x")
    except RegistryError as exc:
        push = exc.status
    check(push in (401, 403), f"the pull-only robot could push (status {push})")
    figure("inventory robot", f"{CONFIG['robot']} pulled the same digest from {A} and {B}; push refused ({push})")


def lose_events_while_b_is_down():
    stop_harbor(B)
    stopped_at = time.monotonic()
    failed_before = sum(e["status"] == "Failed" for e in event_executions(A))
    repo = f"{PROJECT}/{unique('during-outage')}"
    images = [push_image(registry(URLS[A]), repo, f"v{n}") for n in (1, 2, 3)]

    def events_failed():
        runs = event_executions(A)
        return all(e["status"] in FINAL for e in runs) and \
            sum(e["status"] == "Failed" for e in runs) >= failed_before + 3
    wait_for(f"{A}'s events for the 3 pushes to fail while {B} is down", events_failed, 180)
    figure(f"{B} down (s)", f"{time.monotonic() - stopped_at:.1f}")
    start_harbor(B)
    missing = [i.tag for i in images if digest_on(B, i.repo, i.tag) is None]
    check(len(missing) == 3, f"{B} already has some of the images pushed while it was down: "
                             f"{set(i.tag for i in images) - set(missing)} (nothing to catch up proves nothing)")
    figure(f"images {B} misses after its outage", len(missing))
    return images


# -- load balancer -------------------------------------------------------------------------------------
class Load(threading.Thread):
    """Pulls (manifest + a layer, the robot's token flow) and API reads through the LB, without retries."""

    def __init__(self, image):
        super().__init__(daemon=True)
        self.image = image
        self.stop_event = threading.Event()
        self.results = []  # (monotonic time, error or None, seconds)

    def run(self):
        client, api = registry(LB_URL, ROBOT), harbor_api(LB_URL)
        deadline, turn = time.monotonic() + 180, 0
        while not self.stop_event.is_set() and time.monotonic() < deadline:
            started, error = time.monotonic(), None
            try:
                if turn % 2 == 0:
                    _, _, digest = client.get_manifest(self.image.repo, self.image.tag)
                    if digest != self.image.digest:
                        error = f"pulled {digest}, expected {self.image.digest}"
                    elif not client.get_blob(self.image.repo, self.image.blobs[-1]):
                        error = "empty layer"
                else:
                    response = api.call("GET", f"/projects/{PROJECT}")
                    if response.status_code != 200:
                        error = f"GET /projects/{PROJECT}: {response.status_code}"
            except (requests.RequestException, RegistryError) as exc:
                error = str(exc)[:200]
            self.results.append((started, error, time.monotonic() - started))
            turn += 1
            time.sleep(0.05)

    def stop(self):
        self.stop_event.set()
        self.join(timeout=30)


def pulls_through_the_lb_while_a_is_down(image):
    load = Load(image)
    load.start()
    time.sleep(3)
    stop_started = time.monotonic()
    stop_harbor(A)  # returns once node-a stopped answering
    down_at = time.monotonic()
    time.sleep(12)
    load_end = time.monotonic()
    back_after = start_harbor(A)
    load.stop()
    before = [r for r in load.results if r[0] < stop_started]
    during = [r for r in load.results if stop_started <= r[0] <= load_end]
    failures = [r for r in during if r[1]]
    served = [r for r in during if not r[1] and r[0] >= down_at]  # node-a no longer answers: node-b served
    takeover = min((r[0] for r in served), default=None)
    after_takeover = [r for r in failures if takeover is not None and r[0] > takeover]
    figure(f"requests through the LB while {A} was stopping or down", len(during))
    figure("  failed", f"{len(failures)} ({len(after_takeover)} after {B} had answered one)")
    if takeover is not None:
        figure(f"  first request served by {B} (s after {A} stopped answering)", f"{takeover - down_at:.2f}")
    latencies = [r[2] for r in served]
    if latencies:
        figure(f"  latency served by {B} p50/max (ms)",
               f"{statistics.median(latencies) * 1000:.0f}/{max(latencies) * 1000:.0f}")
    figure(f"{A} back after (s)", f"{back_after:.1f}")
    for failure in failures[:4]:
        print(f"  failure at +{failure[0] - stop_started:.2f} s: {failure[1]}", flush=True)
    check(before and not [r for r in before if r[1]], "requests through the LB failed before any fault")
    check(len(served) >= 20, f"only {len(served)} requests succeeded through the LB while {A} was down")
    check(takeover is not None and takeover - down_at < 10, f"{B} did not take over within 10 s")
    # When HAProxy marks node-a down it closes the client connections whose last request went there
    # (on-marked-down shutdown-sessions): the next request on each of the client's two connections
    # (registry and API) may find it closed. Anything else after the takeover is a failure.
    unexpected = [r for r in after_takeover
                  if "Remote end closed connection" not in r[1] or r[0] > takeover + 5]
    check(len(after_takeover) <= 2 and not unexpected,
          f"{len(after_takeover)} requests failed after {B} had taken over: {[r[1] for r in after_takeover[:3]]}")


# -- phases --------------------------------------------------------------------------------------------
def phase_replicate():
    for base in [*URLS.values(), LB_URL]:
        wait_for(f"{base} to answer", lambda base=base: answers(base), 60)
    check_accounts_mirrored()
    images = replicate_both_ways()
    robot_pulls_from_both(images[A])
    delete_tag_both_ways(images[A])
    lost = lose_events_while_b_is_down()
    with open(CONFIG["state_file"], "w", encoding="utf-8") as handle:
        json.dump({"lost": [[i.repo, i.tag, i.digest] for i in lost],
                   "lb_image": [images[B].repo, images[B].tag, images[B].digest, images[B].blobs]}, handle)


def phase_after_catchup():
    with open(CONFIG["state_file"], encoding="utf-8") as handle:
        state = json.load(handle)
    for repo, tag, digest in state["lost"]:
        on_b = digest_on(B, repo, tag)
        check(on_b == digest, f"after the catch-up {B} serves {repo}:{tag} as {on_b}, pushed {digest}")
    figure(f"images on {B} after the catch-up, same digests", f"{len(state['lost'])} of {len(state['lost'])}")
    repo, tag, digest, blobs = state["lb_image"]
    image = type("Image", (), {"repo": repo, "tag": tag, "digest": digest, "blobs": blobs})
    pulls_through_the_lb_while_a_is_down(image)
    check_accounts_mirrored()


if __name__ == "__main__":
    {"replicate": phase_replicate, "after_catchup": phase_after_catchup}[PHASE]()
    print(f"OK: phase {PHASE}", flush=True)
