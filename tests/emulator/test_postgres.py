"""Shared PostgreSQL: several emulator processes on one database behave as one Harbor.

Also: a transaction is all or nothing, on SQLite and on PostgreSQL alike.
"""

import threading

import pytest

from harbor_emulator import web
from harbor_emulator.errors import bad_request
from harbor_emulator.resources import projects
from harbor_emulator.store import Duplicate, Store

from ..conftest import ADMIN, Client, start_harbor
from ..emulator_process import EmulatorProcess
from ..pg import pg_cluster, pg_url  # noqa: F401  (fixtures)


@pytest.fixture
def pair(tmp_path, pg_url):
    """Two emulator processes sharing one fresh PostgreSQL database, started together."""
    nodes = [EmulatorProcess(tmp_path / f"node{i}", db=pg_url) for i in (1, 2)]
    errors = []

    def start(node):
        try:
            node.start()
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(node,)) for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not errors, errors
        yield [Client(node.url, auth=ADMIN) for node in nodes]
    finally:
        for node in nodes:
            node.stop()


def test_write_through_one_is_read_through_the_other(pair):
    one, two = pair
    pid = one.create_project("shared", public=True)
    uid = one.create_user("alice")
    one.add_member(pid, "alice", 2)

    project = two.get(f"/projects/{pid}").json()
    assert project["name"] == "shared" and project["metadata"]["public"] == "true"
    assert two.get("/users", params={"q": "username=alice"}).json()[0]["user_id"] == uid
    members = two.get(f"/projects/{pid}/members", params={"entityname": "alice"}).json()
    assert [(m["entity_name"], m["role_id"]) for m in members] == [("alice", 2)]
    # and back: an update through two is seen by one
    assert two.put(f"/projects/{pid}", json={"metadata": {"public": "false"}}).status_code == 200
    assert one.get(f"/projects/{pid}").json()["metadata"]["public"] == "false"
    # alice's credentials work on both nodes
    for node in pair:
        assert Client(node.base, auth=("alice", "Passw0rd!")).get("/users/current").json()["username"] == "alice"


def test_concurrent_creates_of_one_name_give_one_201_and_one_409(pair):
    for round_ in range(8):
        name = f"race{round_}"
        barrier = threading.Barrier(len(pair))
        statuses = []

        def create(client):
            barrier.wait()
            statuses.append(client.post("/projects", json={"project_name": name}).status_code)

        threads = [threading.Thread(target=create, args=(client,)) for client in pair]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [201, 409], (name, statuses)
        for client in pair:
            found = client.get("/projects", params={"q": f"name={name}"}).json()
            assert len(found) == 1


def test_ids_are_consistent_across_nodes(pair):
    one, two = pair
    ids = [(one if i % 2 else two).create_project(f"ids{i}") for i in range(6)]
    assert len(set(ids)) == 6 and ids == sorted(ids)
    for pid, i in zip(ids, range(6)):
        assert one.get(f"/projects/{pid}").json()["name"] == f"ids{i}"
        assert two.get(f"/projects/{pid}").json()["name"] == f"ids{i}"
    quota_ids = {client.get("/quotas", params={"reference": "project", "reference_id": ids[0]}).json()[0]["id"]
                 for client in pair}
    assert len(quota_ids) == 1


def test_admin_bootstrap_happens_once(pair):
    for client in pair:
        users = client.get("/users", params={"page_size": 100}).json()
        assert [(u["user_id"], u["username"]) for u in users] == [(1, "admin")]
        libraries = client.get("/projects", params={"q": "name=library"}).json()
        assert [p["project_id"] for p in libraries] == [1]


# -- all or nothing -------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return "sqlite:///" + str(tmp_path / "harbor.db")
    return request.getfixturevalue("pg_url")


def test_store_transaction_rolls_back_everything(store_url):
    store = Store(store_url)
    try:
        with pytest.raises(RuntimeError):
            with store.tx() as tx:
                oid = tx.next_id("widget")
                tx.insert("widget", oid, {"n": 1}, name="w", unique=["name:w"])
                raise RuntimeError("midway")
        with store.tx() as tx:
            assert tx.list("widget") == []
            assert tx.get_by_name("widget", "w") is None
            assert tx.next_id("widget") == 1  # the counter rolled back too
            tx.insert("widget", 1, {"n": 1}, name="w", unique=["name:w"])  # the unique key was released
        with pytest.raises(Duplicate):
            with store.tx() as tx:
                tx.insert("widget", 2, {"n": 2}, name="w", unique=["name:w"])
        with store.tx() as tx:
            assert [doc.oid for doc in tx.list("widget")] == [1]
    finally:
        store.close()


@pytest.fixture
def failing_route():
    """A handler that writes a whole project, then fails: what a bug midway looks like."""

    def create_then_fail(ctx):
        projects.create_project(ctx.tx, ctx.args["name"], ctx.principal, {"public": "false"})
        if ctx.args.get("crash"):
            raise RuntimeError("a bug after the writes")
        raise bad_request("rejected after the writes")

    entry = ("/api/v2.0/projects-fail-midway", ("POST",), create_then_fail, {"tx": True, "auth": True})
    web.ROUTES.append(entry)
    forget_compiled_routes()
    yield
    web.ROUTES.remove(entry)
    forget_compiled_routes()


def forget_compiled_routes():
    """app.py may compile the URL map once per process: make the next emulator see our route."""
    from harbor_emulator import app

    if hasattr(app, "_ROUTING"):
        app._ROUTING = None


def test_request_failing_midway_leaves_nothing(tmp_path, store_url, failing_route):
    harbor = start_harbor(tmp_path / "harbor", db=store_url)
    try:
        admin = harbor.client()
        before = admin.get("/projects").headers["X-Total-Count"]
        rejected = admin.post(harbor.url + "/api/v2.0/projects-fail-midway", params={"name": "half"})
        assert rejected.status_code == 400
        crashed = admin.post(harbor.url + "/api/v2.0/projects-fail-midway", params={"name": "half", "crash": "1"})
        assert crashed.status_code == 500
        assert crashed.json()["errors"][0] == {"code": "UNKNOWN", "message": "internal server error"}
        assert admin.get("/projects").headers["X-Total-Count"] == before
        assert admin.head("/projects", params={"project_name": "half"}).status_code == 404
        assert admin.get("/quotas", params={"reference": "project"}).headers["X-Total-Count"] == before
        # the name, the quota and the owner's membership were never committed: creating it works
        pid = admin.create_project("half")
        assert admin.get(f"/projects/{pid}/members").json()[0]["entity_name"] == "admin"
    finally:
        harbor.server.stop()
        harbor.emulator.store.close()


# -- listings paged in the database -----------------------------------------------------------------
def test_paged_listings_match_the_filtered_path_on_both_databases(store_url, tmp_path):
    """GET /users and GET /projects without filters page in SQL (only that page decoded); with a
    filter they go through the in-memory path. Both must give the same objects in the same order,
    soft-deleted users left out, on SQLite and PostgreSQL alike."""
    harbor = start_harbor(tmp_path / "paged", db=None if store_url.startswith("sqlite") else store_url)
    try:
        client = Client(harbor.url, auth=ADMIN)
        for i in (3, 1, 4, 0, 2, 9, 8):
            client.create_user(f"pager{i}")
        for name in ("zeta", "alpha", "mid-1", "mid_2", "Upper", "mid.3", "beta"):
            assert client.post("/projects", json={"project_name": name.lower()}).status_code == 201
        doomed = [u for u in client.get("/users", params={"page_size": 0}).json() if u["username"] in ("pager4", "pager0")]
        for user in doomed:
            assert client.delete(f"/users/{user['user_id']}").status_code == 200

        def pages(path, extra):
            seen, headers = [], []
            for page in (1, 2, 3, 4):
                response = client.get(path, params=dict(extra, page=page, page_size=3))
                seen.extend(response.json())
                headers.append((response.headers["X-Total-Count"], 'rel="next"' in response.headers.get("Link", "")))
            return seen, headers

        fast_users, fast_headers = pages("/users", {})
        slow_users, slow_headers = pages("/users", {"q": "username=~"})
        assert [u["username"] for u in fast_users] == [u["username"] for u in slow_users] == [
            "admin", "pager3", "pager1", "pager2", "pager9", "pager8"]
        assert fast_headers == slow_headers == [("6", True), ("6", False), ("6", False), ("6", False)]
        assert [u["username"] for u in client.get("/users", params={"page_size": 0}).json()] == [
            u["username"] for u in fast_users]

        fast_projects, fast_headers = pages("/projects", {})
        slow_projects, slow_headers = pages("/projects", {"q": "name=~"})
        names = [p["name"] for p in fast_projects]
        assert names == [p["name"] for p in slow_projects] == sorted(names)  # byte order: '-' < '.' < '_'
        assert names == ["alpha", "beta", "library", "mid-1", "mid.3", "mid_2", "upper", "zeta"]
        assert fast_headers == slow_headers
        assert fast_projects[0] == slow_projects[0]  # the same detailed view
    finally:
        harbor.server.stop()
