#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: webhook
short_description: Manage the webhook policies of a Harbor project
version_added: 0.1.0
description:
  - Create, update and delete a project's webhook (notification) policy, found by its name in the project.
  - O(event_types) are checked against the event types the project's Harbor supports
    (C(GET /projects/{project}/webhook/events)) before any change.
  - O(targets) is the complete list of the policy's targets; a target's O(targets[].auth_header) is compared
    but only ever shown masked. Targets and event types are compared without regard to order.
  - Only the options you set are compared.
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
    description: Shows the policy before and after; authentication headers are masked.
options:
  project:
    description: Name of the project.
    type: str
    required: true
  name:
    description: Name of the policy, unique in the project; at most 256 characters.
    type: str
    required: true
  state:
    description: V(present) creates or updates the policy; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  description:
    description: A description of the policy.
    type: str
  enabled:
    description: Whether Harbor sends the notifications. A new policy is enabled unless this is V(false).
    type: bool
  event_types:
    description:
      - The events that trigger a notification, e.g. C(PUSH_ARTIFACT), C(PULL_ARTIFACT), C(DELETE_ARTIFACT),
        C(SCANNING_COMPLETED), C(SCANNING_FAILED), C(QUOTA_EXCEED), C(QUOTA_WARNING), C(REPLICATION),
        C(TAG_RETENTION). Required to create a policy.
    type: list
    elements: str
  targets:
    description: Where notifications go; required to create a policy.
    type: list
    elements: dict
    suboptions:
      address:
        description: The endpoint URL; C(http://) is assumed when no scheme is given.
        type: str
        required: true
      type:
        description: V(http) for a JSON POST, V(slack) or V(teams) for their incoming webhooks.
        type: str
        choices: [http, slack, teams]
        default: http
      auth_header:
        description:
          - The value of the C(Authorization) header sent with each notification, e.g. C(Bearer TOKEN). Omitted, the
            target has none.
        type: str
      skip_cert_verify:
        description: Do not verify the endpoint's TLS certificate.
        type: bool
        default: false
      payload_format:
        description: V(CloudEvents) (type V(http) only) or Harbor's V(Default) payload.
        type: str
        choices: [Default, CloudEvents]
        default: Default
"""

EXAMPLES = r"""
- name: Tell the deploy service about pushes and scans
  registryops.harbor.webhook:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    project: payments
    name: deployer
    event_types: [PUSH_ARTIFACT, SCANNING_COMPLETED]
    targets:
      - address: https://deploy.example.com/hooks/harbor
        auth_header: "Bearer {{ vault_deploy_hook_token }}"
        payload_format: CloudEvents

- name: Pause a webhook
  registryops.harbor.webhook:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    project: payments
    name: deployer
    enabled: false

- name: Remove a webhook
  registryops.harbor.webhook:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    project: payments
    name: deployer
    state: absent
"""

RETURN = r"""
webhook:
  description: The policy after the run (empty when deleted); an authentication header shows as C(********).
  returned: always
  type: dict
  sample:
    id: 2
    project: payments
    name: deployer
    description: ""
    enabled: true
    event_types: [PUSH_ARTIFACT, SCANNING_COMPLETED]
    targets:
      - type: http
        address: https://deploy.example.com/hooks/harbor
        auth_header: "********"
        skip_cert_verify: false
        payload_format: CloudEvents
"""

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import HarborModule
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.webhook import WebhookResource


def main():
    HarborModule(WebhookResource()).run()


if __name__ == "__main__":
    main()
