"""The replication engine: runs executions queued by resources/replication.py (job type
"replication") and turns registry events into event-based executions.

Copy semantics follow Harbor's replication flow:
- push policy (dest_registry set): local Distribution -> the endpoint's /v2 (harbor,
  docker-registry) with the endpoint's credentials; pull policy (src_registry set): the
  reverse, into the local Distribution;
- filters: `name` on the full "project/repo" path, `tag` and `label` with matches|excludes,
  `resource` image|artifact; patterns are doublestar globs (`*`, `**`, `?`, `{a,b}`, `[...]`);
- destination name: dest_namespace with dest_namespace_replace_count (-1 flatten, 0 prefix,
  N replace the first N levels);
- an artifact already at the destination with the same digest is skipped (so two Harbors can
  replicate to each other without ping-pong); a tag pointing to another digest is only
  overwritten with `override`;
- deletions are replicated only by event-based policies with `deletion` on: a deleted artifact
  (by digest) and, like Harbor's DeleteTagEvent, a deleted tag (that tag only, through the
  destination Harbor's API; a docker-registry destination cannot delete a single tag);
- network errors and 5xx are retried with exponential backoff, then the task fails with the
  reason in its log; the execution fails when any task failed; a stop request stops the
  remaining tasks. Logs name repositories, tags, digests and sizes, never credentials.
- `speed` (KB/s) is honoured per artifact (the task waits until its average fits);
  `copy_by_chunk` is accepted and stored, copies always stream blob by blob.
Tasks are one per artifact (Harbor groups by repository); src/dst_resource keep Harbor's
"repo [N item(s) in total]" wording.
"""

import json
import re
import time
from urllib.parse import quote, urlsplit

import requests

from . import jobs, timeutil
from .auth import Principal
from .patterns import doublestar
from .registry_client import INDEX_TYPES, MANIFEST_TYPES, RegistryClient, RegistryError, manifest_children
from .resources import projects, registries
from .resources import replication as api
from .store import Duplicate

RETRIES = 3  # attempts per network step
BACKOFF_SECONDS = 0.25  # doubled after each failed attempt
CLIENT_TIMEOUT = 30
IMAGE_CONFIG_TYPES = ("application/vnd.docker.container.image.v1+json", "application/vnd.oci.image.config.v1+json")


class Stopped(Exception):
    """The execution was asked to stop (or the job service is shutting down)."""


class ReplicationFailure(Exception):
    """A step failed for good; the message is safe to log."""


# -- patterns ------------------------------------------------------------------------------------
def glob_match(pattern, value):
    if not pattern:
        return True
    try:
        return doublestar(pattern, value)
    except re.error:
        return False


# -- filters -------------------------------------------------------------------------------------------
def filter_of(policy, kind):
    for flt in policy.get("filters") or []:
        if flt["type"] == kind:
            return flt
    return None


def repository_wanted(policy, repo):
    name = filter_of(policy, "name")
    return name is None or glob_match(name["value"], repo)


def tags_wanted(policy, tags):
    """The tags of one artifact kept by the tag filter; [""] stands for an untagged artifact."""
    flt = filter_of(policy, "tag")
    if flt is None or not flt["value"]:
        return list(tags)
    excludes = flt.get("decoration") == "excludes"
    return [t for t in tags if glob_match(flt["value"], t) != excludes]


def labels_wanted(policy, labels):
    flt = filter_of(policy, "label")
    if flt is None or not flt["value"]:
        return True
    wanted = set(flt["value"])
    if flt.get("decoration") == "excludes":
        return not wanted & set(labels)
    return wanted <= set(labels)


def resource_type_of(media_type, config_media_type=None):
    if media_type in INDEX_TYPES:
        return "image"
    if config_media_type in IMAGE_CONFIG_TYPES or (config_media_type is None and media_type in MANIFEST_TYPES):
        return "image"
    return "artifact"


def resource_wanted(policy, resource_type):
    flt = filter_of(policy, "resource")
    return flt is None or flt["value"] == "artifact" or resource_type == "image"


# -- destination names ------------------------------------------------------------------------------------
def destination_repository(repo, namespace, replace_count):
    """Harbor's replaceNamespace: -1 flatten into the namespace, 0 prefix, N replace N levels."""
    if not namespace:
        return repo
    parts = repo.split("/")
    if replace_count < 0:
        prefix = namespace
    elif replace_count > len(parts) - 1:
        raise ReplicationFailure(
            f"the source repository {repo!r} contains only {len(parts) - 1} path components {parts[:-1]} excepting "
            f"the last one, but the destination namespace flattening level is {replace_count}")
    else:
        prefix = "/".join([namespace] + parts[replace_count:-1])
    return f"{prefix}/{parts[-1]}"


# -- sides of a policy ---------------------------------------------------------------------------------------
class Side:
    """One end of a replication: the local Distribution or a registered endpoint."""

    def __init__(self, kind, client, registry=None, emulator=None):
        self.kind = kind  # "local", "harbor" or "docker-registry"
        self.client = client
        self.registry = registry or {}
        self.emulator = emulator

    @property
    def label(self):
        if self.kind == "local":
            return "local registry"
        parts = urlsplit(self.registry.get("url", ""))  # no userinfo: it could hold a secret
        port = f":{parts.port}" if parts.port else ""
        return f"{self.registry.get('name')} ({self.kind} at {parts.scheme}://{parts.hostname}{port})"

    def credential(self):
        return self.registry.get("credential") or {}

    def repositories(self):
        if self.kind == "local":
            return self.emulator.registry.repositories()
        if self.kind == "harbor":
            return self._harbor_repositories()
        return self.client.catalog()

    def artifacts(self, repo):
        """[(digest, [tags])] of a repository; untagged artifacts too where the registry shows them."""
        if self.kind == "local":
            return self._local_artifacts(repo)
        by_digest = {}
        for tag in sorted(self.client.tags(repo) or []):
            digest = self.client.head_manifest(repo, tag)
            if digest:
                by_digest.setdefault(digest, []).append(tag)
        return sorted(by_digest.items())

    def _local_artifacts(self, repo):
        registry = self.emulator.registry
        state = registry.repo_state(repo)
        if not state:
            return []
        tags, digests = state
        by_digest = {d: sorted(t for t, td in tags.items() if td == d) for d in digests}
        children = set()
        for digest in digests:  # children of an index travel with it, not on their own
            try:
                children |= set(manifest_children(registry.manifest_bytes(repo, digest)))
            except (RegistryError, ValueError, KeyError, TypeError):
                continue
        return sorted((d, t) for d, t in by_digest.items() if t or d not in children)

    def _harbor_repositories(self):
        """Harbor restricts /v2/_catalog; its API lists repositories (all pages)."""
        credential, names, page = self.credential(), [], 1
        auth = (credential["access_key"], credential.get("access_secret", "")) if credential.get("access_key") else None
        while True:
            try:
                response = requests.get(self.registry["url"] + "/api/v2.0/repositories",
                                        params={"page": page, "page_size": 100}, auth=auth,
                                        timeout=CLIENT_TIMEOUT, verify=not self.registry.get("insecure"))
            except requests.RequestException as exc:
                raise RegistryError(0, f"list repositories: {type(exc).__name__}") from None
            if response.status_code != 200:
                raise RegistryError(response.status_code, "list repositories")
            batch = response.json()
            names += [r["name"] for r in batch]
            if len(batch) < 100:
                return names
            page += 1

    def check_writable(self):
        """The local Harbor refuses pushes, replicated ones included, in read-only (maintenance) mode."""
        if self.kind != "local":
            return
        with self.emulator.store.tx() as tx:
            read_only = self.emulator.config_value(tx, "read_only")
        if read_only:
            raise ReplicationFailure("The system is in read only mode. Any modification is prohibited.")

    def untag(self, repo, digest, tag):
        """Delete one tag: Distribution's API cannot (it deletes manifests), Harbor's can."""
        if self.kind == "local":
            from .resources.artifacts import reconcile_repository

            self.check_writable()
            self.emulator.registry.untag(repo, tag)
            reconcile_repository(self.emulator, repo)
            return
        if self.kind != "harbor":
            raise ReplicationFailure(f"the {self.label} cannot delete a single tag (the registry API deletes "
                                     "manifests only)")
        project, name = repo.split("/", 1)
        credential = self.credential()
        auth = (credential["access_key"], credential.get("access_secret", "")) if credential.get("access_key") else None
        try:
            response = requests.delete(
                f"{self.registry['url']}/api/v2.0/projects/{quote(project, safe='')}/repositories/"
                f"{quote(quote(name, safe=''), safe='')}/artifacts/{digest}/tags/{quote(tag, safe='')}",
                auth=auth, timeout=CLIENT_TIMEOUT, verify=not self.registry.get("insecure"))
        except requests.RequestException as exc:
            raise RegistryError(0, f"delete tag {repo}:{tag}: {type(exc).__name__}") from None
        if response.status_code not in (200, 404):
            raise RegistryError(response.status_code, f"delete tag {repo}:{tag}")

    def ensure_namespace(self, repo):
        """Harbor creates the destination project when it is missing; so do we."""
        project = repo.split("/")[0]
        if self.kind == "local":
            ensure_local_project(self.emulator, project)
        elif self.kind == "harbor":
            ensure_remote_project(self.registry, project)


def ensure_local_project(emulator, name):
    try:
        with emulator.store.tx() as tx:
            if tx.get_by_name("project", name) is None:
                projects.create_project(tx, name, Principal(user=tx.get("user", 1)), {"public": "false"})
    except Duplicate:
        pass  # created meanwhile by someone else


def ensure_remote_project(registry, name):
    credential = registry.get("credential") or {}
    auth = (credential["access_key"], credential.get("access_secret", "")) if credential.get("access_key") else None
    base, verify = registry["url"] + "/api/v2.0", not registry.get("insecure")
    try:
        head = requests.head(base + "/projects", params={"project_name": name}, auth=auth, timeout=CLIENT_TIMEOUT,
                             verify=verify)
        if head.status_code == 200:
            return
        if head.status_code != 404:
            raise RegistryError(head.status_code, f"check project {name}")
        made = requests.post(base + "/projects", json={"project_name": name, "metadata": {"public": "false"}},
                             auth=auth, timeout=CLIENT_TIMEOUT, verify=verify)
    except requests.RequestException as exc:
        raise RegistryError(0, f"create project {name}: {type(exc).__name__}") from None
    if made.status_code not in (201, 409):
        raise RegistryError(made.status_code, f"create project {name}")


def local_side(emulator):
    if emulator.registry is None:
        raise ReplicationFailure("no registry is attached to this emulator: nothing can be replicated")
    return Side("local", emulator.registry.client(), emulator=emulator)


def remote_side(registry):
    if registry["type"] not in registries.REACHABLE_TYPES:
        raise ReplicationFailure(f"registry type {registry['type']} is unreachable from this lab emulator")
    credential = registry.get("credential") or {}
    client = RegistryClient(registry["url"], credential.get("access_key") or None,
                            credential.get("access_secret") or None, verify=not registry.get("insecure"),
                            timeout=CLIENT_TIMEOUT)
    return Side(registry["type"], client, registry=registry)


def sides_of(emulator, tx, policy):
    """(source, destination) for a policy."""
    if policy["dest_registry_id"]:
        registry = tx.get("registry", policy["dest_registry_id"])
        if registry is None:
            raise ReplicationFailure(f"registry {policy['dest_registry_id']} not found")
        return local_side(emulator), remote_side(registry)
    registry = tx.get("registry", policy["src_registry_id"])
    if registry is None:
        raise ReplicationFailure(f"registry {policy['src_registry_id']} not found")
    return remote_side(registry), local_side(emulator)


# -- retries ------------------------------------------------------------------------------------------------
def retryable(exc):
    return isinstance(exc, RegistryError) and (exc.status == 0 or exc.status >= 500)


def with_retries(step, what, log, check_stop):
    """Run `step()`; network errors and 5xx are retried with exponential backoff."""
    delay = BACKOFF_SECONDS
    for attempt in range(1, RETRIES + 1):
        check_stop()
        try:
            return step()
        except RegistryError as exc:
            if not retryable(exc) or attempt == RETRIES:
                raise ReplicationFailure(f"{what} failed after {attempt} attempt(s): {exc}") from None
            log(f"{what} failed (attempt {attempt}/{RETRIES}): {exc}; retrying in {delay:.2f}s")
            pause(delay, check_stop)
            delay *= 2
    raise ReplicationFailure(f"{what} failed")  # not reached


def pause(seconds, check_stop):
    deadline = time.monotonic() + seconds
    while True:
        check_stop()
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.1))


# -- state changes (short transactions; never held across network calls) ---------------------------------------
def mutate(emulator, kind, oid, **changes):
    with emulator.store.tx() as tx:
        doc = tx.get(kind, oid, for_update=True)
        if doc is None:
            return None
        doc.update(changes)
        tx.update(kind, oid, dict(doc))
        return doc


class TaskLog:
    """A task's log in the store (kind "replication_log"), one timestamped line at a time."""

    def __init__(self, emulator, task_id, credential=None):
        self.emulator, self.task_id, self.credential = emulator, task_id, credential or {}

    def __call__(self, line, level="INFO"):
        text = registries.scrub(f"{timeutil.now()} [{level}] {line}\n", self.credential)
        with self.emulator.store.tx() as tx:
            doc = tx.get("replication_log", self.task_id, for_update=True)
            if doc is None:
                tx.insert("replication_log", self.task_id, {"text": text})
            else:
                doc["text"] += text
                tx.update("replication_log", self.task_id, dict(doc))


def stop_checker(emulator, execution_id):
    def check():
        if jobs.stopping(emulator):
            raise Stopped("the job service is stopping")
        with emulator.store.tx() as tx:
            execution = tx.get("replication_execution", execution_id)
        if execution is None or execution.get("stop_requested"):
            raise Stopped("the execution was stopped")
    return check


# -- planning -------------------------------------------------------------------------------------------------
def artifact_labels(tx, repo, digest):
    """Label names attached to a local artifact (kind "artifact_label" under the artifact record)."""
    repository = tx.get_by_name("repository", repo)
    artifact = tx.get_by_name("artifact", digest, parent=repository.oid) if repository and digest else None
    if artifact is None:
        return set()
    names = set()
    for link in tx.list("artifact_label", parent=artifact["id"]):
        label = tx.get("label", link["label_id"])
        if label is not None:
            names.add(label["name"])
    return names


def plan_copies(policy, source, check_stop, log):
    """[{repo, digest, tags, resource_type}] of the source artifacts the filters keep."""
    plans = []
    repos = with_retries(source.repositories, f"list repositories of the {source.label}", log, check_stop)
    for repo in sorted(repos):
        if not repository_wanted(policy, repo):
            continue
        artifacts = with_retries(lambda: source.artifacts(repo), f"list artifacts of {repo}", log, check_stop)
        for digest, artifact_tags in artifacts:
            kept = tags_wanted(policy, artifact_tags or [""])
            if not kept:
                continue
            plan = {"repo": repo, "digest": digest, "tags": [t for t in kept if t]}
            if artifact_kept(policy, source, plan, check_stop, log):
                plans.append(plan)
    return plans


def artifact_kept(policy, source, plan, check_stop, log):
    """Label and resource filters (they need the artifact's labels or manifest)."""
    if source.kind == "local" and filter_of(policy, "label") is not None:
        with source.emulator.store.tx() as tx:
            labels = artifact_labels(tx, plan["repo"], plan["digest"])
        if not labels_wanted(policy, labels):
            return False
    elif source.kind != "local" and filter_of(policy, "label") is not None:
        flt = filter_of(policy, "label")
        if flt.get("decoration") != "excludes" and flt["value"]:
            return False  # remote artifacts carry no labels we can read
    plan["resource_type"] = "image"
    if filter_of(policy, "resource") is not None:
        raw, media_type, _ = with_retries(lambda: source.client.get_manifest(plan["repo"], plan["digest"]),
                                          f"read the manifest of {plan['repo']}@{plan['digest']}", log, check_stop)
        plan["resource_type"] = resource_type_of(media_type, config_media_type(raw))
        return resource_wanted(policy, plan["resource_type"])
    return True


def config_media_type(raw):
    try:
        config = json.loads(raw).get("config")
    except (ValueError, AttributeError):
        return None
    return config.get("mediaType") if isinstance(config, dict) else None


def resource_name(repo, count):
    return f"{repo} [{count} item(s) in total]"


# -- running an execution ---------------------------------------------------------------------------------------
def run_execution(emulator, execution_id):
    """Run (or, after its runner died, resume) one execution."""
    with emulator.store.tx() as tx:
        execution = tx.get("replication_execution", execution_id, for_update=True)
        if execution is None or execution["status"] not in ("Pending", "InProgress"):
            return  # stopped (or deleted) before a worker got to it
        resumed = execution["status"] == "InProgress"
        execution.update(status="InProgress")
        tx.update("replication_execution", execution_id, dict(execution))
        policy = tx.get("replication_policy", execution["policy_id"])
        planned = tx.count("replication_task", parent=execution_id) > 0
    check_stop = stop_checker(emulator, execution_id)
    try:
        if policy is None:
            raise ReplicationFailure(f"policy {execution['policy_id']} not found")
        with emulator.store.tx() as tx:
            source, destination = sides_of(emulator, tx, policy)
        if resumed:
            requeue_interrupted(emulator, execution_id)
        if not planned:
            create_tasks(emulator, execution, policy, source, check_stop)
        run_tasks(emulator, execution_id, policy, source, destination, check_stop)
    except Stopped:
        stop_remaining(emulator, execution_id)
    except ReplicationFailure as exc:
        stop_remaining(emulator, execution_id)
        finish_execution(emulator, execution_id, failure=str(exc))
        return
    finish_execution(emulator, execution_id)


def requeue_interrupted(emulator, execution_id):
    """Tasks a dead runner left InProgress run again (copies are idempotent)."""
    with emulator.store.tx() as tx:
        interrupted = [t["id"] for t in tx.list("replication_task", parent=execution_id) if t["status"] == "InProgress"]
    for task_id in interrupted:
        TaskLog(emulator, task_id)("the job service running this task stopped; running it again", "WARNING")
        mutate(emulator, "replication_task", task_id, status="Pending")


def quiet(line, level="INFO"):
    """Planning has no task log yet: its failures end up in the execution's status_text."""


def create_tasks(emulator, execution, policy, source, check_stop):
    resource = execution.get("resource")
    if resource is not None:
        plans = [event_plan(policy, resource)]
    else:
        plans = plan_copies(policy, source, check_stop, quiet)
    with emulator.store.tx() as tx:
        for plan in plans:
            plan["dst_repo"] = destination_repository(plan["repo"], policy["dest_namespace"],
                                                      policy["dest_namespace_replace_count"])
            refs = plan["tags"] or [plan["digest"]]
            api.new_task(tx, execution["id"], plan.get("operation", "copy"), plan.get("resource_type", "image"),
                         resource_name(plan["repo"], len(refs)), resource_name(plan["dst_repo"], len(refs)), plan)


def event_plan(policy, resource):
    tags = [resource["tag"]] if resource.get("tag") else []
    operation = "deletion" if resource.get("action") == "delete" else "copy"
    return {"repo": resource["repository"], "digest": resource.get("digest"), "tags": tags, "operation": operation,
            "resource_type": resource.get("resource_type") or "image", "delete_tag": bool(resource.get("delete_tag"))}


def run_tasks(emulator, execution_id, policy, source, destination, check_stop):
    with emulator.store.tx() as tx:
        task_ids = [t["id"] for t in tx.list("replication_task", parent=execution_id)]
    for task_id in task_ids:
        check_stop()
        task = mutate(emulator, "replication_task", task_id)
        if task is None or task["status"] != "Pending":
            continue
        run_task(emulator, task, policy, source, destination, check_stop)


def run_task(emulator, task, policy, source, destination, check_stop):
    log = TaskLog(emulator, task["id"], destination.credential() or source.credential())
    mutate(emulator, "replication_task", task["id"], status="InProgress", start_time=timeutil.now())
    plan = task["plan"]
    try:
        log(f"replicating from the {source.label} to the {destination.label}")
        if task["operation"] == "deletion" and plan.get("delete_tag"):
            delete_tag(plan, destination, log, check_stop)
        elif task["operation"] == "deletion":
            delete_artifact(plan, destination, log, check_stop)
        else:
            copy_artifact(policy, plan, source, destination, log, check_stop)
        status = "Succeed"
    except Stopped as exc:
        log(f"stopped: {exc}", "WARNING")
        status = "Stopped"
    except ReplicationFailure as exc:
        log(str(exc), "ERROR")
        status = "Failed"
    except Exception as exc:  # a bug of ours: keep the execution moving and say what happened
        log(f"unexpected error: {type(exc).__name__}: {exc}", "ERROR")
        status = "Failed"
    log(f"task finished: {status}")
    mutate(emulator, "replication_task", task["id"], status=status, end_time=timeutil.now())
    if status == "Stopped":
        raise Stopped("stopped")


def copy_artifact(policy, plan, source, destination, log, check_stop):
    repo, dst_repo, digest = plan["repo"], plan["dst_repo"], plan["digest"]
    refs = plan["tags"] or [digest]
    # Harbor prepares the destination (its project) before it checks anything there, as here: a
    # registry token asked for a project that does not exist yet grants nothing, and would still be
    # refused once a concurrent execution has created the project.
    destination.check_writable()
    with_retries(lambda: destination.ensure_namespace(dst_repo), f"prepare {dst_repo}", log, check_stop)
    for ref in refs:
        where = f"{dst_repo}:{ref}" if ref != digest else f"{dst_repo}@{digest}"
        existing = with_retries(lambda: destination.client.head_manifest(dst_repo, ref),
                                f"check {where} at the destination", log, check_stop)
        if existing == digest:
            log(f"the artifact {where} already exists on the destination registry with digest {digest}, skip")
            continue
        if existing and not policy["override"]:
            log(f"the same name artifact {where} exists on the destination registry with digest {existing}, "
                "but \"override\" is false, skip", "WARNING")
            continue
        if existing:
            log(f"{where} points to {existing} on the destination and \"override\" is true: overwriting")
        started = time.monotonic()
        copied = with_retries(lambda: copy_one(source, repo, ref, destination, dst_repo), f"copy {repo}:{ref}",
                              log, check_stop)
        size = artifact_size(source, repo, digest)
        log(f"copied {repo}:{ref} to {where}: digest {copied}, {size} bytes")
        throttle(policy.get("speed") or 0, size, started, check_stop)


def copy_one(source, repo, ref, destination, dst_repo):
    from .registry_client import copy_image

    return copy_image(source.client, repo, ref, destination.client, dst_repo, ref)


def artifact_size(side, repo, digest):
    """Manifest plus blob sizes (children's for an index); 0 when it cannot be read."""
    try:
        raw, media_type, _ = side.client.get_manifest(repo, digest)
        doc = json.loads(raw)
    except (RegistryError, ValueError):
        return 0
    size = len(raw)
    if media_type in INDEX_TYPES:
        return size + sum(artifact_size(side, repo, m["digest"]) for m in doc.get("manifests") or [])
    blobs = ([doc["config"]] if isinstance(doc.get("config"), dict) else []) + list(doc.get("layers") or [])
    return size + sum(int(b.get("size") or 0) for b in blobs)


def throttle(speed_kb, size, started, check_stop):
    """Harbor's per-task speed limit (KB/s), applied per artifact: wait until the average fits."""
    if speed_kb <= 0 or size <= 0:
        return
    pause(size / (speed_kb * 1024.0) - (time.monotonic() - started), check_stop)


def delete_artifact(plan, destination, log, check_stop):
    dst_repo, digest = plan["dst_repo"], plan.get("digest")
    ref = digest or (plan["tags"][0] if plan["tags"] else None)
    if not ref:
        raise ReplicationFailure("the deletion event names neither a digest nor a tag")
    existing = with_retries(lambda: destination.client.head_manifest(dst_repo, ref),
                            f"check {dst_repo}@{ref} at the destination", log, check_stop)
    if existing is None:
        log(f"{dst_repo}@{ref} does not exist on the destination registry, nothing to delete")
        return
    if digest and existing != digest:
        log(f"{dst_repo} holds {existing}, not the deleted {digest}: left alone", "WARNING")
        return
    with_retries(lambda: destination.client.delete_manifest(dst_repo, existing), f"delete {dst_repo}@{existing}",
                 log, check_stop)
    log(f"deleted {dst_repo}@{existing} on the destination registry")


def delete_tag(plan, destination, log, check_stop):
    """A tag deleted at the source: delete that tag only (the artifact and its other tags stay), and only
    while it still points to the digest the source deleted it from."""
    dst_repo, digest, tag = plan["dst_repo"], plan.get("digest"), (plan["tags"] or [None])[0]
    if not tag:
        raise ReplicationFailure("the tag deletion event names no tag")
    existing = with_retries(lambda: destination.client.head_manifest(dst_repo, tag),
                            f"check {dst_repo}:{tag} at the destination", log, check_stop)
    if existing is None:
        log(f"{dst_repo}:{tag} does not exist on the destination registry, nothing to delete")
        return
    if digest and existing != digest:
        log(f"{dst_repo}:{tag} points to {existing}, not {digest}: left alone", "WARNING")
        return
    with_retries(lambda: destination.untag(dst_repo, existing, tag), f"delete the tag {dst_repo}:{tag}", log,
                 check_stop)
    log(f"deleted the tag {dst_repo}:{tag} on the destination registry")


def stop_remaining(emulator, execution_id):
    now = timeutil.now()
    with emulator.store.tx() as tx:
        for task in tx.list("replication_task", parent=execution_id):
            if task["status"] in ("Pending", "InProgress"):
                task.update(status="Stopped", end_time=now)
                tx.update("replication_task", task.oid, dict(task))


def finish_execution(emulator, execution_id, failure=None):
    with emulator.store.tx() as tx:
        execution = tx.get("replication_execution", execution_id, for_update=True)
        if execution is None:
            return
        counts = api.task_counts(tx, execution_id)
        if failure or counts["failed"]:
            status = "Failed"
        elif counts["stopped"] or execution.get("stop_requested"):
            status = "Stopped"
        else:
            status = "Succeed"
        text = failure or ""
        if not text and counts["failed"]:
            text = f"{counts['failed']} of {counts['total']} task(s) failed"
        if jobs.stopping(emulator) and status == "Stopped":
            text = text or "the job service stopped"
        execution.update(status=status, status_text=registries.scrub(text, {}), end_time=timeutil.now())
        tx.update("replication_execution", execution_id, dict(execution))


# -- registry events ---------------------------------------------------------------------------------------------
def handle_event(emulator, event):
    """A push or delete in the local registry: start matching enabled event-based push policies."""
    action, repo = event.get("action"), event.get("repository")
    if action not in ("push", "delete") or not repo:
        return
    resource = {"action": action, "repository": repo, "digest": event.get("digest"), "tag": event.get("tag"),
                "resource_type": resource_type_of(event.get("media_type"))}
    if event.get("delete_tag"):
        resource["delete_tag"] = True
    with emulator.store.tx() as tx:
        for policy in tx.list("replication_policy"):
            if event_matches(tx, policy, resource):
                api.start_execution(tx, policy, "event_based", resource)


def event_matches(tx, policy, resource):
    trigger = policy.get("trigger") or {}
    if not policy.get("enabled") or trigger.get("type") != "event_based" or not policy.get("dest_registry_id"):
        return False
    if resource["action"] == "delete" and not policy.get("deletion"):
        return False
    if not repository_wanted(policy, resource["repository"]):
        return False
    if filter_of(policy, "tag") is not None and not tags_wanted(policy, [resource.get("tag") or ""]):
        return False
    if filter_of(policy, "label") is not None and resource["action"] == "push":
        labels = artifact_labels(tx, resource["repository"], resource.get("digest"))
        if not labels_wanted(policy, labels):
            return False
    return resource_wanted(policy, resource["resource_type"])


jobs.register_handler("replication", run_execution)
jobs.register_event_handler(handle_event)
