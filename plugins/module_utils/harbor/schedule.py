# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Harbor's system jobs with a schedule: garbage collection and the audit-log purge.

Both use the same API shape:
- `GET <base>/schedule` answers 200 with an empty body when no schedule exists, otherwise a
  history-like record whose `job_parameters` is a JSON *string* of the parameters;
- `POST` (none yet) or `PUT` (one exists) `<base>/schedule` with
  `{"schedule": {"type": "Hourly|Daily|Weekly|Custom|Manual|None", "cron": "..."}, "parameters": {...}}`:
  `Manual` starts a run now (201, Location `<base>/{id}`), `None` removes the schedule;
- runs at `<base>/{id}` (`job_status` Pending|Running|Success|Error|Stopped) and `<base>/{id}/log`.

The schedule is state (the reconcile engine does it); a manual run is an action added on top
(`ScheduleModule`). Waiting and log tails are shared with replication_run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import time

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.client import HarborError
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import (
    HarborModule,
    InvalidInput,
    Resource,
)

# What Harbor's UI sends for the named schedules (6 fields: second minute hour day month weekday).
PRESETS = {
    "hourly": ("Hourly", "0 0 * * * *"),
    "daily": ("Daily", "0 0 0 * * *"),
    "weekly": ("Weekly", "0 0 0 * * 0"),
}
FINAL_JOB_STATUSES = ("Success", "Error", "Stopped")

_CRON_FIELDS = (  # name, low, high, names allowed
    ("seconds", 0, 59, None),
    ("minutes", 0, 59, None),
    ("hours", 0, 23, None),
    ("day of month", 1, 31, None),
    ("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")),
    ("day of week", 0, 6, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
)
_CRON_PART = re.compile(r"^(\*|\?|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:/([0-9]+))?$")


# -- schedules ------------------------------------------------------------------------------------
def check_cron(cron, option="schedule"):
    """Harbor's cron rule (utils.ValidateCronString): 6 fields, the seconds field exactly 0.
    Returns the cron with single spaces; raises InvalidInput naming the option and the rule."""
    fields = cron.split()
    if len(fields) != 6:
        raise InvalidInput(
            "%s %r is not a valid cron: Harbor crons have 6 fields (second minute hour day-of-month month "
            "day-of-week), for example '0 30 2 * * *' for 02:30 every day; this one has %d"
            % (option, cron, len(fields)))
    if fields[0] != "0":
        raise InvalidInput("%s %r: the first field (seconds) must be 0 in Harbor crons" % (option, cron))
    for field, (what, low, high, names) in zip(fields, _CRON_FIELDS):
        for part in field.split(","):
            match = _CRON_PART.match(part)
            if not match or not _in_range(match.group(1), low, high, names):
                raise InvalidInput("%s %r: the %s field %r is not valid (values %d-%d, '*', ranges a-b, steps /n, "
                                   "lists a,b)" % (option, cron, what, field, low, high))
    return " ".join(fields)


def _in_range(text, low, high, names):
    if text in ("*", "?"):
        return True
    for bound in text.split("-"):
        if bound.isdigit():
            if not low <= int(bound) <= high:
                return False
        elif not (names and bound.upper() in names):
            return False
    return True


def parse_schedule(value, option="schedule"):
    """User input -> (Harbor type, cron). none | hourly | daily | weekly | a 6-field cron."""
    text = (value or "").strip()
    if text.lower() == "none":
        return "None", ""
    if text.lower() in PRESETS:
        return PRESETS[text.lower()]
    if not text:
        raise InvalidInput("%s must be none, hourly, daily, weekly or a 6-field cron" % option)
    if len(text.split()) == 1:
        raise InvalidInput("%s %r is not one of none, hourly, daily, weekly, and not a 6-field cron either"
                           % (option, value))
    return "Custom", check_cron(text, option)


def schedule_name(kind, cron):
    """Harbor's (type, cron) in the module's terms: a preset name when it is exactly the preset, else the cron."""
    cron = " ".join((cron or "").split())
    if not kind or kind == "None":
        return "none"
    for name, (preset_kind, preset_cron) in PRESETS.items():
        if kind == preset_kind and cron == preset_cron:
            return name
    return cron or kind.lower()


def job_parameters(record):
    """`job_parameters` is a JSON string in Harbor's answers (sometimes already decoded)."""
    raw = (record or {}).get("job_parameters")
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# -- waiting and logs (also used by replication_run) ---------------------------------------------------
def wait_for(fetch, finished, timeout, interval, sleep=time.sleep, clock=time.time):
    """Call fetch() every `interval` seconds until finished(value); returns (value, timed_out)."""
    deadline = clock() + timeout
    while True:
        value = fetch()
        if finished(value):
            return value, False
        if clock() + interval > deadline:
            return value, True
        sleep(interval)


def read_log(client, path):
    """A plain-text job log (Harbor answers text/plain, so it is not read as JSON)."""
    response = client.request("GET", path, headers={"Accept": "text/plain"}, ok=(200,))
    return response.text or ""


def tail(text, lines):
    if lines <= 0:
        return []
    return [line for line in (text or "").splitlines() if line.strip()][-lines:]


def with_role_hint(exc, needs):
    """A 403 that says which Harbor role the call needs (the status and request id are kept)."""
    if exc.status != 403:
        return exc
    return HarborError(exc.status, exc.method, exc.path, "%s; %s" % (exc.message, needs), exc.code, exc.request_id)


# -- the resource ---------------------------------------------------------------------------------------
class ScheduleResource(Resource):
    """A system job's schedule and parameters. Subclasses declare the paths and the parameters."""

    base = None               # e.g. "/system/gc"
    noun = None               # e.g. "garbage collection" (messages)
    needs = None              # the role text added to 403 answers
    supports_absent = False   # `schedule: none` removes the schedule, there is no state option

    # -- declared by subclasses ------------------------------------------------------------
    def parameter_spec(self):
        """Options that map onto Harbor's `parameters`."""
        raise NotImplementedError

    def parameters_from_options(self, params):
        """The Harbor parameters the user set (a dict without unset keys)."""
        raise NotImplementedError

    def options_from_parameters(self, parameters):
        """Harbor parameters -> option names and values (for state and diff)."""
        raise NotImplementedError

    def default_parameters(self):
        """What a new schedule or a run gets for parameters the user did not set."""
        return {}

    def required_parameters(self):
        """Harbor parameters that have no default and must be given for a new schedule or a run."""
        return ()

    def run_summary(self, record, log_text, params):
        """Result of a finished (or running) manual run, from its record and its log."""
        raise NotImplementedError

    # -- the engine's hooks ------------------------------------------------------------------
    def argument_spec(self):
        spec = dict(
            schedule=dict(type="str"),
            run=dict(type="bool", default=False),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=600),
            poll_interval=dict(type="float", default=2.0),
            log_lines=dict(type="int", default=20),
        )
        spec.update(self.parameter_spec())
        return spec

    def identity(self, params):
        return "%s schedule" % self.noun

    def validate(self, params):
        if params.get("schedule") is not None:
            parse_schedule(params["schedule"])
        if params.get("schedule") is None and not params["run"]:
            raise InvalidInput("nothing to do: set schedule (none, hourly, daily, weekly or a cron) and/or run: true")
        if params["wait_timeout"] <= 0:
            raise InvalidInput("wait_timeout must be a positive number of seconds, not %s" % params["wait_timeout"])
        if params["poll_interval"] <= 0:
            raise InvalidInput("poll_interval must be a positive number of seconds, not %s" % params["poll_interval"])
        if params["log_lines"] < 0:
            raise InvalidInput("log_lines must be 0 or more, not %s" % params["log_lines"])
        if params["run"]:
            missing = [k for k in self.required_parameters() if k not in self.parameters_from_options(params)]
            if missing:
                raise InvalidInput("run: true needs %s (Harbor has no default for %s)"
                                   % (" and ".join(missing), "them" if len(missing) > 1 else "it"))

    def read(self, params):
        record = self.client.get(self.base + "/schedule")
        if not record or not (record.get("schedule") or {}).get("type"):
            return None
        return record

    def bind(self, current):
        params = self.module.params
        kind, _cron = parse_schedule(params["schedule"])
        if current is None and kind != "None":
            missing = [k for k in self.required_parameters() if k not in self.parameters_from_options(params)]
            if missing:
                raise InvalidInput("there is no %s schedule yet: creating one needs %s"
                                   % (self.noun, " and ".join(missing)))

    def desired_absent(self, params):
        return parse_schedule(params["schedule"])[0] == "None"

    def current_parameters(self, current):
        parameters = dict(self.default_parameters())
        parameters.update((k, v) for k, v in job_parameters(current).items() if k in self.known_parameters())
        return parameters

    def known_parameters(self):
        return tuple(self.default_parameters()) + tuple(self.required_parameters())

    def state(self, current):
        sched = current.get("schedule") or {}
        out = {"schedule": schedule_name(sched.get("type"), sched.get("cron"))}
        out.update(self.options_from_parameters(self.current_parameters(current)))
        return out

    def wanted(self, params):
        kind, cron = parse_schedule(params["schedule"])
        out = {"schedule": schedule_name(kind, cron)}
        out.update(self.options_from_parameters(self.parameters_from_options(params)))
        return out

    def body(self, params, parameters):
        kind, cron = parse_schedule(params["schedule"])
        return {"schedule": {"type": kind, "cron": cron}, "parameters": parameters}

    def create(self, params, wanted):
        parameters = dict(self.default_parameters())
        parameters.update(self.parameters_from_options(params))
        self.client.create(self.base + "/schedule", self.body(params, parameters))
        state = {"schedule": wanted["schedule"]}
        state.update(self.options_from_parameters(parameters))
        return state

    def update(self, params, current, changes, wanted):
        # PUT replaces the whole schedule: keep the parameters the user did not set
        parameters = self.current_parameters(current)
        parameters.update(self.parameters_from_options(params))
        self.client.update(self.base + "/schedule", self.body(params, parameters))

    def delete(self, params, current):
        # Harbor's purge endpoint checks the parameters even when removing the schedule
        self.client.update(self.base + "/schedule", {"schedule": {"type": "None", "cron": ""},
                                                     "parameters": self.current_parameters(current)})

    # -- the manual run --------------------------------------------------------------------------
    def run_now(self, params, check_mode):
        parameters = dict(self.default_parameters())
        parameters.update(self.parameters_from_options(params))
        if check_mode:
            return {"id": None, "status": "not started (check mode)", "parameters": parameters}, None
        try:
            job_id, _body = self.client.create(self.base + "/schedule",
                                               {"schedule": {"type": "Manual", "cron": ""}, "parameters": parameters})
        except HarborError as exc:
            if exc.status == 409:
                raise InvalidInput("Harbor did not start a %s: another one is still running (%s). Wait for it, or "
                                   "stop it in Harbor, then run again" % (self.noun, exc.message))
            raise
        if not job_id:
            raise InvalidInput("Harbor accepted the %s run but returned no job id (Location header)" % self.noun)
        path = "%s/%s" % (self.base, job_id)
        record, timed_out = wait_for(
            lambda: self.client.get(path),
            lambda rec: (not params["wait"]) or (rec or {}).get("job_status") in FINAL_JOB_STATUSES,
            params["wait_timeout"], params["poll_interval"])
        status = (record or {}).get("job_status")
        log_text = ""
        if status in FINAL_JOB_STATUSES:  # a job that has not started may have no log yet (404)
            try:
                log_text = read_log(self.client, path + "/log")
            except HarborError as exc:
                if exc.status != 404:
                    raise
        summary = self.run_summary(record or {}, log_text, params)
        summary.update(id=job_id, status=status, log_tail=tail(log_text, params["log_lines"]))
        failure = None
        if params["wait"] and timed_out:
            failure = ("%s job %s is still %s after wait_timeout=%ss; it keeps running in Harbor (see %s)"
                       % (self.noun, job_id, summary["status"], params["wait_timeout"], path))
        elif summary["status"] in ("Error", "Stopped"):
            last = summary["log_tail"][-1] if summary["log_tail"] else "no log"
            failure = "%s job %s ended %s: %s" % (self.noun, job_id, summary["status"], last)
        return summary, failure


class ScheduleModule(HarborModule):
    """The engine for the schedule, then the optional manual run."""

    def reconcile(self, params):
        resource = self.resource
        try:
            if params.get("schedule") is None:
                result = dict(changed=False)
            else:
                result = super(ScheduleModule, self).reconcile(params)
            if params["run"]:
                summary, failure = resource.run_now(params, self.module.check_mode)
                result["changed"] = True
                result["run"] = summary
                if failure:
                    self.module.fail_json(msg=failure, **result)
        except HarborError as exc:
            raise with_role_hint(exc, resource.needs)
        return result


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _last_match(pattern, text):
    found = re.findall(pattern, text or "")
    return found[-1] if found else None


# -- garbage collection -----------------------------------------------------------------------------
class GcResource(ScheduleResource):
    kind = "gc"
    base = "/system/gc"
    noun = "garbage collection"
    needs = ("garbage collection needs a Harbor system administrator (or a system robot account with "
             "garbage-collection permissions)")

    def parameter_spec(self):
        return dict(
            delete_untagged=dict(type="bool"),
            workers=dict(type="int"),
            dry_run=dict(type="bool"),
        )

    def validate(self, params):
        if params.get("workers") is not None and not 1 <= params["workers"] <= 10:
            raise InvalidInput("workers must be between 1 and 10 (Harbor's limit), not %s" % params["workers"])
        super(GcResource, self).validate(params)

    def default_parameters(self):
        return {"delete_untagged": False, "dry_run": False, "workers": 1}

    def parameters_from_options(self, params):
        return dict((k, params[k]) for k in ("delete_untagged", "dry_run", "workers") if params.get(k) is not None)

    def options_from_parameters(self, parameters):
        out = {}
        for key in ("delete_untagged", "dry_run"):
            if key in parameters:
                out[key] = bool(parameters[key])
        if "workers" in parameters:
            out["workers"] = _int_or_none(parameters["workers"])
        return out

    def run_summary(self, record, log_text, params):
        """Harbor (2.8+) checks in {"freed_space", "purged_blobs", "purged_manifests"} and they show in
        the run's `job_parameters`; a dry run reports there what it would free. Older Harbor only
        logs "The GC job actual frees up N MB space." (or "could free up" on a dry run)."""
        parameters = job_parameters(record)
        dry_run = bool(parameters.get("dry_run", params.get("dry_run") or False))
        size = _int_or_none(parameters.get("freed_space"))
        blobs = _int_or_none(parameters.get("purged_blobs"))
        manifests = _int_or_none(parameters.get("purged_manifests"))
        if size is None:
            megabytes = _last_match(r"(?:could free up|actual frees up) (\d+) MB" if dry_run else
                                    r"actual frees up (\d+) MB", log_text)
            size = int(megabytes) * 1024 * 1024 if megabytes is not None else None
        if blobs is None:
            counts = _last_match(r"(\d+) blobs and (\d+) manifests " +
                                 ("eligible for deletion" if dry_run else "are actually deleted"), log_text)
            if counts:
                blobs, manifests = int(counts[0]), int(counts[1])
        return {
            "dry_run": dry_run,
            "freed_bytes": 0 if dry_run else size,
            "reclaimable_bytes": size if dry_run else None,
            "blobs": blobs,
            "manifests": manifests,
            "trigger": record.get("job_kind"),
            "creation_time": record.get("creation_time"),
            "update_time": record.get("update_time"),
        }


# -- audit-log purge --------------------------------------------------------------------------------
# Harbor purges only these operations (pkg/audit/dao: permitOps); anything else is silently ignored.
PURGE_OPERATIONS = ["create", "delete", "pull"]
MAX_AUDIT_RETENTION_HOUR = 240000  # Harbor's common.MaxAuditRetentionHour


class PurgeAuditResource(ScheduleResource):
    kind = "purge_audit"
    base = "/system/purgeaudit"
    noun = "audit log purge"
    needs = ("the audit log purge needs a Harbor system administrator (or a system robot account with "
             "purge-audit permissions)")
    unordered = ("include_operations",)

    def parameter_spec(self):
        return dict(
            audit_retention_hour=dict(type="int"),
            include_operations=dict(type="list", elements="str", choices=PURGE_OPERATIONS),
            dry_run=dict(type="bool"),
        )

    def validate(self, params):
        hours = params.get("audit_retention_hour")
        if hours is not None and not 1 <= hours <= MAX_AUDIT_RETENTION_HOUR:
            raise InvalidInput("audit_retention_hour must be between 1 and %d hours (Harbor skips the purge for 0), "
                               "not %s" % (MAX_AUDIT_RETENTION_HOUR, hours))
        if params.get("include_operations") is not None and not params["include_operations"]:
            raise InvalidInput("include_operations must name at least one of %s (an empty list purges nothing)"
                               % ", ".join(PURGE_OPERATIONS))
        super(PurgeAuditResource, self).validate(params)

    def default_parameters(self):
        return {"dry_run": False}

    def required_parameters(self):
        return ("audit_retention_hour", "include_operations")

    def parameters_from_options(self, params):
        out = {}
        if params.get("audit_retention_hour") is not None:
            out["audit_retention_hour"] = params["audit_retention_hour"]
        if params.get("include_operations"):
            out["include_operations"] = ",".join(sorted(set(params["include_operations"])))
        if params.get("dry_run") is not None:
            out["dry_run"] = params["dry_run"]
        return out

    def options_from_parameters(self, parameters):
        out = {}
        if "audit_retention_hour" in parameters:
            out["audit_retention_hour"] = _int_or_none(parameters["audit_retention_hour"])
        if "include_operations" in parameters:
            out["include_operations"] = sorted(set(
                op.strip().lower() for op in str(parameters["include_operations"] or "").split(",") if op.strip()))
        if "dry_run" in parameters:
            out["dry_run"] = bool(parameters["dry_run"])
        return out

    def run_summary(self, record, log_text, params):
        """Harbor's purge job logs "Purged N rows of audit logs" ("[DRYRUN]Purged ..." on a dry run)."""
        parameters = job_parameters(record)
        dry_run = bool(parameters.get("dry_run", params.get("dry_run") or False))
        count = _int_or_none(_last_match(r"Purged (\d+) rows of audit logs", log_text))
        return {
            "dry_run": dry_run,
            "purged": 0 if dry_run else count,
            "purgeable": count if dry_run else None,
            "trigger": record.get("job_kind"),
            "creation_time": record.get("creation_time"),
            "update_time": record.get("update_time"),
        }
