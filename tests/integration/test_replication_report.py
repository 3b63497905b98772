"""playbooks/replication_report.yml on a three-node tree (hq -> eu -> paris) of emulator processes with
registries: with paris down a push fails on the edge eu -> paris, and the report says so with the
task's log; with paris back, retry_failed runs the policy again and the edge recovers."""

import re

import pytest

from ..conftest import ADMIN, requires_distribution
from ..emulator_process import EmulatorProcess
from ..images import push_image
from .test_topology import api, digests, playbook, start_nodes, stop_nodes, wait_until, write_inventory

pytestmark = pytest.mark.emulator_only

FAST_RETRY = ["-e", "retry_delay=0", "-e", "retry_poll_interval=0.3", "-e", "retry_wait_timeout=60"]


def summary(stdout):
    """The message of the playbook's "Say how the edges are" task, on one line."""
    task = stdout.split("TASK [Say how the edges are]", 1)[1]
    return " ".join(task.split('"msg": "', 1)[1].split('"\n', 1)[0].split())


def edge_row(markdown, parent, child):
    """The cells of an edge's row in the Edges table of replication_report.md."""
    for line in markdown.splitlines():
        if line.startswith("| %s → %s |" % (parent, child)):
            return [cell.strip() for cell in line.strip("|").split("|")]
    raise AssertionError("no row for %s -> %s in:\n%s" % (parent, child, markdown))


@requires_distribution
def test_report_shows_a_failed_edge_and_a_retry_recovers_it(tmp_path):
    nodes = start_nodes(tmp_path, ["hq", "eu", "paris"])
    try:
        topology = {"kind": "tree", "root": "hq", "edges": [{"from": "hq", "to": "eu"}, {"from": "eu", "to": "paris"}]}
        inventory = write_inventory(tmp_path, {n: p.url for n, p in nodes.items()}, topology)
        built = playbook("replication_topology.yml", inventory)
        assert built.returncode == 0, built.stdout[-3000:]

        api(nodes["hq"]).create_project("lib")
        first = push_image(nodes["hq"].url, "lib/app", "v1", auth=ADMIN)
        wait_until(lambda: digests({"paris": nodes["paris"]}, "lib/app", "v1")["paris"] == first.digest,
                   "lib/app:v1 at paris")

        # paris goes down; the next push reaches eu, and eu's event-based copy to paris fails
        port = nodes["paris"].port
        nodes["paris"].stop()
        second = push_image(nodes["hq"].url, "lib/app", "v2", auth=ADMIN)
        eu = api(nodes["eu"])
        wait_until(lambda: [e for e in eu.get("/replication/executions").json() if e["status"] == "Failed"],
                   "the failed execution eu -> paris")

        report_dir = tmp_path / "report"
        run = playbook("replication_report.yml", inventory, "-e", "replication_report_dir=%s" % report_dir,
                       "-e", "fail_on_failed_edge=true")
        assert run.returncode != 0 and "Replication failed on eu -> paris" in run.stdout, run.stdout[-3000:]
        assert summary(run.stdout).startswith("2 edge(s): 1 succeeded, 1 failed (eu -> paris), 0 recovered"), \
            summary(run.stdout)
        markdown = (report_dir / "replication_report.md").read_text()
        hq_eu, eu_paris = edge_row(markdown, "hq", "eu"), edge_row(markdown, "eu", "paris")
        assert hq_eu[1] == "Succeed" and hq_eu[4] == "topology-eu-events" and hq_eu[5] == "event_based"
        assert eu_paris[1] == "Failed" and eu_paris[4] == "topology-paris-events" and eu_paris[8] == "0/1/1"
        for row in (hq_eu, eu_paris):  # lag: end - start of the newest execution
            assert re.match(r"^\d+\.\d s$", row[2]), row
        failed_section = markdown.split("## Failed tasks", 1)[1].split("\n## ", 1)[0]
        assert "### eu → paris: topology-paris-events" in failed_section
        assert "copy lib/app" in failed_section and "[ERROR]" in failed_section
        assert "127.0.0.1:%d" % port in failed_section  # the log names the unreachable peer
        assert "| paris | %s | 0 | failed: " % nodes["paris"].url in markdown  # it could not be read
        assert "![Replication topology](replication_report.svg)" in markdown
        svg = (report_dir / "replication_report.svg").read_text()
        assert svg.startswith("<svg")
        assert "Failed" in svg and "Succeed" in svg and "paris" in svg
        html = (report_dir / "replication_report.html").read_text()
        assert html.strip().endswith("</html>") and "<svg" in html and 'class="failed">Failed' in html
        for text in (markdown, html, svg, run.stdout):
            assert ADMIN[1] not in text

        # paris is back: the retry runs eu's policy again, the edge recovers and paris has v2
        nodes["paris"] = EmulatorProcess(tmp_path / "paris", registry=True, port=port).start(timeout=60)
        retried_dir = tmp_path / "retried"
        run = playbook("replication_report.yml", inventory, "-e", "replication_report_dir=%s" % retried_dir,
                       "-e", "retry_failed=true", "-e", "fail_on_failed_edge=true", *FAST_RETRY)
        assert run.returncode == 0, run.stdout[-3000:]
        retried = re.findall(r"changed: \[(\S+) -> localhost\] => \(item=(topology-\S+)\)", run.stdout)
        assert retried == [("eu", "topology-paris-events")], run.stdout[-3000:]  # the one retry
        assert summary(run.stdout).startswith("2 edge(s): 2 succeeded, 0 failed, 1 recovered by a retry"), \
            summary(run.stdout)
        markdown = (retried_dir / "replication_report.md").read_text()
        eu_paris = edge_row(markdown, "eu", "paris")
        assert eu_paris[1] == "Succeed (recovered by a retry)" and eu_paris[5] == "manual", eu_paris
        retries = markdown.split("## Retries", 1)[1]
        assert "| eu → paris | topology-paris-events | Succeed | 1 |" in retries
        assert "| paris | %s | 0 | ok |" % nodes["paris"].url in markdown
        assert digests({"paris": nodes["paris"]}, "lib/app", "v2")["paris"] == second.digest
    finally:
        stop_nodes(nodes)
