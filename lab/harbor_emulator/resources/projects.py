"""Projects: create (metadata, storage_limit, proxy cache), list, HEAD, get, update, delete,
_deletable, summary, and metadata CRUD. Metadata values are strings, as in Harbor."""

from .. import query, timeutil
from ..errors import bad_request, conflict, forbidden, not_found, precondition
from ..validate import resource_name
from ..web import created, empty, json_response, route
from . import members, quotas

BOOL_METADATA = ("public", "enable_content_trust", "enable_content_trust_cosign", "prevent_vul", "auto_scan",
                 "auto_sbom_generation", "reuse_sys_cve_allowlist")
SEVERITIES = ("none", "low", "medium", "high", "critical")
PROXY_CACHE_TYPES = ("docker-hub", "harbor", "azure-acr", "ali-acr", "aws-ecr", "google-gcr", "docker-registry",
                     "github-ghcr", "jfrog-artifactory")


def normalise_metadata(raw, where="metadata"):
    """Validate a metadata map; every value is stored as a string, like Harbor."""
    out = {}
    for key, value in (raw or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, str):
            raise bad_request(f"{where}.{key} must be of type string")
        if key in BOOL_METADATA:
            if value.lower() not in ("true", "false"):
                raise bad_request(f"{where}.{key}: invalid value {value!r}, must be \"true\" or \"false\"")
            value = value.lower()
        elif key == "severity":
            if value.lower() not in SEVERITIES:
                raise bad_request(f"{where}.severity: invalid value {value!r}, must be one of {', '.join(SEVERITIES)}")
            value = value.lower()
        elif key in ("retention_id", "proxy_speed_kb"):
            try:
                int(value)
            except ValueError:
                raise bad_request(f"{where}.{key}: invalid value {value!r}, must be an integer") from None
        else:
            raise bad_request(f"{where}: unsupported key {key!r}")
        out[key] = value
    return out


def allowlist(raw, project_id, existing=None):
    now = timeutil.now()
    raw = raw or {}
    items = raw.get("items") or []
    if not isinstance(items, list) or any(not isinstance(i, dict) or not isinstance(i.get("cve_id"), str) for i in items):
        raise bad_request("cve_allowlist.items must be a list of {\"cve_id\": string}")
    expires_at = raw.get("expires_at")
    if expires_at is not None and type(expires_at) is not int:
        raise bad_request("cve_allowlist.expires_at must be of type integer")
    out = {"id": project_id, "project_id": project_id, "items": [{"cve_id": i["cve_id"]} for i in items],
           "creation_time": (existing or {}).get("creation_time", now), "update_time": now}
    if expires_at is not None:
        out["expires_at"] = expires_at
    return out


def view(ctx, project, detail=True):
    out = {k: project[k] for k in ("project_id", "owner_id", "name", "creation_time", "update_time", "deleted",
                                    "owner_name", "metadata", "cve_allowlist")}
    out["registry_id"] = project.get("registry_id") or 0
    out["togglable"] = True
    out["repo_count"] = ctx.emulator.repo_count(project["name"]) if detail else 0
    role = ctx.principal.project_role(ctx.tx, project)
    if role is not None:
        out["current_user_role_id"] = role
        out["current_user_role_ids"] = [role]
    else:
        out["current_user_role_id"] = 0
        out["current_user_role_ids"] = []
    return out


def visible(ctx, project):
    return ctx.principal.can(ctx.tx, project, "project", "read")


@route("/projects", methods=["POST"])
def create(ctx):
    ctx.principal.require_login()
    if ctx.principal.robot is not None:
        if not ctx.principal.sysadmin:
            ctx.principal.require_system("project", "create")
    body = ctx.body()
    name = body.str("project_name", required=True, max_len=255)
    resource_name(name, "project_name")
    metadata = normalise_metadata(body.mapping("metadata"))
    if body.has("public"):
        metadata["public"] = "true" if body.bool("public") else "false"
    metadata.setdefault("public", "false")
    storage_limit = body.int("storage_limit", default=-1, minimum=-1)
    creation_restriction = ctx.emulator.config_value(ctx.tx, "project_creation_restriction")
    if creation_restriction == "adminonly" and not ctx.principal.sysadmin:
        raise forbidden("Only system admin can create project")
    registry_id = body.int("registry_id", default=0, minimum=0)
    if registry_id:
        if not ctx.principal.sysadmin:
            raise forbidden("Only system admin can create proxy cache project")
        registry = ctx.tx.get("registry", registry_id)
        if registry is None:
            raise bad_request(f"registry {registry_id} not found")
        if registry["type"] not in PROXY_CACHE_TYPES:
            raise bad_request(f"unsupported registry type {registry['type']} for proxy cache")
        metadata.setdefault("proxy_speed_kb", "-1")
    if storage_limit != -1 and storage_limit == 0:
        raise bad_request("storage_limit must be -1 (unlimited) or a positive number of bytes")
    if ctx.tx.get_by_name("project", name):
        raise conflict(f"The project named {name} already exists")
    project = create_project(ctx.tx, name, ctx.principal, metadata, storage_limit, registry_id,
                             body.mapping("cve_allowlist"))
    return created(f"/projects/{project['project_id']}")


def create_project(tx, name, principal, metadata, storage_limit=-1, registry_id=0, cve_allowlist=None):
    project_id = tx.next_id("project")
    now = timeutil.now()
    owner = principal.user or tx.get("user", 1)  # robots create projects on behalf of admin
    project = {
        "project_id": project_id, "name": name, "owner_id": owner["user_id"], "owner_name": owner["username"],
        "creation_time": now, "update_time": now, "deleted": False, "registry_id": registry_id,
        "metadata": metadata, "cve_allowlist": allowlist(cve_allowlist, project_id),
    }
    tx.insert("project", project_id, project, name=name, unique=[f"name:{name}"])
    members.add_member(tx, project_id, "u", owner["user_id"], owner["username"], 1)
    quotas.create_for_project(tx, project_id, storage_limit)
    return project


def project_fields(ctx):
    return {
        "name": lambda p: p["name"],
        "public": lambda p: p["metadata"].get("public", "false"),
        "owner": lambda p: p["owner_name"],
        "project_id": lambda p: p["project_id"],
        "registry_id": lambda p: p.get("registry_id") or 0,
        "creation_time": lambda p: p["creation_time"],
        "update_time": lambda p: p["update_time"],
    }


@route("/projects")
def list_projects(ctx):
    projects = [p for p in ctx.tx.list("project") if visible(ctx, p)]
    name = ctx.args.get("name")
    if name:
        projects = [p for p in projects if p["name"] == name]  # name= is an exact match in Harbor
    public = ctx.args.get("public")
    if public is not None and public != "":
        wanted = "true" if ctx.bool_arg("public") else "false"
        projects = [p for p in projects if p["metadata"].get("public", "false") == wanted]
    owner = ctx.args.get("owner")
    if owner:
        projects = [p for p in projects if p["owner_name"] == owner]
    page, headers = query.listing(ctx.request, projects, project_fields(ctx))
    with_detail = ctx.bool_arg("with_detail", True)
    return json_response([view(ctx, p, with_detail) for p in page], headers=headers)


@route("/projects", methods=["HEAD"])
def head(ctx):
    name = ctx.args.get("project_name")
    if not name:
        raise bad_request("project_name in query is required")
    if ctx.tx.get_by_name("project", name) is None:
        raise not_found(f"project {name} not found")
    return empty()


def readable(ctx, name_or_id):
    project = ctx.project(name_or_id)
    ctx.principal.require(ctx.tx, project, "project", "read")
    return project


@route("/projects/<project_name_or_id>")
def get(ctx, project_name_or_id):
    return view(ctx, readable(ctx, project_name_or_id))


@route("/projects/<project_name_or_id>", methods=["PUT"])
def update(ctx, project_name_or_id):
    project = ctx.project(project_name_or_id)
    ctx.principal.require(ctx.tx, project, "project", "update")
    body = ctx.body()
    if body.has("project_name") and body.str("project_name") != project["name"]:
        raise bad_request("the project name can not be changed")
    metadata_body = body.obj("metadata")
    if metadata_body is not None:
        project["metadata"].update(normalise_metadata(metadata_body.data))
    if body.has("public"):
        project["metadata"]["public"] = "true" if body.bool("public") else "false"
    allow = body.obj("cve_allowlist")
    if allow is not None:
        project["cve_allowlist"] = allowlist(allow.data, project["project_id"], project["cve_allowlist"])
    if body.has("storage_limit"):
        raise bad_request("storage_limit can only be set at creation; update the quota through /quotas")
    project["update_time"] = timeutil.now()
    ctx.tx.update("project", project["project_id"], dict(project))


def deletable(ctx, project):
    if ctx.emulator.repo_count(project["name"]):
        return False, f"the project {project['name']} contains repositories, can not be deleted"
    for policy in ctx.tx.list("replication_policy"):
        if project_in_policy(policy, project["name"]):
            return False, f"the project {project['name']} is referenced by replication policies"
    return True, ""


def project_in_policy(policy, name):
    """A policy refers to a project when its local side's name filter targets it exactly."""
    for flt in policy.get("filters") or []:
        if flt.get("type") == "name" and str(flt.get("value", "")).split("/")[0] == name:
            return True
    return False


@route("/projects/<project_name_or_id>/_deletable")
def get_deletable(ctx, project_name_or_id):
    project = ctx.project(project_name_or_id)
    ctx.principal.require(ctx.tx, project, "project", "delete")
    ok, message = deletable(ctx, project)
    return {"deletable": ok, "message": message}


@route("/projects/<project_name_or_id>", methods=["DELETE"])
def delete(ctx, project_name_or_id):
    project = ctx.project(project_name_or_id)
    ctx.principal.require(ctx.tx, project, "project", "delete")
    ok, message = deletable(ctx, project)
    if not ok:
        raise precondition(message)
    pid = project["project_id"]
    for kind in ("member", "immutable_rule", "webhook_policy", "label"):
        ctx.tx.delete_children(kind, pid)
    for robot in ctx.tx.list("robot"):
        if robot.get("level") == "project" and robot.get("project_id") == pid:
            ctx.tx.delete("robot", robot.oid)
    retention_id = project["metadata"].get("retention_id")
    if retention_id:
        ctx.tx.delete("retention", int(retention_id))
    quotas.delete_for_project(ctx.tx, pid)
    ctx.tx.delete("project", pid)


@route("/projects/<project_name_or_id>/summary")
def summary(ctx, project_name_or_id):
    project = readable(ctx, project_name_or_id)
    counts = {1: 0, 2: 0, 3: 0, 4: 0, 5: 0}
    for member in ctx.tx.list("member", parent=project["project_id"]):
        counts[member["role_id"]] += 1
    out = {"repo_count": ctx.emulator.repo_count(project["name"])}
    if ctx.principal.can(ctx.tx, project, "member", "list"):
        out.update(project_admin_count=counts[1], developer_count=counts[2], guest_count=counts[3],
                   maintainer_count=counts[4], limited_guest_count=counts[5])
    quota = quotas.for_project(ctx.tx, project["project_id"])
    if quota:
        out["quota"] = {"hard": quota["hard"], "used": quotas.used(ctx, quota)}
    if project.get("registry_id"):
        from .registries import view as registry_view

        registry = ctx.tx.get("registry", project["registry_id"])
        if registry:
            out["registry"] = registry_view(registry)
    return out


# -- metadata CRUD ------------------------------------------------------------------
@route("/projects/<project_name_or_id>/metadatas/")
def list_metadata(ctx, project_name_or_id):
    return readable(ctx, project_name_or_id)["metadata"]


@route("/projects/<project_name_or_id>/metadatas/", methods=["POST"])
def add_metadata(ctx, project_name_or_id):
    project = ctx.project(project_name_or_id)
    ctx.principal.require(ctx.tx, project, "metadata", "create")
    project["metadata"].update(normalise_metadata(ctx.body().data))
    ctx.tx.update("project", project["project_id"], dict(project))


@route("/projects/<project_name_or_id>/metadatas/<meta_name>")
def get_metadata(ctx, project_name_or_id, meta_name):
    project = readable(ctx, project_name_or_id)
    if meta_name not in project["metadata"]:
        raise not_found(f"metadata {meta_name} not found")
    return {meta_name: project["metadata"][meta_name]}


@route("/projects/<project_name_or_id>/metadatas/<meta_name>", methods=["PUT"])
def update_metadata(ctx, project_name_or_id, meta_name):
    project = ctx.project(project_name_or_id)
    ctx.principal.require(ctx.tx, project, "metadata", "update")
    values = ctx.body().data
    if set(values) != {meta_name}:
        raise bad_request(f"the body must contain exactly the key {meta_name}")
    project["metadata"].update(normalise_metadata(values))
    ctx.tx.update("project", project["project_id"], dict(project))


@route("/projects/<project_name_or_id>/metadatas/<meta_name>", methods=["DELETE"])
def delete_metadata(ctx, project_name_or_id, meta_name):
    project = ctx.project(project_name_or_id)
    ctx.principal.require(ctx.tx, project, "metadata", "delete")
    if meta_name not in project["metadata"]:
        raise not_found(f"metadata {meta_name} not found")
    del project["metadata"][meta_name]
    ctx.tx.update("project", project["project_id"], dict(project))
