"""Immutable tag rules of a project: list (paginated), create (201), update, delete.

A rule uses the retention selector shape: tag_selectors [{kind doublestar, decoration
matches|excludes, pattern}] and scope_selectors {"repository": [{... repoMatches|repoExcludes}]}.
Identical rules in one project are a 409, as Harbor's unique constraint makes them.
"""

import json

from .. import query
from ..errors import bad_request, conflict, not_found
from ..web import created, json_response, route
from .retention import selected, selectors

ACTION = "immutable"
TEMPLATE = "immutable_template"


def parse_rule(body):
    action = body.str("action", default=ACTION)
    if action != ACTION:
        raise bad_request(f"action {action!r} is invalid, must be {ACTION}")
    template = body.str("template", default=TEMPLATE)
    if template != TEMPLATE:
        raise bad_request(f"template {template!r} is invalid, must be {TEMPLATE}")
    tags, scope = selectors(body)
    return {"priority": body.int("priority", default=0), "disabled": body.bool("disabled", default=False),
            "action": action, "template": template, "params": body.mapping("params"),
            "tag_selectors": tags, "scope_selectors": scope}


def selector_key(rule):
    """What makes two rules the same (Harbor's unique tag filter per project)."""
    return json.dumps([rule["tag_selectors"], rule["scope_selectors"]], sort_keys=True)


def check_unique(ctx, project_id, rule, own_id=None):
    key = selector_key(rule)
    for other in ctx.tx.list("immutable_rule", parent=project_id):
        if other["id"] != own_id and selector_key(other) == key:
            raise conflict(f"immutable tag rule already exists as rule {other['id']}")


def is_immutable(tx, project, repository, tag):
    """Whether an enabled rule of `project` protects `tag` of `repository` ("proj/repo" or
    "repo"; rules match the name below the project, as Harbor does). Used by the artifacts API."""
    prefix = project["name"] + "/"
    name = repository[len(prefix):] if repository.startswith(prefix) else repository
    for rule in tx.list("immutable_rule", parent=project["project_id"]):
        if rule.get("disabled"):
            continue
        if selected(rule["scope_selectors"]["repository"], name, "repoMatches") \
                and selected(rule["tag_selectors"], tag, "matches"):
            return True
    return False


def view(rule):
    return {k: rule[k] for k in ("id", "priority", "disabled", "action", "template", "params", "tag_selectors",
                                 "scope_selectors")}


def project_with(ctx, project_name_or_id, action):
    project = ctx.project(project_name_or_id)
    ctx.principal.require(ctx.tx, project, "immutable-tag", action)
    return project


def load(ctx, project, raw_id):
    rule = ctx.tx.get("immutable_rule", ctx.int_id(raw_id, "immutable_rule_id"))
    if rule is None or rule.parent != project["project_id"]:
        raise not_found(f"immutable tag rule {raw_id} not found in project {project['name']}")
    return rule


@route("/projects/<project_name_or_id>/immutabletagrules")
def list_rules(ctx, project_name_or_id):
    project = project_with(ctx, project_name_or_id, "list")
    rules = ctx.tx.list("immutable_rule", parent=project["project_id"])
    fields = query.fields("id", "priority", "disabled")
    page, headers = query.listing(ctx.request, rules, fields)
    return json_response([view(r) for r in page], headers=headers)


@route("/projects/<project_name_or_id>/immutabletagrules", methods=["POST"])
def create(ctx, project_name_or_id):
    project = project_with(ctx, project_name_or_id, "create")
    rule = parse_rule(ctx.body())
    check_unique(ctx, project["project_id"], rule)
    rule_id = ctx.tx.next_id("immutable_rule")
    rule.update(id=rule_id, project_id=project["project_id"])
    ctx.tx.insert("immutable_rule", rule_id, rule, parent=project["project_id"])
    return created(f"/projects/{project_name_or_id}/immutabletagrules/{rule_id}")


@route("/projects/<project_name_or_id>/immutabletagrules/<rule_id>", methods=["PUT"])
def update(ctx, project_name_or_id, rule_id):
    body = ctx.body()
    path_id = ctx.int_id(rule_id, "immutable_rule_id")
    if body.int("id", default=0) != path_id:
        raise bad_request("the immutable_rule_id doesn't match the id in the payload body of ImmutableRule")
    project = project_with(ctx, project_name_or_id, "update")
    stored = load(ctx, project, rule_id)
    rule = parse_rule(body)
    check_unique(ctx, project["project_id"], rule, own_id=stored["id"])
    stored.update(rule)
    ctx.tx.update("immutable_rule", stored["id"], dict(stored))


@route("/projects/<project_name_or_id>/immutabletagrules/<rule_id>", methods=["DELETE"])
def delete(ctx, project_name_or_id, rule_id):
    project = project_with(ctx, project_name_or_id, "delete")
    rule = load(ctx, project, rule_id)
    ctx.tx.delete("immutable_rule", rule["id"])
