# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A project's webhook (notification) policy: targets, event types, enabled.

Harbor returns a target's `auth_header` in clear; the module compares it but shows it only
masked, in the diff as in the result.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.client import HarborError
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import MASK, InvalidInput, Resource
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.project import check_resource_name
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.retention import find_project, role_hint

TARGET_TYPES = ("http", "slack", "teams")
PAYLOAD_FORMATS = {"http": ("Default", "CloudEvents"), "slack": ("Default",), "teams": ("Default",)}
MAX_NAME = 256

TARGET_SPEC = dict(
    address=dict(type="str", required=True),
    type=dict(type="str", default="http", choices=list(TARGET_TYPES)),
    auth_header=dict(type="str", no_log=True),
    skip_cert_verify=dict(type="bool", default=False),
    payload_format=dict(type="str", default="Default", choices=["Default", "CloudEvents"]),
)


def normalise_address(raw):
    """What Harbor stores: http:// when no scheme is given, no trailing slash."""
    text = raw.strip().rstrip("/")
    if "://" not in text:
        text = "http://" + text
    return text


def target_key(target):
    return "%s %s" % (target["type"], target["address"])


class WebhookResource(Resource):
    kind = "webhook"
    unordered = ("event_types", "targets")

    def __init__(self):
        super(WebhookResource, self).__init__()
        self._project = None

    def argument_spec(self):
        return dict(
            project=dict(type="str", required=True),
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            description=dict(type="str"),
            enabled=dict(type="bool"),
            event_types=dict(type="list", elements="str"),
            targets=dict(type="list", elements="dict", options=TARGET_SPEC),
        )

    def validate(self, params):
        check_resource_name(params["project"], "project")
        name = params["name"]
        if not name.strip() or len(name) > MAX_NAME:
            raise InvalidInput("name must be 1 to %d characters long and not blank" % MAX_NAME)
        if params.get("event_types") is not None and not params["event_types"]:
            raise InvalidInput("event_types is empty: a webhook needs at least one event type")
        if params.get("targets") is not None and not params["targets"]:
            raise InvalidInput("targets is empty: a webhook needs at least one target")
        seen = set()
        for index, target in enumerate(params.get("targets") or []):
            where = "targets[%d]" % index
            address = normalise_address(target["address"] or "")
            parts = urlsplit(address)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise InvalidInput("%s.address %r is not an http(s) URL" % (where, target["address"]))
            if target["payload_format"] not in PAYLOAD_FORMATS[target["type"]]:
                raise InvalidInput("%s.payload_format %s is only for type http; a %s target takes Default"
                                   % (where, target["payload_format"], target["type"]))
            key = "%s %s" % (target["type"], address)
            if key in seen:
                raise InvalidInput("%s: %s is listed twice" % (where, key))
            seen.add(key)

    # -- read ------------------------------------------------------------------------------
    def needs(self, params):
        return ("managing webhooks of project %s needs the projectAdmin role there, or a system administrator"
                % params["project"])

    @role_hint
    def read(self, params):
        project = find_project(self.client, params["project"])
        if project is None:
            return self.read_prefetched(params, None, [])
        base = "/projects/%s/webhook" % project["project_id"]
        if params["state"] == "present" and params.get("event_types"):
            self.check_event_types(params, (self.client.get("%s/events" % base) or {}).get("event_type") or [])
        return self.read_prefetched(params, project, self.client.list("%s/policies" % base))

    def check_event_types(self, params, supported):
        """`supported`: the event types this Harbor offers (GET .../webhook/events)."""
        if params["state"] == "present" and params.get("event_types"):
            unknown = [e for e in params["event_types"] if e not in supported]
            if unknown:
                raise InvalidInput("event_types: %s not supported by this Harbor; choose from %s"
                                   % (", ".join(unknown), ", ".join(supported)))

    def read_prefetched(self, params, project, policies, supported=None):
        """read() from data already read (the state module reads in bulk): the project (None when it does
        not exist), its webhook policies and, when known, the event types Harbor supports."""
        self._project = project
        if self._project is None:
            if params["state"] == "absent":
                return None
            raise InvalidInput("project %s not found" % params["project"])
        if supported is not None:
            self.check_event_types(params, supported)
        for policy in policies:
            if policy["name"] == params["name"]:
                return policy
        return None

    @staticmethod
    def shown_target(target):
        out = {"type": target.get("type") or "http", "address": normalise_address(target.get("address") or ""),
               "skip_cert_verify": bool(target.get("skip_cert_verify")),
               "payload_format": target.get("payload_format") or "Default"}
        if target.get("auth_header"):
            out["auth_header"] = MASK
        return out

    def state(self, current):
        return {"project": self.module.params["project"], "name": current["name"], "id": current.get("id"),
                "description": current.get("description") or "", "enabled": bool(current.get("enabled")),
                "event_types": sorted(current.get("event_types") or []),
                "targets": sorted((self.shown_target(t) for t in current.get("targets") or []), key=target_key)}

    def wanted(self, params):
        out = {"project": params["project"], "name": params["name"]}
        for key in ("description", "enabled"):
            if params.get(key) is not None:
                out[key] = params[key]
        if params.get("event_types") is not None:
            out["event_types"] = sorted(set(params["event_types"]))
        if params.get("targets") is not None:
            out["targets"] = sorted((self.shown_target(t) for t in params["targets"]), key=target_key)
        return out

    def hidden_changes(self, params, current):
        """An auth header that is set on both sides but differs (both are shown masked)."""
        if params.get("targets") is None:
            return []
        have = dict((target_key(self.shown_target(t)), t.get("auth_header")) for t in current.get("targets") or [])
        for target in params["targets"]:
            key = target_key(self.shown_target(target))
            if target.get("auth_header") and have.get(key) and have[key] != target["auth_header"]:
                return ["auth_header"]
        return []

    # -- write -----------------------------------------------------------------------------
    @staticmethod
    def api_target(target):
        out = {"type": target["type"], "address": normalise_address(target["address"]),
               "skip_cert_verify": bool(target["skip_cert_verify"]), "payload_format": target["payload_format"]}
        if target.get("auth_header"):
            out["auth_header"] = target["auth_header"]
        return out

    def path(self, policy_id=None):
        base = "/projects/%s/webhook/policies" % self._project["project_id"]
        return base if policy_id is None else "%s/%s" % (base, policy_id)

    def rejected(self, exc):
        if exc.status in (400, 409):
            return InvalidInput("Harbor rejected webhook %s of project %s: %s"
                                % (self.module.params["name"], self.module.params["project"], exc.describe()))
        return exc

    @role_hint
    def create(self, params, wanted):
        missing = [k for k in ("event_types", "targets") if not params.get(k)]
        if missing:
            raise InvalidInput("creating webhook %s needs %s" % (params["name"], " and ".join(missing)))
        body = {"name": params["name"], "description": wanted.get("description", ""),
                "enabled": wanted.get("enabled", True), "event_types": wanted["event_types"],
                "targets": [self.api_target(t) for t in params["targets"]]}
        try:
            self.client.create(self.path(), body)
        except HarborError as exc:
            raise self.rejected(exc)
        return None

    @role_hint
    def update(self, params, current, changes, wanted):
        merged = self.state(current)
        merged.update(dict((k, v) for k, v in changes.items() if k != "auth_header"))
        if params.get("targets") is not None and ("targets" in changes or "auth_header" in changes):
            targets = [self.api_target(t) for t in params["targets"]]
        else:
            targets = current.get("targets") or []  # as Harbor holds them, auth headers included
        body = {"id": current["id"], "name": current["name"], "description": merged["description"],
                "enabled": merged["enabled"], "event_types": merged["event_types"], "targets": targets}
        try:
            self.client.update(self.path(current["id"]), body)
        except HarborError as exc:
            raise self.rejected(exc)

    @role_hint
    def delete(self, params, current):
        self.client.delete(self.path(current["id"]))
