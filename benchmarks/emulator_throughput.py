#!/usr/bin/env python3
"""Throughput of the lab's Harbor emulator: is the lab ever the bottleneck of our benchmarks?

Starts an emulator (API only, no registry) in its own process so the client does not share
its GIL, creates ~300 projects, then for a fixed duration per case sends keep-alive requests
from 1 and from 4 client threads:

- GET /api/v2.0/projects/{id}            (authenticated, cycling over the projects)
- GET /api/v2.0/ping                     (no auth, no database)
- GET /api/v2.0/projects?page_size=100   (authenticated, cycling over pages 1-3)
- GET /api/v2.0/projects/{id}/members    (the list the state module reads once per declared project)
- GET /api/v2.0/robots?q=Level=project,ProjectID={id}  (its per-project robot list; one robot in each)

and prints req/s, mean and p95 latency, and the emulator's CPU time per request, which
gives the rate one core sustains. Target: >= 1000 GET/s on one core.

    .venv/bin/python benchmarks/emulator_throughput.py [--duration 3] [--projects 300] [--db URL]

A figure, not a test: nothing here fails on a slow machine. To compare with another version of the
emulator, run it from that checkout's lab: `PYTHONPATH=/path/to/old/lab .venv/bin/python
benchmarks/emulator_throughput.py` (the emulator process inherits PYTHONPATH). The machine's load
average is printed with the figures: on a shared machine they move with it.
"""

import argparse
import base64
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.emulator_process import EmulatorProcess  # noqa: E402

TARGET = 1000
AUTH = "Basic " + base64.b64encode(b"admin:Harbor12345").decode()


def cpu_seconds(pid):
    """User+system CPU time of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client:
    """One keep-alive connection with http.client: light enough not to be the bottleneck."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(self, path, auth=True):
        self.conn.request("GET", path, headers={"Authorization": AUTH} if auth else {})
        response = self.conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
        return body

    def post(self, path, body):
        import json

        self.conn.request("POST", path, body=json.dumps(body),
                          headers={"Authorization": AUTH, "Content-Type": "application/json"})
        response = self.conn.getresponse()
        response.read()
        if response.status != 201:
            raise RuntimeError(f"POST {path}: {response.status}")
        return response.getheader("Location")

    def close(self):
        self.conn.close()


def seed(port, count):
    client = Client(port)
    ids = [int(client.post("/api/v2.0/projects", {"project_name": f"bench-{i:04d}"}).rsplit("/", 1)[1])
           for i in range(count)]
    for i in range(min(count, 100)):
        client.post("/api/v2.0/robots", {"name": "ci", "level": "project", "duration": -1, "permissions": [
            {"kind": "project", "namespace": f"bench-{i:04d}",
             "access": [{"resource": "repository", "action": "pull"}]}]})
    client.close()
    return ids


def run_case(port, pid, paths, auth, threads, duration):
    """Each thread loops over `paths` on its own connection until the deadline."""
    latencies = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)
    deadline = [0.0]

    def worker(index):
        client = Client(port)
        client.get(paths[0], auth)  # connect and warm up outside the measured window
        own = latencies[index]
        i = index
        barrier.wait()
        while True:
            start = time.perf_counter()
            if start >= deadline[0]:
                break
            client.get(paths[i % len(paths)], auth)
            own.append(time.perf_counter() - start)
            i += 1
        client.close()

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    cpu_before = cpu_seconds(pid)
    began = time.perf_counter()
    deadline[0] = began + duration
    barrier.wait()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - began
    cpu = cpu_seconds(pid) - cpu_before
    flat = sorted(x for own in latencies for x in own)
    count = len(flat)
    return {
        "requests": count,
        "rps": count / elapsed,
        "mean_ms": statistics.fmean(flat) * 1000,
        "p95_ms": flat[int(count * 0.95) - 1] * 1000,
        "cpu_ms": cpu / count * 1000,  # emulator CPU per request
        "per_core_rps": count / cpu if cpu else float("inf"),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per case (default 3)")
    parser.add_argument("--projects", type=int, default=300, help="projects to create first (default 300)")
    parser.add_argument("--db", default=None, help="database URL (default: SQLite in a temp dir)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="harbor-bench-") as data_dir:
        node = EmulatorProcess(data_dir, db=args.db).start()
        try:
            print(f"emulator (pid {node.process.pid}, {args.db or 'SQLite'}) ready in "
                  f"{node.startup_seconds * 1000:.0f} ms; creating {args.projects} projects ...", flush=True)
            began = time.perf_counter()
            ids = seed(node.port, args.projects)
            seeded = time.perf_counter() - began
            print(f"created {len(ids)} projects in {seeded:.2f} s ({len(ids) / seeded:.0f} POST/s, one client)\n")
            cases = [
                ("GET /projects/{id}", [f"/api/v2.0/projects/{pid}" for pid in ids], True),
                ("GET /ping", ["/api/v2.0/ping"], False),
                ("GET /projects?page_size=100", [f"/api/v2.0/projects?page_size=100&page={p}" for p in (1, 2, 3)],
                 True),
                ("GET /projects/{id}/members", [f"/api/v2.0/projects/{pid}/members?page_size=100&page=1"
                                                for pid in ids], True),
                ("GET /robots?q=ProjectID={id}", [f"/api/v2.0/robots?q=Level%3Dproject%2CProjectID%3D{pid}"
                                                  f"&page_size=100&page=1" for pid in ids[:100]], True),
            ]
            header = f"{'case':30} {'threads':>7} {'req/s':>8} {'mean ms':>8} {'p95 ms':>8} {'cpu ms/req':>10} " \
                     f"{'req/s/core':>10}"
            print("load average before: %.2f %.2f %.2f" % os.getloadavg())
            print(header)
            print("-" * len(header))
            results = {}
            for name, paths, auth in cases:
                for threads in (1, 4):
                    r = run_case(node.port, node.process.pid, paths, auth, threads, args.duration)
                    results[(name, threads)] = r
                    print(f"{name:30} {threads:7d} {r['rps']:8.0f} {r['mean_ms']:8.2f} {r['p95_ms']:8.2f} "
                          f"{r['cpu_ms']:10.3f} {r['per_core_rps']:10.0f}", flush=True)
            print("load average after: %.2f %.2f %.2f" % os.getloadavg())
        finally:
            node.stop()

    simple = results[("GET /projects/{id}", 4)]
    verdict = "meets" if simple["per_core_rps"] >= TARGET else "is BELOW"
    print(f"\ntarget: >= {TARGET} authenticated GET/s on one core; GET /projects/{{id}} "
          f"{verdict} it ({simple['per_core_rps']:.0f} req/s per emulator core, "
          f"{simple['rps']:.0f} req/s measured with 4 client threads on {os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
