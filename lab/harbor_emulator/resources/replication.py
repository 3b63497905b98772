"""Replication policies, executions, tasks and task logs (`/replication/...`).

Rules follow Harbor's server code (see DESIGN.md "Harbor API facts that bite"):
- exactly one of src_registry / dest_registry; the other side is the local Harbor;
- create and update read the deprecated `deletion` field and ignore `replicate_deletion`;
  reads return both with the same value;
- PUT replaces the whole policy (fields left out take their zero values, as in Harbor);
- a disabled policy cannot be executed (412).
Executions are queued as jobs (see jobs.py) and run by replicator.py.
"""

import datetime
import re
import uuid

from werkzeug.wrappers import Response

from .. import jobs, query, timeutil
from ..errors import bad_request, conflict, not_found, precondition
from ..web import created, json_response, route
from . import registries

TRIGGERS = ("manual", "scheduled", "event_based")
FILTER_TYPES = ("name", "tag", "label", "resource")
RESOURCES = ("image", "artifact")
DECORATIONS = ("matches", "excludes")
REPOSITORY_NAME = r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$"
FINAL = ("Succeed", "Failed", "Stopped")
ZERO_TIME = registries.ZERO_TIME
SKIPPED_TEXT = "Execution skipped: active replication still in progress."


# -- validation --------------------------------------------------------------------------------
def parse_cron(cron):
    """Harbor's 6-field cron (seconds first) as a croniter, or None when invalid."""
    from croniter import croniter  # imported on first use: keeps the emulator's start-up fast

    fields = (cron or "").split()
    if len(fields) != 6 or not croniter.is_valid(" ".join(fields), second_at_beginning=True):
        return None
    return fields


def check_replication_cron(cron):
    if not cron:
        raise bad_request("the cron string cannot be empty when the trigger type is scheduled")
    fields = parse_cron(cron)
    if fields is None:
        raise bad_request(f"invalid cron string for scheduled trigger: {cron} (6 fields: second minute hour "
                          "day-of-month month day-of-week)")
    if fields[0] != "0":
        raise bad_request(f"invalid cron string for scheduled trigger: {cron}: the 1st field (indicating "
                          "Seconds of time) of the cron setting must be 0")
    if fields[1] == "*":
        raise bad_request(f"invalid cron string for scheduled trigger: {cron}: * is not allowed for the Minutes "
                          "field of the cron setting of replication policy")
    return " ".join(fields)


def parse_filters(body):
    out = []
    for flt in body.objs("filters"):
        kind = flt.str("type", default="")
        decoration = flt.str("decoration", default="")
        value = flt.data.get("value")
        if kind not in FILTER_TYPES:
            raise bad_request(f"invalid filter type {kind!r}, must be one of {', '.join(FILTER_TYPES)}")
        if kind == "label":
            if not isinstance(value, list) or any(not isinstance(v, str) for v in value):
                raise bad_request("the type of label filter value isn't string slice")
        else:
            if not isinstance(value, str):
                raise bad_request(f"the type of {kind} filter value isn't string")
            if kind == "resource" and value not in RESOURCES:
                raise bad_request(f"invalid resource filter: {value}, must be image or artifact")
        if decoration and kind in ("name", "resource"):
            raise bad_request("only tag and label filter support decoration")
        if decoration and decoration not in DECORATIONS:
            raise bad_request(f"invalid filter decoration, :{decoration} (matches or excludes)")
        item = {"type": kind, "value": value}
        if decoration:
            item["decoration"] = decoration
        out.append(item)
    return out


def parse_trigger(body):
    trigger = body.obj("trigger")
    if trigger is None:
        return {"type": "manual", "trigger_settings": {"cron": ""}}
    kind = trigger.str("type", default="manual") or "manual"
    if kind not in TRIGGERS:
        raise bad_request(f"invalid trigger type {kind!r}, must be one of {', '.join(TRIGGERS)}")
    settings = trigger.obj("trigger_settings")
    cron = settings.str("cron", default="") if settings is not None else ""
    if kind == "scheduled":
        cron = check_replication_cron(cron)
    return {"type": kind, "trigger_settings": {"cron": cron if kind == "scheduled" else ""}}


def registry_ref(tx, body, name):
    ref = body.obj(name)
    if ref is None:
        return 0
    registry_id = ref.int("id", default=0, minimum=0)
    if registry_id and tx.get("registry", registry_id) is None:
        raise bad_request(f"registry {registry_id} not found")
    return registry_id


def parse_policy(tx, body):
    """A policy document from a ReplicationPolicy body (create and full-replacement update)."""
    name = body.str("name", default="")
    if not name:
        raise bad_request("empty name")
    if len(name) > 255:
        raise bad_request("name should be at most 255 characters long")
    src, dest = registry_ref(tx, body, "src_registry"), registry_ref(tx, body, "dest_registry")
    if bool(src) == bool(dest):
        raise bad_request("either src_registry or dest_registry should be empty and the other one shouldn't be empty")
    filters = parse_filters(body)
    dest_namespace = body.str("dest_namespace", default="")
    if dest_namespace and not re.match(REPOSITORY_NAME, dest_namespace):
        raise bad_request(f"invalid destination namespace: {dest_namespace}")
    replace_count = body.int("dest_namespace_replace_count", default=-1)
    if replace_count not in (-1, 0, 1, 2, 3):
        raise bad_request("dest_namespace_replace_count must be -1 (legacy: replace the whole namespace), "
                          "0 (no replacement) or 1-3 (levels replaced)")
    trigger = parse_trigger(body)
    single_active = body.bool("single_active_replication", default=False)
    if single_active and trigger["type"] == "event_based":
        raise bad_request("single active replication is not allowed for event_based triggers")
    body.bool("replicate_deletion", default=False)  # type-checked, then ignored: Harbor reads `deletion`
    return {
        "name": name, "description": body.str("description", default=""),
        "src_registry_id": src, "dest_registry_id": dest,
        "dest_namespace": dest_namespace, "dest_namespace_replace_count": replace_count,
        "filters": filters, "trigger": trigger,
        "deletion": body.bool("deletion", default=False),
        "override": body.bool("override", default=False),
        "enabled": body.bool("enabled", default=False),
        "speed": max(body.int("speed", default=0, minimum=-(2 ** 31), maximum=2 ** 31 - 1), 0),
        "copy_by_chunk": body.bool("copy_by_chunk", default=False),
        "single_active_replication": single_active,
    }


# -- views ---------------------------------------------------------------------------------------
def side_view(tx, emulator, registry_id):
    if not registry_id:
        return registries.local_view(emulator)
    registry = tx.get("registry", registry_id)
    return registries.view(registry) if registry else {"id": registry_id}


def policy_view(tx, emulator, policy):
    out = {k: policy[k] for k in ("id", "name", "description", "dest_namespace", "dest_namespace_replace_count",
                                   "filters", "trigger", "override", "enabled", "speed", "copy_by_chunk",
                                   "single_active_replication", "creation_time", "update_time")}
    out["deletion"] = out["replicate_deletion"] = policy["deletion"]
    out["src_registry"] = side_view(tx, emulator, policy["src_registry_id"])
    out["dest_registry"] = side_view(tx, emulator, policy["dest_registry_id"])
    return out


def task_counts(tx, execution_id):
    counts = {"total": 0, "failed": 0, "succeed": 0, "in_progress": 0, "stopped": 0}
    for task in tx.list("replication_task", parent=execution_id):
        counts["total"] += 1
        status = task["status"]
        key = {"Failed": "failed", "Succeed": "succeed", "Stopped": "stopped"}.get(status, "in_progress")
        counts[key] += 1
    return counts


def execution_view(tx, execution):
    out = {k: execution[k] for k in ("id", "policy_id", "status", "status_text", "trigger", "start_time",
                                      "end_time")}
    out.update(task_counts(tx, execution["id"]))
    return out


def task_view(task):
    return {k: task[k] for k in ("id", "execution_id", "status", "job_id", "operation", "resource_type",
                                 "src_resource", "dst_resource", "start_time", "end_time")}


# -- lookups ----------------------------------------------------------------------------------------
def get_policy(tx, policy_id):
    policy = tx.get("replication_policy", policy_id)
    if policy is None:
        raise not_found(f"policy {policy_id} not found")
    return policy


def get_execution(tx, execution_id):
    execution = tx.get("replication_execution", execution_id)
    if execution is None:
        raise not_found(f"replication execution {execution_id} not found")
    return execution


def active_executions(tx, policy_id):
    return [e for e in tx.list("replication_execution", parent=policy_id) if e["status"] not in FINAL]


# -- executions (also used by the scheduler and the event listener) -----------------------------------
def start_execution(tx, policy, trigger, resource=None):
    """Create a Pending execution and queue its job; returns the execution id."""
    execution_id = tx.next_id("replication_execution")
    now = timeutil.now()
    execution = {"id": execution_id, "policy_id": policy["id"], "status": "Pending", "status_text": "",
                 "trigger": trigger, "start_time": now, "end_time": ZERO_TIME, "stop_requested": False,
                 "resource": resource}
    if policy.get("single_active_replication") and active_executions(tx, policy["id"]):
        execution.update(status="Stopped", status_text=SKIPPED_TEXT, end_time=now)
        tx.insert("replication_execution", execution_id, execution, parent=policy["id"])
        return execution_id
    tx.insert("replication_execution", execution_id, execution, parent=policy["id"])
    jobs.submit(tx, "replication", execution_id)
    return execution_id


def new_task(tx, execution_id, operation, resource_type, src_resource, dst_resource, plan):
    task_id = tx.next_id("replication_task")
    task = {"id": task_id, "execution_id": execution_id, "status": "Pending", "job_id": uuid.uuid4().hex,
            "operation": operation, "resource_type": resource_type, "src_resource": src_resource,
            "dst_resource": dst_resource, "start_time": ZERO_TIME, "end_time": ZERO_TIME, "plan": plan}
    tx.insert("replication_task", task_id, task, parent=execution_id)
    return task


def request_stop(tx, execution):
    """Harbor's Stop: pending work is Stopped now; a running task stops at its next step."""
    if execution["status"] in FINAL:
        return
    now = timeutil.now()
    execution["stop_requested"] = True
    for task in tx.list("replication_task", parent=execution["id"]):
        if task["status"] == "Pending":
            task.update(status="Stopped", end_time=now)
            tx.update("replication_task", task.oid, dict(task))
    running = [t for t in tx.list("replication_task", parent=execution["id"]) if t["status"] == "InProgress"]
    if execution["status"] == "Pending" or not running:
        execution.update(status="Stopped", end_time=now)
    tx.update("replication_execution", execution["id"], dict(execution))


# -- policy routes ------------------------------------------------------------------------------------
def policy_fields():
    return query.fields("name", "id", "enabled", "description", "creation_time", "update_time", "src_registry_id",
                        "dest_registry_id")


@route("/replication/policies", methods=["POST"])
def create_policy(ctx):
    ctx.principal.require_system("replication-policy", "create")
    policy = parse_policy(ctx.tx, ctx.body())
    if ctx.tx.get_by_name("replication_policy", policy["name"]):
        raise conflict(f"policy {policy['name']} already exists")
    now = timeutil.now()
    policy.update(id=ctx.tx.next_id("replication_policy"), creator=ctx.principal.username,
                  creation_time=now, update_time=now)
    ctx.tx.insert("replication_policy", policy["id"], policy, name=policy["name"], unique=[f"name:{policy['name']}"])
    return created(f"/replication/policies/{policy['id']}")


@route("/replication/policies")
def list_policies(ctx):
    ctx.principal.require_system("replication-policy", "list")
    policies = ctx.tx.list("replication_policy")
    name = ctx.args.get("name")
    if name:  # deprecated `name`: a fuzzy match
        policies = [p for p in policies if name in p["name"]]
    page, headers = query.listing(ctx.request, policies, policy_fields())
    return json_response([policy_view(ctx.tx, ctx.emulator, p) for p in page], headers=headers)


@route("/replication/policies/<policy_id>")
def get_one_policy(ctx, policy_id):
    ctx.principal.require_system("replication-policy", "read")
    return policy_view(ctx.tx, ctx.emulator, get_policy(ctx.tx, ctx.int_id(policy_id, "id")))


@route("/replication/policies/<policy_id>", methods=["PUT"])
def update_policy(ctx, policy_id):
    ctx.principal.require_system("replication-policy", "update")
    existing = get_policy(ctx.tx, ctx.int_id(policy_id, "id"))
    policy = parse_policy(ctx.tx, ctx.body())
    other = ctx.tx.get_by_name("replication_policy", policy["name"])
    if other is not None and other.oid != existing.oid:
        raise conflict(f"policy {policy['name']} already exists")
    policy.update(id=existing["id"], creator=existing.get("creator", ""), creation_time=existing["creation_time"],
                  update_time=timeutil.now())
    ctx.tx.update("replication_policy", existing.oid, policy, name=policy["name"], unique=[f"name:{policy['name']}"])


@route("/replication/policies/<policy_id>", methods=["DELETE"])
def delete_policy(ctx, policy_id):
    ctx.principal.require_system("replication-policy", "delete")
    policy = get_policy(ctx.tx, ctx.int_id(policy_id, "id"))
    running = active_executions(ctx.tx, policy["id"])
    if running:
        raise precondition(f"the execution {running[0]['id']} isn't in final status, stop it first")
    for execution in ctx.tx.list("replication_execution", parent=policy["id"]):
        for task in ctx.tx.list("replication_task", parent=execution["id"]):
            ctx.tx.delete("replication_log", task["id"])
            ctx.tx.delete("replication_task", task["id"])
        ctx.tx.delete("replication_execution", execution["id"])
    ctx.tx.delete("replication_policy", policy["id"])


# -- execution routes -----------------------------------------------------------------------------------
@route("/replication/executions", methods=["POST"])
def start(ctx):
    ctx.principal.require_system("replication", "create")
    policy_id = ctx.body().int("policy_id", required=True, minimum=1)
    policy = get_policy(ctx.tx, policy_id)
    if not policy["enabled"]:
        raise precondition(f"the policy {policy_id} is disabled")
    trigger = "scheduled" if ctx.args.get("trigger") == "scheduled" else "manual"  # Harbor's legacy scheduler hook
    return created(f"/replication/executions/{start_execution(ctx.tx, policy, trigger)}")


def execution_fields():
    return query.fields("id", "policy_id", "status", "trigger", "start_time", "end_time")


@route("/replication/executions")
def list_executions(ctx):
    ctx.principal.require_system("replication", "list")
    policy_id = ctx.int_arg("policy_id")
    executions = ctx.tx.list("replication_execution", parent=policy_id) if policy_id is not None \
        else ctx.tx.list("replication_execution")
    for key in ("status", "trigger"):
        wanted = ctx.args.get(key)
        if wanted:
            executions = [e for e in executions if e[key] == wanted]
    executions = sorted(executions, key=lambda e: -e["id"])  # newest first unless `sort` says otherwise
    executions = query.sort_items(executions, ctx.args.get("sort"), execution_fields())
    page, headers = query.paginate(ctx.request, executions)
    return json_response([execution_view(ctx.tx, e) for e in page], headers=headers)


@route("/replication/executions/<execution_id>")
def get_one_execution(ctx, execution_id):
    ctx.principal.require_system("replication", "read")
    return execution_view(ctx.tx, get_execution(ctx.tx, ctx.int_id(execution_id, "id")))


@route("/replication/executions/<execution_id>", methods=["PUT"])
def stop(ctx, execution_id):
    ctx.principal.require_system("replication", "create")
    request_stop(ctx.tx, get_execution(ctx.tx, ctx.int_id(execution_id, "id")))


def task_fields():
    return query.fields("id", "status", "operation", "resource_type", "start_time", "end_time")


@route("/replication/executions/<execution_id>/tasks")
def list_tasks(ctx, execution_id):
    ctx.principal.require_system("replication", "list")
    execution = get_execution(ctx.tx, ctx.int_id(execution_id, "id"))
    tasks = ctx.tx.list("replication_task", parent=execution["id"])
    for key in ("status", "resource_type"):
        wanted = ctx.args.get(key)
        if wanted:
            tasks = [t for t in tasks if t[key] == wanted]
    tasks = query.sort_items(tasks, ctx.args.get("sort"), task_fields())
    page, headers = query.paginate(ctx.request, tasks)
    return json_response([task_view(t) for t in page], headers=headers)


@route("/replication/executions/<execution_id>/tasks/<task_id>/log")
def task_log(ctx, execution_id, task_id):
    ctx.principal.require_system("replication", "read")
    execution = get_execution(ctx.tx, ctx.int_id(execution_id, "id"))
    task = ctx.tx.get("replication_task", ctx.int_id(task_id, "task_id"))
    if task is None:
        raise not_found(f"replication task {task_id} not found")
    if task["execution_id"] != execution["id"]:
        raise not_found(f"execution {execution['id']} contains no task with ID {task['id']}")
    log = ctx.tx.get("replication_log", task["id"])
    return Response((log or {}).get("text", ""), mimetype="text/plain")


# -- scheduling ------------------------------------------------------------------------------------------
def scheduled_policies(tx):
    """(key, cron) of every enabled policy with a scheduled trigger."""
    out = []
    for policy in tx.list("replication_policy"):
        trigger = policy.get("trigger") or {}
        if policy.get("enabled") and trigger.get("type") == "scheduled":
            out.append((str(policy["id"]), trigger["trigger_settings"]["cron"]))
    return out


def fire_scheduled(emulator, key):
    with emulator.store.tx() as tx:
        policy = tx.get("replication_policy", int(key))
        if policy and policy.get("enabled") and (policy.get("trigger") or {}).get("type") == "scheduled":
            start_execution(tx, policy, "scheduled")


jobs.register_schedule("replication", scheduled_policies, fire_scheduled)


# -- LAB ONLY ----------------------------------------------------------------------------------------------
@route("/lab/schedules/tick", methods=["POST"], prefix="", tx=False)
def lab_tick(ctx):
    """LAB ONLY (not a Harbor API): fire every schedule due at `?at=<RFC 3339 time>` (default: now).

    Lets tests and demos exercise scheduled replication and GC without waiting for the
    clock. Slots are claimed in the database, so a slot fires once whoever ticks it."""
    ctx.principal.require_sysadmin()
    raw = ctx.args.get("at")
    try:
        at = datetime.datetime.fromisoformat(raw) if raw else None
    except ValueError:
        raise bad_request(f"at must be an RFC 3339 UTC time like 2030-01-01T00:00:00Z: {raw!r}") from None
    fired = jobs.tick(ctx.emulator, at)
    return {"fired": [{"schedule": name, "key": key, "slot": slot} for name, key, slot in fired]}
