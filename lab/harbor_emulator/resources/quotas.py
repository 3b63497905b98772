"""Quotas: one per project; list by reference/reference_id; PUT {"hard": {"storage": N}} (-1 unlimited)."""

from .. import query, timeutil
from ..errors import bad_request, not_found
from ..web import json_response, route


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


FIELDS = {"id": lambda q: q["id"], "reference_id": lambda q: str(q["ref_id"]), "reference": lambda q: q["ref_type"],
          "creation_time": lambda q: q["creation_time"], "update_time": lambda q: q["update_time"],
          "hard.storage": lambda q: q["hard"]["storage"]}


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
    page, headers = query.listing(ctx.request, items, FIELDS)
    return json_response([view(ctx, q) for q in page], headers=headers)


def _quota(ctx, quota_id):
    quota = ctx.tx.get("quota", ctx.int_id(quota_id, "id"))
    if quota is None:
        raise not_found(f"quota {quota_id} not found")
    return quota


@route("/quotas/<quota_id>")
def get(ctx, quota_id):
    ctx.principal.require_system("quota", "read")
    return view(ctx, _quota(ctx, quota_id))


@route("/quotas/<quota_id>", methods=["PUT"])
def update(ctx, quota_id):
    ctx.principal.require_system("quota", "update")
    quota = _quota(ctx, quota_id)
    hard = ctx.body().obj("hard", required=True)
    storage = hard.int("storage", required=True)
    if storage != -1 and storage <= 0:
        raise bad_request("hard.storage must be -1 (unlimited) or a positive number of bytes")
    if set(hard.data) - {"storage"}:
        raise bad_request(f"unsupported quota resources: {sorted(set(hard.data) - {'storage'})}")
    quota["hard"] = {"storage": storage}
    quota["update_time"] = timeutil.now()
    ctx.tx.update("quota", quota["id"], dict(quota))
