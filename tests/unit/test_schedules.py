"""Cron and schedule parsing shared by gc, purge_audit, retention and replication policies."""

import pytest

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import InvalidInput
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.replication_policy import (
    check_replication_cron,
    filters_from_api,
    filters_to_api,
    filters_wanted,
)
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.schedule import (
    check_cron,
    parse_schedule,
    schedule_name,
)


@pytest.mark.parametrize("cron", ["0 0 2 * * *", "0 */15 * * * *", "0 0 0 * * SUN", "0 0 0 1-15 JAN-MAR *"])
def test_valid_crons(cron):
    assert check_cron(cron) == cron


@pytest.mark.parametrize("cron,message", [
    ("0 0 2 * *", "6 fields"), ("5 0 2 * * *", "seconds"), ("0 61 2 * * *", "minutes"),
    ("0 0 24 * * *", "hours"), ("0 0 0 0 * *", "day of month"), ("0 0 0 * 13 *", "month"),
])
def test_invalid_crons_name_the_rule(cron, message):
    with pytest.raises(InvalidInput, match=message):
        check_cron(cron)


def test_replication_cron_refuses_every_minute():
    with pytest.raises(InvalidInput, match="minutes"):
        check_replication_cron("0 * 2 * * *")
    assert check_replication_cron("0  30 2 * * *") == "0 30 2 * * *"


def test_presets_round_trip():
    for name in ("hourly", "daily", "weekly"):
        kind, cron = parse_schedule(name)
        assert schedule_name(kind, cron) == name
    assert parse_schedule("none") == ("None", "")
    assert schedule_name("Custom", "0 0 3 * * *") == "0 0 3 * * *"
    with pytest.raises(InvalidInput):
        parse_schedule("fortnightly")


def test_replication_filters_round_trip_through_harbor_shape():
    wanted = filters_wanted({"name": "apps/**", "tag": "v*", "tag_decoration": "excludes",
                             "labels": ["b", "a"], "label_decoration": "matches", "resource": "image"})
    assert filters_from_api(filters_to_api(wanted)) == wanted
    assert wanted["labels"] == ["a", "b"]
    assert filters_wanted({"name": None, "tag": None, "labels": None, "resource": None}) == {}
