"""Core behaviour of the emulator: errors, ids, pagination, CSRF, projects."""


def test_ping_and_request_id(harbor):
    response = harbor.anonymous().get("/ping")
    assert response.status_code == 200 and response.text == "Pong"
    assert response.headers["X-Request-Id"]


def test_create_returns_201_location_and_empty_body(admin):
    response = admin.post("/projects", json={"project_name": "team-a"})
    assert response.status_code == 201
    assert response.content == b""
    assert response.headers["Location"] == "/api/v2.0/projects/2"


def test_duplicate_project_is_409_with_harbor_error_body(admin):
    admin.create_project("dup")
    response = admin.post("/projects", json={"project_name": "dup"})
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "CONFLICT"


def test_bad_json_and_wrong_types_are_400(admin):
    assert admin.post("/projects", data="{nope", headers={"Content-Type": "application/json"}).status_code == 400
    response = admin.post("/projects", json={"project_name": 42})
    assert response.status_code == 400
    assert "project_name" in response.json()["errors"][0]["message"]
    assert admin.post("/projects", json={"project_name": "Bad_Name"}).status_code == 400
    assert admin.post("/projects", json={"project_name": "x" * 256}).status_code == 400


def test_bad_credentials_are_401_with_challenge(harbor):
    response = harbor.client("admin", "wrong").get("/projects")
    assert response.status_code == 401
    assert "Basic" in response.headers["WWW-Authenticate"]
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_pagination_past_100_follows_link(admin):
    for i in range(120):
        admin.create_project(f"p{i:03d}")
    response = admin.get("/projects", params={"page_size": 100})
    assert response.headers["X-Total-Count"] == "121"
    assert len(response.json()) == 100
    assert 'rel="next"' in response.headers["Link"]
    second = admin.get("/projects", params={"page_size": 100, "page": 2})
    assert len(second.json()) == 21
    assert 'rel="prev"' in second.headers["Link"] and 'rel="next"' not in second.headers["Link"]
    names = {p["name"] for p in response.json() + second.json()}
    assert len(names) == 121
    assert admin.get("/projects", params={"page_size": 101}).status_code == 400
    default = admin.get("/projects")
    assert len(default.json()) == 10


def test_q_exact_and_fuzzy_and_sort(admin):
    for name in ("alpha", "alphabet", "beta"):
        admin.create_project(name)
    exact = admin.get("/projects", params={"q": "name=alpha"}).json()
    assert [p["name"] for p in exact] == ["alpha"]
    fuzzy = admin.get("/projects", params={"q": "name=~alph", "sort": "-name"}).json()
    assert [p["name"] for p in fuzzy] == ["alphabet", "alpha"]
    assert admin.get("/projects", params={"q": "nosuchkey=1"}).status_code == 400


def test_csrf_write_with_sid_cookie_is_refused(harbor):
    import requests

    session = requests.Session()  # a client that keeps cookies
    session.auth = ("admin", "Harbor12345")
    session.get(harbor.url + "/api/v2.0/projects")
    assert "sid" in session.cookies
    response = session.post(harbor.url + "/api/v2.0/projects", json={"project_name": "csrf"})
    assert response.status_code == 403
    assert "CSRF" in response.json()["errors"][0]["message"]
    # cookie-less basic auth writes pass
    assert harbor.client().post("/projects", json={"project_name": "csrf"}).status_code == 201


def test_project_by_name_or_id_and_header(admin):
    pid = admin.create_project("123")
    assert admin.get("/projects/123", headers={"X-Is-Resource-Name": "true"}).json()["project_id"] == pid
    assert admin.get(f"/projects/{pid}").json()["name"] == "123"
    assert admin.head("/projects", params={"project_name": "123"}).status_code == 200
    assert admin.head("/projects", params={"project_name": "nope"}).status_code == 404


def test_metadata_values_are_strings_and_storage_limit_only_on_create(admin):
    pid = admin.create_project("meta", storage_limit=1024)
    project = admin.get(f"/projects/{pid}").json()
    assert project["metadata"]["public"] == "false"
    assert admin.put(f"/projects/{pid}", json={"metadata": {"auto_scan": "true"}}).status_code == 200
    assert admin.get(f"/projects/{pid}").json()["metadata"]["auto_scan"] == "true"
    assert admin.put(f"/projects/{pid}", json={"metadata": {"auto_scan": "maybe"}}).status_code == 400
    quotas = admin.get("/quotas", params={"reference": "project", "reference_id": pid}).json()
    assert quotas[0]["hard"]["storage"] == 1024
    qid = quotas[0]["id"]
    assert admin.put(f"/quotas/{qid}", json={"hard": {"storage": -1}}).status_code == 200
    assert admin.get(f"/quotas/{qid}").json()["hard"]["storage"] == -1
    assert admin.put(f"/quotas/{qid}", json={"hard": {"storage": 0}}).status_code == 400


def test_failed_request_changes_nothing(harbor, admin):
    # member creation fails after validation of an unknown user: no half-written state
    pid = admin.create_project("atomic")
    before = admin.get(f"/projects/{pid}/members").json()
    assert admin.post(f"/projects/{pid}/members", json={"role_id": 2, "member_user": {"username": "ghost"}}).status_code == 404
    assert admin.get(f"/projects/{pid}/members").json() == before


def test_request_log_counts_writes(harbor, admin):
    harbor.reset_request_counts()
    admin.get("/projects")
    admin.create_project("counted")
    counts = harbor.request_counts()
    assert counts["writes"] == 1
    assert counts["by_route"]["POST /api/v2.0/projects"] == 1


def test_q_union_and_range(admin):
    for name in ("alpha", "beta", "gamma"):
        admin.create_project(name)
    union = admin.get("/projects", params={"q": "name={alpha gamma}"}).json()
    assert sorted(p["name"] for p in union) == ["alpha", "gamma"]
    ranged = admin.get("/projects", params={"q": "project_id=[2~3]"}).json()
    assert sorted(p["project_id"] for p in ranged) == [2, 3]
