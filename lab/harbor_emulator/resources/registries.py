"""Registry endpoints (`/registries`) and replication adapters (`/replication/adapters`, `/adapterinfos`).

Harbor health-checks an endpoint when it is created, updated or pinged and refuses an
unhealthy one with 400. Here `harbor` and `docker-registry` endpoints are checked for real
over HTTP; every other type is a cloud or vendor service this lab cannot reach, so it is
refused as unhealthy without any network attempt. Secrets stay in the store: responses
show `access_secret` as "*****" and nothing logs them.
"""

import re
from urllib.parse import urlsplit

import requests

from .. import query, timeutil
from ..errors import bad_request, conflict, not_found, precondition
from ..store import Duplicate
from ..web import created, json_response, route

TYPES = ("harbor", "docker-hub", "docker-registry", "huawei-SWR", "google-gcr", "aws-ecr", "azure-acr", "ali-acr",
         "jfrog-artifactory", "quay", "gitlab", "dtr", "tencent-tcr", "github-ghcr", "volcengine-cr")
REACHABLE_TYPES = ("harbor", "docker-registry")
CREDENTIAL_TYPES = ("basic", "oauth", "secret")
HEALTH_TIMEOUT = 5
MASK = "*****"
ZERO_TIME = "0001-01-01T00:00:00.000Z"


# -- views ------------------------------------------------------------------------------
def view(registry):
    """The public Registry shape: the secret is never returned, only masked when one is set."""
    credential = registry.get("credential") or {}
    out = {k: registry[k] for k in ("id", "name", "url", "type", "insecure", "description", "status",
                                    "creation_time", "update_time")}
    shown = {"type": credential.get("type") or "basic", "access_key": credential.get("access_key") or ""}
    if credential.get("access_secret"):
        shown["access_secret"] = MASK
    out["credential"] = shown
    return out


def local_view(emulator):
    """The local Harbor as Harbor shows it on the local side of a replication policy."""
    return {"id": 0, "name": "Local", "type": "harbor", "url": emulator.settings.external_url,
            "insecure": True, "description": "", "status": "healthy",
            "credential": {"type": "secret", "access_key": "", "access_secret": MASK},
            "creation_time": ZERO_TIME, "update_time": ZERO_TIME}


# -- validation ---------------------------------------------------------------------------
def normalise_url(raw):
    """Harbor's ValidateHTTPURL: trim, default to http://, only http and https."""
    url = (raw or "").strip().rstrip("/")
    if not url:
        raise bad_request("url cannot be empty")
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise bad_request(f"invalid HTTP scheme: {parts.scheme}")
    if not parts.netloc:
        raise bad_request(f"malformed URL: {raw}")
    return url


def check_name(name):
    if not name:
        raise bad_request("name cannot be empty")
    if len(name) > 64:
        raise bad_request("the max length of name is 64")
    return name


def check_type(registry_type):
    if registry_type not in TYPES:
        raise bad_request(f"invalid registry type {registry_type!r}, must be one of {', '.join(TYPES)}")
    return registry_type


def check_credential_type(value):
    if value and value not in CREDENTIAL_TYPES:
        raise bad_request(f"invalid credential type {value!r}, must be one of {', '.join(CREDENTIAL_TYPES)}")
    return value or "basic"


# -- health --------------------------------------------------------------------------------
def health_problem(registry):
    """None when the endpoint is healthy, else why not (never containing the secret)."""
    registry_type = registry["type"]
    if registry_type not in REACHABLE_TYPES:
        return (f"the registry is unhealthy: {registry_type} endpoints are unreachable from this lab emulator "
                "(no access to cloud or vendor registries; only harbor and docker-registry endpoints can be used)")
    credential = registry.get("credential") or {}
    try:
        if registry_type == "harbor":
            problem = _harbor_problem(registry["url"], credential, not registry.get("insecure"))
        else:
            problem = _distribution_problem(registry["url"], credential, not registry.get("insecure"))
    except requests.RequestException as exc:
        problem = f"cannot reach {registry['url']}: {type(exc).__name__}"
    if problem:
        return scrub(f"the registry is unhealthy: {problem}", credential)
    return None


def _auth(credential):
    if credential.get("access_key"):
        return (credential["access_key"], credential.get("access_secret") or "")
    return None


def _harbor_problem(url, credential, verify):
    ping = requests.get(url + "/api/v2.0/ping", timeout=HEALTH_TIMEOUT, verify=verify)
    if ping.status_code != 200:
        return f"GET {url}/api/v2.0/ping answered {ping.status_code}"
    info = requests.get(url + "/api/v2.0/systeminfo", auth=_auth(credential), timeout=HEALTH_TIMEOUT, verify=verify)
    if info.status_code == 401:
        return f"the credentials were rejected by {url}"
    if info.status_code != 200:
        return f"GET {url}/api/v2.0/systeminfo answered {info.status_code}"
    return None


def _distribution_problem(url, credential, verify):
    """GET /v2/: 200, or a 401 challenge (Basic or Bearer) answered with the credentials."""
    from ..registry_client import RegistryClient, RegistryError

    username, password = _auth(credential) or (None, None)
    try:
        RegistryClient(url, username, password, verify=verify, timeout=HEALTH_TIMEOUT).ping()
    except RegistryError as exc:
        if exc.status == 0:
            return f"cannot reach {url}"
        if exc.status == 401:
            return f"the credentials were rejected by {url}"
        return f"GET {url}/v2/ answered {exc.status}"
    return None


def scrub(text, credential):
    """Remove a secret (and URL userinfo) from a message before it reaches a response or a log."""
    secret = (credential or {}).get("access_secret")
    if secret:
        text = text.replace(secret, MASK)
    return re.sub(r"://[^/@\s]+@", "://", text)


def require_healthy(registry):
    problem = health_problem(registry)
    if problem:
        raise bad_request(problem)


# -- lookups ---------------------------------------------------------------------------------
def get_registry(tx, registry_id):
    registry = tx.get("registry", registry_id)
    if registry is None:
        raise not_found(f"registry {registry_id} not found")
    return registry


def users_of(tx, registry_id):
    """Why an endpoint cannot be deleted, or None."""
    for policy in tx.list("replication_policy"):
        if registry_id in (policy.get("src_registry_id"), policy.get("dest_registry_id")):
            return f"the registry {registry_id} is referenced by replication policies, cannot delete it"
    for project in tx.list("project"):
        if project.get("registry_id") == registry_id:
            return f"the registry {registry_id} is referenced by proxy cache project, cannot delete it"
    return None


# -- routes ------------------------------------------------------------------------------------
@route("/registries", methods=["POST"], tx=False)
def create(ctx):
    ctx.principal.require_system("registry", "create")
    body = ctx.body()
    name = check_name(body.str("name", default=""))
    registry_type = check_type(body.str("type", required=True))
    url = normalise_url(body.str("url", default=""))
    credential_body = body.obj("credential")
    credential = {"type": "basic", "access_key": "", "access_secret": ""}
    if credential_body is not None:
        credential = {"type": check_credential_type(credential_body.str("type", default="")),
                      "access_key": credential_body.str("access_key", default=""),
                      "access_secret": credential_body.str("access_secret", default="")}
    now = timeutil.now()
    registry = {"name": name, "type": registry_type, "url": url, "credential": credential,
                "insecure": body.bool("insecure", default=False), "description": body.str("description", default=""),
                "status": "healthy", "creation_time": now, "update_time": now}
    body.str("ca_certificate", default=None)  # accepted (type-checked); TLS here uses the system CAs
    with ctx.emulator.store.tx() as tx:
        if tx.get_by_name("registry", name):
            raise conflict(f"registry {name} already exists")
    require_healthy(registry)  # network I/O: no transaction held
    try:
        with ctx.emulator.store.tx() as tx:
            registry["id"] = tx.next_id("registry")
            tx.insert("registry", registry["id"], registry, name=name, unique=[f"name:{name}"])
    except Duplicate:
        raise conflict(f"registry {name} already exists") from None
    return created(f"/registries/{registry['id']}")


def registry_fields():
    return query.fields("name", "type", "url", "id", "creation_time", "update_time")


@route("/registries")
def list_registries(ctx):
    ctx.principal.require_system("registry", "list")
    registries = ctx.tx.list("registry")
    name = ctx.args.get("name")
    if name:  # deprecated `name` is a fuzzy match in Harbor
        registries = [r for r in registries if name in r["name"]]
    page, headers = query.listing(ctx.request, registries, registry_fields())
    return json_response([view(r) for r in page], headers=headers)


@route("/registries/<registry_id>")
def get(ctx, registry_id):
    ctx.principal.require_system("registry", "read")
    return view(get_registry(ctx.tx, ctx.int_id(registry_id, "id")))


@route("/registries/<registry_id>", methods=["PUT"], tx=False)
def update(ctx, registry_id):
    ctx.principal.require_system("registry", "update")
    oid = ctx.int_id(registry_id, "id")
    body = ctx.body()
    with ctx.emulator.store.tx() as tx:
        registry = dict(get_registry(tx, oid))
    if body.has("name"):
        registry["name"] = check_name(body.str("name"))
    if body.has("description"):
        registry["description"] = body.str("description")
    apply_flat_fields(registry, body)
    require_healthy(registry)
    registry["status"] = "healthy"
    registry["update_time"] = timeutil.now()
    try:
        with ctx.emulator.store.tx() as tx:
            if tx.get("registry", oid) is None:
                raise not_found(f"registry {oid} not found")
            tx.update("registry", oid, registry, name=registry["name"], unique=[f"name:{registry['name']}"])
    except Duplicate:
        raise conflict(f"registry {registry['name']} already exists") from None


def apply_flat_fields(registry, body):
    """The flat RegistryUpdate fields shared by PUT /registries/{id} and POST /registries/ping."""
    credential = dict(registry.get("credential") or {})
    if body.has("url"):
        registry["url"] = normalise_url(body.str("url"))
    if body.has("insecure"):
        registry["insecure"] = body.bool("insecure")
    if body.has("credential_type"):
        credential["type"] = check_credential_type(body.str("credential_type"))
    if body.has("access_key"):
        credential["access_key"] = body.str("access_key")
    if body.has("access_secret"):
        credential["access_secret"] = body.str("access_secret")
    body.str("ca_certificate", default=None)  # type-checked, not used by the lab
    registry["credential"] = credential


@route("/registries/<registry_id>", methods=["DELETE"])
def delete(ctx, registry_id):
    ctx.principal.require_system("registry", "delete")
    oid = ctx.int_id(registry_id, "id")
    get_registry(ctx.tx, oid)
    reason = users_of(ctx.tx, oid)
    if reason:
        raise precondition(reason)
    ctx.tx.delete("registry", oid)


@route("/registries/ping", methods=["POST"], tx=False)
def ping(ctx):
    ctx.principal.require_system("registry", "read")
    body = ctx.body()
    registry = {"type": "", "url": "", "credential": {}, "insecure": False}
    if body.has("id"):
        with ctx.emulator.store.tx() as tx:
            registry = dict(get_registry(tx, body.int("id")))
    if body.has("type"):
        registry["type"] = body.str("type")
    apply_flat_fields(registry, body)
    if not registry["type"] or not registry["url"]:
        raise bad_request("type or url cannot be empty")
    check_type(registry["type"])
    require_healthy(registry)


# -- capabilities -------------------------------------------------------------------------------
_NAME_TAG_FILTERS = [{"type": "name", "style": "input"}, {"type": "tag", "style": "input"}]


def info_of(registry_type, local=False):
    filters = [dict(f) for f in _NAME_TAG_FILTERS]
    resources = ["image"]
    if registry_type == "harbor":
        filters.append({"type": "label", "style": "list"})
        resources = ["image", "artifact"]
    filters.append({"type": "resource", "style": "radio", "values": resources})
    triggers = ["manual", "scheduled"] + (["event_based"] if local else [])
    return {"type": registry_type, "description": "", "supported_resource_filters": filters,
            "supported_triggers": triggers, "supported_copy_by_chunk": registry_type == "harbor"}


@route("/registries/<registry_id>/info")
def info(ctx, registry_id):
    ctx.principal.require_system("registry", "read")
    if registry_id == "0":  # the local Harbor: the only side that supports event-based triggers
        return info_of("harbor", local=True)
    registry = get_registry(ctx.tx, ctx.int_id(registry_id, "id"))
    return info_of(registry["type"])


@route("/replication/adapters")
def adapters(ctx):
    ctx.principal.require_system("replication-adapter", "list")
    return sorted(TYPES)


def _fixed(url):
    return {"endpoint_type": "EndpointPatternTypeFix", "endpoints": [{"key": urlsplit(url).netloc, "value": url}]}


def _listed(urls):
    return {"endpoint_type": "EndpointPatternTypeList",
            "endpoints": [{"key": urlsplit(u).netloc, "value": u} for u in urls]}


ADAPTER_INFOS = {
    "docker-hub": {"endpoint_pattern": _fixed("https://hub.docker.com")},
    "github-ghcr": {"endpoint_pattern": _fixed("https://ghcr.io")},
    "google-gcr": {
        "endpoint_pattern": _listed([f"https://{host}" for host in ("gcr.io", "us.gcr.io", "eu.gcr.io",
                                                                      "asia.gcr.io")]),
        "credential_pattern": {"access_key_type": "AccessKeyTypeFix", "access_key_data": "_json_key",
                               "access_secret_type": "AccessSecretTypeFile", "access_secret_data": "No Change"}},
    "aws-ecr": {"endpoint_pattern": _listed([f"https://api.ecr.{region}.amazonaws.com" for region in (
        "us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1",
        "ap-southeast-1")])},
    "ali-acr": {"endpoint_pattern": _listed([f"https://registry.{region}.aliyuncs.com" for region in (
        "cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-shenzhen")])},
    "huawei-SWR": {"endpoint_pattern": _listed([f"https://swr.{region}.myhuaweicloud.com" for region in (
        "cn-north-1", "cn-east-2", "ap-southeast-1")])},
    "tencent-tcr": {"endpoint_pattern": _listed([f"https://tcr.{region}.tencentcloudcr.com" for region in (
        "ap-guangzhou", "ap-shanghai", "ap-beijing")])},
}


@route("/replication/adapterinfos")
def adapter_infos(ctx):
    ctx.principal.require_system("replication-adapter", "list")
    return ADAPTER_INFOS
