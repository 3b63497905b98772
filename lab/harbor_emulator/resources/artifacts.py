"""Repositories, artifacts, tags and artifact labels: Harbor's API over the Distribution registry.

The registry is the truth for what exists; Harbor's records live in documents synchronised
from it, so ids stay stable across requests and processes:
- kind "repository" (id, project_id, name "proj/repo", description, pull_count, times), name = full name;
- kind "artifact" under its repository (digest, media types, size, push/pull times, references ...);
- kind "tag" under its repository (name, artifact_id, push/pull times);
- kind "artifact_label" under its artifact (label_id);
- kind "tag_tombstone": a tag deleted through the API that an external registry still holds.
`reconcile_repository` brings the documents in line with the registry (called on push
events and on reads). Deletions made here are published with emulator.publish.
"""

import json
from urllib.parse import quote

from .. import distribution, query, timeutil  # importing distribution also registers /v2 and /service/token
from ..errors import HarborError, bad_request, conflict, not_found, precondition
from ..registry_client import INDEX_TYPES, OCI_MANIFEST, RegistryError, copy_image
from ..store import Duplicate
from ..web import created, json_response, repo_name, route

ZERO_TIME = "0001-01-01T00:00:00.000Z"
IMAGE_CONFIGS = ("application/vnd.docker.container.image.v1+json", "application/vnd.oci.image.config.v1+json")
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
TAG_PATTERN = r"^[\w][\w.-]{0,127}$"


def read_only_error():
    return HarborError(403, distribution.READ_ONLY_MESSAGE, code="DENIED")


# =====================================================================================
# synchronisation with the registry
# =====================================================================================
class Snapshot:
    """The records of a repository as they were before the registry was read. Changes made
    meanwhile by a concurrent reconciliation (a push event while an API read runs) are newer
    than our view of the registry, so only records still as in the snapshot are changed."""

    def __init__(self, tx, name):
        repo = tx.get_by_name("repository", name)
        self.repo_id = repo.oid if repo else None
        artifacts = tx.list("artifact", parent=repo.oid) if repo else []
        by_id = {a["id"]: a["digest"] for a in artifacts}
        self.digests = set(by_id.values())
        self.tags = {t["name"]: by_id.get(t["artifact_id"]) for t in tx.list("tag", parent=repo.oid)} if repo else {}


def reconcile_repository(emulator, name):
    """Make the documents of repository `name` match the registry; returns its document or None."""
    registry = emulator.registry
    if registry is None:
        return None
    with emulator.store.tx() as tx:
        snapshot = Snapshot(tx, name)
    state = registry.repo_state(name, snapshot.digests)
    infos = {}
    if state is not None:
        for digest in state[1] - snapshot.digests:
            info = artifact_info(registry, name, digest)
            if info is not None:
                infos[digest] = info
    for attempt in range(3):
        try:
            with emulator.store.tx() as tx:
                return apply_state(tx, name, state, infos, snapshot)
        except Duplicate:  # another process recorded the same push at the same time: read theirs
            if attempt == 2:
                raise
    return None


def apply_state(tx, name, state, infos, snapshot):
    project = tx.get_by_name("project", name.split("/")[0])
    repo = tx.get_by_name("repository", name)
    if repo is not None and repo.oid != snapshot.repo_id:
        return repo  # (re)created meanwhile from a newer view of the registry
    if project is None or state is None:
        if repo is not None:
            drop_repository_docs(tx, repo)
        return None
    tags, digests = state
    now = timeutil.now()
    if repo is not None and repo["project_id"] != project["project_id"]:
        drop_repository_docs(tx, repo)  # left from a deleted project of the same name
        repo = None
    if repo is None:
        if not digests:
            return None
        repo = new_repository(tx, project, name, now)
    repo = tx.get("repository", repo.oid, for_update=True)  # one reconciliation of a repository at a time
    artifacts = {a["digest"]: a for a in tx.list("artifact", parent=repo.oid)}
    changed = False
    for digest in digests - set(artifacts):
        if digest in infos:
            artifacts[digest] = new_artifact(tx, project, repo, infos[digest], now)
            changed = True
    for digest in (set(artifacts) - digests) & snapshot.digests:
        drop_artifact_docs(tx, artifacts.pop(digest))
        changed = True
    changed |= apply_tags(tx, repo, tags, artifacts, snapshot, now)
    if changed:
        repo["update_time"] = now
        tx.update("repository", repo.oid, dict(repo))
    return repo


def apply_tags(tx, repo, tags, artifacts, snapshot, now):
    by_id = {a["id"]: d for d, a in artifacts.items()}
    docs = {t["name"]: t for t in tx.list("tag", parent=repo.oid)}
    tombstones = {t["tag"]: t for t in tx.list("tag_tombstone", parent=repo.oid)}
    changed = False
    for name in sorted(set(tags) | set(docs)):
        doc = docs.get(name)
        current = by_id.get(doc["artifact_id"]) if doc else None
        if current != snapshot.tags.get(name):
            continue  # changed meanwhile by a newer reconciliation
        digest = tags.get(name)
        stone = tombstones.pop(name, None)
        if stone is not None and stone["digest"] == digest:
            digest = None  # deleted through the API; the external registry cannot forget it
            tombstones[name] = stone
        elif stone is not None:
            tx.delete("tag_tombstone", stone.oid)
        changed |= set_tag(tx, repo, name, doc, artifacts.get(digest) if digest else None, now)
    for name, stone in tombstones.items():
        if name not in tags:  # the registry forgot the tag too: nothing left to hide
            tx.delete("tag_tombstone", stone.oid)
    return changed


def set_tag(tx, repo, name, doc, artifact, now):
    if artifact is None:
        if doc is not None:
            tx.delete("tag", doc.oid)
            return True
        return False
    if doc is None:
        tag_id = tx.next_id("tag")
        tx.insert("tag", tag_id, {"id": tag_id, "repository_id": repo["id"], "artifact_id": artifact["id"],
                                  "name": name, "push_time": now, "pull_time": ZERO_TIME},
                  parent=repo.oid, name=name, unique=[f"{repo['id']}:{name}"])
        return True
    if doc["artifact_id"] != artifact["id"]:
        doc.update(artifact_id=artifact["id"], push_time=now)
        tx.update("tag", doc.oid, dict(doc))
        return True
    return False


def new_repository(tx, project, name, now):
    repo_id = tx.next_id("repository")
    doc = {"id": repo_id, "project_id": project["project_id"], "name": name, "description": "", "pull_count": 0,
           "creation_time": now, "update_time": now}
    tx.insert("repository", repo_id, doc, parent=project["project_id"], name=name, unique=[name])
    return tx.get("repository", repo_id)


def new_artifact(tx, project, repo, info, now):
    art_id = tx.next_id("artifact")
    doc = dict(info, id=art_id, project_id=project["project_id"], repository_id=repo["id"],
               repository_name=repo["name"], push_time=now, pull_time=ZERO_TIME)
    tx.insert("artifact", art_id, doc, parent=repo.oid, name=info["digest"],
              unique=[f"{repo['id']}@{info['digest']}"])
    return tx.get("artifact", art_id)


def drop_artifact_docs(tx, artifact):
    for tag in tx.list("tag", parent=artifact["repository_id"]):
        if tag["artifact_id"] == artifact["id"]:
            tx.delete("tag", tag.oid)
    tx.delete_children("artifact_label", artifact["id"])
    tx.delete("artifact", artifact["id"])


def drop_repository_docs(tx, repo):
    for artifact in tx.list("artifact", parent=repo.oid):
        drop_artifact_docs(tx, artifact)
    tx.delete_children("tag_tombstone", repo.oid)
    tx.delete("repository", repo.oid)


def artifact_info(registry, repo, digest):
    """What Harbor records of a manifest (read once: content-addressed data never changes)."""
    try:
        raw = registry.manifest_bytes(repo, digest)
        manifest = json.loads(raw)
    except (RegistryError, ValueError):
        return None  # gone meanwhile, or not a manifest we understand
    if not isinstance(manifest, dict):
        return None
    manifest_type = manifest.get("mediaType") or (INDEX_TYPES[1] if "manifests" in manifest else OCI_MANIFEST)
    info = {"digest": digest, "manifest_media_type": manifest_type, "annotations": manifest.get("annotations") or {},
            "artifact_type": manifest.get("artifactType") or "", "extra_attrs": {}, "references": []}
    if manifest_type in INDEX_TYPES:
        children = [m for m in manifest.get("manifests") or [] if isinstance(m, dict) and m.get("digest")]
        info.update(type="IMAGE", media_type=manifest_type, size=len(raw) + sum(
            image_size(registry, repo, m["digest"]) for m in children))
        info["references"] = [{"child_digest": m["digest"], "platform": m.get("platform") or {},
                               "annotations": m.get("annotations") or {}, "urls": m.get("urls") or []}
                              for m in children]
        return info
    config = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    media_type = config.get("mediaType") or manifest_type
    info.update(media_type=media_type, size=image_size(registry, repo, digest, raw),
                type="IMAGE" if media_type in IMAGE_CONFIGS else "CHART" if media_type == HELM_CONFIG else "UNKNOWN")
    if media_type in IMAGE_CONFIGS and config.get("digest"):
        info["extra_attrs"] = image_attrs(registry, repo, config["digest"])
    return info


def image_size(registry, repo, digest, raw=None):
    try:
        raw = raw or registry.manifest_bytes(repo, digest)
        manifest = json.loads(raw)
    except (RegistryError, ValueError):
        return 0
    if not isinstance(manifest, dict):
        return len(raw)
    parts = [manifest.get("config")] + list(manifest.get("layers") or [])
    return len(raw) + sum(int(p.get("size") or 0) for p in parts if isinstance(p, dict))


def image_attrs(registry, repo, config_digest):
    try:
        config = json.loads(registry.blob_bytes(repo, config_digest))
    except (RegistryError, ValueError):
        return {}
    if not isinstance(config, dict):
        return {}
    attrs = {key: config[key] for key in ("architecture", "os", "author", "created") if key in config}
    attrs["config"] = config.get("config") or {}
    return attrs


def sync_project(emulator, project_name):
    """Reconcile every repository of a project (the registry's and the recorded ones)."""
    if emulator.registry is None:
        return
    names = set(emulator.registry.repositories(project_name))
    with emulator.store.tx() as tx:
        project = tx.get_by_name("project", project_name)
        if project is not None:
            names |= {r["name"] for r in tx.list("repository", parent=project["project_id"])}
    for name in sorted(names):
        reconcile_repository(emulator, name)


# -- bookkeeping the /v2 front and other modules call -------------------------------------
def record_pull(emulator, repository, digest, tag=None):
    """A manifest GET through /v2: pull time of artifact and tag, pull count of the repository."""
    for attempt in range(2):
        with emulator.store.tx() as tx:
            repo = tx.get_by_name("repository", repository)
            artifact = tx.get_by_name("artifact", digest, parent=repo.oid) if repo else None
            if artifact is not None:
                mark_pulled(tx, repo, artifact, tag)
                return
        if attempt == 0:  # pulled before its push event was handled: record the push first
            reconcile_repository(emulator, repository)


def mark_pulled(tx, repo, artifact, tag):
    now = timeutil.now()
    artifact["pull_time"] = now
    tx.update("artifact", artifact.oid, dict(artifact))
    repo["pull_count"] = repo.get("pull_count", 0) + 1
    tx.update("repository", repo.oid, dict(repo))
    doc = tx.get_by_name("tag", tag, parent=repo.oid) if tag else None
    if doc is not None and doc["artifact_id"] == artifact["id"]:
        doc["pull_time"] = now
        tx.update("tag", doc.oid, dict(doc))


def forget_artifact(emulator, repository, digest):
    """After a manifest DELETE in the registry: drop the records and publish the deletion."""
    with emulator.store.tx() as tx:
        repo = tx.get_by_name("repository", repository)
        artifact = tx.get_by_name("artifact", digest, parent=repo.oid) if repo else None
        tags = [t["name"] for t in tx.list("tag", parent=repo.oid) if t["artifact_id"] == artifact["id"]] \
            if artifact else []
    reconcile_repository(emulator, repository)
    emulator.publish({"action": "delete", "repository": repository, "digest": digest,
                      "tag": tags[0] if tags else None, "tags": tags,
                      "media_type": artifact["manifest_media_type"] if artifact else None})


def delete_artifact(emulator, repository, digest):
    """Delete an artifact (and the children of an index no one else holds) from the registry,
    then from the records, and publish it. For the API, retention and replication alike."""
    registry = emulator.registry
    with emulator.store.tx() as tx:
        repo = tx.get_by_name("repository", repository)
        artifact = tx.get_by_name("artifact", digest, parent=repo.oid) if repo else None
        doomed_children = orphaned_children(tx, repo, artifact) if artifact else []
    client = registry.client()
    for target in [digest] + doomed_children:
        try:
            client.delete_manifest(repository, target)
        except RegistryError as exc:
            if exc.status != 404:
                raise HarborError(500, f"failed to delete {repository}@{target}: {exc}") from None
    forget_artifact(emulator, repository, digest)


def orphaned_children(tx, repo, artifact):
    """Children of an index that are neither tagged nor referenced by another artifact."""
    children = {r["child_digest"] for r in artifact.get("references") or []}
    if not children:
        return []
    others = tx.list("artifact", parent=repo.oid)
    held = {r["child_digest"] for a in others if a["id"] != artifact["id"] for r in a.get("references") or []}
    by_digest = {a["digest"]: a["id"] for a in others}
    tagged = {t["artifact_id"] for t in tx.list("tag", parent=repo.oid)}
    return sorted(d for d in children - held if by_digest.get(d) not in tagged)


# =====================================================================================
# views
# =====================================================================================
def child_digests(artifacts):
    return {r["child_digest"] for a in artifacts for r in a.get("references") or []}


def top_level(tx, repo):
    """Artifacts the lists show: Harbor hides the children of an index unless they are tagged."""
    artifacts = tx.list("artifact", parent=repo.oid)
    children = child_digests(artifacts)
    tagged = {t["artifact_id"] for t in tx.list("tag", parent=repo.oid)}
    return [a for a in artifacts if a["digest"] not in children or a["id"] in tagged]


def repository_view(tx, repo):
    out = {k: repo[k] for k in ("id", "project_id", "name", "pull_count", "creation_time", "update_time")}
    out["artifact_count"] = len(top_level(tx, repo))
    if repo.get("description"):
        out["description"] = repo["description"]
    return out


def tag_view(tx, project, repo, tag, with_immutable=True):
    out = {k: tag[k] for k in ("id", "repository_id", "artifact_id", "name", "push_time", "pull_time")}
    out["immutable"] = bool(with_immutable and tag_immutable(tx, project, repo["name"], tag["name"]))
    return out


def tag_immutable(tx, project, repository, tag):
    """Immutable tag rules decide (hook: immutable.is_immutable(tx, project, repository, tag))."""
    from . import immutable

    check = getattr(immutable, "is_immutable", None)
    return bool(check and check(tx, project, repository, tag))


def label_view(label):
    return {k: label[k] for k in ("id", "name", "description", "color", "scope", "project_id", "creation_time",
                                  "update_time") if k in label}


def artifact_view(tx, project, repo, artifact, options):
    out = {k: artifact[k] for k in ("id", "type", "media_type", "manifest_media_type", "project_id", "repository_id",
                                    "repository_name", "digest", "size", "push_time", "pull_time", "extra_attrs",
                                    "annotations")}
    out["icon"] = ""
    if artifact.get("artifact_type"):
        out["artifact_type"] = artifact["artifact_type"]
    if artifact.get("references"):
        ids = {a["digest"]: a["id"] for a in tx.list("artifact", parent=repo.oid)}
        out["references"] = [dict(ref, parent_id=artifact["id"], **({"child_id": ids[ref["child_digest"]]}
                                                                    if ref["child_digest"] in ids else {}))
                             for ref in artifact["references"]]
    if options.get("with_tag", True):
        tags = [t for t in tx.list("tag", parent=repo.oid) if t["artifact_id"] == artifact["id"]]
        if tags:
            out["tags"] = [tag_view(tx, project, repo, t, options.get("with_immutable_status")) for t in tags]
    if options.get("with_label"):
        labels = [tx.get("label", link["label_id"]) for link in tx.list("artifact_label", parent=artifact["id"])]
        labels = [label_view(label) for label in labels if label is not None]
        if labels:
            out["labels"] = labels
    return out


def artifact_options(ctx):
    return {name: ctx.bool_arg(name, default) for name, default in (
        ("with_tag", True), ("with_label", False), ("with_scan_overview", False), ("with_immutable_status", False),
        ("with_accessory", False), ("with_signature", False), ("with_sbom_overview", False))}


# =====================================================================================
# request plumbing
# =====================================================================================
def full_name(project_name, repository_name):
    name = f"{project_name}/{repo_name(repository_name)}"
    if not distribution.REPO_NAME.match(name):
        raise not_found(f"repository {name} not found")
    return name


def guarded(ctx, project_name, resource, action, write=False):
    """Project lookup, read-only mode for writes, then the permission; returns the project."""
    with ctx.emulator.store.tx() as tx:
        project = tx.get_by_name("project", project_name)
        if project is None:
            raise not_found(f"project {project_name} not found")
        if write and ctx.emulator.config_value(tx, "read_only"):
            raise read_only_error()
        ctx.principal.require(tx, project, resource, action)
        return project


def load_repository(tx, name):
    repo = tx.get_by_name("repository", name)
    if repo is None:
        raise not_found(f"repository {name} not found")
    return repo


def find_artifact(tx, repo, reference):
    """By digest, or by tag."""
    if reference.startswith("sha256:"):
        artifact = tx.get_by_name("artifact", reference, parent=repo.oid)
    else:
        tag = tx.get_by_name("tag", reference, parent=repo.oid)
        artifact = tx.get("artifact", tag["artifact_id"]) if tag else None
    if artifact is None:
        raise not_found(f"artifact {repo['name']}:{reference} not found")
    return artifact


def synced_artifact(ctx, project_name, repository_name, resource, action, reference, write=False):
    """Everything a per-artifact handler needs: (project, repository doc, artifact doc)."""
    project = guarded(ctx, project_name, resource, action, write)
    name = full_name(project_name, repository_name)
    reconcile_repository(ctx.emulator, name)
    with ctx.emulator.store.tx() as tx:
        repo = load_repository(tx, name)
        return project, repo, find_artifact(tx, repo, reference)


def quoted_repo(name):
    return quote(quote(name, safe=""), safe="")


# =====================================================================================
# repositories
# =====================================================================================
REPO_FIELDS = query.fields("id", "name", "project_id", "creation_time", "update_time", "pull_count", "artifact_count")


def repository_listing(ctx, views):
    views = sorted(views, key=lambda r: (r["creation_time"], r["id"]), reverse=True)
    page, headers = query.listing(ctx.request, views, REPO_FIELDS)
    return json_response(page, headers=headers)


@route("/repositories", tx=False)
def list_all_repositories(ctx):
    with ctx.emulator.store.tx() as tx:
        projects = [p for p in tx.list("project") if ctx.principal.can(tx, p, "repository", "list")]
    for project in projects:
        sync_project(ctx.emulator, project["name"])
    with ctx.emulator.store.tx() as tx:
        views = [repository_view(tx, r) for p in projects for r in tx.list("repository", parent=p["project_id"])]
    return repository_listing(ctx, views)


@route("/projects/<project_name>/repositories", tx=False)
def list_repositories(ctx, project_name):
    project = guarded(ctx, project_name, "repository", "list")
    sync_project(ctx.emulator, project_name)
    with ctx.emulator.store.tx() as tx:
        views = [repository_view(tx, r) for r in tx.list("repository", parent=project["project_id"])]
    return repository_listing(ctx, views)


@route("/projects/<project_name>/repositories/<repository_name>", tx=False)
def get_repository(ctx, project_name, repository_name):
    guarded(ctx, project_name, "repository", "read")
    name = full_name(project_name, repository_name)
    reconcile_repository(ctx.emulator, name)
    with ctx.emulator.store.tx() as tx:
        return repository_view(tx, load_repository(tx, name))


@route("/projects/<project_name>/repositories/<repository_name>", methods=["PUT"], tx=False)
def update_repository(ctx, project_name, repository_name):
    guarded(ctx, project_name, "repository", "update", write=True)
    name = full_name(project_name, repository_name)
    body = ctx.body()
    description = body.str("description", default="")
    reconcile_repository(ctx.emulator, name)
    with ctx.emulator.store.tx() as tx:
        repo = load_repository(tx, name)
        repo.update(description=description, update_time=timeutil.now())
        tx.update("repository", repo.oid, dict(repo))


@route("/projects/<project_name>/repositories/<repository_name>", methods=["DELETE"], tx=False)
def delete_repository(ctx, project_name, repository_name):
    guarded(ctx, project_name, "repository", "delete", write=True)
    name = full_name(project_name, repository_name)
    reconcile_repository(ctx.emulator, name)
    with ctx.emulator.store.tx() as tx:
        repo = load_repository(tx, name)
        roots = [a["digest"] for a in top_level(tx, repo)]
    for digest in roots:
        delete_artifact(ctx.emulator, name, digest)
    registry = ctx.emulator.registry
    for digest in (registry.repo_state(name) or ({}, set()))[1]:  # leftovers: children no one holds
        try:
            registry.client().delete_manifest(name, digest)
        except RegistryError:
            pass
    registry.remove_repository(name)
    with ctx.emulator.store.tx() as tx:
        repo = tx.get_by_name("repository", name)
        if repo is not None:
            drop_repository_docs(tx, repo)


# =====================================================================================
# artifacts
# =====================================================================================
def tags_match(names, kind, value):
    """q on tags: exact name, `*` any tag, `nil` untagged, fuzzy, and {..} / or (..)."""
    if kind == "exact":
        return bool(names) if value == "*" else not names if value == "nil" else value in names
    if kind == "fuzzy":
        return any(value in n for n in names)
    if kind == "and":
        return all(v in names for v in value)
    if kind == "or":
        return any(v in names for v in value)
    return False


ARTIFACT_FIELDS = query.fields("id", "digest", "type", "media_type", "push_time", "pull_time", "size",
                               "repository_name")


def filter_artifacts(tx, request, artifacts):
    terms = query.parse_q(request.args.get("q"))
    allowed = set(ARTIFACT_FIELDS) | {"tags", "labels"}
    for key, _, _ in terms:
        if key not in allowed:
            raise bad_request(f'invalid query: key "{key}" is not supported')
    if not terms:
        return artifacts
    tag_names, label_ids = {}, {}
    for tag in (t for a in artifacts for t in tx.list("tag", parent=a["repository_id"])):
        tag_names.setdefault(tag["artifact_id"], set()).add(tag["name"])
    for artifact in artifacts:
        label_ids[artifact["id"]] = {str(link["label_id"]) for link in tx.list("artifact_label", parent=artifact["id"])}

    def keep(artifact):
        for key, kind, value in terms:
            if key == "tags":
                ok = tags_match(tag_names.get(artifact["id"], set()), kind, value)
            elif key == "labels":
                ok = query.matches(sorted(label_ids[artifact["id"]]), "or" if kind == "exact" else kind,
                                   [value] if kind == "exact" else value)
            else:
                ok = query.matches(ARTIFACT_FIELDS[key](artifact), kind, value)
            if not ok:
                return False
        return True

    return [a for a in artifacts if keep(a)]


def artifact_listing(ctx, tx, project, artifacts, repos):
    artifacts = filter_artifacts(tx, ctx.request, artifacts)
    artifacts = sorted(artifacts, key=lambda a: (a["push_time"], a["id"]), reverse=True)
    artifacts = query.sort_items(artifacts, ctx.args.get("sort"), ARTIFACT_FIELDS)
    page, headers = query.paginate(ctx.request, artifacts)
    options = artifact_options(ctx)
    return json_response([artifact_view(tx, project, repos[a["repository_id"]], a, options) for a in page],
                         headers=headers)


@route("/projects/<project_name>/repositories/<repository_name>/artifacts", tx=False)
def list_artifacts(ctx, project_name, repository_name):
    project = guarded(ctx, project_name, "artifact", "list")
    name = full_name(project_name, repository_name)
    reconcile_repository(ctx.emulator, name)
    with ctx.emulator.store.tx() as tx:
        repo = load_repository(tx, name)
        return artifact_listing(ctx, tx, project, top_level(tx, repo), {repo["id"]: repo})


@route("/projects/<project_name_or_id>/artifacts", tx=False)
def list_project_artifacts(ctx, project_name_or_id):
    with ctx.emulator.store.tx() as tx:
        by_name = ctx.request.headers.get("X-Is-Resource-Name", "").lower() == "true"
        if project_name_or_id.isdigit() and not by_name:
            project = tx.get("project", int(project_name_or_id))
        else:
            project = tx.get_by_name("project", project_name_or_id)
        if project is None:
            raise not_found(f"project {project_name_or_id} not found")
        ctx.principal.require(tx, project, "artifact", "list")
    latest_only = ctx.bool_arg("latest_in_repository", False)
    sync_project(ctx.emulator, project["name"])
    with ctx.emulator.store.tx() as tx:
        repos = {r["id"]: r for r in tx.list("repository", parent=project["project_id"])}
        artifacts = []
        for repo in repos.values():
            listed = sorted(top_level(tx, repo), key=lambda a: (a["push_time"], a["id"]), reverse=True)
            artifacts += listed[:1] if latest_only else listed
        return artifact_listing(ctx, tx, project, artifacts, repos)


@route("/projects/<project_name>/repositories/<repository_name>/artifacts/<reference>", tx=False)
def get_artifact(ctx, project_name, repository_name, reference):
    project, repo, artifact = synced_artifact(ctx, project_name, repository_name, "artifact", "read", reference)
    with ctx.emulator.store.tx() as tx:
        return artifact_view(tx, project, repo, artifact, artifact_options(ctx))


@route("/projects/<project_name>/repositories/<repository_name>/artifacts/<reference>", methods=["DELETE"],
       tx=False)
def delete_artifact_route(ctx, project_name, repository_name, reference):
    project, repo, artifact = synced_artifact(ctx, project_name, repository_name, "artifact", "delete", reference,
                                              write=True)
    with ctx.emulator.store.tx() as tx:
        parents = [a for a in tx.list("artifact", parent=repo.oid)
                   if artifact["digest"] in {r["child_digest"] for r in a.get("references") or []}]
        if parents:
            raise precondition("the deleting artifact is referenced by others")
        for tag in tx.list("tag", parent=repo.oid):
            if tag["artifact_id"] == artifact["id"] and tag_immutable(tx, project, repo["name"], tag["name"]):
                raise precondition(f"the artifact has the immutable tag {tag['name']} and cannot be deleted")
    delete_artifact(ctx.emulator, repo["name"], artifact["digest"])


def parse_from(raw):
    """`from=proj/repo@sha256:...` or `from=proj/repo:tag` -> (repository, reference)."""
    if not raw:
        raise bad_request("from in query is required")
    if "@" in raw:
        repo, _, reference = raw.partition("@")
    else:
        repo, _, reference = raw.rpartition(":")
    if not repo or not reference or not distribution.REPO_NAME.match(repo):
        raise bad_request(f"invalid from {raw!r}: expected project/repository@digest or project/repository:tag")
    return repo, reference


@route("/projects/<project_name>/repositories/<repository_name>/artifacts", methods=["POST"], tx=False)
def copy_artifact(ctx, project_name, repository_name):
    src_repo, reference = parse_from(ctx.args.get("from"))
    guarded(ctx, project_name, "artifact", "create", write=True)
    guarded(ctx, src_repo.split("/")[0], "repository", "pull")
    dst_name = full_name(project_name, repository_name)
    if ctx.emulator.registry is None:
        raise not_found(f"artifact {src_repo}:{reference} not found")
    reconcile_repository(ctx.emulator, src_repo)
    with ctx.emulator.store.tx() as tx:
        source = load_repository(tx, src_repo)
        artifact = find_artifact(tx, source, reference)
        tags = [t["name"] for t in tx.list("tag", parent=source.oid) if t["artifact_id"] == artifact["id"]]
    client = ctx.emulator.registry.client()
    try:
        digest = copy_image(client, src_repo, artifact["digest"], client, dst_name, artifact["digest"])
        if tags:  # Harbor copies the tags of the outermost artifact
            raw, media_type, _ = client.get_manifest(dst_name, digest)
            for tag in tags:
                client.put_manifest(dst_name, tag, raw, media_type)
    except RegistryError as exc:
        raise HarborError(500, f"failed to copy {src_repo}@{artifact['digest']}: {exc}") from None
    reconcile_repository(ctx.emulator, dst_name)
    return created(f"/projects/{project_name}/repositories/{quoted_repo(repo_name(repository_name))}"
                   f"/artifacts/{digest}")


# =====================================================================================
# tags
# =====================================================================================
TAG_FIELDS = query.fields("id", "name", "push_time", "pull_time", "artifact_id")


@route("/projects/<project_name>/repositories/<repository_name>/artifacts/<reference>/tags", tx=False)
def list_tags(ctx, project_name, repository_name, reference):
    project, repo, artifact = synced_artifact(ctx, project_name, repository_name, "tag", "list", reference)
    with_immutable = ctx.bool_arg("with_immutable_status", False)
    with ctx.emulator.store.tx() as tx:
        tags = [t for t in tx.list("tag", parent=repo.oid) if t["artifact_id"] == artifact["id"]]
        tags = sorted(tags, key=lambda t: (t["push_time"], t["id"]), reverse=True)
        page, headers = query.listing(ctx.request, tags, TAG_FIELDS)
        return json_response([tag_view(tx, project, repo, t, with_immutable) for t in page], headers=headers)


@route("/projects/<project_name>/repositories/<repository_name>/artifacts/<reference>/tags", methods=["POST"],
       tx=False)
def create_tag(ctx, project_name, repository_name, reference):
    name = ctx.body().str("name", required=True, max_len=128, pattern=TAG_PATTERN)
    project, repo, artifact = synced_artifact(ctx, project_name, repository_name, "tag", "create", reference,
                                              write=True)
    with ctx.emulator.store.tx() as tx:
        if tx.get_by_name("tag", name, parent=repo.oid) is not None:
            raise conflict(f"the tag {name} already exists in {repo['name']}")
    client = ctx.emulator.registry.client()
    try:
        raw, media_type, _ = client.get_manifest(repo["name"], artifact["digest"])
        client.put_manifest(repo["name"], name, raw, media_type)
    except RegistryError as exc:
        raise HarborError(500, f"failed to tag {repo['name']}@{artifact['digest']}: {exc}") from None
    reconcile_repository(ctx.emulator, repo["name"])
    return created(f"/projects/{project_name}/repositories/{quoted_repo(repo_name(repository_name))}"
                   f"/artifacts/{reference}/tags/{name}")


@route("/projects/<project_name>/repositories/<repository_name>/artifacts/<reference>/tags/<tag_name>",
       methods=["DELETE"], tx=False)
def delete_tag(ctx, project_name, repository_name, reference, tag_name):
    project, repo, artifact = synced_artifact(ctx, project_name, repository_name, "tag", "delete", reference,
                                              write=True)
    with ctx.emulator.store.tx() as tx:
        tag = tx.get_by_name("tag", tag_name, parent=repo.oid)
        if tag is None or tag["artifact_id"] != artifact["id"]:
            raise not_found(f"tag {tag_name} of artifact {repo['name']}@{artifact['digest']} not found")
        if tag_immutable(tx, project, repo["name"], tag_name):
            raise precondition(f"the tag {tag_name} is immutable and cannot be deleted")
    # Harbor deletes the tag record only; the artifact stays (untagged if it was the last tag)
    if not ctx.emulator.registry.untag(repo["name"], tag_name):
        with ctx.emulator.store.tx() as tx:
            stone_id = tx.next_id("tag_tombstone")
            tx.insert("tag_tombstone", stone_id, {"tag": tag_name, "digest": artifact["digest"]}, parent=repo.oid,
                      name=tag_name)
    reconcile_repository(ctx.emulator, repo["name"])
    # Harbor's DeleteTagEvent: event-based policies with deletion on delete this tag at the destination.
    ctx.emulator.publish({"action": "delete", "repository": repo["name"], "digest": artifact["digest"],
                          "tag": tag_name, "tags": [tag_name], "delete_tag": True,
                          "media_type": artifact["manifest_media_type"]})


# =====================================================================================
# artifact labels
# =====================================================================================
@route("/projects/<project_name>/repositories/<repository_name>/artifacts/<reference>/labels", methods=["POST"],
       tx=False)
def add_label(ctx, project_name, repository_name, reference):
    label_id = ctx.body().int("id", required=True)
    project, repo, artifact = synced_artifact(ctx, project_name, repository_name, "artifact-label", "create",
                                              reference, write=True)
    with ctx.emulator.store.tx() as tx:
        label = tx.get("label", label_id)
        if label is None:
            raise not_found(f"label {label_id} not found")
        if label.get("scope") == "p" and label.get("project_id") != project["project_id"]:
            raise bad_request(f"label {label_id} belongs to another project")
        key = f"{artifact['id']}:{label_id}"
        if tx.get_by_name("artifact_label", key, parent=artifact["id"]) is not None:
            raise conflict(f"label {label_id} is already added to the artifact")
        link_id = tx.next_id("artifact_label")
        tx.insert("artifact_label", link_id, {"id": link_id, "label_id": label_id, "artifact_id": artifact["id"],
                                              "creation_time": timeutil.now()},
                  parent=artifact["id"], name=key, unique=[key])


@route("/projects/<project_name>/repositories/<repository_name>/artifacts/<reference>/labels/<label_id>",
       methods=["DELETE"], tx=False)
def remove_label(ctx, project_name, repository_name, reference, label_id):
    label = ctx.int_id(label_id, "label_id")
    project, repo, artifact = synced_artifact(ctx, project_name, repository_name, "artifact-label", "delete",
                                              reference, write=True)
    with ctx.emulator.store.tx() as tx:
        link = tx.get_by_name("artifact_label", f"{artifact['id']}:{label}", parent=artifact["id"])
        if link is None:
            raise not_found(f"label {label} is not added to the artifact")
        tx.delete("artifact_label", link.oid)
