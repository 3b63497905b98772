#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: immutable_tag_rule
short_description: Manage the immutable tag rules of a Harbor project
version_added: 0.1.0
description:
  - Tags matched by an enabled immutable tag rule cannot be overwritten or deleted.
  - A rule is identified by its repository and tag selectors (Harbor allows one rule per pair); its only other
    setting is O(disabled). Changing a selector therefore means a different rule; remove the old one with
    O(state=absent) or use O(rules) with O(exclusive=true).
  - One rule with O(repositories) and O(tags), or several at once with O(rules). With O(exclusive=true) the
    list is the project's complete set of rules and every other rule is removed.
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
    description: Shows the project's immutable tag rules before and after.
options:
  project:
    description: Name of the project.
    type: str
    required: true
  state:
    description: V(present) adds the rules (or sets O(disabled)); V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
  repositories:
    description:
      - The repositories of a single rule. Mutually exclusive with O(rules).
      - Either this or O(tags) must be set for a single rule; the other defaults to all (C(**)).
    type: dict
    suboptions:
      decoration:
        description: Whether the rule covers the repositories matching O(repositories.pattern) or all others.
        type: str
        choices: [matching, excluding]
        default: matching
      pattern:
        description: A doublestar pattern of repository names without the project, e.g. C(app/**).
        type: str
        default: "**"
  tags:
    description: The tags of a single rule. Mutually exclusive with O(rules).
    type: dict
    suboptions:
      decoration:
        description: Whether the rule covers the tags matching O(tags.pattern) or all others.
        type: str
        choices: [matching, excluding]
        default: matching
      pattern:
        description: A doublestar pattern of tags, e.g. C(v*) or C({latest,stable}).
        type: str
        default: "**"
  disabled:
    description: Keep a single rule but do not enforce it.
    type: bool
    default: false
  rules:
    description: Several rules at once; each takes O(repositories), O(tags) and O(disabled).
    type: list
    elements: dict
    suboptions:
      repositories:
        description: The repositories of the rule.
        type: dict
        suboptions:
          decoration:
            description: V(matching) or V(excluding) O(rules[].repositories.pattern).
            type: str
            choices: [matching, excluding]
            default: matching
          pattern:
            description: A doublestar pattern of repository names.
            type: str
            default: "**"
      tags:
        description: The tags of the rule.
        type: dict
        suboptions:
          decoration:
            description: V(matching) or V(excluding) O(rules[].tags.pattern).
            type: str
            choices: [matching, excluding]
            default: matching
          pattern:
            description: A doublestar pattern of tags.
            type: str
            default: "**"
      disabled:
        description: Keep the rule but do not enforce it.
        type: bool
        default: false
  exclusive:
    description: With O(rules), remove every rule of the project that is not listed (V(rules=[]) removes all).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Release tags can never be overwritten
  registryops.harbor.immutable_tag_rule:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    project: payments
    tags: {pattern: "v*"}

- name: The project's complete set of rules
  registryops.harbor.immutable_tag_rule:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    project: payments
    exclusive: true
    rules:
      - tags: {pattern: "v*"}
      - repositories: {decoration: excluding, pattern: "sandbox/**"}
        tags: {pattern: "{latest,stable}"}
        disabled: true

- name: Remove a rule
  registryops.harbor.immutable_tag_rule:
    api_url: https://harbor.example.com
    api_username: admin
    api_password: "{{ vault_harbor_admin_password }}"
    project: payments
    tags: {pattern: "v*"}
    state: absent
"""

RETURN = r"""
immutable_tag_rules:
  description: The project's immutable tag rules after the run.
  returned: always
  type: dict
  sample:
    project: payments
    rules:
      - repositories: {decoration: matching, pattern: "**"}
        tags: {decoration: matching, pattern: "v*"}
        disabled: false
"""

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import HarborModule
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.immutable import ImmutableRulesResource


def main():
    HarborModule(ImmutableRulesResource()).run()


if __name__ == "__main__":
    main()
