# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Harbor's system configuration (GET {key: {value, editable}}, PUT a flat partial map)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import InvalidInput, Resource, differs

# Harbor never returns these; they can only be written.
SECRET_KEYS = ("ldap_search_password", "oidc_client_secret", "uaa_client_secret", "email_password")


class ConfigResource(Resource):
    kind = "config"
    supports_absent = False

    def argument_spec(self):
        return dict(
            settings=dict(type="dict", default={}),
            secrets=dict(type="dict", no_log=True),
            read_only=dict(type="bool"),
            update_secrets=dict(type="str", default="on_change", choices=["on_change", "always"], no_log=False),
        )

    def identity(self, params):
        return "configuration"

    def wanted_settings(self, params):
        settings = dict(params.get("settings") or {})
        if params.get("read_only") is not None:
            if "read_only" in settings and settings["read_only"] != params["read_only"]:
                raise InvalidInput("read_only is set twice with different values (option and settings.read_only)")
            settings["read_only"] = params["read_only"]
        return settings

    def validate(self, params):
        settings = self.wanted_settings(params)
        secrets = params.get("secrets") or {}
        if not settings and not secrets:
            raise InvalidInput("nothing to configure: set settings, secrets and/or read_only")
        misplaced = sorted(k for k in settings if k in SECRET_KEYS)
        if misplaced:
            raise InvalidInput("%s belong in secrets (no_log), not in settings" % ", ".join(misplaced))
        unknown_secrets = sorted(k for k in secrets if k not in SECRET_KEYS)
        if unknown_secrets:
            raise InvalidInput("secrets takes only %s; not %s" % (", ".join(SECRET_KEYS), ", ".join(unknown_secrets)))
        for key, value in settings.items():
            if isinstance(value, (dict, list)):
                raise InvalidInput("settings.%s: Harbor configuration values are strings, numbers or booleans" % key)

    def read(self, params):
        return self.client.get("/configurations") or {}

    def state(self, current):
        # compare only the keys the user gives, so the diff shows just those
        keys = list(self.wanted_settings(self.module.params))
        unknown = [k for k in keys if k not in current]
        if unknown:
            raise InvalidInput("unknown Harbor configuration key(s): %s" % ", ".join(sorted(unknown)))
        return dict((k, current[k].get("value") if isinstance(current[k], dict) else current[k]) for k in keys)

    def wanted(self, params):
        return self.wanted_settings(params)

    def hidden_changes(self, params, current):
        """Secrets cannot be read back: `always` sends them every run; `on_change` only along
        with a change of a readable key (e.g. when an LDAP or OIDC set-up is first applied)."""
        secrets = sorted(params.get("secrets") or {})
        if not secrets:
            return []
        if params["update_secrets"] == "always":
            return secrets
        readable_change = any(self._differs(current, k, v) for k, v in self.wanted_settings(params).items())
        return secrets if readable_change else []

    @staticmethod
    def _differs(current, key, value):
        entry = current.get(key)
        return differs(entry.get("value") if isinstance(entry, dict) else entry, value)

    def create(self, params, wanted):
        raise InvalidInput("Harbor returned no configuration")

    def update(self, params, current, changes, wanted):
        settings = self.wanted_settings(params)
        secrets = params.get("secrets") or {}
        body = dict((k, secrets[k] if k in secrets else settings[k]) for k in changes)
        self.client.update("/configurations", body)
