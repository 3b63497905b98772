# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registry endpoints: the remote registries that replication and proxy caches use."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.client import HarborError
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import InvalidInput, Resource

REGISTRY_TYPES = ["harbor", "docker-hub", "docker-registry", "huawei-SWR", "google-gcr", "aws-ecr", "azure-acr",
                  "ali-acr", "jfrog-artifactory", "quay", "gitlab", "dtr", "tencent-tcr", "github-ghcr",
                  "volcengine-cr"]


def find_registry(client, name):
    for registry in client.list("/registries", params={"q": "name=%s" % name}):
        if registry["name"] == name:
            return registry
    return None


def policies_using(client, registry_id):
    names = []
    for policy in client.list("/replication/policies"):
        for side in ("src_registry", "dest_registry"):
            if (policy.get(side) or {}).get("id") == registry_id:
                names.append(policy["name"])
    return sorted(set(names))


class RegistryResource(Resource):
    kind = "registry"

    def argument_spec(self):
        return dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            type=dict(type="str", choices=REGISTRY_TYPES),
            url=dict(type="str"),
            access_key=dict(type="str", no_log=False),
            access_secret=dict(type="str", no_log=True),
            update_secret=dict(type="str", default="on_create", choices=["on_create", "always"], no_log=False),
            insecure=dict(type="bool"),
            ca_certificate=dict(type="str"),
            description=dict(type="str"),
        )

    def validate(self, params):
        url = params.get("url")
        if url is not None and not url.startswith(("http://", "https://")):
            raise InvalidInput("url %r must start with http:// or https://" % url)
        if bool(params.get("access_key")) != bool(params.get("access_secret")) and params.get("access_secret"):
            raise InvalidInput("access_secret needs access_key")

    def read(self, params):
        return find_registry(self.client, params["name"])

    def state(self, current):
        credential = current.get("credential") or {}
        out = {
            "name": current["name"], "type": current.get("type"), "url": current.get("url"),
            "insecure": bool(current.get("insecure")), "description": current.get("description") or "",
            "access_key": credential.get("access_key") or "",
        }
        if current.get("ca_certificate"):
            out["ca_certificate"] = current["ca_certificate"]
        return out

    def wanted(self, params):
        out = {"name": params["name"]}
        for key in ("type", "url", "insecure", "description", "access_key", "ca_certificate"):
            if params.get(key) is not None:
                out[key] = params[key]
        if out.get("url"):
            out["url"] = out["url"].rstrip("/")
        return out

    def hidden_changes(self, params, current):
        # Harbor never returns the secret: with update_secret=always it is sent (and reported) every run.
        if params.get("access_secret") and params["update_secret"] == "always":
            return ["access_secret"]
        return []

    def create(self, params, wanted):
        if not params.get("type") or not params.get("url"):
            raise InvalidInput("creating registry endpoint %s needs type and url" % params["name"])
        body = {"name": params["name"], "type": params["type"], "url": wanted["url"],
                "insecure": bool(params.get("insecure")), "description": params.get("description") or ""}
        if params.get("access_key"):
            body["credential"] = {"type": "basic", "access_key": params["access_key"],
                                  "access_secret": params.get("access_secret") or ""}
        if params.get("ca_certificate"):
            body["ca_certificate"] = params["ca_certificate"]
        try:
            self.client.create("/registries", body)
        except HarborError as exc:
            if exc.status == 400:
                raise InvalidInput(
                    "Harbor refused registry endpoint %s (%s): %s. Harbor checks that the endpoint is reachable "
                    "and the credentials work before it saves it; check url, access_key/access_secret, insecure "
                    "and that the remote registry is up" % (params["name"], params["url"], exc.message))
            raise

    def update(self, params, current, changes, wanted):
        if "type" in changes:
            raise InvalidInput("registry endpoint %s: the type cannot be changed (%s -> %s); delete and re-create it"
                               % (params["name"], current.get("type"), changes["type"]))
        body = dict((k, v) for k, v in changes.items() if k in ("url", "insecure", "description", "ca_certificate"))
        if "access_key" in changes or "access_secret" in changes:
            body.update(credential_type="basic", access_key=params.get("access_key") or "",
                        access_secret=params.get("access_secret") or "")
        try:
            self.client.update("/registries/%s" % current["id"], body)
        except HarborError as exc:
            if exc.status == 400:
                raise InvalidInput("Harbor refused the change of registry endpoint %s: %s"
                                   % (params["name"], exc.message))
            raise

    def delete(self, params, current):
        try:
            self.client.delete("/registries/%s" % current["id"])
        except HarborError as exc:
            if exc.status == 412:
                users = policies_using(self.client, current["id"])
                raise InvalidInput("registry endpoint %s is still used by replication policies: %s; delete or change "
                                   "them first" % (params["name"], ", ".join(users) or "(a proxy-cache project)"))
            raise
