#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: config
short_description: Manage Harbor's system configuration
version_added: 0.1.0
description:
  - Sets Harbor configuration keys (authentication, project creation, robot token duration, audit log
    forwarding, read-only mode and any other key of C(/api/v2.0/configurations)).
  - Only the keys you give are compared, changed and shown in the diff.
  - Secrets (C(ldap_search_password), C(oidc_client_secret), C(uaa_client_secret), C(email_password)) are
    never returned by Harbor, so they are passed in O(secrets) and handled as write-only, see O(update_secrets).
  - O(read_only=true) puts the registry in maintenance mode (pulls work, pushes and deletions are refused).
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
    description: Shows the given keys before and after; secrets are masked.
options:
  settings:
    description:
      - Configuration keys and their values, for example C(project_creation_restriction), C(robot_token_duration),
        C(auth_mode), C(ldap_url), C(oidc_endpoint), C(audit_log_forward_endpoint).
      - Harbor checks types; an unknown key fails before anything is written.
    type: dict
    default: {}
  secrets:
    description:
      - Write-only secret keys; only C(ldap_search_password), C(oidc_client_secret), C(uaa_client_secret) and C(email_password).
    type: dict
  read_only:
    description: Maintenance mode. The same as C(settings.read_only).
    type: bool
  update_secrets:
    description:
      - V(on_change) sends O(secrets) only together with a change of a key in O(settings), for example when an
        LDAP or OIDC set-up is first applied, so reruns stay idempotent.
      - V(always) sends them on every run and reports a change, for rotating a secret.
    type: str
    choices: [on_change, always]
    default: on_change
"""

EXAMPLES = r"""
- name: Only administrators create projects; robot tokens last 90 days
  registryops.harbor.config:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    settings:
      project_creation_restriction: adminonly
      robot_token_duration: 90

- name: OIDC sign-in, with its client secret
  registryops.harbor.config:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    settings:
      auth_mode: oidc_auth
      oidc_name: corp-sso
      oidc_endpoint: https://sso.example.com
      oidc_client_id: harbor
      oidc_scope: openid,profile,email
    secrets:
      oidc_client_secret: "{{ vault_oidc_client_secret }}"

- name: Maintenance mode on
  registryops.harbor.config:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    read_only: true
"""

RETURN = r"""
config:
  description: The given keys after the run (secrets are never returned).
  returned: always
  type: dict
  sample:
    project_creation_restriction: adminonly
    robot_token_duration: 90
"""

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.config import ConfigResource
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import HarborModule


def main():
    HarborModule(ConfigResource()).run()


if __name__ == "__main__":
    main()
