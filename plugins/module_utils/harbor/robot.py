# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Robot accounts (system or project level), their permissions, expiry and secret.

Harbor shows a robot's secret only in the answer to its creation (POST /robots) or to a
refresh (PATCH /robots/{id}); GET never returns it. A fixed `secret` is therefore compared
by logging in as the robot, the way the user module checks passwords.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.client import HarborClient, HarborError
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import InvalidInput, Resource
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.project import check_resource_name
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.retention import role_hint

PREFIX = "robot$"
MAX_DURATION = 2 ** 31 - 1
DEFAULT_DURATION = 30  # Harbor's default robot_token_duration (days)
SYSTEM_NAMESPACE = "/"  # the namespace of system-wide (kind system) permissions

PRESETS = {
    "pull": [("repository", "pull"), ("repository", "read"), ("repository", "list"),
             ("artifact", "read"), ("artifact", "list"), ("tag", "list")],
}
PRESETS["push"] = PRESETS["pull"] + [("repository", "push"), ("tag", "create")]
PRESETS["push_delete"] = PRESETS["push"] + [("repository", "delete"), ("artifact", "delete"), ("tag", "delete")]


def _pairs(spec):
    return dict((resource, set(actions.split())) for resource, actions in spec.items())


# The (resource, action) pairs Harbor v2.15 lets robots hold (src/common/rbac PoliciesMap).
SYSTEM_ACCESS = _pairs({
    "audit-log": "list", "preheat-instance": "read create delete list update", "project": "list create",
    "replication-policy": "read create delete list update", "replication": "read create list",
    "replication-adapter": "list", "registry": "read create delete list update",
    "scan-all": "read update stop create", "system-volumes": "read",
    "garbage-collection": "read create list update stop", "purge-audit": "read create list update stop",
    "jobservice-monitor": "list stop", "scanner": "read create delete list update",
    "label": "read create delete update", "security-hub": "read list", "catalog": "read", "quota": "read list",
    "export-cve": "read create", "ldap-user": "create list", "user": "read create delete list update",
    "user-group": "read create delete list update", "robot": "read create delete list update",
    "configuration": "read update",
})
PROJECT_ACCESS = _pairs({
    "log": "list", "project": "read delete update", "metadata": "read create delete list update",
    "repository": "read update delete list pull push", "artifact": "read create list delete",
    "scan": "create read stop", "tag": "create list delete", "accessory": "list", "artifact-addition": "read",
    "artifact-label": "create delete", "scanner": "create read", "preheat-policy": "read create delete list update",
    "immutable-tag": "create delete list update", "notification-policy": "read create delete list update",
    "tag-retention": "read create delete list update operate", "label": "read create delete list update",
    "quota": "read", "sbom": "create read stop", "export-cve": "read create",
    "member": "read create delete list update", "robot": "read create delete list update",
})

ACCESS_SPEC = dict(resource=dict(type="str", required=True), action=dict(type="str", required=True))
PERMISSION_SPEC = dict(
    resource=dict(type="str"),
    action=dict(type="str"),
    namespace=dict(type="str"),
    access=dict(type="list", elements="dict", options=ACCESS_SPEC),
)


def check_secret(value, option="secret"):
    if not (8 <= len(value) <= 128 and re.search(r"[A-Z]", value) and re.search(r"[a-z]", value)
            and re.search(r"[0-9]", value)):
        raise InvalidInput("%s does not meet Harbor's robot secret policy: 8 to 128 characters with at least one "
                           "upper-case letter, one lower-case letter and one digit" % option)


def check_access(resource, action, kind, where):
    allowed = (SYSTEM_ACCESS if kind == "system" else PROJECT_ACCESS)
    scope = "system-wide (namespace '/')" if kind == "system" else "project"
    if resource not in allowed:
        raise InvalidInput("%s: %r is not a %s resource a robot can be granted; one of %s"
                           % (where, resource, scope, ", ".join(sorted(allowed))))
    if action not in allowed[resource]:
        raise InvalidInput("%s: action %r is not allowed on %s %r; allowed: %s"
                           % (where, action, scope, resource, ", ".join(sorted(allowed[resource]))))


def access_item(resource, action, effect=None):
    item = {"resource": resource, "action": action}
    if effect == "deny":  # "allow" is Harbor's default; keep the noise out of the diff
        item["effect"] = effect
    return item


def sort_access(items):
    unique = dict((repr(sorted(i.items())), i) for i in items)
    return sorted(unique.values(), key=lambda i: (i["resource"], i["action"], i.get("effect", "")))


def kind_of(namespace):
    return "system" if namespace == SYSTEM_NAMESPACE else "project"


def tail_of(api_name):
    """The name without Harbor's robot$ prefix: `name` (system) or `project+name` (project)."""
    return api_name[len(PREFIX):] if api_name.startswith(PREFIX) else api_name


class RobotResource(Resource):
    kind = "robot"
    unordered = ("permissions",)

    def __init__(self):
        super(RobotResource, self).__init__()
        self._project = None
        self._secret = None

    def argument_spec(self):
        return dict(
            name=dict(type="str", required=True),
            level=dict(type="str", default="project", choices=["system", "project"]),
            project=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            description=dict(type="str"),
            duration=dict(type="int"),
            disable=dict(type="bool"),
            permissions=dict(type="list", elements="dict", options=PERMISSION_SPEC),
            permission_preset=dict(type="str", choices=sorted(PRESETS)),
            regenerate_secret=dict(type="bool", default=False),
            secret=dict(type="str", no_log=True),
        )

    def module_kwargs(self):
        return dict(mutually_exclusive=[("secret", "regenerate_secret")],
                    required_if=[("level", "project", ("project",))])

    def identity(self, params):
        return self.tail(params)

    @staticmethod
    def tail(params):
        if params["level"] == "project":
            return "%s+%s" % (params["project"], params["name"])
        return params["name"]

    # -- validation ------------------------------------------------------------------------
    def validate(self, params):
        check_resource_name(params["name"], "name")
        if params.get("project") is not None:
            check_resource_name(params["project"], "project")
        if params["level"] == "system" and params.get("project") and not params.get("permission_preset"):
            raise InvalidInput("project only applies to level: project robots, or as the namespace of "
                               "permission_preset for a level: system robot")
        duration = params.get("duration")
        if duration is not None and not (duration == -1 or 0 < duration < MAX_DURATION):
            raise InvalidInput("duration must be -1 (never expires) or a number of days from 1 to %d; got %d"
                               % (MAX_DURATION - 1, duration))
        if params.get("secret") is not None:
            check_secret(params["secret"])
        if params["state"] == "absent":
            return
        self.wanted_permissions(params)  # raises InvalidInput on a bad shape or pair

    def wanted_permissions(self, params):
        """Canonical permissions from `permissions` + `permission_preset`, or None when neither is set."""
        explicit = params.get("permissions")
        preset = params.get("permission_preset")
        if explicit is None and preset is None:
            return None
        if params["level"] == "project":
            access = []
            for index, entry in enumerate(explicit or []):
                where = "permissions[%d]" % index
                if entry.get("namespace") is not None or entry.get("access") is not None:
                    raise InvalidInput("%s: a project robot's permissions are {resource, action} items in "
                                       "project %s; namespace and access are for level: system" % (where, params["project"]))
                if not entry.get("resource") or not entry.get("action"):
                    raise InvalidInput("%s: set both resource and action" % where)
                check_access(entry["resource"], entry["action"], "project", where)
                access.append(access_item(entry["resource"], entry["action"]))
            access.extend(access_item(r, a) for r, a in PRESETS.get(preset, []))
            if not access:
                raise InvalidInput("permissions is empty: a robot needs at least one permission")
            return sort_access(access)
        by_namespace = {}
        for index, entry in enumerate(explicit or []):
            where = "permissions[%d]" % index
            if entry.get("resource") is not None or entry.get("action") is not None:
                raise InvalidInput("%s: a system robot's permissions are {namespace, access: [{resource, action}]} "
                                   "items; resource and action go inside access" % where)
            namespace = entry.get("namespace")
            if not namespace:
                raise InvalidInput("%s: namespace is required: a project name, '*' for every project, or '/' "
                                   "for system-wide resources" % where)
            if namespace not in ("*", SYSTEM_NAMESPACE):
                check_resource_name(namespace, "%s.namespace" % where)
            if not entry.get("access"):
                raise InvalidInput("%s: access must list at least one {resource, action}" % where)
            for number, item in enumerate(entry["access"]):
                check_access(item["resource"], item["action"], kind_of(namespace), "%s.access[%d]" % (where, number))
                by_namespace.setdefault(namespace, []).append(access_item(item["resource"], item["action"]))
        if preset:
            namespace = params.get("project") or "*"
            by_namespace.setdefault(namespace, []).extend(access_item(r, a) for r, a in PRESETS[preset])
        if not by_namespace:
            raise InvalidInput("permissions is empty: a robot needs at least one permission")
        return sorted(({"namespace": ns, "access": sort_access(items)} for ns, items in by_namespace.items()),
                      key=lambda p: p["namespace"])

    # -- read ------------------------------------------------------------------------------
    def project_of(self, name):
        return self.client.get_or_none("/projects/%s" % name, headers={"X-Is-Resource-Name": "true"})

    def find(self, level, tail, project=None):
        query = "Level=%s" % level
        if level == "project":
            query += ",ProjectID=%s" % project["project_id"]
        # fuzzy on the short name: matches whether Harbor stores the name with its prefix or without
        query += ",name=~%s" % tail.split("+")[-1]
        for robot in self.client.list("/robots", params={"q": query}):
            if tail_of(robot["name"]) == tail:
                return robot
        return None

    def needs(self, params):
        if params["level"] == "system":
            return "system robots are managed by Harbor system administrators"
        return ("managing robots of project %s needs the projectAdmin role there, or a system administrator"
                % params["project"])

    @role_hint
    def read(self, params):
        if params.get("project"):
            self._project = self.project_of(params["project"])
            if self._project is None and params["state"] == "present":
                raise InvalidInput("project %s not found" % params["project"])
            if self._project is None and params["level"] == "project":
                return None  # no project, so no robot of it either
        robot = self.find(params["level"], self.tail(params), self._project)
        if robot is None and params["state"] == "present":
            self.refuse_level_change(params)
        return robot

    def refuse_level_change(self, params):
        """Harbor cannot change a robot's level or project; a robot of the same name at the other
        level is most likely the one the user means, so say so instead of creating a second one."""
        try:
            if params["level"] == "project":
                other = self.find("system", params["name"])
            elif self._project is not None:
                other = self.find("project", "%s+%s" % (params["project"], params["name"]), self._project)
            else:
                other = None
        except HarborError as exc:
            if exc.status != 403:
                raise
            other = None  # e.g. a project admin may not list system robots: nothing to compare with
        if other is not None:
            raise InvalidInput(
                "robot %s exists at level %s; Harbor cannot change a robot's level, name or project after "
                "creation. Delete it (state: absent with its level and project) and create it again, or choose "
                "another name" % (other["name"], other["level"]))

    def state(self, current):
        level = current.get("level")
        out = {"name": tail_of(current["name"]).split("+", 1)[-1], "full_name": current["name"], "level": level,
               "id": current["id"], "description": current.get("description") or "",
               "duration": current.get("duration"), "disable": bool(current.get("disable")),
               "expires_at": current.get("expires_at")}
        perms = current.get("permissions") or []
        if level == "project":
            out["project"] = perms[0]["namespace"] if perms else tail_of(current["name"]).split("+", 1)[0]
            out["permissions"] = sort_access(access_item(a["resource"], a["action"], a.get("effect"))
                                             for p in perms for a in p.get("access") or [])
        else:
            grouped = {}
            for perm in perms:
                grouped.setdefault(perm["namespace"], []).extend(
                    access_item(a["resource"], a["action"], a.get("effect")) for a in perm.get("access") or [])
            out["permissions"] = sorted(({"namespace": ns, "access": sort_access(items)}
                                         for ns, items in grouped.items()), key=lambda p: p["namespace"])
        return out

    def wanted(self, params):
        out = {"name": params["name"], "level": params["level"]}
        if params["level"] == "project":
            out["project"] = params["project"]
        for key in ("description", "duration", "disable"):
            if params.get(key) is not None:
                out[key] = params[key]
        permissions = self.wanted_permissions(params)
        if permissions is not None:
            out["permissions"] = permissions
        return out

    def hidden_changes(self, params, current):
        if params.get("regenerate_secret"):
            return ["secret"]
        if params.get("secret") is not None and self.secret_differs(params, current):
            return ["secret"]
        return []

    def secret_differs(self, params, current):
        """Log in as the robot: a 401 means the secret is not the one given. A disabled or expired
        robot cannot log in at all, so its secret cannot be checked and is left alone."""
        expires = current.get("expires_at")
        if current.get("disable") or params.get("disable") or (expires not in (None, -1) and expires < time.time()):
            return False
        probe = HarborClient(self.client.base, current["name"], params["secret"],
                             validate_certs=self.module.params["validate_certs"],
                             ca_path=self.module.params.get("ca_path"), timeout=self.client.timeout, retries=0)
        try:
            # 412 is Harbor's answer to a robot asking for /users/current: authenticated
            probe.request("GET", "/users/current", ok=(200, 403, 412))
            return False
        except HarborError as exc:
            if exc.status == 401:
                return True
            raise
        finally:
            probe.close()

    # -- write -----------------------------------------------------------------------------
    def api_permissions(self, params, permissions):
        if params["level"] == "project":
            return [{"kind": "project", "namespace": params["project"], "access": permissions}]
        return [{"kind": kind_of(p["namespace"]), "namespace": p["namespace"], "access": p["access"]}
                for p in permissions]

    @role_hint
    def create(self, params, wanted):
        if "permissions" not in wanted:
            raise InvalidInput("creating robot %s needs permissions and/or permission_preset" % self.tail(params))
        body = {
            "name": params["name"], "level": params["level"], "description": wanted.get("description", ""),
            "duration": wanted.get("duration", DEFAULT_DURATION), "disable": wanted.get("disable", False),
            "permissions": self.api_permissions(params, wanted["permissions"]),
        }
        if params.get("secret"):
            body["secret"] = params["secret"]
        try:
            new_id, answer = self.client.create("/robots", body)
        except HarborError as exc:
            raise self.rejected(exc)
        answer = answer or {}
        if not params.get("secret"):
            self._secret = answer.get("secret")  # Harbor generated it: the one time it can be returned
        robot_id = new_id if new_id is not None else answer.get("id")
        robot = self.client.get_or_none("/robots/%s" % robot_id) if robot_id is not None else None
        return self.state(robot) if robot else None

    @role_hint
    def update(self, params, current, changes, wanted):
        visible = [k for k in changes if k != "secret"]
        if "level" in visible or "name" in visible or "project" in visible:
            raise InvalidInput("robot %s: Harbor cannot change a robot's level, name or project after creation; "
                               "delete it and create it again" % current["name"])
        if visible:
            before = self.state(current)
            merged = dict(before)
            merged.update(changes)
            body = {
                "name": current["name"], "level": current["level"], "description": merged["description"],
                "duration": merged["duration"], "disable": merged["disable"],
                # the API shape of what Harbor holds now, or of the new permissions
                "permissions": (self.api_permissions(params, changes["permissions"]) if "permissions" in changes
                                else current.get("permissions")),
            }
            try:
                self.client.update("/robots/%s" % current["id"], body)
            except HarborError as exc:
                raise self.rejected(exc)
        if changes.get("secret"):
            body = {"secret": params["secret"]} if params.get("secret") else {}
            response = self.client.request("PATCH", "/robots/%s" % current["id"], json=body, ok=(200,))
            if not params.get("secret"):
                self._secret = (response.json() or {}).get("secret")

    def rejected(self, exc):
        if exc.status == 400:
            return InvalidInput("Harbor rejected the robot's settings: %s" % exc.describe())
        return exc

    @role_hint
    def delete(self, params, current):
        self.client.delete("/robots/%s" % current["id"])

    def extra_result(self, params, current, after):
        return {"secret": self._secret} if self._secret else {}
