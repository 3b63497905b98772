# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Promotion of one artifact from one Harbor to another over the registry v2 API.

The artifact is pinned to one digest first (a tag is resolved once, through Harbor's API,
which also gives its labels), then everything is addressed by that digest: the same bytes
arrive at the destination, whatever the tags do meanwhile. The copy is what `docker push`
does: blobs the destination lacks are mounted (same registry) or streamed from source to
destination, child manifests of an index before the index, then the manifest by digest,
then the tags. Every check (names, labels, tag conflicts, destination project) happens
before the first write.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.client import (
    OCI_INDEX,
    OCI_MANIFEST,
    HarborClient,
    HarborError,
    content_digest,
)
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import InvalidInput
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.project import (
    check_resource_name,
    repository_path,
)

# Distribution's grammar: path components of lower-case letters and digits, joined by '.', '_', '__' or dashes.
_REPOSITORY_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")


def argument_spec():
    return dict(
        project=dict(type="str", required=True),
        repository=dict(type="str", required=True),
        digest=dict(type="str"),
        tag=dict(type="str"),
        destination=dict(type="dict", required=True, options=dict(
            api_url=dict(type="str", required=True),
            api_username=dict(type="str", required=True),
            api_password=dict(type="str", required=True, no_log=True),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            project=dict(type="str"),
            repository=dict(type="str"),
        )),
        tags=dict(type="list", elements="str", default=[]),
        force=dict(type="bool", default=False),
        require_labels=dict(type="list", elements="str", default=[]),
    )


MODULE_KWARGS = dict(
    supports_check_mode=True,
    mutually_exclusive=[("digest", "tag")],
    required_one_of=[("digest", "tag")],
)


def registry_base(url):
    """Scheme, host and port of an API URL, lower-cased: two Harbors are the same registry when equal."""
    base = url.rstrip("/")
    if base.endswith("/api/v2.0"):
        base = base[: -len("/api/v2.0")]
    return base.lower()


def _check_repository(value, option):
    parts = (value or "").split("/")
    if not value or len(value) > 255 or not all(_REPOSITORY_COMPONENT.match(p) for p in parts):
        raise InvalidInput(
            "%s %r is invalid: a repository name is one or more '/'-separated parts of lower-case letters and "
            "digits, joined inside a part by '.', '_', '__' or dashes (for example 'payments/api'), without "
            "the project" % (option, value))


def _check_tag(value, option):
    if not _TAG.match(value or ""):
        raise InvalidInput("%s %r is not a valid tag: up to 128 letters, digits, '_', '.' and '-', not starting "
                           "with '.' or '-'" % (option, value))


def validate(params):
    """Everything that can be checked without Harbor; raises InvalidInput."""
    dest = params["destination"]
    check_resource_name(params["project"], "project")
    _check_repository(params["repository"], "repository")
    if dest.get("project") is not None:
        check_resource_name(dest["project"], "destination.project")
    if dest.get("repository") is not None:
        _check_repository(dest["repository"], "destination.repository")
    if params.get("digest") is not None and not _DIGEST.match(params["digest"]):
        raise InvalidInput("digest %r is not a digest: expected sha256: and 64 lower-case hex digits"
                           % params["digest"])
    if params.get("tag") is not None:
        _check_tag(params["tag"], "tag")
    for tag in params["tags"]:
        _check_tag(tag, "tags")
    if any(not (label or "").strip() for label in params["require_labels"]):
        raise InvalidInput("require_labels has an empty label name")
    for option, url in (("api_url", params["api_url"]), ("destination.api_url", dest["api_url"])):
        if not re.match(r"^https?://[^/\s]+", url or ""):
            raise InvalidInput("%s %r must be an http:// or https:// URL" % (option, url))
    if registry_base(params["api_url"]) == registry_base(dest["api_url"]) and \
            destination_repository(params) == source_repository(params):
        raise InvalidInput("the source and the destination are the same repository (%s at %s): nothing to promote"
                           % (source_repository(params), dest["api_url"]))


def source_repository(params):
    return "%s/%s" % (params["project"], params["repository"])


def destination_repository(params):
    dest = params["destination"]
    return "%s/%s" % (dest.get("project") or params["project"], dest.get("repository") or params["repository"])


def destination_client(params):
    dest = params["destination"]
    return HarborClient(dest["api_url"], dest["api_username"], dest["api_password"],
                        validate_certs=dest["validate_certs"], ca_path=dest.get("ca_path"),
                        timeout=params["timeout"], retries=params["retries"])


def children_of(manifest):
    """Digests of the manifests an index lists (none for an image manifest)."""
    return [m["digest"] for m in manifest.get("manifests") or [] if isinstance(m, dict) and m.get("digest")]


def blobs_of(manifest):
    """(digest, size) of the config and layers; foreign layers (with `urls`) are not stored in the registry."""
    items = [manifest.get("config")] + list(manifest.get("layers") or []) + list(manifest.get("blobs") or [])
    return [(item["digest"], int(item.get("size") or 0)) for item in items
            if isinstance(item, dict) and item.get("digest") and not item.get("urls")]


def media_type_of(raw, header_type):
    """The manifest's media type: the registry's Content-Type, else the document's own, else OCI by shape."""
    if header_type and header_type not in ("application/json", "application/octet-stream", "text/plain"):
        return header_type
    doc = json.loads(raw)
    return doc.get("mediaType") or (OCI_INDEX if "manifests" in doc else OCI_MANIFEST)


class Side(object):
    """A client whose errors name the Harbor that answered (its URL before the path)."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            try:
                return attr(*args, **kwargs)
            except HarborError as exc:
                path = exc.path if exc.path.startswith("http") else self._client.base + exc.path
                raise HarborError(exc.status, exc.method, path, exc.message, exc.code, exc.request_id)

        return call


class Promotion(object):
    """One promotion: plan (reads only), then copy (writes) unless in check mode."""

    def __init__(self, source, destination, params, check_mode):
        self.source = Side(source)
        self.dest = Side(destination)
        self.params = params
        self.check_mode = check_mode
        self.src_repo = source_repository(params)
        self.dst_repo = destination_repository(params)
        self.same_registry = registry_base(params["api_url"]) == registry_base(params["destination"]["api_url"])
        self.wanted_tags = sorted(set(params["tags"]))
        self.copied = dict(manifests=0, blobs=0, blobs_mounted=0, blobs_present=0, bytes=0)
        self._manifests = {}  # digest -> (raw, media type), read from the source once
        self._planned_blobs = set()

    # -- reading --------------------------------------------------------------------------------
    def source_artifact(self):
        params = self.params
        reference = params.get("digest") or params["tag"]
        path = "/projects/%s/repositories/%s/artifacts/%s" % (
            params["project"], repository_path(params["repository"]), reference)
        try:
            artifact = self.source.get(path, params={"with_label": "true", "with_tag": "true"})
        except HarborError as exc:
            if exc.status == 404:
                raise InvalidInput("%s%s%s is not in the source Harbor %s (%s)" % (
                    self.src_repo, "@" if params.get("digest") else ":", reference, params["api_url"], exc.message))
            raise
        if not artifact or not artifact.get("digest"):
            raise InvalidInput("the source Harbor returned no digest for %s:%s" % (self.src_repo, reference))
        return artifact

    def check_labels(self, artifact):
        present = sorted(label.get("name") for label in artifact.get("labels") or [] if label.get("name"))
        missing = [name for name in self.params["require_labels"] if name not in present]
        if missing:
            raise InvalidInput(
                "refusing to promote %s@%s: it does not carry the required label(s) %s at the source "
                "(its labels: %s)" % (self.src_repo, artifact["digest"], ", ".join(missing),
                                      ", ".join(present) or "none"))
        return present

    def check_destination_project(self):
        project = self.dst_repo.split("/", 1)[0]
        found = self.dest.get_or_none("/projects/%s" % project, headers={"X-Is-Resource-Name": "true"})
        if found is None:
            raise InvalidInput("the destination project %s does not exist in %s; create it first (for example with "
                               "registryops.harbor.project)" % (project, self.params["destination"]["api_url"]))

    def source_manifest(self, digest):
        if digest not in self._manifests:
            raw, header_type = self.source.get_manifest(self.src_repo, digest)
            algorithm = digest.split(":", 1)[0]
            if content_digest(raw, algorithm) != digest:
                raise InvalidInput("the source registry returned a manifest whose content does not match %s" % digest)
            self._manifests[digest] = (raw, media_type_of(raw, header_type))
        return self._manifests[digest]

    def plan(self, digest):
        """What the destination lacks, children first: [(digest, [missing blobs (digest, size)])]."""
        order = []
        self._walk(digest, order, set())
        return order

    def _walk(self, digest, order, seen):
        if digest in seen:
            return
        seen.add(digest)
        raw, _media_type = self.source_manifest(digest)
        manifest = json.loads(raw)
        for child in children_of(manifest):
            if self.dest.manifest_digest(self.dst_repo, child) is None:
                self._walk(child, order, seen)
        missing = []
        for blob, size in blobs_of(manifest):
            if blob in self._planned_blobs:
                continue  # shared with a manifest planned before (layers common to several platforms)
            self._planned_blobs.add(blob)
            if self.dest.blob_exists(self.dst_repo, blob):
                self.copied["blobs_present"] += 1
            else:
                missing.append((blob, size))
        order.append((digest, missing))

    # -- writing ---------------------------------------------------------------------------------
    def copy_blob(self, digest, size):
        upload_url = None
        if self.same_registry:
            try:
                upload_url = self.dest.mount_blob(self.dst_repo, digest, self.src_repo)
            except HarborError as exc:
                if exc.status not in (401, 403, 404):
                    raise
                upload_url = None  # the destination account may not pull the source: upload instead
            else:
                if upload_url is None:
                    self.copied["blobs_mounted"] += 1
                    return
        response = self.source.open_blob(self.src_repo, digest)
        try:
            length = response.headers.get("Content-Length")
            size = int(length) if length and length.isdigit() else size
            self.dest.upload_blob(self.dst_repo, digest, response.raw, size, upload_url)
        finally:
            response.close()
        self.copied["blobs"] += 1
        self.copied["bytes"] += size

    def put_manifest(self, digest, reference):
        raw, media_type = self.source_manifest(digest)
        stored = self.dest.put_manifest(self.dst_repo, reference, raw, media_type)
        if stored and stored != digest:
            raise InvalidInput("the destination stored %s as %s instead of %s: it rewrote the manifest, so the "
                               "promoted artifact would not be the same" % (reference, stored, digest))

    # -- the whole promotion --------------------------------------------------------------------------
    def run(self):
        params = self.params
        artifact = self.source_artifact()
        digest = artifact["digest"]
        labels = self.check_labels(artifact)
        self.check_destination_project()
        present = self.dest.manifest_digest(self.dst_repo, digest) is not None
        tags_before = dict((tag, self.dest.manifest_digest(self.dst_repo, tag)) for tag in self.wanted_tags)
        conflicts = dict((tag, current) for tag, current in tags_before.items() if current not in (None, digest))
        if conflicts and not params["force"]:
            raise InvalidInput(
                "refusing to move tag(s) at the destination %s: %s (force: true moves them to %s)" % (
                    self.dst_repo, ", ".join("%s points to %s" % item for item in sorted(conflicts.items())), digest))
        to_tag = [tag for tag in self.wanted_tags if tags_before[tag] != digest]
        order = [] if present else self.plan(digest)
        if self.check_mode:
            for _manifest, blobs in order:
                self.copied["blobs"] += len(blobs)
                self.copied["bytes"] += sum(size for _b, size in blobs)
            self.copied["manifests"] = len(order)
        else:
            for manifest_digest, blobs in order:
                for blob, size in blobs:
                    self.copy_blob(blob, size)
                self.put_manifest(manifest_digest, manifest_digest)
                self.copied["manifests"] += 1
            for tag in to_tag:
                self.put_manifest(digest, tag)
        if self.check_mode:
            destination_digest = digest if present else None
        else:
            destination_digest = self.verify(digest)
        changed = bool(order) or bool(to_tag)
        result = dict(
            changed=changed,
            source_digest=digest,
            destination_digest=destination_digest,
            media_type=artifact.get("manifest_media_type") or artifact.get("media_type"),
            source="%s/%s@%s" % (registry_base(params["api_url"]), self.src_repo, digest),
            destination="%s/%s" % (registry_base(params["destination"]["api_url"]), self.dst_repo),
            tags=self.wanted_tags,
            tags_set=sorted(set(to_tag) - set(conflicts)),
            tags_moved=sorted(conflicts),
            labels=labels,
            copied=self.copied,
        )
        before = dict(digest=digest if present else None, tags=tags_before)
        after = dict(digest=digest, tags=dict((tag, digest) for tag in self.wanted_tags))
        return result, dict(before=before, after=after)

    def verify(self, digest):
        """Read back what the destination now serves: the digest, and every wanted tag on it."""
        stored = self.dest.manifest_digest(self.dst_repo, digest)
        if stored != digest:
            raise InvalidInput("after the copy the destination serves %s for %s@%s" % (stored, self.dst_repo, digest))
        wrong = [(tag, found) for tag, found in
                 ((tag, self.dest.manifest_digest(self.dst_repo, tag)) for tag in self.wanted_tags) if found != digest]
        if wrong:
            raise InvalidInput("after the copy these destination tags do not point to %s: %s" % (
                digest, ", ".join("%s -> %s" % item for item in wrong)))
        return stored
