#!/usr/bin/env python3
"""registryops.harbor.state against the single-object modules in a loop, at N = 10, 100, 1000.

For each N, a fresh lab emulator (its own process, so the client does not share its GIL) and an
inventory of N projects, 5N users, 5N memberships (5 per project), N/10 project robot accounts,
one registry endpoint and N/10 replication policies. Printed side by side, in one run:

- `state` from empty, no-op rerun, and rerun after one change (one project's `public` flag);
- the same kind of inventory applied with the single-object modules in a loop, one task per object
  (`user`, `registry`, `project`, `project_member`, `robot_account`, `replication_policy`): from
  empty and no-op rerun;
- wall time of each `ansible-playbook` run (Ansible's start-up included) and the HTTP requests the
  emulator counted, plus the minimum the structure needs: the list calls (pages of 100 of users,
  projects, registries and policies; one member list and one robot list per project that declares
  them) for a no-op, plus one write per change.

The loop costs about half a second per object here, so beyond `--loop-full` objects it runs on a SAMPLE instead: a
structure of `--loop-sample` projects (with its users, members, robots and policies, the same mix)
made of additional objects, applied to the emulator that already holds the N-sized state, and the
figures are extrapolated linearly to the full object count. The output marks those figures.

Writes benchmarks/results/state_scale.md and state_scale.png (time and requests against N, log
scale). A figure, not a test: nothing fails on a slow machine.

    .venv/bin/python benchmarks/state_scale.py [--sizes 10,100,1000] [--loop-sample 10] [--report-only]
        [--skip-loop] [--output DIR]

`--skip-loop` measures only the `state` rows (a quick check of the module, e.g. `--sizes 1000 --skip-loop`);
its report leaves out the loop's rows and comparisons. `--output DIR` writes the report there instead of
benchmarks/results (keep partial runs out of the published results).
"""

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import requests
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.emulator_process import EmulatorProcess  # noqa: E402

RESULTS = os.path.join(ROOT, "benchmarks", "results")
VENV_BIN = os.path.dirname(sys.executable)
ADMIN = ("admin", "Harbor12345")
PASSWORD = "Passw0rdBench"
ROLES = ("projectAdmin", "maintainer", "developer", "guest", "limitedGuest")
PAGE = 100


# -- the inventory -------------------------------------------------------------------------------
def structure(n, url, prefix=""):
    """N projects, 5N users, 5N memberships, N/10 robots, N/10 policies (at least one of each)."""
    users = [{"username": "%su%05d" % (prefix, i), "email": "%su%05d@example.com" % (prefix, i),
              "realname": "User %d" % i, "password": PASSWORD} for i in range(5 * n)]
    tenth = max(1, n // 10)
    projects = []
    for p in range(n):
        project = {"name": "%sp%05d" % (prefix, p), "public": p % 2 == 0,
                   "members": [{"user": users[5 * p + k]["username"], "role": ROLES[k]} for k in range(5)]}
        if p < tenth:
            project["robots"] = [{"name": "ci", "permission_preset": "push", "duration": -1}]
        projects.append(project)
    registry = "%speer" % prefix
    return {
        "users": users,
        "registries": [{"name": registry, "type": "harbor", "url": url, "insecure": True}],
        "projects": projects,
        "replication_policies": [{"name": "%srp%04d" % (prefix, i), "direction": "push", "registry": registry,
                                  "filters": {"name": "%sp%05d/**" % (prefix, i)}, "trigger": "manual"}
                                 for i in range(tenth)],
    }


def object_count(desired):
    projects = desired["projects"]
    return (len(desired["users"]) + len(desired["registries"]) + len(projects)
            + sum(len(p.get("members", [])) + len(p.get("robots", [])) for p in projects)
            + len(desired["replication_policies"]))


def pages(count):
    return max(1, math.ceil(count / PAGE))


def minimum_reads(desired, existing_users, existing_projects, existing_registries, existing_policies):
    """The list calls a structure needs when Harbor already holds the given numbers of objects."""
    declared = sum(1 for p in desired["projects"] if p.get("members") is not None)
    with_robots = sum(1 for p in desired["projects"] if p.get("robots") is not None)
    if existing_projects <= 1:  # from empty: the declared projects do not exist yet, nothing to list in them
        declared = with_robots = 0
    return (pages(existing_users) + pages(existing_projects) + pages(existing_registries)
            + pages(existing_policies) + declared + with_robots)


# -- running ansible-playbook -----------------------------------------------------------------------
def play(tasks, url, variables):
    """A play on an inventory whose group_vars hold the (large) variables, the way ops teams keep
    them. Ansible reads inventory variables once per run; a play's vars_files would be parsed
    again at every task (ansible-core 2.19: ~1 s per task for 11,000 objects)."""
    inventory = tempfile.mkdtemp(prefix="state-inventory-")
    os.makedirs(os.path.join(inventory, "group_vars", "all"))
    with open(os.path.join(inventory, "group_vars", "all", "structure.json"), "w") as handle:
        json.dump(variables, handle)
    with open(os.path.join(inventory, "hosts.yml"), "w") as handle:
        yaml.safe_dump({"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                                        "ansible_python_interpreter": sys.executable}}}}, handle)
    return inventory, [{
        "hosts": "localhost", "gather_facts": False,
        "module_defaults": {"group/registryops.harbor.harbor": {
            "api_url": url, "api_username": ADMIN[0], "api_password": ADMIN[1]}},
        "tasks": tasks,
    }]


def cpu_seconds(pid):
    """User+system CPU seconds of a process so far (Linux /proc)."""
    with open("/proc/%d/stat" % pid) as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_playbook(inventory_and_playbook, harbor_url, emulator_pid):
    """Run it; return (seconds, emulator request counts, rc, output). The counts also carry the CPU
    seconds the emulator spent during the run and those of ansible-playbook with its module: on a
    shared machine wall time moves with the load, CPU time much less."""
    inventory, playbook = inventory_and_playbook
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        yaml.safe_dump(playbook, handle, default_flow_style=None, width=200)
        path = handle.name
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               ANSIBLE_DEPRECATION_WARNINGS="0", ANSIBLE_DISPLAY_SKIPPED_HOSTS="0")
    requests.delete(harbor_url + "/lab/requests", timeout=10)
    emulator_before, playbook_before = cpu_seconds(emulator_pid), children_cpu()
    started = time.monotonic()
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", os.path.join(inventory, "hosts.yml"),
                           path], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    emulator_cpu, playbook_cpu = cpu_seconds(emulator_pid) - emulator_before, children_cpu() - playbook_before
    counts = requests.get(harbor_url + "/lab/requests", timeout=10).json()
    counts.update(emulator_cpu=emulator_cpu, playbook_cpu=playbook_cpu)
    os.unlink(path)
    shutil.rmtree(inventory)
    return seconds, counts, proc.returncode, proc.stdout + proc.stderr


def state_play(url, desired):
    task = {"name": "Converge", "registryops.harbor.state": {
        "users": "{{ desired.users }}", "registries": "{{ desired.registries }}",
        "projects": "{{ desired.projects }}", "replication_policies": "{{ desired.replication_policies }}"},
        "register": "converged"}
    show = {"name": "Figures", "ansible.builtin.debug": {"msg": "STATE {{ {'summary': converged.summary, "
                                                                "'requests': converged.requests, "
                                                                "'seconds': converged.seconds} | to_json }}"}}
    return play([task, show], url, {"desired": desired})


def src_play(url, path):
    task = {"name": "Converge", "registryops.harbor.state": {"src": path}, "register": "converged"}
    show = {"name": "Figures", "ansible.builtin.debug": {"msg": "STATE {{ {'summary': converged.summary, "
                                                                "'requests': converged.requests, "
                                                                "'seconds': converged.seconds} | to_json }}"}}
    return play([task, show], url, {})


def role_play(url, desired):
    inventory, playbook = play([], url, {
        "harbor_url": url, "harbor_username": ADMIN[0], "harbor_password": ADMIN[1], "harbor_validate_certs": False,
        "registry_config_users": desired["users"], "registry_config_projects": desired["projects"],
        "registry_config_registries": desired["registries"],
        "registry_config_replication_policies": desired["replication_policies"]})
    playbook[0]["roles"] = ["registryops.harbor.registry_config"]
    del playbook[0]["tasks"]
    return inventory, playbook


def loop_play(url, desired):
    members = [dict(m, project=p["name"]) for p in desired["projects"] for m in p.get("members", [])]
    robots = [dict(r, project=p["name"]) for p in desired["projects"] for r in p.get("robots", [])]
    projects = [{"name": p["name"], "public": p["public"]} for p in desired["projects"]]
    tasks = [
        {"name": "Users", "registryops.harbor.user": {
            "username": "{{ item.username }}", "email": "{{ item.email }}", "realname": "{{ item.realname }}",
            "password": "{{ item.password }}"}, "loop": "{{ desired.users }}", "no_log": True},
        {"name": "Registries", "registryops.harbor.registry": {
            "name": "{{ item.name }}", "type": "{{ item.type }}", "url": "{{ item.url }}",
            "insecure": "{{ item.insecure }}"}, "loop": "{{ desired.registries }}"},
        {"name": "Projects", "registryops.harbor.project": {
            "name": "{{ item.name }}", "public": "{{ item.public }}"}, "loop": "{{ projects }}"},
        {"name": "Members", "registryops.harbor.project_member": {
            "project": "{{ item.project }}", "user": "{{ item.user }}", "role": "{{ item.role }}"},
         "loop": "{{ members }}"},
        {"name": "Robots", "registryops.harbor.robot_account": {
            "name": "{{ item.name }}", "level": "project", "project": "{{ item.project }}",
            "permission_preset": "{{ item.permission_preset }}", "duration": "{{ item.duration }}"},
         "loop": "{{ robots }}", "no_log": True},
        {"name": "Replication policies", "registryops.harbor.replication_policy": {
            "name": "{{ item.name }}", "direction": "{{ item.direction }}", "registry": "{{ item.registry }}",
            "filters": "{{ item.filters }}", "trigger": "{{ item.trigger }}"},
         "loop": "{{ desired.replication_policies }}"},
    ]
    return play(tasks, url, {"desired": desired, "members": members, "robots": robots, "projects": projects})


def state_figures(output):
    for line in output.splitlines():
        if "STATE {" in line:
            text = line.split("STATE ", 1)[1].strip().rstrip('"')
            return json.loads(text.replace('\\"', '"'))
    return None


# -- one size ------------------------------------------------------------------------------------------
def measure(n, args, work):
    rows = []
    with EmulatorProcess(os.path.join(work, "n%d" % n)) as harbor:
        desired = structure(n, harbor.url)
        objects = object_count(desired)
        users_total, projects_total = len(desired["users"]) + 1, len(desired["projects"]) + 1  # + admin, library
        policies = len(desired["replication_policies"])

        def row(label, seconds, counts, minimum, note="", figures=None):
            rows.append({"n": n, "run": label, "seconds": round(seconds, 2), "requests": counts["total"],
                         "writes": counts["writes"], "minimum": minimum, "note": note,
                         "module": figures, "emulator_cpu": round(counts.get("emulator_cpu", 0.0), 2),
                         "playbook_cpu": round(counts.get("playbook_cpu", 0.0), 2),
                         "load": round(os.getloadavg()[0], 2)})
            print("N=%-5d %-34s %8.2f s %8d requests (%d writes), minimum %s %s [CPU s: emulator %.2f, "
                  "ansible-playbook %.2f; load %.2f]"
                  % (n, label, seconds, counts["total"], counts["writes"], minimum, note,
                     counts.get("emulator_cpu", 0.0), counts.get("playbook_cpu", 0.0), os.getloadavg()[0]),
                  flush=True)

        def converge(label, minimum):
            seconds, counts, rc, output = run_playbook(state_play(harbor.url, desired), harbor.url, harbor.process.pid)
            if rc != 0:
                raise SystemExit("state run failed (%s):\n%s" % (label, output[-3000:]))
            figures = state_figures(output)
            # the registry endpoint's health check makes the emulator call itself: not the module's requests
            row(label, seconds, counts, minimum, figures=figures)
            return figures

        writes_from_empty = objects
        converge("state: from empty", "%d" % (minimum_reads(desired, 1, 1, 0, 0) + writes_from_empty))
        no_op_min = minimum_reads(desired, users_total, projects_total, 1, policies)
        converge("state: no-op rerun", "%d" % no_op_min)
        desired["projects"][-1]["public"] = not desired["projects"][-1]["public"]
        converge("state: one change", "%d" % (no_op_min + 1))
        # the same unchanged structure from a file (src): what Ansible's task arguments cost shows as
        # the difference to the inline no-op; and Ansible's own start-up, for scale
        src = os.path.join(work, "state-%d.json" % n)
        with open(src, "w") as handle:
            json.dump(desired, handle)
        seconds, counts, rc, output = run_playbook(src_play(harbor.url, src), harbor.url, harbor.process.pid)
        if rc != 0:
            raise SystemExit("state run failed (src):\n%s" % output[-3000:])
        row("state (src file): no-op rerun", seconds, counts, "%d" % no_op_min, figures=state_figures(output))
        # the way an inventory user applies it: the role builds the structure from registry_config_* variables
        # (projects given as they are, so it is the same structure) and hands it to the module as text
        seconds, counts, rc, output = run_playbook(role_play(harbor.url, desired), harbor.url, harbor.process.pid)
        if rc != 0:
            raise SystemExit("registry_config role run failed:\n%s" % output[-3000:])
        row("registry_config role: no-op rerun", seconds, counts, "%d" % no_op_min)
        nothing = play([{"name": "Nothing", "ansible.builtin.debug": {"msg": "{{ desired.projects | length }}"}}],
                       harbor.url, {"desired": desired})
        seconds, counts, rc, output = run_playbook(nothing, harbor.url, harbor.process.pid)
        row("ansible-playbook alone (one debug task)", seconds, counts, "")

        if args.skip_loop:
            return rows, objects
        # the loop, on objects of its own (prefix "l") next to the N-sized state: in full while small,
        # else on a sample of the same mix, extrapolated linearly
        if objects <= args.loop_full:
            sample, factor, note = structure(n, harbor.url, prefix="l"), 1.0, ""
        else:
            sample = structure(args.loop_sample, harbor.url, prefix="l")
            factor = objects / float(object_count(sample))
            note = "EXTRAPOLATED x%.1f from a sample of %d objects" % (factor, object_count(sample))
        for label in ("loop: from empty", "loop: no-op rerun"):
            seconds, counts, rc, output = run_playbook(loop_play(harbor.url, sample), harbor.url, harbor.process.pid)
            if rc != 0:
                raise SystemExit("loop run failed:\n%s" % output[-3000:])
            scaled = dict(total=int(counts["total"] * factor), writes=int(counts["writes"] * factor),
                          emulator_cpu=counts["emulator_cpu"] * factor, playbook_cpu=counts["playbook_cpu"] * factor)
            row(label, seconds * factor, scaled, "", note)
    return rows, objects


# -- report -----------------------------------------------------------------------------------------
def by(rows, n, label):
    return next((r for r in rows if r["n"] == n and r["run"] == label), None)


def versus_loop(rows, n, state_seconds):
    """How many times faster than the loop from empty, as text ("" when the loop was not run)."""
    loop = by(rows, n, "loop: from empty")
    if loop is None:
        return ""
    return "; from empty %.1fx faster than the loop (%.1f s against %.1f s%s)" % (
        loop["seconds"] / state_seconds, state_seconds, loop["seconds"], ", loop extrapolated" if loop["note"] else "")


def write_report(rows, sizes, objects, args):
    results = args.output or RESULTS
    os.makedirs(results, exist_ok=True)
    lines = [
        "# registryops.harbor.state at scale",
        "",
        "Generated by `benchmarks/state_scale.py` (%s) on this machine (%d CPUs) against the lab emulator in its "
        "own process. Inventory of size N: N projects, 5N users, 5N memberships, N/10 project robots, one "
        "registry endpoint, N/10 replication policies. Times are wall seconds of a whole `ansible-playbook` "
        "run (start-up included); requests are counted by the emulator. The minimum is the list calls the "
        "structure needs (pages of 100; one member list and one robot list per declared project) plus one "
        "write per change. Creating the registry endpoint makes the emulator call itself twice (Harbor's health "
        "check of the endpoint, here the emulator itself): those two are in the emulator's count of a run from empty. "
        "The loop runs one task per object on objects of its own next to the N-sized state; beyond small N on a "
        "sample of %d projects (with their users, members, robots and policies: the same mix), its figures then "
        "extrapolated linearly and marked so." % (time.strftime("%Y-%m-%d"), os.cpu_count() or 0, args.loop_sample),
        "",
        "Beside wall time, the CPU seconds the emulator spent during the run and those of `ansible-playbook` "
        "with its module, and the machine's load average (1 min) at the end of the run: the machine is shared, "
        "wall time moves with its load, CPU time much less.",
        "",
        "| N | objects | run | seconds | requests | writes | minimum | emulator CPU s | ansible CPU s | load | note |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append("| %d | %d | %s | %.2f | %d | %d | %s | %s | %s | %s | %s |" % (
            row["n"], objects[row["n"]], row["run"], row["seconds"], row["requests"], row["writes"],
            row["minimum"], row.get("emulator_cpu", ""), row.get("playbook_cpu", ""), row.get("load", ""),
            row["note"]))
    lines += ["", "## Targets", ""]
    for n in sizes:
        noop, empty = by(rows, n, "state: no-op rerun"), by(rows, n, "state: from empty")
        ratio = noop["requests"] / float(noop["minimum"])
        lines.append("- N=%d: no-op rerun %d requests = %.3fx the minimum %s, %.2f s%s" % (
            n, noop["requests"], ratio, noop["minimum"], noop["seconds"], versus_loop(rows, n, empty["seconds"])))
    big = max(sizes)
    noop, from_file = by(rows, big, "state: no-op rerun"), by(rows, big, "state (src file): no-op rerun")
    alone = by(rows, big, "ansible-playbook alone (one debug task)")
    big_loop = by(rows, big, "loop: from empty")
    against_loop = "not measured (--skip-loop)" if big_loop is None else \
        "met" if big_loop["seconds"] >= 10 * by(rows, big, "state: from empty")["seconds"] else "NOT met"
    lines += ["", "Targets at N=%d: no-op within 1.1x the minimum requests: %s (%.3fx); under 5 s: %s with the "
              "structure in a file (`src`, %.2f s), %s with it inline as task arguments (%.2f s); from empty at "
              "least 10x faster than the loop: %s." % (
                  big, "met" if noop["requests"] <= 1.1 * float(noop["minimum"]) else "NOT met",
                  noop["requests"] / float(noop["minimum"]), "met" if from_file["seconds"] < 5 else "NOT met",
                  from_file["seconds"], "met" if noop["seconds"] < 5 else "NOT met", noop["seconds"], against_loop)]
    if len(sizes) > 1:
        small = min(sizes)
        growth = by(rows, big, "state: no-op rerun")["requests"] / float(by(rows, small, "state: no-op rerun")[
            "requests"])
        lines.append("Growth of no-op requests from N=%d to N=%d: x%.1f for x%.0f objects (linear: no per-object "
                     "list calls, no quadratic comparison)." % (small, big, growth, big / float(small)))
    if noop["module"] and from_file["module"]:
        seconds = from_file["module"]["seconds"]
        lines += ["", "## Where the no-op time goes at N=%d" % big, "",
                  "- `ansible-playbook` itself (start-up, reading the inventory with the %d objects, one debug "
                  "task): %.2f s." % (objects[big], alone["seconds"]),
                  "- With the structure in a file: %.2f s in all; inside the module reading %.2f s (%d requests, "
                  "%.0f requests/s), planning %.2f s." % (
                      from_file["seconds"], seconds["read"], from_file["requests"],
                      from_file["requests"] / max(seconds["read"], 1e-3), seconds["plan"]),
                  "- With the same structure inline as task arguments: %.2f s, that is %.2f s more: ansible-core "
                  "templating %d objects into the task's arguments, sending them to the module and the task's "
                  "arguments back to the controller (ansible-core 2.19 tags and copies every value on the way). "
                  "Any module given these arguments pays it; the file skips it." % (
                      noop["seconds"], noop["seconds"] - from_file["seconds"], objects[big])]
        role = by(rows, big, "registry_config role: no-op rerun")
        if role:
            lines.append(
                "- Through the role registry_config, from `registry_config_*` inventory variables: %.2f s, %d "
                "requests. Beyond the module's run from a file, ansible-core validates the role's arguments "
                "against meta/argument_specs.yml and renders the structure's template over the %d objects of "
                "the inventory (2-3 s each here); the role hands the module the rendered text (`content`), "
                "which avoids passing them as structured task arguments." % (
                    role["seconds"], role["requests"], objects[big]))
        if "emulator_cpu" in from_file:  # not in results saved before the CPU figures were measured
            lines.append(
                "- The %d requests are the minimum. The emulator spent %.2f s of CPU on them (%.2f ms each; one "
                "Python process: one core at a time); the rest of the reading is the module's HTTP client "
                "(urllib3, on its pool of threads, one core at a time too) and waiting for a core of a "
                "machine whose load average was %s." % (
                    from_file["requests"], from_file["emulator_cpu"],
                    1000.0 * from_file["emulator_cpu"] / max(from_file["requests"], 1), from_file["load"]))
    lines += ["", "Module-side split of each `state` run (seconds reading, planning, writing; requests the module "
              "made):", ""]
    for row in rows:
        if row["module"]:
            lines.append("- N=%d %s: %s, requests %s" % (row["n"], row["run"], json.dumps(row["module"]["seconds"]),
                                                         json.dumps(row["module"]["requests"])))
    lines.append("")
    with open(os.path.join(results, "state_scale.md"), "w") as handle:
        handle.write("\n".join(lines))
    with open(os.path.join(results, "state_scale.json"), "w") as handle:
        json.dump({"sizes": sizes, "objects": objects, "loop_sample": args.loop_sample, "rows": rows}, handle, indent=1)
    print("\n".join(line for line in lines if not line.startswith("|")))
    plot(rows, sizes, results)


def plot(rows, sizes, results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    runs = ["state: from empty", "state: no-op rerun", "state: one change", "state (src file): no-op rerun",
            "loop: from empty", "loop: no-op rerun"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    for run in runs:
        points = [by(rows, n, run) for n in sizes]
        if None in points:  # the loop's rows with --skip-loop
            continue
        style = "--" if run.startswith("loop") else "-"
        left.plot(sizes, [p["seconds"] for p in points], style, marker="o", label=run)
        right.plot(sizes, [p["requests"] for p in points], style, marker="o", label=run)
    right.plot(sizes, [float(by(rows, n, "state: no-op rerun")["minimum"]) for n in sizes], ":", color="black",
               label="no-op minimum")
    for axis, title in ((left, "wall time (s)"), (right, "HTTP requests")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("N (projects; 5N users, 5N members)")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)
    figure.suptitle("registryops.harbor.state vs one task per object (loop beyond small N: extrapolated sample)")
    figure.tight_layout()
    figure.savefig(os.path.join(results, "state_scale.png"), dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--loop-sample", type=int, default=10, help="projects in the loop's sample")
    parser.add_argument("--loop-full", type=int, default=150,
                        help="run the loop in full up to this many objects, else on the sample")
    parser.add_argument("--report-only", action="store_true",
                        help="write the Markdown and the plot again from the saved state_scale.json")
    parser.add_argument("--skip-loop", action="store_true",
                        help="only the state rows (no single-object loop): a quick check, e.g. --sizes 1000")
    parser.add_argument("--output", default=None,
                        help="directory for state_scale.md/.json/.png (default benchmarks/results)")
    args = parser.parse_args()
    if args.report_only:
        with open(os.path.join(args.output or RESULTS, "state_scale.json")) as handle:
            saved = json.load(handle)
        args.loop_sample = saved["loop_sample"]
        write_report(saved["rows"], saved["sizes"], dict((int(k), v) for k, v in saved["objects"].items()), args)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    rows, objects = [], {}
    with tempfile.TemporaryDirectory() as work:
        for n in sizes:
            got, objects[n] = measure(n, args, work)
            rows.extend(got)
    write_report(rows, sizes, objects, args)


if __name__ == "__main__":
    main()
