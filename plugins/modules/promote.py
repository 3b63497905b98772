#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: promote
short_description: Promote one artifact, by digest, from one Harbor to the next
version_added: 0.1.0
description:
  - Copies one artifact (an image, or a multi-architecture index with all its platforms) from a repository of
    the source Harbor to a repository of the destination Harbor, for a dev, test, staging, prod promotion chain
    that ships the very same bytes to every environment.
  - The artifact is identified by O(digest), or by O(tag), which is resolved to a digest once at the start;
    everything after that is addressed by the digest, so a tag moved meanwhile at the source changes nothing.
  - The copy uses the registry v2 API of both Harbors, like C(docker push) would. Blobs the destination already
    has are skipped (checked with HEAD); between two repositories of the same Harbor they are mounted, otherwise
    streamed from the source to the destination without being held in memory. The child manifests of an index
    are copied before the index, then the manifest is stored by digest, then O(tags) are set.
  - After the copy the module reads the digest and the tags back from the destination and fails unless they are
    the source digest.
  - When the destination already has the digest and every tag of O(tags) points to it, nothing is written and
    C(changed) is V(false).
  - Before the first write the module checks the labels of O(require_labels), the tags of O(tags) that point to
    another digest at the destination, and that the destination project exists.
  - The connection options at the top level (O(api_url), O(api_username), ...) are the source Harbor's, so a
    C(module_defaults) group sets them; the destination Harbor has its own in O(destination).
  - The source account needs pull access to the source repository (a guest or a robot account with pull),
    the destination account push access to the destination project (developer, maintainer or a robot account
    with push).
author:
  - registryops.harbor maintainers (@registryops)
extends_documentation_fragment:
  - registryops.harbor.harbor
attributes:
  check_mode:
    support: full
    description: Reads both Harbors (source artifact and labels, destination tags and blobs) and reports what
      would be copied and tagged; nothing is written.
  diff_mode:
    support: full
    description: Shows whether the destination has the digest and where the requested tags point, before and after.
options:
  project:
    description: The source project.
    type: str
    required: true
  repository:
    description: The source repository, without the project, for example V(payments/api).
    type: str
    required: true
  digest:
    description:
      - The digest of the artifact to promote, for example C(sha256:4a5c...).
      - Exactly one of O(digest) and O(tag) is required.
    type: str
  tag:
    description:
      - A tag of the artifact to promote at the source, resolved once to its digest.
      - The tag is not copied by itself, list it in O(tags) to set it at the destination as well.
    type: str
  destination:
    description: The destination Harbor and where the artifact goes there.
    type: dict
    required: true
    suboptions:
      api_url:
        description: Base URL of the destination Harbor, for example C(https://harbor-prod.example.com).
        type: str
        required: true
      api_username:
        description: User name at the destination (a robot account uses its full name, for example C(robot$promoter)).
        type: str
        required: true
      api_password:
        description: Password or robot secret of O(destination.api_username).
        type: str
        required: true
      validate_certs:
        description: Whether to verify the TLS certificate of the destination Harbor.
        type: bool
        default: true
      ca_path:
        description: PEM file with the CA certificate(s) that signed the destination Harbor's certificate.
        type: path
      project:
        description: The destination project; it must exist. Defaults to O(project).
        type: str
      repository:
        description: The destination repository, without the project. Defaults to O(repository).
        type: str
  tags:
    description:
      - Tags to point at the artifact at the destination.
      - A tag that already points to another digest at the destination is refused unless O(force=true).
    type: list
    elements: str
    default: []
  force:
    description: Move tags of O(tags) that point to another digest at the destination.
    type: bool
    default: false
  require_labels:
    description:
      - Names of Harbor labels the artifact must carry at the source, for example V(tested); the module refuses
        to promote an artifact that lacks one of them, before anything is written.
      - Labels are Harbor metadata and are not copied to the destination.
    type: list
    elements: str
    default: []
notes:
  - A copy interrupted midway leaves blobs at the destination without a manifest; run the module again, it skips
    them. Harbor's garbage collection removes them if the promotion is abandoned.
  - Streamed uploads are not retried by O(retries) (a stream cannot be sent twice); rerun the task instead.
  - Harbor refuses the copy while the destination is in read-only mode and when a tag is immutable there.
seealso:
  - module: registryops.harbor.label
  - module: registryops.harbor.replication_run
"""

EXAMPLES = r"""
- name: Promote the build that passed the tests from test to staging, with its version tag
  registryops.harbor.promote:
    api_url: https://harbor-test.example.com
    api_username: robot$promoter
    api_password: "{{ vault_test_promoter_secret }}"
    project: payments
    repository: api
    tag: "1.4.2"
    require_labels: [tested]
    destination:
      api_url: https://harbor-staging.example.com
      api_username: robot$promoter
      api_password: "{{ vault_staging_promoter_secret }}"
    tags: ["1.4.2", stable]
  register: promoted

- name: Then promote exactly that digest to production, moving the stable tag there
  registryops.harbor.promote:
    api_url: https://harbor-staging.example.com
    api_username: robot$promoter
    api_password: "{{ vault_staging_promoter_secret }}"
    project: payments
    repository: api
    digest: "{{ promoted.source_digest }}"
    destination:
      api_url: https://harbor-prod.example.com
      api_username: robot$promoter
      api_password: "{{ vault_prod_promoter_secret }}"
      project: payments-prod
    tags: ["1.4.2", stable]
    force: true
"""

RETURN = r"""
source_digest:
  description: The digest promoted (O(tag) resolved at the source).
  returned: success
  type: str
  sample: sha256:4a5c7a8d3f0b6c1e2d9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d
destination_digest:
  description:
    - The digest the destination serves, read back after the copy; always equal to RV(source_digest).
    - In check mode, V(null) when the destination does not have it yet.
  returned: success
  type: str
  sample: sha256:4a5c7a8d3f0b6c1e2d9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d
media_type:
  description: The artifact's manifest media type (an index for multi-architecture images).
  returned: success
  type: str
  sample: application/vnd.docker.distribution.manifest.list.v2+json
source:
  description: Where the artifact came from (registry, repository and digest).
  returned: success
  type: str
  sample: https://harbor-test.example.com/payments/api@sha256:4a5c...
destination:
  description: The destination registry and repository.
  returned: success
  type: str
  sample: https://harbor-staging.example.com/payments/api
tags:
  description: The tags of O(tags), which point (in check mode, would point) to the digest at the destination.
  returned: success
  type: list
  elements: str
  sample: ["1.4.2", stable]
tags_set:
  description: Tags of O(tags) that were (would be) newly created at the destination.
  returned: success
  type: list
  elements: str
tags_moved:
  description: Tags of O(tags) that pointed to another digest and were (would be) moved, with O(force=true).
  returned: success
  type: list
  elements: str
labels:
  description: The names of the labels the artifact carries at the source.
  returned: success
  type: list
  elements: str
  sample: [tested]
copied:
  description: What was (in check mode, would be) copied.
  returned: success
  type: dict
  contains:
    manifests:
      description: Manifests stored at the destination (an index counts with each missing platform manifest).
      type: int
    blobs:
      description: Blobs uploaded (streamed from the source).
      type: int
    blobs_mounted:
      description: Blobs mounted from the source repository (both repositories in the same Harbor).
      type: int
    blobs_present:
      description: Blobs the destination already had.
      type: int
    bytes:
      description: Bytes uploaded.
      type: int
  sample:
    manifests: 1
    blobs: 3
    blobs_mounted: 0
    blobs_present: 1
    bytes: 31457280
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.client import (
    HAS_URLLIB3,
    URLLIB3_IMPORT_ERROR,
    HarborError,
)
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import (
    InvalidInput,
    client_from_params,
    explain,
    harbor_argument_spec,
)
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.promote import (
    MODULE_KWARGS,
    Promotion,
    argument_spec,
    destination_client,
    validate,
)


def main():
    spec = harbor_argument_spec()
    spec.update(argument_spec())
    module = AnsibleModule(argument_spec=spec, **MODULE_KWARGS)
    if not HAS_URLLIB3:
        module.fail_json(msg=missing_required_lib("urllib3"), exception=str(URLLIB3_IMPORT_ERROR))
    try:
        validate(module.params)
    except InvalidInput as exc:
        module.fail_json(msg=str(exc))
    source = client_from_params(module.params)
    destination = destination_client(module.params)
    try:
        result, diff = Promotion(source, destination, module.params, module.check_mode).run()
    except InvalidInput as exc:
        module.fail_json(msg=str(exc))
    except HarborError as exc:
        module.fail_json(msg=explain(exc), status=exc.status, harbor_code=exc.code, request_id=exc.request_id)
    finally:
        source.close()
        destination.close()
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
