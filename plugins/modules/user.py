#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: user
short_description: Manage Harbor local users
version_added: 0.1.0
description:
  - Create, update and delete users of Harbor's own user database (Harbor's C(auth_mode) V(db_auth)).
  - Only the options you set are compared and changed.
  - Harbor never returns passwords. With O(update_password=on_create) (the default) a password is only
    used when the user is created. With O(update_password=always) the module logs in as the user with
    O(password); the password counts as changed only when that login fails, so reruns stay idempotent and
    check mode can tell too.
  - Harbor deletes users softly; it renames a deleted user to C(name#id), so the name can be used again.
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
    description: Shows the user's profile before and after; a password change is shown masked.
options:
  username:
    description: Login name; 1 to 255 characters, without commas, tildes, double quotes and the characters C(#), C($) and C(%).
    type: str
    required: true
    aliases: [name]
  state:
    description: V(present) creates or updates the user; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  email:
    description: E-mail address; required to create a user, unique in Harbor.
    type: str
  realname:
    description: Full name, 1 to 255 characters; required to create a user.
    type: str
  comment:
    description: A comment of at most 30 characters.
    type: str
  password:
    description:
      - Password; required to create a user. 8 to 128 characters with at least one upper-case letter,
        one lower-case letter and one digit.
    type: str
  update_password:
    description:
      - V(on_create) sets O(password) only when the user is created.
      - V(always) also sets it on existing users when logging in with it fails.
    type: str
    choices: [on_create, always]
    default: on_create
  sysadmin:
    description: Whether the user is a Harbor system administrator.
    type: bool
"""

EXAMPLES = r"""
- name: A developer account
  registryops.harbor.user:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    username: alice
    email: alice@example.com
    realname: Alice Example
    password: "{{ vault_alice_password }}"

- name: Rotate a service account's password and make it an administrator
  registryops.harbor.user:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    username: ci-admin
    password: "{{ vault_ci_admin_password }}"
    update_password: always
    sysadmin: true

- name: Remove a user
  registryops.harbor.user:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    username: bob
    state: absent
"""

RETURN = r"""
user:
  description: The user's profile after the run (never a password; empty when deleted).
  returned: always
  type: dict
  sample:
    username: alice
    email: alice@example.com
    realname: Alice Example
    comment: ""
    sysadmin: false
"""

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import HarborModule
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.user import UserResource


def main():
    HarborModule(UserResource()).run()


if __name__ == "__main__":
    main()
