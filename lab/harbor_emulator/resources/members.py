"""Project members: users and groups with roles 1-5; list with `entityname`; PUT {role_id}.

Follows Harbor's member handler and controller (src/controller/member): members are listed by
entity name, `entityname` is an exact match, X-Total-Count always counts every member of the
project (Harbor counts before filtering), and PUT/DELETE of an unknown member id do nothing
and answer 200. A member's user is taken by `user_id` first, then `username`.
"""

from .. import query
from ..auth import ROLE_NAMES
from ..errors import bad_request, conflict, not_found
from ..web import created, json_response, route

GROUP_TYPES = {1: "LDAP", 2: "HTTP", 3: "OIDC"}
INVALID_ROLE = "Failed to update project member, role is not in 1,2,3,4,5"


def add_member(tx, project_id, entity_type, entity_id, entity_name, role_id):
    member_id = tx.next_id("member")
    doc = {"id": member_id, "project_id": project_id, "entity_type": entity_type, "entity_id": entity_id,
           "entity_name": entity_name, "role_id": role_id, "role_name": ROLE_NAMES[role_id]}
    key = f"{entity_type}:{entity_id}"
    tx.insert("member", member_id, doc, parent=project_id, name=key, unique=[f"{project_id}/{key}"])
    return doc


def delete_user_memberships(tx, user_id):
    """A deleted user leaves every project (Harbor's DeleteProjectMemberByUserID)."""
    for row in tx.execute("SELECT id FROM objects WHERE kind = 'member' AND name = ?", (f"u:{user_id}",)).fetchall():
        tx.delete("member", int(row[0]))


def _project(ctx, name_or_id, action):
    from .projects import authorized

    return authorized(ctx, name_or_id, "member", action)


def _role(role_id):
    if role_id not in ROLE_NAMES:
        raise bad_request(INVALID_ROLE)
    return role_id


# -- who a request names ---------------------------------------------------------------------------
def _user_by_id(ctx, user_id):
    user = ctx.tx.get("user", user_id)
    if user is None or user.get("deleted"):
        raise bad_request(f"User {user_id} not found")
    return "u", user["user_id"], user["username"]


def _user_by_name(ctx, username):
    user = ctx.tx.get_by_name("user", username)
    if user is None or user.get("deleted"):
        raise not_found(f"user {username} is not found")
    return "u", user["user_id"], user["username"]


def _group_by_id(ctx, group_id):
    group = ctx.tx.get("usergroup", group_id)
    if group is None:
        raise bad_request(f"Group {group_id} not found")
    return "g", group["id"], group["group_name"]


def _group_by_name(ctx, name, group_type):
    """An existing group of that name and type, or (HTTP and OIDC only) a new one."""
    for group in ctx.tx.list("usergroup"):
        if group["group_name"] == name and group["group_type"] == group_type:
            return "g", group["id"], group["group_name"]
    if group_type == 1:
        raise bad_request("LDAP groups can only be added under ldap_auth, and this Harbor uses db_auth")
    if group_type not in GROUP_TYPES:
        raise bad_request(f"group_type {group_type} is invalid: 1 (LDAP), 2 (HTTP) or 3 (OIDC)")
    group_id = ctx.tx.next_id("usergroup")
    group = {"id": group_id, "group_name": name, "group_type": group_type, "ldap_group_dn": ""}
    ctx.tx.insert("usergroup", group_id, group, name=name, unique=[f"{group_type}:{name}"])
    return "g", group_id, name


def _entity(ctx, body):
    """Harbor's precedence: user_id, group id, username, LDAP DN, group name."""
    user = body.obj("member_user")
    group = body.obj("member_group")
    user_id = user.int("user_id", default=0) if user is not None else 0
    username = user.str("username", default="") if user is not None else ""
    group_id = group.int("id", default=0) if group is not None else 0
    group_name = group.str("group_name", default="") if group is not None else ""
    group_type = group.int("group_type", default=0) if group is not None else 0
    ldap_dn = group.str("ldap_group_dn", default="") if group is not None else ""
    if user_id > 0:
        return _user_by_id(ctx, user_id)
    if group_id > 0:
        return _group_by_id(ctx, group_id)
    if username:
        return _user_by_name(ctx, username)
    if ldap_dn:
        return _group_by_name(ctx, group_name or ldap_dn, 1)
    if group_name:
        return _group_by_name(ctx, group_name, group_type)
    raise bad_request("at least one of member_user or member_group must be provided")


# -- handlers --------------------------------------------------------------------------------------
@route("/projects/<project_name_or_id>/members", methods=["POST"])
def create(ctx, project_name_or_id):
    project = _project(ctx, project_name_or_id, "create")
    body = ctx.body()
    role_id = body.int("role_id", default=0)
    entity_type, entity_id, entity_name = _entity(ctx, body)
    if ctx.tx.get_by_name("member", f"{entity_type}:{entity_id}", parent=project["project_id"]):
        raise conflict("The project member specified already exist")
    _role(role_id)
    member = add_member(ctx.tx, project["project_id"], entity_type, entity_id, entity_name, role_id)
    # Harbor echoes the project as the caller named it
    return created(f"/projects/{project_name_or_id}/members/{member['id']}")


def view(member):
    return {k: member[k] for k in ("id", "project_id", "entity_name", "role_name", "role_id", "entity_id",
                                   "entity_type")}


@route("/projects/<project_name_or_id>/members")
def list_members(ctx, project_name_or_id):
    project = _project(ctx, project_name_or_id, "list")
    everyone = sorted(ctx.tx.list("member", parent=project["project_id"]), key=lambda m: m["entity_name"])
    name = ctx.args.get("entityname")
    chosen = [m for m in everyone if m["entity_name"] == name] if name else everyone
    page, _ = query.paginate(ctx.request, chosen)
    _, headers = query.paginate(ctx.request, everyone)  # Harbor's count ignores entityname
    return json_response([view(m) for m in page], headers=headers)


def _member_id(ctx, mid):
    return ctx.int_id(mid, "mid")


def _member(ctx, project, mid):
    """The member `mid` of `project`, or None."""
    member = ctx.tx.get("member", _member_id(ctx, mid))
    if member is None or member["project_id"] != project["project_id"]:
        return None
    return member


@route("/projects/<project_name_or_id>/members/<mid>")
def get(ctx, project_name_or_id, mid):
    project = _project(ctx, project_name_or_id, "read")
    member = _member(ctx, project, mid)
    if member is None:
        raise not_found(f"the project member is not found, project id {project['project_id']}, member id {mid}")
    return view(member)


@route("/projects/<project_name_or_id>/members/<mid>", methods=["PUT"])
def update(ctx, project_name_or_id, mid):
    project = _project(ctx, project_name_or_id, "update")
    role_id = _role(ctx.body().int("role_id", default=0))
    member = _member(ctx, project, mid)
    if member is None:
        return  # Harbor's UPDATE matches no row and reports success
    member.update(role_id=role_id, role_name=ROLE_NAMES[role_id])
    ctx.tx.update("member", member["id"], dict(member))


@route("/projects/<project_name_or_id>/members/<mid>", methods=["DELETE"])
def delete(ctx, project_name_or_id, mid):
    project = _project(ctx, project_name_or_id, "delete")
    member = _member(ctx, project, mid)
    if member is not None:
        ctx.tx.delete("member", member["id"])
