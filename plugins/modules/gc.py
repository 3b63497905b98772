#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gc
short_description: Schedule and run Harbor's garbage collection
version_added: 0.1.0
description:
  - Sets the garbage collection schedule of a Harbor (none, hourly, daily, weekly or a cron) and its
    parameters, and/or runs a garbage collection now, waits for it and reports the space it freed.
  - Deleting images or tags in Harbor frees no storage by itself; garbage collection removes the blobs
    no manifest references any more. Run it in a maintenance window after a clean-up.
  - The schedule is state; only the options you set are compared, a rerun with the same options changes
    nothing. A run (O(run=true)) is an action and always reports C(changed).
  - Needs a Harbor system administrator (or a system robot account allowed to manage garbage collection).
author:
  - registryops.harbor maintainers (@registryops)
extends_documentation_fragment:
  - registryops.harbor.harbor
attributes:
  check_mode:
    support: full
    description: Nothing is written and no run is started; the result says what would change or start.
  diff_mode:
    support: full
    description: Shows the schedule and its parameters before and after.
options:
  schedule:
    description:
      - When garbage collection runs on its own.
      - V(none) removes the schedule; V(hourly), V(daily) (00:00) and V(weekly) (Sunday 00:00) are Harbor's
        presets (times are the Harbor server's, normally UTC).
      - Anything else is a Harbor cron of 6 fields (second minute hour day-of-month month day-of-week) whose
        first field (seconds) must be C(0), for example C(0 30 2 * * 6) for Saturdays at 02:30.
        It is checked before anything is sent.
      - When not set, the schedule is left as it is (use this for O(run=true) alone).
    type: str
  delete_untagged:
    description:
      - Also delete untagged artifacts (manifests no tag points to) before collecting.
      - Applies to the schedule's runs and to O(run=true). Harbor's default is V(false).
    type: bool
  workers:
    description:
      - How many workers delete blobs in parallel, 1 to 10. Harbor's default is 1.
    type: int
  dry_run:
    description:
      - Only report what would be deleted and freed, delete nothing.
      - Applies to the schedule's runs and to O(run=true); to preview a collection run the module with
        O(run=true) and O(dry_run=true) and without O(schedule).
    type: bool
  run:
    description:
      - Start a garbage collection now (Harbor's C(Manual) schedule type) with O(delete_untagged),
        O(workers) and O(dry_run) (defaults V(false), 1, V(false) where not set; the schedule's parameters
        are not used).
      - Harbor runs one collection at a time; if one is running the module fails and says so.
    type: bool
    default: false
  wait:
    description:
      - With O(run=true), wait until the collection ends and report its result.
      - V(false) returns as soon as Harbor has accepted the run.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait for the run. When it expires the module fails with the job id;
        the collection keeps running in Harbor.
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
notes:
  - Harbor (2.1 and later) collects without blocking pushes and keeps blobs uploaded in the last two hours,
    so a collection right after a deletion may free less than expected.
  - The bytes freed come from the run's record in Harbor (C(freed_space), Harbor 2.8 and later); older
    versions only log megabytes, which are then converted.
seealso:
  - module: registryops.harbor.purge_audit
  - name: Harbor garbage collection
    description: Harbor's documentation of garbage collection.
    link: https://goharbor.io/docs/main/administration/garbage-collection/
"""

EXAMPLES = r"""
- name: Collect garbage every Saturday at 02:30, untagged artifacts included, with 4 workers
  registryops.harbor.gc:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    schedule: "0 30 2 * * 6"
    delete_untagged: true
    workers: 4

- name: Preview what a collection would free
  registryops.harbor.gc:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    run: true
    dry_run: true
  register: preview

- name: Reclaim the space now (maintenance window), waiting up to 30 minutes
  registryops.harbor.gc:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    run: true
    delete_untagged: true
    wait_timeout: 1800
  register: collected

- name: Report it
  ansible.builtin.debug:
    msg: "GC {{ collected.run.id }} freed {{ collected.run.freed_bytes | human_readable }}"

- name: No scheduled garbage collection
  registryops.harbor.gc:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    schedule: none
"""

RETURN = r"""
gc:
  description:
    - The schedule after the run; empty when there is none.
    - C(schedule) is V(hourly), V(daily) or V(weekly) when Harbor has exactly that preset, otherwise the cron.
  returned: when O(schedule) is set
  type: dict
  sample:
    schedule: "0 30 2 * * 6"
    delete_untagged: true
    dry_run: false
    workers: 4
run:
  description: The garbage collection started by O(run=true).
  returned: when O(run=true)
  type: dict
  contains:
    id:
      description: Harbor's id of the run (C(/system/gc/{id})); null in check mode.
      type: int
    status:
      description: C(Pending), C(Running), C(Success), C(Error) or C(Stopped); C(not started (check mode)) in check mode.
      type: str
    dry_run:
      description: Whether it was a dry run.
      type: bool
    freed_bytes:
      description: Bytes freed; 0 for a dry run; null while the run is not finished.
      type: int
    reclaimable_bytes:
      description: For a dry run, the bytes a real run would free (Harbor's estimate); null otherwise.
      type: int
    blobs:
      description: Blobs deleted (for a dry run, eligible for deletion), when Harbor reports it.
      type: int
    manifests:
      description: Manifests deleted (for a dry run, eligible for deletion), when Harbor reports it.
      type: int
    log_tail:
      description: The last O(log_lines) lines of the run's log.
      type: list
      elements: str
    trigger:
      description: C(MANUAL).
      type: str
    parameters:
      description: In check mode, the parameters the run would get.
      type: dict
  sample:
    id: 12
    status: Success
    dry_run: false
    freed_bytes: 35651584
    reclaimable_bytes: null
    blobs: 7
    manifests: 1
    trigger: MANUAL
    log_tail:
      - "2024-04-09T02:36:10Z [INFO] [...] 7 blobs and 1 manifests are actually deleted"
      - "2024-04-09T02:36:10Z [INFO] [...] The GC job actual frees up 34 MB space."
"""

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.schedule import GcResource, ScheduleModule


def main():
    ScheduleModule(GcResource()).run()


if __name__ == "__main__":
    main()
