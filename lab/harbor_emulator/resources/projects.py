"""Projects: create (metadata, storage_limit, proxy cache), list, HEAD, get, update, delete,
_deletable, summary, and metadata CRUD.

Follows Harbor's handlers (src/server/v2.0/handler/project.go, project_metadata.go):
- the permission is checked before the project is looked up, so a caller who may not see a
  project gets 401 (anonymous) or 403 whether or not it exists; only those allowed learn 404;
- metadata values are strings; unknown metadata keys are dropped, as Go's JSON decoding does;
- update ignores `project_name`, `public` and `storage_limit` (quotas change through /quotas);
- a project can be deleted unless it holds repositories (412).
"""

from .. import query, timeutil
from ..errors import HarborError, bad_request, conflict, forbidden, not_found, precondition
from ..validate import RESOURCE_NAME, Body
from ..web import created, empty, json_response, route
from . import members, quotas

BOOL_METADATA = ("public", "enable_content_trust", "enable_content_trust_cosign", "prevent_vul", "auto_scan",
                 "auto_sbom_generation", "reuse_sys_cve_allowlist", "proxy_cache_local_on_not_found")
SEVERITIES = ("none", "low", "medium", "high", "critical")
PROXY_ONLY_METADATA = ("proxy_speed_kb", "max_upstream_conn")  # dropped for other projects
METADATA_KEYS = BOOL_METADATA + ("severity", "retention_id") + PROXY_ONLY_METADATA
# keys the /metadatas endpoints accept (Harbor's projectMetadataAPI.validate)
EDITABLE_METADATA = ("public", "enable_content_trust", "enable_content_trust_cosign", "prevent_vul", "auto_scan",
                     "auto_sbom_generation", "severity")
PROXY_CACHE_TYPES = ("docker-hub", "harbor", "azure-acr", "ali-acr", "aws-ecr", "google-gcr", "docker-registry",
                     "github-ghcr", "jfrog-artifactory")
PROXY_RETENTION_DAYS = 7  # Harbor gives a proxy cache project a "pulled within 7 days" retention policy
NAME_MAX = 255
GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool
GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")
INT32 = (-2 ** 31, 2 ** 31 - 1)


# -- lookups and permissions (usable by other resource modules) -------------------------------
def find(ctx, name_or_id):
    """The project a {project_name_or_id} path segment names, or None."""
    try:
        return ctx.project(name_or_id)
    except HarborError as exc:
        if exc.status == 404:
            return None
        raise


def authorized(ctx, name_or_id, resource, action):
    """Harbor's RequireProjectAccess, then the lookup: callers without the permission get 401/403
    even for a project that does not exist; a system administrator gets 404."""
    project = find(ctx, name_or_id)
    if project is None:
        if ctx.principal.sysadmin:
            raise not_found(f"project {name_or_id} not found")
        ctx.principal.require_login()
        raise forbidden(f"{ctx.principal.username} has no permission to {action} {resource} in project {name_or_id}")
    ctx.principal.require(ctx.tx, project, resource, action)
    return project


def system_allows(principal, resource, action):
    """Harbor's RequireSystemAccess as a yes/no: sysadmins, and robots granted it at system level."""
    try:
        principal.require_system(resource, action)
    except HarborError:
        return False
    return True


# -- metadata -----------------------------------------------------------------------------------
def parse_bool_text(key, value, strict=False):
    """'true'/'false' from a metadata string; Harbor insists on exactly those for `public`."""
    if strict or key == "public":
        if value not in ("true", "false"):
            raise bad_request(f"metadata.{key} should only be 'true' or 'false', but got: '{value}'")
        return value
    if value in GO_TRUE:
        return "true"
    if value in GO_FALSE:
        return "false"
    raise bad_request(f"metadata.{key} should only be 'true' or 'false', but got: '{value}'")


def parse_int_text(key, value):
    try:
        number = int(value, 10)
    except ValueError:
        number = None
    if number is None or not INT32[0] <= number <= INT32[1]:
        raise bad_request(f"metadata.{key} should be an int32, but got: '{value}'")
    return str(number)


def parse_severity(value):
    if value.lower() not in SEVERITIES:
        raise bad_request(f"metadata.severity should be one of {', '.join(SEVERITIES)}, but got: '{value}'")
    return value.lower()


def metadata_of(body, proxy):
    """The ProjectMetadata of a create/update body: string values only; unknown keys dropped."""
    raw = body.obj("metadata")
    if raw is None:
        return {}
    out = {}
    for key in METADATA_KEYS:
        value = raw.str(key, default=None)
        if value is None:
            continue
        if key in BOOL_METADATA:
            value = parse_bool_text(key, value)
        elif key == "severity":
            value = parse_severity(value)
        elif key in PROXY_ONLY_METADATA:
            if not proxy:
                continue
            value = parse_int_text(key, value)
        out[key] = value
    if proxy:
        out.pop("enable_content_trust", None)  # Harbor ignores content trust for proxy cache projects
    return out


def allowlist(raw, project_id, existing=None):
    """A project CVE allowlist from a CVEAllowlist body (a Body or None)."""
    now = timeutil.now()
    items = [{"cve_id": item.str("cve_id", default="")} for item in raw.objs("items")] if raw is not None else []
    out = {"id": (existing or {}).get("id", project_id), "project_id": project_id, "items": items,
           "creation_time": (existing or {}).get("creation_time", now), "update_time": now}
    expires_at = raw.int("expires_at", default=None) if raw is not None else None
    if expires_at is not None:
        out["expires_at"] = expires_at
    return out


# -- views ---------------------------------------------------------------------------------------
def view(ctx, project, roles=None):
    """Harbor's Project model; like Go's omitempty, zero-valued optional fields are left out."""
    out = {k: project[k] for k in ("project_id", "owner_id", "name", "creation_time", "update_time", "owner_name",
                                    "metadata", "cve_allowlist")}
    out["repo_count"] = ctx.emulator.repo_count(project["name"])
    if project.get("registry_id"):
        out["registry_id"] = project["registry_id"]
    role = roles.get(project["project_id"]) if roles is not None else ctx.principal.project_role(ctx.tx, project)
    if role is not None:
        out["current_user_role_id"] = role
        out["current_user_role_ids"] = [role]
    return out


# -- create ------------------------------------------------------------------------------------
def creation_checks(ctx, body):
    """Who may create what (Harbor's order): robots must be system level, `adminonly` restricts
    creation to system admins, and only they create proxy cache projects."""
    principal = ctx.principal
    principal.require_login()
    if principal.robot is not None and principal.robot.get("level") != "system":
        raise forbidden("Only system level robot can create project")
    admin = system_allows(principal, "project", "create")
    if ctx.emulator.config_value(ctx.tx, "project_creation_restriction") == "adminonly" and not admin:
        raise forbidden("Only system admin can create project")
    if body.has("registry_id") and not admin:
        raise forbidden("Only system admin can create proxy cache project")
    return admin


def storage_limit_of(ctx, body, admin):
    """The project's storage quota: the request's for an admin, else storage_per_project; None
    (no quota at all) when per-project quotas are disabled."""
    requested = body.int("storage_limit", default=None)
    if not ctx.emulator.config_value(ctx.tx, "quota_per_project_enable"):
        return None
    if requested is None or requested == 0 or not admin:
        return ctx.emulator.config_value(ctx.tx, "storage_per_project")
    if requested <= 0 and requested != -1:
        raise bad_request("invalid value for resource storage")
    return requested


def proxy_registry(ctx, registry_id):
    if registry_id <= 0:
        raise bad_request(f"{registry_id} is invalid value of registry_id, it should be geater than 0")
    registry = ctx.tx.get("registry", registry_id)
    if registry is None:  # Harbor fails here with a 500; a 400 says what is wrong
        raise bad_request(f"failed to get the registry {registry_id}: registry {registry_id} not found")
    if registry["type"] not in PROXY_CACHE_TYPES:
        raise bad_request(f"unsupported registry type {registry['type']}")
    return registry


def check_project_name(name):
    if not 1 <= len(name) <= NAME_MAX:
        raise bad_request(f"Project name {name} is illegal in length. (greater than {NAME_MAX} or less than 1)")
    if not RESOURCE_NAME.match(name):
        raise bad_request("project name is not in lower case or contains illegal characters")


@route("/projects", methods=["POST"])
def create(ctx):
    body = ctx.body()
    name = body.str("project_name", default="", max_len=NAME_MAX)
    public = body.bool("public", default=None)
    body.obj("cve_allowlist")  # type-checked; Harbor's create ignores it
    admin = creation_checks(ctx, body)
    storage_limit = storage_limit_of(ctx, body, admin)
    registry_id = body.int("registry_id", default=None)
    metadata = metadata_of(body, proxy=registry_id is not None)
    if public is not None and "public" not in metadata:  # the deprecated top-level flag
        metadata["public"] = "true" if public else "false"
    metadata.setdefault("public", "false")
    if metadata.pop("retention_id", ""):
        raise bad_request("the retention_id in the request's payload when creating a project should be omitted, "
                          "alternatively passing an empty string")
    if registry_id is not None:
        proxy_registry(ctx, registry_id)
    check_project_name(name)
    if ctx.tx.get_by_name("project", name):
        raise conflict(f"The project named {name} already exists")
    project = create_project(ctx.tx, name, ctx.principal, metadata, storage_limit, registry_id or 0)
    if registry_id is not None:
        add_proxy_retention(ctx, project)
    if ctx.request.headers.get("X-Resource-Name-In-Location", "").lower() == "true":
        return created(f"/projects/{name}")
    return created(f"/projects/{project['project_id']}")


def owner_of(tx, principal):
    """The creating user; robots create on behalf of the first system administrator."""
    if principal.user is not None:
        return principal.user
    admins = [u for u in tx.list("user") if u.get("sysadmin_flag") and not u.get("deleted")]
    return admins[0] if admins else tx.get("user", 1)


def create_project(tx, name, principal, metadata, storage_limit=-1, registry_id=0):
    """Insert a project with its owner as project admin and (unless storage_limit is None) its quota."""
    project_id = tx.next_id("project")
    now = timeutil.now()
    owner = owner_of(tx, principal)
    project = {
        "project_id": project_id, "name": name, "owner_id": owner["user_id"], "owner_name": owner["username"],
        "creation_time": now, "update_time": now, "deleted": False, "registry_id": registry_id,
        "metadata": metadata, "cve_allowlist": allowlist(None, project_id),
    }
    tx.insert("project", project_id, project, name=name, unique=[f"name:{name}"])
    members.add_member(tx, project_id, "u", owner["user_id"], owner["username"], 1)
    if storage_limit is not None:
        quotas.create_for_project(tx, project_id, storage_limit)
    return project


def add_proxy_retention(ctx, project):
    """Harbor's default policy for a proxy cache project: keep what was pulled in the last 7 days."""
    from . import retention

    rule = {"template": "nDaysSinceLastPull", "action": "retain", "priority": 1,
            "params": {"nDaysSinceLastPull": PROXY_RETENTION_DAYS},
            "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
            "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}}
    trigger = {"kind": "Schedule", "settings": {"cron": "0 0 0 * * *"}}
    body = Body({"algorithm": "or", "rules": [rule], "trigger": trigger,
                 "scope": {"level": "project", "ref": project["project_id"]}})
    _, policy = retention.parse_policy(ctx, body)
    policy_id = ctx.tx.next_id("retention")
    now = timeutil.now()
    policy.update(id=policy_id, creation_time=now, update_time=now)
    ctx.tx.insert("retention", policy_id, policy, parent=project["project_id"])
    project["metadata"]["retention_id"] = str(policy_id)
    ctx.tx.update("project", project["project_id"], dict(project))


# -- list and HEAD -------------------------------------------------------------------------------
PROJECT_FIELDS = {
    "name": lambda p: p["name"],
    "public": lambda p: p["metadata"].get("public", "false"),
    "owner": lambda p: p["owner_name"],
    "owner_id": lambda p: p["owner_id"],
    "project_id": lambda p: p["project_id"],
    "registry_id": lambda p: p.get("registry_id") or 0,
    "creation_time": lambda p: p["creation_time"],
    "update_time": lambda p: p["update_time"],
}


def is_public(project):
    return project["metadata"].get("public", "false").lower() in ("true", "1")


def listable(ctx, public_filter):
    """The projects the caller may list, as Harbor's ListProjects scopes them."""
    principal = ctx.principal
    projects = ctx.tx.list("project")
    with_public = public_filter is not False
    if principal.anonymous:
        return [p for p in projects if is_public(p)]
    if system_allows(principal, "project", "list"):
        return projects
    if principal.robot is not None:
        perms = principal.robot.get("permissions") or []
        if any(p.get("kind") == "project" and p.get("namespace") == "*" for p in perms):
            return projects
        names = {p.get("namespace") for p in perms}
        return [p for p in projects if p["name"] in names or (with_public and is_public(p))]
    mine = set(principal.project_roles(ctx.tx))
    return [p for p in projects if p["project_id"] in mine or (with_public and is_public(p))]


@route("/projects")
def list_projects(ctx):
    public_filter = ctx.bool_arg("public", None)
    if ctx.principal.anonymous and public_filter is False:
        return json_response([], headers={"X-Total-Count": "0"})
    unfiltered = not any(ctx.args.get(key) for key in ("q", "sort", "name", "owner", "public"))
    if unfiltered and not ctx.principal.anonymous and system_allows(ctx.principal, "project", "list"):
        # the common case (an administrator paging through every project) pages in the database
        ctx.bool_arg("with_detail", True)
        offset, limit = query.window(ctx.request)
        page = ctx.tx.window("project", offset, limit, order="name")
        roles = ctx.principal.project_roles(ctx.tx, [p["project_id"] for p in page])
        return json_response([view(ctx, p, roles) for p in page],
                             headers=query.page_headers(ctx.request, ctx.tx.count("project")))
    projects = listable(ctx, public_filter)
    name = ctx.args.get("name")
    if name:
        projects = [p for p in projects if name in p["name"]]  # Harbor: a fuzzy match
    if public_filter is not None:
        projects = [p for p in projects if is_public(p) == public_filter]
    owner = ctx.args.get("owner")
    if owner:
        projects = [p for p in projects if p["owner_name"] == owner]
    projects = sorted(projects, key=lambda p: p["name"])  # Harbor's default order
    ctx.bool_arg("with_detail", True)  # validated; the emulator's list is always detailed
    page, headers = query.listing(ctx.request, projects, PROJECT_FIELDS)
    # the caller's roles in this page's projects: one query, not one per project
    roles = ctx.principal.project_roles(ctx.tx, [p["project_id"] for p in page])
    return json_response([view(ctx, p, roles) for p in page], headers=headers)


@route("/projects", methods=["HEAD"])
def head(ctx):
    ctx.principal.require_login()
    name = ctx.args.get("project_name")
    if not name:
        raise bad_request("project_name in query is required")
    if ctx.tx.get_by_name("project", name) is None:
        raise not_found(f"project {name} not found")
    return empty()


# -- one project ------------------------------------------------------------------------------------
@route("/projects/<project_name_or_id>")
def get(ctx, project_name_or_id):
    return view(ctx, authorized(ctx, project_name_or_id, "project", "read"))


@route("/projects/<project_name_or_id>", methods=["PUT"])
def update(ctx, project_name_or_id):
    project = authorized(ctx, project_name_or_id, "project", "update")
    body = ctx.body()
    body.str("project_name", default=None)  # type-checked, otherwise ignored: a name never changes
    body.bool("public", default=None)  # the deprecated flag only counts at creation
    body.int("storage_limit", default=None)  # ignored: quotas change through /quotas
    allow = body.obj("cve_allowlist")
    if allow is not None:
        given = allow.int("project_id", default=0)
        if given not in (0, project["project_id"]):
            raise bad_request(f"project_id in cve_allowlist must be {project['project_id']} but it's {given}")
        project["cve_allowlist"] = allowlist(allow, project["project_id"], project["cve_allowlist"])
    changes = metadata_of(body, proxy=bool(project.get("registry_id")))
    if "retention_id" in changes and changes["retention_id"] != project["metadata"].get("retention_id"):
        raise bad_request("the retention_id in the request's payload when updating a project should be omitted, "
                          "alternatively passing the one that has already been associated to this project")
    project["metadata"].update(changes)
    project["update_time"] = timeutil.now()
    ctx.tx.update("project", project["project_id"], dict(project))


def deletable(ctx, project):
    if ctx.emulator.repo_count(project["name"]):
        return False, "the project contains repositories, can not be deleted"
    return True, ""


@route("/projects/<project_name_or_id>/_deletable")
def get_deletable(ctx, project_name_or_id):
    project = authorized(ctx, project_name_or_id, "project", "delete")
    ok, message = deletable(ctx, project)
    return {"deletable": ok, "message": message} if message else {"deletable": ok}


@route("/projects/<project_name_or_id>", methods=["DELETE"])
def delete(ctx, project_name_or_id):
    project = authorized(ctx, project_name_or_id, "project", "delete")
    ok, message = deletable(ctx, project)
    if not ok:
        raise precondition(message)
    pid = project["project_id"]
    for kind in ("member", "immutable_rule", "webhook_policy", "label", "robot"):
        ctx.tx.delete_children(kind, pid)
    retention_id = project["metadata"].get("retention_id")
    if retention_id:
        ctx.tx.delete("retention", int(retention_id))
    quotas.delete_for_project(ctx.tx, pid)
    ctx.tx.delete("project", pid)


@route("/projects/<project_name_or_id>/summary")
def summary(ctx, project_name_or_id):
    project = authorized(ctx, project_name_or_id, "project", "read")
    out = {"repo_count": ctx.emulator.repo_count(project["name"])}
    if ctx.principal.can(ctx.tx, project, "quota", "read") \
            and ctx.emulator.config_value(ctx.tx, "quota_per_project_enable"):
        quota = quotas.for_project(ctx.tx, project["project_id"])
        if quota:
            out["quota"] = {"hard": quota["hard"], "used": quotas.used(ctx, quota)}
    if ctx.principal.can(ctx.tx, project, "member", "list"):
        out.update(member_counts(ctx.tx, project))
    if project.get("registry_id"):
        from .registries import view as registry_view

        registry = ctx.tx.get("registry", project["registry_id"])
        if registry:
            out["registry"] = registry_view(registry)
    return out


def member_counts(tx, project):
    counts = {1: 0, 2: 0, 3: 0, 4: 0, 5: 0}
    for member in tx.list("member", parent=project["project_id"]):
        counts[member["role_id"]] += 1
    return {"project_admin_count": counts[1], "developer_count": counts[2], "guest_count": counts[3],
            "maintainer_count": counts[4], "limited_guest_count": counts[5]}


# -- metadata endpoints --------------------------------------------------------------------------
def one_metadata(key, value):
    """Harbor's projectMetadataAPI.validate: one known key whose value it normalises."""
    if key in BOOL_METADATA and key in EDITABLE_METADATA:
        if value in GO_TRUE:
            return "true"
        if value in GO_FALSE:
            return "false"
        raise bad_request(f"invalid value: {value}")
    if key == "severity":
        if value.lower() not in SEVERITIES:
            raise bad_request(f"invalid value: {value}")
        return value.lower()
    raise bad_request(f"invalid key: {key}")


def metadata_body(ctx):
    """The metadata map of a request: string values only."""
    body = ctx.body()
    for key in body.data:
        body.str(key)
    return body.data


def save_metadata(ctx, project):
    project["update_time"] = timeutil.now()
    ctx.tx.update("project", project["project_id"], dict(project))


@route("/projects/<project_name_or_id>/metadatas/")
def list_metadata(ctx, project_name_or_id):
    return authorized(ctx, project_name_or_id, "metadata", "list")["metadata"]


@route("/projects/<project_name_or_id>/metadatas/", methods=["POST"])
def add_metadata(ctx, project_name_or_id):
    project = authorized(ctx, project_name_or_id, "metadata", "create")
    values = metadata_body(ctx)
    if len(values) != 1:
        raise bad_request("only allow one key/value pair")
    (key, value), = values.items()
    value = one_metadata(key, value)
    if key in project["metadata"]:
        raise conflict(f"metadata {key} of project {project['project_id']} already exists")
    project["metadata"][key] = value
    save_metadata(ctx, project)


@route("/projects/<project_name_or_id>/metadatas/<meta_name>")
def get_metadata(ctx, project_name_or_id, meta_name):
    project = authorized(ctx, project_name_or_id, "metadata", "read")
    if meta_name not in project["metadata"]:
        return {}  # Harbor answers an absent key with an empty map
    return {meta_name: project["metadata"][meta_name]}


@route("/projects/<project_name_or_id>/metadatas/<meta_name>", methods=["PUT"])
def update_metadata(ctx, project_name_or_id, meta_name):
    project = authorized(ctx, project_name_or_id, "metadata", "update")
    value = one_metadata(meta_name, metadata_body(ctx).get(meta_name, ""))
    project["metadata"][meta_name] = value
    save_metadata(ctx, project)


@route("/projects/<project_name_or_id>/metadatas/<meta_name>", methods=["DELETE"])
def delete_metadata(ctx, project_name_or_id, meta_name):
    project = authorized(ctx, project_name_or_id, "metadata", "delete")
    if project["metadata"].pop(meta_name, None) is not None:
        save_metadata(ctx, project)

