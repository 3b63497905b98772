#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: label
short_description: Manage Harbor labels
version_added: 0.1.0
description:
  - Create, update and delete labels, which users attach to artifacts (and replication filters select by).
  - Global labels (O(scope=global)) can be used in every project and need a system administrator; project labels
    (O(scope=project)) belong to one project and need its project administrator or maintainer.
  - A label is found by its exact name within its scope (and project). Only the options you set are compared.
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
    description: Shows the label before and after.
options:
  name:
    description: Name of the label, 1 to 128 characters; unique within its scope (and project).
    type: str
    required: true
  scope:
    description: V(global) for a label of every project; V(project) for a label of O(project).
    type: str
    choices: [global, project]
    default: global
  project:
    description: The project of a V(project) label; required with O(scope=project).
    type: str
  description:
    description: A description of the label.
    type: str
  color:
    description:
      - The label's colour as C(#RRGGBB), e.g. C(#1F6FEB); V("") for none. Compared without regard to case.
    type: str
  state:
    description: V(present) creates or updates the label; V(absent) deletes it (and detaches it from artifacts).
    type: str
    choices: [present, absent]
    default: present
"""

EXAMPLES = r"""
- name: A global label for production-ready images
  registryops.harbor.label:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    name: prod-ready
    color: "#2EA043"
    description: Passed every gate

- name: A label of the payments project
  registryops.harbor.label:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    name: pci
    scope: project
    project: payments
    color: "#D29922"

- name: Remove a label
  registryops.harbor.label:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    name: prod-ready
    state: absent
"""

RETURN = r"""
label:
  description: The label after the run (empty when deleted); the colour is upper-case.
  returned: always
  type: dict
  sample:
    id: 4
    name: pci
    scope: project
    project: payments
    color: "#D29922"
    description: ""
"""

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import HarborModule
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.label import LabelResource


def main():
    HarborModule(LabelResource()).run()


if __name__ == "__main__":
    main()
