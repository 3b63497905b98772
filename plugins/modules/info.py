#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: info
short_description: Read facts from Harbor
version_added: 0.1.0
description:
  - Reads system information and any of projects, users, project members, registry endpoints, replication
    policies, replication executions and robot accounts, each with all pages of Harbor's list.
  - Never changes anything; runs in check mode too. Secrets are never part of the result.
author:
  - registryops.harbor maintainers (@registryops)
extends_documentation_fragment:
  - registryops.harbor.harbor
attributes:
  check_mode:
    support: full
    description: The module only reads.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
options:
  gather:
    description: What to read.
    type: list
    elements: str
    choices: [system, projects, users, members, registries, replication_policies, replication_executions, robots]
    default: [system]
  name:
    description: Keep only objects whose name contains this text (user name for O(gather=users), member name for members).
    type: str
  project:
    description: The project whose members are read; required when O(gather) has V(members).
    type: str
  policy:
    description: Only the executions of this replication policy.
    type: str
  limit:
    description: At most this many replication executions, newest first.
    type: int
"""

EXAMPLES = r"""
- name: Version and mode of a Harbor
  registryops.harbor.info:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
  register: harbor_facts

- name: Every project and the members of one
  registryops.harbor.info:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    gather: [projects, members]
    project: payments

- name: The last five runs of a replication policy
  registryops.harbor.info:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    gather: [replication_executions]
    policy: to-prod
    limit: 5
"""

RETURN = r"""
system:
  description: Harbor's C(/systeminfo) (version, auth mode, read-only flag, external URL).
  returned: when gathered
  type: dict
projects:
  description: Projects as Harbor returns them.
  returned: when gathered
  type: list
  elements: dict
users:
  description: Users (never passwords).
  returned: when gathered
  type: list
  elements: dict
members:
  description: Members of O(project) with their role ids and names.
  returned: when gathered
  type: list
  elements: dict
registries:
  description: Registry endpoints (never their secrets).
  returned: when gathered
  type: list
  elements: dict
replication_policies:
  description: Replication policies.
  returned: when gathered
  type: list
  elements: dict
replication_executions:
  description: Replication executions, newest first.
  returned: when gathered
  type: list
  elements: dict
robots:
  description: Robot accounts (never their secrets).
  returned: when gathered
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.client import HAS_URLLIB3, HarborError
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import (
    InvalidInput,
    client_from_params,
    explain,
    harbor_argument_spec,
)
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.info import gather


def main():
    spec = harbor_argument_spec()
    spec.update(
        gather=dict(type="list", elements="str", default=["system"],
                    choices=["system", "projects", "users", "members", "registries", "replication_policies",
                             "replication_executions", "robots"]),
        name=dict(type="str"),
        project=dict(type="str"),
        policy=dict(type="str"),
        limit=dict(type="int"),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    if not HAS_URLLIB3:
        module.fail_json(msg=missing_required_lib("urllib3"))
    params = module.params
    if "members" in params["gather"] and not params.get("project"):
        module.fail_json(msg="gather: members needs project")
    client = client_from_params(params)
    try:
        facts = gather(client, params["gather"], project=params.get("project"), name=params.get("name"),
                       policy=params.get("policy"), limit=params.get("limit"))
    except InvalidInput as exc:
        module.fail_json(msg=str(exc))
    except HarborError as exc:
        module.fail_json(msg=explain(exc), status=exc.status)
    finally:
        client.close()
    module.exit_json(changed=False, **facts)


if __name__ == "__main__":
    main()
