# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replication runs: start a policy's execution, wait, retry, summarise; stop running ones.

An action, not state, so it does not go through the reconcile engine's create/update loop.
Harbor's API (see DESIGN.md):
- POST /replication/executions {"policy_id": N} -> 201, id in Location;
- GET /replication/executions/{id}: status InProgress|Succeed|Failed|Stopped with task counts
  total/succeed/failed/in_progress/stopped;
- GET .../{id}/tasks (status, resource_type filters) and .../{id}/tasks/{task_id}/log (text/plain);
- PUT /replication/executions/{id} stops it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.client import HarborError
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import InvalidInput
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.schedule import (
    read_log,
    tail,
    wait_for,
    with_role_hint,
)

FINAL = ("Succeed", "Failed", "Stopped")
COUNTS = ("total", "succeed", "failed", "in_progress", "stopped")
TASK_FIELDS = ("id", "status", "operation", "resource_type", "src_resource", "dst_resource", "start_time", "end_time")
MAX_TASK_LOGS = 10  # failed tasks whose log tails are fetched (an execution can have thousands)
NEEDS = ("replication runs need a Harbor system administrator (or a system robot account with replication "
         "permissions)")


def argument_spec():
    return dict(
        policy=dict(type="str", required=True),
        state=dict(type="str", default="started", choices=["started", "stopped"]),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
        poll_interval=dict(type="float", default=5.0),
        retry_failed=dict(type="int", default=0),
        retry_delay=dict(type="float", default=10.0),
        log_lines=dict(type="int", default=20),
    )


def validate(params):
    """Raise InvalidInput before any HTTP call."""
    if not (params.get("policy") or "").strip():
        raise InvalidInput("policy must be the name of a replication policy")
    if params["wait_timeout"] <= 0:
        raise InvalidInput("wait_timeout must be a positive number of seconds, not %s" % params["wait_timeout"])
    if params["poll_interval"] <= 0:
        raise InvalidInput("poll_interval must be a positive number of seconds, not %s" % params["poll_interval"])
    if params["retry_failed"] < 0:
        raise InvalidInput("retry_failed must be 0 or more, not %s" % params["retry_failed"])
    if params["retry_delay"] < 0:
        raise InvalidInput("retry_delay must be 0 or more seconds, not %s" % params["retry_delay"])
    if params["log_lines"] < 0:
        raise InvalidInput("log_lines must be 0 or more, not %s" % params["log_lines"])
    if params["retry_failed"] and not params["wait"]:
        raise InvalidInput("retry_failed needs wait: true (a failed run can only be retried after it ended)")


class RunFailed(Exception):
    """The run ended badly; `result` carries the summary for the module's failure."""

    def __init__(self, msg, result):
        super(RunFailed, self).__init__(msg)
        self.result = result


class ReplicationRunner(object):
    def __init__(self, client, params, check_mode, sleep=time.sleep):
        self.client = client
        self.params = params
        self.check_mode = check_mode
        self.sleep = sleep

    def run(self):
        try:
            policy = self.find_policy(self.params["policy"])
            if self.params["state"] == "stopped":
                return self.stop(policy)
            return self.start(policy)
        except HarborError as exc:
            raise with_role_hint(exc, NEEDS)

    # -- lookups ----------------------------------------------------------------------------
    def find_policy(self, name):
        # `q=name=X` is an exact match in Harbor; the client-side check guards older versions' fuzzy `name`
        candidates = self.client.list("/replication/policies", params={"q": "name=%s" % name})
        for policy in candidates:
            if policy.get("name") == name:
                return policy
        raise InvalidInput("replication policy %r not found in Harbor" % name)

    def execution(self, execution_id):
        return self.client.get("/replication/executions/%s" % execution_id) or {}

    def running_executions(self, policy):
        executions = self.client.list("/replication/executions", params={"policy_id": policy["id"]})
        return [e for e in executions if e.get("status") not in FINAL]

    def failed_tasks(self, execution):
        path = "/replication/executions/%s/tasks" % execution["id"]
        tasks = [t for t in self.client.list(path, params={"status": "Failed"}) if t.get("status") == "Failed"]
        if not tasks and execution.get("failed"):
            # a Harbor that does not filter by the API's status name: filter here
            tasks = [t for t in self.client.list(path) if t.get("status") == "Failed"]
        out = []
        for task in tasks[:MAX_TASK_LOGS]:
            entry = dict((k, task.get(k)) for k in TASK_FIELDS)
            if self.params["log_lines"]:
                try:
                    text = read_log(self.client, "%s/%s/log" % (path, task["id"]))
                except HarborError as exc:
                    text = "(log not available: %s)" % exc.describe()
                entry["log_tail"] = tail(text, self.params["log_lines"])
            out.append(entry)
        return out

    # -- summaries ----------------------------------------------------------------------------
    def summary(self, execution, policy, attempt=None):
        out = {
            "id": execution.get("id"),
            "policy": policy["name"],
            "policy_id": policy["id"],
            "status": execution.get("status"),
            "status_text": execution.get("status_text") or "",
            "trigger": execution.get("trigger"),
            "start_time": execution.get("start_time"),
            "end_time": execution.get("end_time"),
        }
        for key in COUNTS:
            out[key] = execution.get(key, 0)
        if attempt is not None:
            out["attempt"] = attempt
        if execution.get("status") == "Failed" or execution.get("failed"):
            out["failed_tasks"] = self.failed_tasks(execution)
        else:
            out["failed_tasks"] = []
        return out

    # -- start ---------------------------------------------------------------------------------
    def start(self, policy):
        params = self.params
        if not policy.get("enabled"):
            raise InvalidInput("replication policy %r is disabled; Harbor does not run a disabled policy "
                               "(enable it with registryops.harbor.replication_policy enabled: true)" % policy["name"])
        if self.check_mode:
            return dict(changed=True, policy=policy["name"], policy_id=policy["id"],
                        msg="would start an execution of replication policy %s (check mode)" % policy["name"],
                        execution={}, attempts=[])
        attempts = []
        max_attempts = 1 + params["retry_failed"]
        for attempt in range(1, max_attempts + 1):
            execution_id = self.start_one(policy)
            execution, timed_out = wait_for(
                lambda: self.execution(execution_id),
                lambda e: (not params["wait"]) or e.get("status") in FINAL,
                params["wait_timeout"], params["poll_interval"], sleep=self.sleep)
            execution.setdefault("id", execution_id)
            summary = self.summary(execution, policy, attempt)
            attempts.append(summary)
            result = dict(changed=True, policy=policy["name"], policy_id=policy["id"], execution=summary,
                          attempts=attempts)
            if not params["wait"]:
                return result
            if timed_out:
                raise RunFailed("execution %s of replication policy %s is still %s after wait_timeout=%ss "
                                "(%s of %s task(s) done); it keeps running in Harbor: wait longer, or stop it with "
                                "state: stopped" % (execution_id, policy["name"], summary["status"],
                                                    params["wait_timeout"], summary["succeed"] + summary["failed"],
                                                    summary["total"]), result)
            if summary["status"] == "Succeed":
                return result
            if summary["status"] == "Stopped":
                raise RunFailed("execution %s of replication policy %s was stopped%s" % (
                    execution_id, policy["name"],
                    ": " + summary["status_text"] if summary["status_text"] else ""), result)
            if attempt < max_attempts:
                self.sleep(params["retry_delay"])
        raise RunFailed("replication policy %s failed after %d attempt(s): execution %s ended Failed, %d of %d "
                        "task(s) failed%s" % (policy["name"], len(attempts), summary["id"], summary["failed"],
                                              summary["total"], first_error(summary)), result)

    def start_one(self, policy):
        try:
            execution_id, _body = self.client.create("/replication/executions", {"policy_id": policy["id"]})
        except HarborError as exc:
            if exc.status == 412:
                raise InvalidInput("Harbor refused to start replication policy %s: %s" % (policy["name"], exc.message))
            raise
        if not execution_id:
            raise InvalidInput("Harbor accepted the execution of %s but returned no id (Location header)"
                               % policy["name"])
        return execution_id

    # -- stop ------------------------------------------------------------------------------------
    def stop(self, policy):
        params = self.params
        running = self.running_executions(policy)
        if not running:
            return dict(changed=False, policy=policy["name"], policy_id=policy["id"], stopped=[],
                        msg="no execution of replication policy %s is running" % policy["name"])
        if self.check_mode:
            return dict(changed=True, policy=policy["name"], policy_id=policy["id"],
                        stopped=[self.summary(e, policy) for e in running],
                        msg="would stop %d execution(s) (check mode)" % len(running))
        for execution in running:
            self.client.update("/replication/executions/%s" % execution["id"], None)
        stopped = []
        for execution in running:
            current = execution
            if params["wait"]:
                current, _timed_out = wait_for(lambda: self.execution(execution["id"]),
                                               lambda e: e.get("status") in FINAL,
                                               params["wait_timeout"], params["poll_interval"], sleep=self.sleep)
            stopped.append(self.summary(current, policy))
        return dict(changed=True, policy=policy["name"], policy_id=policy["id"], stopped=stopped,
                    msg="stopped %d execution(s)" % len(stopped))


def first_error(summary):
    for task in summary.get("failed_tasks") or []:
        lines = task.get("log_tail") or []
        errors = [line for line in lines if "ERROR" in line] or lines
        if errors:
            return "; first failed task %s (%s): %s" % (task.get("id"), task.get("src_resource"), errors[-1])
    return ""
