"""An emulator in its own process (`python -m harbor_emulator serve ...`) on a free port.

For tests that need what only a real process shows (start-up time, signals, several
processes sharing one database) and for benchmarks (the client must not share the
emulator's GIL). Use as a context manager; stop() sends SIGTERM and waits.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import requests


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmulatorProcess:
    def __init__(self, data_dir, *extra, db=None, registry=False, admin_password=None, port=None):
        self.data_dir = str(data_dir)
        os.makedirs(self.data_dir, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.data_dir, "emulator.log")
        self.argv = [sys.executable, "-m", "harbor_emulator", "serve", "--listen", f"127.0.0.1:{self.port}",
                     "--data-dir", self.data_dir]
        if db:
            self.argv += ["--db", db]
        if not registry:
            self.argv.append("--no-registry")
        if admin_password:
            self.argv += ["--admin-password", admin_password]
        self.argv += list(extra)
        self.process = None
        self.startup_seconds = None

    def start(self, timeout=15):
        """Start and wait for /api/v2.0/ping; records startup_seconds (spawn to first Pong)."""
        started = time.monotonic()
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        self.wait_ready(timeout)
        self.startup_seconds = time.monotonic() - started
        return self

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        session = requests.Session()
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"emulator exited with {self.process.returncode}: {self.log()}")
            try:
                if session.get(self.url + "/api/v2.0/ping", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"emulator not ready after {timeout}s: {self.log()}")
            time.sleep(0.01)

    def log(self):
        with open(self.log_path, "rb") as handle:
            return handle.read()[-4000:].decode(errors="replace")

    def stop(self, timeout=10):
        """SIGTERM, then wait; returns the exit code (kills after `timeout`)."""
        if self.process is None:
            return None
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            self._log.close()
        return self.process.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
