"""The lab's vCenter simulator (vcsim-lab, docs/vcsim.md) as a process, for tests.

    binary = build_vcsim()                      # skips (or fails when CI=true) without Go
    with VcsimProcess(binary, tmp_path) as lab:   # free ports, fresh inventory
        lab.info["url"], lab.connect(), lab.fail_host("esx-01.lab.local")

Other test packages may import it (`from tests.vcsim.process import ...`).
"""

import json
import os
import signal
import ssl
import subprocess
import threading
import time

import pytest
import requests

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_SCRIPT = os.path.join(REPO, "lab", "vcsim", "build")
MISSING_PACKAGES_EXIT = 2  # lab/vcsim/build's code for "Go or the Debian packages are missing"

_built = {}


def build_vcsim(script=BUILD_SCRIPT, env=None):
    """Build (or reuse) the binary; returns (path, seconds the build step took).

    Skips the calling test when Go or Debian's govmomi packages are missing, unless CI=true,
    where a missing toolchain is a failure: CI must run these tests.
    """
    if script == BUILD_SCRIPT and env is None and "path" in _built:
        return _built["path"], _built["seconds"]
    started = time.monotonic()
    result = subprocess.run([script], capture_output=True, text=True, timeout=900, env=env)
    seconds = time.monotonic() - started
    if result.returncode == MISSING_PACKAGES_EXIT:
        message = ("vcsim-lab cannot be built on this machine: " + result.stderr.strip()
                   + " (make deps installs them as root)")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    if result.returncode != 0:
        pytest.fail(f"lab/vcsim/build failed ({result.returncode}):\n{result.stderr}")
    path = result.stdout.strip().splitlines()[-1]
    if script == BUILD_SCRIPT and env is None:
        _built.update(path=path, seconds=seconds)
    return path, seconds


class VcsimProcess:
    """One vcsim-lab process on free loopback ports with its own state directory."""

    def __init__(self, binary, state_dir, *extra):
        self.binary = binary
        self.state_dir = str(state_dir)
        self.argv = [binary, "-listen", "127.0.0.1:0", "-control-listen", "127.0.0.1:0",
                     "-state-dir", self.state_dir, *extra]
        self.process = None
        self.info = None
        self.startup_seconds = None
        self._stderr = []

    def start(self, timeout=30):
        """Start and wait for the `vcsim-lab: ready {json}` line; records startup_seconds."""
        started = time.monotonic()
        self.process = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, text=True)
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        ready = {}

        def read_ready():
            for line in self.process.stdout:
                if line.startswith("vcsim-lab: ready "):
                    ready["info"] = json.loads(line[len("vcsim-lab: ready "):])
                    return

        reader = threading.Thread(target=read_ready, daemon=True)
        reader.start()
        reader.join(timeout)
        if "info" not in ready:
            self.stop()
            raise RuntimeError(f"vcsim-lab not ready after {timeout}s: {self.log()}")
        self.startup_seconds = time.monotonic() - started
        self.info = ready["info"]
        return self

    def _drain_stderr(self):
        for line in self.process.stderr:
            self._stderr.append(line)

    def log(self):
        return "".join(self._stderr[-200:])

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- clients -------------------------------------------------------------------------
    def ssl_context(self):
        return ssl.create_default_context(cafile=self.info["ca_file"])

    def connect(self, user=None, password=None):
        """A pyvmomi ServiceInstance, TLS verified against the lab certificate."""
        from pyVim.connect import SmartConnect

        return SmartConnect(host=self.info["hostname"], port=self.info["port"],
                            user=user or self.info["username"], pwd=password or self.info["password"],
                            sslContext=self.ssl_context())

    def control(self, method, path, **kwargs):
        response = requests.request(method, self.info["control_url"] + path, timeout=30, **kwargs)
        return response

    def fail_host(self, name, restart_delay=None):
        params = {"restart_delay": restart_delay} if restart_delay is not None else None
        response = self.control("POST", f"/hosts/{name}/fail", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def recover_host(self, name):
        response = self.control("POST", f"/hosts/{name}/recover")
        assert response.status_code == 200, response.text
        return response.json()
