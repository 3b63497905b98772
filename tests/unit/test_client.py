"""The collection's HTTP client against the real emulator (and a flaky local server for retries)."""

import http.server
import threading

import pytest

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.client import HarborClient, HarborError


def client_for(harbor, **kwargs):
    return HarborClient(harbor.url, "admin", "Harbor12345", **kwargs)


def test_list_follows_pagination_over_several_pages(harbor, admin):
    for i in range(250):
        admin.create_project(f"p{i:03d}")
    client = client_for(harbor)
    projects = client.list("/projects")
    assert len(projects) == 251
    assert len({p["name"] for p in projects}) == 251
    assert client.request_count == 3  # 100 + 100 + 51


def test_members_beyond_the_tenth_are_seen(harbor, admin):
    pid = admin.create_project("crowd")
    for i in range(15):
        admin.create_user(f"user{i:02d}")
        admin.add_member(pid, f"user{i:02d}", 2)
    members = client_for(harbor).list(f"/projects/{pid}/members")
    assert len(members) == 16  # 15 + the creator


def test_error_message_has_status_code_method_path_and_request_id(harbor):
    client = client_for(harbor)
    with pytest.raises(HarborError) as info:
        client.get("/projects/nope", headers={"X-Is-Resource-Name": "true"})
    err = info.value
    assert err.status == 404 and err.code == "NOT_FOUND"
    text = str(err)
    assert "GET /api/v2.0/projects/nope" in text and "404" in text and err.request_id in text


def test_create_returns_id_from_location_and_keeps_no_cookies(harbor):
    client = client_for(harbor)
    answer = client.request("GET", "/projects")
    assert "sid=" in answer.headers.get("Set-Cookie", "")  # the emulator hands out a sid cookie, like Harbor
    new_id, body = client.create("/projects", {"project_name": "fresh"})
    assert new_id == 2 and body is None  # would be a 403 CSRF failure if the cookie had been kept


def test_get_or_none(harbor):
    assert client_for(harbor).get_or_none("/users/999") is None


class Flaky(http.server.BaseHTTPRequestHandler):
    """Answers 503 `fail` times, then 200; counts every request it sees."""

    fail = 2
    seen = 0

    def _answer(self):
        type(self).seen += 1
        if type(self).seen <= type(self).fail:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky():
    Flaky.seen = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_idempotent_get_is_retried_on_503(flaky):
    client = HarborClient(flaky, "u", "p", backoff=0.01, retries=3)
    assert client.get("/x") == {"ok": True}
    assert Flaky.seen == 3


def test_post_is_never_retried(flaky):
    client = HarborClient(flaky, "u", "p", backoff=0.01, retries=3)
    with pytest.raises(HarborError) as info:
        client.create("/x", {})
    assert info.value.status == 503
    assert Flaky.seen == 1


def test_retries_exhausted_reports_the_last_status(flaky):
    Flaky.fail = 10
    try:
        client = HarborClient(flaky, "u", "p", backoff=0.01, retries=2)
        with pytest.raises(HarborError) as info:
            client.get("/x")
        assert info.value.status == 503 and Flaky.seen == 3
    finally:
        Flaky.fail = 2


def test_unreachable_harbor_is_a_clear_error():
    client = HarborClient("http://127.0.0.1:9", "u", "p", backoff=0.01, retries=1, timeout=2)
    with pytest.raises(HarborError) as info:
        client.get("/ping")
    assert "cannot reach Harbor" in str(info.value)


# -- TLS: ca_path and validate_certs win over the environment ---------------------------------------------
@pytest.fixture(scope="module")
def private_tls_server(tmp_path_factory):
    """An HTTPS server on 127.0.0.1 with a certificate from a CA of its own (openssl)."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (Debian package openssl)")
    work = tmp_path_factory.mktemp("tls")

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=work, check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1")
    (work / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "san.ext")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = b"[]"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(work / "server.crt"), str(work / "server.key"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "https://127.0.0.1:%d" % server.server_address[1], str(work / "ca.crt")
    server.shutdown()


@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")  # validate_certs: false, on purpose
@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_ca_path_and_validate_certs_win_over_a_ca_bundle_in_the_environment(private_tls_server, monkeypatch,
                                                                            variable):
    url, ca = private_tls_server
    # a bundle that does not hold the private CA, as on machines that export the system bundle
    monkeypatch.setenv(variable, "/etc/ssl/certs/ca-certificates.crt")
    assert HarborClient(url, ca_path=ca, retries=0).get("/projects") == []
    assert HarborClient(url, validate_certs=False, retries=0).get("/projects") == []
    with pytest.raises(HarborError) as info:
        HarborClient(url, retries=0).get("/projects")
    assert "TLS verification failed" in str(info.value)


def test_without_ca_path_the_environment_bundle_applies_as_with_requests(private_tls_server, monkeypatch):
    url, ca = private_tls_server
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)
    assert HarborClient(url, retries=0).get("/projects") == []


def answer(handler, body):
    """A 200 with `body` from a local test server's handler."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class _Proxy(http.server.BaseHTTPRequestHandler):
    """Answers every request itself, recording the request line (a proxy sees absolute URLs)."""
    seen = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.seen.append(self.path)
        answer(self, b"[]")

    def log_message(self, *args):
        pass


def test_proxies_come_from_the_environment_once_and_no_proxy_is_honoured(monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("http_proxy", "http://127.0.0.1:%d" % server.server_address[1])
        _Proxy.seen.clear()
        client = HarborClient("http://harbor.registry.invalid", "admin", "x", retries=0)
        assert client.get("/projects") == [] and client.get("/users") == []
        assert _Proxy.seen == ["http://harbor.registry.invalid/api/v2.0/projects",
                               "http://harbor.registry.invalid/api/v2.0/users"]

        monkeypatch.setenv("no_proxy", "registry.invalid")
        with pytest.raises(HarborError) as info:  # straight to a host that does not exist
            HarborClient("http://harbor.registry.invalid", "admin", "x", retries=0).get("/projects")
        assert "cannot reach Harbor" in str(info.value) and len(_Proxy.seen) == 2
    finally:
        server.shutdown()


class _Storage(http.server.BaseHTTPRequestHandler):
    """Object storage behind a registry redirect: serves a blob, recording the headers it got."""
    seen = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        type(self).seen.append(dict(self.headers))
        answer(self, b"layer bytes")

    def log_message(self, *args):
        pass


def test_blob_redirect_to_storage_is_followed_without_the_credentials():
    storage = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Storage)
    storage_url = "http://127.0.0.1:%d/bucket/blob?signature=abc" % storage.server_address[1]

    class Registry(http.server.BaseHTTPRequestHandler):
        seen = []

        def do_GET(self):  # noqa: N802 (http.server's name)
            type(self).seen.append(self.headers.get("Authorization"))
            self.send_response(307)
            self.send_header("Location", storage_url)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    registry = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    for server in (storage, registry):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = HarborClient("http://127.0.0.1:%d" % registry.server_address[1], "admin", "secret", retries=0)
        response = client.open_blob("p/r", "sha256:" + "0" * 64)
        assert response.raw.read() == b"layer bytes"
        response.close()
        assert Registry.seen and Registry.seen[0].startswith("Basic ")
        # another host (port): the registry's credentials must not reach the storage
        assert len(_Storage.seen) == 1 and "Authorization" not in _Storage.seen[0]
    finally:
        storage.shutdown()
        registry.shutdown()
