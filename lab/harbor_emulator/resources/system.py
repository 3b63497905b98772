"""ping, health, systeminfo and configurations (GET {key:{value,editable}} without secrets; PUT partial)."""

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
    cfg = load(ctx.tx)
    settings = ctx.emulator.settings
    info = {
        "auth_mode": cfg["auth_mode"], "primary_auth_mode": cfg["primary_auth_mode"],
        "self_registration": cfg["self_registration"], "banner_message": cfg["banner_message"],
        "current_time": timeutil.now(), "external_url": settings.external_url,
        "registry_url": settings.external_url.split("://", 1)[-1],
        "read_only": cfg["read_only"],
    }
    if not ctx.principal.anonymous:
        info.update(project_creation_restriction=cfg["project_creation_restriction"],
                    has_ca_root=False, harbor_version=HARBOR_VERSION,
                    registry_storage_provider_name="filesystem", notification_enable=cfg["notification_enable"],
                    with_chartmuseum=False)
    return info


@route("/systeminfo/volumes")
def volumes(ctx):
    ctx.principal.require_sysadmin()
    total, free = ctx.emulator.disk_usage()
    return {"storage": [{"total": total, "free": free}]}


@route("/configurations")
def get_configurations(ctx):
    ctx.principal.require_sysadmin()
    cfg = load(ctx.tx)
    out = {key: {"value": cfg[key], "editable": True} for key in CONFIG}
    out["scan_all_policy"] = {"type": "none"}
    return out


@route("/configurations", methods=["PUT"])
def put_configurations(ctx):
    ctx.principal.require_sysadmin()
    body = ctx.body()
    changes = {}
    for key, raw in body.data.items():
        if key in CONFIG:
            expected = CONFIG[key][0]
        elif key in SECRETS:
            expected = SECRETS[key]
        else:
            raise bad_request(f"invalid configuration key: {key}")
        if type(raw) is not expected and not (expected is int and type(raw) is float and raw.is_integer()):
            names = {str: "string", int: "integer", bool: "boolean"}
            raise bad_request(f"the type of {key} must be {names[expected]}")
        changes[key] = int(raw) if expected is int else raw
    if "auth_mode" in changes:
        if changes["auth_mode"] not in AUTH_MODES:
            raise bad_request(f"invalid auth_mode {changes['auth_mode']!r}, must be one of {', '.join(AUTH_MODES)}")
        users = [u for u in ctx.tx.list("user") if not u.get("deleted") and u["user_id"] != 1]
        if changes["auth_mode"] != value(ctx.tx, "auth_mode") and users:
            raise bad_request("auth_mode can not be changed when there are users other than admin")
    if "project_creation_restriction" in changes and changes["project_creation_restriction"] not in ("everyone", "adminonly"):
        raise bad_request("project_creation_restriction must be everyone or adminonly")
    for key in ("token_expiration", "robot_token_duration", "session_timeout"):
        if key in changes and changes[key] <= 0:
            raise bad_request(f"{key} must be a positive integer")
    doc = ctx.tx.get("config", 1)
    if doc is None:
        ctx.tx.insert("config", 1, changes, name="config")
    else:
        doc.update(changes)
        ctx.tx.update("config", 1, dict(doc))
    return empty()
