"""Robot accounts: create (the one create that answers with a body: the secret), list, get,
update, refresh the secret (PATCH), delete.

Names: `robot$<name>` at system level, `robot$<project>+<name>` at project level (the project
is the namespace of the single project permission). The secret is stored hashed and only
ever shown at creation or refresh. Permissions are validated against the (resource, action)
pairs Harbor lets robots hold (src/common/rbac/const.go PoliciesMap plus NolimitProvider).
"""

import re
import secrets
import string
import time

from .. import auth, query, timeutil
from ..errors import bad_request, conflict, not_found
from ..validate import RESOURCE_NAME
from ..web import created, json_response, route

PREFIX = "robot$"
LEVELS = ("system", "project")
MAX_DURATION = 2**31 - 1


def _pairs(spec):
    return {(resource, action) for resource, actions in spec.items() for action in actions.split()}


SYSTEM_ACCESS = _pairs({
    "audit-log": "list",
    "preheat-instance": "read create delete list update",
    "project": "list create",
    "replication-policy": "read create delete list update",
    "replication": "read create list",
    "replication-adapter": "list",
    "registry": "read create delete list update",
    "scan-all": "read update stop create",
    "system-volumes": "read",
    "garbage-collection": "read create list update stop",
    "purge-audit": "read create list update stop",
    "jobservice-monitor": "list stop",
    "scanner": "read create delete list update",
    "label": "read create delete update",
    "security-hub": "read list",
    "catalog": "read",
    "quota": "read list",
    "export-cve": "read create",
    "ldap-user": "create list",
    "user": "read create delete list update",
    "user-group": "read create delete list update",
    "robot": "read create delete list update",
    "configuration": "read update",
})
PROJECT_ACCESS = _pairs({
    "log": "list",
    "project": "read delete update",
    "metadata": "read create delete list update",
    "repository": "read update delete list pull push",
    "artifact": "read create list delete",
    "scan": "create read stop",
    "tag": "create list delete",
    "accessory": "list",
    "artifact-addition": "read",
    "artifact-label": "create delete",
    "scanner": "create read",
    "preheat-policy": "read create delete list update",
    "immutable-tag": "create delete list update",
    "notification-policy": "read create delete list update",
    "tag-retention": "read create delete list update operate",
    "label": "read create delete list update",
    "quota": "read",
    "sbom": "create read stop",
    "export-cve": "read create",
    "member": "read create delete list update",
    "robot": "read create delete list update",
})
EFFECTS = ("allow", "deny")


def random_secret():
    """32 characters with at least one upper, lower and digit (what Harbor's CreateSec yields)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(32))
        if valid_secret(value):
            return value


def valid_secret(value):
    return bool(8 <= len(value) <= 128 and re.search(r"[a-z]", value) and re.search(r"[A-Z]", value)
                and re.search(r"[0-9]", value))


def check_secret(value):
    if not valid_secret(value):
        raise bad_request("the secret must be 8-128, inclusively, characters long with at least 1 uppercase "
                          "letter, 1 lowercase letter and 1 number")
    return value


# -- validation --------------------------------------------------------------------------
def check_duration(duration):
    if duration is None or not (duration == -1 or 0 < duration < MAX_DURATION):
        raise bad_request(f"bad request error duration input: {duration}, duration must be either -1(Never) "
                          "or a positive integer")
    return duration


def check_level(level):
    if level not in LEVELS:
        raise bad_request(f"bad request error level input: {level}")
    return level


def parse_permissions(body, level):
    """The permissions list, normalised; every bad shape or unknown pair is a 400."""
    perms = body.objs("permissions")
    if not perms:
        raise bad_request("bad request empty permission")
    if level == "project" and len(perms) > 1:
        raise bad_request("bad request permission: a project level robot takes exactly one project permission")
    return [_permission(perm) for perm in perms]


def _permission(perm):
    kind = perm.str("kind", required=True)
    namespace = perm.str("namespace", required=True)
    accesses = perm.objs("access")
    if not accesses:
        raise bad_request("bad request empty access")
    allowed = {"system": SYSTEM_ACCESS, "project": PROJECT_ACCESS}.get(kind)
    if allowed is None:
        raise bad_request(f"bad request permission level: {kind}")
    out = []
    for access in accesses:
        resource = access.str("resource", required=True)
        action = access.str("action", required=True)
        if (resource, action) not in allowed:
            raise bad_request(f"bad request permission: {resource}:{action}")
        item = {"resource": resource, "action": action}
        effect = access.str("effect", choices=EFFECTS)
        if effect is not None:
            item["effect"] = effect
        out.append(item)
    return {"kind": kind, "namespace": namespace, "access": out}


def project_of(ctx, level, permissions):
    """The project a project-level robot belongs to; checks project namespaces exist."""
    if level == "project":
        perm = permissions[0]
        if perm["kind"] != "project" or perm["namespace"] == "*":
            raise bad_request("bad request permission: a project level robot needs one permission of kind "
                              "project whose namespace is the project name")
    for perm in permissions:
        if perm["kind"] == "project" and perm["namespace"] != "*":
            if ctx.tx.get_by_name("project", perm["namespace"]) is None:
                raise not_found(f"project {perm['namespace']} not found")
    if level == "project":
        return ctx.tx.get_by_name("project", permissions[0]["namespace"])
    return None


def require_access(ctx, robot_level, project, action):
    if robot_level == "system":
        ctx.principal.require_system("robot", action)
    else:
        ctx.principal.require(ctx.tx, project, "robot", action)


def expires_at(creation_epoch, duration):
    return -1 if duration == -1 else creation_epoch + duration * 86400


def full_name(level, name, project):
    return f"{PREFIX}{name}" if level == "system" else f"{PREFIX}{project['name']}+{name}"


# -- documents --------------------------------------------------------------------------
def view(robot):
    """What GET shows: never the secret."""
    return {k: robot[k] for k in ("id", "name", "description", "level", "duration", "disable", "editable",
                                  "expires_at", "permissions", "creator_type", "creator_ref", "creation_time",
                                  "update_time")}


def load(ctx, robot_id):
    robot = ctx.tx.get("robot", ctx.int_id(robot_id, "robot_id"))
    if robot is None:
        raise not_found(f"robot {robot_id} not found")
    return robot


def robot_project(ctx, robot):
    if robot.get("level") != "project":
        return None
    project = ctx.tx.get("project", robot["project_id"])
    if project is None:
        raise not_found(f"project {robot['project_id']} not found")
    return project


def creator(principal):
    if principal.user is not None:
        return "local", principal.user_id
    return "robot", principal.robot["id"]


# -- handlers ---------------------------------------------------------------------------
@route("/robots", methods=["POST"])
def create(ctx):
    ctx.principal.require_login()
    body = ctx.body()
    name = body.str("name", required=True)
    if not RESOURCE_NAME.match(name) or len(name) > 255:
        raise bad_request("robot name is not in lower case or contains illegal characters")
    duration = check_duration(body.int("duration", default=0))
    level = check_level(body.str("level", default=""))
    permissions = parse_permissions(body, level)
    project = project_of(ctx, level, permissions)
    require_access(ctx, level, project, "create")
    given = body.str("secret", default="")
    secret = check_secret(given) if given else random_secret()
    robot = insert(ctx, name, level, project, permissions, duration, secret,
                   description=body.str("description", default=""), disable=body.bool("disable", default=False))
    return created(f"/robots/{robot['id']}", {"id": robot["id"], "name": robot["name"], "secret": secret,
                                              "creation_time": robot["creation_time"],
                                              "expires_at": robot["expires_at"]})


def insert(ctx, name, level, project, permissions, duration, secret, description="", disable=False):
    robot_id = ctx.tx.next_id("robot")
    now = timeutil.now()
    fullname = full_name(level, name, project)
    kind, ref = creator(ctx.principal)
    robot = {
        "id": robot_id, "name": fullname, "short_name": name, "description": description, "level": level,
        "project_id": project["project_id"] if project else 0, "duration": duration,
        "expires_at": expires_at(int(time.time()), duration), "disable": disable, "editable": True,
        "permissions": permissions, "secret_hash": auth.hash_secret(secret), "creator_type": kind,
        "creator_ref": ref, "creation_time": now, "update_time": now,
    }
    if ctx.tx.get_by_name("robot", fullname) is not None:
        raise conflict(f"robot account {fullname} already exists")
    # a project robot lives under its project: listing one project's robots reads only those
    ctx.tx.insert("robot", robot_id, robot, parent=robot["project_id"], name=fullname, unique=[f"name:{fullname}"])
    return robot


ROBOT_FIELDS = {
    "name": lambda r: r["name"],
    "Level": lambda r: r["level"],
    "level": lambda r: r["level"],
    "ProjectID": lambda r: r.get("project_id", 0),
    "project_id": lambda r: r.get("project_id", 0),
    "id": lambda r: r["id"],
    "disable": lambda r: r["disable"],
    "creation_time": lambda r: r["creation_time"],
    "update_time": lambda r: r["update_time"],
    "expires_at": lambda r: r["expires_at"],
}


def list_scope(ctx, terms):
    """Harbor: without Level only system robots; Level=project needs ProjectID."""
    level = next((value for key, kind, value in terms if key in ("Level", "level") and kind == "exact"), None)
    if level is None:
        return "system", None
    if level not in LEVELS:
        raise bad_request("bad request error level input")
    if level == "system":
        return "system", None
    raw = next((value for key, kind, value in terms if key in ("ProjectID", "project_id")), None)
    if raw is None:
        raise bad_request("must with project ID when to query project robots")
    try:
        project_id = int(raw)
    except (TypeError, ValueError):
        raise bad_request("Project ID must be int type.") from None
    project = ctx.tx.get("project", project_id)
    if project is None:
        raise not_found(f"project {project_id} not found")
    return "project", project


@route("/robots")
def list_robots(ctx):
    ctx.principal.require_login()
    terms = query.parse_q(ctx.args.get("q"))
    level, project = list_scope(ctx, terms)
    require_access(ctx, level, project, "list")
    if level == "system":
        robots = [r for r in ctx.tx.list("robot", parent=0) if r.get("level") == "system"]
    else:
        robots = ctx.tx.list("robot", parent=project["project_id"])
    page, headers = query.listing(ctx.request, robots, ROBOT_FIELDS)
    return json_response([view(r) for r in page], headers=headers)


@route("/robots/<robot_id>")
def get(ctx, robot_id):
    ctx.principal.require_login()
    robot = load(ctx, robot_id)
    require_access(ctx, robot["level"], robot_project(ctx, robot), "read")
    return view(robot)


@route("/robots/<robot_id>", methods=["PUT"])
def update(ctx, robot_id):
    ctx.principal.require_login()
    robot = load(ctx, robot_id)
    body = ctx.body()
    duration = check_duration(body.int("duration", default=robot["duration"]))
    level = check_level(body.str("level", default=""))
    permissions = parse_permissions(body, level)
    project = project_of(ctx, level, permissions)
    if robot["level"] == "project" and (project is None or project["project_id"] != robot["project_id"]):
        raise bad_request("cannot update the project id of robot")
    require_access(ctx, robot["level"], robot_project(ctx, robot), "update")
    if level != robot["level"] or body.str("name", default="") != robot["name"]:
        raise bad_request("cannot update the level or name of robot")
    if duration != robot["duration"]:
        created_at = int(timeutil.parse(robot["creation_time"]).timestamp())
        robot["duration"], robot["expires_at"] = duration, expires_at(created_at, duration)
    # Harbor copies the body over the robot: an omitted description or disable resets it
    robot.update(description=body.str("description", default=""), disable=body.bool("disable", default=False),
                 permissions=permissions, update_time=timeutil.now())
    ctx.tx.update("robot", robot["id"], dict(robot))


@route("/robots/<robot_id>", methods=["PATCH"])
def refresh_secret(ctx, robot_id):
    ctx.principal.require_login()
    robot = load(ctx, robot_id)
    require_access(ctx, robot["level"], robot_project(ctx, robot), "update")
    given = ctx.body().str("secret", default="")
    # Harbor answers an empty secret when the caller chose it, the new one when it generated it
    secret = check_secret(given) if given else random_secret()
    robot["secret_hash"] = auth.hash_secret(secret)
    robot["update_time"] = timeutil.now()
    ctx.tx.update("robot", robot["id"], dict(robot))
    return {"secret": "" if given else secret}


@route("/robots/<robot_id>", methods=["DELETE"])
def delete(ctx, robot_id):
    ctx.principal.require_login()
    robot = load(ctx, robot_id)
    require_access(ctx, robot["level"], robot_project(ctx, robot), "delete")
    ctx.tx.delete("robot", robot["id"])

