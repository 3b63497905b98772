# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A replication topology declared in the inventory, checked and expanded (pure Python, no I/O).

    harbor_topology:
      kind: tree                  # or fanout: one master, every replica one level below it
      root: hq
      edges:                      # parent -> child: the parent pushes to the child
        - {from: hq, to: eu}
        - {from: eu, to: eu-paris, cron: "0 0 4 * * *"}
      replicas: [r1, {name: r2}]  # fanout only: shorthand for edges from the root
      dual_master: [[hq, hq-dr]]  # pairs that replicate both ways (the reverse edge is implied)
      filters: {name: "apps/**"}  # edge settings for every edge (an edge's own keys win)

`replication_topology_problems` returns every problem found (an empty list when the topology
is valid); `replication_topology` returns the expansion the role and the report use, or fails
with all the problems at once. A dual-master pair counts as one node for the tree rules: each
node (or pair) has at most one parent, there is no cycle other than a pair's two edges, and
every node is reachable from the root.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib

from ansible.errors import AnsibleFilterError
from ansible.module_utils.six import string_types

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import InvalidInput
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.replication_policy import (
    FILTER_SPEC,
    check_replication_cron,
)

KINDS = ("fanout", "tree")
DEFAULT_PREFIX = "topology-"
ENDPOINT_NAME_MAX = 64  # Harbor's limit on registry endpoint names
# Per-edge settings: what the role's replication policies take. Topology-level values apply to every
# edge, an edge's own values win; the role's defaults fill in the rest.
SETTINGS = ("filters", "projects", "cron", "event_based", "replicate_deletion", "override", "enabled",
            "dest_namespace", "dest_namespace_replace_count", "speed_kb")
BUILTIN_DEFAULTS = {"filters": {}, "projects": [], "cron": "", "event_based": True, "replicate_deletion": True,
                    "override": True, "enabled": True, "dest_namespace": "", "dest_namespace_replace_count": None,
                    "speed_kb": None}
TOPOLOGY_KEYS = ("kind", "root", "edges", "replicas", "dual_master") + SETTINGS
EDGE_KEYS = ("from", "to") + SETTINGS
REPLICA_KEYS = ("name",) + SETTINGS
BOOLEAN_SETTINGS = ("event_based", "replicate_deletion", "override", "enabled")
FILTER_CHOICES = dict((key, spec["choices"]) for key, spec in FILTER_SPEC.items() if "choices" in spec)


def _unknown_keys(mapping, valid, where):
    problems = []
    for key in mapping:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = " (did you mean %r?)" % close[0] if close else ""
            problems.append("%s: unknown key %r%s; valid keys: %s" % (where, key, hint, ", ".join(valid)))
    return problems


def _check_layer(layer, where):
    """Problems with the edge settings one layer declares (role defaults, the topology's top level, or
    one edge), checked where they are written and with the rules the modules apply, before any call."""
    problems = []
    for key in BOOLEAN_SETTINGS:
        if layer.get(key) is not None and not isinstance(layer[key], bool):
            problems.append("%s: %s must be true or false, not %r" % (where, key, layer[key]))
    cron = layer.get("cron")
    if cron:
        if not isinstance(cron, string_types):
            problems.append("%s: cron must be a string like '0 30 2 * * *', not %r" % (where, cron))
        else:
            try:
                check_replication_cron(cron, "%s: cron" % where)
            except InvalidInput as exc:
                problems.append(str(exc))
    filters, projects = layer.get("filters"), layer.get("projects")
    if filters is not None and not isinstance(filters, dict):
        problems.append("%s: filters must be a mapping with %s, not %r" % (where, ", ".join(FILTER_SPEC), filters))
    elif filters:
        problems += _unknown_keys(filters, list(FILTER_SPEC), "%s: filters" % where)
        for key, choices in FILTER_CHOICES.items():
            if filters.get(key) is not None and filters[key] not in choices:
                problems.append("%s: filters.%s must be one of %s, not %r" % (where, key, ", ".join(choices),
                                                                              filters[key]))
        if filters.get("labels") is not None and (not isinstance(filters["labels"], list) or not all(
                isinstance(label, string_types) for label in filters["labels"])):
            problems.append("%s: filters.labels must be a list of label names" % where)
        for key in ("name", "tag"):
            if filters.get(key) is not None and not isinstance(filters[key], string_types):
                problems.append("%s: filters.%s must be a pattern string, not %r" % (where, key, filters[key]))
    if projects is not None and (not isinstance(projects, list) or not all(
            isinstance(p, string_types) and p for p in projects)):
        problems.append("%s: projects must be a list of project names, not %r" % (where, projects))
    elif projects and isinstance(filters, dict) and filters.get("name"):
        problems.append("%s: give either projects or filters.name, not both (projects is a shorthand for "
                        "filters.name '{a,b}/**')" % where)
    count = layer.get("dest_namespace_replace_count")
    if count is not None and (isinstance(count, bool) or count not in (-1, 0, 1, 2, 3)):
        problems.append("%s: dest_namespace_replace_count must be -1, 0, 1, 2 or 3, not %r" % (where, count))
    speed = layer.get("speed_kb")
    if speed is not None and (isinstance(speed, bool) or not isinstance(speed, int) or speed < -1):
        problems.append("%s: speed_kb must be -1, 0 (no limit) or a positive number of KB/s, not %r" % (where, speed))
    if layer.get("dest_namespace") is not None and not isinstance(layer["dest_namespace"], string_types):
        problems.append("%s: dest_namespace must be a string" % where)
    return problems


def _merge(layers):
    """Edge settings, each layer over the ones before. The layer that names artifacts last decides:
    a layer's `filters` drops inherited `projects`, a layer's `projects` replaces inherited `filters.name`."""
    merged = dict(BUILTIN_DEFAULTS)
    for layer in layers:
        for key in SETTINGS:
            if key in layer:
                merged[key] = layer[key]
        if "filters" in layer and "projects" not in layer:
            merged["projects"] = []
        if "projects" in layer and "filters" not in layer and isinstance(merged["filters"], dict):
            merged["filters"] = dict((k, v) for k, v in merged["filters"].items() if k != "name")
    for key, empty in (("filters", {}), ("projects", []), ("cron", ""), ("dest_namespace", "")):
        if merged[key] is None:
            merged[key] = empty
    return merged


def _policy_filters(settings):
    """The replication_policy module's `filters` for an edge (projects becomes the name pattern)."""
    filters = dict((k, v) for k, v in (settings["filters"] or {}).items() if v is not None)
    projects = settings["projects"]
    if projects:
        filters["name"] = "%s/**" % projects[0] if len(projects) == 1 else "{%s}/**" % ",".join(projects)
    return filters


class _Reader(object):
    """Reads the declaration into (root, edges, pairs), collecting problems instead of stopping."""

    def __init__(self, topology, known_hosts, defaults):
        self.topology = topology
        self.known = list(known_hosts) if known_hosts is not None else None
        self.defaults = dict((k, v) for k, v in (defaults or {}).items() if k in SETTINGS)
        self.problems = _check_layer(self.defaults, "the role's defaults (replication_topology_*)")

    def name(self, value, where):
        """A node name, or None (with a problem) when it is not a known inventory host."""
        if not isinstance(value, string_types) or not value:
            self.problems.append("%s: a node is named by an inventory host name, not %r" % (where, value))
            return None
        if self.known is not None and value not in self.known:
            close = difflib.get_close_matches(value, self.known, n=1)
            hint = " (did you mean %r?)" % close[0] if close else ""
            self.problems.append("%s: unknown node %r: not an inventory host%s" % (where, value, hint))
            return None
        return value

    def settings(self, *layers):
        return _merge([self.defaults] + list(layers))

    def read(self):
        topology = self.topology
        if not isinstance(topology, dict):
            self.problems.append("the topology must be a mapping with kind, root and edges (or replicas), not %r"
                                 % (topology,))
            return None
        self.problems += _unknown_keys(topology, list(TOPOLOGY_KEYS), "topology")
        kind = topology.get("kind")
        if kind not in KINDS:
            self.problems.append("topology: kind must be fanout (one master, many replicas) or tree (several "
                                 "levels), not %r" % (kind,))
        root = self.name(topology.get("root"), "topology.root")
        top = dict((k, v) for k, v in topology.items() if k in SETTINGS)
        self.problems += _check_layer(top, "topology")
        edges = []
        raw_edges = topology.get("edges") or []
        if not isinstance(raw_edges, list):
            self.problems.append("topology.edges must be a list of {from: PARENT, to: CHILD}")
            raw_edges = []
        for index, raw in enumerate(raw_edges):
            where = "edges[%d]" % index
            if not isinstance(raw, dict):
                self.problems.append("%s must be a mapping {from: PARENT, to: CHILD}, not %r" % (where, raw))
                continue
            self.problems += _unknown_keys(raw, list(EDGE_KEYS), where)
            parent, child = self.name(raw.get("from"), where + ".from"), self.name(raw.get("to"), where + ".to")
            self.problems += _check_layer(raw, where)
            edges.append(self.edge(where, parent, child, self.settings(top, raw)))
        raw_replicas = topology.get("replicas") or []
        if raw_replicas and kind == "tree":
            self.problems.append("topology.replicas is the fanout shorthand; a tree lists its edges")
        if not isinstance(raw_replicas, list):
            self.problems.append("topology.replicas must be a list of replica names")
            raw_replicas = []
        for index, raw in enumerate(raw_replicas):
            where = "replicas[%d]" % index
            if isinstance(raw, dict):
                self.problems += _unknown_keys(raw, list(REPLICA_KEYS), where) + _check_layer(raw, where)
                child, layer = self.name(raw.get("name"), where + ".name"), raw
            else:
                child, layer = self.name(raw, where), {}
            edges.append(self.edge(where, root, child, self.settings(top, layer)))
        pairs = self.pairs(topology.get("dual_master") or [])
        seen, unique = {}, []
        for edge in [e for e in edges if e is not None]:
            key = (edge["parent"], edge["child"])
            if key in seen:
                self.problems.append("%s repeats %s -> %s (already %s)" % (edge["where"], key[0], key[1], seen[key]))
                continue
            seen[key] = edge["where"]
            unique.append(edge)
        edges = unique
        if not edges and not self.problems:
            self.problems.append("the topology declares no edge: nothing would be replicated")
        return {"kind": kind, "root": root, "edges": edges, "pairs": pairs}

    def edge(self, where, parent, child, settings):
        if parent is None or child is None:
            return None
        if parent == child:
            self.problems.append("%s: %s -> %s replicates a node to itself" % (where, parent, child))
            return None
        return {"where": where, "parent": parent, "child": child, "settings": settings}

    def pairs(self, raw_pairs):
        pairs, member_of = [], {}
        if not isinstance(raw_pairs, list):
            self.problems.append("topology.dual_master must be a list of pairs like [[a, b]]")
            return pairs
        for index, raw in enumerate(raw_pairs):
            where = "dual_master[%d]" % index
            if not isinstance(raw, list) or len(raw) != 2:
                self.problems.append("%s must be a pair of two node names, not %r" % (where, raw))
                continue
            first, second = self.name(raw[0], where + "[0]"), self.name(raw[1], where + "[1]")
            if first is None or second is None:
                continue
            if first == second:
                self.problems.append("%s pairs %s with itself" % (where, first))
                continue
            clash = [n for n in (first, second) if n in member_of]
            if clash:
                self.problems.append("%s: %s is already in %s; a node can be in one dual-master pair"
                                     % (where, clash[0], member_of[clash[0]]))
                continue
            member_of[first] = member_of[second] = where
            pairs.append((first, second))
        return pairs


def _find_cycles(units, unit_edges):
    """Every elementary cycle found by a depth-first walk, each once, as lists of edges."""
    cycles, colour, stack, reported = [], {}, [], set()
    outgoing = {}
    for edge in unit_edges:
        outgoing.setdefault(edge[0], []).append(edge)

    def visit(unit):
        colour[unit] = "grey"
        for edge in outgoing.get(unit, []):
            target = edge[1]
            if colour.get(target) == "grey":  # back to a unit on the current path: a cycle
                start = [i for i, e in enumerate(stack) if e[0] == target][0]
                cycle = stack[start:] + [edge]
                key = frozenset(e[0] for e in cycle)
                if key not in reported:
                    reported.add(key)
                    cycles.append(cycle)
            elif colour.get(target) is None:
                stack.append(edge)
                visit(target)
                stack.pop()
        colour[unit] = "black"

    for unit in units:
        if colour.get(unit) is None:
            visit(unit)
    return cycles


def _render_path(edges):
    """hq -> eu -> paris, with a pair crossed as a <-> b."""
    text = edges[0]["parent"]
    previous = edges[0]["parent"]
    for edge in edges:
        if edge["parent"] != previous:
            text += " <-> %s" % edge["parent"]
        text += " -> %s" % edge["child"]
        previous = edge["child"]
    if previous != edges[0]["parent"]:  # closed through a pair
        text += " <-> %s" % edges[0]["parent"]
    return text


def _check_graph(declared, problems):
    """Tree rules on the graph where each dual-master pair is one unit."""
    root, edges, pairs = declared["root"], declared["edges"], declared["pairs"]
    unit_of = {}
    for first, second in pairs:
        unit_of[first] = unit_of[second] = "%s+%s" % (first, second)

    def unit(node):
        return unit_of.get(node, node)

    # a pair must be linked by one of its edges; the reverse one is implied
    linked = set()
    for edge in edges:
        if unit(edge["parent"]) == unit(edge["child"]):
            linked.add(unit(edge["parent"]))
    for first, second in pairs:
        if unit(first) not in linked:
            problems.append("dual_master pair [%s, %s] is not linked: add an edge %s -> %s (the reverse edge is "
                            "implied)" % (first, second, first, second))

    nodes = []
    for node in [root] + [n for e in edges for n in (e["parent"], e["child"])] + [n for p in pairs for n in p]:
        if node is not None and node not in nodes:
            nodes.append(node)

    # one parent per node (or pair): an edge between units is a parent edge
    parents = {}
    for edge in edges:
        if unit(edge["parent"]) != unit(edge["child"]):
            parents.setdefault(unit(edge["child"]), []).append(edge)
    for target, incoming in parents.items():
        if len(incoming) > 1:
            listed = ", ".join("%s -> %s" % (e["parent"], e["child"]) for e in incoming)
            if target in unit_of.values():
                problems.append("the dual-master pair %s has %d parents (%s): a pair is fed by one parent, through "
                                "one of its nodes" % (target.replace("+", "/"), len(incoming), listed))
            else:
                problems.append("%s has %d parents (%s): a node is replicated from one parent only; for two-way "
                                "replication between two nodes declare them in dual_master"
                                % (target, len(incoming), listed))

    # no cycle other than a pair's own two edges
    unit_edges, representative = [], {}
    for edge in edges:
        key = (unit(edge["parent"]), unit(edge["child"]))
        if key[0] != key[1] and key not in representative:
            representative[key] = edge
            unit_edges.append(key)
    units = []
    for node in nodes:
        if unit(node) not in units:
            units.append(unit(node))
    in_cycle = set()
    for cycle in _find_cycles(units, unit_edges):
        path = [representative[key] for key in cycle]
        in_cycle |= set(key[0] for key in cycle)
        hint = ""
        if len(path) == 2 and path[0]["parent"] == path[1]["child"] and path[0]["child"] == path[1]["parent"]:
            hint = "; for two-way replication declare dual_master: [[%s, %s]]" % (path[0]["parent"], path[0]["child"])
        problems.append("cycle %s: replication loops are only allowed between the two nodes of a dual_master pair%s"
                        % (_render_path(path), hint))
    if root is not None and unit(root) in parents and unit(root) not in in_cycle:
        problems.append("the root %s has a parent (%s): the root is replicated from nobody"
                        % (root, ", ".join("%s -> %s" % (e["parent"], e["child"]) for e in parents[unit(root)])))

    # every node reachable from the root
    if root is None:
        return
    reached, frontier = {root}, [root]
    while frontier:
        current = frontier.pop(0)
        for edge in edges:
            if edge["parent"] == current and edge["child"] not in reached:
                reached.add(edge["child"])
                frontier.append(edge["child"])
        for first, second in pairs:  # the implied reverse edge of a pair
            for a, b in ((first, second), (second, first)):
                if a == current and b not in reached and unit(first) in linked:
                    reached.add(b)
                    frontier.append(b)
    unreachable = [n for n in nodes if n not in reached]
    if unreachable:
        problems.append("not reachable from the root %s: %s (each node needs an edge from a node of the tree)"
                        % (root, ", ".join(unreachable)))

    if declared["kind"] == "fanout":
        for edge in edges:
            if unit(edge["parent"]) != unit(root) and unit(edge["parent"]) != unit(edge["child"]):
                problems.append("%s: %s -> %s does not start at the master %s: a fanout has one level (use kind: "
                                "tree for several)" % (edge["where"], edge["parent"], edge["child"], root))


def _names(prefix, child):
    return {"endpoint": prefix + child, "event_policy": "%s%s-events" % (prefix, child),
            "catchup_policy": "%s%s-catchup" % (prefix, child)}


def _analyse(topology, known_hosts, defaults, prefix):
    reader = _Reader(topology, known_hosts, defaults)
    declared = reader.read()
    problems = reader.problems
    if not isinstance(prefix, string_types):
        problems.append("the name prefix must be a string, not %r" % (prefix,))
        prefix = DEFAULT_PREFIX
    if declared is None:
        return problems, None
    _check_graph(declared, problems)
    children = [e["child"] for e in declared["edges"]] + [n for pair in declared["pairs"] for n in pair]
    for node in sorted(set(children)):  # every child becomes an endpoint on its parent
        if len(prefix + node) > ENDPOINT_NAME_MAX:
            problems.append("the endpoint name %r for %s is longer than Harbor's %d characters: shorten the prefix "
                            "or the host name" % (prefix + node, node, ENDPOINT_NAME_MAX))
    return problems, declared


def topology_problems(topology, known_hosts=None, defaults=None, prefix=DEFAULT_PREFIX):
    """Every problem of a declared topology, as sentences; [] when it is valid."""
    problems, _declared = _analyse(topology, known_hosts, defaults, prefix)
    return problems


def expand_topology(topology, known_hosts=None, defaults=None, prefix=DEFAULT_PREFIX):
    """The checked topology: nodes in breadth-first order and one entry per replication edge (parent
    pushes to child), each with the endpoint and policy names and its merged settings."""
    problems, declared = _analyse(topology, known_hosts, defaults, prefix)
    if problems:
        raise AnsibleFilterError("the replication topology is not valid:\n- " + "\n- ".join(problems))
    root, pairs = declared["root"], declared["pairs"]
    peer = {}
    for first, second in pairs:
        peer[first], peer[second] = second, first
    edges = list(declared["edges"])
    declared_keys = set((e["parent"], e["child"]) for e in edges)
    for edge in list(edges):  # the implied reverse edge of each dual-master pair
        if peer.get(edge["parent"]) == edge["child"] and (edge["child"], edge["parent"]) not in declared_keys:
            declared_keys.add((edge["child"], edge["parent"]))
            edges.append({"where": edge["where"] + " (reverse, dual_master)", "parent": edge["child"],
                          "child": edge["parent"], "settings": edge["settings"]})

    order, depth, tree_parent = [root], {root: 0}, {root: None}
    frontier = [root]
    while frontier:
        current = frontier.pop(0)
        for edge in edges:
            if edge["parent"] == current and edge["child"] not in depth:
                depth[edge["child"]] = depth[current] + 1
                tree_parent[edge["child"]] = current
                order.append(edge["child"])
                frontier.append(edge["child"])
    rank = dict((name, index) for index, name in enumerate(order))
    out_edges = []
    for edge in sorted(edges, key=lambda e: (rank[e["parent"]], rank[e["child"]])):
        settings = edge["settings"]
        entry = {"parent": edge["parent"], "child": edge["child"], "declared_at": edge["where"],
                 "dual_master": peer.get(edge["parent"]) == edge["child"],
                 "tree_edge": tree_parent.get(edge["child"]) == edge["parent"],
                 "filters": _policy_filters(settings)}
        entry.update(_names(prefix, edge["child"]))
        for key in SETTINGS:
            if key not in ("filters", "projects"):
                entry[key] = settings[key]
        out_edges.append(entry)
    nodes = []
    for name in order:
        children = [e["child"] for e in out_edges if e["parent"] == name and e["tree_edge"]]
        nodes.append({"name": name, "parent": tree_parent[name], "depth": depth[name], "children": children,
                      "dual_master_peer": peer.get(name),
                      "role": "root" if name == root else ("relay" if children else "leaf")})
    return {"kind": declared["kind"], "root": root, "prefix": prefix, "nodes": nodes, "edges": out_edges,
            "parents": [n["name"] for n in nodes if any(e["parent"] == n["name"] for e in out_edges)]}


class FilterModule(object):
    def filters(self):
        return {
            "replication_topology": expand_topology,
            "replication_topology_problems": topology_problems,
        }
