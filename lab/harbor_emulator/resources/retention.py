"""Tag retention: one policy per project (POST only while the project has no `retention_id`
metadata, then PUT /retentions/{id}), the template catalogue at /retentions/metadatas, and
manual executions.

The emulator keeps policies and records executions, but does not evaluate rules against
the registry: a triggered execution finishes at once with status Succeed and no tasks, so
execution lists hold only those records and task lists are empty.
Like Harbor, DELETE /retentions/{id} leaves the project's `retention_id` metadata in place.
"""

import json
import re

from .. import query, timeutil
from ..errors import HarborError, bad_request, conflict, not_found
from ..patterns import doublestar
from ..web import created, json_response, route

MAX_RULES = 15
TEMPLATES = {  # template -> (param key or None, unit, shown in /retentions/metadatas)
    "latestPushedK": ("latestPushedK", "COUNT", "the most recently pushed # artifacts"),
    "latestPulledN": ("latestPulledN", "COUNT", "the most recently pulled # artifacts"),
    "nDaysSinceLastPush": ("nDaysSinceLastPush", "DAYS", "pushed within the last # days"),
    "nDaysSinceLastPull": ("nDaysSinceLastPull", "DAYS", "pulled within the last # days"),
    "always": (None, None, "always"),
}
# accepted by Harbor's rule index although the UI does not offer them
HIDDEN_TEMPLATES = {"latestActiveK": "latestActiveK", "nothing": None}
TAG_DECORATIONS = ("matches", "excludes")
REPO_DECORATIONS = ("repoMatches", "repoExcludes")


def metadata_payload():
    templates = [{"rule_template": name, "display_text": text, "action": "retain",
                  "params": [] if key is None else [{"type": "int", "unit": unit, "required": True}]}
                 for name, (key, unit, text) in TEMPLATES.items()]
    return {"templates": templates,
            "scope_selectors": [{"display_text": "Repositories", "kind": "doublestar",
                                 "decorations": list(REPO_DECORATIONS)}],
            "tag_selectors": [{"display_text": "Tags", "kind": "doublestar", "decorations": list(TAG_DECORATIONS)}]}


# -- cron (shared with the audit-log purge schedule) --------------------------------------
_CRON_RANGES = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
_CRON_PART = re.compile(r"^(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?$")


def check_cron(cron, what="cron"):
    """Harbor's 6-field cron: seconds first and 0, minutes not `*`."""
    fields = cron.split()
    if len(fields) != 6:
        raise bad_request(f"invalid {what} {cron!r}: a cron needs 6 fields (second minute hour day month weekday)")
    for index, field in enumerate(fields):
        for part in field.split(","):
            match = _CRON_PART.match(part)
            if not match or not _in_range(match.group(1), *_CRON_RANGES[index]):
                raise bad_request(f"invalid {what} {cron!r}: field {index + 1} ({field!r}) is not valid")
    if fields[0] != "0":
        raise bad_request(f"invalid {what} {cron!r}: the 1st field (indicating Seconds of time) of the cron "
                          "setting must be 0")
    if fields[1] == "*":
        raise bad_request(f"invalid {what} {cron!r}: the 2nd field (indicating Minutes of time) of the cron "
                          "setting must not be *")
    return cron


def _in_range(text, low, high):
    if text in ("*", "?"):
        return True
    for bound in text.split("-"):
        if bound.isdigit() and not low <= int(bound) <= high:
            return False
        if not bound.isdigit() and not bound.isalpha():
            return False
    return True


# -- selectors (shared with immutable tag rules) -----------------------------------------
def selected(selectors_, name, include):
    """True when `name` passes every selector (decoration `include` matches, the other excludes)."""
    for sel in selectors_:
        hit = doublestar(sel["pattern"], name)
        if hit != (sel["decoration"] == include):
            return False
    return True


def selector(sel, decorations):
    kind = sel.str("kind", required=True)
    if kind != "doublestar":
        raise bad_request(f"{sel.where}.kind: unsupported selector kind {kind!r}, must be doublestar")
    decoration = sel.str("decoration", required=True)
    if decoration not in decorations:
        raise bad_request(f"{sel.where}.decoration: {decoration!r} is invalid, must be one of "
                          f"{', '.join(decorations)}")
    pattern = sel.str("pattern", required=True)
    if not pattern:
        raise bad_request(f"{sel.where}.pattern is required")
    out = {"kind": kind, "decoration": decoration, "pattern": pattern}
    extras = sel.str("extras", default="")
    if extras:
        try:
            json.loads(extras)
        except ValueError:
            raise bad_request(f"{sel.where}.extras must be a JSON string such as {{\"untagged\":true}}") from None
        out["extras"] = extras
    return out


def selectors(rule):
    """tag_selectors and scope_selectors.repository, both required and non-empty."""
    tags = [selector(s, TAG_DECORATIONS) for s in rule.objs("tag_selectors")]
    if not tags:
        raise bad_request(f"{rule.where}.tag_selectors is required")
    scope = rule.obj("scope_selectors")
    unknown = sorted(set(scope.data) - {"repository"}) if scope is not None else []
    if unknown:
        raise bad_request(f"{rule.where}.scope_selectors: unsupported key {unknown[0]!r}, only repository")
    repos = [selector(s, REPO_DECORATIONS) for s in scope.objs("repository")] if scope is not None else []
    if not repos:
        raise bad_request(f"{rule.where}.scope_selectors.repository is required")
    return tags, {"repository": repos}


# -- rules and policies -------------------------------------------------------------------
def template_params(rule, template):
    key = TEMPLATES[template][0] if template in TEMPLATES else HIDDEN_TEMPLATES[template]
    params = rule.mapping("params")
    if key is None:
        return {}
    value = params.get(key)
    if value is None:
        raise bad_request(f"{rule.where}.params.{key} is required by template {template}")
    if type(value) is not int or value < 0:
        raise bad_request(f"{rule.where}.params.{key} must be a non-negative integer")
    return {key: value}


def parse_rule(rule, index):
    template = rule.str("template", required=True)
    if template not in TEMPLATES and template not in HIDDEN_TEMPLATES:
        raise bad_request(f"{rule.where}.template: unknown template {template!r}, must be one of "
                          f"{', '.join(list(TEMPLATES) + list(HIDDEN_TEMPLATES))}")
    action = rule.str("action", default="retain")
    if action != "retain":
        raise bad_request(f"{rule.where}.action: {action!r} is invalid, must be retain")
    tags, scope = selectors(rule)
    return {"id": index, "priority": rule.int("priority", default=0), "disabled": rule.bool("disabled", default=False),
            "action": action, "template": template, "params": template_params(rule, template),
            "tag_selectors": tags, "scope_selectors": scope}


def parse_rules(body):
    rules = [parse_rule(rule, index) for index, rule in enumerate(body.objs("rules"))]
    if len(rules) > MAX_RULES:
        raise bad_request(f"only {MAX_RULES} rules are allowed at most")
    seen = {}
    for index, rule in enumerate(rules):
        key = json.dumps({k: v for k, v in rule.items() if k != "id"}, sort_keys=True)
        if key in seen:
            raise conflict(f"rule {index} is conflict with rule {seen[key]}")
        seen[key] = index
    return rules


def parse_trigger(body):
    trigger = body.obj("trigger")
    if trigger is None:
        return {"kind": "Schedule", "settings": {"cron": ""}, "references": {}}
    kind = trigger.str("kind", required=True)
    if kind != "Schedule":
        raise bad_request(f"trigger.kind: not support Trigger {kind}, must be Schedule")
    settings = trigger.obj("settings")
    cron = settings.str("cron", default="") if settings is not None else ""
    if cron:
        check_cron(cron, "trigger.settings.cron")
    return {"kind": kind, "settings": {"cron": cron}, "references": trigger.mapping("references")}


def parse_scope(ctx, body):
    scope = body.obj("scope", required=True)
    level = scope.str("level", required=True)
    if level != "project":
        raise bad_request(f"scope {level} is not support")
    ref = scope.int("ref", required=True)
    project = ctx.tx.get("project", ref) if ref > 0 else None
    if project is None:
        raise bad_request(f"invalid Project id {ref}")
    return project


def parse_policy(ctx, body):
    algorithm = body.str("algorithm", default="or")
    if algorithm != "or":
        raise bad_request(f"algorithm {algorithm!r} is invalid, must be or")
    rules = parse_rules(body)
    trigger = parse_trigger(body)
    project = parse_scope(ctx, body)
    return project, {"algorithm": algorithm, "rules": rules, "trigger": trigger,
                     "scope": {"level": "project", "ref": project["project_id"]}}


def view(policy):
    return {k: policy[k] for k in ("id", "algorithm", "rules", "trigger", "scope")}


def load(ctx, raw_id, missing_status=404):
    """Harbor answers 404 on GET but 400 on the other calls for an unknown policy."""
    policy = ctx.tx.get("retention", ctx.int_id(raw_id, "id"))
    if policy is None:
        raise HarborError(missing_status, f"retention policy {raw_id} not found")
    return policy


def policy_project(ctx, policy):
    project = ctx.tx.get("project", policy["scope"]["ref"])
    if project is None:
        raise not_found(f"project {policy['scope']['ref']} not found")
    return project


def require_matching(project, policy_id):
    """The policy must be the one the project's metadata points at (Harbor's requirePolicyAccess)."""
    if project["metadata"].get("retention_id") != str(policy_id):
        raise not_found(f"the retention policy id {policy_id} does not match")


# -- handlers -----------------------------------------------------------------------------
@route("/retentions/metadatas")
def metadatas(ctx):
    ctx.principal.require_login()
    return metadata_payload()


@route("/retentions", methods=["POST"])
def create(ctx):
    ctx.principal.require_login()
    project, policy = parse_policy(ctx, ctx.body())
    ctx.principal.require(ctx.tx, project, "tag-retention", "create")
    old = project["metadata"].get("retention_id")
    if old:
        raise bad_request(f"project {project['project_id']} already has retention policy {old}")
    policy_id = ctx.tx.next_id("retention")
    now = timeutil.now()
    policy.update(id=policy_id, creation_time=now, update_time=now)
    ctx.tx.insert("retention", policy_id, policy, parent=project["project_id"])
    project["metadata"]["retention_id"] = str(policy_id)
    ctx.tx.update("project", project["project_id"], dict(project))
    return created(f"/retentions/{policy_id}")


@route("/retentions/<policy_id>")
def get(ctx, policy_id):
    ctx.principal.require_login()
    policy = load(ctx, policy_id)
    ctx.principal.require(ctx.tx, policy_project(ctx, policy), "tag-retention", "read")
    return view(policy)


@route("/retentions/<policy_id>", methods=["PUT"])
def update(ctx, policy_id):
    ctx.principal.require_login()
    stored = load(ctx, policy_id)
    project, policy = parse_policy(ctx, ctx.body())
    ctx.principal.require(ctx.tx, project, "tag-retention", "update")
    require_matching(project, stored["id"])
    stored.update(policy, update_time=timeutil.now())
    ctx.tx.update("retention", stored["id"], dict(stored))


@route("/retentions/<policy_id>", methods=["DELETE"])
def delete(ctx, policy_id):
    ctx.principal.require_login()
    policy = load(ctx, policy_id, missing_status=400)
    ctx.principal.require(ctx.tx, policy_project(ctx, policy), "tag-retention", "delete")
    ctx.tx.delete_children("retention_execution", policy["id"])
    ctx.tx.delete("retention", policy["id"])


# -- executions ---------------------------------------------------------------------------
@route("/retentions/<policy_id>/executions", methods=["POST"])
def trigger(ctx, policy_id):
    ctx.principal.require_login()
    policy = load(ctx, policy_id, missing_status=400)
    ctx.principal.require(ctx.tx, policy_project(ctx, policy), "tag-retention", "update")
    body = ctx.body(required=False)
    dry_run = body.bool("dry_run", default=False)
    execution_id = ctx.tx.next_id("retention_execution")
    now = timeutil.now()
    execution = {"id": execution_id, "policy_id": policy["id"], "start_time": now, "end_time": now,
                 "status": "Succeed", "trigger": "MANUAL", "dry_run": dry_run}
    ctx.tx.insert("retention_execution", execution_id, execution, parent=policy["id"])
    return created(f"/retentions/{policy['id']}/executions/{execution_id}")


def readable_policy(ctx, policy_id, action="list"):
    ctx.principal.require_login()
    policy = load(ctx, policy_id, missing_status=400)
    ctx.principal.require(ctx.tx, policy_project(ctx, policy), "tag-retention", action)
    return policy


def execution_of(ctx, policy, raw_eid):
    execution = ctx.tx.get("retention_execution", ctx.int_id(raw_eid, "eid"))
    if execution is None or execution["policy_id"] != policy["id"]:
        raise not_found(f"project: {policy['scope']['ref']}, execution id {raw_eid} not found")
    return execution


@route("/retentions/<policy_id>/executions")
def list_executions(ctx, policy_id):
    policy = readable_policy(ctx, policy_id)
    executions = sorted(ctx.tx.list("retention_execution", parent=policy["id"]), key=lambda e: -e["id"])
    page, headers = query.paginate(ctx.request, executions)
    return json_response([dict(e) for e in page], headers=headers)


@route("/retentions/<policy_id>/executions/<eid>", methods=["PATCH"])
def operate_execution(ctx, policy_id, eid):
    action = ctx.body().str("action", default="")
    if action != "stop":
        raise bad_request("action should be 'stop'")
    policy = readable_policy(ctx, policy_id, "update")
    execution = execution_of(ctx, policy, eid)
    if execution["status"] in ("Running", "Pending"):
        execution.update(status="Stopped", end_time=timeutil.now())
        ctx.tx.update("retention_execution", execution["id"], dict(execution))


@route("/retentions/<policy_id>/executions/<eid>/tasks")
def list_tasks(ctx, policy_id, eid):
    policy = readable_policy(ctx, policy_id)
    execution_of(ctx, policy, eid)
    page, headers = query.paginate(ctx.request, [])  # rules are not evaluated: no tasks
    return json_response(page, headers=headers)


@route("/retentions/<policy_id>/executions/<eid>/tasks/<tid>")
def task_log(ctx, policy_id, eid, tid):
    policy = readable_policy(ctx, policy_id, "read")
    execution_of(ctx, policy, eid)
    raise not_found(f"task {tid} not found")
