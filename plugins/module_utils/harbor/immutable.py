# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A project's immutable tag rules, as one object: the list of rules.

A rule is identified by its repository and tag selectors (Harbor refuses two rules with the
same selectors, 409); the only other setting is `disabled`. One rule is managed with the
flat options, several with `rules`, and `exclusive` makes that list the project's complete set.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.client import HarborError
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import InvalidInput, Resource
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.project import check_resource_name
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.retention import (
    SELECTOR_SPEC,
    check_pattern,
    find_project,
    role_hint,
    selector_defaults,
    selectors_from_api,
    selectors_to_api,
)

RULE_SPEC = dict(
    repositories=dict(type="dict", options=SELECTOR_SPEC),
    tags=dict(type="dict", options=SELECTOR_SPEC),
    disabled=dict(type="bool", default=False),
)


def rule_id(repositories, tags):
    """A readable key of a rule's selectors, e.g. `repositories matching ** / tags matching v*`."""
    return "repositories %s %s / tags %s %s" % (
        repositories["decoration"], repositories["pattern"], tags["decoration"], tags["pattern"])


def describe(rule):
    return {"repositories": rule["repositories"], "tags": rule["tags"], "disabled": rule["disabled"]}


class ImmutableRulesResource(Resource):
    kind = "immutable_tag_rules"
    unordered = ("rules",)

    def __init__(self):
        super(ImmutableRulesResource, self).__init__()
        self._current = None
        self._project = None

    def argument_spec(self):
        spec = dict(
            project=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            rules=dict(type="list", elements="dict", options=RULE_SPEC),
            exclusive=dict(type="bool", default=False),
        )
        spec.update(RULE_SPEC)
        return spec

    def module_kwargs(self):
        return dict(mutually_exclusive=[("rules", "repositories"), ("rules", "tags")])

    def identity(self, params):
        return params["project"]

    def entries(self, params):
        """The rules the task names, with defaults applied, keyed by their selectors."""
        if params.get("rules") is not None:
            raw = params["rules"]
        elif params.get("repositories") is not None or params.get("tags") is not None:
            raw = [dict((k, params.get(k)) for k in RULE_SPEC)]
        else:
            return []
        out = []
        for index, entry in enumerate(raw):
            where = "rules[%d]." % index if params.get("rules") is not None else ""
            repositories = selector_defaults(entry.get("repositories"))
            tags = selector_defaults(entry.get("tags"))
            check_pattern(repositories["pattern"], where + "repositories")
            check_pattern(tags["pattern"], where + "tags")
            out.append({"repositories": repositories, "tags": tags, "disabled": bool(entry.get("disabled"))})
        return out

    def validate(self, params):
        check_resource_name(params["project"], "project")
        entries = self.entries(params)
        if params.get("exclusive") and params.get("rules") is None:
            raise InvalidInput("exclusive applies to the list form: set rules (rules: [] removes every rule)")
        if not entries and not params.get("exclusive"):
            raise InvalidInput("set repositories and/or tags (one rule) or rules (several)")
        seen = {}
        for index, entry in enumerate(entries):
            key = rule_id(entry["repositories"], entry["tags"])
            if key in seen:
                raise InvalidInput("rules[%d] has the same selectors as rules[%d] (%s); Harbor allows one rule per "
                                   "selector pair" % (index, seen[key], key))
            seen[key] = index

    # -- read ------------------------------------------------------------------------------
    def needs(self, params):
        return ("managing immutable tag rules of project %s needs the maintainer or projectAdmin role there, "
                "or a system administrator" % params["project"])

    @role_hint
    def read(self, params):
        project = find_project(self.client, params["project"])
        rules = self.client.list("/projects/%s/immutabletagrules" % project["project_id"]) if project else []
        return self.read_prefetched(params, project, rules)

    def read_prefetched(self, params, project, rules):
        """read() from data already read (the state module reads in bulk): the project (None when it does
        not exist) and its rules as Harbor lists them."""
        self._project = project
        if self._project is None:
            if params["state"] == "absent":
                return {"rules": []}  # no project, no rules: nothing to remove
            raise InvalidInput("project %s not found" % params["project"])
        return {"rules": rules}

    def bind(self, current):
        self._current = self.by_key(current) if current else {}

    @staticmethod
    def by_key(current):
        out = {}
        for api_rule in current["rules"]:
            repositories, tags = selectors_from_api(api_rule, with_untagged=False)
            rule = {"repositories": repositories, "tags": tags, "disabled": bool(api_rule.get("disabled")),
                    "api": api_rule}
            out[rule_id(repositories, tags)] = rule
        return out

    def state(self, current):
        return {"project": self.module.params["project"],
                "rules": sorted((describe(r) for r in self.by_key(current).values()), key=repr)}

    # the engine's "absent" means "delete the object"; here it means "remove these rules", so the
    # resource is always present and works out the remaining rules itself (like project_member).
    def desired_absent(self, params):
        return False

    def wanted(self, params):
        wanted = {} if params.get("exclusive") else dict(self._current or {})
        for entry in self.entries(params):
            key = rule_id(entry["repositories"], entry["tags"])
            if params["state"] == "absent":
                wanted.pop(key, None)
            else:
                wanted[key] = entry
        return {"project": params["project"], "rules": sorted((describe(r) for r in wanted.values()), key=repr)}

    # -- write -----------------------------------------------------------------------------
    @role_hint
    def create(self, params, wanted):  # read() always returns an object
        raise InvalidInput("project %s not found" % params["project"])

    @role_hint
    def update(self, params, current, changes, wanted):
        if "rules" not in changes:
            return
        base = "/projects/%s/immutabletagrules" % self._project["project_id"]
        target = dict((rule_id(r["repositories"], r["tags"]), r) for r in changes["rules"])
        try:
            for key, rule in self._current.items():
                if key not in target:
                    self.client.delete("%s/%s" % (base, rule["api"]["id"]))
                elif target[key]["disabled"] != rule["disabled"]:
                    body = dict(rule["api"])
                    body["disabled"] = target[key]["disabled"]
                    self.client.update("%s/%s" % (base, rule["api"]["id"]), body)
            for key, rule in target.items():
                if key in self._current:
                    continue
                body = {"disabled": rule["disabled"], "action": "immutable", "template": "immutable_template"}
                body.update(selectors_to_api(rule["repositories"], rule["tags"], with_untagged=False))
                self.client.create(base, body)
        except HarborError as exc:
            if exc.status in (400, 409):
                raise InvalidInput("Harbor rejected an immutable tag rule of project %s: %s"
                                   % (params["project"], exc.describe()))
            raise
