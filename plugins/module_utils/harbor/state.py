# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declarative state of a whole Harbor: the registryops.harbor.state module.

One run is four steps:

1. validate every object of the structure with the argument spec and the validate() of the
   single-object module of its kind, and report every invalid object at once, before any call;
2. read each collection once (pages of 100), and the per-project lists (members, robots, ...)
   only of projects that declare them;
3. plan each object with its Resource, exactly as the engine does for one object (state(),
   wanted(), differs(), hidden_changes()), the current value being found in memory;
4. write only what differs, level by level (users, registries, configuration and global labels;
   then projects; then what lives in projects and replication policies; deletes in reverse),
   the independent writes of a level in parallel on a bounded pool, through the Resources'
   create/update/delete. A failed object does not stop the others; an object whose parent
   could not be created is skipped with the reason.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import gc
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import yaml

    YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML was built with it
    HAS_YAML = True
except ImportError:
    HAS_YAML = False

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.client import (
    HAS_URLLIB3,
    URLLIB3_IMPORT_ERROR,
    HarborClient,
    HarborError,
)
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.config import ConfigResource
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import (
    MASK,
    InvalidInput,
    differs,
    explain,
    harbor_argument_spec,
    hide,
)
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.immutable import ImmutableRulesResource
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.label import LabelResource
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.member import (
    MembersResource,
    key_of,
    member_key,
)
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.project import ProjectResource
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.registry import RegistryResource
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.replication_policy import (
    ReplicationPolicyResource,
)
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.retention import RetentionResource
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.robot import PREFIX, RobotResource, tail_of
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.spec import SpecValidator
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.user import UserResource
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.webhook import WebhookResource

PROJECT_PARTS = ("members", "robots", "retention", "immutable_rules", "labels", "webhooks")
PROTECTED_KINDS = ("users", "projects", "registries", "robots", "labels", "replication_policies")
# option names whose values are secrets, wherever they appear in the structure
SECRET_OPTIONS = ("password", "access_secret", "secret", "auth_header", "secrets")
MAX_PARALLEL = 64


STRUCTURE_LISTS = ("users", "registries", "projects", "robots", "labels", "replication_policies")
STRUCTURE_KEYS = STRUCTURE_LISTS + ("config",)


def state_argument_spec():
    spec = harbor_argument_spec()
    protected = dict((kind, dict(type="list", elements="str", default=[])) for kind in PROTECTED_KINDS)
    protected["users"]["default"] = ["admin"]
    protected["projects"]["default"] = ["library"]
    spec.update(
        users=dict(type="list", elements="dict"),
        registries=dict(type="list", elements="dict"),
        projects=dict(type="list", elements="dict"),
        robots=dict(type="list", elements="dict"),
        labels=dict(type="list", elements="dict"),
        replication_policies=dict(type="list", elements="dict"),
        config=dict(type="dict"),
        src=dict(type="path"),
        content=dict(type="raw", no_log=True),
        purge=dict(type="bool", default=False),
        protected=dict(type="dict", options=protected, apply_defaults=True),
        parallel=dict(type="int", default=8),
    )
    return spec


@contextmanager
def collector_skips_existing():
    """Validating and planning a structure allocate hundreds of thousands of objects that stay alive;
    the garbage collector passing over all of them again and again cost about a third of those steps.
    Inside the block it leaves out the objects that exist when it starts (gc.freeze); what the block
    itself makes, cyclic garbage included (say, of an HTTP probe), is still collected."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# -- what a Resource sees when the state module runs it ----------------------------------------
class ItemModule(object):
    """`resource.module` for one object: its options (with the connection options) and check mode."""

    def __init__(self, params, check_mode):
        self.params = params
        self.check_mode = check_mode
        self._diff = False

    def fail_json(self, msg, **kwargs):
        raise InvalidInput(msg)


class ItemClient(object):
    """The shared HarborClient as one object's Resource sees it. It records the ids its creates return
    (what lives in a project created by this run needs the project's id) and, as a safety net, refuses
    every write in check mode."""

    def __init__(self, client, check_mode):
        self._client = client
        self._check_mode = check_mode
        self.created = []

    def __getattr__(self, name):
        return getattr(self._client, name)

    def _guard(self, method, path):
        if self._check_mode:
            raise RuntimeError("check mode: refusing %s %s" % (method, path))

    def request(self, method, path, *args, **kwargs):
        if method.upper() not in ("GET", "HEAD", "OPTIONS"):
            self._guard(method, path)
        return self._client.request(method, path, *args, **kwargs)

    def create(self, path, body):
        self._guard("POST", path)
        new_id, answer = self._client.create(path, body)
        self.created.append(new_id)
        return new_id, answer

    def update(self, path, body, method="PUT"):
        self._guard(method, path)
        return self._client.update(path, body, method=method)

    def delete(self, path):
        self._guard("DELETE", path)
        return self._client.delete(path)


# -- what Harbor holds, read once per collection ------------------------------------------------
class Snapshot(object):
    def __init__(self):
        self.users = {}             # username -> user
        self.registries = {}        # name -> registry
        self.projects = {}          # name -> project
        self.quotas = {}            # project id -> quota
        self.policies = {}          # name -> replication policy
        self.system_robots = {}     # name -> robot
        self.global_labels = []
        self.config = None
        self.members = {}           # project name -> {member key: member}
        self.project_robots = {}    # project name -> {project+name: robot}
        self.labels = {}            # project name -> [label]
        self.webhooks = {}          # project name -> [webhook policy]
        self.immutable = {}         # project name -> [immutable rule]
        self.retention = {}         # project name -> retention policy (or None)
        self.events = None          # webhook event types this Harbor supports
        # objects this run creates, shared by reference with what depends on them: the id is filled
        # in once created, so the dependents' Resources see it
        self.new_projects = {}
        self.new_registries = {}

    def project(self, name):
        return self.projects.get(name) or self.new_projects.get(name)

    def registry_map(self):
        out = dict(self.new_registries)
        out.update(self.registries)
        return out


# -- one object of the structure --------------------------------------------------------------
class Item(object):
    def __init__(self, kind, where, params, project=None, purged=False):
        self.kind = kind
        self.where = where
        self.params = params
        self.project = project        # the enclosing project's name, for what lives in one
        self.purged = purged          # a delete that purge added (the structure does not name it)
        self.ident = kind.ident(params)
        self.resource = None
        self.client = None
        self.current = None
        self.op = None                # the engine's operation: create | update | delete | None
        self.before = {}
        self.after = {}
        self.changes = {}
        self.wanted = None
        self.needs = []
        self.status = "pending"       # unchanged | planned | applied | failed | skipped
        self.error = None
        self.secret = None

    def label(self):
        return "%s %s" % (self.kind.name, self.ident)

    def fail(self, message):
        self.status = "failed"
        self.error = message


def error_text(exc):
    if isinstance(exc, HarborError):
        return explain(exc)
    if isinstance(exc, InvalidInput):
        return str(exc)
    return "%s: %s" % (type(exc).__name__, exc)


# -- the kinds of objects ------------------------------------------------------------------------
class Kind(object):
    """How the state module finds one kind of object in the structure and in the snapshot; the
    Resource of the single-object module does the rest."""

    name = "object"
    resource_class = None
    level = 0
    implied = ()                  # options the structure sets (e.g. project of a member)

    def __init__(self):
        proto = self.resource_class()
        kwargs = proto.module_kwargs()
        self.validator = SpecValidator(
            proto.argument_spec(),
            mutually_exclusive=kwargs.get("mutually_exclusive"),
            required_together=kwargs.get("required_together"),
            required_one_of=kwargs.get("required_one_of"),
            required_if=kwargs.get("required_if"),
            required_by=kwargs.get("required_by"),
        )

    def ident(self, params):
        return params.get("name")

    def current(self, item, snap):
        raise NotImplementedError

    def needs(self, item, index):
        """Items that must exist before this one can be created or updated."""
        return []

    def delete_needs(self, item, index):
        """Items that must be deleted before this one can be."""
        return []

    def action(self, item):
        return item.op

    def view(self, item, before, after):
        return before, after

    def created(self, item, snap):
        """Called once the item was created (ids in item.client.created)."""

    def prepare(self, item, snap):
        """Called right before the item's write."""


def project_need(item, index):
    parent = index.get(("project", item.project or item.params.get("project")))
    return [parent] if parent is not None else []


class UserKind(Kind):
    name = "user"
    resource_class = UserResource

    def ident(self, params):
        return params["username"]

    def current(self, item, snap):
        return snap.users.get(item.params["username"])


class RegistryKind(Kind):
    name = "registry"
    resource_class = RegistryResource

    def current(self, item, snap):
        return snap.registries.get(item.params["name"])

    def created(self, item, snap):
        stub = snap.new_registries.get(item.ident)
        if stub is not None and item.client.created:
            stub["id"] = item.client.created[0]

    def delete_needs(self, item, index):
        # Harbor refuses (412) to delete an endpoint a policy still uses: delete those policies first
        return [other for other in index.get("policy_deletes", [])
                if (other.before or {}).get("registry") == item.ident]


class ConfigKind(Kind):
    name = "config"
    resource_class = ConfigResource

    def ident(self, params):
        return "configuration"

    def current(self, item, snap):
        return snap.config


class ProjectKind(Kind):
    name = "project"
    resource_class = ProjectResource
    level = 1

    def current(self, item, snap):
        item.resource.prefetched = {"registries": snap.registry_map()}
        project = snap.projects.get(item.params["name"])
        if project is None:
            return None
        quota = snap.quotas.get(project["project_id"]) if item.params.get("storage_quota") is not None else None
        return {"project": project, "quota": quota}

    def needs(self, item, index):
        registry = item.params.get("proxy_cache_registry")
        parent = index.get(("registry", registry)) if registry else None
        return [parent] if parent is not None else []

    def view(self, item, before, after):
        registry = item.params.get("proxy_cache_registry")
        if registry and "proxy_cache_registry_id" in after and after["proxy_cache_registry_id"] is None:
            after = dict(after, proxy_cache_registry_id="(%s, created by this run)" % registry)
        return before, after

    def created(self, item, snap):
        stub = snap.new_projects.get(item.ident)
        if stub is not None and item.client.created:
            stub["project_id"] = item.client.created[0]


class MemberKind(Kind):
    """One member of a project: the project_member resource in its single-member form, so each
    member succeeds or fails on its own; the membership it compares is the project's whole list."""

    name = "member"
    resource_class = MembersResource
    level = 2
    implied = ("project", "members", "exclusive")

    def ident(self, params):
        return "%s/%s" % (params["project"], member_key(params))

    def current(self, item, snap):
        # the membership as this member's resource sees it: only its own entry, so comparing N members
        # costs N, not N times the project's membership (update() touches only the keys that differ)
        project = snap.project(item.params["project"])
        key = self.key(item)
        member = snap.members.get(item.params["project"], {}).get(key)
        return {"project": project, "members": {key: member} if member is not None else {}}

    def needs(self, item, index):
        out = project_need(item, index)
        if item.params.get("user"):
            user = index.get(("user", item.params["user"]))
            if user is not None:
                out.append(user)
        return out

    def key(self, item):
        return member_key(item.params)

    def action(self, item):
        if item.op is None:
            return None
        key = self.key(item)
        had = key in (item.before.get("members") or {})
        has = key in (item.after.get("members") or {})
        if had and not has:
            return "delete"
        return "update" if had else "create"

    def view(self, item, before, after):
        key = self.key(item)
        shown_before = {"role": before["members"][key]} if key in (before.get("members") or {}) else {}
        shown_after = {"role": after["members"][key]} if key in (after.get("members") or {}) else {}
        return shown_before, shown_after

    def prepare(self, item, snap):
        # a project created by this run starts with its creator as projectAdmin: when the structure
        # names that member, read the new project's list for the member's id
        members = item.current["members"]
        entry = members.get(self.key(item))
        if entry is not None and entry.get("id") is None:
            project_id = item.current["project"]["project_id"]
            listed = dict((key_of(m), m) for m in item.client.list("/projects/%s/members" % project_id))
            item.current = {"project": item.current["project"],
                            "members": dict((k, m) for k, m in listed.items() if k == self.key(item))}


class RobotKind(Kind):
    name = "robot"
    resource_class = RobotResource
    level = 2

    def ident(self, params):
        return RobotResource.tail(params)

    def current(self, item, snap):
        if item.params["level"] == "project":
            return snap.project_robots.get(item.params["project"], {}).get(item.ident)
        return snap.system_robots.get(item.ident)

    def needs(self, item, index):
        if item.params["level"] == "project":
            return project_need(item, index)
        names = set(p.get("namespace") for p in item.params.get("permissions") or [])
        if item.params.get("permission_preset") and item.params.get("project"):
            names.add(item.params["project"])
        return [index[("project", n)] for n in sorted(n for n in names if n) if ("project", n) in index]


class ProjectRobotKind(RobotKind):
    implied = ("project", "level")


class SystemRobotKind(RobotKind):
    implied = ("level",)


class RetentionKind(Kind):
    name = "retention_policy"
    resource_class = RetentionResource
    level = 2
    implied = ("project",)

    def ident(self, params):
        return params["project"]

    def current(self, item, snap):
        return item.resource.read_prefetched(item.params, snap.project(item.params["project"]),
                                             snap.retention.get(item.params["project"]))

    def needs(self, item, index):
        return project_need(item, index)


class ImmutableKind(Kind):
    name = "immutable_tag_rules"
    resource_class = ImmutableRulesResource
    level = 2

    def ident(self, params):
        return params["project"]

    def current(self, item, snap):
        return item.resource.read_prefetched(item.params, snap.project(item.params["project"]),
                                             snap.immutable.get(item.params["project"], []))

    def needs(self, item, index):
        return project_need(item, index)


class LabelKind(Kind):
    name = "label"
    resource_class = LabelResource

    def ident(self, params):
        if params["scope"] == "project":
            return "%s/%s" % (params["project"], params["name"])
        return params["name"]

    def current(self, item, snap):
        if item.params["scope"] == "project":
            project = item.params["project"]
            return item.resource.read_prefetched(item.params, snap.project(project), snap.labels.get(project, []))
        return item.resource.read_prefetched(item.params, None, snap.global_labels)

    def needs(self, item, index):
        return project_need(item, index) if item.params["scope"] == "project" else []


class GlobalLabelKind(LabelKind):
    implied = ("scope", "project")


class ProjectLabelKind(LabelKind):
    level = 2
    implied = ("scope", "project")


class WebhookKind(Kind):
    name = "webhook"
    resource_class = WebhookResource
    level = 2
    implied = ("project",)

    def ident(self, params):
        return "%s/%s" % (params["project"], params["name"])

    def current(self, item, snap):
        project = item.params["project"]
        return item.resource.read_prefetched(item.params, snap.project(project), snap.webhooks.get(project, []),
                                             snap.events)

    def needs(self, item, index):
        return project_need(item, index)


class PolicyKind(Kind):
    name = "replication_policy"
    resource_class = ReplicationPolicyResource
    level = 2

    def current(self, item, snap):
        item.resource.prefetched = {"registries": snap.registry_map()}
        return snap.policies.get(item.params["name"])

    def needs(self, item, index):
        parent = index.get(("registry", item.params.get("registry")))
        return [parent] if parent is not None else []


KIND_ORDER = ("config", "user", "registry", "label", "project", "member", "robot", "retention_policy",
              "immutable_tag_rules", "webhook", "replication_policy")


# -- validation --------------------------------------------------------------------------------
def secret_values(value, found):
    """Every value under a secret option name, at any depth (for no_log)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in SECRET_OPTIONS and inner is not None:
                if isinstance(inner, dict):
                    found.update(str(v) for v in inner.values() if v is not None and str(v))
                elif str(inner):
                    found.add(str(inner))
            elif isinstance(inner, (dict, list, tuple)):  # nothing to find in a scalar
                secret_values(inner, found)
    elif isinstance(value, (list, tuple)):
        for inner in value:
            secret_values(inner, found)
    return found


class Structure(object):
    """The validated structure: every object as an Item, or every error found."""

    def __init__(self, params, check_mode):
        self.params = params
        self.check_mode = check_mode
        self.errors = []
        self.no_log_values = set()
        self.items = []
        self.kinds = dict(
            user=UserKind(), registry=RegistryKind(), config=ConfigKind(), project=ProjectKind(),
            member=MemberKind(), project_robot=ProjectRobotKind(), system_robot=SystemRobotKind(),
            retention=RetentionKind(), immutable=ImmutableKind(), global_label=GlobalLabelKind(),
            project_label=ProjectLabelKind(), webhook=WebhookKind(), policy=PolicyKind(),
        )
        self.connection = dict((k, params.get(k)) for k in harbor_argument_spec())
        self.purge = params["purge"]
        self.protected = params.get("protected") or {}
        # top-level kinds the structure names (and purge may clean up), and per project its parts
        self.managed = set(k for k in ("users", "registries", "projects", "robots", "labels", "replication_policies")
                           if params.get(k) is not None)
        self.parts = {}               # project name -> set of PROJECT_PARTS it declares
        self.declared = {}            # (kind name, ident) -> item
        self.places = {}              # (kind name, ident) -> where it is declared, to find duplicates
        with collector_skips_existing():
            secret_values(dict((k, params.get(k)) for k in state_argument_spec() if k not in harbor_argument_spec()),
                          self.no_log_values)
            self.build()

    # -- one object ------------------------------------------------------------------------
    def validate(self, kind_key, raw, where, implied=None, project=None):
        kind = self.kinds[kind_key]
        if not isinstance(raw, dict):
            self.errors.append("%s: must be a dictionary of options, not %r" % (where, raw))
            return None
        given = [k for k in kind.implied if k in raw]
        if given:
            given.sort()
            self.errors.append("%s: %s %s set by the structure (the enclosing entry or the list it is in); remove it"
                               % (where, ", ".join(given), "is" if len(given) == 1 else "are"))
            return None
        raw = dict(raw)
        raw.update(implied or {})
        result = kind.validator.validate(raw)
        self.no_log_values.update(result._no_log_values)  # what AnsibleModule itself hides
        params = result.validated_parameters
        if not self.unique(kind, params, where):
            return None
        if result.error_messages:
            self.errors.extend("%s: %s" % (where, message) for message in result.error_messages)
            return None
        resource = kind.resource_class()
        try:
            resource.validate(params)
        except InvalidInput as exc:
            text = str(exc)
            # project_member calls its flat options "options"; here the place is `where`
            self.errors.append("%s: %s" % (where, text[len("options: "):] if text.startswith("options: ") else text))
            return None
        item = Item(kind, where, params, project=project)
        item.resource = resource
        self.declared[(kind.name, item.ident)] = item
        self.items.append(item)
        return item

    def unique(self, kind, params, where):
        """False (and an error) when an object of the same kind and name was declared before."""
        try:
            ident = kind.ident(params)
        except (KeyError, TypeError):  # no name at all: the spec's own error says so
            return True
        key = (kind.name, ident)
        if key in self.places:
            self.errors.append("%s: %s %s is also declared at %s" % (where, kind.name, ident, self.places[key]))
            return False
        self.places[key] = where
        return True

    def each(self, option):
        return enumerate(self.params.get(option) or [])

    def build(self):
        p = self.params
        if p["parallel"] < 1 or p["parallel"] > MAX_PARALLEL:
            self.errors.append("parallel must be from 1 to %d, not %d" % (MAX_PARALLEL, p["parallel"]))
        if p.get("config") is not None:
            self.validate("config", p["config"], "config")
        for index, raw in self.each("users"):
            self.validate("user", raw, "users[%d]" % index)
        for index, raw in self.each("registries"):
            self.validate("registry", raw, "registries[%d]" % index)
        for index, raw in self.each("labels"):
            self.validate("global_label", raw, "labels[%d]" % index, implied={"scope": "global"})
        for index, raw in self.each("robots"):
            self.validate("system_robot", raw, "robots[%d]" % index, implied={"level": "system"})
        for index, raw in self.each("projects"):
            self.build_project(index, raw)
        for index, raw in self.each("replication_policies"):
            self.validate("policy", raw, "replication_policies[%d]" % index)
        for item in self.items:
            if item.kind.name == "robot" and item.params.get("regenerate_secret"):
                self.errors.append("%s: regenerate_secret is not declarative (it would change the secret on every "
                                   "run); use registryops.harbor.robot_account for a one-off rotation" % item.where)

    def build_project(self, index, raw):
        where = "projects[%d]" % index
        if not isinstance(raw, dict):
            self.errors.append("%s: must be a dictionary of options, not %r" % (where, raw))
            return
        name = raw.get("name")
        where = "%s (%s)" % (where, name) if name else where
        parts = dict((k, raw[k]) for k in PROJECT_PARTS if raw.get(k) is not None)
        project = self.validate("project", dict((k, v) for k, v in raw.items() if k not in PROJECT_PARTS), where)
        if not isinstance(name, str):
            return
        # an invalid project's parts are still checked: every error is reported at once
        if project is not None and project.params["state"] == "absent":
            if parts:
                self.errors.append("%s: state absent deletes the project with everything in it; remove %s"
                                   % (where, ", ".join(sorted(parts))))
            return
        self.parts[name] = set(parts)
        lists = [("members", "member", {"project": name}), ("robots", "project_robot", {"project": name,
                                                                                        "level": "project"}),
                 ("labels", "project_label", {"project": name, "scope": "project"}),
                 ("webhooks", "webhook", {"project": name})]
        for part, kind_key, implied in lists:
            value = parts.get(part)
            if value is None:
                continue
            if not isinstance(value, list):
                self.errors.append("%s.%s: must be a list" % (where, part))
                continue
            for number, entry in enumerate(value):
                self.validate(kind_key, entry, "%s.%s[%d]" % (where, part, number), implied=implied, project=name)
        if parts.get("retention") is not None:
            self.validate("retention", parts["retention"], "%s.retention" % where, implied={"project": name},
                          project=name)
        rules = parts.get("immutable_rules")
        if rules is not None:
            if not isinstance(rules, list):
                self.errors.append("%s.immutable_rules: must be a list of rules" % where)
            elif rules or self.purge:  # [] without purge: nothing to add, nothing to remove
                self.validate("immutable", {"rules": rules, "exclusive": bool(self.purge)}, "%s.immutable_rules"
                              % where, project=name, implied={"project": name})

    # -- purge -----------------------------------------------------------------------------
    def deletion(self, kind_key, raw, project=None):
        """An Item deleting an object the structure does not name (purge)."""
        kind = self.kinds[kind_key]
        raw = dict(raw, state="absent")
        result = kind.validator.validate(raw)
        if result.error_messages:  # a name Harbor allows but the module's spec does not: leave it alone
            return None
        item = Item(kind, "purge", result.validated_parameters, project=project, purged=True)
        item.resource = kind.resource_class()
        self.items.append(item)
        return item

    def is_protected(self, option, *names):
        listed = set(self.protected.get(option) or [])
        return any(n in listed for n in names if n)

    def add_purges(self, snap):
        if not self.purge:
            return
        caller = self.connection["api_username"]
        named = set(self.declared)
        if "users" in self.managed:
            for username in sorted(snap.users):
                if ("user", username) not in named and username != caller and not self.is_protected("users", username):
                    self.deletion("user", {"username": username})
        if "registries" in self.managed:
            for name in sorted(snap.registries):
                if ("registry", name) not in named and not self.is_protected("registries", name):
                    self.deletion("registry", {"name": name})
        if "projects" in self.managed:
            for name in sorted(snap.projects):
                if ("project", name) not in named and not self.is_protected("projects", name):
                    self.deletion("project", {"name": name})
        if "replication_policies" in self.managed:
            for name in sorted(snap.policies):
                if ("replication_policy", name) not in named and not self.is_protected("replication_policies", name):
                    self.deletion("policy", {"name": name})
        if "robots" in self.managed:
            for tail, robot in sorted(snap.system_robots.items()):
                if (("robot", tail) not in named and robot["name"] != caller
                        and not self.is_protected("robots", tail, robot["name"])):
                    self.deletion("system_robot", {"name": tail, "level": "system"})
        if "labels" in self.managed:
            for label in snap.global_labels:
                if ("label", label["name"]) not in named and not self.is_protected("labels", label["name"]):
                    self.deletion("global_label", {"name": label["name"], "scope": "global"})
        for project, parts in sorted(self.parts.items()):
            if snap.projects.get(project) is None:
                continue
            if "members" in parts:
                for key, member in sorted(snap.members.get(project, {}).items()):
                    if ("member", "%s/%s" % (project, key)) in named or key == "user:%s" % caller:
                        continue
                    who = {"user": member["entity_name"]} if member["entity_type"] == "u" else \
                        {"group": member["entity_name"]}
                    self.deletion("member", dict(who, project=project), project=project)
            if "robots" in parts:
                for tail, robot in sorted(snap.project_robots.get(project, {}).items()):
                    if (("robot", tail) not in named and robot["name"] != caller
                            and not self.is_protected("robots", tail, robot["name"])):
                        self.deletion("project_robot", {"name": tail.split("+", 1)[-1], "level": "project",
                                                        "project": project}, project=project)
            if "labels" in parts:
                for label in snap.labels.get(project, []):
                    ident = "%s/%s" % (project, label["name"])
                    if ("label", ident) not in named and not self.is_protected("labels", ident, label["name"]):
                        self.deletion("project_label", {"name": label["name"], "scope": "project",
                                                        "project": project}, project=project)
            if "webhooks" in parts:
                for policy in snap.webhooks.get(project, []):
                    if ("webhook", "%s/%s" % (project, policy["name"])) not in named:
                        self.deletion("webhook", {"name": policy["name"], "project": project}, project=project)

    # -- what to read --------------------------------------------------------------------------
    def has(self, kind_name, test=None):
        return any(i.kind.name == kind_name and (test is None or test(i)) for i in self.items)


# -- reading ---------------------------------------------------------------------------------------
def read_snapshot(structure, client, pool):
    """Each collection once; the per-project lists of the declared projects that exist start as soon
    as the project list is in, while the other collections are still being read."""
    s = structure
    snap = Snapshot()
    jobs = {}
    if "users" in s.managed:
        jobs["users"] = lambda: client.list("/users")
    if "registries" in s.managed or "replication_policies" in s.managed or \
            s.has("project", lambda i: i.params.get("proxy_cache_registry")):
        jobs["registries"] = lambda: client.list("/registries")
    if "projects" in s.managed:
        jobs["projects"] = lambda: client.list("/projects")
    if s.has("project", lambda i: i.params.get("storage_quota") is not None):
        jobs["quotas"] = lambda: client.list("/quotas", params={"reference": "project"})
    if "replication_policies" in s.managed:
        jobs["policies"] = lambda: client.list("/replication/policies")
    if "robots" in s.managed:
        jobs["robots"] = lambda: client.list("/robots")
    if "labels" in s.managed:
        jobs["labels"] = lambda: client.list("/labels", params={"scope": "g"})
    if s.has("config"):
        jobs["config"] = lambda: client.get("/configurations") or {}
    pending = submit_reads(pool, jobs)
    snap.projects = dict((p["name"], p) for p in (pending.pop("projects").result() if "projects" in pending else []))
    per_project = submit_reads(pool, project_jobs(s, snap, client))

    got = dict((key, future.result()) for key, future in pending.items())
    snap.users = dict((u["username"], u) for u in got.get("users", []))
    snap.registries = dict((r["name"], r) for r in got.get("registries", []))
    snap.quotas = dict(((q.get("ref") or {}).get("id"), q) for q in got.get("quotas", []))
    snap.policies = dict((p["name"], p) for p in got.get("policies", []))
    snap.system_robots = dict((tail_of(r["name"]), r) for r in got.get("robots", []) if r.get("level") == "system")
    snap.global_labels = [label for label in got.get("labels", []) if label.get("scope", "g") == "g"]
    snap.config = got.get("config")
    for key, future in per_project.items():
        value = future.result()
        if key == "events":
            snap.events = value.get("event_type") or []
        elif key[0] == "members":
            snap.members[key[1]] = dict((key_of(m), m) for m in value)
        elif key[0] == "robots":
            snap.project_robots[key[1]] = dict((tail_of(r["name"]), r) for r in value)
        else:
            getattr(snap, key[0])[key[1]] = value
    return snap


def project_jobs(structure, snap, client):
    """The lists of what lives in each declared project that exists, for the parts it declares."""
    jobs = {}
    need_events = structure.has("webhook", lambda i: i.params["state"] == "present" and i.params.get("event_types"))
    for name, parts in structure.parts.items():
        project = snap.projects.get(name)
        if project is None:
            continue
        pid = project["project_id"]
        if "members" in parts:
            jobs[("members", name)] = lambda pid=pid: client.list("/projects/%s/members" % pid)
        if "robots" in parts:
            jobs[("robots", name)] = lambda pid=pid: client.list("/robots", params={
                "q": "Level=project,ProjectID=%s" % pid})
        if "labels" in parts:
            jobs[("labels", name)] = lambda pid=pid: client.list("/labels", params={"scope": "p", "project_id": pid})
        if "webhooks" in parts:
            jobs[("webhooks", name)] = lambda pid=pid: client.list("/projects/%s/webhook/policies" % pid)
            if need_events and "events" not in jobs:
                jobs["events"] = lambda pid=pid: client.get("/projects/%s/webhook/events" % pid) or {}
        if "immutable_rules" in parts:
            jobs[("immutable", name)] = lambda pid=pid: client.list("/projects/%s/immutabletagrules" % pid)
        retention_id = (project.get("metadata") or {}).get("retention_id")
        if "retention" in parts and retention_id:
            jobs[("retention", name)] = lambda rid=retention_id: client.get_or_none("/retentions/%s" % rid)
    return jobs


def add_new_objects(structure, snap):
    """The projects and registries this run creates, as shared records whose ids are filled in once
    created (what depends on them reads the id from there)."""
    for item in structure.items:
        if item.kind.name == "project" and item.params["state"] == "present" and item.ident not in snap.projects:
            snap.new_projects[item.ident] = {"name": item.ident, "project_id": None, "metadata": {}}
        if item.kind.name == "registry" and item.params["state"] == "present" and item.ident not in snap.registries:
            snap.new_registries[item.ident] = {"name": item.ident, "id": None}
    caller = structure.connection["api_username"]
    if not caller.startswith(PREFIX):
        # Harbor makes the creator of a project its projectAdmin (id unknown until read: see MemberKind)
        for name in snap.new_projects:
            creator = {"entity_name": caller, "entity_type": "u", "role_id": 1, "id": None}
            snap.members[name] = {"user:%s" % caller: creator}


def submit_reads(pool, jobs):
    """Start each read on the pool; {key: future}. A failed read fails the run: nothing can be
    compared without it."""
    def call(key):
        try:
            return jobs[key]()
        except HarborError as exc:
            what = key if isinstance(key, str) else "%s of project %s" % key
            raise InvalidInput("reading %s failed: %s" % (what, explain(exc)))

    return dict((key, pool.submit(call, key)) for key in jobs)


# -- planning ----------------------------------------------------------------------------------------
def plan_item(item, snap):
    """The engine's comparison for one object, with the current value found in memory."""
    resource, params = item.resource, item.params
    current = item.kind.current(item, snap)
    item.current = current
    resource.bind(current)
    before = resource.state(current) if current is not None else {}
    after = {}
    if resource.desired_absent(params):
        if current is not None:
            item.op = "delete"
    else:
        wanted = resource.wanted(params)
        item.wanted = wanted
        if current is None:
            item.op = "create"
            after = copy.deepcopy(wanted)
        else:
            changes = dict((key, value) for key, value in wanted.items()
                           if differs(before.get(key), value, key in resource.unordered))
            hidden = list(resource.hidden_changes(params, current))
            after = before  # an unchanged object (most of them) needs no copy
            if changes or hidden:
                after = copy.deepcopy(before)
                after.update(changes)
            for name in hidden:
                changes[name] = True
                before[name] = MASK
                after[name] = MASK + " (changed)"
            item.changes = changes
            if changes:
                item.op = "update"
    item.before, item.after = before, after
    item.status = "planned" if item.op else "unchanged"


def field_changes(before, after, unordered=(), prefix=""):
    out = []
    for key in sorted(set(before) | set(after), key=str):
        old, new = before.get(key), after.get(key)
        if isinstance(old, dict) and isinstance(new, dict) and old and new:
            out.extend(field_changes(old, new, (), "%s%s." % (prefix, key)))
        elif key not in before or key not in after or differs(old, new, key in unordered):
            out.append({"field": prefix + str(key), "before": old if key in before else None,
                        "after": new if key in after else None})
    return out


# -- the module ------------------------------------------------------------------------------------------
class StateAnsibleModule(AnsibleModule):
    """AnsibleModule that logs its invocation only once the secrets nested in the structure (user
    passwords, robot and registry secrets) are known, so the log masks them too (see HarborState.run)."""

    secrets_known = False

    def _log_invocation(self):
        if self.secrets_known:
            AnsibleModule._log_invocation(self)


class CountingClient(HarborClient):
    """HarborClient with a request counter that stays exact when the pool's threads share it."""

    def __init__(self, *args, **kwargs):
        super(CountingClient, self).__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self.calls = 0

    def request(self, *args, **kwargs):
        with self._lock:
            self.calls += 1
        return super(CountingClient, self).request(*args, **kwargs)


def parse_structure(where, text):
    try:
        return json.loads(text)  # JSON first: a large file parses ~50x faster than as YAML
    except ValueError:
        if not HAS_YAML:
            raise InvalidInput("%s is not JSON, and reading YAML needs PyYAML on the host that runs the "
                               "module" % where)
        try:
            return yaml.load(text, Loader=YamlLoader)
        except yaml.YAMLError as exc:
            raise InvalidInput("%s is neither JSON nor valid YAML: %s" % (where, exc))


def read_structure_text(params):
    """(where, the structure as data) from `src` (a file) or `content` (its text, or a mapping)."""
    if params.get("src"):
        where = "src %s" % params["src"]
        try:
            with open(params["src"], "rb") as handle:
                text = handle.read().decode("utf-8")
        except (IOError, OSError, UnicodeDecodeError) as exc:
            raise InvalidInput("%s cannot be read: %s" % (where, exc))
    else:
        where, text = "content", params["content"]
        if isinstance(text, dict):
            return where, text
        if not isinstance(text, str):
            raise InvalidInput("content must be the structure as JSON or YAML text (or a mapping), not %s"
                               % type(text).__name__)
    with collector_skips_existing():
        return where, parse_structure(where, text)


def with_structure_file(params):
    """The module's parameters with the structure's keys read from the file `src` or the text `content`."""
    where, data = read_structure_text(params)
    if not isinstance(data, dict):
        raise InvalidInput("%s must hold a mapping of the structure's keys (%s)"
                           % (where, ", ".join(STRUCTURE_KEYS)))
    unknown = sorted(set(data) - set(STRUCTURE_KEYS))
    if unknown:
        raise InvalidInput("%s: unknown key(s) %s; it holds only the structure's keys (%s)"
                           % (where, ", ".join(map(str, unknown)), ", ".join(STRUCTURE_KEYS)))
    both = sorted(k for k in data if params.get(k) is not None)
    if both:
        raise InvalidInput("%s given both in %s and as option(s): give each key once" % (", ".join(both), where))
    spec = state_argument_spec()
    # lists of dicts, as they come from JSON or YAML, take the direct path: no deep copy of the whole file
    checked = SpecValidator(dict((k, spec[k]) for k in STRUCTURE_KEYS)).validate(data)
    if checked.error_messages:
        raise InvalidInput("%s: %s" % (where, "; ".join(checked.error_messages)))
    merged = dict(params)
    merged.update((k, v) for k, v in checked.validated_parameters.items() if v is not None)
    return merged


def compact_arguments(module):
    """The module's arguments for the result's `invocation`, the structure's lists as counts:
    echoing thousands of objects back would double what Ansible transfers and scans for secrets."""
    args = {}
    for key, value in module.params.items():
        if isinstance(value, list) and key in STRUCTURE_LISTS:
            value = "<%d object%s>" % (len(value), "" if len(value) == 1 else "s")
        elif isinstance(value, dict) and key == "config":
            value = "<%d keys>" % len(value)
        elif value is not None and module.argument_spec.get(key, {}).get("no_log"):
            value = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
        args[key] = value
    return args


class HarborState(object):
    def __init__(self):
        self.module = StateAnsibleModule(argument_spec=state_argument_spec(), supports_check_mode=True,
                                         mutually_exclusive=[("src", "content")])

    def run(self):
        module = self.module
        params = module.params
        if params.get("src") or params.get("content") is not None:
            try:
                params = with_structure_file(params)
            except InvalidInput as exc:
                module.fail_json(msg=str(exc))
        structure = Structure(params, module.check_mode)
        module.no_log_values.update(v for v in structure.no_log_values if v)
        module.secrets_known = True
        if not module.no_log:
            module._log_invocation()
        if not HAS_URLLIB3:
            module.fail_json(msg=missing_required_lib("urllib3"), exception=str(URLLIB3_IMPORT_ERROR))
        if structure.errors:
            module.fail_json(msg="%d invalid object(s) in the structure, nothing was changed: %s"
                             % (len(structure.errors), "; ".join(structure.errors)), errors=structure.errors)
        parallel = module.params["parallel"]
        conn = structure.connection
        # one session for all threads: requests' connection pool is thread-safe once it holds a
        # connection per worker (pool_size), and the client keeps no cookies to share
        client = CountingClient(conn["api_url"], conn["api_username"], conn["api_password"],
                                validate_certs=conn["validate_certs"], ca_path=conn.get("ca_path"),
                                timeout=conn["timeout"], retries=conn["retries"], pool_size=max(10, parallel + 2))
        try:
            with ThreadPoolExecutor(max_workers=parallel) as pool:
                result = Converge(structure, client, pool, module.check_mode).run()
        except InvalidInput as exc:
            module.fail_json(msg=str(exc))
        finally:
            client.close()
        if not module._diff:
            result.pop("diff", None)
        result["invocation"] = {"module_args": compact_arguments(module)}
        if result["failures"]:
            failures = result["failures"]
            shown = "; ".join("%s %s: %s" % (f["kind"], f["name"], f["error"]) for f in failures[:10])
            more = " (and %d more)" % (len(failures) - 10) if len(failures) > 10 else ""
            summary = result["summary"]
            done = summary["create"] + summary["update"] + summary["delete"]
            module.fail_json(msg="%d change(s) failed, %d not attempted (they need a failed one), %d %s: %s%s" % (
                len(failures), summary["skipped"], done, "planned" if module.check_mode else "applied", shown, more),
                **result)
        module.exit_json(**result)


class Converge(object):
    def __init__(self, structure, client, pool, check_mode):
        self.structure = structure
        self.client = client
        self.pool = pool
        self.check_mode = check_mode

    def run(self):
        s = self.structure
        timing = {}
        started = time.time()
        snap = read_snapshot(s, self.client, self.pool)
        timing["read"] = round(time.time() - started, 3)
        return self.converge(snap, timing, self.client.calls)

    def converge(self, snap, timing=None, reads=0):
        """Plan every object against the snapshot, then write (unless in check mode); the result."""
        s = self.structure
        timing = {} if timing is None else timing
        started = time.time()
        with collector_skips_existing():
            self.plan(snap)
        timing["plan"] = round(time.time() - started, 3)

        started = time.time()
        if self.check_mode:
            for item in s.items:
                self.blocked(item)
        else:
            self.apply(s.items, snap)
        timing["write"] = round(time.time() - started, 3)
        with collector_skips_existing():
            return self.result(s.items, timing, reads)

    def plan(self, snap):
        s = self.structure
        add_new_objects(s, snap)
        s.add_purges(snap)
        for item in s.items:
            item.resource.module = ItemModule(dict(s.connection, **item.params), self.check_mode)
            item.client = ItemClient(self.client, self.check_mode)
            item.resource.client = item.client
        self.check_references(snap)
        for item in s.items:
            if item.status == "failed":
                continue
            try:
                plan_item(item, snap)
            except Exception as exc:  # one object's plan failing must not stop the others
                item.fail(error_text(exc))
        self.link(s.items)

    def check_references(self, snap):
        """Members of users the structure neither declares nor finds in Harbor (or purges)."""
        s = self.structure
        if "users" not in s.managed:
            return
        declared = set(i.ident for i in s.items if i.kind.name == "user" and not i.purged
                       and i.params["state"] == "present")
        purged = set(i.ident for i in s.items if i.kind.name == "user" and (i.purged or i.params["state"] == "absent"))
        for item in s.items:
            if item.kind.name != "member" or item.purged or item.params["state"] != "present":
                continue
            user = item.params.get("user")
            if not user or user in declared:
                continue
            if user in purged:
                item.fail("user %s is deleted by this run (state absent or purge); declare it in users or "
                          "remove this member" % user)
            elif user not in snap.users:
                item.fail("user %s does not exist in Harbor and is not declared in users" % user)

    def link(self, items):
        index = {}
        for item in items:
            if not item.purged:
                index[(item.kind.name, item.ident)] = item
        index["policy_deletes"] = [i for i in items if i.kind.name == "replication_policy" and i.op == "delete"]
        for item in items:
            if item.op is None:
                continue
            if item.op == "delete":
                item.needs = item.kind.delete_needs(item, index)
            else:
                # only a parent that does not exist yet holds a child back
                item.needs = [n for n in item.kind.needs(item, index)
                              if n is not item and n.current is None and n.params.get("state") != "absent"]

    @staticmethod
    def blocked(item):
        """False for an item ready to be written; an item whose parent failed or was skipped is skipped."""
        if item.status != "planned":
            return True
        for need in item.needs:
            if need.status in ("failed", "skipped"):
                item.status = "skipped"
                item.error = "not attempted: it needs %s, which %s" % (need.label(), need.status)
                return True
        return False

    def apply(self, items, snap):
        writes = [i for i in items if i.op in ("create", "update")]
        deletes = [i for i in items if i.op == "delete"]
        phases = [[i for i in writes if i.kind.level == level] for level in (0, 1, 2)]
        phases += [[i for i in deletes if i.kind.level == level] for level in (2, 1, 0)]
        for phase in phases:
            ready = [i for i in phase if not self.blocked(i)]
            list(self.pool.map(lambda item: self.execute(item, snap), ready))

    @staticmethod
    def execute(item, snap):
        resource, params = item.resource, item.params
        try:
            item.kind.prepare(item, snap)
            if item.op == "delete":
                resource.delete(params, item.current)
            elif item.op == "create":
                # wanted again: ids of what this run created before (a proxy cache's registry) are known now
                resource.create(params, resource.wanted(params))
                item.kind.created(item, snap)
            else:
                resource.update(params, item.current, item.changes, item.wanted)
            if item.op != "delete":
                item.secret = resource.extra_result(params, item.current, item.after).get("secret")
            item.status = "applied"
        except Exception as exc:  # reported with the item; the others go on
            item.fail(error_text(exc))

    def result(self, items, timing, reads):
        drift, failures, skipped, diffs, secrets = [], [], [], [], {}
        summary = dict(create=0, update=0, delete=0, unchanged=0, failed=0, skipped=0, changes=0)
        order = dict((name, n) for n, name in enumerate(KIND_ORDER))
        for item in sorted(items, key=lambda i: (order.get(i.kind.name, 99), i.ident)):
            if item.status == "unchanged":
                summary["unchanged"] += 1
                continue
            if item.status == "failed" and item.op is None:
                failures.append(dict(kind=item.kind.name, name=item.ident, action="plan", error=item.error))
                summary["failed"] += 1
                summary["changes"] += 1
                continue
            action = item.kind.action(item)
            secret_keys = item.resource.secret_keys
            before, after = item.kind.view(item, hide(item.before, secret_keys), hide(item.after, secret_keys))
            entry = dict(kind=item.kind.name, name=item.ident, action=action,
                         status=item.status, changes=field_changes(before, after, item.resource.unordered))
            if item.purged:
                entry["purged"] = True
            summary["changes"] += 1
            if item.status == "failed":
                entry["error"] = item.error
                failures.append(dict(kind=item.kind.name, name=item.ident, action=action, error=item.error))
                summary["failed"] += 1
            elif item.status == "skipped":
                entry["reason"] = item.error
                skipped.append(dict(kind=item.kind.name, name=item.ident, action=action, reason=item.error))
                summary["skipped"] += 1
            else:
                summary[action] += 1
            drift.append(entry)
            header = "%s %s (%s)" % (item.kind.name, item.ident, action)
            diffs.append(dict(before_header=header, after_header=header, before=before, after=after))
            if item.secret:
                secrets[PREFIX + item.ident] = item.secret  # Harbor's full name: robot$name or robot$project+name
        applied = any(i.status == "applied" for i in items)
        planned = any(i.status == "planned" for i in items)
        result = dict(changed=applied if not self.check_mode else planned, summary=summary, drift=drift,
                      failures=failures, not_attempted=skipped, diff=diffs,
                      requests=dict(total=getattr(self.client, "calls", 0), reads=reads), seconds=timing)
        if secrets:
            result["secrets"] = secrets
        return result
