"""Audit logs: one entry per successful write request, the lists that show them, and the
audit-log purge (schedule, manual runs, history, logs).

Recording: app.py calls `begin(tx, request)` before a write handler runs (so a DELETE can
still name what it deletes) and `finish(tx, pending, principal, response)` after it
succeeded, in the same transaction. Entries are documents of kind "audit_log" under their
project (parent 0 for system-wide ones) with Harbor's AuditLog fields plus the AuditLogExt
ones (operation_description, operation_result).

Lists: /audit-logs (system administrators see everything, other users the projects where
they may list logs), /projects/{project_name}/logs, and the same entries in the
AuditLogExt shape at /auditlog-exts and /projects/{project_name}/auditlog-exts.
q keys: username, resource, resource_type, operation, op_time (range [a~b] with times like
"2024-04-09 02:36:00" or RFC 3339 or epoch seconds); newest first unless `sort` says otherwise.

Purge: /system/purgeaudit/schedule takes {"schedule":{"type","cron"},"parameters":
{"audit_retention_hour":N,"include_operations":"create,delete,update","dry_run":bool}}.
Manual runs now, in the request; scheduled runs are fired by jobs.py's scheduler once it
offers register_schedule. History and logs at /system/purgeaudit[/{id}[/log]].
"""

import datetime
import json
import time
from urllib.parse import urlsplit

from .. import query, timeutil
from ..errors import bad_request, not_found
from ..web import API, created, empty, json_response, repo_name, route
from .retention import check_cron

OPERATIONS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
PURGE_OPERATIONS = ("create", "update", "delete", "pull")
EVENT_TYPES = ("create_artifact", "delete_artifact", "pull_artifact", "create_project", "delete_project",
               "delete_repository", "login_user", "logout_user", "create_user", "delete_user", "update_user",
               "create_robot", "delete_robot", "update_configure")
JOB_NAME = "PURGE_AUDIT_LOG"
SCHEDULE_KEY = "purgeaudit"

# Segments that are followed by an identifier in Harbor's paths.
ID_AFTER = {"projects", "members", "metadatas", "users", "usergroups", "robots", "registries", "labels",
            "retentions", "immutabletagrules", "policies", "executions", "tasks", "repositories", "artifacts",
            "tags", "quotas", "scanners", "purgeaudit", "gc", "instances"}
TYPE_NAMES = {"projects": "project", "members": "project_member", "metadatas": "project_metadata",
              "users": "user", "password": "user", "sysadmin": "user", "cli_secret": "user",
              "usergroups": "user_group", "robots": "robot", "registries": "registry", "labels": "label",
              "retentions": "retention", "immutabletagrules": "immutable_rule", "configurations": "configuration",
              "quotas": "quota", "repositories": "repository", "artifacts": "artifact", "tags": "tag",
              "scanners": "scanner", "policies": "policy", "executions": "execution", "tasks": "task"}
GENERIC_TYPES = {"policies", "executions", "schedule", "tasks"}
# collection -> (document kind, field holding its display name)
NAMED_KINDS = {"robots": ("robot", "name"), "users": ("user", "username"), "labels": ("label", "name"),
               "registries": ("registry", "name"), "usergroups": ("usergroup", "group_name")}


# -- recording ------------------------------------------------------------------------------
def audited(request):
    path = request.path
    return request.method in OPERATIONS and path.startswith(API + "/")


def begin(tx, request):
    """What a write request is about, looked up before the handler changes it (None: not audited)."""
    if not audited(request):
        return None
    by_name = request.headers.get("X-Is-Resource-Name", "").lower() == "true"
    return {"method": request.method, "by_name": by_name, **describe(tx, request.path, by_name)}


def finish(tx, pending, principal, response):
    """Record the entry when the request succeeded."""
    if pending is None or not 200 <= response.status_code < 300:
        return None
    info = pending
    location = response.headers.get("Location")
    if pending["method"] == "POST" and location:
        info = {**pending, **describe(tx, urlsplit(location).path, pending["by_name"])}
    operation = OPERATIONS[pending["method"]]
    return record(tx, principal.username, operation, info["resource_type"], info["resource"], info["project_id"])


def record(tx, username, operation, resource_type, resource, project_id=0, description=None, epoch=None):
    """Store one audit log entry; `epoch` (seconds) lets tests and imports date it in the past."""
    epoch = time.time() if epoch is None else epoch
    entry_id = tx.next_id("audit_log")
    entry = {"id": entry_id, "project_id": project_id or 0, "username": username, "resource": resource,
             "resource_type": resource_type, "operation": operation,
             "operation_description": description or f"{operation} {resource_type} {resource}",
             "operation_result": True, "op_time": _rfc3339(epoch), "op_epoch": epoch}
    tx.insert("audit_log", entry_id, entry, parent=project_id or 0)
    return entry


def _rfc3339(epoch):
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def describe(tx, path, by_name=False):
    """resource_type, resource (a readable name) and project_id of an API path."""
    segments = [s for s in path[len(API):].split("/") if s]
    return {"resource_type": resource_type(segments), **_resource(tx, segments, by_name)}


def resource_type(segments):
    names = [s for i, s in enumerate(segments)
             if i == 0 or segments[i - 1] not in ID_AFTER or s in GENERIC_TYPES]
    if not names:
        return "unknown"
    last = names[-1]
    base = TYPE_NAMES.get(last, last.rstrip("s").replace("-", "_").lower())
    if last in GENERIC_TYPES and len(names) > 1 and names[-2] not in ("projects",):
        prefix = TYPE_NAMES.get(names[-2], names[-2]).rstrip("s").replace("-", "_").lower()
        return f"{prefix}_{base}"
    return base


def _resource(tx, segments, by_name):
    if len(segments) >= 2 and segments[0] == "projects":
        return _project_resource(tx, segments, by_name)
    relative = "/".join(segments)
    if len(segments) >= 2 and segments[0] in NAMED_KINDS and segments[1].isdigit():
        kind, field = NAMED_KINDS[segments[0]]
        doc = tx.get(kind, int(segments[1]))
        if doc is not None:
            return {"resource": doc.get(field, relative), "project_id": doc.get("project_id", 0) or 0}
    if len(segments) >= 2 and segments[0] == "retentions" and segments[1].isdigit():
        policy = tx.get("retention", int(segments[1]))
        if policy is not None:
            return {"resource": relative, "project_id": policy["scope"]["ref"]}
    return {"resource": relative, "project_id": 0}


def _project_resource(tx, segments, by_name):
    raw = segments[1]
    project = tx.get("project", int(raw)) if raw.isdigit() and not by_name else tx.get_by_name("project", raw)
    name = project["name"] if project else raw
    project_id = project["project_id"] if project else 0
    rest = segments[2:]
    if not rest or rest[0] == "metadatas":
        return {"resource": name, "project_id": project_id}
    if rest[0] == "repositories" and len(rest) >= 2:
        resource = f"{name}/{repo_name(rest[1])}"
        if len(rest) >= 4 and rest[2] == "artifacts":
            resource += f"@{rest[3]}" if len(rest) < 6 or rest[4] != "tags" else f":{rest[5]}"
        return {"resource": resource, "project_id": project_id}
    return {"resource": f"{name}/{'/'.join(rest)}", "project_id": project_id}


# -- lists ----------------------------------------------------------------------------------
FIELDS = {
    "id": lambda e: e["id"],
    "username": lambda e: e["username"],
    "resource": lambda e: e["resource"],
    "resource_type": lambda e: e["resource_type"],
    "operation": lambda e: e["operation"],
    "op_time": lambda e: e["op_epoch"],
}
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f",
                "%Y-%m-%d")


def epoch_of(text):
    """A q time value ("2020-04-09 02:36:00", RFC 3339, epoch seconds; quotes allowed) in seconds."""
    value = text.strip().strip("'\"")
    try:
        return float(value)
    except ValueError:
        pass
    value = value[:-1] if value.endswith("Z") else value
    for fmt in TIME_FORMATS:
        try:
            return datetime.datetime.strptime(value, fmt).replace(tzinfo=datetime.timezone.utc).timestamp()
        except ValueError:
            continue
    raise bad_request(f'invalid query: op_time value "{text}" is not a time like "2020-04-09 02:36:00"')


def _strip(value):
    return value.strip("'\"") if isinstance(value, str) else value


def filter_entries(entries, raw_q):
    terms = []
    for key, kind, value in query.parse_q(raw_q):
        if key not in FIELDS:
            raise bad_request(f'invalid query: key "{key}" is not supported')
        if key == "op_time":
            if kind == "range":
                value = tuple(None if v is None else epoch_of(v) for v in value)
            elif kind == "exact":
                value = str(epoch_of(value))
            else:
                raise bad_request("invalid query: op_time takes a time or a range [a~b]")
        elif kind == "range":
            value = tuple(_strip(v) for v in value)
        elif kind in ("and", "or"):
            value = [_strip(v) for v in value]
        else:
            value = _strip(value)
        terms.append((key, kind, value))
    return [e for e in entries if all(_match(FIELDS[key](e), kind, value) for key, kind, value in terms)]


def _match(item_value, kind, expected):
    if kind == "exact" and isinstance(item_value, float):
        return item_value == float(expected)
    return query.matches(item_value, kind, expected)


def listing(ctx, entries, shape):
    entries = filter_entries(entries, ctx.args.get("q"))
    entries = sorted(entries, key=lambda e: (e["op_epoch"], e["id"]), reverse=True)
    entries = query.sort_items(entries, ctx.args.get("sort"), FIELDS)
    page, headers = query.paginate(ctx.request, entries)
    return json_response([shape(e) for e in page], headers=headers)


def legacy_view(entry):
    return {k: entry[k] for k in ("id", "username", "resource", "resource_type", "operation", "op_time")}


def ext_view(entry):
    return {k: entry[k] for k in ("id", "username", "resource", "resource_type", "operation",
                                  "operation_description", "operation_result", "op_time")}


def visible_entries(ctx):
    """Sysadmins see all entries; others those of projects where they may list logs."""
    ctx.principal.require_login()
    if ctx.principal.sysadmin or _robot_may_list(ctx):
        return ctx.tx.list("audit_log")
    entries = []
    for project in ctx.tx.list("project"):
        if ctx.principal.can(ctx.tx, project, "log", "list"):
            entries.extend(ctx.tx.list("audit_log", parent=project["project_id"]))
    return entries


def _robot_may_list(ctx):
    from ..auth import robot_allows

    return ctx.principal.robot is not None and robot_allows(ctx.principal.robot, None, "audit-log", "list")


def project_entries(ctx, project_name):
    ctx.principal.require_login()
    project = ctx.tx.get_by_name("project", project_name)
    if project is None:
        raise not_found(f"project {project_name} not found")
    ctx.principal.require(ctx.tx, project, "log", "list")
    return ctx.tx.list("audit_log", parent=project["project_id"])


@route("/audit-logs")
def list_audit_logs(ctx):
    return listing(ctx, visible_entries(ctx), legacy_view)


@route("/auditlog-exts")
def list_audit_log_exts(ctx):
    return listing(ctx, visible_entries(ctx), ext_view)


@route("/auditlog-exts/events")
def event_types(ctx):
    ctx.principal.require_login()
    return [{"event_type": name} for name in EVENT_TYPES]


@route("/projects/<project_name>/logs")
def project_logs(ctx, project_name):
    return listing(ctx, project_entries(ctx, project_name), legacy_view)


@route("/projects/<project_name>/auditlog-exts")
def project_log_exts(ctx, project_name):
    return listing(ctx, project_entries(ctx, project_name), ext_view)


# -- purge ----------------------------------------------------------------------------------
SCHEDULE_TYPES = ("Hourly", "Daily", "Weekly", "Custom", "Manual", "None")


def parse_parameters(body):
    params = body.obj("parameters")
    if params is None or not params.data:
        raise bad_request("schedule parameter cann't be empty")
    if "audit_retention_hour" not in params.data:
        raise bad_request("audit_retention_hour should provide")
    if "include_operations" not in params.data:
        raise bad_request("include_operations should provide")
    hours = params.int("audit_retention_hour", required=True, minimum=0)
    operations = params.str("include_operations", required=True)
    wanted = [op.strip() for op in operations.split(",") if op.strip()]
    if not wanted or any(op not in PURGE_OPERATIONS for op in wanted):
        raise bad_request(f"include_operations {operations!r} is invalid: a comma list of "
                          f"{', '.join(PURGE_OPERATIONS)}")
    return {"audit_retention_hour": hours, "include_operations": ",".join(wanted),
            "dry_run": params.bool("dry_run", default=False)}


def parse_schedule(body):
    schedule = body.obj("schedule")
    if schedule is None:
        raise bad_request("schedule cann't be empty")
    kind = schedule.str("type", required=True)
    if kind not in SCHEDULE_TYPES:
        raise bad_request(f"schedule.type {kind!r} is invalid, must be one of {', '.join(SCHEDULE_TYPES)}")
    cron = schedule.str("cron", default="")
    if kind in ("Hourly", "Daily", "Weekly", "Custom"):
        if not cron:
            raise bad_request("empty cron string for schedule")
        check_cron(cron, "schedule.cron")
    return kind, cron


def run_purge(tx, params, trigger):
    """Delete (or, dry run, count) entries older than the retention of the chosen operations.
    Like Harbor's purge job: a retention of 0 hours purges nothing, and only create, delete
    and pull entries are ever purged; the log lines use Harbor's wording."""
    cutoff = time.time() - params["audit_retention_hour"] * 3600
    operations = set(params["include_operations"].split(",")) & {"create", "delete", "pull"}
    doomed = []
    if params["audit_retention_hour"] > 0:
        doomed = [e for e in tx.list("audit_log") if e["op_epoch"] < cutoff and e["operation"] in operations]
    if not params["dry_run"]:
        for entry in doomed:
            tx.delete("audit_log", entry["id"])
    prefix = "[DRYRUN]" if params["dry_run"] else ""
    log = (f"{timeutil.now()} [INFO] [purge]: purge audit logs older than {params['audit_retention_hour']} hours "
           f"with operations {params['include_operations']}\n"
           f"{timeutil.now()} [INFO] [purge]: {prefix}Purged {len(doomed)} rows of audit logs\n")
    execution_id = tx.next_id("purge_execution")
    now = timeutil.now()
    execution = {"id": execution_id, "trigger": trigger, "status": "Success", "parameters": params,
                 "start_time": now, "end_time": now, "log": log, "purged": len(doomed)}
    tx.insert("purge_execution", execution_id, execution)
    return execution


def history_view(execution):
    kind = "Manual" if execution["trigger"] == "MANUAL" else "Schedule"
    return {"id": execution["id"], "job_name": JOB_NAME, "job_kind": execution["trigger"],
            "job_parameters": json.dumps(execution["parameters"]), "schedule": {"type": kind},
            "job_status": execution["status"], "deleted": False, "creation_time": execution["start_time"],
            "update_time": execution["end_time"]}


def current_schedule(tx):
    return tx.get("purge_schedule", 1)


def schedule_view(schedule):
    return {"id": schedule["id"], "job_name": "", "job_kind": schedule["cron"],
            "job_parameters": json.dumps(schedule["parameters"]), "deleted": False, "job_status": "",
            "schedule": {"type": schedule["type"], "cron": schedule["cron"]},
            "creation_time": schedule["creation_time"], "update_time": schedule["update_time"]}


def save_schedule(ctx, action):
    ctx.principal.require_system("purge-audit", action)
    body = ctx.body()
    kind, cron = parse_schedule(body)
    if kind == "None":
        if current_schedule(ctx.tx):
            ctx.tx.delete("purge_schedule", 1)
        return 0
    params = parse_parameters(body)
    if kind == "Manual":
        return run_purge(ctx.tx, params, "MANUAL")["id"]
    now = timeutil.now()
    old = current_schedule(ctx.tx)
    schedule = {"id": 1, "type": kind, "cron": cron, "parameters": params,
                "creation_time": old["creation_time"] if old else now, "update_time": now}
    if old:
        ctx.tx.update("purge_schedule", 1, schedule)
    else:
        ctx.tx.insert("purge_schedule", 1, schedule, name=SCHEDULE_KEY)
    return 0


@route("/system/purgeaudit/schedule")
def get_schedule(ctx):
    ctx.principal.require_system("purge-audit", "read")
    schedule = current_schedule(ctx.tx)
    return schedule_view(schedule) if schedule else empty()


@route("/system/purgeaudit/schedule", methods=["POST"])
def create_schedule(ctx):
    execution_id = save_schedule(ctx, "create")
    return created(f"/system/purgeaudit/{execution_id}")


@route("/system/purgeaudit/schedule", methods=["PUT"])
def update_schedule(ctx):
    save_schedule(ctx, "update")


def load_execution(ctx, raw_id, action="read"):
    ctx.principal.require_system("purge-audit", action)
    execution = ctx.tx.get("purge_execution", ctx.int_id(raw_id, "purge_id"))
    if execution is None:
        raise not_found(f"purge job {raw_id} not found")
    return execution


@route("/system/purgeaudit")
def history(ctx):
    ctx.principal.require_system("purge-audit", "list")
    executions = sorted(ctx.tx.list("purge_execution"), key=lambda e: -e["id"])
    fields = {"id": lambda e: e["id"], "job_status": lambda e: e["status"], "status": lambda e: e["status"],
              "job_kind": lambda e: e["trigger"], "creation_time": lambda e: e["start_time"],
              "update_time": lambda e: e["end_time"]}
    page, headers = query.listing(ctx.request, executions, fields)
    return json_response([history_view(e) for e in page], headers=headers)


@route("/system/purgeaudit/<purge_id>")
def get_execution(ctx, purge_id):
    return history_view(load_execution(ctx, purge_id))


@route("/system/purgeaudit/<purge_id>", methods=["PUT"])
def stop_execution(ctx, purge_id):
    execution = load_execution(ctx, purge_id, "stop")
    if execution["status"] in ("Running", "Pending"):
        execution.update(status="Stopped", end_time=timeutil.now())
        ctx.tx.update("purge_execution", execution["id"], dict(execution))


@route("/system/purgeaudit/<purge_id>/log")
def execution_log(ctx, purge_id):
    from werkzeug.wrappers import Response

    return Response(load_execution(ctx, purge_id)["log"], mimetype="text/plain")


# -- scheduled runs -------------------------------------------------------------------------
def schedule_crons(tx):
    """For jobs.py: [(key, cron)] of the purge schedule, if one is set."""
    schedule = current_schedule(tx)
    return [(SCHEDULE_KEY, schedule["cron"])] if schedule else []


def fire_schedule(emulator, key):
    """For jobs.py: one scheduled purge run with the schedule's parameters."""
    with emulator.store.tx() as tx:
        schedule = current_schedule(tx)
        if schedule is not None:
            run_purge(tx, schedule["parameters"], "SCHEDULE")


def register_with_scheduler():
    """Hand the purge schedule to jobs.py's cron scheduler when it offers one."""
    from .. import jobs

    register = getattr(jobs, "register_schedule", None)
    if register is not None:
        register(SCHEDULE_KEY, schedule_crons, fire_schedule)
        return True
    return False
register_with_scheduler()
