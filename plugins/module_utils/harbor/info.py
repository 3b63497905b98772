# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only facts about a Harbor: each kind read with one paginated list."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import InvalidInput

SECRET_FIELDS = ("secret", "access_secret", "password")


def scrub(value):
    """Drop anything secret-looking from what Harbor returned (defence in depth)."""
    if isinstance(value, dict):
        return dict((k, scrub(v)) for k, v in value.items() if k not in SECRET_FIELDS)
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def name_query(name, field="name"):
    return {"q": "%s=~%s" % (field, name)} if name else {}


def gather(client, kinds, project=None, name=None, policy=None, limit=None):
    facts = {}
    for kind in kinds:
        if kind == "system":
            facts["system"] = client.get("/systeminfo")
        elif kind == "projects":
            facts["projects"] = client.list("/projects", params=name_query(name))
        elif kind == "users":
            facts["users"] = client.list("/users", params=name_query(name, "username"))
        elif kind == "members":
            if not project:
                raise InvalidInput("gathering members needs project")
            facts["members"] = client.list("/projects/%s/members" % project,
                                           headers={"X-Is-Resource-Name": "true"},
                                           params={"entityname": name} if name else None)
        elif kind == "registries":
            facts["registries"] = client.list("/registries", params=name_query(name))
        elif kind == "replication_policies":
            facts["replication_policies"] = client.list("/replication/policies", params=name_query(name))
        elif kind == "replication_executions":
            params = {"sort": "-start_time"}
            if policy:
                matches = [p for p in client.list("/replication/policies", params={"q": "name=%s" % policy})
                           if p["name"] == policy]
                if not matches:
                    raise InvalidInput("replication policy %s not found" % policy)
                params["policy_id"] = matches[0]["id"]
            executions = client.list("/replication/executions", params=params)
            facts["replication_executions"] = executions[:limit] if limit else executions
        elif kind == "robots":
            params = name_query(name)
            facts["robots"] = client.list("/robots", params=params)
    return scrub(facts)
