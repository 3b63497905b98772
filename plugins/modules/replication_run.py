#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: replication_run
short_description: Run (or stop) a Harbor replication policy and report the result
version_added: 0.1.0
description:
  - Starts an execution of a replication policy, found by name, waits for it to end, and returns its
    summary (status, task counts, times) with the failed tasks and the last lines of their logs.
  - When the execution fails it can start the policy again, up to O(retry_failed) more times, waiting
    O(retry_delay) seconds in between; every attempt is reported in RV(attempts). Harbor skips artifacts
    that are already at the destination, so a new attempt copies only what is missing.
  - With O(state=stopped), stops the executions of the policy that are still running.
  - Starting a run is an action, not a state. C(changed) is V(true) whenever an execution is started
    (or stopped); a second run of the task starts another execution.
  - The module fails, with the summary in the result, when the last attempt ends C(Failed) or C(Stopped),
    or when O(wait_timeout) expires (the message names the execution id; it keeps running in Harbor).
  - Needs a Harbor system administrator (or a system robot account with replication permissions).
author:
  - registryops.harbor maintainers (@registryops)
extends_documentation_fragment:
  - registryops.harbor.harbor
attributes:
  check_mode:
    support: full
    description: Finds the policy (and, for O(state=stopped), the running executions) and reports what would
      start or stop, without starting or stopping anything.
  diff_mode:
    support: none
    description: A run changes no settings, so there is no diff.
options:
  policy:
    description: Name of the replication policy (see M(registryops.harbor.replication_policy)).
    type: str
    required: true
  state:
    description:
      - V(started) starts an execution of the policy.
      - V(stopped) stops every execution of the policy that has not ended; nothing changes when none runs.
    type: str
    choices: [started, stopped]
    default: started
  wait:
    description:
      - Wait until the execution ends (for O(state=stopped), until the stopped executions have ended).
      - V(false) returns as soon as Harbor has accepted the execution, with its first status.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait for each execution. When it expires the module fails with the execution id.
      - This is not O(timeout), which is the timeout of each HTTP request.
    type: int
    default: 1800
  poll_interval:
    description: Seconds between two status checks while waiting.
    type: float
    default: 5.0
  retry_failed:
    description:
      - How many more times to start the policy when an execution ends C(Failed) (for example while the
        remote registry restarts). Needs O(wait=true). A C(Stopped) execution is not retried.
    type: int
    default: 0
  retry_delay:
    description: Seconds to wait before starting the policy again after a failed execution.
    type: float
    default: 10.0
  log_lines:
    description:
      - How many of the last lines of each failed task's log to return; 0 fetches no logs.
      - Logs are fetched for at most 10 failed tasks.
    type: int
    default: 20
notes:
  - Harbor refuses to run a disabled policy; the module says so before starting anything.
  - A policy with C(single_active_replication) skips a run while another is active; Harbor then reports the
    new execution as C(Stopped) with the reason in C(status_text).
seealso:
  - module: registryops.harbor.replication_policy
  - module: registryops.harbor.registry
  - module: registryops.harbor.info
"""

EXAMPLES = r"""
- name: Promote to production and wait (retry twice if the link flaps)
  registryops.harbor.replication_run:
    api_url: https://harbor-staging.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    policy: staging-to-prod
    retry_failed: 2
    retry_delay: 30
    wait_timeout: 3600
  register: promotion

- name: Show what was copied
  ansible.builtin.debug:
    msg: "{{ promotion.execution.succeed }} of {{ promotion.execution.total }} task(s) copied"

- name: Start a long sync without waiting
  registryops.harbor.replication_run:
    api_url: https://harbor-hq.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    policy: hq-to-sites
    wait: false

- name: Stop it (maintenance window over)
  registryops.harbor.replication_run:
    api_url: https://harbor-hq.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    policy: hq-to-sites
    state: stopped
"""

RETURN = r"""
policy:
  description: The policy name.
  returned: always
  type: str
  sample: staging-to-prod
policy_id:
  description: The policy id.
  returned: always
  type: int
  sample: 3
execution:
  description:
    - Summary of the last execution started; empty in check mode.
  returned: when O(state=started)
  type: dict
  contains:
    id:
      description: Harbor's execution id.
      type: int
    status:
      description: C(InProgress), C(Succeed), C(Failed) or C(Stopped).
      type: str
    status_text:
      description: Harbor's explanation of the status, if any.
      type: str
    trigger:
      description: C(manual).
      type: str
    total:
      description: Tasks in the execution (one per repository and operation).
      type: int
    succeed:
      description: Tasks that succeeded.
      type: int
    failed:
      description: Tasks that failed.
      type: int
    in_progress:
      description: Tasks still pending or running.
      type: int
    stopped:
      description: Tasks stopped.
      type: int
    start_time:
      description: When it started.
      type: str
    end_time:
      description: When it ended.
      type: str
    attempt:
      description: Which attempt this execution was (1 is the first).
      type: int
    failed_tasks:
      description: Failed tasks (at most 10), each with C(id), C(src_resource), C(dst_resource), C(operation),
        C(resource_type), C(start_time), C(end_time) and C(log_tail), the last O(log_lines) lines of its log.
      type: list
      elements: dict
  sample:
    id: 41
    policy: staging-to-prod
    policy_id: 3
    status: Failed
    status_text: "1 of 2 task(s) failed"
    trigger: manual
    total: 2
    succeed: 1
    failed: 1
    in_progress: 0
    stopped: 0
    start_time: "2024-04-09T02:30:00.000Z"
    end_time: "2024-04-09T02:31:10.000Z"
    attempt: 1
    failed_tasks:
      - id: 90
        src_resource: "payments/api [1 item(s) in total]"
        dst_resource: "payments/api [1 item(s) in total]"
        operation: copy
        resource_type: image
        log_tail:
          - "2024-04-09T02:31:10Z [ERROR] pull manifest failed: connection refused"
attempts:
  description: The summary of every execution started by this task, in order (same keys as RV(execution)).
  returned: when O(state=started)
  type: list
  elements: dict
stopped:
  description: The executions that were (or, in check mode, would be) stopped (same keys as RV(execution)).
  returned: when O(state=stopped)
  type: list
  elements: dict
msg:
  description: What happened, in words.
  returned: when O(state=stopped) or in check mode
  type: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.client import (
    HAS_URLLIB3,
    URLLIB3_IMPORT_ERROR,
    HarborError,
)
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import (
    InvalidInput,
    client_from_params,
    explain,
    harbor_argument_spec,
)
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.replication_run import (
    ReplicationRunner,
    RunFailed,
    argument_spec,
    validate,
)


def main():
    spec = harbor_argument_spec()
    spec.update(argument_spec())
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    if not HAS_URLLIB3:
        module.fail_json(msg=missing_required_lib("urllib3"), exception=str(URLLIB3_IMPORT_ERROR))
    try:
        validate(module.params)
    except InvalidInput as exc:
        module.fail_json(msg=str(exc))
    client = client_from_params(module.params)
    try:
        result = ReplicationRunner(client, module.params, module.check_mode).run()
    except RunFailed as exc:
        module.fail_json(msg=str(exc), **exc.result)
    except InvalidInput as exc:
        module.fail_json(msg=str(exc))
    except HarborError as exc:
        module.fail_json(msg=explain(exc), status=exc.status, harbor_code=exc.code, request_id=exc.request_id)
    finally:
        client.close()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
