#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: replication_policy
short_description: Manage Harbor replication policies
version_added: 0.1.0
description:
  - Create, update and delete replication policies that push local artifacts to a registry endpoint or
    pull artifacts from one.
  - Harbor's API reads the deprecated C(deletion) field and ignores C(replicate_deletion) on writes, while it
    reports both on reads. The module sends O(replicate_deletion) the way Harbor reads it and compares it the
    way Harbor reports it, so it never shows a perpetual difference.
  - Only event-based policies replicate deletions. Events that happen while the remote side is down are
    not replayed by Harbor; pair an event-based policy with a scheduled one to catch up.
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
    description: Shows the policy before and after.
options:
  name:
    description: Name of the policy.
    type: str
    required: true
  state:
    description: V(present) creates or updates the policy; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  description:
    description: Free text.
    type: str
  direction:
    description: V(push) copies local artifacts to O(registry); V(pull) copies from O(registry) into this Harbor.
    type: str
    choices: [push, pull]
  registry:
    description: Name of the registry endpoint on the other side (see M(registryops.harbor.registry)).
    type: str
  filters:
    description: Which artifacts to replicate. Patterns use Harbor's syntax (C(*), C(**), C(?), C({a,b})).
    type: dict
    suboptions:
      name:
        description: Repository name pattern, for example C(library/**).
        type: str
      tag:
        description: Tag pattern.
        type: str
      tag_decoration:
        description: Whether O(filters.tag) selects or excludes.
        type: str
        choices: [matches, excludes]
        default: matches
      labels:
        description: Labels.
        type: list
        elements: str
      label_decoration:
        description: Whether O(filters.labels) select or exclude.
        type: str
        choices: [matches, excludes]
        default: matches
      resource:
        description: Kind of artifact.
        type: str
        choices: [image, artifact]
  trigger:
    description: When the policy runs. V(event_based) runs on every push and delete (push policies only).
    type: str
    choices: [manual, scheduled, event_based]
  cron:
    description:
      - Schedule for O(trigger=scheduled), 6 fields with seconds first, for example C(0 0 2 * * *).
      - Seconds must be 0 and minutes cannot be C(*); checked before any call.
    type: str
  dest_namespace:
    description: Namespace (project) at the destination; empty keeps the source's.
    type: str
  dest_namespace_replace_count:
    description:
      - How many leading levels of the repository path O(dest_namespace) replaces. V(-1) replaces them all
        (flattens into O(dest_namespace)), V(0) prefixes, V(1) to V(3) replace that many levels.
      - Harbor uses V(-1) when a policy is created without it.
    type: int
  replicate_deletion:
    description: Replicate deletions too (only event-based policies do).
    type: bool
  override:
    description: Overwrite artifacts at the destination that already exist with another digest.
    type: bool
  enabled:
    description: Whether the policy is active.
    type: bool
  speed_kb:
    description: Bandwidth limit in KB/s; V(-1) or V(0) means no limit.
    type: int
  copy_by_chunk:
    description: Copy blobs in chunks.
    type: bool
  single_active:
    description: Never run two executions of this policy at once. Not allowed with O(trigger=event_based).
    type: bool
"""

EXAMPLES = r"""
- name: Push releases to production as they are pushed, deletions included
  registryops.harbor.replication_policy:
    api_url: https://harbor-staging.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    name: to-prod-events
    direction: push
    registry: prod
    filters:
      name: "apps/**"
      tag: "v*"
    trigger: event_based
    replicate_deletion: true

- name: Nightly catch-up of what events missed
  registryops.harbor.replication_policy:
    api_url: https://harbor-staging.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    name: to-prod-nightly
    direction: push
    registry: prod
    filters:
      name: "apps/**"
    trigger: scheduled
    cron: "0 30 2 * * *"
"""

RETURN = r"""
policy:
  description: The policy after the run in the module's option names (empty when deleted).
  returned: always
  type: dict
  sample:
    name: to-prod-events
    direction: push
    registry: prod
    filters: {name: "apps/**", tag: "v*", tag_decoration: matches}
    trigger: event_based
    replicate_deletion: true
    dest_namespace_replace_count: -1
"""

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import HarborModule
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.replication_policy import (
    ReplicationPolicyResource,
)


def main():
    HarborModule(ReplicationPolicyResource()).run()


if __name__ == "__main__":
    main()
