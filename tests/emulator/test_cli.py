"""The command line: `python -m harbor_emulator [serve] ...` as a real process."""

import signal
import subprocess
import sys

import requests

from ..emulator_process import EmulatorProcess


def run_cli(*argv):
    return subprocess.run([sys.executable, "-m", "harbor_emulator", *argv], capture_output=True, text=True,
                          timeout=30)


def test_help_says_lab_only_never_production():
    for argv in (["--help"], ["serve", "--help"]):
        result = run_cli(*argv)
        assert result.returncode == 0, result.stderr
        text = " ".join(result.stdout.lower().split())  # argparse wraps lines
        assert "lab only" in text and "never" in text and "production" in text, result.stdout
    serve_help = run_cli("serve", "--help").stdout
    for option in ("--listen", "--admin-password", "--db", "--data-dir", "--registry-url", "--no-registry",
                   "--external-url"):
        assert option in serve_help


def test_bad_arguments_exit_2_with_usage():
    result = run_cli("serve", "--no-registry", "--registry-url", "http://127.0.0.1:1")
    assert result.returncode == 2 and "not allowed with" in result.stderr


def test_serve_without_registry_is_ready_fast(tmp_path):
    timings = []
    for attempt in range(3):  # best of three: one slow start on a busy machine is noise
        with EmulatorProcess(tmp_path / f"h{attempt}") as node:
            assert requests.get(node.url + "/api/v2.0/ping", timeout=5).text == "Pong"
        timings.append(node.startup_seconds)
        if node.startup_seconds < 1:
            break
    print(f"\nserve --no-registry: ready /api/v2.0/ping {min(timings) * 1000:.0f} ms after spawn "
          f"(attempts: {', '.join(f'{t * 1000:.0f}' for t in timings)} ms)")
    # the target is well under 1 s; 3 s keeps a busy machine from failing the suite
    assert min(timings) < 3


def test_admin_password_is_honoured(tmp_path):
    with EmulatorProcess(tmp_path / "h", admin_password="S3cret-lab-pw") as node:
        url = node.url + "/api/v2.0/users/current"
        current = requests.get(url, auth=("admin", "S3cret-lab-pw"), timeout=5)
        assert current.status_code == 200 and current.json()["username"] == "admin"
        assert requests.get(url, auth=("admin", "Harbor12345"), timeout=5).status_code == 401


def test_sigterm_stops_cleanly(tmp_path):
    node = EmulatorProcess(tmp_path / "h").start()
    # an idle keep-alive connection must not hold the process up
    session = requests.Session()
    assert session.get(node.url + "/api/v2.0/ping", timeout=5).status_code == 200
    node.process.send_signal(signal.SIGTERM)
    code = node.process.wait(timeout=10)
    node.stop()
    assert code == 0, node.log()
    assert "Traceback" not in node.log()
    session.close()


# -- HTTP serving -----------------------------------------------------------------------------


def basic(user="admin", password="Harbor12345"):
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_keep_alive_carries_many_requests_on_one_connection(tmp_path):
    import http.client
    import json

    with EmulatorProcess(tmp_path / "h") as node:
        conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=10)

        def call(method, path, body=None, headers=None, **kw):
            conn.request(method, "/api/v2.0" + path, body=body, headers=headers or {}, **kw)
            response = conn.getresponse()
            return response, response.read(), conn.sock.getsockname()

        _, body, first = call("GET", "/ping")
        assert body == b"Pong"
        # a body the server never reads (405 before parsing) is drained, not taken for a request
        response, _, sock = call("POST", "/ping", body=b"x" * 50_000, headers={"Content-Type": "application/json"})
        assert response.status == 405 and sock == first
        # a chunked request body
        chunks = iter([b'{"project_name": ', b'"kept-alive"}'])
        response, _, sock = call("POST", "/projects", body=chunks, encode_chunked=True,
                                 headers={"Authorization": basic(), "Content-Type": "application/json"})
        assert response.status == 201 and sock == first
        response, body, sock = call("HEAD", "/projects?project_name=kept-alive", headers={"Authorization": basic()})
        assert response.status == 200 and body == b"" and sock == first
        response, body, sock = call("GET", "/projects/kept-alive", headers={"Authorization": basic()})
        assert json.loads(body)["name"] == "kept-alive" and sock == first
        assert response.getheader("Connection") is None
        conn.close()


def test_stopping_a_server_closes_idle_keep_alive_connections(tmp_path):
    from ..conftest import start_harbor

    harbor = start_harbor(tmp_path / "h")
    session = requests.Session()
    assert session.get(harbor.url + "/api/v2.0/ping", timeout=5).status_code == 200
    harbor.server.stop()
    # a peer that was stopped must look down, even on a pooled connection
    try:
        session.get(harbor.url + "/api/v2.0/ping", timeout=5)
        raise AssertionError("a stopped emulator answered")
    except requests.ConnectionError:
        pass
    session.close()
