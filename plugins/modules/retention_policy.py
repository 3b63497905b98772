#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: retention_policy
short_description: Manage the tag retention policy of a Harbor project
version_added: 0.1.0
description:
  - Sets the rules that decide which artifacts of a project Harbor retains when its retention job runs, and
    when that job runs.
  - Harbor keeps one retention policy per project. The module creates it when the project has none
    (C(POST /retentions)) and updates it afterwards (C(PUT /retentions/{id})).
  - O(rules) is the complete list of the policy's rules; rules are compared without regard to order.
  - O(state=absent) removes every rule and the schedule with a C(PUT), as Harbor's own UI does. The module
    never calls C(DELETE /retentions/{id}), which leaves the project pointing at a policy that no longer
    exists; if a project is in that state, the module clears the stale C(retention_id) before creating a
    new policy.
  - Templates, parameters, the number of rules and the cron schedule are checked before any call.
author:
  - registryops.harbor maintainers (@registryops)
extends_documentation_fragment:
  - registryops.harbor.harbor
attributes:
  check_mode:
    support: full
    description: In check mode nothing is written to Harbor.
  diff_mode:
    support: full
    description: Shows the rules and the schedule before and after.
options:
  project:
    description: Name of the project.
    type: str
    required: true
  state:
    description:
      - V(present) sets the policy to O(rules) (and O(schedule) when given); V(absent) removes every rule and the
        schedule.
    type: str
    choices: [present, absent]
    default: present
  rules:
    description:
      - The rules of the policy, at most 15; required with O(state=present). An artifact is retained when any
        enabled rule retains it.
    type: list
    elements: dict
    suboptions:
      template:
        description:
          - What the rule retains. V(always) every artifact; V(latestPushedK) the K most recently pushed;
            V(latestPulledN) the N most recently pulled; V(nDaysSinceLastPush) those pushed within the last N
            days; V(nDaysSinceLastPull) those pulled within the last N days.
        type: str
        required: true
        choices: [always, latestPushedK, latestPulledN, nDaysSinceLastPush, nDaysSinceLastPull]
      params:
        description:
          - >-
            The template's parameter, named like the template, as a whole number, for example
            C({latestPushedK: 10}) or C({nDaysSinceLastPull: 30}). V(always) takes none.
        type: dict
        default: {}
      repositories:
        description: Which repositories of the project the rule applies to.
        type: dict
        suboptions:
          decoration:
            description: Whether the rule applies to the repositories matching O(rules[].repositories.pattern) or to all others.
            type: str
            choices: [matching, excluding]
            default: matching
          pattern:
            description: A doublestar pattern of repository names without the project, e.g. C(app/**) or C({web,api}).
            type: str
            default: "**"
      tags:
        description: Which tags the rule looks at.
        type: dict
        suboptions:
          decoration:
            description: Whether the rule applies to the tags matching O(rules[].tags.pattern) or to all others.
            type: str
            choices: [matching, excluding]
            default: matching
          pattern:
            description: A doublestar pattern of tags, e.g. C(release-*).
            type: str
            default: "**"
          untagged:
            description: Whether untagged artifacts are included (Harbor's UI default).
            type: bool
            default: true
      disabled:
        description: Keep the rule but do not apply it.
        type: bool
        default: false
  schedule:
    description:
      - When the retention job runs. V(none) only manually; V(hourly), V(daily), V(weekly) Harbor's presets; or a
        6-field cron (seconds minutes hours day-of-month month day-of-week) whose seconds are 0 and minutes not C(*),
        e.g. C(0 30 2 * * *).
      - When omitted, an existing schedule is kept; a new policy has none.
    type: str
"""

EXAMPLES = r"""
- name: Keep the last 10 pushed release tags, and everything pulled in the last 30 days
  registryops.harbor.retention_policy:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    project: payments
    schedule: daily
    rules:
      - template: latestPushedK
        params: {latestPushedK: 10}
        tags: {pattern: "release-*", untagged: false}
      - template: nDaysSinceLastPull
        params: {nDaysSinceLastPull: 30}
        repositories: {decoration: excluding, pattern: "sandbox/**"}

- name: Remove every retention rule of a project
  registryops.harbor.retention_policy:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    project: payments
    state: absent
"""

RETURN = r"""
retention_policy:
  description: The policy after the run (empty when its rules were removed).
  returned: always
  type: dict
  sample:
    project: payments
    id: 3
    schedule: "0 0 0 * * *"
    rules:
      - template: latestPushedK
        params: {latestPushedK: 10}
        repositories: {decoration: matching, pattern: "**"}
        tags: {decoration: matching, pattern: "release-*", untagged: false}
        disabled: false
"""

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import HarborModule
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.retention import RetentionResource


def main():
    HarborModule(RetentionResource()).run()


if __name__ == "__main__":
    main()
