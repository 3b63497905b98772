"""Quotas: one per project; list by reference/reference_id; PUT {"hard": {"storage": N}} (-1 unlimited).

Reading and changing quotas is a system permission in Harbor (RequireSystemAccess): project
admins see their quota only through the project summary.
"""

from .. import query, timeutil
from ..errors import bad_request, not_found
from ..web import json_response, route

RESOURCES = ("storage",)
UNLIMITED = -1


def create_for_project(tx, project_id, storage_limit):
    quota_id = tx.next_id("quota")
    now = timeutil.now()
    doc = {"id": quota_id, "ref_type": "project", "ref_id": project_id, "hard": {"storage": storage_limit},
           "creation_time": now, "update_time": now}
    tx.insert("quota", quota_id, doc, parent=project_id, name=f"project:{project_id}",
              unique=[f"project:{project_id}"])
    return doc


def for_project(tx, project_id):
    return tx.get_by_name("quota", f"project:{project_id}")


def delete_for_project(tx, project_id):
    quota = for_project(tx, project_id)
    if quota:
        tx.delete("quota", quota["id"])


def used(ctx, quota):
    project = ctx.tx.get("project", quota["ref_id"])
    return {"storage": ctx.emulator.storage_used(project["name"]) if project else 0}


def view(ctx, quota):
    project = ctx.tx.get("project", quota["ref_id"]) or {}
    return {"id": quota["id"], "ref": {"id": quota["ref_id"], "name": project.get("name"),
                                       "owner_name": project.get("owner_name")},
            "hard": quota["hard"], "used": used(ctx, quota),
            "creation_time": quota["creation_time"], "update_time": quota["update_time"]}


def validate_hard(hard):
    """Harbor's project quota driver: only `storage`, -1 or a positive number of bytes."""
    for resource, value in hard.items():
        if resource not in RESOURCES:
            raise bad_request(f"resource {resource} not support")
        if value <= 0 and value != UNLIMITED:
            raise bad_request(f"invalid value for resource {resource}")
    for resource in RESOURCES:
        if resource not in hard:
            raise bad_request(f"resource {resource} not found")


SORT_FIELDS = {"id": lambda q: q["id"], "creation_time": lambda q: q["creation_time"],
               "update_time": lambda q: q["update_time"], "hard.storage": lambda q: q["hard"]["storage"]}


@route("/quotas")
def list_quotas(ctx):
    ctx.principal.require_system("quota", "list")
    items = ctx.tx.list("quota")
    reference = ctx.args.get("reference")
    if reference:
        items = [q for q in items if q["ref_type"] == reference]
    reference_id = ctx.args.get("reference_id")
    if reference_id:
        items = [q for q in items if str(q["ref_id"]) == reference_id]
    items = query.sort_items(items, ctx.args.get("sort"), SORT_FIELDS)
    page, headers = query.paginate(ctx.request, items)
    return json_response([view(ctx, q) for q in page], headers=headers)


def _quota(ctx, quota_id):
    oid = ctx.int_id(quota_id, "id")
    quota = ctx.tx.get("quota", oid)
    if quota is None:
        raise not_found(f"quota {oid} not found")
    return quota


@route("/quotas/<quota_id>")
def get(ctx, quota_id):
    ctx.principal.require_system("quota", "read")
    return view(ctx, _quota(ctx, quota_id))


@route("/quotas/<quota_id>", methods=["PUT"])
def update(ctx, quota_id):
    ctx.principal.require_system("quota", "update")
    hard_body = ctx.body().obj("hard")
    hard = hard_body.data if hard_body is not None else {}
    for resource in hard:
        hard_body.int(resource, required=True)  # ResourceList values are int64
    if not hard:
        raise bad_request("hard required in body")
    quota = _quota(ctx, quota_id)
    validate_hard(hard)
    quota["hard"] = dict(hard)
    quota["update_time"] = timeutil.now()
    ctx.tx.update("quota", quota["id"], dict(quota))
