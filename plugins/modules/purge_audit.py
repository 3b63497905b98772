#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: purge_audit
short_description: Schedule and run the purge of Harbor's audit log
version_added: 0.1.0
description:
  - Sets when Harbor purges old audit log entries (none, hourly, daily, weekly or a cron) and which ones
    (older than O(audit_retention_hour), of the operations in O(include_operations)), and/or purges now.
  - The schedule is state; only the options you set are compared, a rerun with the same options changes
    nothing. A purge run (O(run=true)) is an action and always reports C(changed).
  - Needs a Harbor system administrator (or a system robot account allowed to purge the audit log).
author:
  - registryops.harbor maintainers (@registryops)
extends_documentation_fragment:
  - registryops.harbor.harbor
attributes:
  check_mode:
    support: full
    description: Nothing is written and nothing is purged; the result says what would change or start.
  diff_mode:
    support: full
    description: Shows the schedule and its parameters before and after.
options:
  schedule:
    description:
      - When the purge runs on its own.
      - V(none) removes the schedule; V(hourly), V(daily) (00:00) and V(weekly) (Sunday 00:00) are Harbor's
        presets.
      - Anything else is a Harbor cron of 6 fields (second minute hour day-of-month month day-of-week) whose
        first field (seconds) must be C(0), for example C(0 0 3 * * *). It is checked before anything is sent.
      - When not set, the schedule is left as it is (use this for O(run=true) alone).
    type: str
  audit_retention_hour:
    description:
      - Entries older than this many hours are purged, 1 to 240000 (Harbor's limit). For example 720 keeps 30 days.
      - Required to create a schedule and for O(run=true); an existing schedule keeps its value when not set.
    type: int
  include_operations:
    description:
      - Which operations' entries are purged. Harbor purges only V(create), V(delete) and V(pull) entries.
      - Required to create a schedule and for O(run=true); an existing schedule keeps its value when not set.
      - The order does not matter.
    type: list
    elements: str
    choices: [create, delete, pull]
  dry_run:
    description:
      - Only count the entries that would be purged.
      - Applies to the schedule's runs and to O(run=true).
    type: bool
  run:
    description:
      - Purge now (Harbor's C(Manual) schedule type) with O(audit_retention_hour), O(include_operations) and
        O(dry_run); the schedule's parameters are not used.
    type: bool
    default: false
  wait:
    description: With O(run=true), wait until the purge ends and report its result.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait for the run; when it expires the module fails with the job id.
      - This is not O(timeout), which is the timeout of each HTTP request.
    type: int
    default: 600
  poll_interval:
    description: Seconds between two status checks while waiting.
    type: float
    default: 2.0
  log_lines:
    description: How many of the last lines of the run's log to return in RV(run.log_tail); 0 for none.
    type: int
    default: 20
seealso:
  - module: registryops.harbor.gc
  - module: registryops.harbor.config
"""

EXAMPLES = r"""
- name: Every night at 03:00, purge create/delete/pull entries older than 90 days
  registryops.harbor.purge_audit:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    schedule: "0 0 3 * * *"
    audit_retention_hour: 2160
    include_operations: [create, delete, pull]

- name: How many pull entries older than a week would go?
  registryops.harbor.purge_audit:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    run: true
    dry_run: true
    audit_retention_hour: 168
    include_operations: [pull]
  register: preview

- name: Stop purging on a schedule
  registryops.harbor.purge_audit:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    schedule: none
"""

RETURN = r"""
purge_audit:
  description:
    - The schedule after the run; empty when there is none.
    - C(schedule) is V(hourly), V(daily) or V(weekly) when Harbor has exactly that preset, otherwise the cron.
  returned: when O(schedule) is set
  type: dict
  sample:
    schedule: "0 0 3 * * *"
    audit_retention_hour: 2160
    include_operations: [create, delete, pull]
    dry_run: false
run:
  description: The purge started by O(run=true).
  returned: when O(run=true)
  type: dict
  contains:
    id:
      description: Harbor's id of the run (C(/system/purgeaudit/{id})); null in check mode.
      type: int
    status:
      description: C(Pending), C(Running), C(Success), C(Error) or C(Stopped); C(not started (check mode)) in check mode.
      type: str
    dry_run:
      description: Whether it was a dry run.
      type: bool
    purged:
      description: Entries purged, read from the run's log; 0 for a dry run; null when Harbor did not log it.
      type: int
    purgeable:
      description: For a dry run, the entries a real run would purge; null otherwise.
      type: int
    log_tail:
      description: The last O(log_lines) lines of the run's log.
      type: list
      elements: str
    parameters:
      description: In check mode, the parameters the run would get.
      type: dict
  sample:
    id: 3
    status: Success
    dry_run: false
    purged: 1520
    purgeable: null
    log_tail:
      - "2024-04-09T03:00:01Z [INFO] [...] Purged 1520 rows of audit logs"
"""

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.schedule import (
    PurgeAuditResource,
    ScheduleModule,
)


def main():
    ScheduleModule(PurgeAuditResource()).run()


if __name__ == "__main__":
    main()
