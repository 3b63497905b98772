#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: robot_account
short_description: Manage Harbor robot accounts and their secrets
version_added: 0.1.0
description:
  - Create, update and delete robot accounts at system or project level, with their permissions, expiry
    and state, and rotate their secret.
  - Harbor names a robot C(robot$NAME) at system level and C(robot$PROJECT+NAME) at project level; that full
    name is the robot's login and is returned in RV(robot) as C(full_name).
  - >-
    Harbor returns a robot's secret only when the robot is created or its secret is refreshed. The module
    returns it then, as RV(secret), and at no other time. Run the task with C(no_log: true) and C(register)
    to keep the secret out of logs while handing it to the next task (for example a vault write).
  - Harbor cannot change a robot's level, name or project after creation. When no robot exists at the
    requested level but one of the same name exists at the other level (system, or project O(project)),
    the module fails and asks you to delete and re-create it rather than silently creating a second robot.
  - Permissions are compared without regard to order; only the options you set are compared.
author:
  - registryops.harbor maintainers (@registryops)
extends_documentation_fragment:
  - registryops.harbor.harbor
attributes:
  check_mode:
    support: full
    description: In check mode nothing is written to Harbor and no secret is returned.
  diff_mode:
    support: full
    description: Shows the robot's settings and permissions before and after; a secret change is shown masked.
options:
  name:
    description:
      - Short name of the robot (without C(robot$) and project). Lower-case letters and digits, optionally
        separated by single C(.), C(_) or C(-).
    type: str
    required: true
  level:
    description:
      - V(project) for a robot of one project (O(project)); V(system) for a robot that can span projects and
        hold system-wide permissions.
    type: str
    choices: [system, project]
    default: project
  project:
    description:
      - The project of a V(project) level robot (required then), also the namespace of its permissions.
      - With O(level=system), the namespace O(permission_preset) applies to (default C(*), every project).
    type: str
  state:
    description: V(present) creates or updates the robot; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  description:
    description: A description of the robot.
    type: str
  duration:
    description:
      - Lifetime in days from the robot's creation; V(-1) never expires. Harbor recomputes the expiry date
        from the creation time when this changes.
      - When a robot is created without it, 30 days (Harbor's default robot token duration).
    type: int
  disable:
    description: Whether the robot is disabled (cannot log in).
    type: bool
  permission_preset:
    description:
      - Common permission sets, added to O(permissions).
      - V(pull) repository pull, read and list; artifact read and list; tag list.
      - V(push) V(pull) plus repository push and tag create.
      - V(push_delete) V(push) plus repository, artifact and tag delete.
    type: str
    choices: [pull, push, push_delete]
  permissions:
    description:
      - Explicit permissions, added to O(permission_preset). One of the two is required to create a robot.
      - For a V(project) robot, a list of O(permissions[].resource)/O(permissions[].action) items in O(project).
      - For a V(system) robot, a list of O(permissions[].namespace) (a project name, C(*) for every project, or
        C(/) for system-wide resources such as C(registry) or C(user)) with its O(permissions[].access) list.
      - Pairs are checked against the ones Harbor 2.15 lets robots hold, before any call.
    type: list
    elements: dict
    suboptions:
      resource:
        description: A project resource, e.g. C(repository), C(artifact), C(tag), C(scan) (O(level=project) only).
        type: str
      action:
        description: The action on O(permissions[].resource), e.g. C(pull), C(push), C(read), C(list), C(create), C(delete).
        type: str
      namespace:
        description: A project name, C(*) or C(/) (O(level=system) only).
        type: str
      access:
        description: The resource/action pairs granted in O(permissions[].namespace) (O(level=system) only).
        type: list
        elements: dict
        suboptions:
          resource:
            description: The resource.
            type: str
            required: true
          action:
            description: The action.
            type: str
            required: true
  regenerate_secret:
    description:
      - Have Harbor generate a new secret (returned as RV(secret)). Changes the robot on every run where it is
        true, so use it in a rotation playbook, not in the steady-state one.
    type: bool
    default: false
  secret:
    description:
      - A secret of your choosing instead of a generated one; 8 to 128 characters with at least one upper-case
        letter, one lower-case letter and one digit.
      - On an existing robot the module logs in as the robot with it and sets it only when that login fails.
        A disabled or expired robot cannot log in, so its secret is not checked.
      - When you set it, the module does not return RV(secret) (you already have it).
    type: str
"""

EXAMPLES = r"""
- name: A CI robot that pushes to the payments project
  registryops.harbor.robot_account:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    name: ci
    project: payments
    permission_preset: push
    duration: -1
    description: GitLab CI pushes
  register: ci_robot
  no_log: true

- name: Store the secret (only set when the robot was created)
  ansible.builtin.copy:
    content: "{{ ci_robot.secret }}"
    dest: /etc/ci/harbor-robot-secret
    mode: "0600"
  when: ci_robot.secret is defined
  no_log: true

- name: A system robot that pulls from every project and reads the registry endpoints
  registryops.harbor.robot_account:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    name: mirror
    level: system
    permission_preset: pull
    permissions:
      - namespace: /
        access:
          - {resource: registry, action: list}
          - {resource: registry, action: read}

- name: Explicit permissions of a project robot
  registryops.harbor.robot_account:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    name: scanner
    project: payments
    permissions:
      - {resource: repository, action: pull}
      - {resource: scan, action: create}

- name: Rotate a robot's secret
  registryops.harbor.robot_account:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    name: ci
    project: payments
    regenerate_secret: true
  register: rotated
  no_log: true

- name: Remove a robot
  registryops.harbor.robot_account:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    name: ci
    project: payments
    state: absent
"""

RETURN = r"""
secret:
  description:
    - The robot's secret, the reason to register this task's result. Harbor shows it only once, so this is
      returned only when Harbor generated it, that is when the robot was created (without O(secret)) or
      O(regenerate_secret) refreshed it, and never in check mode, in the diff or in RV(robot).
    - "Sensitive. Run the task with C(no_log: true) so callbacks do not print it."
  returned: when the robot was created or its secret regenerated, outside check mode
  type: str
  sample: Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z
robot:
  description: The robot after the run (never its secret; empty when deleted).
  returned: always
  type: dict
  sample:
    id: 7
    name: ci
    full_name: robot$payments+ci
    level: project
    project: payments
    description: GitLab CI pushes
    duration: -1
    expires_at: -1
    disable: false
    permissions:
      - {resource: repository, action: pull}
      - {resource: repository, action: push}
"""

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import HarborModule
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.robot import RobotResource


def main():
    HarborModule(RobotResource()).run()


if __name__ == "__main__":
    main()
