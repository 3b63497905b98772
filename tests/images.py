"""Tiny random test images, pushed with the emulator's registry client (no Docker needed).

push_image() builds a config blob, N random layers and a schema2 manifest; push_index()
pushes one image per platform and a manifest list over them. Both return a PushedImage.
"""

import json
from dataclasses import dataclass, field

from harbor_emulator.registry_client import (
    MANIFEST_LIST_V2, MANIFEST_V2, RegistryClient, digest_of,
)
from harbor_emulator.sample_image import image_parts

@dataclass
class PushedImage:
    repo: str
    tag: str
    digest: str
    media_type: str
    size: int  # what Harbor reports as the artifact size: manifest + config + layers (+ children)
    blobs: list = field(default_factory=list)
    children: list = field(default_factory=list)


def as_client(client_or_url, auth=None):
    if isinstance(client_or_url, RegistryClient):
        return client_or_url
    username, password = auth if auth else (None, None)
    return RegistryClient(client_or_url, username, password)


def push_image(client_or_url, repo, tag, layers=1, size=1024, auth=None, architecture="amd64"):
    """Push a random image as repo:tag (tag None: by digest only)."""
    client = as_client(client_or_url, auth)
    config, blobs, manifest = image_parts(layers, size, architecture)
    for blob in [config] + blobs:
        client.put_blob(repo, blob)
    digest = client.put_manifest(repo, tag or digest_of(manifest), manifest, MANIFEST_V2)
    return PushedImage(repo, tag, digest, MANIFEST_V2, len(manifest) + len(config) + sum(map(len, blobs)),
                       [digest_of(config)] + [digest_of(b) for b in blobs])


def push_index(client_or_url, repo, tag, platforms=("amd64", "arm64"), size=512, auth=None):
    """Push one image per architecture (by digest), then a manifest list tagged `tag`."""
    client = as_client(client_or_url, auth)
    children = [push_image(client, repo, None, size=size, architecture=arch) for arch in platforms]
    index = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_LIST_V2,
        "manifests": [{"mediaType": MANIFEST_V2, "size": len(client.get_manifest(repo, c.digest)[0]),
                       "digest": c.digest, "platform": {"architecture": arch, "os": "linux"}}
                      for c, arch in zip(children, platforms)],
    }).encode()
    digest = client.put_manifest(repo, tag, index, MANIFEST_LIST_V2)
    return PushedImage(repo, tag, digest, MANIFEST_LIST_V2, len(index) + sum(c.size for c in children),
                       children=children)
