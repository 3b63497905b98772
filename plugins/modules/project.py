#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: project
short_description: Manage Harbor projects
version_added: 0.1.0
description:
  - Create, update and delete projects in Harbor, with their metadata, CVE allowlist, storage quota
    and proxy-cache settings.
  - Only the options you set are compared and changed; everything else in Harbor is left as it is.
  - The storage quota of an existing project is changed through Harbor's quota API, as Harbor only
    takes it on creation.
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
    description: Shows the project's settings before and after.
options:
  name:
    description:
      - Project name. Lower-case letters and digits, optionally separated by single C(.), C(_) or C(-); at most 255 characters.
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the project; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  public:
    description: Whether anyone, even anonymous users, may pull from the project.
    type: bool
  auto_scan:
    description: Scan images automatically when they are pushed.
    type: bool
  content_trust:
    description: Allow only signed images (Notary) to be pulled.
    type: bool
  content_trust_cosign:
    description: Allow only images signed with cosign to be pulled.
    type: bool
  prevent_vulnerable:
    description: Prevent pulling images with vulnerabilities of O(severity) or higher.
    type: bool
  severity:
    description: The severity threshold for O(prevent_vulnerable).
    type: str
    choices: [none, low, medium, high, critical]
  auto_sbom:
    description: Generate an SBOM automatically when an image is pushed.
    type: bool
  reuse_sys_cve_allowlist:
    description: Use the system CVE allowlist instead of the project's own O(cve_allowlist).
    type: bool
  cve_allowlist:
    description:
      - CVE ids allowed in this project (order does not matter). An empty list clears the allowlist.
    type: list
    elements: str
  storage_quota:
    description:
      - Storage quota of the project, for example V(50GiB), V(500MB), V(1TiB), a number of bytes, or V(-1) / V(unlimited).
      - Binary units (KiB, MiB, GiB, TiB, PiB) are powers of 1024; KB, MB, GB, TB, PB are powers of 1000.
    type: str
  proxy_cache_registry:
    description:
      - Name of a registry endpoint (see M(registryops.harbor.registry)) to make this a proxy-cache project.
      - Only on creation; Harbor cannot turn an existing project into a proxy cache or change its upstream.
      - Needs a system administrator account.
    type: str
  proxy_speed_kb:
    description: Bandwidth limit in KB/s for pulls from the upstream of a proxy-cache project; V(-1) for no limit.
    type: int
  force:
    description:
      - With O(state=absent), delete the project's repositories first. Without it, deleting a project that
        still holds repositories fails with an explanation (Harbor answers 412).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: A private project with a 50 GiB quota and automatic scanning
  registryops.harbor.project:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    name: payments
    public: false
    auto_scan: true
    prevent_vulnerable: true
    severity: high
    storage_quota: 50GiB

- name: Connection options once for every module of the collection
  module_defaults:
    group/registryops.harbor.harbor:
      api_url: https://harbor.example.com
      api_username: admin
      api_password: "{{ vault_harbor_admin_password }}"
  block:
    - name: A proxy cache of Docker Hub
      registryops.harbor.project:
        name: dockerhub-cache
        proxy_cache_registry: docker-hub
        proxy_speed_kb: -1

    - name: Delete a project and everything in it
      registryops.harbor.project:
        name: old-team
        state: absent
        force: true
"""

RETURN = r"""
project:
  description: The project's settings after the run, in the module's option names (empty when deleted).
  returned: always
  type: dict
  sample:
    name: payments
    public: "false"
    auto_scan: "true"
    storage_quota: 50GiB
    cve_allowlist: []
"""

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import HarborModule
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.project import ProjectResource


def main():
    HarborModule(ProjectResource()).run()


if __name__ == "__main__":
    main()
