# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A project's tag retention policy, and the selector shape it shares with immutable tag rules.

Harbor keeps one policy per project: POST /retentions only while the project's metadata has
no `retention_id`, PUT /retentions/{id} afterwards. DELETE /retentions/{id} leaves that
metadata behind (POST is then refused until it is cleared), so "absent" is a PUT with no
rules and no schedule, which is also what Harbor's UI does.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.client import HarborError
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import InvalidInput, Resource
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.project import check_resource_name
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.schedule import parse_schedule

MAX_RULES = 15
# template -> its one parameter (None: takes none), as in GET /retentions/metadatas
TEMPLATES = {
    "always": None,
    "latestPushedK": "latestPushedK",
    "latestPulledN": "latestPulledN",
    "nDaysSinceLastPush": "nDaysSinceLastPush",
    "nDaysSinceLastPull": "nDaysSinceLastPull",
}

# module decoration -> Harbor decoration, for tags and repositories
TAG_DECORATIONS = {"matching": "matches", "excluding": "excludes"}
REPO_DECORATIONS = {"matching": "repoMatches", "excluding": "repoExcludes"}

SELECTOR_SPEC = dict(
    decoration=dict(type="str", choices=["matching", "excluding"], default="matching"),
    pattern=dict(type="str", default="**"),
)
TAG_SELECTOR_SPEC = dict(SELECTOR_SPEC, untagged=dict(type="bool", default=True))


def selector_defaults(value, untagged=None):
    """A selector option as given, with defaults (Ansible leaves an omitted dict option None)."""
    value = dict(value or {})
    pattern = value.get("pattern")
    out = {"decoration": value.get("decoration") or "matching", "pattern": "**" if pattern is None else pattern}
    if untagged is not None:
        out["untagged"] = untagged if value.get("untagged") is None else bool(value["untagged"])
    return out


def check_pattern(pattern, where):
    if not pattern or not pattern.strip():
        raise InvalidInput("%s.pattern must not be empty; use ** for everything" % where)


def selectors_to_api(repositories, tags, with_untagged):
    tag = {"kind": "doublestar", "decoration": TAG_DECORATIONS[tags["decoration"]], "pattern": tags["pattern"]}
    if with_untagged:
        tag["extras"] = json.dumps({"untagged": bool(tags["untagged"])})
    repo = {"kind": "doublestar", "decoration": REPO_DECORATIONS[repositories["decoration"]],
            "pattern": repositories["pattern"]}
    return {"tag_selectors": [tag], "scope_selectors": {"repository": [repo]}}


def _decoration(api_value, table):
    for option, harbor in table.items():
        if harbor == api_value:
            return option
    return api_value


def selectors_from_api(rule, with_untagged):
    """(repositories, tags) of an API rule, in the module's shape. Harbor's UI makes one selector of
    each kind; the first one is the rule's."""
    tags = (rule.get("tag_selectors") or [{}])[0]
    repos = ((rule.get("scope_selectors") or {}).get("repository") or [{}])[0]
    repositories = {"decoration": _decoration(repos.get("decoration"), REPO_DECORATIONS),
                    "pattern": repos.get("pattern")}
    tag_out = {"decoration": _decoration(tags.get("decoration"), TAG_DECORATIONS), "pattern": tags.get("pattern")}
    if with_untagged:
        try:
            extras = json.loads(tags.get("extras") or "{}")
        except ValueError:
            extras = {}
        tag_out["untagged"] = bool(extras.get("untagged", False))
    return repositories, tag_out


def role_hint(method):
    """Add the resource's `needs(params)` (the Harbor role a change takes) to a 403 from `method`."""
    def wrapper(self, params, *args):
        try:
            return method(self, params, *args)
        except HarborError as exc:
            if exc.status != 403:
                raise
            raise HarborError(exc.status, exc.method, exc.path, "%s; %s" % (exc.message, self.needs(params)),
                              exc.code, exc.request_id)
    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


def find_project(client, name):
    return client.get_or_none("/projects/%s" % name, headers={"X-Is-Resource-Name": "true"})


def schedule_cron(schedule):
    """The cron of the `schedule` option ("" for none, None when not set); raises InvalidInput."""
    if schedule is None:
        return None
    cron = parse_schedule(schedule, "schedule")[1]
    if cron and cron.split()[1] == "*":
        raise InvalidInput("schedule %r: the minutes field cannot be '*' (Harbor refuses a job every minute)"
                           % schedule)
    return cron


def rule_key(rule):
    return json.dumps(rule, sort_keys=True)


class RetentionResource(Resource):
    kind = "retention_policy"
    unordered = ("rules",)

    def __init__(self):
        super(RetentionResource, self).__init__()
        self._project = None
        self._policy = None
        self._dangling = False

    def argument_spec(self):
        return dict(
            project=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            rules=dict(type="list", elements="dict", options=dict(
                template=dict(type="str", required=True, choices=list(TEMPLATES)),
                params=dict(type="dict", default={}),
                repositories=dict(type="dict", options=SELECTOR_SPEC),
                tags=dict(type="dict", options=TAG_SELECTOR_SPEC),
                disabled=dict(type="bool", default=False),
            )),
            schedule=dict(type="str"),
        )

    def identity(self, params):
        return params["project"]

    # -- validation ------------------------------------------------------------------------
    def validate(self, params):
        check_resource_name(params["project"], "project")
        schedule_cron(params.get("schedule"))
        if params["state"] == "absent":
            if params.get("rules") or params.get("schedule"):
                raise InvalidInput("state: absent removes every rule and the schedule; do not set rules or schedule")
            return
        if params.get("rules") is None:
            raise InvalidInput("rules is required with state: present (state: absent removes the policy's rules)")
        if not params["rules"]:
            raise InvalidInput("rules is empty: use state: absent to remove every rule")
        if len(params["rules"]) > MAX_RULES:
            raise InvalidInput("rules has %d rules; Harbor allows at most %d" % (len(params["rules"]), MAX_RULES))
        seen = {}
        for index, rule in enumerate(self.wanted_rules(params)):
            key = rule_key(rule)
            if key in seen:
                raise InvalidInput("rules[%d] is the same as rules[%d]; Harbor refuses duplicate rules"
                                   % (index, seen[key]))
            seen[key] = index

    @staticmethod
    def rule_params(rule, where):
        key = TEMPLATES[rule["template"]]
        given = dict(rule.get("params") or {})
        if key is None:
            if given:
                raise InvalidInput("%s.params: template always takes no parameters" % where)
            return {}
        unknown = sorted(k for k in given if k != key)
        if unknown:
            raise InvalidInput("%s.params: template %s takes only %s, not %s"
                               % (where, rule["template"], key, ", ".join(unknown)))
        if key not in given:
            raise InvalidInput("%s.params.%s is required by template %s (a count or a number of days)"
                               % (where, key, rule["template"]))
        value = given[key]
        try:
            number = int(value)
            if isinstance(value, bool) or str(number) != str(value).strip():
                raise ValueError
        except (TypeError, ValueError):
            raise InvalidInput("%s.params.%s must be a whole number, not %r" % (where, key, value))
        if number < 0:
            raise InvalidInput("%s.params.%s must not be negative" % (where, key))
        return {key: number}

    def wanted_rules(self, params):
        out = []
        for index, rule in enumerate(params.get("rules") or []):
            where = "rules[%d]" % index
            repositories = selector_defaults(rule.get("repositories"))
            tags = selector_defaults(rule.get("tags"), untagged=True)
            check_pattern(repositories["pattern"], where + ".repositories")
            check_pattern(tags["pattern"], where + ".tags")
            out.append({"template": rule["template"], "params": self.rule_params(rule, where),
                        "repositories": repositories, "tags": tags, "disabled": bool(rule.get("disabled"))})
        return out

    # -- read ------------------------------------------------------------------------------
    def needs(self, params):
        return ("managing the retention policy of project %s needs the maintainer or projectAdmin role there, "
                "or a system administrator" % params["project"])

    @role_hint
    def read(self, params):
        project = find_project(self.client, params["project"])
        policy_id = ((project or {}).get("metadata") or {}).get("retention_id")
        policy = self.client.get_or_none("/retentions/%s" % policy_id) if policy_id else None
        return self.read_prefetched(params, project, policy)

    def read_prefetched(self, params, project, policy):
        """read() from data already read (the state module reads in bulk): the project (None when it does
        not exist) and the policy its retention_id points at (None when there is none or it is gone)."""
        self._project = project
        if self._project is None:
            if params["state"] == "absent":
                return None
            raise InvalidInput("project %s not found" % params["project"])
        policy_id = (self._project.get("metadata") or {}).get("retention_id")
        if policy_id:
            self._policy = policy
            # a policy deleted through DELETE /retentions leaves retention_id behind, and Harbor then
            # refuses POST for the project: create() clears it first
            self._dangling = self._policy is None
        if self._policy is None:
            return None
        state = self.state(self._policy)
        # a policy without rules and schedule is what "absent" leaves: report it as absent
        return self._policy if state["rules"] or state["schedule"] != "none" else None

    def state(self, current):
        rules = []
        for rule in current.get("rules") or []:
            repositories, tags = selectors_from_api(rule, with_untagged=True)
            params = dict((k, int(v)) for k, v in (rule.get("params") or {}).items()
                          if v is not None and TEMPLATES.get(rule.get("template")) == k)
            rules.append({"template": rule.get("template"), "params": params, "repositories": repositories,
                          "tags": tags, "disabled": bool(rule.get("disabled"))})
        cron = ((current.get("trigger") or {}).get("settings") or {}).get("cron") or ""
        return {"project": self.module.params["project"] if self.module else None, "id": current.get("id"),
                "rules": rules, "schedule": cron or "none"}

    def wanted(self, params):
        out = {"project": params["project"], "rules": self.wanted_rules(params)}
        cron = schedule_cron(params.get("schedule"))
        if cron is not None:
            out["schedule"] = cron or "none"
        return out

    # -- write -----------------------------------------------------------------------------
    def body(self, rules, cron):
        api_rules = []
        for rule in rules:
            api_rule = {"disabled": rule["disabled"], "action": "retain", "template": rule["template"],
                        "params": rule["params"]}
            api_rule.update(selectors_to_api(rule["repositories"], rule["tags"], with_untagged=True))
            api_rules.append(api_rule)
        return {"algorithm": "or", "rules": api_rules,
                "trigger": {"kind": "Schedule", "settings": {"cron": cron}},
                "scope": {"level": "project", "ref": self._project["project_id"]}}

    def put(self, body):
        try:
            self.client.update("/retentions/%s" % self._policy["id"], body)
        except HarborError as exc:
            raise self.rejected(exc)

    def rejected(self, exc):
        if exc.status in (400, 409):
            return InvalidInput("Harbor rejected the retention policy of project %s: %s"
                                % (self.module.params["project"], exc.describe()))
        return exc

    @role_hint
    def create(self, params, wanted):
        cron = wanted.get("schedule", "none")
        body = self.body(wanted["rules"], "" if cron == "none" else cron)
        if self._policy is not None:  # an emptied policy: Harbor wants PUT, never a second POST
            self.put(body)
            return None
        if self._dangling:
            self.client.delete("/projects/%s/metadatas/retention_id" % self._project["project_id"])
        try:
            self.client.create("/retentions", body)
        except HarborError as exc:
            raise self.rejected(exc)
        return None

    @role_hint
    def update(self, params, current, changes, wanted):
        merged = self.state(current)
        merged.update(changes)
        cron = merged["schedule"]
        self.put(self.body(merged["rules"], "" if cron == "none" else cron))

    @role_hint
    def delete(self, params, current):
        self.put(self.body([], ""))
