# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The replication report of playbooks/replication_report.yml: what was gathered on each Harbor,
turned into one status per topology edge (`replication_report`), and a picture of the topology
with those statuses (`replication_topology_svg`, drawn with matplotlib on the controller).

An edge's status is the status of the newest execution of its policies (the event-based one and
the scheduled catch-up one, see roles/replication_topology); its lag is that execution's end
minus its start. Harbor starts an event-based execution when the push (or deletion) happens, so
for those the lag is trigger-to-end.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import io
import re

from ansible.errors import AnsibleFilterError

ZERO_TIME_PREFIX = "0001-01-01"
FINAL = ("Succeed", "Failed", "Stopped")
# How the report names the states of an edge that are not an execution status.
NEVER_RUN = "never run"
MISSING = "missing"
UNKNOWN = "unknown"
COLOURS = {"Succeed": "#1a7f37", "Failed": "#cf222e", "Stopped": "#bc4c00", "InProgress": "#0969da",
           "Pending": "#0969da"}
GREY = "#8c959f"


def parse_time(text):
    """Harbor's RFC 3339 times (with or without fraction); None for empty or Go's zero time."""
    if not text or str(text).startswith(ZERO_TIME_PREFIX):
        return None
    text = str(text).replace("Z", "+00:00")
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(.*)$", text)
    if not match:
        return None
    fraction = (match.group(2) or ".0")[:7]  # Python takes microseconds at most
    try:
        return datetime.datetime.strptime(match.group(1) + fraction + (match.group(3) or "+00:00"),
                                          "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return None


def _lag(execution, now):
    start, end = parse_time(execution.get("start_time")), parse_time(execution.get("end_time"))
    if start is None:
        return None
    if end is None:
        return round((now - start).total_seconds(), 3) if execution.get("status") not in FINAL else None
    return round((end - start).total_seconds(), 3)


def _summary(execution, now):
    keys = ("id", "status", "status_text", "trigger", "start_time", "end_time", "total", "succeed", "failed",
            "in_progress", "stopped")
    out = dict((k, execution.get(k)) for k in keys)
    out["lag_seconds"] = _lag(execution, now)
    out["lag"] = format_seconds(out["lag_seconds"])
    return out


def format_seconds(seconds):
    """1.234 -> '1.2 s', 95 -> '1 min 35 s', None -> '-'."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return "%.1f s" % seconds
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return "%d min %d s" % (minutes, rest)
    hours, minutes = divmod(minutes, 60)
    return "%d h %d min" % (hours, minutes)


def _policy_view(policy, node, now):
    """One replication policy of a node with its newest executions and their failed tasks."""
    executions = _newest_first(node.get("executions", {}).get(policy["name"]) or [])
    failed_tasks = node.get("failed_tasks") or {}
    summaries = []
    for execution in executions:
        summary = _summary(execution, now)
        summary["failed_tasks"] = failed_tasks.get(str(execution.get("id"))) or []
        summaries.append(summary)
    destination = policy.get("dest_registry") or {}
    source = policy.get("src_registry") or {}
    pull = bool(source.get("id"))
    trigger = (policy.get("trigger") or {}).get("type") or "manual"
    return {"name": policy["name"], "enabled": bool(policy.get("enabled")), "trigger": trigger,
            "cron": ((policy.get("trigger") or {}).get("trigger_settings") or {}).get("cron") or "",
            "direction": "pull" if pull else "push",
            "registry": (source if pull else destination).get("name") or "",
            "registry_url": (source if pull else destination).get("url") or "",
            "executions": summaries, "latest": summaries[0] if summaries else None}


def _tail(text, lines):
    out = [line for line in (text or "").splitlines() if line.strip()]
    return out[-lines:] if lines else []


def _newest_first(executions):
    def key(execution):
        start = parse_time(execution.get("start_time"))
        return (start.timestamp() if start else 0.0, execution.get("id") or 0)
    return sorted(executions, key=key, reverse=True)


def normalise_node(node, log_lines=20, limit=5):
    """A registry as the playbook read it (what registryops.harbor.info and the registered loops
    returned, as they come) in the report's shape: {name, url, error, policies, executions: {policy:
    [newest `limit` executions]}, failed_tasks: {execution id: [...]}, retries: [...]}."""
    policies = node.get("policies") or []
    out = {"name": node.get("name"), "url": node.get("url") or "", "error": node.get("error") or "",
           "policies": policies, "executions": dict(node.get("executions") or {}),
           "failed_tasks": dict(node.get("failed_tasks") or {}), "retries": []}
    # every execution of the registry, read once; the read after the retries (if any) replaces the first
    listed = node.get("execution_list_after") or node.get("execution_list")
    if listed:
        names = dict((p.get("id"), p.get("name")) for p in policies)
        grouped = {}
        for execution in listed:
            name = names.get(execution.get("policy_id"))
            if name:
                grouped.setdefault(name, []).append(execution)
        for name, executions in grouped.items():
            out["executions"][name] = _newest_first(executions)[:limit] if limit else _newest_first(executions)
    logs = {}
    for result in node.get("log_results") or []:
        item = result.get("item") or []
        if len(item) == 2 and result.get("status") == 200:
            logs[(str(item[0].get("item")), item[1].get("id"))] = result.get("content") or ""
    for result in node.get("task_results") or []:
        if result.get("skipped") or result.get("status") != 200 or not isinstance(result.get("json"), list):
            continue
        execution_id = str(result.get("item"))
        out["failed_tasks"][execution_id] = [
            {"id": task.get("id"), "operation": task.get("operation"), "src_resource": task.get("src_resource"),
             "dst_resource": task.get("dst_resource"), "start_time": task.get("start_time"),
             "end_time": task.get("end_time"),
             "log_tail": _tail(logs.get((execution_id, task.get("id"))), log_lines)}
            for task in result["json"]]
    for result in node.get("retry_results") or []:
        if result.get("skipped") or not result.get("item"):
            continue
        execution = result.get("execution") or {}
        out["retries"].append({"policy": result["item"], "status": execution.get("status") or "not started",
                               "execution_id": execution.get("id"), "attempts": len(result.get("attempts") or []),
                               "msg": result.get("msg") or "", "failed_tasks": execution.get("failed_tasks") or []})
    return out


def build_report(plan, nodes, problems=None, now=None, log_lines=20, limit=5):
    """One entry per topology edge (status, lag, newest execution, failed tasks, retries), the
    registries that were read, and the policies that belong to no edge."""
    if now is None:
        now = datetime.datetime.now(datetime.timezone.utc)
    elif not isinstance(now, datetime.datetime):
        now = parse_time(now)
    plan = plan or {}
    nodes = [normalise_node(n, log_lines, limit) for n in (nodes or []) if isinstance(n, dict) and n.get("name")]
    by_name = dict((n["name"], n) for n in nodes)
    claimed = set()
    edges = []
    for edge in plan.get("edges") or []:
        node = by_name.get(edge["parent"])
        entry = {"parent": edge["parent"], "child": edge["child"], "dual_master": edge.get("dual_master", False),
                 "tree_edge": edge.get("tree_edge", True), "endpoint": edge["endpoint"], "policies": [],
                 "status": UNKNOWN, "lag_seconds": None, "lag": format_seconds(None), "latest": None, "latest_policy": None,
                 "retries": [], "recovered": False, "note": ""}
        if node is None:
            entry["note"] = "%s was not part of this run" % edge["parent"]
        elif node.get("error"):
            entry["note"] = "%s could not be read: %s" % (edge["parent"], node["error"])
        else:
            policies = dict((p["name"], p) for p in node.get("policies") or [])
            for name in (edge["event_policy"], edge["catchup_policy"]):
                if name in policies:
                    claimed.add((edge["parent"], name))
                    entry["policies"].append(_policy_view(policies[name], node, now))
            latest_pairs = [(p["latest"], p["name"]) for p in entry["policies"] if p["latest"]]
            if not entry["policies"]:
                entry["status"] = MISSING
                entry["note"] = "no policy %s or %s on %s: run playbooks/replication_topology.yml" % (
                    edge["event_policy"], edge["catchup_policy"], edge["parent"])
            elif not latest_pairs:
                entry["status"] = NEVER_RUN
            else:
                newest = _newest_first([pair[0] for pair in latest_pairs])[0]
                entry["latest"] = newest
                entry["latest_policy"] = [pair[1] for pair in latest_pairs if pair[0] is newest][0]
                entry["status"] = newest["status"]
                entry["lag_seconds"] = newest["lag_seconds"]
                entry["lag"] = newest["lag"]
            for retry in node.get("retries") or []:
                if retry.get("policy") in (edge["event_policy"], edge["catchup_policy"]):
                    entry["retries"].append(retry)
            if entry["retries"] and entry["status"] == "Succeed":
                entry["recovered"] = True
        edges.append(entry)

    registries, others = [], []
    for node in nodes:
        policies = node.get("policies") or []
        registries.append({"name": node["name"], "url": node.get("url") or "", "error": node.get("error") or "",
                           "policies": len(policies)})
        for policy in policies:
            if (node["name"], policy["name"]) not in claimed:
                view = _policy_view(policy, node, now)
                view["node"] = node["name"]
                view["retries"] = [r for r in node["retries"] if r.get("policy") == policy["name"]]
                others.append(view)
    counts = {"edges": len(edges)}
    for key, statuses in (("succeed", ("Succeed",)), ("failed", ("Failed",)), ("stopped", ("Stopped",)),
                          ("running", ("InProgress", "Pending")), ("never_run", (NEVER_RUN,)),
                          ("missing", (MISSING,)), ("unknown", (UNKNOWN,))):
        counts[key] = len([e for e in edges if e["status"] in statuses])
    counts["recovered"] = len([e for e in edges if e["recovered"]])
    return {"generated": now.strftime("%Y-%m-%d %H:%M:%S UTC"), "kind": plan.get("kind"), "root": plan.get("root"),
            "nodes": plan.get("nodes") or [], "edges": edges, "registries": registries, "other_policies": others,
            "problems": list(problems or []), "counts": counts,
            "failed_edges": ["%s -> %s" % (e["parent"], e["child"]) for e in edges if e["status"] == "Failed"],
            "unknown_edges": ["%s -> %s" % (e["parent"], e["child"]) for e in edges if e["status"] == UNKNOWN]}


# -- the picture -----------------------------------------------------------------------------------------
def _layout(nodes):
    """Tree layout: leaves side by side in depth-first order, a parent centred over its children."""
    by_name = dict((n["name"], n) for n in nodes)
    position, next_x = {}, [0.0]

    def place(name):
        children = [c for c in by_name[name]["children"] if c in by_name and c not in position]
        for child in children:
            place(child)
        xs = [position[c][0] for c in children if c in position]
        if xs:
            x = sum(xs) / len(xs)
        else:
            x = next_x[0]
            next_x[0] += 1.0
        position[name] = (x, -float(by_name[name]["depth"]))

    for node in nodes:
        if node["parent"] is None and node["name"] not in position:
            place(node["name"])
    for node in nodes:  # anything the tree walk missed (should not happen for a valid plan)
        if node["name"] not in position:
            position[node["name"]] = (next_x[0], -float(node["depth"]))
            next_x[0] += 1.0
    return position


def _arc_middle(axes, start, end, rad):
    """Middle of matplotlib's arc3 curve (a quadratic Bezier whose control point sits rad times the
    chord length off the chord, in display space), back in data coordinates."""
    to_display = axes.transData
    (x1, y1), (x2, y2) = to_display.transform([start, end])
    control = ((x1 + x2) / 2 + rad * (y2 - y1), (y1 + y2) / 2 - rad * (x2 - x1))
    middle = (0.25 * x1 + 0.5 * control[0] + 0.25 * x2, 0.25 * y1 + 0.5 * control[1] + 0.25 * y2)
    return tuple(to_display.inverted().transform(middle))


def topology_svg(report, title=None):
    """An SVG picture of the topology: one arrow per edge, coloured by its status and labelled with
    the status and lag. Needs matplotlib on the controller."""
    try:
        from matplotlib.backends.backend_svg import FigureCanvasSVG
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyArrowPatch
        import matplotlib
    except ImportError:
        raise AnsibleFilterError("the topology picture needs matplotlib on the controller (pip install matplotlib), "
                                 "or set replication_report_picture=false")
    nodes = report.get("nodes") or []
    if not nodes:
        raise AnsibleFilterError("the report has no topology to draw")
    position = _layout(nodes)
    unreachable = set(r["name"] for r in report.get("registries") or [] if r.get("error"))
    xs = [p[0] for p in position.values()]
    depth = max(n["depth"] for n in nodes)
    width = max(4.0, 2.2 * (max(xs) - min(xs) + 1))
    height = max(2.5, 1.9 * (depth + 1))
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "registryops", "font.size": 9}):
        figure = Figure(figsize=(width, height))
        FigureCanvasSVG(figure)
        axes = figure.add_axes((0, 0, 1, 0.9 if title else 1))
        axes.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
        axes.set_ylim(-depth - 0.5, 0.5)
        axes.axis("off")
        for edge in report.get("edges") or []:
            if edge["parent"] not in position or edge["child"] not in position:
                continue
            colour = COLOURS.get(edge["status"], GREY)
            (x1, y1), (x2, y2) = position[edge["parent"]], position[edge["child"]]
            curved = not edge.get("tree_edge", True)
            arrow = FancyArrowPatch((x1, y1), (x2, y2), arrowstyle="-|>", mutation_scale=14, color=colour,
                                    linewidth=2.0, shrinkA=18, shrinkB=18,
                                    linestyle="--" if edge["status"] in (NEVER_RUN, MISSING, UNKNOWN) else "-",
                                    connectionstyle="arc3,rad=%s" % (0.35 if curved else 0.0))
            axes.add_patch(arrow)
            label = edge["status"] + ("" if edge["lag_seconds"] is None else "\n" + format_seconds(edge["lag_seconds"]))
            if edge.get("recovered"):
                label += "\n(retried)"
            label_x, label_y = _arc_middle(axes, (x1, y1), (x2, y2), 0.35 if curved else 0.0)
            axes.text(label_x, label_y, label, color=colour, ha="center", va="center",
                      fontsize=8, bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none",
                                        "alpha": 0.9})
        for name, (x, y) in position.items():
            down = name in unreachable
            axes.text(x, y, name, ha="center", va="center", fontsize=10, fontweight="bold",
                      color="#cf222e" if down else "#1f2328",
                      bbox={"boxstyle": "round,pad=0.4", "facecolor": "#fff5f5" if down else "#f6f8fa",
                            "edgecolor": "#cf222e" if down else "#57606a", "linewidth": 1.5})
        if title:
            figure.suptitle(title, fontsize=11)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # no XML prolog: the SVG is also embedded in the HTML report


def newest_failed(node, limit=5):
    """Ids of the newest failed execution of each policy of a registry (among its newest `limit`)."""
    executions = normalise_node(node, limit=limit)["executions"]
    ids = []
    for name in sorted(executions):
        failed = [e for e in executions[name] if e.get("status") == "Failed"]
        if failed and failed[0].get("id") not in ids:
            ids.append(failed[0].get("id"))
    return ids


class FilterModule(object):
    def filters(self):
        return {
            "replication_newest_failed": newest_failed,
            "replication_report": build_report,
            "replication_topology_svg": topology_svg,
        }
