#!/usr/bin/env python3
"""Fan-out replication: how long an image pushed at the master takes to reach every replica, for
1, 5 and 10 replicas, each replica a separate emulator process with its own registry.

For each fan-out size a fresh master and its replicas are started; the master gets one harbor
endpoint and one event-based push policy per replica (what roles/replication_topology creates).
After one warm-up push, ROUNDS images are pushed one after another; for each the time runs from
the end of the push (the manifest PUT answered) to the end of the last replication execution the
push started on the master (Harbor's end_time; every replica is then checked for the digest).
Also reported: the time to the first copy done, and how many copy tasks ran at one instant, which
shows whether the copies ran side by side or one after another. Each size runs with several job
service sizes on the master (HARBOR_EMULATOR_JOB_WORKERS, Harbor's max_job_workers): 1 worker (one
copy after another), 4 (the emulator's default before it took Harbor's) and the default, 10 as in Harbor.

Prints the figures and the ratio 10-replica / 1-replica time, and writes
benchmarks/results/fanout.md. A figure, not a test: nothing fails on a slow machine.

    .venv/bin/python benchmarks/fanout.py [--sizes 1,5,10] [--workers 1,4,default] [--rounds 3]
                                          [--layers 2] [--layer-size 262144]
"""

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import threading
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from harbor_emulator import jobs  # noqa: E402
from harbor_emulator.registry_client import RegistryClient  # noqa: E402
from tests.emulator_process import EmulatorProcess  # noqa: E402
from tests.images import push_image  # noqa: E402

RESULTS = os.path.join(ROOT, "benchmarks", "results")
ADMIN = ("admin", "Harbor12345")
FINAL = ("Succeed", "Failed", "Stopped")


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


class Api:
    def __init__(self, url):
        self.base = url + "/api/v2.0"
        self.session = requests.Session()
        self.session.auth = ADMIN

    def call(self, method, path, **kwargs):
        response = self.session.request(method, self.base + path, timeout=60, **kwargs)
        self.session.cookies.clear()  # Harbor's CSRF rule: keep no cookies
        if response.status_code >= 300:
            raise RuntimeError("%s %s: %s %s" % (method, path, response.status_code, response.text[:300]))
        return response

    def create(self, path, body):
        return int(self.call("POST", path, json=body).headers["Location"].rsplit("/", 1)[1])

    def executions(self):
        return self.call("GET", "/replication/executions", params={"page_size": 100}).json()

    def tasks(self, execution_id):
        return self.call("GET", "/replication/executions/%d/tasks" % execution_id).json()


def start_all(processes):
    errors = []

    def start(process):
        try:
            process.start(timeout=60)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(p,)) for p in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def max_overlap(intervals):
    """Most intervals open at one instant."""
    points = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    best = current = 0
    for _, step in points:
        current += step
        best = max(best, current)
    return best


def one_push(master, api, replicas, known, tag, layers, layer_size):
    """Push one image; wait for the executions it starts; return the figures of this round."""
    image = push_image(master.url, "lib/app", tag, layers=layers, size=layer_size, auth=ADMIN)
    pushed = time.time()
    deadline = time.monotonic() + 300
    while True:
        mine = [e for e in api.executions() if e["id"] not in known]
        if len(mine) >= len(replicas) and all(e["status"] in FINAL for e in mine):
            break
        if time.monotonic() > deadline:
            raise RuntimeError("executions did not end in 300 s: %s" % mine)
        time.sleep(0.05)
    known.update(e["id"] for e in mine)
    failed = [e for e in mine if e["status"] != "Succeed"]
    if failed:
        raise RuntimeError("replication failed: %s" % failed)
    for replica in replicas:  # the copy really is there, with the same digest
        digest = RegistryClient(replica.url, *ADMIN).head_manifest("lib/app", tag)
        if digest != image.digest:
            raise RuntimeError("%s has %s for lib/app:%s, not %s" % (replica.url, digest, tag, image.digest))
    # a task starts when a worker picks its execution up; the execution starts when the event queues it
    tasks = [task for e in mine for task in api.tasks(e["id"])]
    copies = [(parse_time(t["start_time"]), parse_time(t["end_time"])) for t in tasks]
    ends = sorted(end for _, end in copies)
    return {"all": ends[-1] - pushed, "first": ends[0] - pushed, "overlap": max_overlap(copies),
            "copy": statistics.mean(end - start for start, end in copies), "bytes": image.size}


def start_master(path, workers):
    """A master whose job service has `workers` workers (None: the emulator's default); the emulator
    process reads the count from its environment, inherited from here."""
    master = EmulatorProcess(path, registry=True)
    saved = os.environ.pop(jobs.WORKERS_VARIABLE, None)
    if workers is not None:
        os.environ[jobs.WORKERS_VARIABLE] = str(workers)
    try:
        return master.start(timeout=60)
    finally:
        os.environ.pop(jobs.WORKERS_VARIABLE, None)
        if saved is not None:
            os.environ[jobs.WORKERS_VARIABLE] = saved


def measure(size, worker_settings, rounds, layers, layer_size, workdir):
    """Start `size` replicas once; for each worker setting a fresh master, its policies, and the pushes."""
    replicas = [EmulatorProcess(os.path.join(workdir, "n%d-r%d" % (size, i)), registry=True) for i in range(size)]
    results = []
    try:
        started = time.monotonic()
        start_all(replicas)
        startup = time.monotonic() - started
        for workers in worker_settings:
            master = start_master(os.path.join(workdir, "n%d-master-w%s" % (size, workers or "default")), workers)
            try:
                api = Api(master.url)
                api.call("POST", "/projects", json={"project_name": "lib", "metadata": {"public": "false"}})
                for index, replica in enumerate(replicas):
                    registry_id = api.create("/registries", {
                        "name": "r%d" % index, "type": "harbor", "url": replica.url,
                        "credential": {"type": "basic", "access_key": ADMIN[0], "access_secret": ADMIN[1]}})
                    api.create("/replication/policies", {
                        "name": "to-r%d" % index, "dest_registry": {"id": registry_id}, "enabled": True,
                        "override": True, "deletion": True, "trigger": {"type": "event_based"},
                        "filters": [{"type": "name", "value": "lib/**"}]})
                known = set()
                tag = "w%s-" % (workers or "default")
                one_push(master, api, replicas, known, tag + "warmup", layers, layer_size)
                figures = [one_push(master, api, replicas, known, tag + "v%d" % r, layers, layer_size)
                           for r in range(rounds)]
            finally:
                master.stop()
            results.append({"size": size, "workers": workers or jobs.WORKERS, "default": workers is None,
                            "startup": startup, "rounds": figures,
                            "all": statistics.median(f["all"] for f in figures),
                            "first": statistics.median(f["first"] for f in figures),
                            "copy": statistics.median(f["copy"] for f in figures),
                            "overlap": max(f["overlap"] for f in figures), "bytes": figures[0]["bytes"]})
    finally:
        for replica in replicas:
            if replica.process is not None:
                replica.stop()
    return results


def report(results, args, load):
    lines = [
        "# Fan-out replication: push at the master, time to every replica",
        "",
        "Generated by `benchmarks/fanout.py` (%s) on this machine (%d CPUs, shared with other work: figures "
        "vary from run to run). Each replica is a separate lab emulator process with its own CNCF Distribution "
        "registry; the master has one event-based push policy per replica (what roles/replication_topology "
        "creates). Image: %d random layer(s) of %d bytes (%d bytes in all). Median of %d pushes after a warm-up "
        "push. Times run from the end of the push (manifest PUT answered) to the end of the last copy (task "
        "end_time in Harbor's API; every replica is then checked for the same digest). \"side by side\" is the "
        "most copy tasks running at one instant. Worker counts are the master's job service "
        "(%s; the emulator's default is %d, Harbor's jobservice default `max_job_workers` is 10). Load average "
        "of the machine (1 min) at the start and the end of the run: %.1f and %.1f." % (
            datetime.date.today().isoformat(), os.cpu_count() or 0, args.layers, args.layer_size,
            results[0]["bytes"], args.rounds, jobs.WORKERS_VARIABLE, jobs.WORKERS, load[0], load[1]),
        "",
        "| replicas | job workers | to every replica (s) | to the first replica (s) | one copy, mean (s) | copies side "
        "by side (max) | rounds (s) |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in sorted(results, key=lambda r: (r["size"], r["workers"])):
        lines.append("| %d | %d%s | %.2f | %.2f | %.2f | %d | %s |" % (
            r["size"], r["workers"], " (default)" if r["default"] else "", r["all"], r["first"], r["copy"],
            r["overlap"], ", ".join("%.2f" % f["all"] for f in r["rounds"])))
    lines.append("")
    for workers in sorted(set(r["workers"] for r in results)):
        rows = dict((r["size"], r) for r in results if r["workers"] == workers)
        if 1 in rows and max(rows) > 1:
            top = max(rows)
            lines.append("- %d worker(s): %d-replica / 1-replica time = **%.2f** (one copy after another would "
                         "give about %d)" % (workers, top, rows[top]["all"] / rows[1]["all"], top))
    lines += [
        "",
        "How the emulator fans out: a push at the master is one registry event; every matching event-based policy "
        "gets its own execution, queued as a job, and the job service's workers run those side by side, as "
        "Harbor's jobservice does with its worker pool. Copies to different replicas therefore overlap up to the "
        "worker count; with one worker they run one after another. Within one execution the tasks (one per "
        "artifact) run one after another. On this 2-CPU machine the master, every replica and its registry share "
        "the same two cores (and other work), so wider fan-outs also wait for CPU and single rounds scatter.",
        "",
        "Rows with 4 workers are the emulator's job service before it took Harbor's default pool of 10 "
        "(lab/harbor_emulator/jobs.py): with 4, a fan-out to 10 replicas ran in three waves.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,5,10")
    parser.add_argument("--workers", default="1,4,default",
                        help="job workers of the master, comma separated; 'default' is the emulator's own")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--layer-size", type=int, default=256 * 1024)
    parser.add_argument("--output", default=os.path.join(RESULTS, "fanout.md"))
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    worker_settings = [None if w == "default" else int(w) for w in args.workers.split(",")]
    results = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fanout-") as workdir:
        for size in sizes:
            for result in measure(size, worker_settings, args.rounds, args.layers, args.layer_size, workdir):
                results.append(result)
                print("%2d replica(s), %2d worker(s)%s: every replica %.2f s, first %.2f s, one copy %.2f s, up to %d "
                      "copies side by side (rounds: %s)" % (
                          size, result["workers"], " (default)" if result["default"] else "", result["all"],
                          result["first"], result["copy"], result["overlap"],
                          ", ".join("%.2f" % f["all"] for f in result["rounds"])), flush=True)
    for workers in sorted(set(r["workers"] for r in results)):
        rows = dict((r["size"], r) for r in results if r["workers"] == workers)
        if 1 in rows and max(rows) > 1:
            print("%d worker(s): ratio %d-replica / 1-replica = %.2f" % (
                workers, max(rows), rows[max(rows)]["all"] / rows[1]["all"]))
    load = (load_before, os.getloadavg()[0])
    print("load average (1 min): %.1f at the start, %.1f at the end" % load)
    text = report(results, args, load)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as handle:
        handle.write(text)
    print("wrote %s" % args.output)


if __name__ == "__main__":
    main()
