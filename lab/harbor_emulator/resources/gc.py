"""Garbage collection: the schedule (`/system/gc/schedule`), runs and their history and logs.

As in Harbor: POST and PUT take the same body; `Manual` starts a run now (201 Location
/system/gc/{id}), `None` removes the schedule, Hourly/Daily/Weekly/Custom replace it (a
6-field cron is required); GET of the schedule answers 200 with an empty body when there
is none. A run is a job (jobs.py) calling the registry's garbage collection; its log ends
with Harbor's summary lines and "freed N bytes"; the results land in `job_parameters` as
`freed_space`, `purged_blobs`, `purged_manifests` (for a dry run: what it would free).

Read-only mode refuses every write here (Harbor's global read-only middleware lets only a
few paths through, and the GC API is not one of them: goharbor/harbor#11253); a run
already started keeps running, since the job service does not pass through that middleware.

LAB ONLY: PUT /lab/faults/gc {"fail_runs": N, "delay_seconds": S} makes the next N real
(non-dry) runs fail the way a collection fails when the storage refuses to delete blobs, after
S seconds of work (default 0); a dry run deletes nothing, so it is not affected. GET shows
what is left of it.
"""

import datetime
import json
import re
import threading
import time

from werkzeug.wrappers import Response

from .. import jobs, query, timeutil
from ..errors import HarborError, bad_request, conflict, not_found
from ..web import API, empty, json_response, route
from .replication import parse_cron

SCHEDULED_TYPES = ("Hourly", "Daily", "Weekly", "Custom", "Schedule")
TYPES = SCHEDULED_TYPES + ("Manual", "None")
FINAL = ("Success", "Error", "Stopped")
JOB_NAME = "GARBAGE_COLLECTION"
READ_ONLY_MESSAGE = "The system is in read only mode. Any modification is prohibited."
ZERO_TIME = "0001-01-01T00:00:00.000Z"
_RUN_LOCK = threading.Lock()  # one collection at a time in a process: Distribution's GC is not concurrent


# -- body -------------------------------------------------------------------------------------------
def parse_body(ctx):
    body = ctx.body()
    schedule = body.obj("schedule", required=True)
    kind = schedule.str("type", required=True)
    if kind not in TYPES:
        raise bad_request(f"schedule.type must be one of {', '.join(TYPES)}: {kind!r}")
    cron = schedule.str("cron", default="")
    if kind in SCHEDULED_TYPES:
        if not cron:
            raise bad_request("empty cron string for gc schedule")
        if parse_cron(cron) is None:
            raise bad_request(f"invalid cron {cron}: a cron has 6 fields (second minute hour day-of-month month "
                              "day-of-week)")
    parameters = body.obj("parameters")
    params = {"delete_untagged": False, "dry_run": False, "workers": 1}
    if parameters is not None:
        params["delete_untagged"] = parameters.bool("delete_untagged", default=False)
        params["dry_run"] = parameters.bool("dry_run", default=False)
        params["workers"] = parameters.int("workers", default=1, minimum=1, maximum=10)
    return kind, " ".join(cron.split()), params


def kick(ctx):
    """Apply a schedule body; returns the id of a started run (0 when none started)."""
    kind, cron, params = parse_body(ctx)
    if kind == "Manual":
        running = [e for e in ctx.tx.list("gc_execution") if e["status"] not in FINAL]
        if running:
            raise conflict(f"there is a garbage collection job in progress (id {running[0]['id']})")
        return start_run(ctx.tx, "MANUAL", params)
    ctx.tx.delete("gc_schedule", 1)
    if kind in SCHEDULED_TYPES:
        now = timeutil.now()
        ctx.tx.insert("gc_schedule", 1, {"type": kind, "cron": cron, "parameters": params,
                                         "creation_time": now, "update_time": now})
    return 0


def start_run(tx, trigger, params):
    gc_id = tx.next_id("gc_execution")
    now = timeutil.now()
    tx.insert("gc_execution", gc_id, {"id": gc_id, "trigger": trigger, "status": "Pending", "parameters": dict(params),
                                      "creation_time": now, "update_time": now, "stop_requested": False})
    jobs.submit(tx, "gc", gc_id)
    return gc_id


# -- views ------------------------------------------------------------------------------------------
def next_time(cron):
    from croniter import croniter

    fields = parse_cron(cron)
    if fields is None:
        return ZERO_TIME
    upcoming = croniter(" ".join(fields), jobs.utcnow(), second_at_beginning=True).get_next(datetime.datetime)
    return upcoming.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def history_view(execution):
    return {"id": execution["id"], "job_name": JOB_NAME, "job_kind": execution["trigger"],
            "job_parameters": json.dumps(execution["parameters"]),
            "schedule": {"type": execution["trigger"].title(), "cron": "", "next_scheduled_time": ZERO_TIME},
            "job_status": execution["status"], "deleted": False,
            "creation_time": execution["creation_time"], "update_time": execution["update_time"]}


def schedule_view(schedule):
    return {"id": 1, "job_name": "", "job_kind": schedule["cron"], "job_parameters": json.dumps(schedule["parameters"]),
            "schedule": {"type": schedule["type"], "cron": schedule["cron"],
                         "next_scheduled_time": next_time(schedule["cron"])},
            "job_status": "Scheduled", "deleted": False,
            "creation_time": schedule["creation_time"], "update_time": schedule["update_time"]}


def get_execution(tx, raw_id, ctx):
    execution = tx.get("gc_execution", ctx.int_id(raw_id, "gc_id"))
    if execution is None:
        raise not_found(f"garbage collection execution {raw_id} not found")
    return execution


def refuse_in_read_only(ctx):
    if ctx.emulator.config_value(ctx.tx, "read_only"):
        raise HarborError(403, READ_ONLY_MESSAGE, code="DENIED")


# -- routes -------------------------------------------------------------------------------------------
@route("/system/gc/schedule")
def get_schedule(ctx):
    ctx.principal.require_system("garbage-collection", "read")
    schedule = ctx.tx.get("gc_schedule", 1)
    return schedule_view(schedule) if schedule else empty()


@route("/system/gc/schedule", methods=["POST"])
def create_schedule(ctx):
    refuse_in_read_only(ctx)
    ctx.principal.require_system("garbage-collection", "create")
    gc_id = kick(ctx)
    response = empty(201)
    response.headers["Location"] = f"{API}/system/gc/{gc_id}"  # Harbor: /system/gc/0 when nothing started
    return response


@route("/system/gc/schedule", methods=["PUT"])
def update_schedule(ctx):
    refuse_in_read_only(ctx)
    ctx.principal.require_system("garbage-collection", "update")
    kick(ctx)


def history_fields():
    return {"id": lambda e: e["id"], "job_status": lambda e: e["status"], "job_kind": lambda e: e["trigger"],
            "creation_time": lambda e: e["creation_time"], "update_time": lambda e: e["update_time"]}


@route("/system/gc")
def history(ctx):
    ctx.principal.require_system("garbage-collection", "list")
    executions = sorted(ctx.tx.list("gc_execution"), key=lambda e: -e["id"])  # newest first
    page, headers = query.listing(ctx.request, executions, history_fields())
    return json_response([history_view(e) for e in page], headers=headers)


@route("/system/gc/<gc_id>")
def get_one(ctx, gc_id):
    ctx.principal.require_system("garbage-collection", "read")
    return history_view(get_execution(ctx.tx, gc_id, ctx))


@route("/system/gc/<gc_id>", methods=["PUT"])
def stop(ctx, gc_id):
    refuse_in_read_only(ctx)
    ctx.principal.require_system("garbage-collection", "stop")
    execution = get_execution(ctx.tx, gc_id, ctx)
    if execution["status"] in FINAL:
        return
    execution["stop_requested"] = True
    if execution["status"] == "Pending":
        execution.update(status="Stopped", update_time=timeutil.now())
    ctx.tx.update("gc_execution", execution["id"], dict(execution))


@route("/system/gc/<gc_id>/log")
def log(ctx, gc_id):
    ctx.principal.require_system("garbage-collection", "read")
    execution = get_execution(ctx.tx, gc_id, ctx)
    doc = ctx.tx.get("gc_log", execution["id"])
    return Response((doc or {}).get("text", ""), mimetype="text/plain")


# -- the job ----------------------------------------------------------------------------------------------
def append_log(emulator, gc_id, text):
    lines = "".join(f"{timeutil.now()} [INFO] {line}\n" for line in text.splitlines() if line.strip())
    with emulator.store.tx() as tx:
        doc = tx.get("gc_log", gc_id, for_update=True)
        if doc is None:
            tx.insert("gc_log", gc_id, {"text": lines})
        else:
            doc["text"] += lines
            tx.update("gc_log", gc_id, dict(doc))


def set_state(emulator, gc_id, **changes):
    with emulator.store.tx() as tx:
        execution = tx.get("gc_execution", gc_id, for_update=True)
        if execution is None:
            return None
        if "parameters" in changes:
            changes["parameters"] = {**execution["parameters"], **changes["parameters"]}
        execution.update(changes, update_time=timeutil.now())
        tx.update("gc_execution", gc_id, dict(execution))
        return execution


def run_gc(emulator, gc_id):
    with emulator.store.tx() as tx:
        execution = tx.get("gc_execution", gc_id, for_update=True)
        if execution is None or execution["status"] not in ("Pending", "Running"):
            return  # stopped before it started
        resumed = execution["status"] == "Running"  # its runner died: collect again (idempotent)
        execution.update(status="Running", update_time=timeutil.now())
        tx.update("gc_execution", gc_id, dict(execution))
    if resumed:
        append_log(emulator, gc_id, "the job service running this collection stopped; running it again")
    params = execution["parameters"]
    append_log(emulator, gc_id, f"start garbage collection: dry_run={params['dry_run']}, "
                                f"delete_untagged={params['delete_untagged']}, workers={params['workers']}")
    if emulator.registry is None:
        append_log(emulator, gc_id, "ERROR no registry is attached to this emulator (started with --no-registry): "
                                    "there is nothing to collect")
        set_state(emulator, gc_id, status="Error")
        return
    delay = None if params["dry_run"] else take_injected_failure(emulator)
    if delay is not None:
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and not jobs.stopping(emulator):
            time.sleep(0.1)  # marking takes a while before the sweep hits the storage
        append_log(emulator, gc_id, "ERROR failed to delete blobs from storage: the storage driver refused the "
                                    "delete (lab fault injected through /lab/faults/gc)")
        set_state(emulator, gc_id, status="Error")
        return
    try:
        with _RUN_LOCK:
            text, freed = emulator.registry.garbage_collect(params["dry_run"], params["delete_untagged"])
    except Exception as exc:
        append_log(emulator, gc_id, f"ERROR garbage collection failed: {type(exc).__name__}: {exc}")
        set_state(emulator, gc_id, status="Error")
        return
    append_log(emulator, gc_id, text or "")
    blobs, manifests = eligible_counts(text or "")
    megabytes = freed // (1024 * 1024)
    if params["dry_run"]:
        append_log(emulator, gc_id, f"{blobs} blobs and {manifests} manifests eligible for deletion")
        append_log(emulator, gc_id, f"The GC could free up {megabytes} MB space, the size is a rough estimation.")
        append_log(emulator, gc_id, f"dry run: {freed} bytes would be freed; freed 0 bytes")
    else:
        append_log(emulator, gc_id, f"{blobs} blobs and {manifests} manifests are actually deleted")
        append_log(emulator, gc_id, f"The GC job actual frees up {megabytes} MB space.")
        append_log(emulator, gc_id, f"freed {freed} bytes")
    # Harbor (2.8+) checks its results into the run: a dry run reports what it would free
    set_state(emulator, gc_id, status="Success",
              parameters={"freed_space": freed, "purged_blobs": blobs, "purged_manifests": manifests})


def eligible_counts(registry_log):
    """(blobs, manifests) from Distribution's "N blobs marked, B blobs and M manifests eligible" line."""
    match = re.search(r"(\d+) blobs and (\d+) manifests eligible for deletion", registry_log)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


# -- LAB ONLY: an injected failure ------------------------------------------------------------------
def take_injected_failure(emulator):
    """The seconds to work before failing (one fewer failure left), or None when none is injected."""
    with emulator.store.tx() as tx:
        fault = tx.get("lab_gc_fault", 1, for_update=True)
        if not fault or fault.get("fail_runs", 0) <= 0:
            return None
        fault["fail_runs"] -= 1
        tx.update("lab_gc_fault", 1, dict(fault))
        return fault.get("delay_seconds", 0)


@route("/lab/faults/gc", prefix="", auth=False)
def get_fault(ctx):
    fault = ctx.tx.get("lab_gc_fault", 1) or {}
    return {"fail_runs": fault.get("fail_runs", 0), "delay_seconds": fault.get("delay_seconds", 0)}


@route("/lab/faults/gc", methods=["PUT"], prefix="", auth=False)
def set_fault(ctx):
    body = ctx.body()
    fault = {"fail_runs": body.int("fail_runs", required=True, minimum=0, maximum=100),
             "delay_seconds": body.int("delay_seconds", default=0, minimum=0, maximum=600)}
    if ctx.tx.get("lab_gc_fault", 1) is None:
        ctx.tx.insert("lab_gc_fault", 1, fault)
    else:
        ctx.tx.update("lab_gc_fault", 1, fault)
    return fault


def scheduled(tx):
    schedule = tx.get("gc_schedule", 1)
    return [("gc", schedule["cron"])] if schedule else []


def fire(emulator, key):
    with emulator.store.tx() as tx:
        schedule = tx.get("gc_schedule", 1)
        if schedule is None:
            return
        if any(e["status"] not in FINAL for e in tx.list("gc_execution")):
            return  # the previous run is still going: this slot is skipped
        start_run(tx, "SCHEDULE", schedule["parameters"])


jobs.register_handler("gc", run_gc)
jobs.register_schedule("gc", scheduled, fire)
