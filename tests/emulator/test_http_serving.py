"""The emulator's HTTP layer: its own reading of request heads (http.server's rules, without the
e-mail parser), keep-alive, the remembered routes, and robots listed per project."""

import base64
import json
import socket
import time

from harbor_emulator.server import _http_date, build

from ..conftest import start_harbor

AUTH = "Basic " + base64.b64encode(b"admin:Harbor12345").decode()


def exchange(harbor, raw, until_closed=False, timeout=5):
    """Send raw bytes on a new connection; return what came back (all of it when the server closes)."""
    with socket.create_connection(("127.0.0.1", harbor.server.port), timeout=timeout) as sock:
        sock.sendall(raw)
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                break
            if not data:
                return received, True
            received += data
            if not until_closed and _complete(received):
                break
        return received, False


def _complete(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return True


def status_of(response):
    """The status code; an error answered before the request's version was known comes, as
    http.server sends it, without a status line (HTTP/0.9): then the code in its page."""
    if response.startswith(b"HTTP/"):
        return int(response.split(b" ", 2)[1])
    return int(response.split(b"Error code: ", 1)[1][:3])


def headers_of(response):
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in head)}


def test_header_names_are_case_insensitive_and_folded_lines_continue(harbor):
    raw = (f"GET /api/v2.0/users/current HTTP/1.1\r\nhost: x\r\nauthorization: {AUTH}\r\n"
           "X-Folded: one\r\n two\r\n\r\n").encode()
    response, _ = exchange(harbor, raw)
    assert status_of(response) == 200
    assert json.loads(response.split(b"\r\n\r\n", 1)[1])["username"] == "admin"


def test_keep_alive_rules_of_http_1_0_and_connection_close(harbor):
    # HTTP/1.1: the connection stays open after the response
    response, closed = exchange(harbor, b"GET /api/v2.0/ping HTTP/1.1\r\nHost: x\r\n\r\n", timeout=1)
    assert status_of(response) == 200 and not closed and "connection" not in headers_of(response)
    # Connection: close and HTTP/1.0 end the connection after the response, and say so
    for raw in (b"GET /api/v2.0/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                b"GET /api/v2.0/ping HTTP/1.0\r\n\r\n"):
        response, closed = exchange(harbor, raw, until_closed=True)
        assert status_of(response) == 200 and response.endswith(b"Pong") and closed
        assert headers_of(response)["connection"] == "close"
    # HTTP/1.0 asking for keep-alive is kept, as http.server does
    response, closed = exchange(harbor, b"GET /api/v2.0/ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                                timeout=1)
    assert status_of(response) == 200 and not closed


def test_two_requests_in_one_write_get_two_responses(harbor):
    one = b"GET /api/v2.0/ping HTTP/1.1\r\nHost: x\r\n\r\n"
    response, _ = exchange(harbor, one + one.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"),
                           until_closed=True)
    assert response.count(b"HTTP/1.1 200") == 2 and response.count(b"Pong") == 2


def test_malformed_request_heads_are_refused(harbor):
    cases = [
        (b"GET /api/v2.0/ping HTTP/x.1\r\n\r\n", 400),
        (b"GET /api/v2.0/ping HTTP/2.0\r\n\r\n", 505),
        (b"GET /api/v2.0/ping HTTP/1.1 extra\r\n\r\n", 400),
        (b"POST /api/v2.0/ping\r\n\r\n", 400),  # HTTP/0.9 knows GET only
        (b"GET /api/v2.0/ping HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"GET /api/v2.0/ping HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
        (b"GET /api/v2.0/ping HTTP/1.1\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n", 431),
        # http.client's limit, which http.server applies: 100 lines with the closing empty one
        (b"GET /api/v2.0/ping HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(100)) + b"\r\n", 431),
        (b"GET /api/v2.0/ping HTTP/\xb2.1\r\n\r\n", 400),  # a digit to str.isdigit, not to int()
    ]
    ninety_nine = b"GET /api/v2.0/ping HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(99)) + b"\r\n"
    response, _ = exchange(harbor, ninety_nine)
    assert status_of(response) == 200
    for raw, expected in cases:
        response, closed = exchange(harbor, raw, until_closed=True)
        assert status_of(response) == expected, (raw[:60], response[:200])
        assert closed


def test_expect_100_continue_gets_an_interim_answer_before_the_body(harbor):
    body = json.dumps({"project_name": "expecting"}).encode()
    head = (f"POST /api/v2.0/projects HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", harbor.server.port), timeout=5) as sock:
        sock.sendall(head)
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(body)
        received = b""
        while b" 201 " not in received:
            data = sock.recv(65536)
            assert data, received
            received += data
    assert harbor.client().get("/projects/expecting").status_code == 200


def test_a_path_starting_with_two_slashes_is_one_path(harbor):
    response, _ = exchange(harbor, b"GET //api/v2.0/ping HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(response) == 200 and response.endswith(b"Pong")


def test_date_header_is_the_current_second():
    from email.utils import parsedate_to_datetime

    stamp = parsedate_to_datetime(_http_date()).timestamp()
    assert abs(stamp - time.time()) < 2
    assert _http_date().endswith(" GMT")


def test_remembered_routes_answer_like_the_first_time(harbor, admin):
    admin.post("/projects", json={"project_name": "p-one"})
    admin.post("/projects", json={"project_name": "p-two"})
    for _ in range(2):  # the second round is answered from remembered matches
        assert admin.get("/projects/p-one").json()["name"] == "p-one"
        assert admin.get("/projects/p-two").json()["name"] == "p-two"
        assert admin.request("HEAD", "/projects?project_name=p-one").status_code == 200
        assert admin.get("/no/such/route").status_code == 404
        assert admin.request("PATCH", "/projects/p-one").status_code == 405


def robot(project):
    return {"name": "ci", "level": "project", "duration": -1, "permissions": [
        {"kind": "project", "namespace": project, "access": [{"resource": "repository", "action": "pull"}]}]}


def listed(admin, project_id):
    response = admin.get("/robots", params={"q": f"Level=project,ProjectID={project_id}"})
    assert response.status_code == 200
    return [r["name"] for r in response.json()]


def test_robots_are_listed_per_project_and_go_with_their_project(harbor, admin):
    ids = {}
    for name in ("rb-a", "rb-b"):
        admin.post("/projects", json={"project_name": name})
        ids[name] = admin.get(f"/projects/{name}").json()["project_id"]
        assert admin.post("/robots", json=robot(name)).status_code == 201
    system = {"name": "sys", "level": "system", "duration": -1, "permissions": [
        {"kind": "system", "namespace": "/", "access": [{"resource": "project", "action": "list"}]}]}
    assert admin.post("/robots", json=system).status_code == 201
    assert listed(admin, ids["rb-a"]) == ["robot$rb-a+ci"]
    assert listed(admin, ids["rb-b"]) == ["robot$rb-b+ci"]
    assert [r["name"] for r in admin.get("/robots", params={"q": "Level=system"}).json()] == ["robot$sys"]
    assert admin.delete("/projects/rb-a").status_code == 200
    assert admin.get("/robots", params={"q": "name=robot$rb-a+ci"}).json() == []
    assert listed(admin, ids["rb-b"]) == ["robot$rb-b+ci"]


def test_project_robots_stored_by_an_older_emulator_are_adopted_at_start(tmp_path):
    harbor = start_harbor(tmp_path / "h")
    admin = harbor.client()
    admin.post("/projects", json={"project_name": "legacy"})
    project_id = admin.get("/projects/legacy").json()["project_id"]
    assert admin.post("/robots", json=robot("legacy")).status_code == 201
    store = harbor.emulator.store
    with store.tx() as tx:  # the old layout: every robot at the top
        tx.execute("UPDATE objects SET parent = 0 WHERE kind = 'robot'")
    harbor.server.stop()
    emulator = build(data_dir=str(tmp_path / "h"), start_registry=False)
    try:
        with emulator.store.tx() as tx:
            assert [r["name"] for r in tx.list("robot", parent=project_id)] == ["robot$legacy+ci"]
    finally:
        emulator.store.close()
