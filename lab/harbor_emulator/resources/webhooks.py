"""Project webhook policies: CRUD, supported event types, last trigger, and (empty)
executions/jobs.

Policies are stored and validated like Harbor's (event types, targets with http/slack/teams
address and payload format, unique name per project) and returned with auth_header in
clear, as Harbor does. The emulator does not deliver notifications, so execution, task and
job lists are empty and last_trigger_time is never set.
"""

from urllib.parse import urlsplit

from .. import query, timeutil
from ..errors import bad_request, conflict, not_found
from ..web import created, json_response, route

EVENT_TYPES = ("DELETE_ARTIFACT", "PULL_ARTIFACT", "PUSH_ARTIFACT", "QUOTA_EXCEED", "QUOTA_WARNING",
               "REPLICATION", "SCANNING_FAILED", "SCANNING_COMPLETED", "SCANNING_STOPPED", "TAG_RETENTION")
PAYLOAD_FORMATS = {"http": ("Default", "CloudEvents"), "slack": ("Default",), "teams": ("Default",)}


def project_with(ctx, project_name_or_id, action):
    project = ctx.project(project_name_or_id)
    ctx.principal.require(ctx.tx, project, "notification-policy", action)
    return project


def address_of(raw, where):
    """Harbor's ParseEndpoint: http:// by default, only http(s), and only scheme://host/path kept."""
    text = raw.strip().rstrip("/")
    if not text:
        raise bad_request(f"{where}: empty URL")
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise bad_request(f"{where}: invalid scheme {parts.scheme!r}, must be http or https")
    if not parts.netloc:
        raise bad_request(f"{where}: invalid URL {raw!r}")
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def parse_target(target, name):
    kind = target.str("type", required=True)
    if kind not in PAYLOAD_FORMATS:
        raise bad_request(f"unsupported target type {kind} with policy {name}")
    out = {"type": kind, "address": address_of(target.str("address", required=True), f"{target.where}.address"),
           "skip_cert_verify": target.bool("skip_cert_verify", default=False)}
    auth_header = target.str("auth_header", default="")
    if auth_header:
        out["auth_header"] = auth_header
    payload_format = target.str("payload_format", default="")
    if payload_format:
        if payload_format not in PAYLOAD_FORMATS[kind]:
            raise bad_request(f"{target.where}.payload_format: unsupported payload format {payload_format} for "
                              f"notify type {kind}")
        out["payload_format"] = payload_format
    return out


def parse_policy(body):
    name = body.str("name", required=True, max_len=256)
    if not name.strip():
        raise bad_request("name is required")
    event_types = body.list("event_types", item_type=str) or []
    if not event_types:
        raise bad_request("empty event type")
    for event_type in event_types:
        if event_type not in EVENT_TYPES:
            raise bad_request(f"unsupported event type {event_type}")
    targets = [parse_target(target, name) for target in body.objs("targets")]
    if not targets:
        raise bad_request(f"empty notification target with policy {name}")
    return {"name": name, "description": body.str("description", default=""), "event_types": event_types,
            "targets": targets, "enabled": body.bool("enabled", default=False)}


def view(policy):
    return {k: policy[k] for k in ("id", "name", "description", "project_id", "targets", "event_types", "creator",
                                   "creation_time", "update_time", "enabled")}


def load(ctx, project, raw_id):
    policy = ctx.tx.get("webhook_policy", ctx.int_id(raw_id, "webhook_policy_id"))
    if policy is None or policy["project_id"] != project["project_id"]:
        raise not_found(f"project id:{project['project_id']}, webhook policy id: {raw_id} not found")
    return policy


def claim_name(ctx, project, policy, own_id=None):
    for other in ctx.tx.list("webhook_policy", parent=project["project_id"]):
        if other["name"] == policy["name"] and other["id"] != own_id:
            raise conflict(f"notification policy named {policy['name']} already exists")
    return [f"{project['project_id']}:{policy['name']}"]


# -- handlers -----------------------------------------------------------------------------
POLICY_FIELDS = query.fields("name", "id", "enabled", "creation_time", "update_time")


@route("/projects/<project_name_or_id>/webhook/policies")
def list_policies(ctx, project_name_or_id):
    project = project_with(ctx, project_name_or_id, "list")
    policies = ctx.tx.list("webhook_policy", parent=project["project_id"])
    page, headers = query.listing(ctx.request, policies, POLICY_FIELDS)
    return json_response([view(p) for p in page], headers=headers)


@route("/projects/<project_name_or_id>/webhook/policies", methods=["POST"])
def create(ctx, project_name_or_id):
    project = project_with(ctx, project_name_or_id, "create")
    policy = parse_policy(ctx.body())
    keys = claim_name(ctx, project, policy)
    policy_id = ctx.tx.next_id("webhook_policy")
    now = timeutil.now()
    policy.update(id=policy_id, project_id=project["project_id"], creator=ctx.principal.username,
                  creation_time=now, update_time=now)
    ctx.tx.insert("webhook_policy", policy_id, policy, parent=project["project_id"], name=policy["name"],
                  unique=keys)
    return created(f"/projects/{project_name_or_id}/webhook/policies/{policy_id}")


@route("/projects/<project_name_or_id>/webhook/policies/<policy_id>")
def get(ctx, project_name_or_id, policy_id):
    project = project_with(ctx, project_name_or_id, "read")
    return view(load(ctx, project, policy_id))


@route("/projects/<project_name_or_id>/webhook/policies/<policy_id>", methods=["PUT"])
def update(ctx, project_name_or_id, policy_id):
    project = project_with(ctx, project_name_or_id, "update")
    stored = load(ctx, project, policy_id)
    policy = parse_policy(ctx.body())
    keys = claim_name(ctx, project, policy, own_id=stored["id"])
    stored.update(policy, update_time=timeutil.now())
    ctx.tx.update("webhook_policy", stored["id"], dict(stored), name=stored["name"], unique=keys)


@route("/projects/<project_name_or_id>/webhook/policies/<policy_id>", methods=["DELETE"])
def delete(ctx, project_name_or_id, policy_id):
    project = project_with(ctx, project_name_or_id, "delete")
    ctx.tx.delete("webhook_policy", load(ctx, project, policy_id)["id"])


@route("/projects/<project_name_or_id>/webhook/events")
def events(ctx, project_name_or_id):
    project_with(ctx, project_name_or_id, "read")
    return {"event_type": list(EVENT_TYPES), "notify_type": list(PAYLOAD_FORMATS),
            "payload_formats": [{"notify_type": kind, "formats": list(formats)}
                                for kind, formats in PAYLOAD_FORMATS.items()]}


@route("/projects/<project_name_or_id>/webhook/lasttrigger")
def last_trigger(ctx, project_name_or_id):
    project = project_with(ctx, project_name_or_id, "read")
    out = []
    for policy in ctx.tx.list("webhook_policy", parent=project["project_id"]):
        for event_type in policy["event_types"]:
            out.append({"policy_name": policy["name"], "event_type": event_type, "enabled": policy["enabled"],
                        "creation_time": policy["creation_time"]})
    return out


def _empty(ctx):
    page, headers = query.paginate(ctx.request, [])
    return json_response(page, headers=headers)


@route("/projects/<project_name_or_id>/webhook/jobs")
def jobs(ctx, project_name_or_id):
    project = project_with(ctx, project_name_or_id, "list")
    policy_id = ctx.int_arg("policy_id")
    if policy_id is None:
        raise bad_request("policy_id in query is required")
    load(ctx, project, str(policy_id))
    return _empty(ctx)


@route("/projects/<project_name_or_id>/webhook/policies/<policy_id>/executions")
def executions(ctx, project_name_or_id, policy_id):
    project = project_with(ctx, project_name_or_id, "list")
    load(ctx, project, policy_id)
    return _empty(ctx)


@route("/projects/<project_name_or_id>/webhook/policies/<policy_id>/executions/<execution_id>/tasks")
def tasks(ctx, project_name_or_id, policy_id, execution_id):
    project = project_with(ctx, project_name_or_id, "list")
    load(ctx, project, policy_id)
    raise not_found(f"execution {execution_id} not found")


@route("/projects/<project_name_or_id>/webhook/policies/<policy_id>/executions/<execution_id>/tasks/<task_id>/log")
def task_log(ctx, project_name_or_id, policy_id, execution_id, task_id):
    project = project_with(ctx, project_name_or_id, "read")
    load(ctx, project, policy_id)
    raise not_found(f"execution {execution_id} not found")
