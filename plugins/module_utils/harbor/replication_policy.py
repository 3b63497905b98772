# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replication policies: push to or pull from a registry endpoint."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import InvalidInput, Resource
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.registry import find_registry
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.schedule import check_cron

FILTER_SPEC = dict(
    name=dict(type="str"),
    tag=dict(type="str"),
    tag_decoration=dict(type="str", choices=["matches", "excludes"], default="matches"),
    labels=dict(type="list", elements="str"),
    label_decoration=dict(type="str", choices=["matches", "excludes"], default="matches"),
    resource=dict(type="str", choices=["image", "artifact"]),
)


def check_replication_cron(cron, option="cron"):
    """Harbor's cron rules plus the replication-specific one: minutes cannot be '*'."""
    cron = check_cron(cron, option)
    if cron.split()[1] == "*":
        raise InvalidInput("%s %r: the minutes field cannot be '*' (Harbor refuses replication schedules every "
                           "minute)" % (option, cron))
    return cron


def filters_from_api(api_filters):
    out = {}
    for item in api_filters or []:
        kind, value = item.get("type"), item.get("value")
        if kind == "name":
            out["name"] = value
        elif kind == "tag":
            out["tag"] = value
            out["tag_decoration"] = item.get("decoration") or "matches"
        elif kind == "label":
            out["labels"] = sorted(value or [])
            out["label_decoration"] = item.get("decoration") or "matches"
        elif kind == "resource":
            out["resource"] = value
    return out


def filters_wanted(filters):
    out = {}
    if filters.get("name"):
        out["name"] = filters["name"]
    if filters.get("tag"):
        out["tag"] = filters["tag"]
        out["tag_decoration"] = filters.get("tag_decoration") or "matches"
    if filters.get("labels"):
        out["labels"] = sorted(filters["labels"])
        out["label_decoration"] = filters.get("label_decoration") or "matches"
    if filters.get("resource"):
        out["resource"] = filters["resource"]
    return out


def filters_to_api(filters):
    api = []
    if filters.get("name"):
        api.append({"type": "name", "value": filters["name"]})
    if filters.get("tag"):
        api.append({"type": "tag", "value": filters["tag"], "decoration": filters.get("tag_decoration", "matches")})
    if filters.get("labels"):
        api.append({"type": "label", "value": filters["labels"],
                    "decoration": filters.get("label_decoration", "matches")})
    if filters.get("resource"):
        api.append({"type": "resource", "value": filters["resource"]})
    return api


def find_policy(client, name):
    for policy in client.list("/replication/policies", params={"q": "name=%s" % name}):
        if policy["name"] == name:
            return policy
    return None


class ReplicationPolicyResource(Resource):
    kind = "policy"
    # Set by the state module, which reads every registry endpoint once: {"registries": {name: registry}}.
    # None (the single-object module): look the name up over HTTP.
    prefetched = None

    def argument_spec(self):
        return dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            description=dict(type="str"),
            direction=dict(type="str", choices=["push", "pull"]),
            registry=dict(type="str"),
            filters=dict(type="dict", options=FILTER_SPEC),
            trigger=dict(type="str", choices=["manual", "scheduled", "event_based"]),
            cron=dict(type="str"),
            dest_namespace=dict(type="str"),
            dest_namespace_replace_count=dict(type="int"),
            replicate_deletion=dict(type="bool"),
            override=dict(type="bool"),
            enabled=dict(type="bool"),
            speed_kb=dict(type="int"),
            copy_by_chunk=dict(type="bool"),
            single_active=dict(type="bool"),
        )

    def module_kwargs(self):
        return dict(required_if=[("trigger", "scheduled", ["cron"])],
                    required_together=[("direction", "registry")])

    def validate(self, params):
        if params.get("cron") is not None:
            if params.get("trigger") not in (None, "scheduled"):
                raise InvalidInput("cron only applies to trigger: scheduled")
            check_replication_cron(params["cron"])
        if params.get("single_active") and params.get("trigger") == "event_based":
            raise InvalidInput("single_active cannot be used with trigger: event_based (Harbor refuses it)")
        count = params.get("dest_namespace_replace_count")
        if count is not None and count not in (-1, 0, 1, 2, 3):
            raise InvalidInput("dest_namespace_replace_count must be -1 (flatten all), 0 (none) or 1 to 3 levels")
        speed = params.get("speed_kb")
        if speed is not None and speed < -1:
            raise InvalidInput("speed_kb must be -1 or 0 (no limit) or a positive number of KB/s")

    def read(self, params):
        return find_policy(self.client, params["name"])

    def state(self, current):
        pull = bool(current.get("src_registry") and current["src_registry"].get("id"))
        remote = current["src_registry"] if pull else (current.get("dest_registry") or {})
        trigger = current.get("trigger") or {}
        out = {
            "name": current["name"], "description": current.get("description") or "",
            "direction": "pull" if pull else "push", "registry": remote.get("name"),
            "filters": filters_from_api(current.get("filters")),
            "trigger": trigger.get("type") or "manual",
            "dest_namespace": current.get("dest_namespace") or "",
            "dest_namespace_replace_count": current.get("dest_namespace_replace_count", -1),
            # Harbor reads `deletion` on writes and reports both fields: compare what it reports
            "replicate_deletion": bool(current.get("replicate_deletion", current.get("deletion"))),
            "override": bool(current.get("override")), "enabled": bool(current.get("enabled")),
            "speed_kb": current.get("speed") or 0, "copy_by_chunk": bool(current.get("copy_by_chunk")),
            "single_active": bool(current.get("single_active_replication")),
        }
        cron = (trigger.get("trigger_settings") or {}).get("cron")
        if out["trigger"] == "scheduled":
            out["cron"] = cron
        return out

    def wanted(self, params):
        out = {"name": params["name"]}
        for key in ("description", "direction", "registry", "trigger", "cron", "dest_namespace",
                    "dest_namespace_replace_count", "replicate_deletion", "override", "enabled", "speed_kb",
                    "copy_by_chunk", "single_active"):
            if params.get(key) is not None:
                out[key] = params[key]
        if params.get("filters") is not None:
            out["filters"] = filters_wanted(params["filters"])
        return out

    def find_registry(self, name):
        if self.prefetched is not None and "registries" in self.prefetched:
            return self.prefetched["registries"].get(name)
        return find_registry(self.client, name)

    def body(self, settings, params):
        registry = self.find_registry(settings["registry"])
        if registry is None:
            raise InvalidInput("registry endpoint %s not found; create it first (registryops.harbor.registry)"
                               % settings["registry"])
        trigger = {"type": settings.get("trigger", "manual")}
        if trigger["type"] == "scheduled":
            trigger["trigger_settings"] = {"cron": settings["cron"]}
        deletion = bool(settings.get("replicate_deletion", False))
        body = {
            "name": params["name"], "description": settings.get("description", ""),
            "filters": filters_to_api(settings.get("filters") or {}), "trigger": trigger,
            "dest_namespace": settings.get("dest_namespace", ""),
            "dest_namespace_replace_count": settings.get("dest_namespace_replace_count", -1),
            # the trap: Harbor's create and update read `deletion`, not `replicate_deletion`
            "deletion": deletion, "replicate_deletion": deletion,
            "override": settings.get("override", True), "enabled": settings.get("enabled", True),
            "speed": settings.get("speed_kb", 0), "copy_by_chunk": settings.get("copy_by_chunk", False),
            "single_active_replication": settings.get("single_active", False),
        }
        side = "src_registry" if settings["direction"] == "pull" else "dest_registry"
        body[side] = {"id": registry["id"]}
        return body

    def create(self, params, wanted):
        if not params.get("direction") or not params.get("registry"):
            raise InvalidInput("creating replication policy %s needs direction and registry" % params["name"])
        if (params.get("trigger") == "event_based" and params.get("direction") == "pull"):
            raise InvalidInput("trigger event_based only works for push policies (Harbor sees only its own events)")
        self.client.create("/replication/policies", self.body(wanted, params))

    def update(self, params, current, changes, wanted):
        settings = self.state(current)
        settings.update(changes)
        if settings.get("single_active") and settings.get("trigger") == "event_based":
            raise InvalidInput("single_active cannot be used with trigger: event_based (Harbor refuses it)")
        if settings.get("trigger") == "scheduled" and not settings.get("cron"):
            raise InvalidInput("trigger scheduled needs cron")
        self.client.update("/replication/policies/%s" % current["id"], self.body(settings, params))

    def delete(self, params, current):
        self.client.delete("/replication/policies/%s" % current["id"])
