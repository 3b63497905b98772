"""registryops.harbor.config through ansible-playbook against the emulator."""

import pytest
from .ansible_runner import run_module

# changes system-wide settings or needs the emulator (request log, fresh state, lab peers)
pytestmark = pytest.mark.emulator_only


def config(harbor, check=False, diff=False, **args):
    return run_module("config", args, harbor.url, check=check, diff=diff)


def test_settings_only_given_keys_idempotent_check_and_diff(harbor, admin):
    harbor.reset_request_counts()
    checked = config(harbor, check=True, diff=True, settings={"project_creation_restriction": "adminonly"})
    assert checked["changed"] and harbor.request_counts()["writes"] == 0
    assert checked["diff"] == {"before": {"project_creation_restriction": "everyone"},
                               "after": {"project_creation_restriction": "adminonly"}}
    assert config(harbor, settings={"project_creation_restriction": "adminonly", "robot_token_duration": 90})["changed"]
    assert admin.get("/configurations").json()["robot_token_duration"]["value"] == 90
    assert not config(harbor, settings={"project_creation_restriction": "adminonly", "robot_token_duration": "90"})["changed"]


def test_read_only_maintenance_mode(harbor, admin):
    assert config(harbor, read_only=True)["changed"]
    assert admin.get("/systeminfo").json()["read_only"] is True
    assert not config(harbor, read_only=True)["changed"]
    assert config(harbor, read_only=False)["changed"]


def test_secrets_are_write_only_and_never_shown(harbor, admin):
    first = config(harbor, diff=True, settings={"ldap_url": "ldaps://ldap.example.com"},
                   secrets={"ldap_search_password": "TopSecret1"})
    assert first["changed"] and "TopSecret1" not in str(first)
    # unchanged settings: the secret is not re-sent, nothing changes
    assert not config(harbor, settings={"ldap_url": "ldaps://ldap.example.com"},
                      secrets={"ldap_search_password": "TopSecret1"})["changed"]
    rotated = config(harbor, diff=True, settings={"ldap_url": "ldaps://ldap.example.com"},
                     secrets={"ldap_search_password": "TopSecret2"}, update_secrets="always")
    assert rotated["changed"] and "TopSecret2" not in str(rotated)
    assert "ldap_search_password" not in admin.get("/configurations").json()


def test_bad_input(harbor):
    harbor.reset_request_counts()
    misplaced = config(harbor, settings={"oidc_client_secret": "x"})
    assert misplaced["failed"] and "secrets" in misplaced["msg"]
    assert harbor.request_counts()["total"] == 0
    unknown = config(harbor, settings={"no_such_key": 1})
    assert unknown["failed"] and "no_such_key" in unknown["msg"]
    assert harbor.request_counts()["writes"] == 0
