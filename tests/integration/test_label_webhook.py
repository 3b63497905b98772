"""registryops.harbor.label and webhook through ansible-playbook against the emulator."""

import pytest
from .ansible_runner import run_module, run_tasks

# changes system-wide settings or needs the emulator (request log, fresh state, lab peers)
pytestmark = pytest.mark.emulator_only

PASSWORD = "S3cretPassw0rd"
TOKEN = "Bearer s3cr3t-hook-token"


def label(harbor, check=False, diff=False, **args):
    return run_module("label", args, harbor.url, check=check, diff=diff)


def webhook(harbor, check=False, diff=False, **args):
    return run_module("webhook", args, harbor.url, check=check, diff=diff)


def labels(admin, **query):
    return {item["name"]: item for item in admin.get("/labels", params=dict(query, page_size=100)).json()}


def test_global_label_lifecycle(harbor, admin):
    created = label(harbor, name="prod-ready", color="#2ea043", description="Passed every gate")
    assert created["changed"] and created["label"]["color"] == "#2EA043"
    stored = labels(admin, scope="g")["prod-ready"]
    assert stored["description"] == "Passed every gate" and stored["color"].upper() == "#2EA043"
    # a name that merely contains another one is a different label (Harbor's name filter is fuzzy)
    assert label(harbor, name="prod")["changed"]
    assert not label(harbor, name="prod-ready", color="#2EA043")["changed"]  # colour case does not matter

    harbor.reset_request_counts()
    checked = label(harbor, check=True, diff=True, name="prod-ready", color="#FF0000")
    assert checked["changed"] and harbor.request_counts()["writes"] == 0
    assert checked["diff"]["before"]["color"] == "#2EA043" and checked["diff"]["after"]["color"] == "#FF0000"

    assert label(harbor, name="prod-ready", color="#FF0000")["changed"]
    stored = labels(admin, scope="g")["prod-ready"]
    assert stored["color"] == "#FF0000" and stored["description"] == "Passed every gate"  # kept

    assert label(harbor, name="prod-ready", state="absent")["changed"]
    assert "prod-ready" not in labels(admin, scope="g")
    assert not label(harbor, name="prod-ready", state="absent")["changed"]


def test_project_label_and_permissions(harbor, admin):
    pid = admin.create_project("payments")
    assert label(harbor, name="pci", scope="project", project="payments", color="#D29922")["changed"]
    assert labels(admin, scope="p", project_id=pid)["pci"]["project_id"] == pid
    assert "pci" not in labels(admin, scope="g")
    assert not label(harbor, name="pci", scope="project", project="payments", color="#d29922")["changed"]
    # the same name globally is another label
    assert label(harbor, name="pci")["changed"]

    admin.create_user("dev", password=PASSWORD)
    admin.add_member(pid, "dev", 2)
    rc, results = run_tasks([{"registryops.harbor.label": {"name": "dev-label", "scope": "project",
                                                           "project": "payments"}}],
                            harbor.url, username="dev", password=PASSWORD)
    assert results[0]["failed"] and "403" in results[0]["msg"] and "role" in results[0]["msg"]

    # a project robot with pull rights cannot create labels either
    robot = run_module("robot_account", {"name": "puller", "project": "payments", "permission_preset": "pull"},
                       harbor.url)
    rc, results = run_tasks([{"registryops.harbor.label": {"name": "bot-label", "scope": "project",
                                                           "project": "payments"}}],
                            harbor.url, username="robot$payments+puller", password=robot["secret"])
    assert results[0]["failed"] and "403" in results[0]["msg"]

    assert label(harbor, name="pci", scope="project", project="payments", state="absent")["changed"]
    assert "pci" not in labels(admin, scope="p", project_id=pid) and "pci" in labels(admin, scope="g")


def test_label_bad_input_before_any_request(harbor):
    harbor.reset_request_counts()
    cases = [
        (dict(name="x", color="red"), "#RRGGBB"),
        (dict(name="x", color="#12345"), "#RRGGBB"),
        (dict(name="x" * 129), "128"),
        (dict(name="x", scope="project"), "project"),
        (dict(name="x", project="payments"), "project only applies"),
    ]
    rc, results = run_tasks([{"registryops.harbor.label": args, "ignore_errors": True} for args, _ in cases],
                            harbor.url)
    for (args, message), result in zip(cases, results):
        assert result["failed"] and message in result["msg"], (args, result["msg"])
    assert harbor.request_counts()["total"] == 0


def policies(admin, project):
    return {p["name"]: p for p in admin.get(f"/projects/{project}/webhook/policies",
                                            headers={"X-Is-Resource-Name": "true"}).json()}


TARGET = {"address": "https://deploy.example.com/hooks/harbor/", "auth_header": TOKEN,
          "payload_format": "CloudEvents"}


def test_webhook_lifecycle_and_masked_auth_header(harbor, admin):
    admin.create_project("payments")
    created = webhook(harbor, diff=True, project="payments", name="deployer",
                      event_types=["PUSH_ARTIFACT", "SCANNING_COMPLETED"], targets=[TARGET])
    assert created["changed"] and TOKEN not in str(created)
    assert created["webhook"]["targets"][0]["auth_header"] == "********"
    stored = policies(admin, "payments")["deployer"]
    assert stored["enabled"] is True and sorted(stored["event_types"]) == ["PUSH_ARTIFACT", "SCANNING_COMPLETED"]
    assert stored["targets"][0]["auth_header"] == TOKEN
    assert stored["targets"][0]["address"] == "https://deploy.example.com/hooks/harbor"

    assert not webhook(harbor, project="payments", name="deployer",
                       event_types=["SCANNING_COMPLETED", "PUSH_ARTIFACT"], targets=[TARGET])["changed"]

    # a new auth header is a change, shown only masked
    harbor.reset_request_counts()
    rotated = dict(TARGET, auth_header="Bearer n3w-token")
    checked = webhook(harbor, check=True, diff=True, project="payments", name="deployer", targets=[rotated])
    assert checked["changed"] and harbor.request_counts()["writes"] == 0
    assert "n3w-token" not in str(checked) and TOKEN not in str(checked)
    assert checked["diff"]["after"]["auth_header"].startswith("****")
    assert webhook(harbor, project="payments", name="deployer", targets=[rotated])["changed"]
    assert policies(admin, "payments")["deployer"]["targets"][0]["auth_header"] == "Bearer n3w-token"
    assert not webhook(harbor, project="payments", name="deployer", targets=[rotated])["changed"]

    # other settings change without touching the targets (auth header kept)
    harbor.reset_request_counts()
    paused = webhook(harbor, check=True, diff=True, project="payments", name="deployer", enabled=False,
                     event_types=["PUSH_ARTIFACT"])
    assert paused["changed"] and harbor.request_counts()["writes"] == 0
    assert paused["diff"]["before"]["enabled"] is True and paused["diff"]["after"]["enabled"] is False
    assert paused["diff"]["after"]["event_types"] == ["PUSH_ARTIFACT"]
    assert webhook(harbor, project="payments", name="deployer", enabled=False, event_types=["PUSH_ARTIFACT"])["changed"]
    stored = policies(admin, "payments")["deployer"]
    assert stored["enabled"] is False and stored["event_types"] == ["PUSH_ARTIFACT"]
    assert stored["targets"][0]["auth_header"] == "Bearer n3w-token"

    # dropping the auth header is a visible change
    plain = {"address": "https://deploy.example.com/hooks/harbor", "payload_format": "CloudEvents"}
    dropped = webhook(harbor, diff=True, project="payments", name="deployer", targets=[plain])
    assert dropped["changed"] and "auth_header" in dropped["diff"]["before"]["targets"][0]
    assert "auth_header" not in dropped["diff"]["after"]["targets"][0]
    assert "auth_header" not in policies(admin, "payments")["deployer"]["targets"][0]

    assert webhook(harbor, project="payments", name="deployer", state="absent")["changed"]
    assert "deployer" not in policies(admin, "payments")
    assert not webhook(harbor, project="payments", name="deployer", state="absent")["changed"]


def test_webhook_validation_and_permissions(harbor, admin):
    harbor.reset_request_counts()
    cases = [
        (dict(project="p", name="w", event_types=[]), "event_types is empty"),
        (dict(project="p", name="w", targets=[]), "targets is empty"),
        (dict(project="p", name="w", targets=[{"address": "ftp://x.example.com"}]), "targets[0].address"),
        (dict(project="p", name="w", targets=[{"address": "https://hooks.slack.com/x", "type": "slack",
                                               "payload_format": "CloudEvents"}]), "only for type http"),
        (dict(project="p", name="w", targets=[{"address": "a.example.com"}, {"address": "http://a.example.com/"}]),
         "listed twice"),
        (dict(project="p", name=" "), "name"),
    ]
    rc, results = run_tasks([{"registryops.harbor.webhook": args, "ignore_errors": True} for args, _ in cases],
                            harbor.url)
    for (args, message), result in zip(cases, results):
        assert result["failed"] and message in result["msg"], (args, result["msg"])
    assert harbor.request_counts()["total"] == 0

    pid = admin.create_project("team")
    # event types are checked against the project's supported list, before any write
    harbor.reset_request_counts()
    unknown = webhook(harbor, project="team", name="w", event_types=["PUSH_ARTIFACT", "COFFEE_BREWED"],
                      targets=[{"address": "https://x.example.com"}])
    assert unknown["failed"] and "COFFEE_BREWED" in unknown["msg"] and "PULL_ARTIFACT" in unknown["msg"]
    assert harbor.request_counts()["writes"] == 0
    incomplete = webhook(harbor, project="team", name="w", enabled=True)
    assert incomplete["failed"] and "event_types and targets" in incomplete["msg"]

    admin.create_user("dev", password=PASSWORD)
    admin.add_member(pid, "dev", 2)
    rc, results = run_tasks([{"registryops.harbor.webhook": {"project": "team", "name": "w",
                                                             "event_types": ["PUSH_ARTIFACT"],
                                                             "targets": [{"address": "https://x.example.com",
                                                                          "auth_header": TOKEN}]}}],
                            harbor.url, username="dev", password=PASSWORD)
    assert results[0]["failed"] and "403" in results[0]["msg"] and TOKEN not in str(results[0])
