# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A project's membership as one object: {"user:alice": "developer", "group:ops": "guest"}."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import InvalidInput, Resource

ROLE_IDS = {"projectAdmin": 1, "developer": 2, "guest": 3, "maintainer": 4, "limitedGuest": 5}
ROLE_NAMES = dict((v, k) for k, v in ROLE_IDS.items())
GROUP_TYPES = {"ldap": 1, "http": 2, "oidc": 3}

MEMBER_SPEC = dict(
    user=dict(type="str"),
    group=dict(type="str"),
    group_type=dict(type="str", choices=list(GROUP_TYPES), default="http"),
    ldap_group_dn=dict(type="str"),
    role=dict(type="str", choices=list(ROLE_IDS)),
)


def member_key(entry):
    if entry.get("user"):
        return "user:%s" % entry["user"]
    return "group:%s" % entry["group"]


def key_of(api_member):
    prefix = "user" if api_member["entity_type"] == "u" else "group"
    return "%s:%s" % (prefix, api_member["entity_name"])


class MembersResource(Resource):
    kind = "membership"

    def __init__(self):
        super(MembersResource, self).__init__()
        self._current = None

    def argument_spec(self):
        spec = dict(
            project=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            members=dict(type="list", elements="dict", options=MEMBER_SPEC),
            exclusive=dict(type="bool", default=False),
        )
        spec.update(MEMBER_SPEC)
        return spec

    def module_kwargs(self):
        return dict(mutually_exclusive=[("user", "group"), ("members", "user"), ("members", "group")])

    def identity(self, params):
        return params["project"]

    def entries(self, params):
        if params.get("members") is not None:
            return params["members"]
        if params.get("user") or params.get("group"):
            return [dict((k, params.get(k)) for k in MEMBER_SPEC)]
        return []

    def validate(self, params):
        entries = self.entries(params)
        if not entries and not params.get("exclusive"):
            raise InvalidInput("set user, group or members (or exclusive: true with members: [] to remove everyone)")
        if params.get("exclusive") and params.get("members") is None:
            raise InvalidInput("exclusive applies to the list form: set members")
        seen = set()
        for index, entry in enumerate(entries):
            where = "members[%d]" % index if params.get("members") is not None else "options"
            if bool(entry.get("user")) == bool(entry.get("group")):
                raise InvalidInput("%s: set exactly one of user and group" % where)
            if params["state"] == "present" and not entry.get("role"):
                raise InvalidInput("%s: role is required (one of %s)" % (where, ", ".join(ROLE_IDS)))
            if entry.get("group") and entry.get("group_type") == "ldap" and not entry.get("ldap_group_dn"):
                raise InvalidInput("%s: an LDAP group needs ldap_group_dn" % where)
            key = member_key(entry)
            if key in seen:
                raise InvalidInput("%s: %s is listed twice" % (where, key))
            seen.add(key)

    def read(self, params):
        project = self.client.get_or_none("/projects/%s" % params["project"], headers={"X-Is-Resource-Name": "true"})
        if project is None:
            raise InvalidInput("project %s not found" % params["project"])
        members = self.client.list("/projects/%s/members" % project["project_id"])
        return {"project": project, "members": dict((key_of(m), m) for m in members)}

    def state(self, current):
        return {"members": dict((k, ROLE_NAMES.get(m["role_id"], str(m["role_id"])))
                                for k, m in current["members"].items())}

    def wanted(self, params):
        return {"members": self._wanted_members(params)}

    def _wanted_members(self, params):
        current = self._current.get("members", {}) if self._current else {}
        entries = self.entries(params)
        if params["state"] == "absent":
            wanted = dict(current)
            for entry in entries:
                wanted.pop(member_key(entry), None)
            return wanted
        wanted = {} if params.get("exclusive") else dict(current)
        for entry in entries:
            wanted[member_key(entry)] = entry["role"]
        caller = "user:%s" % self.module.params["api_username"] if self.module else None
        if params.get("exclusive") and caller in current and caller not in wanted:
            wanted[caller] = current[caller]  # never lock out the account running the module
        return wanted

    # the engine treats state=absent as "delete the object"; here it means "remove these members",
    # so the resource always reports present and computes the remaining membership itself.
    def desired_absent(self, params):
        return False

    def bind(self, current):
        self._current = self.state(current) if current else None

    def create(self, params, wanted):
        raise InvalidInput("project %s not found" % params["project"])

    def update(self, params, current, changes, wanted):
        project_id = current["project"]["project_id"]
        target = changes["members"]
        by_key = dict((member_key(e), e) for e in self.entries(params))
        for key, member in current["members"].items():
            if key not in target:
                self.client.delete("/projects/%s/members/%s" % (project_id, member["id"]))
            elif ROLE_IDS[target[key]] != member["role_id"]:
                self.client.update("/projects/%s/members/%s" % (project_id, member["id"]),
                                   {"role_id": ROLE_IDS[target[key]]})
        for key, role in target.items():
            if key in current["members"]:
                continue
            entry = by_key[key]
            body = {"role_id": ROLE_IDS[role]}
            if entry.get("user"):
                body["member_user"] = {"username": entry["user"]}
            else:
                group = {"group_name": entry["group"], "group_type": GROUP_TYPES[entry.get("group_type") or "http"]}
                if entry.get("ldap_group_dn"):
                    group["ldap_group_dn"] = entry["ldap_group_dn"]
                body["member_group"] = group
            self.client.create("/projects/%s/members" % project_id, body)
