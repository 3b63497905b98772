# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Labels: global (scope "g", managed by system administrators) or of one project (scope "p")."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import InvalidInput, Resource
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.project import check_resource_name
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.retention import find_project, role_hint

COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
MAX_NAME = 128
SCOPES = {"global": "g", "project": "p"}


class LabelResource(Resource):
    kind = "label"

    def __init__(self):
        super(LabelResource, self).__init__()
        self._project = None

    def argument_spec(self):
        return dict(
            name=dict(type="str", required=True),
            scope=dict(type="str", default="global", choices=list(SCOPES)),
            project=dict(type="str"),
            description=dict(type="str"),
            color=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        )

    def module_kwargs(self):
        return dict(required_if=[("scope", "project", ("project",))])

    def validate(self, params):
        name = params["name"]
        if not name.strip() or len(name) > MAX_NAME:
            raise InvalidInput("name must be 1 to %d characters long and not blank" % MAX_NAME)
        if params["scope"] == "global" and params.get("project"):
            raise InvalidInput("project only applies to scope: project labels")
        if params.get("project"):
            check_resource_name(params["project"], "project")
        color = params.get("color")
        if color is not None and color != "" and not COLOR.match(color):
            raise InvalidInput("color %r is invalid: use #RRGGBB, six hexadecimal digits (e.g. #1F6FEB), or \"\" "
                               "for none" % color)

    def needs(self, params):
        if params["scope"] == "global":
            return "global labels are managed by Harbor system administrators"
        return ("managing labels of project %s needs the maintainer or projectAdmin role there, or a system "
                "administrator" % params["project"])

    @role_hint
    def read(self, params):
        query = {"scope": SCOPES[params["scope"]], "name": params["name"]}
        project = None
        if params["scope"] == "project":
            project = find_project(self.client, params["project"])
            if project is None:
                return self.read_prefetched(params, None, [])
            query["project_id"] = project["project_id"]
        return self.read_prefetched(params, project, self.client.list("/labels", params=query))

    def read_prefetched(self, params, project, labels):
        """read() from data already read (the state module reads in bulk): the project of a project label
        (None when it does not exist) and labels of the scope, among them the one named."""
        if params["scope"] == "project":
            self._project = project
            if self._project is None:
                if params["state"] == "absent":
                    return None
                raise InvalidInput("project %s not found" % params["project"])
        # Harbor's name filter is fuzzy: pick the exact name
        for label in labels:
            if label["name"] == params["name"]:
                return label
        return None

    def state(self, current):
        out = {"id": current["id"], "name": current["name"], "description": current.get("description") or "",
               "color": (current.get("color") or "").upper(),
               "scope": "project" if current.get("scope") == "p" else "global"}
        if out["scope"] == "project":
            out["project"] = self.module.params["project"]
        return out

    def wanted(self, params):
        out = {"name": params["name"], "scope": params["scope"]}
        if params["scope"] == "project":
            out["project"] = params["project"]
        if params.get("description") is not None:
            out["description"] = params["description"]
        if params.get("color") is not None:
            out["color"] = params["color"].upper()
        return out

    def body(self, values):
        return {"name": values["name"], "description": values.get("description", ""),
                "color": values.get("color", ""), "scope": SCOPES[values["scope"]],
                "project_id": self._project["project_id"] if self._project else 0}

    @role_hint
    def create(self, params, wanted):
        self.client.create("/labels", self.body(wanted))
        return None

    @role_hint
    def update(self, params, current, changes, wanted):
        merged = self.state(current)
        merged.update(changes)
        self.client.update("/labels/%s" % current["id"], self.body(merged))

    @role_hint
    def delete(self, params, current):
        self.client.delete("/labels/%s" % current["id"])
