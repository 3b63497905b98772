"""Labels: global (scope "g", system administrators manage them) and project labels
(scope "p" with project_id, the project's label permissions). Names are unique per scope
and project (409).

Documents: kind "label", id = label id, parent = project id (0 for global), fields id,
name, description, color, scope, project_id, creation_time, update_time. Artifact label
attachments live in the artifacts module (kind "artifact_label"); deleting a label removes them.
"""

from .. import query, timeutil
from ..errors import bad_request, conflict, not_found
from ..web import created, json_response, route

SCOPES = ("g", "p")
MAX_NAME = 128


def unique_key(scope, project_id, name):
    return f"{scope}:{project_id}:{name}"


def require(ctx, label, action):
    """Global labels: system label permission; project labels: the project's label permission."""
    if label["scope"] == "g":
        if action == "read":
            ctx.principal.require_login()  # everyone attaches global labels
        else:
            ctx.principal.require_system("label", action)
        return
    project = ctx.tx.get("project", label["project_id"])
    if project is None:
        raise not_found(f"project {label['project_id']} not found")
    ctx.principal.require(ctx.tx, project, "label", action)


def check_name(name):
    if not name:
        raise bad_request("name is required")
    if len(name) > MAX_NAME:
        raise bad_request(f"name should be at most {MAX_NAME} characters long")
    return name


def view(label):
    return {k: label[k] for k in ("id", "name", "description", "color", "scope", "project_id", "creation_time",
                                  "update_time")}


def load(ctx, raw_id):
    label = ctx.tx.get("label", ctx.int_id(raw_id, "label_id"))
    if label is None:
        raise not_found(f"label {raw_id} not found")
    return label


@route("/labels", methods=["POST"])
def create(ctx):
    ctx.principal.require_login()
    body = ctx.body()
    name = check_name(body.str("name", required=True))
    scope = body.str("scope", required=True)
    if scope not in SCOPES:
        raise bad_request(f"invalid scope: {scope!r}, must be g (global) or p (project)")
    project_id = 0
    if scope == "p":
        project_id = body.int("project_id", default=0)
        if project_id <= 0:
            raise bad_request(f"invalid project_id {project_id}: a project label needs its project id")
        if ctx.tx.get("project", project_id) is None:
            raise not_found(f"project {project_id} not found")
    now = timeutil.now()
    label = {"name": name, "description": body.str("description", default=""), "color": body.str("color", default=""),
             "scope": scope, "project_id": project_id, "creation_time": now, "update_time": now}
    require(ctx, label, "create")
    if ctx.tx.execute("SELECT 1 FROM unique_keys WHERE kind = 'label' AND key = ?",
                      (unique_key(scope, project_id, name),)).fetchone():
        raise conflict(f"label {name} already exists")
    label["id"] = ctx.tx.next_id("label")
    ctx.tx.insert("label", label["id"], label, parent=project_id, name=name,
                  unique=[unique_key(scope, project_id, name)])
    return created(f"/labels/{label['id']}")


LABEL_FIELDS = {
    "name": lambda label: label["name"],
    "id": lambda label: label["id"],
    "scope": lambda label: label["scope"],
    "project_id": lambda label: label["project_id"],
    "creation_time": lambda label: label["creation_time"],
    "update_time": lambda label: label["update_time"],
}


@route("/labels")
def list_labels(ctx):
    scope = ctx.args.get("scope", "")
    if scope not in SCOPES:
        raise bad_request(f"invalid scope: {scope}")
    project_id = 0
    if scope == "p":
        project_id = ctx.int_arg("project_id", 0)
        if not project_id:
            raise bad_request("must with project ID when to query project labels")
        project = ctx.tx.get("project", project_id)
        if project is None:
            raise not_found(f"project {project_id} not found")
        ctx.principal.require(ctx.tx, project, "label", "list")
    labels = [label for label in ctx.tx.list("label", parent=project_id) if label["scope"] == scope]
    name = ctx.args.get("name")
    if name:
        labels = [label for label in labels if name in label["name"]]  # Harbor: fuzzy
    page, headers = query.listing(ctx.request, labels, LABEL_FIELDS)
    return json_response([view(label) for label in page], headers=headers)


@route("/labels/<label_id>")
def get(ctx, label_id):
    label = load(ctx, label_id)
    require(ctx, label, "read")
    return view(label)


@route("/labels/<label_id>", methods=["PUT"])
def update(ctx, label_id):
    ctx.principal.require_login()
    label = load(ctx, label_id)
    require(ctx, label, "update")
    body = ctx.body()
    # Harbor copies name, description and colour from the body; scope and project stay
    label.update(name=check_name(body.str("name", default="")), description=body.str("description", default=""),
                 color=body.str("color", default=""), update_time=timeutil.now())
    key = unique_key(label["scope"], label["project_id"], label["name"])
    owner = ctx.tx.execute("SELECT id FROM unique_keys WHERE kind = 'label' AND key = ?", (key,)).fetchone()
    if owner and int(owner[0]) != label["id"]:
        raise conflict(f"label {label['name']} already exists")
    ctx.tx.update("label", label["id"], dict(label), name=label["name"], unique=[key])


@route("/labels/<label_id>", methods=["DELETE"])
def delete(ctx, label_id):
    ctx.principal.require_login()
    label = load(ctx, label_id)
    require(ctx, label, "delete")
    detach_from_artifacts(ctx.tx, label["id"])
    ctx.tx.delete("label", label["id"])


def detach_from_artifacts(tx, label_id):
    """Harbor removes a deleted label from every artifact (links: kind "artifact_label", see artifacts.py)."""
    for link in tx.list("artifact_label"):
        if link.get("label_id") == label_id:
            tx.delete("artifact_label", link.oid)
