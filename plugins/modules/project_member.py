#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: project_member
short_description: Manage the members of a Harbor project and their roles
version_added: 0.1.0
description:
  - Gives users and groups a role in a project, changes their role, or removes them.
  - One member with O(user) or O(group), or several at once with O(members).
  - With O(exclusive=true) the list is the project's complete membership; everyone not listed is removed,
    except the account running the module (O(api_username)), which is never removed by accident.
  - Reads every member of the project, across all pages of Harbor's list.
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
    description: Shows the project's membership (C(user:NAME) or C(group:NAME) to role) before and after.
options:
  project:
    description: Name of the project.
    type: str
    required: true
  state:
    description:
      - V(present) adds the members or sets their role; V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
  user:
    description: A user name. Mutually exclusive with O(group) and O(members).
    type: str
  group:
    description: A group name. Mutually exclusive with O(user) and O(members).
    type: str
  group_type:
    description: Type of O(group).
    type: str
    choices: [ldap, http, oidc]
    default: http
  ldap_group_dn:
    description: DN of an LDAP group; required with O(group_type=ldap).
    type: str
  role:
    description: The role in the project; required with O(state=present).
    type: str
    choices: [projectAdmin, maintainer, developer, guest, limitedGuest]
  members:
    description: Several members at once; each entry takes O(user) or O(group), O(group_type), O(ldap_group_dn) and O(role).
    type: list
    elements: dict
    suboptions:
      user:
        description: A user name.
        type: str
      group:
        description: A group name.
        type: str
      group_type:
        description: Type of the group.
        type: str
        choices: [ldap, http, oidc]
        default: http
      ldap_group_dn:
        description: DN of an LDAP group.
        type: str
      role:
        description: The role in the project.
        type: str
        choices: [projectAdmin, maintainer, developer, guest, limitedGuest]
  exclusive:
    description:
      - With O(members), remove every member not listed (never the account running the module).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Alice develops in payments
  registryops.harbor.project_member:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    project: payments
    user: alice
    role: developer

- name: The complete membership of a project
  registryops.harbor.project_member:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    project: payments
    exclusive: true
    members:
      - {user: alice, role: developer}
      - {user: bob, role: maintainer}
      - {group: payments-admins, group_type: oidc, role: projectAdmin}

- name: Remove a member
  registryops.harbor.project_member:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    project: payments
    user: carol
    state: absent
"""

RETURN = r"""
membership:
  description: The project's membership after the run, under C(members), as C(user:NAME) or C(group:NAME) mapped to the role.
  returned: always
  type: dict
  sample:
    members:
      user:admin: projectAdmin
      user:alice: developer
"""

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import HarborModule
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.member import MembersResource


def main():
    HarborModule(MembersResource()).run()


if __name__ == "__main__":
    main()
