"""The command line: `python -m harbor_emulator [serve] ...` as a real process."""

import json
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


def test_serve_without_registry_answers_ping_and_reports_its_start_up_time(tmp_path):
    """Start-up time is a figure (printed here and by benchmarks/emulator_throughput.py), not a
    pass/fail threshold: a busy machine must not fail the suite."""
    with EmulatorProcess(tmp_path / "h") as node:
        assert requests.get(node.url + "/api/v2.0/ping", timeout=5).text == "Pong"
    assert node.startup_seconds is not None
    print(f"\nserve --no-registry: ready /api/v2.0/ping {node.startup_seconds * 1000:.0f} ms after spawn")


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


def test_push_sample_pushes_an_image_harbor_lists_with_that_digest(harbor_registry):
    result = run_cli("push-sample", "--url", harbor_registry.url, "--repository", "library/demo", "--tag", "1.0",
                     "--layers", "3", "--size", "2048")
    assert result.returncode == 0, result.stderr
    pushed = json.loads(result.stdout)
    assert pushed["repository"] == "library/demo" and pushed["tag"] == "1.0"
    artifact = harbor_registry.client().get("/projects/library/repositories/demo/artifacts/1.0").json()
    assert artifact["digest"] == pushed["digest"]
    assert artifact["size"] > 3 * 2048  # three random layers of 2 KiB, not compressible
    wrong = run_cli("push-sample", "--url", harbor_registry.url, "--password", "wrong", "--repository",
                    "library/demo", "--tag", "2.0")
    assert wrong.returncode != 0 and "401" in wrong.stderr + wrong.stdout
