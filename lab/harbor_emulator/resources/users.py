"""Users: create, list, search, get, update, soft delete, password, sysadmin, current."""

import re

from .. import auth, query, timeutil
from ..errors import HarborError, bad_request, conflict, forbidden, not_found
from ..web import created, json_response, route

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
USERNAME_FORBIDDEN = set(',~#$%"')


def check_password(password, field="password"):
    if not (8 <= len(password) <= 128) or not re.search(r"[A-Z]", password) \
            or not re.search(r"[a-z]", password) or not re.search(r"[0-9]", password):
        raise bad_request(
            f"{field}: the password must be 8-128 characters long with at least 1 uppercase letter, "
            "1 lowercase letter and 1 number"
        )


def user_keys(username, email):
    return [f"name:{username}", f"email:{email.lower()}" if email else None]


def create_user(tx, username, password, email, realname, comment="", sysadmin=False):
    user_id = tx.next_id("user")
    now = timeutil.now()
    doc = {
        "user_id": user_id, "username": username, "email": email, "realname": realname, "comment": comment,
        "sysadmin_flag": sysadmin, "admin_role_in_auth": False, "creation_time": now, "update_time": now,
        "password_hash": auth.hash_secret(password), "deleted": False,
    }
    tx.insert("user", user_id, doc, name=username, unique=user_keys(username, email))
    return doc


def public_view(user, detail=True):
    out = {k: user[k] for k in ("user_id", "username", "email", "realname", "comment", "sysadmin_flag",
                                 "admin_role_in_auth", "creation_time", "update_time")}
    if not detail:
        return {"user_id": user["user_id"], "username": user["username"]}
    return out


def get_user(ctx, user_id):
    user = ctx.tx.get("user", ctx.int_id(user_id, "user_id"))
    if user is None or user.get("deleted"):
        raise not_found(f"user {user_id} not found")
    return user


def _validate_profile(body, creating):
    email = body.str("email", required=creating, max_len=255)
    if email is not None and not EMAIL.match(email):
        raise bad_request(f"email {email!r} is not a valid e-mail address")
    realname = body.str("realname", required=creating)
    if realname is not None and not (1 <= len(realname) <= 255):
        raise bad_request("realname must be 1-255 characters long")
    comment = body.str("comment", default=None)
    if comment is not None and len(comment) > 30:
        raise bad_request("comment must be at most 30 characters long")
    return email, realname, comment


@route("/users", methods=["POST"])
def create(ctx):
    ctx.principal.require_sysadmin()
    body = ctx.body()
    username = body.str("username", required=True)
    if not (1 <= len(username) <= 255) or set(username) & USERNAME_FORBIDDEN:
        raise bad_request(f"username {username!r} is invalid: 1-255 characters, none of , ~ # $ % \"")
    password = body.str("password", required=True)
    check_password(password)
    email, realname, comment = _validate_profile(body, creating=True)
    if ctx.tx.get_by_name("user", username):
        raise conflict(f"username {username} is already used")
    if ctx.tx.execute("SELECT 1 FROM unique_keys WHERE kind = 'user' AND key = ?", (f"email:{email.lower()}",)).fetchone():
        raise conflict(f"email {email} is already used")
    doc = create_user(ctx.tx, username, password, email, realname, comment or "")
    return created(f"/users/{doc['user_id']}")


USER_FIELDS = {
    "username": lambda u: u["username"],
    "email": lambda u: u["email"],
    "user_id": lambda u: u["user_id"],
    "realname": lambda u: u["realname"],
    "sysadmin_flag": lambda u: u["sysadmin_flag"],
    "creation_time": lambda u: u["creation_time"],
}


@route("/users")
def list_users(ctx):
    ctx.principal.require_sysadmin()
    users = [u for u in ctx.tx.list("user") if not u.get("deleted")]
    page, headers = query.listing(ctx.request, users, USER_FIELDS)
    return json_response([public_view(u) for u in page], headers=headers)


@route("/users/search")
def search(ctx):
    ctx.principal.require_login()
    name = ctx.args.get("username")
    if not name:
        raise bad_request("username in query is required")
    users = [u for u in ctx.tx.list("user") if not u.get("deleted") and name in u["username"]]
    page, headers = query.paginate(ctx.request, users)
    return json_response([public_view(u, detail=False) for u in page], headers=headers)


@route("/users/current")
def current(ctx):
    ctx.principal.require_login()
    if ctx.principal.user is None:
        raise HarborError(403, "robot accounts have no user profile")
    user = ctx.tx.get("user", ctx.principal.user_id)
    return public_view(user)


@route("/users/current/permissions")
def current_permissions(ctx):
    ctx.principal.require_login()
    scope = ctx.args.get("scope", "")
    match = re.match(r"^/project/(\d+)$", scope)
    perms = []
    if match:
        project = ctx.tx.get("project", int(match.group(1)))
        if project:
            pairs = sorted({pair for role in auth.ROLE_PERMISSIONS.values() for pair in role})
            perms = [{"resource": r, "action": a} for r, a in pairs if ctx.principal.can(ctx.tx, project, r, a)]
    return perms


@route("/users/<user_id>")
def get(ctx, user_id):
    ctx.principal.require_login()
    user = get_user(ctx, user_id)
    if not ctx.principal.sysadmin and ctx.principal.user_id != user["user_id"]:
        raise forbidden("only administrators can read other users")
    return public_view(user)


@route("/users/<user_id>", methods=["PUT"])
def update(ctx, user_id):
    ctx.principal.require_login()
    user = get_user(ctx, user_id)
    if not ctx.principal.sysadmin and ctx.principal.user_id != user["user_id"]:
        raise forbidden("only administrators can update other users")
    email, realname, comment = _validate_profile(ctx.body(), creating=False)
    if email is not None:
        user["email"] = email
    if realname is not None:
        user["realname"] = realname
    if comment is not None:
        user["comment"] = comment
    user["update_time"] = timeutil.now()
    ctx.tx.update("user", user["user_id"], dict(user), unique=user_keys(user["username"], user["email"]))


@route("/users/<user_id>", methods=["DELETE"])
def delete(ctx, user_id):
    ctx.principal.require_sysadmin()
    user = get_user(ctx, user_id)
    if user["user_id"] == ctx.principal.user_id:
        raise forbidden("can not delete yourself")
    if user["user_id"] == 1:
        raise forbidden("the admin user can not be deleted")
    # Harbor soft-deletes: the row stays, renamed `name#id`, e-mail freed, so the name can be reused.
    suffix = f"#{user['user_id']}"
    user.update(deleted=True, username=user["username"] + suffix, email=(user["email"] or "") + suffix,
                update_time=timeutil.now())
    ctx.tx.update("user", user["user_id"], dict(user), name=user["username"],
                  unique=user_keys(user["username"], user["email"]))
    for member in ctx.tx.execute("SELECT id FROM objects WHERE kind = 'member' AND name = ?",
                                 (f"u:{user['user_id']}",)).fetchall():
        ctx.tx.delete("member", int(member[0]))


@route("/users/<user_id>/password", methods=["PUT"])
def change_password(ctx, user_id):
    ctx.principal.require_login()
    user = get_user(ctx, user_id)
    is_self = ctx.principal.user_id == user["user_id"]
    if not is_self and not ctx.principal.sysadmin:
        raise forbidden("only administrators can change other users' passwords")
    body = ctx.body()
    new = body.str("new_password", required=True)
    old = body.str("old_password")
    if is_self and not ctx.principal.sysadmin or is_self and old is not None:
        if old is None or not auth.check_secret(old, user["password_hash"]):
            raise bad_request("old_password is incorrect")
    check_password(new, "new_password")
    if auth.check_secret(new, user["password_hash"]):
        raise bad_request("New password is identical to old password")
    user["password_hash"] = auth.hash_secret(new)
    user["update_time"] = timeutil.now()
    ctx.tx.update("user", user["user_id"], dict(user))


@route("/users/<user_id>/sysadmin", methods=["PUT"])
def set_sysadmin(ctx, user_id):
    ctx.principal.require_sysadmin()
    user = get_user(ctx, user_id)
    flag = ctx.body().bool("sysadmin_flag", required=True)
    if user["user_id"] == 1 and not flag:
        raise forbidden("the admin user must stay an administrator")
    user["sysadmin_flag"] = flag
    user["update_time"] = timeutil.now()
    ctx.tx.update("user", user["user_id"], dict(user))
