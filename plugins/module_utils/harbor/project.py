# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Harbor project resource: metadata, CVE allowlist, storage quota, proxy cache."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.client import HarborError
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import InvalidInput, Resource
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.units import format_size, parse_size

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    from urllib import quote

NAME_PATTERN = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
SEVERITIES = ["none", "low", "medium", "high", "critical"]

# module option -> Harbor metadata key (all values are strings in Harbor)
METADATA = {
    "public": "public",
    "auto_scan": "auto_scan",
    "content_trust": "enable_content_trust",
    "content_trust_cosign": "enable_content_trust_cosign",
    "prevent_vulnerable": "prevent_vul",
    "severity": "severity",
    "auto_sbom": "auto_sbom_generation",
    "reuse_sys_cve_allowlist": "reuse_sys_cve_allowlist",
    "proxy_speed_kb": "proxy_speed_kb",
}


def check_resource_name(value, option):
    if not value or len(value) > 255 or not NAME_PATTERN.match(value):
        raise InvalidInput(
            "%s %r is invalid: Harbor names are lower-case letters and digits, optionally separated by single "
            "'.', '_' or '-' (pattern ^[a-z0-9]+(?:[._-][a-z0-9]+)*$), at most 255 characters" % (option, value))


def metadata_string(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def repository_path(name):
    """Harbor wants a repository name inside a path URL-encoded twice (a/b -> a%252Fb)."""
    return quote(quote(name, safe=""), safe="")


class ProjectResource(Resource):
    kind = "project"
    unordered = ("cve_allowlist",)
    # Set by the state module, which reads every registry endpoint once: {"registries": {name: registry}}.
    # None (the single-object module): look the name up over HTTP.
    prefetched = None

    def argument_spec(self):
        return dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            public=dict(type="bool"),
            auto_scan=dict(type="bool"),
            content_trust=dict(type="bool"),
            content_trust_cosign=dict(type="bool"),
            prevent_vulnerable=dict(type="bool"),
            severity=dict(type="str", choices=SEVERITIES),
            auto_sbom=dict(type="bool"),
            reuse_sys_cve_allowlist=dict(type="bool"),
            cve_allowlist=dict(type="list", elements="str"),
            storage_quota=dict(type="str"),
            proxy_cache_registry=dict(type="str"),
            proxy_speed_kb=dict(type="int"),
            force=dict(type="bool", default=False),
        )

    def validate(self, params):
        check_resource_name(params["name"], "name")
        if params.get("storage_quota") is not None:
            try:
                parse_size(params["storage_quota"])
            except ValueError as exc:
                raise InvalidInput("storage_quota: %s" % exc)
        speed = params.get("proxy_speed_kb")
        if speed is not None and speed != -1 and speed <= 0:
            raise InvalidInput("proxy_speed_kb must be -1 (no limit) or a positive number of KB/s")
        if speed is not None and not params.get("proxy_cache_registry"):
            raise InvalidInput("proxy_speed_kb only applies to proxy-cache projects: set proxy_cache_registry")

    # -- read ------------------------------------------------------------------------------
    def read(self, params):
        project = self.client.get_or_none("/projects/%s" % params["name"], headers={"X-Is-Resource-Name": "true"})
        if project is None:
            return None
        quota = None
        if params.get("storage_quota") is not None:
            quotas = self.client.get("/quotas", params={"reference": "project",
                                                        "reference_id": project["project_id"]}) or []
            quota = quotas[0] if quotas else None
        return {"project": project, "quota": quota}

    def state(self, current):
        project = current["project"]
        metadata = project.get("metadata") or {}
        out = {"name": project["name"]}
        for option, key in METADATA.items():
            if key in metadata:
                out[option] = metadata[key]
        out["public"] = metadata.get("public", "false")
        allowlist = project.get("cve_allowlist") or {}
        out["cve_allowlist"] = [item["cve_id"] for item in allowlist.get("items") or []]
        if project.get("registry_id"):
            out["proxy_cache_registry_id"] = project["registry_id"]
        if current.get("quota"):
            out["storage_quota"] = format_size(current["quota"]["hard"].get("storage", -1))
        return out

    def wanted(self, params):
        out = {"name": params["name"]}
        for option in METADATA:
            if params.get(option) is not None:
                out[option] = metadata_string(params[option])
        if params.get("cve_allowlist") is not None:
            out["cve_allowlist"] = list(params["cve_allowlist"])
        if params.get("storage_quota") is not None:
            out["storage_quota"] = format_size(parse_size(params["storage_quota"]))
        if params.get("proxy_cache_registry"):
            out["proxy_cache_registry_id"] = self.registry_id(params["proxy_cache_registry"])
        return out

    def registry_id(self, name):
        if self.prefetched is not None and "registries" in self.prefetched:
            known = self.prefetched["registries"].get(name)
            if known is not None:
                return known["id"]
        else:
            for registry in self.client.list("/registries", params={"q": "name=%s" % name}):
                if registry["name"] == name:
                    return registry["id"]
        raise InvalidInput("proxy_cache_registry %r: no registry endpoint with that name exists in Harbor" % name)

    # -- write -----------------------------------------------------------------------------
    @staticmethod
    def metadata_body(wanted):
        return dict((METADATA[k], v) for k, v in wanted.items() if k in METADATA)

    def create(self, params, wanted):
        body = {"project_name": params["name"], "metadata": self.metadata_body(wanted)}
        if "storage_quota" in wanted:
            body["storage_limit"] = parse_size(params["storage_quota"])
        if "proxy_cache_registry_id" in wanted:
            body["registry_id"] = wanted["proxy_cache_registry_id"]
        new_id, dummy = self.client.create("/projects", body)
        if wanted.get("cve_allowlist"):
            # Harbor ignores the allowlist on create; it takes it on update
            self.client.update("/projects/%s" % new_id,
                               {"cve_allowlist": {"items": [{"cve_id": c} for c in wanted["cve_allowlist"]]}})
        return None

    def update(self, params, current, changes, wanted):
        project = current["project"]
        if "proxy_cache_registry_id" in changes:
            raise InvalidInput("project %s: the proxy cache registry of an existing project cannot be changed "
                               "(Harbor sets it only at creation); delete and re-create the project"
                               % params["name"])
        body = {}
        metadata = self.metadata_body(changes)
        if metadata:
            body["metadata"] = metadata
        if "cve_allowlist" in changes:
            body["cve_allowlist"] = {"items": [{"cve_id": c} for c in changes["cve_allowlist"]]}
        if body:
            self.client.update("/projects/%s" % project["project_id"], body)
        if "storage_quota" in changes:
            quota = current.get("quota")
            if quota is None:
                raise InvalidInput("project %s has no quota record in Harbor" % params["name"])
            self.client.update("/quotas/%s" % quota["id"], {"hard": {"storage": parse_size(params["storage_quota"])}})

    def delete(self, params, current):
        project = current["project"]
        path = "/projects/%s" % project["project_id"]
        if params.get("force"):
            for repository in self.client.list("/projects/%s/repositories" % project["name"]):
                short = repository["name"].split("/", 1)[1]
                self.client.delete("/projects/%s/repositories/%s" % (project["name"], repository_path(short)))
        try:
            self.client.delete(path)
        except HarborError as exc:
            if exc.status == 412:
                raise InvalidInput(
                    "project %s cannot be deleted: %s. Harbor refuses to delete a project that still holds "
                    "repositories (or is used by a replication policy); set force: true to delete its "
                    "repositories first" % (params["name"], exc.message))
            raise
