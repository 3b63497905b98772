"""Helpers of the molecule verify scripts (molecule/*/verify_*.py), which run on the controller
against containers of a scenario: figures and checks on stdout, a cookie-less API client and a
/v2 client verifying with the lab CA, bounded waits, faults through `docker exec`."""

import subprocess
import sys
import time

import requests

from harbor_emulator.registry_client import RegistryClient, RegistryError

TIMEOUT = 5  # seconds per request


def figure(name, value):
    print(f"FIGURE {name}: {value}", flush=True)


def check(condition, message):
    if not condition:
        print(f"FAILED: {message}", flush=True)
        sys.exit(1)


class Api:
    """Cookie-less Harbor API client (Harbor's CSRF rule) for one base URL."""

    def __init__(self, base, auth, ca):
        self.base = base
        self.session = requests.Session()
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE or a proxy from the environment must not apply
        self.session.auth = auth
        self.session.verify = ca

    def call(self, method, path, **kwargs):
        response = self.session.request(method, f"{self.base}/api/v2.0{path}", timeout=TIMEOUT, **kwargs)
        self.session.cookies.clear()
        return response

    def every(self, path, **params):
        """All pages of a list."""
        items, page = [], 1
        while True:
            response = self.call("GET", path, params={**params, "page": page, "page_size": 100})
            check(response.status_code == 200, f"GET {self.base}{path}: {response.status_code} {response.text[:200]}")
            batch = response.json()
            items += batch
            if len(batch) < 100:
                return items
            page += 1


def registry(base, auth, ca, timeout=TIMEOUT):
    """A /v2 client that verifies with the lab CA, without proxies from the environment."""
    client = RegistryClient(base, *auth, verify=ca, timeout=timeout)
    client.session.trust_env = False
    return client


def wait_for(what, probe, timeout, interval=0.2):
    """Seconds until probe() is truthy; fails the run after `timeout` seconds."""
    started, last_error = time.monotonic(), None
    while True:
        try:
            if probe():
                return time.monotonic() - started
        except (requests.RequestException, RegistryError) as exc:
            last_error = exc
        if time.monotonic() - started > timeout:
            check(False, f"{what}: not within {timeout} s" + (f" (last error: {last_error})" if last_error else ""))
        time.sleep(interval)


def docker_exec(container, *command, check_rc=True):
    result = subprocess.run(["docker", "exec", container, *command], capture_output=True, text=True, timeout=60,
                            check=False)
    if check_rc:
        check(result.returncode == 0, f"docker exec {container} {' '.join(command)}: {result.stderr.strip()}")
    return result
