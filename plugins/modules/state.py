#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: state
short_description: Converge a whole Harbor to a declared state, fast, with a drift report
version_added: 0.1.0
description:
  - Takes one structure describing a Harbor registry (users, remote registries, projects with their
    metadata, quota, members, robot accounts, retention policy, immutable tag rules, labels and webhooks,
    system robot accounts, global labels, replication policies and configuration) and makes Harbor match it.
  - Every object takes the options of the single-object module of its kind and is compared exactly as that
    module compares it (only the options that are set; Harbor's string metadata, sizes and defaults
    normalised the same way).
  - Every object is validated before any request; all invalid objects are reported at once and nothing is
    changed then.
  - Reads each collection once (pages of 100), plus one list per declared project for each of its parts
    that the structure declares (members, robots, labels, webhooks, immutable rules; the retention policy
    with one read). An unchanged structure costs about as many requests as it takes to list it.
  - Writes only what differs, in dependency order (users, registries, configuration and global labels; then
    projects; then members, robots, retention, immutable rules, labels, webhooks and replication policies;
    deletes in the reverse order), the independent writes of one level in parallel (O(parallel)).
  - A failed object does not stop the others; what needs it (for example the members of a project that
    could not be created) is skipped with the reason. The module then fails and lists every failure;
    running it again finishes the job without creating anything twice.
  - Omitting a key (for example O(registries), or C(members) of a project) leaves that kind alone.
    With O(purge=true), objects of a kind the structure names but that it does not list are deleted,
    except those in O(protected) and never the account in O(api_username).
  - Check mode with diff is a drift report that writes nothing; the C(drift) result holds the same in
    structured form (see playbooks/drift.yml, which renders it as Markdown and HTML).
author:
  - registryops.harbor maintainers (@registryops)
extends_documentation_fragment:
  - registryops.harbor.harbor
attributes:
  check_mode:
    support: full
    description: In check mode nothing is written to Harbor; the result lists what would change.
  diff_mode:
    support: full
    description:
      - One diff per object that differs, with its settings before and after (secrets never shown; a
        write-only secret that changes shows as masked).
options:
  users:
    description:
      - Local Harbor users. Each item takes the options of M(registryops.harbor.user)
        (C(username), C(email), C(realname), C(comment), C(password), C(update_password), C(sysadmin), C(state)).
      - Creating a user needs C(password), C(email) and C(realname).
    type: list
    elements: dict
  registries:
    description:
      - Remote registry endpoints. Each item takes the options of M(registryops.harbor.registry)
        (C(name), C(type), C(url), C(access_key), C(access_secret), C(update_secret), C(insecure),
        C(ca_certificate), C(description), C(state)).
    type: list
    elements: dict
  projects:
    description:
      - Projects. Each item takes the options of M(registryops.harbor.project) (C(name), C(public),
        C(storage_quota), C(proxy_cache_registry), and the others), plus these keys for what lives in
        the project, each one managed only when given.
      - C(members), a list of members as in M(registryops.harbor.project_member) (C(user) or C(group) with
        C(group_type)/C(ldap_group_dn), C(role), C(state)). With O(purge=true), the complete membership.
      - C(robots), project robot accounts as in M(registryops.harbor.robot_account) (C(name), C(permissions),
        C(permission_preset), C(duration), C(disable), C(description), C(secret), C(state)); the level and
        project are implied.
      - C(retention), the tag retention policy as in M(registryops.harbor.retention_policy)
        (C(rules), C(schedule), C(state)).
      - C(immutable_rules), a list of immutable tag rules as in M(registryops.harbor.immutable_tag_rule)
        (C(repositories), C(tags), C(disabled)). With O(purge=true), the project's complete set.
      - C(labels), project labels as in M(registryops.harbor.label) (C(name), C(description), C(color)).
      - C(webhooks), webhook policies as in M(registryops.harbor.webhook) (C(name), C(event_types),
        C(targets), C(enabled), C(description), C(state)).
      - A project with C(state=absent) is deleted with what it holds (Harbor refuses while it holds images).
    type: list
    elements: dict
  robots:
    description:
      - System robot accounts, as in M(registryops.harbor.robot_account) with C(level=system) implied.
      - Robots are created with the secret given in C(secret), or with one Harbor generates, which is then
        returned once in RV(secrets). C(regenerate_secret) is refused (it is not declarative).
    type: list
    elements: dict
  labels:
    description:
      - Global labels, as in M(registryops.harbor.label) with C(scope=global) implied.
    type: list
    elements: dict
  replication_policies:
    description:
      - Replication policies, as in M(registryops.harbor.replication_policy).
    type: list
    elements: dict
  config:
    description:
      - System configuration, as in M(registryops.harbor.config) (C(settings), C(secrets), C(read_only),
        C(update_secrets)).
    type: dict
  src:
    description:
      - Path of a JSON or YAML file, on the host that runs the module, holding a mapping with any of the
        structure's keys (O(users), O(registries), O(projects), O(robots), O(labels),
        O(replication_policies), O(config)) in the same form as the options.
      - A key may come from the file or from the option, not both.
      - The fast path for very large structures. ansible-core spends several seconds of CPU passing ten
        thousand objects as task arguments (templating them, sending them to the module and back to the
        controller); a file is read by the module in milliseconds. See benchmarks/results/state_scale.md.
      - The module reads the file as it is; Ansible Vault cannot decrypt it there. Keep secrets out of
        it (for example users whose password is set elsewhere, or with O(users) inline).
    type: path
  content:
    description:
      - The structure as JSON or YAML text (what a file for O(src) would hold), for example a template
        rendered by C(lookup('ansible.builtin.template', ...)). A mapping is taken as it is.
      - A key may come from O(content) or from the option, not both. Mutually exclusive with O(src).
      - Passed as one string, it costs ansible-core a fraction of what the same objects cost as task
        arguments; the role registryops.harbor.registry_config uses it. It is never shown in the output
        (it holds passwords).
    type: raw
  purge:
    description:
      - Delete the objects of every kind the structure names (a top-level key, or a part of a project)
        that it does not list.
      - Never deletes O(protected) objects nor the account in O(api_username) (user, robot or project member).
      - Project deletion fails while a project holds images; the failure is reported and the rest goes on.
    type: bool
    default: false
  protected:
    description: Objects O(purge) never deletes, by kind.
    type: dict
    suboptions:
      users:
        description: User names.
        type: list
        elements: str
        default: [admin]
      projects:
        description: Project names.
        type: list
        elements: str
        default: [library]
      registries:
        description: Registry endpoint names.
        type: list
        elements: str
        default: []
      robots:
        description: Robot names, either the full name (C(robot$ci), C(robot$payments+ci)) or without the prefix.
        type: list
        elements: str
        default: []
      labels:
        description: Label names (C(PROJECT/NAME) or C(NAME) for project labels).
        type: list
        elements: str
        default: []
      replication_policies:
        description: Replication policy names.
        type: list
        elements: str
        default: []
  parallel:
    description:
      - How many independent writes run at the same time (1 to 64). Reads of per-project lists use the same pool.
    type: int
    default: 8
notes:
  - Secrets (user passwords, robot secrets, registry and configuration secrets, webhook auth headers) are
    never shown in the diff or the result, and are masked in the module's log.
  - Passwords and secrets cannot be read back from Harbor. As in the single-object modules, a password is set
    when the user is created, or every run where logging in with it fails with C(update_password=always)
    (one login request per such user).
seealso:
  - module: registryops.harbor.project
  - module: registryops.harbor.user
  - module: registryops.harbor.project_member
  - module: registryops.harbor.info
"""

EXAMPLES = r"""
- name: Converge a large registry from a state file kept in the repository
  registryops.harbor.state:
    src: "{{ inventory_dir }}/registry-state/prod.yml"
    purge: true

- name: Converge the registry
  registryops.harbor.state:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    users:
      - username: alice
        email: alice@example.com
        realname: Alice Example
        password: "{{ vault_passwords.alice }}"
    registries:
      - name: dockerhub
        type: docker-hub
        url: https://hub.docker.com
    projects:
      - name: payments
        storage_quota: 50GiB
        auto_scan: true
        members:
          - user: alice
            role: projectAdmin
          - group: ops
            group_type: ldap
            ldap_group_dn: cn=ops,ou=groups,dc=example,dc=com
            role: maintainer
        robots:
          - name: ci
            permission_preset: push
            duration: -1
        immutable_rules:
          - tags:
              pattern: "v*"
      - name: dockerhub-cache
        proxy_cache_registry: dockerhub
    replication_policies:
      - name: payments-to-dr
        direction: push
        registry: dr-site
        filters:
          name: payments/**
        trigger: event_based
  register: converged

- name: Keep the new robot secrets (returned once) in the vault
  ansible.builtin.debug:
    msg: "{{ converged.secrets | default({}) | list }}"

- name: Drift report only (nothing is written)
  registryops.harbor.state:
    projects: "{{ desired_projects }}"
    purge: true
  check_mode: true
  diff: true
  register: drift
"""

RETURN = r"""
summary:
  description: Counts of the objects created, updated, deleted (or, in check mode, to be), unchanged,
    failed and skipped; C(changes) is the number of objects that differ.
  returned: always
  type: dict
  sample: {create: 3, update: 1, delete: 0, unchanged: 5812, failed: 0, skipped: 0, changes: 4}
drift:
  description:
    - Every object that differs, with the field-level differences. C(action) is create, update or delete;
      C(status) is planned (check mode), applied, failed (with C(error)) or skipped (with C(reason)).
    - Secrets never appear; a write-only secret that changes shows as masked.
  returned: always
  type: list
  elements: dict
  sample:
    - kind: project
      name: payments
      action: update
      status: applied
      changes:
        - {field: auto_scan, before: "false", after: "true"}
    - kind: member
      name: payments/user:alice
      action: create
      status: applied
      changes:
        - {field: role, before: null, after: developer}
failures:
  description: The objects that could not be planned or written, with Harbor's answer and what it means.
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: user, name: bob, action: create, error: "POST /api/v2.0/users failed with HTTP 409 CONFLICT: ..."}
not_attempted:
  description: The objects not attempted because an object they need failed (or could not be planned).
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: member, name: payments/user:bob, action: create, reason: "not attempted: it needs user bob, which failed"}
secrets:
  description:
    - SENSITIVE. The secrets Harbor generated for robot accounts this run created, by the robot's full name.
      Returned only when such a robot was created, and only that once; store them (for example in a vault)
      and consider C(no_log) on the task.
  returned: when a robot account was created without a given secret
  type: dict
  sample: {"robot$payments+ci": "Xq0tW8v..."}
requests:
  description: HTTP requests the module made to Harbor, in total and for reading the current state.
  returned: always
  type: dict
  sample: {total: 1071, reads: 1071}
seconds:
  description: Wall time of the read, plan and write steps.
  returned: always
  type: dict
  sample: {read: 1.21, plan: 0.35, write: 0.0}
"""

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.state import HarborState


def main():
    HarborState().run()


if __name__ == "__main__":
    main()
