"""Users as Harbor's user API treats them: profile rules, passwords, soft delete, admin flag."""

import pytest

from tests.conftest import Client, start_harbor

PASSWORD = "Passw0rd!"
PASSWORD_RULE = ("the password or secret must be 8-128, inclusively, characters long with at least 1 uppercase "
                 "letter, 1 lowercase letter and 1 number")


def user_body(name, **overrides):
    body = {"username": name, "password": PASSWORD, "email": f"{name}@example.com", "realname": name}
    body.update(overrides)
    return body


def error(response, status, code, message=None):
    assert response.status_code == status, response.text
    first = response.json()["errors"][0]
    assert first["code"] == code
    if message is not None:
        assert first["message"] == message
    return first["message"]


def login(harbor, name, password=PASSWORD):
    return Client(harbor.url, auth=(name, password))


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One emulator for the rule tables below (each case only adds uniquely named users)."""
    harbor = start_harbor(tmp_path_factory.mktemp("users"))
    yield harbor
    harbor.server.stop()


# -- profile rules ---------------------------------------------------------------------------------
@pytest.mark.parametrize("password", [
    "Sh0rtpw",  # 7 characters
    "Ab1" + "x" * 126,  # 129 characters
    "alllower1", "ALLUPPER1", "NoDigitsHere",
])
def test_password_rules(shared, password):
    error(shared.client().post("/users", json=user_body("pw", password=password)), 400, "BAD_REQUEST", PASSWORD_RULE)


@pytest.mark.parametrize("password", ["Abcdef12", "Ab1" + "x" * 125])
def test_password_length_bounds_are_inclusive(shared, password):
    name = f"edge{len(password)}"
    assert shared.client().post("/users", json=user_body(name, password=password)).status_code == 201
    assert login(shared, name, password).get("/users/current").status_code == 200


@pytest.mark.parametrize("overrides, message", [
    ({"email": ""}, "email can't be empty"),
    ({"email": None}, "email can't be empty"),
    ({"email": "not-an-address"}, "email with illegal format"),
    ({"email": "a@b"}, "email with illegal format"),
    ({"realname": ""}, "realname with illegal length"),
    ({"realname": "r" * 256}, "realname with illegal length"),
    ({"realname": "a,b"}, "realname contains illegal characters"),
    ({"comment": "c" * 31}, "comment with illegal length"),
    ({"username": "bad#name"}, "username contains illegal characters"),
    ({"username": "bad$name"}, "username contains illegal characters"),
    ({"username": ""}, "username with illegal length"),
])
def test_profile_rules(shared, overrides, message):
    error(shared.client().post("/users", json=user_body("rules", **overrides)), 400, "BAD_REQUEST", message)


def test_profile_limits_that_pass(admin):
    uid = admin.create("/users", user_body("limits", realname="r" * 255, comment="c" * 30))
    user = admin.get(f"/users/{uid}").json()
    assert user["realname"] == "r" * 255 and user["comment"] == "c" * 30


def test_over_long_username_and_wrong_types_are_400(admin):
    error(admin.post("/users", json=user_body("u" * 256)), 400, "BAD_REQUEST")
    error(admin.post("/users", json=user_body("typed", realname=5)), 400, "BAD_REQUEST")


def test_duplicate_username_or_email_is_409(admin):
    admin.create("/users", user_body("dup"))
    message = error(admin.post("/users", json=user_body("dup", email="other@example.com")), 409, "CONFLICT")
    assert message == "user dup or email other@example.com already exists"
    error(admin.post("/users", json=user_body("dup2", email="dup@example.com")), 409, "CONFLICT")


def test_first_user_gets_id_3_like_harbor(admin):
    # Harbor's schema ships admin (1) and a deleted `anonymous` (2)
    assert admin.create_user("first") == 3


# -- reading -------------------------------------------------------------------------------------------
def test_passwords_are_never_returned(harbor, admin):
    uid = admin.create_user("secretive")
    own = login(harbor, "secretive")
    responses = [admin.get(f"/users/{uid}"), admin.get("/users"), own.get("/users/current"),
                 admin.get("/users/search", params={"username": "secret"})]
    for response in responses:
        assert response.status_code == 200
        assert "password" not in response.text and PASSWORD not in response.text
    assert set(admin.get(f"/users/{uid}").json()) == {"user_id", "username", "email", "realname", "comment",
                                                        "sysadmin_flag", "admin_role_in_auth", "creation_time",
                                                        "update_time"}


def test_users_read_only_themselves_unless_admin(harbor, admin):
    alice = admin.create_user("alice")
    bob = admin.create_user("bob")
    client = login(harbor, "alice")
    assert client.get(f"/users/{alice}").json()["username"] == "alice"
    error(client.get(f"/users/{bob}"), 403, "FORBIDDEN")
    error(harbor.anonymous().get(f"/users/{alice}"), 401, "UNAUTHORIZED")
    error(admin.get("/users/999"), 404, "NOT_FOUND")


def test_current_user(harbor, admin):
    admin.create_user("me")
    assert admin.get("/users/current").json()["username"] == "admin"
    body = login(harbor, "me").get("/users/current").json()
    assert body["username"] == "me" and body["sysadmin_flag"] is False
    error(harbor.anonymous().get("/users/current"), 401, "UNAUTHORIZED")


def test_search_is_fuzzy_and_for_any_logged_in_user(harbor, admin):
    for name in ("search-one", "search-two", "other"):
        admin.create_user(name)
    found = login(harbor, "other").get("/users/search", params={"username": "search"})
    assert found.headers["X-Total-Count"] == "2"
    assert sorted(u["username"] for u in found.json()) == ["search-one", "search-two"]
    assert all(set(u) == {"user_id", "username"} for u in found.json())
    error(admin.get("/users/search"), 400, "BAD_REQUEST")
    error(harbor.anonymous().get("/users/search", params={"username": "x"}), 401, "UNAUTHORIZED")


def test_list_with_q_sort_and_pagination_past_100(admin):
    for i in range(105):
        admin.create_user(f"user{i:03d}")
    first = admin.get("/users", params={"page_size": 100})
    assert first.headers["X-Total-Count"] == "106"  # with admin
    assert len(first.json()) == 100 and 'rel="next"' in first.headers["Link"]
    second = admin.get("/users", params={"page_size": 100, "page": 2})
    assert len(second.json()) == 6 and 'rel="next"' not in second.headers.get("Link", "")
    assert len({u["username"] for u in first.json() + second.json()}) == 106
    assert len(admin.get("/users").json()) == 10
    exact = admin.get("/users", params={"q": "username=user007"}).json()
    assert [u["username"] for u in exact] == ["user007"]
    fuzzy = admin.get("/users", params={"q": "username=~user10", "sort": "-username"}).json()
    assert [u["username"] for u in fuzzy] == ["user104", "user103", "user102", "user101", "user100"]
    error(admin.get("/users", params={"page_size": 101}), 400, "BAD_REQUEST")


# -- updates ---------------------------------------------------------------------------------------------
def test_profile_put_replaces_email_realname_and_comment(harbor, admin):
    uid = admin.create_user("profile")
    own = login(harbor, "profile")
    assert own.put(f"/users/{uid}", json={"email": "new@example.com", "realname": "New", "comment": "hi"}
                   ).status_code == 200
    user = admin.get(f"/users/{uid}").json()
    assert (user["email"], user["realname"], user["comment"]) == ("new@example.com", "New", "hi")
    # Harbor validates the whole profile on PUT: a partial body is refused
    error(own.put(f"/users/{uid}", json={"comment": "only"}), 400, "BAD_REQUEST", "email can't be empty")
    error(own.put(f"/users/{uid}", json={"email": "new@example.com"}), 400, "BAD_REQUEST",
          "realname with illegal length")
    other = admin.create_user("other")
    error(own.put(f"/users/{other}", json={"email": "x@example.com", "realname": "x"}), 403, "FORBIDDEN")
    error(admin.put(f"/users/{other}", json={"email": "new@example.com", "realname": "x"}), 409, "CONFLICT")


def test_changing_to_the_current_password_is_refused(harbor, admin):
    uid = admin.create_user("pw")
    own = login(harbor, "pw")
    response = own.put(f"/users/{uid}/password", json={"old_password": PASSWORD, "new_password": PASSWORD})
    error(response, 400, "BAD_REQUEST", "New password is identical to old password")


def test_own_password_change_needs_the_old_password(harbor, admin):
    uid = admin.create_user("pw")
    own = login(harbor, "pw")
    wrong = own.put(f"/users/{uid}/password", json={"old_password": "Wrong0ne!", "new_password": "N3wPassword"})
    error(wrong, 403, "FORBIDDEN", "Current password is incorrect")
    missing = own.put(f"/users/{uid}/password", json={"new_password": "N3wPassword"})
    error(missing, 403, "FORBIDDEN", "Current password is incorrect")
    weak = own.put(f"/users/{uid}/password", json={"old_password": PASSWORD, "new_password": "weak"})
    error(weak, 400, "BAD_REQUEST", PASSWORD_RULE)
    ok = own.put(f"/users/{uid}/password", json={"old_password": PASSWORD, "new_password": "N3wPassword"})
    assert ok.status_code == 200
    assert login(harbor, "pw", "N3wPassword").get("/users/current").status_code == 200
    error(login(harbor, "pw").get("/users/current"), 401, "UNAUTHORIZED")


def test_admin_sets_another_users_password_without_the_old_one(harbor, admin):
    uid = admin.create_user("forgetful")
    assert admin.put(f"/users/{uid}/password", json={"new_password": "Res3tByAdmin"}).status_code == 200
    assert login(harbor, "forgetful", "Res3tByAdmin").get("/users/current").status_code == 200
    # the comparison is with the target user's password, not the admin's
    same = admin.put(f"/users/{uid}/password", json={"new_password": "Res3tByAdmin"})
    error(same, 400, "BAD_REQUEST", "New password is identical to old password")
    other = admin.create_user("bystander")
    error(login(harbor, "bystander").put(f"/users/{uid}/password", json={"new_password": "Hack3dPass"}),
          403, "FORBIDDEN")
    assert other


# -- delete ----------------------------------------------------------------------------------------------
def test_soft_delete_frees_the_name_and_email(harbor, admin):
    first = admin.create_user("gone")
    assert admin.delete(f"/users/{first}").status_code == 200
    error(admin.get(f"/users/{first}"), 404, "NOT_FOUND")
    error(login(harbor, "gone").get("/users/current"), 401, "UNAUTHORIZED")
    error(login(harbor, f"gone#{first}").get("/users/current"), 401, "UNAUTHORIZED")
    assert "gone" not in {u["username"] for u in admin.get("/users", params={"page_size": 100}).json()}
    second = admin.create_user("gone")  # same name and e-mail again
    assert second != first
    assert admin.get(f"/users/{second}").json()["email"] == "gone@example.com"
    assert login(harbor, "gone").get("/users/current").json()["user_id"] == second
    error(admin.delete(f"/users/{first}"), 404, "NOT_FOUND")


def test_who_cannot_be_deleted(harbor, admin):
    error(admin.delete("/users/1"), 403, "FORBIDDEN", "User with ID 1 cannot be deleted")
    sid = admin.create_user("second-admin", sysadmin=True)
    other_admin = login(harbor, "second-admin")
    error(other_admin.delete(f"/users/{sid}"), 403, "FORBIDDEN", f"User with ID {sid} cannot be deleted")
    uid = admin.create_user("plain")
    error(login(harbor, "plain").delete(f"/users/{sid}"), 403, "FORBIDDEN")
    assert other_admin.delete(f"/users/{uid}").status_code == 200


# -- admin flag ---------------------------------------------------------------------------------------------
def test_sysadmin_toggle_grants_and_removes_admin_powers(harbor, admin):
    uid = admin.create_user("promoted")
    client = login(harbor, "promoted")
    error(client.get("/users"), 403, "FORBIDDEN")
    assert admin.put(f"/users/{uid}/sysadmin", json={"sysadmin_flag": True}).status_code == 200
    assert admin.get(f"/users/{uid}").json()["sysadmin_flag"] is True
    assert client.get("/users").status_code == 200
    assert client.get("/configurations").status_code == 200
    private = admin.create_project("hidden")
    assert client.get(f"/projects/{private}").status_code == 200
    assert admin.put(f"/users/{uid}/sysadmin", json={"sysadmin_flag": False}).status_code == 200
    error(client.get("/users"), 403, "FORBIDDEN")
    error(client.put(f"/users/{uid}/sysadmin", json={"sysadmin_flag": True}), 403, "FORBIDDEN")
    error(admin.put("/users/999/sysadmin", json={"sysadmin_flag": True}), 404, "NOT_FOUND")


# -- who may create users ------------------------------------------------------------------------------------
def test_self_registration_cannot_be_used_through_the_api(harbor, admin):
    assert admin.put("/configurations", json={"self_registration": True}).status_code == 200
    error(harbor.anonymous().post("/users", json=user_body("selfie")), 403, "FORBIDDEN",
          "self-registration cannot be triggered via API")
    assert admin.post("/users", json=user_body("selfie")).status_code == 201


def test_no_local_users_outside_db_auth(harbor, admin):
    assert admin.put("/configurations", json={"auth_mode": "ldap_auth"}).status_code == 200
    error(admin.post("/users", json=user_body("ldapuser")), 403, "FORBIDDEN",
          "creating local user is not allowed under auth mode: ldap_auth")
