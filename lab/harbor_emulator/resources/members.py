"""Project members: users and groups with roles 1-5; list with `entityname`; PUT {role_id}."""

from .. import query
from ..auth import ROLE_NAMES
from ..errors import bad_request, conflict, not_found
from ..web import created, json_response, route

GROUP_TYPES = {1: "LDAP", 2: "HTTP", 3: "OIDC"}


def add_member(tx, project_id, entity_type, entity_id, entity_name, role_id):
    member_id = tx.next_id("member")
    doc = {"id": member_id, "project_id": project_id, "entity_type": entity_type, "entity_id": entity_id,
           "entity_name": entity_name, "role_id": role_id, "role_name": ROLE_NAMES[role_id]}
    key = f"{entity_type}:{entity_id}"
    tx.insert("member", member_id, doc, parent=project_id, name=key, unique=[f"{project_id}/{key}"])
    return doc


def _role(body):
    role_id = body.int("role_id", required=True)
    if role_id not in ROLE_NAMES:
        raise bad_request(f"role_id {role_id} is invalid: must be one of 1 (projectAdmin), 2 (developer), "
                          "3 (guest), 4 (maintainer), 5 (limitedGuest)")
    return role_id


def _user_entity(ctx, user_body):
    user = None
    if user_body.has("user_id"):
        user = ctx.tx.get("user", user_body.int("user_id"))
    elif user_body.has("username"):
        user = ctx.tx.get_by_name("user", user_body.str("username"))
    else:
        raise bad_request("member_user needs user_id or username")
    if user is None or user.get("deleted"):
        raise not_found(f"user {user_body.data.get('username') or user_body.data.get('user_id')} not found")
    return "u", user["user_id"], user["username"]


def _group_entity(ctx, group_body):
    if group_body.has("id") and group_body.int("id"):
        group = ctx.tx.get("usergroup", group_body.int("id"))
        if group is None:
            raise not_found(f"user group {group_body.int('id')} not found")
        return "g", group["id"], group["group_name"]
    name = group_body.str("group_name", required=True)
    group_type = group_body.int("group_type", required=True)
    if group_type not in GROUP_TYPES:
        raise bad_request("group_type must be 1 (LDAP), 2 (HTTP) or 3 (OIDC)")
    if group_type == 1:
        raise bad_request("LDAP groups need LDAP authentication, which this Harbor does not use")
    group = ctx.tx.get_by_name("usergroup", name)
    if group is None:  # Harbor onboards HTTP/OIDC groups by name on first use
        group_id = ctx.tx.next_id("usergroup")
        group = {"id": group_id, "group_name": name, "group_type": group_type, "ldap_group_dn": ""}
        ctx.tx.insert("usergroup", group_id, group, name=name, unique=[f"name:{name}"])
    return "g", group["id"], group["group_name"]


@route("/projects/<project_name_or_id>/members", methods=["POST"])
def create(ctx, project_name_or_id):
    project = ctx.project(project_name_or_id)
    ctx.principal.require(ctx.tx, project, "member", "create")
    body = ctx.body()
    role_id = _role(body)
    user_body, group_body = body.obj("member_user"), body.obj("member_group")
    if (user_body is None) == (group_body is None):
        raise bad_request("exactly one of member_user and member_group is required")
    entity_type, entity_id, entity_name = (_user_entity(ctx, user_body) if user_body is not None
                                           else _group_entity(ctx, group_body))
    if ctx.tx.get_by_name("member", f"{entity_type}:{entity_id}", parent=project["project_id"]):
        raise conflict(f"{entity_name} is already a member of project {project['name']}")
    member = add_member(ctx.tx, project["project_id"], entity_type, entity_id, entity_name, role_id)
    return created(f"/projects/{project['project_id']}/members/{member['id']}")


def view(member):
    return {k: member[k] for k in ("id", "project_id", "entity_name", "role_name", "role_id", "entity_id",
                                   "entity_type")}


@route("/projects/<project_name_or_id>/members")
def list_members(ctx, project_name_or_id):
    project = ctx.project(project_name_or_id)
    ctx.principal.require(ctx.tx, project, "member", "list")
    items = ctx.tx.list("member", parent=project["project_id"])
    name = ctx.args.get("entityname")
    if name:
        items = [m for m in items if name in m["entity_name"]]
    page, headers = query.paginate(ctx.request, items)
    return json_response([view(m) for m in page], headers=headers)


def _member(ctx, project, mid):
    member = ctx.tx.get("member", ctx.int_id(mid, "mid"))
    if member is None or member["project_id"] != project["project_id"]:
        raise not_found(f"member {mid} not found in project {project['name']}")
    return member


@route("/projects/<project_name_or_id>/members/<mid>")
def get(ctx, project_name_or_id, mid):
    project = ctx.project(project_name_or_id)
    ctx.principal.require(ctx.tx, project, "member", "read")
    return view(_member(ctx, project, mid))


@route("/projects/<project_name_or_id>/members/<mid>", methods=["PUT"])
def update(ctx, project_name_or_id, mid):
    project = ctx.project(project_name_or_id)
    ctx.principal.require(ctx.tx, project, "member", "update")
    member = _member(ctx, project, mid)
    role_id = _role(ctx.body())
    member.update(role_id=role_id, role_name=ROLE_NAMES[role_id])
    ctx.tx.update("member", member["id"], dict(member))


@route("/projects/<project_name_or_id>/members/<mid>", methods=["DELETE"])
def delete(ctx, project_name_or_id, mid):
    project = ctx.project(project_name_or_id)
    ctx.principal.require(ctx.tx, project, "member", "delete")
    member = _member(ctx, project, mid)
    ctx.tx.delete("member", member["id"])
