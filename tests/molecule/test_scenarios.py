"""Every molecule scenario (molecule/<name>/molecule.yml), run for real: `molecule test -s <name>`.

Before the first scenario the session makes sure a Docker engine answers (lab/bin/start-dockerd),
the test-only collections are there (lab/bin/install-collections) and the shared test-host image
is current (lab/images/build-test-host; about a second when it is). A dockerd started here is
stopped at the end. Each scenario's full output goes to .lab/molecule-<name>.log; its duration
and the figures its verify step prints (lines starting with "FIGURE") are shown with `pytest -s`.

Skips only when this machine cannot run containers (not root and no engine answers, or no
docker/dockerd) and CI is not "true"; under CI that is a failure.
"""

import os
import shutil
import subprocess
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(REPO, ".venv", "bin")
SCENARIOS = sorted(
    name for name in os.listdir(os.path.join(REPO, "molecule"))
    if os.path.isfile(os.path.join(REPO, "molecule", name, "molecule.yml"))
) if os.path.isdir(os.path.join(REPO, "molecule")) else []
# The slowest scenario must stay well inside this (CI has 90 min for everything).
SCENARIO_TIMEOUT = 1200
# The first scenario's set-up may also build the test-host image from scratch (minutes).
IMAGE_BUILD_TIMEOUT = 1800


def in_ci():
    return os.environ.get("CI", "").lower() == "true"


def cannot_run(reason):
    if in_ci():
        pytest.fail(f"CI=true and the molecule scenarios cannot run: {reason}")
    pytest.skip(f"molecule scenarios need containers: {reason}")


def engine_answers():
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                          capture_output=True, check=False).returncode == 0


def run_step(args, timeout=1800):
    started = time.monotonic()
    result = subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=False, timeout=timeout)
    return result, time.monotonic() - started


@pytest.fixture(scope="session")
def container_lab():
    """A Docker engine, the test collections and the current test-host image; yields the env for molecule."""
    started_here = False
    if not engine_answers():
        if os.geteuid() != 0:
            cannot_run("no Docker engine answers and only root can start dockerd")
        if shutil.which("dockerd") is None or shutil.which("docker") is None:
            cannot_run("docker/dockerd are not installed (`make deps` as root installs docker.io)")
        result, _ = run_step([os.path.join(REPO, "lab", "bin", "start-dockerd")])
        if result.returncode != 0:
            cannot_run(f"lab/bin/start-dockerd failed: {result.stderr.strip()[-2000:]}")
        started_here = True
    try:
        result, _ = run_step([os.path.join(REPO, "lab", "bin", "install-collections")])
        assert result.returncode == 0, f"lab/bin/install-collections failed:\n{result.stdout}{result.stderr}"
        result, seconds = run_step([os.path.join(REPO, "lab", "images", "build-test-host")], IMAGE_BUILD_TIMEOUT)
        if result.returncode != 0 and os.geteuid() != 0:
            cannot_run(f"the test-host image must be built and that needs root: {result.stderr.strip()[-500:]}")
        assert result.returncode == 0, f"lab/images/build-test-host failed:\n{result.stdout}{result.stderr}"
        print(f"\nFIGURE test-host image ready in {seconds:.1f} s: {result.stdout.strip().splitlines()[-1]}")

        env = dict(os.environ)
        env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
        env.pop("ANSIBLE_CONFIG", None)
        env["ANSIBLE_NOCOLOR"] = "1"
        env["PY_COLORS"] = "0"
        env["NO_COLOR"] = "1"
        yield env
    finally:
        if started_here:
            subprocess.run([os.path.join(REPO, "lab", "bin", "stop-dockerd")], cwd=REPO, check=False)


@pytest.mark.timeout(IMAGE_BUILD_TIMEOUT + SCENARIO_TIMEOUT + 300)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario, container_lab):
    log_path = os.path.join(REPO, ".lab", f"molecule-{scenario}.log")
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    started = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            result = subprocess.run([os.path.join(VENV_BIN, "molecule"), "test", "-s", scenario], cwd=REPO,
                                    env=container_lab, stdout=log, stderr=subprocess.STDOUT,
                                    timeout=SCENARIO_TIMEOUT, check=False)
            returncode = result.returncode
        except subprocess.TimeoutExpired:
            returncode = None
    seconds = time.monotonic() - started
    with open(log_path, encoding="utf-8") as log:
        output = log.read()
    figures = [line.strip().strip('",') for line in output.splitlines() if "FIGURE" in line]
    print(f"\nFIGURE molecule scenario {scenario}: {seconds:.0f} s")
    for figure in figures:
        print(figure)
    if returncode is None:
        # Leave nothing running behind a scenario that hung.
        subprocess.run([os.path.join(VENV_BIN, "molecule"), "destroy", "-s", scenario], cwd=REPO,
                       env=container_lab, capture_output=True, check=False, timeout=300)
    assert returncode == 0, (
        f"molecule test -s {scenario} " + ("timed out" if returncode is None else f"exited {returncode}")
        + f" after {seconds:.0f} s; last lines of {log_path}:\n" + "\n".join(output.splitlines()[-80:]))


def test_scenarios_are_found():
    assert {"ha_shared_storage", "dual_master"} <= set(SCENARIOS), f"scenarios found under molecule/: {SCENARIOS}"
