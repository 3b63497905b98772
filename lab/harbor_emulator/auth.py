"""Who is calling, and what Harbor lets them do.

Project roles follow Harbor's RBAC (src/common/rbac/project): a role grants a set of
(resource, action) pairs inside a project. System administrators may do everything.
Robot accounts carry explicit permissions: [{kind, namespace, access:[{resource, action}]}].
"""

import base64
import hashlib
import hmac
import os

from .errors import forbidden, unauthorized

ROLE_NAMES = {1: "projectAdmin", 2: "developer", 3: "guest", 4: "maintainer", 5: "limitedGuest"}


def _grants(*groups):
    """{(resource, action)} from ("resource", "action action ...") pairs."""
    return {(resource, action) for resource, actions in groups for action in actions.split()}


# Harbor's rolePoliciesMap (src/common/rbac/project/rbac_role.go, v2.11+: maintainers lost
# metadata writes and only project admins list the project's logs; chart resources are gone).
# "project" stands for Harbor's ResourceSelf (the project itself).
_PROJECT_ADMIN = _grants(
    ("project", "read update delete"), ("member", "create read update delete list"),
    ("metadata", "create read update delete"), ("log", "list"),
    ("label", "create read update delete list"), ("quota", "read"),
    ("repository", "create read update delete list pull push"),
    ("tag-retention", "create read update delete list operate"),
    ("immutable-tag", "create update delete list"), ("configuration", "read update"),
    ("robot", "create read update delete list"), ("notification-policy", "create update delete list read"),
    ("scan", "create read stop"), ("sbom", "create stop read"), ("scanner", "read create"),
    ("artifact", "create read delete list"), ("artifact-addition", "read"), ("tag", "list create delete"),
    ("accessory", "list"), ("artifact-label", "create delete"),
    ("preheat-policy", "create read update delete list"), ("export-cve", "create read list"),
)
_MAINTAINER = _grants(
    ("project", "read"), ("member", "read list"), ("metadata", "read"), ("quota", "read"),
    ("label", "create read update delete list"),
    ("repository", "create read update delete list push pull"),
    ("tag-retention", "create read update delete list operate"), ("accessory", "list"),
    ("immutable-tag", "create update delete list"), ("configuration", "read"), ("robot", "read list"),
    ("notification-policy", "read list"), ("scan", "create read stop"), ("sbom", "create stop read"),
    ("scanner", "read"), ("artifact", "create read delete list"), ("artifact-addition", "read"),
    ("tag", "list create delete"), ("artifact-label", "create delete"), ("export-cve", "create read list"),
)
_DEVELOPER = _grants(
    ("project", "read"), ("member", "read list"), ("label", "read list"), ("quota", "read"),
    ("repository", "create read update list push pull"),
    ("tag-retention", "create read update delete list operate"), ("configuration", "read"),
    ("robot", "read list"), ("scan", "read"), ("sbom", "read"), ("scanner", "read"),
    ("artifact", "create read list"), ("artifact-addition", "read"), ("tag", "list create"),
    ("accessory", "list"), ("artifact-label", "create delete"), ("export-cve", "create read list"),
)
_GUEST = _grants(
    ("project", "read"), ("member", "read list"), ("label", "read list"), ("quota", "read"),
    ("repository", "read list pull"), ("configuration", "read"), ("robot", "read list"),
    ("scan", "read"), ("sbom", "read"), ("scanner", "read"), ("tag", "list"), ("accessory", "list"),
    ("artifact", "read list"), ("artifact-addition", "read"),
)
_LIMITED_GUEST = _grants(
    ("project", "read"), ("quota", "read"), ("repository", "list read pull"), ("configuration", "read"),
    ("scan", "read"), ("sbom", "read"), ("scanner", "read"), ("tag", "list"), ("accessory", "list"),
    ("artifact", "read list"), ("artifact-addition", "read"),
)
ROLE_PERMISSIONS = {1: _PROJECT_ADMIN, 2: _DEVELOPER, 3: _GUEST, 4: _MAINTAINER, 5: _LIMITED_GUEST}

# What a public project lets any caller (even anonymous) do: Harbor's publicProjectPolicies.
PUBLIC_PERMISSIONS = _grants(
    ("project", "read"), ("label", "read list"), ("repository", "list pull read"), ("scan", "read"),
    ("scanner", "read"), ("tag", "list"), ("artifact", "read list"), ("artifact-addition", "read"),
    ("accessory", "list"), ("sbom", "read"),
)

# Names some emulator modules use for a Harbor resource.
RESOURCE_ALIASES = {"webhook-policy": "notification-policy"}


def hash_secret(secret, salt=None):
    """Salted SHA-256: enough for a lab, and cheap so auth never dominates benchmarks."""
    salt = salt or os.urandom(8).hex()
    return salt + "$" + hashlib.sha256((salt + secret).encode()).hexdigest()


def check_secret(secret, stored):
    if not stored or "$" not in stored:
        return False
    salt = stored.split("$", 1)[0]
    return hmac.compare_digest(hash_secret(secret, salt), stored)


def parse_basic(header):
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        raw = base64.b64decode(header[6:].strip()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if ":" not in raw:
        return None
    return tuple(raw.split(":", 1))


class Principal:
    """The caller. `user` is the user document, `robot` the robot document (one or neither)."""

    def __init__(self, user=None, robot=None):
        self.user = user
        self.robot = robot

    @property
    def anonymous(self):
        return self.user is None and self.robot is None

    @property
    def sysadmin(self):
        return bool(self.user and self.user.get("sysadmin_flag"))

    @property
    def username(self):
        if self.user:
            return self.user["username"]
        if self.robot:
            return self.robot["name"]
        return "anonymous"

    @property
    def user_id(self):
        return self.user["user_id"] if self.user else None

    # -- checks -------------------------------------------------------------------
    def require_login(self):
        if self.anonymous:
            raise unauthorized("UnAuthorized")

    def require_sysadmin(self):
        self.require_login()
        if not self.sysadmin:
            raise forbidden(f"{self.username} is not an administrator")

    def project_roles(self, tx, project_ids=None):
        """{project_id: role id} of the projects (all, or those given) the caller (a user) is a
        member of, in one query."""
        if self.user is None:
            return {}
        members = tx.list_named("member", f"u:{self.user['user_id']}", parents=project_ids)
        return {m.parent: m["role_id"] for m in members}

    def project_role(self, tx, project):
        """The caller's role id in `project` (a project document), or None."""
        if self.user is None:
            return None
        member = tx.get_by_name("member", f"u:{self.user['user_id']}", parent=project["project_id"])
        return member["role_id"] if member else None

    def can(self, tx, project, resource, action):
        resource = RESOURCE_ALIASES.get(resource, resource)
        if self.sysadmin:
            return True
        # a public project is readable by anyone, robots included
        if project.get("metadata", {}).get("public") == "true" and (resource, action) in PUBLIC_PERMISSIONS:
            return True
        if self.robot is not None:
            return robot_allows(self.robot, project, resource, action)
        role = self.project_role(tx, project)
        return role is not None and (resource, action) in ROLE_PERMISSIONS.get(role, set())

    def require(self, tx, project, resource, action):
        if not self.can(tx, project, resource, action):
            if self.anonymous:
                raise unauthorized("UnAuthorized")
            raise forbidden(f"{self.username} has no permission to {action} {resource} in project {project['name']}")

    def require_system(self, resource, action):
        """System-level permission: sysadmins, or robots granted it at system level."""
        self.require_login()
        if self.sysadmin:
            return
        if self.robot is not None and robot_allows(self.robot, None, resource, action):
            return
        raise forbidden(f"{self.username} has no permission to {action} {resource}")


def robot_allows(robot, project, resource, action):
    if robot.get("disable"):
        return False
    for perm in robot.get("permissions") or []:
        kind = perm.get("kind")
        namespace = perm.get("namespace")
        if project is None:
            if kind != "system":
                continue
        elif kind == "project":
            if namespace not in ("*", project["name"]):
                continue
        elif kind != "system":
            continue
        for access in perm.get("access") or []:
            if access.get("effect", "allow") == "deny":
                continue
            if access.get("resource") in (resource, "*") and access.get("action") in (action, "*"):
                return True
    return False
