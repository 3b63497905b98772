"""Users: create, list, search, get, update, soft delete, password, sysadmin, current.

Follows Harbor's user handler (src/server/v2.0/handler/user.go): the profile rules and their
messages, a profile PUT that replaces email, realname and comment together, passwords that are
never returned, and a soft delete that renames the user `name#id` (and the e-mail `email#id`)
so both can be used again. Ids start after Harbor's built-in admin (1) and anonymous (2) users.
"""

import re

from .. import auth, query, timeutil
from ..errors import HarborError, bad_request, conflict, forbidden, not_found
from ..web import created, json_response, route

# Harbor's e-mail pattern (validateUserProfile)
EMAIL = re.compile(r"^(([^<>()\[\]\\.,;:\s@\"]+(\.[^<>()\[\]\\.,;:\s@\"]+)*)|(\".+\"))@((\[[0-9]{1,3}\.[0-9]{1,3}"
                   r"\.[0-9]{1,3}\.[0-9]{1,3}\])|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))$")
ILLEGAL_NAME_CHARS = set(',"~#%$')
PASSWORD_RULE = ("the password or secret must be 8-128, inclusively, characters long with at least 1 uppercase "
                 "letter, 1 lowercase letter and 1 number")
MAX_LEN = 255
ANONYMOUS_ID = 2


def check_password(password):
    if not (8 <= len(password) <= 128 and re.search(r"[a-z]", password) and re.search(r"[A-Z]", password)
            and re.search(r"[0-9]", password)):
        raise bad_request(PASSWORD_RULE)


def user_keys(username, email):
    return [f"name:{username}", f"email:{email}" if email else None]


def create_user(tx, username, password, email, realname, comment="", sysadmin=False):
    user_id = tx.next_id("user")
    now = timeutil.now()
    doc = {
        "user_id": user_id, "username": username, "email": email, "realname": realname, "comment": comment,
        "sysadmin_flag": sysadmin, "admin_role_in_auth": False, "creation_time": now, "update_time": now,
        "password_hash": auth.hash_secret(password), "deleted": False,
    }
    tx.insert("user", user_id, doc, name=username, unique=user_keys(username, email))
    if user_id == 1:
        _add_anonymous(tx)
    return doc


def _add_anonymous(tx):
    """Harbor's schema ships a deleted `anonymous` user as id 2: the first user created is 3."""
    now = timeutil.now()
    user_id = tx.next_id("user")
    doc = {"user_id": user_id, "username": "anonymous", "email": "", "realname": "anonymous user",
           "comment": "anonymous user", "sysadmin_flag": False, "admin_role_in_auth": False,
           "creation_time": now, "update_time": now, "password_hash": "", "deleted": True}
    tx.insert("user", user_id, doc)


def public_view(user):
    return {k: user[k] for k in ("user_id", "username", "email", "realname", "comment", "sysadmin_flag",
                                 "admin_role_in_auth", "creation_time", "update_time")}


def find_user(tx, user_id):
    user = tx.get("user", user_id)
    if user is None or user.get("deleted"):
        raise not_found(f"user {user_id} not found")
    return user


def path_id(ctx, raw):
    return ctx.int_id(raw, "user_id")


# -- permission checks (Harbor's require* helpers) ----------------------------------------------
def is_self(ctx, user_id):
    return ctx.principal.user is not None and ctx.principal.user_id == user_id


def require_creatable(ctx):
    mode = ctx.emulator.config_value(ctx.tx, "auth_mode")
    if mode != "db_auth":
        raise forbidden(f"creating local user is not allowed under auth mode: {mode}")
    if not ctx.emulator.config_value(ctx.tx, "self_registration"):
        ctx.principal.require_system("user", "create")
        return
    try:
        ctx.principal.require_system("user", "create")
    except HarborError:
        raise forbidden("self-registration cannot be triggered via API") from None


def require_modifiable(ctx, user_id):
    """db_auth: yourself, or anyone for a user administrator; other modes: only admin (id 1)."""
    if ctx.emulator.config_value(ctx.tx, "auth_mode") == "db_auth":
        if is_self(ctx, user_id):
            return
        ctx.principal.require_system("user", "update")
        return
    ctx.principal.require_login()
    if user_id != 1:
        raise forbidden(f"User with ID {user_id} can't be updated")
    ctx.principal.require_system("user", "update")


# -- profile rules ---------------------------------------------------------------------------------
def validate_profile(email, realname, comment, username=None):
    """Harbor's validateUserProfile, in its order; username only when creating."""
    if not email:
        raise bad_request("email can't be empty")
    if not EMAIL.match(email):
        raise bad_request("email with illegal format")
    if not 1 <= len(realname) <= MAX_LEN:
        raise bad_request("realname with illegal length")
    if set(realname) & ILLEGAL_NAME_CHARS:
        raise bad_request("realname contains illegal characters")
    if len(comment) > 30:
        raise bad_request("comment with illegal length")
    if username is None:
        return
    if not 1 <= len(username) <= MAX_LEN:
        raise bad_request("username with illegal length")
    if set(username) & ILLEGAL_NAME_CHARS:
        raise bad_request("username contains illegal characters")


def profile_fields(body):
    return (body.str("email", default="", max_len=MAX_LEN), body.str("realname", default=""),
            body.str("comment", default=""))


def email_taken(tx, email, other_than=None):
    row = tx.execute("SELECT id FROM unique_keys WHERE kind = 'user' AND key = ?", (f"email:{email}",)).fetchone()
    return row is not None and int(row[0]) != other_than


# -- handlers ---------------------------------------------------------------------------------------
@route("/users", methods=["POST"])
def create(ctx):
    require_creatable(ctx)
    body = ctx.body()
    username = body.str("username", default="", max_len=MAX_LEN)
    email, realname, comment = profile_fields(body)
    check_password(body.str("password", default=""))
    validate_profile(email, realname, comment, username)
    if ctx.tx.get_by_name("user", username) or email_taken(ctx.tx, email):
        raise conflict(f"user {username} or email {email} already exists")
    doc = create_user(ctx.tx, username, body.str("password"), email, realname, comment)
    return created(f"/users/{doc['user_id']}")


USER_FIELDS = query.fields("username", "email", "user_id", "realname", "comment", "sysadmin_flag",
                           "creation_time", "update_time")


@route("/users")
def list_users(ctx):
    ctx.principal.require_system("user", "list")
    if not any(ctx.args.get(key) for key in ("q", "sort", "username", "email")):
        # the common case (every page of all users, by id) pages in the database
        offset, limit = query.window(ctx.request)
        page = ctx.tx.window("user", offset, limit, live=True)
        return json_response([public_view(u) for u in page],
                             headers=query.page_headers(ctx.request, ctx.tx.count_live("user")))
    users = [u for u in ctx.tx.list("user") if not u.get("deleted")]
    for key in ("username", "email"):  # extra fuzzy filters Harbor reads from the query string
        if ctx.args.get(key):
            users = [u for u in users if ctx.args[key] in u[key]]
    page, headers = query.listing(ctx.request, users, USER_FIELDS)
    return json_response([public_view(u) for u in page], headers=headers)


@route("/users/search")
def search(ctx):
    ctx.principal.require_login()
    name = ctx.args.get("username")
    if name is None:
        raise bad_request("username in query is required")
    users = [u for u in ctx.tx.list("user") if not u.get("deleted") and name in u["username"]]
    page, headers = query.paginate(ctx.request, users)
    return json_response([{"user_id": u["user_id"], "username": u["username"]} for u in page], headers=headers)


@route("/users/current")
def current(ctx):
    ctx.principal.require_login()
    if ctx.principal.user is None:
        raise HarborError(412, "get current user not available for security context: robot")
    return public_view(find_user(ctx.tx, ctx.principal.user_id))


@route("/users/current/permissions")
def current_permissions(ctx):
    """What the caller may do in a scope such as /project/1; `relative` drops the scope prefix."""
    ctx.principal.require_login()
    scope = ctx.args.get("scope", "")
    relative = ctx.bool_arg("relative", False)
    match = re.match(r"^/project/(\d+)$", scope)
    project = ctx.tx.get("project", int(match.group(1))) if match else None
    if project is None:
        return []
    pairs = sorted({pair for role in auth.ROLE_PERMISSIONS.values() for pair in role})
    out = []
    for resource, action in pairs:
        if ctx.principal.can(ctx.tx, project, resource, action):
            name = "" if resource == "project" else resource  # Harbor's ResourceSelf
            shown = (name or ".") if relative else (f"{scope}/{name}" if name else scope)
            out.append({"resource": shown, "action": action})
    return out


@route("/users/<user_id>")
def get(ctx, user_id):
    uid = path_id(ctx, user_id)
    if not is_self(ctx, uid):
        ctx.principal.require_system("user", "read")
    return public_view(find_user(ctx.tx, uid))


@route("/users/<user_id>", methods=["PUT"])
def update(ctx, user_id):
    uid = path_id(ctx, user_id)
    require_modifiable(ctx, uid)
    email, realname, comment = profile_fields(ctx.body())
    validate_profile(email, realname, comment)  # a PUT sets all three: email and realname are required
    user = find_user(ctx.tx, uid)
    if email_taken(ctx.tx, email, other_than=uid):
        raise conflict(f"user {user['username']} or email {email} already exists")
    user.update(email=email, realname=realname, comment=comment, update_time=timeutil.now())
    ctx.tx.update("user", uid, dict(user), unique=user_keys(user["username"], email))


def renamed(value, user_id):
    """Harbor's lib.Truncate: `value#id`, cut so that it fits 255 characters."""
    suffix = f"#{user_id}"
    return value[:MAX_LEN - len(suffix)] + suffix


@route("/users/<user_id>", methods=["DELETE"])
def delete(ctx, user_id):
    uid = path_id(ctx, user_id)
    ctx.principal.require_system("user", "delete")
    if is_self(ctx, uid) or uid == 1:
        raise forbidden(f"User with ID {uid} cannot be deleted")
    user = find_user(ctx.tx, uid)
    user.update(deleted=True, username=renamed(user["username"], uid), email=renamed(user["email"] or "", uid),
                password_hash="", update_time=timeutil.now())
    ctx.tx.update("user", uid, dict(user), name=user["username"], unique=user_keys(user["username"], user["email"]))
    from .members import delete_user_memberships

    delete_user_memberships(ctx.tx, uid)


@route("/users/<user_id>/password", methods=["PUT"])
def change_password(ctx, user_id):
    uid = path_id(ctx, user_id)
    require_modifiable(ctx, uid)
    body = ctx.body()
    old, new = body.str("old_password", default=""), body.str("new_password", default="")
    if is_self(ctx, uid) and not auth.check_secret(old, ctx.principal.user.get("password_hash")):
        raise forbidden("Current password is incorrect")  # only your own password needs the old one
    check_password(new)
    user = find_user(ctx.tx, uid)
    if auth.check_secret(new, user["password_hash"]):
        raise bad_request("New password is identical to old password")
    user.update(password_hash=auth.hash_secret(new), update_time=timeutil.now())
    ctx.tx.update("user", uid, dict(user))


@route("/users/<user_id>/sysadmin", methods=["PUT"])
def set_sysadmin(ctx, user_id):
    uid = path_id(ctx, user_id)
    ctx.principal.require_system("user", "update")
    flag = ctx.body().bool("sysadmin_flag", default=False)  # Go's zero value when absent
    user = find_user(ctx.tx, uid)
    user.update(sysadmin_flag=flag, update_time=timeutil.now())
    ctx.tx.update("user", uid, dict(user))
