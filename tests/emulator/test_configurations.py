"""System configuration as Harbor's /configurations and /systeminfo treat it."""

import pytest

from tests.conftest import Client

SECRETS = {"ldap_search_password": "LdapS3cret!", "oidc_client_secret": "OidcS3cret!",
           "uaa_client_secret": "UaaS3cret!"}


def error(response, status, code, message=None):
    assert response.status_code == status, response.text
    first = response.json()["errors"][0]
    assert first["code"] == code
    if message is not None:
        assert first["message"] == message
    return first["message"]


def config(admin):
    response = admin.get("/configurations")
    assert response.status_code == 200
    return response.json()


def test_shape_is_value_and_editable(admin):
    body = config(admin)
    assert body["auth_mode"] == {"value": "db_auth", "editable": True}
    assert body["read_only"] == {"value": False, "editable": True}
    assert body["token_expiration"] == {"value": 30, "editable": True}
    assert body["project_creation_restriction"]["value"] == "everyone"
    for key, item in body.items():
        if key != "scan_all_policy":
            assert set(item) == {"value", "editable"}, key


def test_secrets_are_never_returned(admin):
    assert all(key not in config(admin) for key in SECRETS)
    assert admin.put("/configurations", json=SECRETS).status_code == 200
    response = admin.get("/configurations")
    assert all(key not in response.json() for key in SECRETS)
    assert all(secret not in response.text for secret in SECRETS.values())


def test_put_is_partial(admin):
    before = config(admin)
    assert admin.put("/configurations", json={"token_expiration": 45, "banner_message": "hi"}).status_code == 200
    after = config(admin)
    assert after["token_expiration"]["value"] == 45 and after["banner_message"]["value"] == "hi"
    changed = {"token_expiration", "banner_message"}
    assert {k: v for k, v in after.items() if k not in changed} == {k: v for k, v in before.items()
                                                                    if k not in changed}
    assert admin.put("/configurations", json={}).status_code == 200
    assert config(admin) == after


def test_unknown_keys_are_ignored_like_harbor(admin):
    # Harbor decodes the body into its typed Configurations model: unknown keys fall away
    before = config(admin)
    assert admin.put("/configurations", json={"no_such_setting": True}).status_code == 200
    assert config(admin) == before


@pytest.mark.parametrize("body", [
    {"read_only": "true"},
    {"token_expiration": "30"},
    {"token_expiration": 30.5},
    {"token_expiration": True},
    {"auth_mode": 1},
    {"ldap_search_password": 123},
])
def test_wrong_json_type_is_400(admin, body):
    message = error(admin.put("/configurations", json=body), 400, "BAD_REQUEST")
    assert next(iter(body)) in message


@pytest.mark.parametrize("body", [
    {"project_creation_restriction": "nobody"},
    {"auth_mode": "magic_auth"},
    {"token_expiration": 0},
    {"ldap_scope": 3},
])
def test_invalid_values_are_400(admin, body):
    error(admin.put("/configurations", json=body), 400, "BAD_REQUEST")


def test_read_only_round_trip_in_systeminfo(harbor, admin):
    assert admin.get("/systeminfo").json()["read_only"] is False
    assert admin.put("/configurations", json={"read_only": True}).status_code == 200
    assert config(admin)["read_only"]["value"] is True
    assert admin.get("/systeminfo").json()["read_only"] is True
    assert admin.put("/configurations", json={"read_only": False}).status_code == 200
    assert admin.get("/systeminfo").json()["read_only"] is False


def test_systeminfo_for_anonymous_is_the_login_page_subset(harbor, admin):
    anonymous = harbor.anonymous().get("/systeminfo").json()
    assert anonymous["auth_mode"] == "db_auth" and anonymous["self_registration"] is False
    for protected in ("read_only", "external_url", "registry_url", "harbor_version", "project_creation_restriction"):
        assert protected not in anonymous
    full = admin.get("/systeminfo").json()
    assert full["external_url"] == harbor.url and full["harbor_version"]


def test_auth_mode_is_fixed_once_users_exist(admin):
    assert admin.put("/configurations", json={"auth_mode": "oidc_auth"}).status_code == 200
    assert admin.put("/configurations", json={"auth_mode": "db_auth"}).status_code == 200
    uid = admin.create_user("blocker")
    assert config(admin)["auth_mode"] == {"value": "db_auth", "editable": False}
    error(admin.put("/configurations", json={"auth_mode": "ldap_auth"}), 400, "BAD_REQUEST",
          "the auth mode cannot be modified as new users have been inserted into database")
    assert admin.put("/configurations", json={"auth_mode": "db_auth"}).status_code == 200  # unchanged is fine
    # deleted users do not count
    assert admin.delete(f"/users/{uid}").status_code == 200
    assert config(admin)["auth_mode"]["editable"] is True
    assert admin.put("/configurations", json={"auth_mode": "ldap_auth"}).status_code == 200


def test_adminonly_project_creation(harbor, admin):
    admin.create_user("builder")
    builder = Client(harbor.url, auth=("builder", "Passw0rd!"))
    assert builder.create_project("allowed")
    assert admin.put("/configurations", json={"project_creation_restriction": "adminonly"}).status_code == 200
    assert admin.get("/systeminfo").json()["project_creation_restriction"] == "adminonly"
    error(builder.post("/projects", json={"project_name": "refused"}), 403, "FORBIDDEN",
          "Only system admin can create project")
    assert admin.create_project("by-admin")
    assert admin.put("/configurations", json={"project_creation_restriction": "everyone"}).status_code == 200
    assert builder.create_project("allowed-again")


def test_only_admins_touch_configurations(harbor, admin):
    admin.create_user("nosy")
    nosy = Client(harbor.url, auth=("nosy", "Passw0rd!"))
    error(nosy.get("/configurations"), 403, "FORBIDDEN")
    error(nosy.put("/configurations", json={"read_only": True}), 403, "FORBIDDEN")
    error(harbor.anonymous().get("/configurations"), 401, "UNAUTHORIZED")
    assert config(admin)["read_only"]["value"] is False
