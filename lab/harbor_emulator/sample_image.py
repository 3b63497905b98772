"""LAB ONLY: small random container images built in memory and pushed over the registry API,
for tests and the demo (no Docker, no image registry to pull from)."""

import json
import os

from .registry_client import MANIFEST_V2, RegistryClient, digest_of

CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"
LAYER_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def image_parts(layers=1, size=1024, architecture="amd64", os_name="linux"):
    """(config bytes, [layer bytes], manifest bytes) of a fresh random image."""
    blobs = [os.urandom(size) for _ in range(layers)]
    config = json.dumps({"architecture": architecture, "os": os_name, "created": "2024-01-01T00:00:00Z",
                         "config": {"Env": ["PATH=/usr/bin"]},
                         "rootfs": {"type": "layers", "diff_ids": [digest_of(b) for b in blobs]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_V2,
        "config": {"mediaType": CONFIG_TYPE, "size": len(config), "digest": digest_of(config)},
        "layers": [{"mediaType": LAYER_TYPE, "size": len(b), "digest": digest_of(b)} for b in blobs],
    }).encode()
    return config, blobs, manifest


def push_sample(url, username, password, repository, tag, layers=2, size=64 * 1024, verify=True):
    """Push a fresh random image as repository:tag to the registry at `url` (a Harbor's /v2);
    returns its manifest digest."""
    client = RegistryClient(url, username, password, verify=verify)
    config, blobs, manifest = image_parts(layers, size)
    for blob in [config] + blobs:
        client.put_blob(repository, blob)
    return client.put_manifest(repository, tag, manifest, MANIFEST_V2)
