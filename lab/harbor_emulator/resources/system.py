"""ping, health, systeminfo and configurations.

GET /configurations answers {key: {value, editable}} and never shows a secret
(ldap_search_password, oidc_client_secret, uaa_client_secret). PUT takes a partial flat map;
as in Harbor, whose body is a typed model, unknown keys are ignored and a value of the wrong
JSON type is a 400. `auth_mode` changes only while admin is the only user.
"""

from .. import timeutil
from ..errors import bad_request
from ..web import empty, route
from werkzeug.wrappers import Response

HARBOR_VERSION = "v2.15.2-emulator"

# key -> (type, default). Secrets are accepted on PUT and never returned.
CONFIG = {
    "auth_mode": (str, "db_auth"),
    "primary_auth_mode": (bool, False),
    "project_creation_restriction": (str, "everyone"),
    "read_only": (bool, False),
    "self_registration": (bool, False),
    "token_expiration": (int, 30),
    "robot_token_duration": (int, 30),
    "robot_name_prefix": (str, "robot$"),
    "notification_enable": (bool, True),
    "quota_per_project_enable": (bool, True),
    "storage_per_project": (int, -1),
    "audit_log_forward_endpoint": (str, ""),
    "skip_audit_log_database": (bool, False),
    "disabled_audit_log_event_types": (str, ""),
    "scanner_skip_update_pulltime": (bool, False),
    "session_timeout": (int, 60),
    "banner_message": (str, ""),
    "http_authproxy_endpoint": (str, ""), "http_authproxy_tokenreview_endpoint": (str, ""),
    "http_authproxy_admin_groups": (str, ""), "http_authproxy_admin_usernames": (str, ""),
    "http_authproxy_server_certificate": (str, ""), "http_authproxy_skip_search": (bool, False),
    "http_authproxy_verify_cert": (bool, True),
    "ldap_url": (str, ""), "ldap_base_dn": (str, ""), "ldap_filter": (str, ""), "ldap_search_dn": (str, ""),
    "ldap_scope": (int, 2), "ldap_timeout": (int, 5), "ldap_uid": (str, "cn"), "ldap_verify_cert": (bool, True),
    "ldap_group_admin_dn": (str, ""), "ldap_group_attach_parallel": (bool, False),
    "ldap_group_attribute_name": (str, ""), "ldap_group_base_dn": (str, ""),
    "ldap_group_membership_attribute": (str, "memberof"), "ldap_group_search_filter": (str, ""),
    "ldap_group_search_scope": (int, 2),
    "oidc_admin_group": (str, ""), "oidc_auto_onboard": (bool, False), "oidc_client_id": (str, ""),
    "oidc_endpoint": (str, ""), "oidc_extra_redirect_parms": (str, "{}"), "oidc_group_filter": (str, ""),
    "oidc_groups_claim": (str, ""), "oidc_logout": (bool, False), "oidc_name": (str, ""),
    "oidc_scope": (str, ""), "oidc_user_claim": (str, ""), "oidc_verify_cert": (bool, True),
    "uaa_client_id": (str, ""), "uaa_endpoint": (str, ""), "uaa_verify_cert": (bool, False),
}
SECRETS = {"ldap_search_password": str, "oidc_client_secret": str, "uaa_client_secret": str}
AUTH_MODES = ("db_auth", "ldap_auth", "uaa_auth", "http_auth", "oidc_auth")


def load(tx):
    doc = tx.get("config", 1)
    values = {key: default for key, (_, default) in CONFIG.items()}
    if doc:
        values.update(doc)
    return values


def value(tx, key):
    return load(tx)[key]


@route("/ping", auth=False)
def ping(ctx):
    return Response("Pong", mimetype="text/plain")


@route("/health", auth=False)
def health(ctx):
    components = [{"name": name, "status": "healthy"} for name in ("core", "database", "jobservice", "portal", "redis")]
    registry_ok = ctx.emulator.registry_healthy()
    component = {"name": "registry", "status": "healthy" if registry_ok else "unhealthy"}
    if not registry_ok:
        component["error"] = "the registry is not reachable"
    components.append(component)
    return {"status": "healthy" if registry_ok else "unhealthy", "components": components}


@route("/systeminfo")
def systeminfo(ctx):
    """Anonymous callers get the login page's facts; the rest is Harbor's "protected" info."""
    cfg = load(ctx.tx)
    info = {"auth_mode": cfg["auth_mode"], "primary_auth_mode": cfg["primary_auth_mode"],
            "self_registration": cfg["self_registration"], "banner_message": cfg["banner_message"]}
    if cfg["auth_mode"] == "oidc_auth":
        info["oidc_provider_name"] = cfg["oidc_name"]
    if ctx.principal.anonymous:
        return info
    external_url = ctx.emulator.settings.external_url
    info.update(current_time=timeutil.now(), external_url=external_url,
                registry_url=external_url.split("://", 1)[-1], read_only=cfg["read_only"],
                project_creation_restriction=cfg["project_creation_restriction"], has_ca_root=False,
                harbor_version=HARBOR_VERSION, registry_storage_provider_name="filesystem",
                notification_enable=cfg["notification_enable"])
    return info


@route("/systeminfo/volumes")
def volumes(ctx):
    ctx.principal.require_sysadmin()
    total, free = ctx.emulator.disk_usage()
    return {"storage": [{"total": total, "free": free}]}


def auth_mode_changeable(tx):
    """Harbor allows switching the auth mode only while admin is the only (undeleted) user."""
    return not any(u["user_id"] != 1 and not u.get("deleted") for u in tx.list("user"))


@route("/configurations")
def get_configurations(ctx):
    ctx.principal.require_system("configuration", "read")
    cfg = load(ctx.tx)
    out = {key: {"value": cfg[key], "editable": True} for key in CONFIG}  # secrets are never shown
    out["auth_mode"]["editable"] = auth_mode_changeable(ctx.tx)
    out["scan_all_policy"] = {"type": "none"}
    return out


GO_TYPES = {str: "string", int: "int64", bool: "bool"}


def typed_changes(data):
    """The known keys of a Configurations body. Like Harbor's JSON decoding, unknown keys and
    nulls are dropped and a value of the wrong JSON type is a 400."""
    changes = {}
    for key, raw in data.items():
        expected = CONFIG[key][0] if key in CONFIG else SECRETS.get(key)
        if expected is None or raw is None:
            continue
        if type(raw) is not expected:
            raise bad_request(f"parsing configurations body from \"\" failed, because json: cannot unmarshal "
                              f"{_json_kind(raw)} into Go struct field Configurations.{key} "
                              f"of type {GO_TYPES[expected]}")
        changes[key] = raw
    return changes


def _json_kind(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "value")


def validate_values(tx, changes):
    if "auth_mode" in changes:
        if changes["auth_mode"] not in AUTH_MODES:
            raise bad_request(f"invalid auth mode: {changes['auth_mode']}, item name: auth_mode")
        if changes["auth_mode"] != value(tx, "auth_mode") and not auth_mode_changeable(tx):
            raise bad_request("the auth mode cannot be modified as new users have been inserted into database")
    if changes.get("project_creation_restriction", "everyone") not in ("everyone", "adminonly"):
        raise bad_request("invalid project_creation_restriction, should be everyone or adminonly, "
                          "item name: project_creation_restriction")
    for key in ("ldap_scope", "ldap_group_search_scope"):
        if changes.get(key, 0) not in (0, 1, 2):
            raise bad_request(f"invalid scope {changes[key]}, should be 0, 1 or 2, item name: {key}")
    for key in ("token_expiration", "robot_token_duration", "session_timeout"):
        if key in changes and changes[key] <= 0:
            raise bad_request(f"{key} must be a positive integer, item name: {key}")


@route("/configurations", methods=["PUT"])
def put_configurations(ctx):
    ctx.principal.require_system("configuration", "update")
    changes = typed_changes(ctx.body().data)
    validate_values(ctx.tx, changes)
    doc = ctx.tx.get("config", 1)
    if doc is None:
        ctx.tx.insert("config", 1, changes, name="config")
    else:
        doc.update(changes)
        ctx.tx.update("config", 1, dict(doc))
    return empty()
