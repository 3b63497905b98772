"""Labels (global and project scope) and project webhook policies."""

import pytest

PASSWORD = "Passw0rd!"


@pytest.fixture
def team(harbor, admin):
    pid = admin.create_project("team")
    for name, role in (("pa", 1), ("maint", 4), ("dev", 2)):
        admin.create_user(name, PASSWORD)
        admin.add_member("team", name, role)
    clients = {name: harbor.client(name, PASSWORD) for name in ("pa", "maint", "dev")}
    clients["pid"] = pid
    return clients


# -- labels ----------------------------------------------------------------------------------
def test_global_label_crud(admin):
    response = admin.post("/labels", json={"name": "prod", "description": "production", "color": "#FF0000",
                                           "scope": "g"})
    assert response.status_code == 201 and response.content == b""
    label_id = int(response.headers["Location"].rsplit("/", 1)[1])
    label = admin.get(f"/labels/{label_id}").json()
    assert label["name"] == "prod" and label["scope"] == "g" and label["project_id"] == 0
    assert label["color"] == "#FF0000" and label["description"] == "production"
    assert admin.put(f"/labels/{label_id}", json={"name": "production", "color": "#00FF00"}).status_code == 200
    label = admin.get(f"/labels/{label_id}").json()
    assert (label["name"], label["color"], label["description"]) == ("production", "#00FF00", "")
    assert admin.delete(f"/labels/{label_id}").status_code == 200
    assert admin.get(f"/labels/{label_id}").status_code == 404
    assert admin.delete(f"/labels/{label_id}").status_code == 404


def test_project_labels_and_uniqueness(admin, team):
    pid = team["pid"]
    other = admin.create_project("other")
    admin.create("/labels", {"name": "qa", "scope": "g"})
    pa = team["pa"]
    pa.create("/labels", {"name": "qa", "scope": "p", "project_id": pid})  # same name, other scope
    admin.create("/labels", {"name": "qa", "scope": "p", "project_id": other})  # same name, other project
    assert pa.post("/labels", json={"name": "qa", "scope": "p", "project_id": pid}).status_code == 409
    assert admin.post("/labels", json={"name": "qa", "scope": "g"}).status_code == 409
    second = pa.create("/labels", {"name": "staging", "scope": "p", "project_id": pid})
    assert pa.put(f"/labels/{second}", json={"name": "qa"}).status_code == 409
    assert pa.put(f"/labels/{second}", json={"name": "staging", "description": "kept"}).status_code == 200
    listed = pa.get("/labels", params={"scope": "p", "project_id": pid}).json()
    assert sorted(label["name"] for label in listed) == ["qa", "staging"]
    assert all(label["project_id"] == pid and label["scope"] == "p" for label in listed)
    globals_ = admin.get("/labels", params={"scope": "g"}).json()
    assert [label["name"] for label in globals_] == ["qa"]


def test_label_list_filters_and_pagination(admin):
    for i in range(12):
        admin.create("/labels", {"name": f"label-{i:02d}", "scope": "g"})
    admin.create("/labels", {"name": "other", "scope": "g"})
    page = admin.get("/labels", params={"scope": "g", "name": "label-"})
    assert page.headers["X-Total-Count"] == "12" and len(page.json()) == 10
    assert 'rel="next"' in page.headers["Link"]
    exact = admin.get("/labels", params={"scope": "g", "q": "name=other"}).json()
    assert [label["name"] for label in exact] == ["other"]
    assert admin.get("/labels").status_code == 400
    assert admin.get("/labels", params={"scope": "x"}).status_code == 400
    assert admin.get("/labels", params={"scope": "p"}).status_code == 400
    assert admin.get("/labels", params={"scope": "p", "project_id": 999}).status_code == 404


def test_label_validation(admin):
    pid = admin.create_project("team")
    bad = [
        {"scope": "g"},
        {"name": "", "scope": "g"},
        {"name": "x" * 129, "scope": "g"},
        {"name": "x", "scope": "global"},
        {"name": "x"},
        {"name": "x", "scope": "p"},
        {"name": "x", "scope": "p", "project_id": 0},
        {"name": 5, "scope": "g"},
        {"name": "x", "scope": "g", "color": 255},
    ]
    for body in bad:
        response = admin.post("/labels", json=body)
        assert response.status_code == 400, (body, response.text)
    assert admin.post("/labels", json={"name": "x", "scope": "p", "project_id": 999}).status_code == 404
    label_id = admin.create("/labels", {"name": "x", "scope": "p", "project_id": pid})
    assert admin.put(f"/labels/{label_id}", json={"name": ""}).status_code == 400
    assert admin.get("/labels/abc").status_code == 400


def test_label_permissions(harbor, admin, team):
    pid = team["pid"]
    assert team["pa"].post("/labels", json={"name": "g1", "scope": "g"}).status_code == 403
    global_id = admin.create("/labels", {"name": "g1", "scope": "g"})
    assert team["dev"].get(f"/labels/{global_id}").status_code == 200  # everyone reads global labels
    assert team["pa"].put(f"/labels/{global_id}", json={"name": "g2"}).status_code == 403
    assert team["pa"].delete(f"/labels/{global_id}").status_code == 403
    assert team["dev"].post("/labels", json={"name": "p1", "scope": "p", "project_id": pid}).status_code == 403
    label_id = team["maint"].create("/labels", {"name": "p1", "scope": "p", "project_id": pid})
    assert team["dev"].get(f"/labels/{label_id}").status_code == 200
    assert team["dev"].get("/labels", params={"scope": "p", "project_id": pid}).status_code == 200
    assert team["dev"].put(f"/labels/{label_id}", json={"name": "p2"}).status_code == 403
    admin.create_user("outsider", PASSWORD)
    outsider = harbor.client("outsider", PASSWORD)
    assert outsider.get(f"/labels/{label_id}").status_code == 403
    assert outsider.get("/labels", params={"scope": "p", "project_id": pid}).status_code == 403
    assert harbor.anonymous().post("/labels", json={"name": "a", "scope": "g"}).status_code == 401
    assert team["maint"].delete(f"/labels/{label_id}").status_code == 200


def test_project_delete_removes_its_labels(admin):
    pid = admin.create_project("team")
    label_id = admin.create("/labels", {"name": "x", "scope": "p", "project_id": pid})
    assert admin.delete(f"/projects/{pid}").status_code == 200
    assert admin.get(f"/labels/{label_id}").status_code == 404


# -- webhooks --------------------------------------------------------------------------------
def webhook(name="notify", event_types=("PUSH_ARTIFACT", "DELETE_ARTIFACT"), **target):
    return {"name": name, "description": "to CI", "enabled": True, "event_types": list(event_types),
            "targets": [{"type": "http", "address": "https://ci.example.com/hook", "auth_header": "Bearer s3cret",
                         "skip_cert_verify": False, "payload_format": "CloudEvents", **target}]}


def test_webhook_policy_crud(admin):
    pid = admin.create_project("team")
    response = admin.post(f"/projects/{pid}/webhook/policies", json=webhook())
    assert response.status_code == 201 and response.content == b""
    policy_id = int(response.headers["Location"].rsplit("/", 1)[1])
    policy = admin.get(f"/projects/{pid}/webhook/policies/{policy_id}").json()
    assert policy["name"] == "notify" and policy["project_id"] == pid and policy["creator"] == "admin"
    assert policy["enabled"] is True and policy["event_types"] == ["PUSH_ARTIFACT", "DELETE_ARTIFACT"]
    assert policy["targets"][0]["auth_header"] == "Bearer s3cret"  # Harbor returns it in clear
    assert policy["targets"][0]["payload_format"] == "CloudEvents"
    update = {**webhook(event_types=["REPLICATION"]), "enabled": False}
    assert admin.put(f"/projects/team/webhook/policies/{policy_id}", json=update,
                     headers={"X-Is-Resource-Name": "true"}).status_code == 200
    policy = admin.get(f"/projects/{pid}/webhook/policies/{policy_id}").json()
    assert policy["event_types"] == ["REPLICATION"] and policy["enabled"] is False
    listed = admin.get(f"/projects/{pid}/webhook/policies")
    assert listed.headers["X-Total-Count"] == "1" and listed.json()[0]["id"] == policy_id
    assert admin.delete(f"/projects/{pid}/webhook/policies/{policy_id}").status_code == 200
    assert admin.get(f"/projects/{pid}/webhook/policies/{policy_id}").status_code == 404


def test_webhook_defaults_and_address_normalisation(admin):
    pid = admin.create_project("team")
    body = {"name": "bare", "event_types": ["PUSH_ARTIFACT"],
            "targets": [{"type": "slack", "address": "hooks.example.com/x?token=1"}]}
    policy_id = admin.create(f"/projects/{pid}/webhook/policies", body)
    policy = admin.get(f"/projects/{pid}/webhook/policies/{policy_id}").json()
    assert policy["enabled"] is False  # Harbor copies the body: omitted means false
    assert policy["targets"][0]["address"] == "http://hooks.example.com/x"
    assert "auth_header" not in policy["targets"][0]


def test_webhook_validation(admin):
    pid = admin.create_project("team")
    bad = [
        {**webhook(), "event_types": []},
        {**webhook(), "event_types": ["EXPLODE"]},
        webhook(event_types=["PUSH_ARTIFACT", 5]),
        {**webhook(), "targets": []},
        webhook(type="email"),
        webhook(address="ftp://x.example.com"),
        webhook(address=""),
        webhook(payload_format="XML"),
        webhook(type="slack", payload_format="CloudEvents"),
        webhook(skip_cert_verify="no"),
        {**webhook(), "name": ""},
        {k: v for k, v in webhook().items() if k != "name"},
        {**webhook(), "enabled": "yes"},
    ]
    for body in bad:
        response = admin.post(f"/projects/{pid}/webhook/policies", json=body)
        assert response.status_code == 400, (body, response.text)
    assert admin.get(f"/projects/{pid}/webhook/policies").json() == []


def test_webhook_name_is_unique_per_project(admin):
    pid = admin.create_project("team")
    other = admin.create_project("other")
    first = admin.create(f"/projects/{pid}/webhook/policies", webhook())
    assert admin.post(f"/projects/{pid}/webhook/policies", json=webhook()).status_code == 409
    assert admin.post(f"/projects/{other}/webhook/policies", json=webhook()).status_code == 201
    second = admin.create(f"/projects/{pid}/webhook/policies", webhook("second"))
    assert admin.put(f"/projects/{pid}/webhook/policies/{second}", json=webhook()).status_code == 409
    assert admin.put(f"/projects/{pid}/webhook/policies/{first}", json=webhook()).status_code == 200
    assert admin.get(f"/projects/{other}/webhook/policies/{first}").status_code == 404
    assert admin.delete(f"/projects/{other}/webhook/policies/{second}").status_code == 404


def test_webhook_events_lasttrigger_and_empty_histories(admin):
    pid = admin.create_project("team")
    events = admin.get(f"/projects/{pid}/webhook/events").json()
    assert "PUSH_ARTIFACT" in events["event_type"] and "http" in events["notify_type"]
    assert {"notify_type": "http", "formats": ["Default", "CloudEvents"]} in events["payload_formats"]
    policy_id = admin.create(f"/projects/{pid}/webhook/policies", webhook())
    last = admin.get(f"/projects/{pid}/webhook/lasttrigger").json()
    assert [(t["policy_name"], t["event_type"]) for t in last] == [("notify", "PUSH_ARTIFACT"),
                                                                   ("notify", "DELETE_ARTIFACT")]
    assert all("last_trigger_time" not in t for t in last)
    executions = admin.get(f"/projects/{pid}/webhook/policies/{policy_id}/executions")
    assert executions.status_code == 200 and executions.json() == [] and executions.headers["X-Total-Count"] == "0"
    jobs = admin.get(f"/projects/{pid}/webhook/jobs", params={"policy_id": policy_id})
    assert jobs.status_code == 200 and jobs.json() == []
    assert admin.get(f"/projects/{pid}/webhook/jobs").status_code == 400
    assert admin.get(f"/projects/{pid}/webhook/jobs", params={"policy_id": 99}).status_code == 404
    assert admin.get(f"/projects/{pid}/webhook/policies/{policy_id}/executions/1/tasks").status_code == 404


def test_webhook_permissions(harbor, admin, team):
    pid = team["pid"]
    assert team["maint"].post(f"/projects/{pid}/webhook/policies", json=webhook()).status_code == 403
    assert team["dev"].get(f"/projects/{pid}/webhook/policies").status_code == 403
    assert team["dev"].get(f"/projects/{pid}/webhook/events").status_code == 403
    policy_id = team["pa"].create(f"/projects/{pid}/webhook/policies", webhook())
    assert team["maint"].get(f"/projects/{pid}/webhook/policies/{policy_id}").status_code == 200
    assert team["maint"].get(f"/projects/{pid}/webhook/policies").status_code == 200
    assert team["maint"].put(f"/projects/{pid}/webhook/policies/{policy_id}", json=webhook()).status_code == 403
    assert team["maint"].delete(f"/projects/{pid}/webhook/policies/{policy_id}").status_code == 403
    assert team["pa"].put(f"/projects/{pid}/webhook/policies/{policy_id}", json=webhook()).status_code == 200
    assert harbor.anonymous().get(f"/projects/{pid}/webhook/policies").status_code == 401
    assert team["pa"].delete(f"/projects/{pid}/webhook/policies/{policy_id}").status_code == 200
