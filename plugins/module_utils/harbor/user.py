# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Harbor user resource (local database users)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.client import HarborClient, HarborError
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import InvalidInput, Resource

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_password(password, option="password"):
    if not (8 <= len(password) <= 128 and re.search(r"[A-Z]", password) and re.search(r"[a-z]", password)
            and re.search(r"[0-9]", password)):
        raise InvalidInput("%s does not meet Harbor's password policy: 8 to 128 characters with at least one "
                           "upper-case letter, one lower-case letter and one digit" % option)


def check_profile(params):
    email = params.get("email")
    if email is not None and not EMAIL.match(email):
        raise InvalidInput("email %r is not a valid e-mail address" % email)
    realname = params.get("realname")
    if realname is not None and not 1 <= len(realname) <= 255:
        raise InvalidInput("realname must be 1 to 255 characters long")
    comment = params.get("comment")
    if comment is not None and len(comment) > 30:
        raise InvalidInput("comment must be at most 30 characters long (Harbor's limit)")


def find_user(client, username):
    for user in client.list("/users", params={"q": "username=%s" % username}):
        if user["username"] == username:
            return user
    return None


class UserResource(Resource):
    kind = "user"

    def argument_spec(self):
        return dict(
            username=dict(type="str", required=True, aliases=["name"]),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            email=dict(type="str"),
            realname=dict(type="str"),
            comment=dict(type="str"),
            password=dict(type="str", no_log=True),
            update_password=dict(type="str", default="on_create", choices=["on_create", "always"],
                                 no_log=False),
            sysadmin=dict(type="bool"),
        )

    def identity(self, params):
        return params["username"]

    def validate(self, params):
        name = params["username"]
        if not 1 <= len(name) <= 255 or set(name) & set(',~#$%"'):
            raise InvalidInput("username %r is invalid: 1 to 255 characters, none of , ~ # $ %% \"" % name)
        if params.get("password") is not None:
            check_password(params["password"])
        check_profile(params)

    def read(self, params):
        return find_user(self.client, params["username"])

    def state(self, current):
        out = dict((k, current.get(k)) for k in ("username", "email", "realname", "comment"))
        out["sysadmin"] = bool(current.get("sysadmin_flag"))
        return out

    def wanted(self, params):
        out = {"username": params["username"]}
        for key in ("email", "realname", "comment", "sysadmin"):
            if params.get(key) is not None:
                out[key] = params[key]
        return out

    def hidden_changes(self, params, current):
        """Passwords cannot be read: with update_password=always, the password counts as changed
        when logging in with it fails (a read-only check, so check mode can answer too)."""
        if params.get("update_password") != "always" or params.get("password") is None:
            return []
        probe = HarborClient(self.client.base, params["username"], params["password"],
                             validate_certs=self.module.params["validate_certs"] if self.module else True,
                             ca_path=self.module.params.get("ca_path") if self.module else None,
                             timeout=self.client.timeout, retries=0)
        try:
            probe.get("/users/current")
            return []
        except HarborError as exc:
            if exc.status == 401:
                return ["password"]
            raise
        finally:
            probe.close()

    def create(self, params, wanted):
        missing = [k for k in ("password", "email", "realname") if params.get(k) is None]
        if missing:
            raise InvalidInput("creating user %s needs %s" % (params["username"], ", ".join(missing)))
        body = {"username": params["username"], "password": params["password"], "email": params["email"],
                "realname": params["realname"], "comment": params.get("comment") or ""}
        new_id, dummy = self.client.create("/users", body)
        if params.get("sysadmin"):
            self.client.update("/users/%s/sysadmin" % new_id, {"sysadmin_flag": True})
        return None

    def update(self, params, current, changes, wanted):
        user_id = current["user_id"]
        if any(k in changes for k in ("email", "realname", "comment")):
            # Harbor's PUT replaces email, realname and comment together
            profile = dict((k, current.get(k) or "") for k in ("email", "realname", "comment"))
            profile.update((k, v) for k, v in changes.items() if k in profile)
            self.client.update("/users/%s" % user_id, profile)
        if "sysadmin" in changes:
            self.client.update("/users/%s/sysadmin" % user_id, {"sysadmin_flag": changes["sysadmin"]})
        if changes.get("password"):
            self.client.update("/users/%s/password" % user_id, {"new_password": params["password"]})

    def delete(self, params, current):
        # Harbor soft-deletes: the account is renamed name#id, so the name can be used again.
        self.client.delete("/users/%s" % current["user_id"])
