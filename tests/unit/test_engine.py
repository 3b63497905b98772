"""Pure logic of the reconcile engine and the size units."""

import pytest

from ansible_collections.registryops.harbor.plugins.module_utils.harbor.engine import differs, normalise
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.units import format_size, parse_size


def test_harbor_strings_compare_equal_to_booleans_and_numbers():
    assert not differs("true", True)
    assert not differs("false", False)
    assert not differs("-1", -1)
    assert differs("true", False)
    assert normalise({"a": None, "b": "TRUE"}) == {"b": True}


def test_unordered_lists():
    assert not differs(["b", "a"], ["a", "b"], unordered=True)
    assert differs(["b", "a"], ["a", "b"])
    assert differs(["a"], ["a", "b"], unordered=True)


@pytest.mark.parametrize("text,expected", [
    ("50GiB", 50 * 1024 ** 3), ("500MB", 500 * 1000 ** 2), ("1TiB", 1024 ** 4), ("1024", 1024),
    ("-1", -1), ("unlimited", -1), ("1.5GiB", int(1.5 * 1024 ** 3)), (2048, 2048),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["ten", "5 parsecs", "0", "-5", "GiB", ""])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_format_size():
    assert format_size(50 * 1024 ** 3) == "50GiB"
    assert format_size(-1) == "unlimited"
    assert format_size(1500) == "1500B"
