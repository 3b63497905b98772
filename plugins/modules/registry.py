#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: registry
short_description: Manage Harbor registry endpoints
version_added: 0.1.0
description:
  - Create, update and delete registry endpoints, the remote registries that replication policies and
    proxy-cache projects use.
  - Harbor checks that a new endpoint is reachable and that its credentials work before it saves it;
    the module reports that refusal clearly.
  - Harbor never returns the secret of an endpoint. It is sent on creation; with O(update_secret=always)
    it is sent again on every run (and reported as a change).
  - Deleting an endpoint that replication policies use fails with the names of those policies.
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
    description: Shows the endpoint before and after; the secret is masked.
options:
  name:
    description: Name of the endpoint in Harbor.
    type: str
    required: true
  state:
    description: V(present) creates or updates the endpoint; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  type:
    description: Kind of remote registry; required to create. It cannot change later.
    type: str
    choices: [harbor, docker-hub, docker-registry, huawei-SWR, google-gcr, aws-ecr, azure-acr, ali-acr,
              jfrog-artifactory, quay, gitlab, dtr, tencent-tcr, github-ghcr, volcengine-cr]
  url:
    description: URL of the remote registry, with C(http://) or C(https://); required to create.
    type: str
  access_key:
    description: User name (or access key) on the remote registry.
    type: str
  access_secret:
    description: Password (or secret key) on the remote registry.
    type: str
  update_secret:
    description:
      - V(on_create) sends O(access_secret) only when the endpoint is created or O(access_key) changes.
      - V(always) sends it on every run, for rotating it.
    type: str
    choices: [on_create, always]
    default: on_create
  insecure:
    description: Skip TLS verification of the remote registry.
    type: bool
  ca_certificate:
    description: PEM CA certificate of the remote registry.
    type: str
  description:
    description: Free text.
    type: str
"""

EXAMPLES = r"""
- name: The production Harbor as a replication target
  registryops.harbor.registry:
    api_url: https://harbor-staging.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    name: prod
    type: harbor
    url: https://harbor-prod.example.com
    access_key: robot$replicator
    access_secret: "{{ vault_replicator_secret }}"

- name: Docker Hub for a proxy cache
  registryops.harbor.registry:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    name: docker-hub
    type: docker-hub
    url: https://hub.docker.com
"""

RETURN = r"""
registry:
  description: The endpoint after the run, without its secret (empty when deleted).
  returned: always
  type: dict
  sample:
    name: prod
    type: harbor
    url: https://harbor-prod.example.com
    access_key: robot$replicator
    insecure: false
    description: ""
"""

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import HarborModule
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.registry import RegistryResource


def main():
    HarborModule(RegistryResource()).run()


if __name__ == "__main__":
    main()
