# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one reconcile engine: read -> compare the options the user set -> write -> diff.

A module declares a Resource (how to find, read, create, update and delete one Harbor
object, and how its API shape maps onto the module's options); `HarborModule(resource).run()`
does the rest the same way for every module: validation before any call, check mode with
zero writes, `changed` exactly when something changed, a before/after diff without secrets.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.client import (
    HAS_URLLIB3,
    URLLIB3_IMPORT_ERROR,
    HarborClient,
    HarborError,
)


def harbor_argument_spec():
    """The connection options of the `registryops.harbor.harbor` doc fragment."""
    return dict(
        api_url=dict(type="str", required=True, fallback=(env_fallback, ["HARBOR_URL"])),
        api_username=dict(type="str", required=True, fallback=(env_fallback, ["HARBOR_USERNAME"])),
        api_password=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["HARBOR_PASSWORD"])),
        validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["HARBOR_VALIDATE_CERTS"])),
        ca_path=dict(type="path"),
        timeout=dict(type="int", default=30),
        retries=dict(type="int", default=3),
    )


def client_from_params(params):
    return HarborClient(
        params["api_url"], params["api_username"], params["api_password"],
        validate_certs=params["validate_certs"], ca_path=params.get("ca_path"),
        timeout=params["timeout"], retries=params["retries"],
    )


class InvalidInput(Exception):
    """Bad module input, found before any HTTP call."""


def normalise(value):
    """Canonical form for comparison: Harbor's "true"/"false" strings and numbers as strings
    compare equal to booleans and ints; dict keys with None values are dropped."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        try:
            return int(value)
        except ValueError:
            return value
    if isinstance(value, dict):
        return dict((k, normalise(v)) for k, v in value.items() if v is not None)
    if isinstance(value, (list, tuple)):
        return [normalise(v) for v in value]
    return value


# classes whose equal values have the same canonical form and the same repr
PLAIN = (str, int, bool, type(None))


def identical(a, b):
    """True when a and b are equal with the same classes all the way down and dict keys in the same
    order: then their canonical forms are equal, as are their reprs (what unordered lists sort by).
    False also means "not sure": differs() then compares the canonical forms."""
    cls = a.__class__
    if cls is not b.__class__:
        return False
    if cls in PLAIN:
        return a == b
    if cls is dict:
        if len(a) != len(b):
            return False
        for (key_a, value_a), (key_b, value_b) in zip(a.items(), b.items()):
            if not (identical(key_a, key_b) and identical(value_a, value_b)):
                return False
        return True
    if cls is list or cls is tuple:
        if len(a) != len(b):
            return False
        for value_a, value_b in zip(a, b):
            if not identical(value_a, value_b):
                return False
        return True
    return False


def differs(current, wanted, unordered=False):
    if identical(current, wanted):  # most compared values of a run: no canonical forms to build
        return False
    a, b = normalise(current), normalise(wanted)
    if unordered and isinstance(a, list) and isinstance(b, list):
        return sorted(a, key=repr) != sorted(b, key=repr)
    return a != b


class Resource(object):
    """What a module declares. Subclasses override the hooks they need.

    state(): the object's current settings in the module's option space (no secrets).
    wanted(): the settings the user asked for (only options that are set).
    """

    kind = "object"           # result key and wording in messages
    unordered = ()            # options whose list order does not matter
    secret_keys = ()          # keys never shown in diffs or results
    supports_absent = True

    def __init__(self):
        self.module = None
        self.client = None

    # -- declared by modules ----------------------------------------------------------
    def argument_spec(self):
        raise NotImplementedError

    def module_kwargs(self):
        return {}

    def validate(self, params):
        """Raise InvalidInput for bad input; called before any HTTP call."""

    def identity(self, params):
        """A short human name of the object (for messages)."""
        return params.get("name")

    def read(self, params):
        raise NotImplementedError

    def bind(self, current):
        """Called with what read() returned, before wanted(): for resources whose wanted
        state depends on the current one."""

    def desired_absent(self, params):
        return params.get("state") == "absent"

    def state(self, current):
        raise NotImplementedError

    def wanted(self, params):
        raise NotImplementedError

    def create(self, params, wanted):
        raise NotImplementedError

    def update(self, params, current, changes, wanted):
        raise NotImplementedError

    def delete(self, params, current):
        raise NotImplementedError

    def hidden_changes(self, params, current):
        """Names of write-only settings (passwords, secrets) that differ although they cannot be
        read back; each is passed to update() as changes[name] = True and shown masked in the diff."""
        return []

    def extra_result(self, params, current, after):
        """Additional result keys (e.g. a robot secret)."""
        return {}


MASK = "********"


def hide(state, secret_keys):
    return dict((k, v) for k, v in state.items() if k not in secret_keys)


class HarborModule(object):
    """Runs one Resource as an Ansible module."""

    def __init__(self, resource):
        self.resource = resource
        spec = harbor_argument_spec()
        spec.update(resource.argument_spec())
        kwargs = dict(supports_check_mode=True)
        kwargs.update(resource.module_kwargs())
        self.module = AnsibleModule(argument_spec=spec, **kwargs)
        resource.module = self.module

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **kwargs)

    def run(self):
        module = self.module
        if not HAS_URLLIB3:
            module.fail_json(msg=missing_required_lib("urllib3"), exception=str(URLLIB3_IMPORT_ERROR))
        params = module.params
        try:
            self.resource.validate(params)
        except InvalidInput as exc:
            self.fail(str(exc))
        self.resource.client = client_from_params(params)
        try:
            result = self.reconcile(params)
        except InvalidInput as exc:
            self.fail(str(exc))
        except HarborError as exc:
            self.fail(explain(exc), status=exc.status, harbor_code=exc.code, request_id=exc.request_id)
        finally:
            self.resource.client.close()
        module.exit_json(**result)

    def reconcile(self, params):
        resource = self.resource
        check = self.module.check_mode
        current = resource.read(params)
        resource.bind(current)
        before = resource.state(current) if current is not None else {}
        changed = False
        created = False
        if resource.desired_absent(params):
            after = {}
            if current is not None:
                changed = True
                if not check:
                    resource.delete(params, current)
        else:
            wanted = resource.wanted(params)
            if current is None:
                changed = created = True
                after = copy.deepcopy(wanted)
                if not check:
                    new_state = resource.create(params, wanted)
                    if new_state:
                        after = new_state
            else:
                changes = dict(
                    (key, value) for key, value in wanted.items()
                    if differs(before.get(key), value, key in resource.unordered)
                )
                after = copy.deepcopy(before)
                after.update(changes)
                for name in resource.hidden_changes(params, current):
                    changes[name] = True
                    before[name] = MASK
                    after[name] = MASK + " (changed)"
                if changes:
                    changed = True
                    if not check:
                        resource.update(params, current, changes, wanted)
        secret = resource.secret_keys
        result = dict(changed=changed)
        result[resource.kind] = hide(after, secret) if after else {}
        if self.module._diff:
            result["diff"] = dict(before=hide(before, secret), after=hide(after, secret))
        result.update(resource.extra_result(params, current, after) if (created or changed) else {})
        return result


def explain(exc):
    """Harbor's error plus what it usually means for the operator."""
    hints = {
        401: "check api_username/api_password (robot accounts use their full name, e.g. robot$name)",
        403: "the account lacks the Harbor role this change needs",
        404: "it does not exist in Harbor",
        409: "an object with that name or key already exists",
        412: "Harbor refuses while something still depends on it",
    }
    hint = hints.get(exc.status)
    return "%s. Hint: %s" % (exc.describe(), hint) if hint else exc.describe()
