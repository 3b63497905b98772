"""The replication topology filters: validation rules, messages and the expansion the role uses."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.registryops.harbor.plugins.filter.topology import (
    FilterModule,
    expand_topology,
    topology_problems,
)

HOSTS = ["hq", "hq-dr", "eu", "us", "eu-paris", "eu-berlin", "us-austin", "r1", "r2", "r3"]


def tree(*edges, **extra):
    topology = {"kind": "tree", "root": "hq", "edges": [{"from": a, "to": b} for a, b in edges]}
    topology.update(extra)
    return topology


def problems(topology, **kwargs):
    kwargs.setdefault("known_hosts", HOSTS)
    return topology_problems(topology, **kwargs)


def only_problem(topology, **kwargs):
    found = problems(topology, **kwargs)
    assert len(found) == 1, found
    return found[0]


THREE_LEVELS = tree(("hq", "eu"), ("hq", "us"), ("eu", "eu-paris"), ("eu", "eu-berlin"), ("us", "us-austin"))


# -- valid topologies ---------------------------------------------------------------------------------
def test_three_level_tree_expands_breadth_first_with_names_and_default_settings():
    plan = expand_topology(THREE_LEVELS, HOSTS)
    assert [n["name"] for n in plan["nodes"]] == ["hq", "eu", "us", "eu-paris", "eu-berlin", "us-austin"]
    by_name = {n["name"]: n for n in plan["nodes"]}
    assert by_name["hq"] == {"name": "hq", "parent": None, "depth": 0, "children": ["eu", "us"],
                             "dual_master_peer": None, "role": "root"}
    assert by_name["eu"]["role"] == "relay" and by_name["eu"]["depth"] == 1
    assert by_name["eu-paris"] == {"name": "eu-paris", "parent": "eu", "depth": 2, "children": [],
                                   "dual_master_peer": None, "role": "leaf"}
    assert [(e["parent"], e["child"]) for e in plan["edges"]] == [
        ("hq", "eu"), ("hq", "us"), ("eu", "eu-paris"), ("eu", "eu-berlin"), ("us", "us-austin")]
    edge = plan["edges"][2]
    assert edge["endpoint"] == "topology-eu-paris"
    assert edge["event_policy"] == "topology-eu-paris-events"
    assert edge["catchup_policy"] == "topology-eu-paris-catchup"
    assert edge["event_based"] is True and edge["replicate_deletion"] is True and edge["enabled"] is True
    assert edge["cron"] == "" and edge["filters"] == {} and not edge["dual_master"] and edge["tree_edge"]
    assert plan["parents"] == ["hq", "eu", "us"]


def test_fanout_shorthand_and_settings_layers():
    topology = {"kind": "fanout", "root": "hq", "replicas": ["r1", {"name": "r2", "cron": "0 0 4 * * *"}, "r3"],
                "projects": ["apps", "base"], "cron": "0 30 2 * * *"}
    plan = expand_topology(topology, HOSTS, defaults={"cron": "0 0 1 * * *", "replicate_deletion": False},
                           prefix="hub-")
    edges = {e["child"]: e for e in plan["edges"]}
    assert list(edges) == ["r1", "r2", "r3"]
    assert edges["r1"]["cron"] == "0 30 2 * * *"  # topology level beats the role default
    assert edges["r2"]["cron"] == "0 0 4 * * *"  # the edge beats the topology level
    assert edges["r1"]["replicate_deletion"] is False  # role default where nothing else says
    assert edges["r1"]["filters"] == {"name": "{apps,base}/**"}
    assert edges["r1"]["endpoint"] == "hub-r1"
    assert [n["role"] for n in plan["nodes"]] == ["root", "leaf", "leaf", "leaf"]


def test_an_edge_filters_replace_the_topology_filters():
    topology = tree(("hq", "eu"), filters={"name": "apps/**", "tag": "v*"})
    topology["edges"].append({"from": "hq", "to": "us", "filters": {"name": "base/**"}})
    edges = {e["child"]: e for e in expand_topology(topology, HOSTS)["edges"]}
    assert edges["eu"]["filters"] == {"name": "apps/**", "tag": "v*"}
    assert edges["us"]["filters"] == {"name": "base/**"}
    single = expand_topology(tree(("hq", "eu"), projects=["apps"]), HOSTS)
    assert single["edges"][0]["filters"] == {"name": "apps/**"}


def test_the_layer_that_names_artifacts_last_decides():
    topology = tree(("hq", "eu"), ("hq", "us"), ("hq", "r1"), projects=["apps"])
    topology["edges"][1]["filters"] = {"tag": "v*"}  # its own filters: the inherited projects no longer apply
    topology["edges"][2]["projects"] = ["base"]
    plan = expand_topology(topology, HOSTS, defaults={"filters": {"name": "x/**", "tag": "rc*"}, "projects": []})
    edges = {e["child"]: e for e in plan["edges"]}
    assert edges["eu"]["filters"] == {"name": "apps/**", "tag": "rc*"}  # projects replaces the default name only
    assert edges["us"]["filters"] == {"tag": "v*"}
    assert edges["r1"]["filters"] == {"name": "base/**", "tag": "rc*"}


def test_dual_master_pair_allowed_and_its_reverse_edge_implied():
    # hq <-> hq-dr replicate both ways; hq-dr also feeds a site
    topology = tree(("hq", "hq-dr"), ("hq", "eu"), ("hq-dr", "us"), dual_master=[["hq", "hq-dr"]])
    assert problems(topology) == []
    plan = expand_topology(topology, HOSTS)
    pairs = [(e["parent"], e["child"]) for e in plan["edges"] if e["dual_master"]]
    assert sorted(pairs) == [("hq", "hq-dr"), ("hq-dr", "hq")]
    reverse = next(e for e in plan["edges"] if e["parent"] == "hq-dr" and e["child"] == "hq")
    assert not reverse["tree_edge"] and reverse["endpoint"] == "topology-hq"
    by_name = {n["name"]: n for n in plan["nodes"]}
    assert by_name["hq"]["dual_master_peer"] == "hq-dr" and by_name["hq-dr"]["parent"] == "hq"
    assert "hq-dr" in plan["parents"]


def test_dual_master_with_both_edges_declared_is_a_cycle_that_is_allowed():
    both = tree(("hq", "hq-dr"), ("hq-dr", "hq"), dual_master=[["hq", "hq-dr"]])
    assert problems(both) == []
    assert len(expand_topology(both, HOSTS)["edges"]) == 2


# -- the rules -------------------------------------------------------------------------------------------
def test_two_way_edges_without_dual_master_are_a_cycle_with_a_hint():
    message = only_problem(tree(("hq", "eu"), ("eu", "hq")))
    assert message.startswith("cycle hq -> eu -> hq")
    assert "declare dual_master: [[hq, eu]]" in message


def test_longer_cycle_is_named_along_its_path():
    found = problems(tree(("hq", "eu"), ("eu", "eu-paris"), ("eu-paris", "us"), ("us", "eu")))
    assert any(p.startswith("cycle eu -> eu-paris -> us -> eu") for p in found), found
    assert not any("dual_master: [[" in p for p in found)


def test_a_cycle_through_a_dual_master_pair_is_not_allowed():
    # hq <-> hq-dr is allowed, but hq -> eu -> hq-dr closes a longer loop
    found = problems(tree(("hq", "hq-dr"), ("hq", "eu"), ("eu", "hq-dr"), dual_master=[["hq", "hq-dr"]]))
    assert found == ["cycle hq -> eu -> hq-dr <-> hq: replication loops are only allowed between the two nodes "
                     "of a dual_master pair"]


def test_a_node_with_two_parents():
    message = only_problem(tree(("hq", "eu"), ("hq", "us"), ("eu", "eu-paris"), ("us", "eu-paris")))
    assert message.startswith("eu-paris has 2 parents (eu -> eu-paris, us -> eu-paris)")
    assert "dual_master" in message


def test_a_dual_master_pair_fed_by_two_parents():
    message = only_problem(tree(("hq", "eu"), ("hq", "us"), ("eu", "us"), dual_master=[["eu", "us"]]))
    assert message.startswith("the dual-master pair eu/us has 2 parents (hq -> eu, hq -> us): a pair is fed by one "
                              "parent")


def test_unreachable_nodes_are_listed():
    message = only_problem(tree(("hq", "eu"), ("us", "us-austin")))
    assert message == ("not reachable from the root hq: us, us-austin (each node needs an edge from a node of "
                       "the tree)")


def test_an_orphan_pair_is_reported_unlinked_and_unreachable():
    found = problems(tree(("hq", "eu"), dual_master=[["r1", "r2"]]))
    assert any(p.startswith("dual_master pair [r1, r2] is not linked") for p in found), found
    assert any(p.startswith("not reachable from the root hq: r1, r2") for p in found), found


def test_a_cycle_away_from_the_root_is_a_cycle_and_unreachable():
    found = problems(tree(("hq", "eu"), ("r1", "r2"), ("r2", "r1")))
    assert any(p.startswith("cycle r1 -> r2 -> r1") for p in found), found
    assert any("not reachable from the root hq: r1, r2" in p for p in found), found


def test_the_root_cannot_have_a_parent():
    found = problems(tree(("hq", "eu"), ("r1", "hq")))
    assert "the root hq has a parent (r1 -> hq): the root is replicated from nobody" in found
    assert any(p.startswith("not reachable from the root hq: r1") for p in found)


def test_unknown_names_suggest_the_close_one():
    found = problems(tree(("hq", "eu"), ("eu", "eu-pars")))
    assert found == ["edges[1].to: unknown node 'eu-pars': not an inventory host (did you mean 'eu-paris'?)"]
    assert problems({"kind": "tree", "root": "hqq", "edges": [{"from": "hq", "to": "eu"}]})[0] == (
        "topology.root: unknown node 'hqq': not an inventory host (did you mean 'hq'?)")
    # without an inventory to check against, any name goes
    assert topology_problems(tree(("hq", "anything"))) == []


def test_fanout_has_one_level():
    topology = {"kind": "fanout", "root": "hq", "edges": [{"from": "hq", "to": "eu"}, {"from": "eu", "to": "r1"}]}
    message = only_problem(topology)
    assert message.startswith("edges[1]: eu -> r1 does not start at the master hq")
    assert "kind: tree" in message


def test_declaration_mistakes_are_all_reported_at_once():
    topology = {"kind": "star", "root": "hq", "edge": [],
                "edges": [{"from": "hq", "to": "hq"}, {"from": "hq", "too": "eu"}, "hq->us",
                          {"from": "hq", "to": "r1"}, {"from": "hq", "to": "r1"}],
                "replicas": ["r2"], "dual_master": [["r3"], ["hq", "hq"]]}
    found = problems(topology)
    expected = [
        "topology: unknown key 'edge' (did you mean 'edges'?)",
        "topology: kind must be fanout (one master, many replicas) or tree (several levels), not 'star'",
        "edges[0]: hq -> hq replicates a node to itself",
        "edges[1]: unknown key 'too' (did you mean 'to'?)",
        "edges[1].to: a node is named by an inventory host name, not None",
        "edges[2] must be a mapping {from: PARENT, to: CHILD}, not 'hq->us'",
        "edges[4] repeats hq -> r1 (already edges[3])",
        "dual_master[0] must be a pair of two node names, not ['r3']",
        "dual_master[1] pairs hq with itself",
    ]
    for text in expected:
        assert any(p.startswith(text) for p in found), (text, found)


def test_settings_are_checked_like_the_modules_check_them():
    topology = tree(("hq", "eu"), cron="0 * 2 * * *")
    topology["edges"].append({"from": "hq", "to": "us", "event_based": "yes", "filters": {"nam": "apps/**"},
                              "dest_namespace_replace_count": 7, "speed_kb": -5})
    topology["edges"].append({"from": "hq", "to": "r1", "projects": ["apps"], "filters": {"name": "x/**"},
                              "cron": "0 0 2 * *"})
    topology["edges"].append({"from": "hq", "to": "r2", "filters": {"resource": "helm", "tag_decoration": "not"}})
    found = problems(topology)
    text = "\n".join(found)
    assert "topology: cron '0 * 2 * * *': the minutes field cannot be '*'" in text
    assert text.count("the minutes field") == 1  # reported where it is written, not once per edge
    assert "edges[1]: event_based must be true or false, not 'yes'" in text
    assert "edges[1]: filters: unknown key 'nam' (did you mean 'name'?)" in text
    assert "edges[1]: dest_namespace_replace_count must be -1, 0, 1, 2 or 3, not 7" in text
    assert "edges[1]: speed_kb must be -1, 0 (no limit) or a positive number of KB/s, not -5" in text
    assert "edges[2]: give either projects or filters.name, not both" in text
    assert "edges[2]: cron '0 0 2 * *' is not a valid cron: Harbor crons have 6 fields" in text
    assert "edges[3]: filters.resource must be one of image, artifact, not 'helm'" in text
    assert "edges[3]: filters.tag_decoration must be one of matches, excludes, not 'not'" in text


def test_a_bad_role_default_is_caught_too():
    found = problems(tree(("hq", "eu"), ("hq", "us")), defaults={"cron": "5 0 2 * * *"})
    assert found == ["the role's defaults (replication_topology_*): cron '5 0 2 * * *': the first field (seconds) "
                     "must be 0 in Harbor crons"]
    # overridden where it matters, it is not a problem
    assert problems(tree(("hq", "eu")), defaults={"cron": "5 0 2 * * *"}) != []
    assert problems(tree(("hq", "eu"), cron="0 0 2 * * *"), defaults={"cron": ""}) == []


def test_endpoint_names_fit_harbor():
    message = only_problem(tree(("hq", "eu")), prefix="x" * 63)
    assert "longer than Harbor's 64 characters" in message


def test_not_a_mapping_and_no_edges():
    assert problems(["hq", "eu"]) == [
        "the topology must be a mapping with kind, root and edges (or replicas), not ['hq', 'eu']"]
    assert problems({"kind": "tree", "root": "hq", "edges": []}) == [
        "the topology declares no edge: nothing would be replicated"]


def test_expansion_fails_with_every_problem():
    with pytest.raises(AnsibleFilterError) as raised:
        expand_topology(tree(("hq", "eu"), ("eu", "hq"), ("hq", "nowhere")), HOSTS)
    message = str(raised.value)
    assert message.startswith("the replication topology is not valid:\n- ")
    assert "unknown node 'nowhere'" in message and "cycle hq -> eu -> hq" in message


def test_filter_names():
    assert set(FilterModule().filters()) == {"replication_topology", "replication_topology_problems"}


# -- the report filters -------------------------------------------------------------------------------------
from ansible_collections.registryops.harbor.plugins.filter.replication_report import (  # noqa: E402
    FilterModule as ReportFilters,
    build_report,
    format_seconds,
    newest_failed,
    parse_time,
    topology_svg,
)

NOW = "2030-01-01T12:00:00.000Z"


def execution(execution_id, policy_id, status, start, end=None, trigger="event_based", **counts):
    """An execution as Harbor lists it; start and end in seconds after 11:00."""
    def at(seconds):
        return "2030-01-01T11:%02d:%06.3fZ" % divmod(seconds, 60) if seconds is not None else "0001-01-01T00:00:00.000Z"
    base = {"id": execution_id, "policy_id": policy_id, "status": status, "status_text": "", "trigger": trigger,
            "start_time": at(start), "end_time": at(end), "total": 1, "succeed": 0, "failed": 0, "in_progress": 0,
            "stopped": 0}
    base.update(counts)
    return base


def policy(policy_id, name, trigger="event_based", registry="topology-eu"):
    return {"id": policy_id, "name": name, "enabled": True, "trigger": {"type": trigger, "trigger_settings": {"cron": ""}},
            "src_registry": {"id": 0, "name": "Local"}, "dest_registry": {"id": 1, "name": registry, "url": "http://x"}}


def small_tree():
    return expand_topology(tree(("hq", "eu"), ("hq", "us"), ("eu", "eu-paris"), ("us", "us-austin")), HOSTS)


def test_time_parsing_and_lag_text():
    assert parse_time("2030-01-01T11:00:01.5Z").timestamp() == parse_time("2030-01-01T11:00:01.500Z").timestamp()
    assert parse_time("2030-01-01T11:00:01Z") is not None
    assert parse_time("0001-01-01T00:00:00.000Z") is None and parse_time("") is None and parse_time("soon") is None
    assert [format_seconds(s) for s in (None, 0.04, 1.25, 95, 7260)] == ["-", "0.0 s", "1.2 s", "1 min 35 s",
                                                                          "2 h 1 min"]


def test_each_edge_gets_the_status_and_lag_of_its_newest_execution():
    hq = {"name": "hq", "url": "http://hq", "policies": [
        policy(1, "topology-eu-events"), policy(2, "topology-eu-catchup", "scheduled"),
        policy(3, "topology-us-events", registry="topology-us"), policy(4, "hand-made", "manual", "elsewhere")],
        "execution_list": [
            execution(1, 1, "Succeed", 0, 2.5, succeed=1),
            execution(2, 2, "Failed", 10, 11, trigger="scheduled", failed=1),   # newest on hq -> eu
            execution(3, 3, "Succeed", 5, 6.25, succeed=1),
            execution(4, 4, "Failed", 1, 2, trigger="manual")]}
    eu = {"name": "eu", "url": "http://eu", "policies": [policy(1, "topology-eu-paris-events")], "execution_list": []}
    us = {"name": "us", "url": "http://us", "error": "cannot reach Harbor"}
    report = build_report(small_tree(), [hq, eu, us], now=NOW)
    edges = {(e["parent"], e["child"]): e for e in report["edges"]}
    assert edges[("hq", "eu")]["status"] == "Failed" and edges[("hq", "eu")]["latest_policy"] == "topology-eu-catchup"
    assert edges[("hq", "eu")]["lag_seconds"] == 1.0 and edges[("hq", "eu")]["lag"] == "1.0 s"
    assert [p["name"] for p in edges[("hq", "eu")]["policies"]] == ["topology-eu-events", "topology-eu-catchup"]
    assert edges[("hq", "us")]["status"] == "Succeed" and edges[("hq", "us")]["lag_seconds"] == 1.25
    assert edges[("eu", "eu-paris")]["status"] == "never run"
    assert edges[("us", "us-austin")]["status"] == "unknown"
    assert edges[("us", "us-austin")]["note"] == "us could not be read: cannot reach Harbor"
    assert [p["name"] for p in report["other_policies"]] == ["hand-made"] and report["other_policies"][0]["retries"] == []
    assert report["other_policies"][0]["latest"]["status"] == "Failed"
    assert report["counts"] == {"edges": 4, "succeed": 1, "failed": 1, "stopped": 0, "running": 0, "never_run": 1,
                                "missing": 0, "unknown": 1, "recovered": 0}
    assert report["failed_edges"] == ["hq -> eu"] and report["unknown_edges"] == ["us -> us-austin"]
    assert [(r["name"], r["policies"], r["error"]) for r in report["registries"]] == [
        ("hq", 4, ""), ("eu", 1, ""), ("us", 0, "cannot reach Harbor")]


def test_running_execution_lag_runs_to_now_and_missing_policies_are_named():
    hq = {"name": "hq", "policies": [policy(1, "topology-eu-events")],
          "execution_list": [execution(7, 1, "InProgress", 3590)]}  # 10 s before NOW
    report = build_report(small_tree(), [hq], now=NOW)
    edges = {(e["parent"], e["child"]): e for e in report["edges"]}
    assert edges[("hq", "eu")]["status"] == "InProgress" and edges[("hq", "eu")]["lag_seconds"] == 10.0
    assert edges[("hq", "us")]["status"] == "missing"
    assert "no policy topology-us-events or topology-us-catchup on hq" in edges[("hq", "us")]["note"]
    assert edges[("eu", "eu-paris")]["note"] == "eu was not part of this run"


def test_only_the_newest_executions_per_policy_and_the_read_after_retries_wins():
    many = [execution(i, 1, "Succeed", i, i + 1) for i in range(1, 9)]
    hq = {"name": "hq", "policies": [policy(1, "topology-eu-events")], "execution_list": many}
    report = build_report(small_tree(), [hq], now=NOW, limit=3)
    edge = report["edges"][0]
    assert [e["id"] for e in edge["policies"][0]["executions"]] == [8, 7, 6]

    failed = [execution(1, 1, "Failed", 0, 1, failed=1), execution(2, 1, "Succeed", 2, 3)]
    hq = {"name": "hq", "policies": [policy(1, "topology-eu-events")],
          "execution_list": [failed[0]], "execution_list_after": failed + [execution(3, 1, "Succeed", 20, 21.5)],
          "retry_results": [{"item": "topology-eu-events", "changed": True,
                             "execution": {"id": 3, "status": "Succeed"}, "attempts": [{"id": 3}]},
                            {"item": "skipped-one", "skipped": True}],
          "task_results": [{"item": 1, "status": 200, "json": [{"id": 40, "operation": "copy",
                                                                 "src_resource": "lib/app [1 item(s) in total]",
                                                                 "dst_resource": "lib/app [1 item(s) in total]"}]}],
          "log_results": [{"item": [{"item": 1}, {"id": 40}], "status": 200,
                           "content": "line 1\n\nline 2\n[ERROR] connection refused\n"}]}
    edge = build_report(small_tree(), [hq], now=NOW, log_lines=2)["edges"][0]
    assert edge["status"] == "Succeed" and edge["recovered"] and edge["latest"]["id"] == 3
    assert edge["retries"] == [{"policy": "topology-eu-events", "status": "Succeed", "execution_id": 3,
                                "attempts": 1, "msg": "", "failed_tasks": []}]
    first = [e for e in edge["policies"][0]["executions"] if e["id"] == 1][0]
    assert first["failed_tasks"][0]["log_tail"] == ["line 2", "[ERROR] connection refused"]
    assert newest_failed(hq) == [1]


def test_newest_failed_takes_one_execution_per_policy():
    node = {"name": "hq", "policies": [policy(1, "a"), policy(2, "b"), policy(3, "c")],
            "execution_list": [execution(1, 1, "Failed", 0, 1), execution(2, 1, "Failed", 5, 6),
                               execution(3, 2, "Succeed", 0, 1), execution(4, 3, "Failed", 0, 1)]}
    assert newest_failed(node) == [2, 4]
    assert newest_failed(node, limit=1) == [2, 4]
    assert newest_failed({"name": "x", "error": "down"}) == []


def test_without_a_topology_every_policy_is_listed():
    node = {"name": "solo", "policies": [policy(1, "nightly", "scheduled")],
            "execution_list": [execution(1, 1, "Succeed", 0, 60)]}
    report = build_report({}, [node], problems=["cycle a -> b -> a"], now=NOW)
    assert report["edges"] == [] and report["kind"] is None and report["problems"] == ["cycle a -> b -> a"]
    assert report["other_policies"][0]["latest"]["lag"] == "1 min 0 s"


def test_the_picture_shows_nodes_statuses_and_lags():
    hq = {"name": "hq", "policies": [policy(1, "topology-eu-events"), policy(3, "topology-us-events")],
          "execution_list": [execution(1, 1, "Succeed", 0, 2.5), execution(2, 3, "Failed", 0, 4)]}
    report = build_report(small_tree(), [hq, {"name": "us", "error": "down"}], now=NOW)
    svg = topology_svg(report, "Replication topology tree from hq")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    for text in ("hq", "eu-paris", "us-austin", "Succeed", "Failed", "2.5 s", "4.0 s", "unknown",
                 "Replication topology tree from hq"):
        assert text in svg, text
    assert "#cf222e" in svg and "#1a7f37" in svg  # red and green arrows
    with pytest.raises(AnsibleFilterError, match="no topology to draw"):
        topology_svg(build_report({}, [], now=NOW))


def test_report_filter_names():
    assert set(ReportFilters().filters()) == {"replication_report", "replication_newest_failed",
                                              "replication_topology_svg"}


def render(template, **variables):
    """A report template the way ansible.builtin.template renders it (trim_blocks)."""
    import os

    import jinja2

    path = os.path.join(os.path.dirname(__file__), "..", "..", "playbooks", "templates")
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(path), trim_blocks=True,
                                     undefined=jinja2.StrictUndefined)
    return environment.get_template(template).render(**variables)


def test_report_templates_render_every_section():
    hq = {"name": "hq", "url": "http://hq", "policies": [policy(1, "topology-eu-events"), policy(4, "nightly|pull")],
          "execution_list": [execution(1, 1, "Failed", 0, 2, failed=1), execution(2, 4, "Failed", 0, 1)],
          "task_results": [{"item": 1, "status": 200, "json": [{"id": 9, "operation": "copy", "src_resource": "lib/a",
                                                                "dst_resource": "lib/a"}]}],
          "log_results": [{"item": [{"item": 1}, {"id": 9}], "status": 200, "content": "[ERROR] <refused> & gone"}],
          "retry_results": [{"item": "nightly|pull", "execution": {"id": 3, "status": "Failed"}, "attempts": [{}, {}],
                             "msg": "failed after 2 attempt(s)"}]}
    report = build_report(small_tree(), [hq, {"name": "us", "url": "http://us", "error": "cannot reach Harbor"}],
                          problems=[], now=NOW)
    markdown = render("replication_report.md.j2", replication_report=report)
    for text in ("| hq → eu | Failed | 2.0 s | 1 | topology-eu-events | event_based |",
                 "### hq → eu: topology-eu-events, execution 1 (Failed)", "[ERROR] <refused> & gone",
                 "| hq | nightly\\|pull | Failed | 2 | 3 | failed after 2 attempt(s) |",
                 "| us | http://us | 0 | failed: cannot reach Harbor |", "## Other replication policies",
                 "| us → us-austin | unknown | - |"):
        assert text in markdown, (text, markdown)
    assert "![Replication topology]" not in markdown  # no picture drawn
    html = render("replication_report.html.j2", replication_report=report, replication_report_svg="<svg>x</svg>")
    assert "[ERROR] &lt;refused&gt; &amp; gone" in html and "<svg>x</svg>" in html
    assert html.count("<table>") == 5 and html.count("</table>") == 5  # edges, retries, registries, others, executions

    invalid = build_report({}, [hq], problems=["cycle a -> b -> a"], now=NOW)
    markdown = render("replication_report.md.j2", replication_report=invalid)
    assert "No topology: the inventory declares no `harbor_topology` (or an invalid one, see below)." in markdown
    assert "## Topology problems\n\n- cycle a -> b -> a" in markdown
