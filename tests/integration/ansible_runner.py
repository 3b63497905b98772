"""Run collection modules through a real `ansible-playbook` and return the task results."""

import json
import os
import subprocess
import sys
import tempfile

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.dirname(sys.executable)


def run_tasks(tasks, harbor_url, username=None, password=None, check=False, diff=False, extra_env=None):
    """Run `tasks` on localhost with the harbor group defaults; return (rc, [task results]).
    Credentials default to HARBOR_USERNAME / HARBOR_PASSWORD, else the emulator's admin."""
    if username is None:
        username = os.environ.get("HARBOR_USERNAME", "admin")
    if password is None:
        password = os.environ.get("HARBOR_PASSWORD", "Harbor12345")
    play = [{
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
        "module_defaults": {"group/registryops.harbor.harbor": {
            "api_url": harbor_url, "api_username": username, "api_password": password}},
        "tasks": tasks,
    }]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        yaml.safe_dump(play, handle)
        path = handle.name
    results_file = path + ".results"
    env = dict(os.environ, TASK_RESULTS_FILE=results_file,
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(os.path.dirname(os.path.abspath(__file__)), "callback_plugins"),
               ANSIBLE_CALLBACKS_ENABLED="task_results", ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_DEPRECATION_WARNINGS="0", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    env.update(extra_env or {})
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", path]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        if not os.path.exists(results_file):
            raise AssertionError("ansible-playbook ran no task:\n%s\n%s" % (proc.stdout, proc.stderr))
        with open(results_file) as handle:
            results = [json.loads(line) for line in handle if line.strip()]
    finally:
        os.unlink(path)
        if os.path.exists(results_file):
            os.unlink(results_file)
    return proc.returncode, results


def run_module(name, args, harbor_url, **kwargs):
    """One module call; returns its result dict (with `failed` set on failure)."""
    rc, results = run_tasks([{"name": name, "registryops.harbor." + name: args}], harbor_url, **kwargs)
    return results[0]
