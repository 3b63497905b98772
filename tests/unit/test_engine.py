"""Pure logic of the reconcile engine and the size units."""

import itertools

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


def canonical_differs(current, wanted, unordered=False):
    """What differs() answers by definition: the canonical forms compared (sorted by repr when unordered)."""
    a, b = normalise(current), normalise(wanted)
    if unordered and isinstance(a, list) and isinstance(b, list):
        return sorted(a, key=repr) != sorted(b, key=repr)
    return a != b


SCALARS = ["true", "True", True, False, "false", "1", 1, 1.0, "01", 0, 0.0, -0.0, "", None, "x", "X", "-1", -1]
VALUES = SCALARS + [
    [], ["a", "b"], ["b", "a"], ("a", "b"), [True, 0], [1, False], [1, "1"], ["1", 1], [[1], ["1"]],
    {}, {"a": 1}, {"a": "1"}, {"a": True}, {"a": None}, {"a": 1, "b": 2}, {"b": 2, "a": 1}, {1: "x"}, {True: "x"},
    [{"a": 1, "b": 2}, {"b": 1, "a": 0}], [{"a": 1, "b": 2}, {"a": 0, "b": 1}], [{"b": 2, "a": 1}, {"b": 1, "a": 0}],
    {"members": {"user:a": "guest"}}, {"members": {"user:a": "developer"}}, [0.0, -0.0], [-0.0, 0.0],
    [0.0, -1], [-0.0, -1],  # equal, but sorted by repr they pair 0.0 with -1: they differ unordered
]


def test_differs_is_the_comparison_of_canonical_forms():
    # the shortcut for identical values must answer exactly as the canonical forms do, unordered lists included
    for a, b in itertools.product(VALUES, repeat=2):
        for unordered in (False, True):
            assert differs(a, b, unordered) == canonical_differs(a, b, unordered), (a, b, unordered)
            copied = (list(a) if isinstance(a, list) else dict(a) if isinstance(a, dict) else a)
            assert differs(a, copied, unordered) == canonical_differs(a, copied, unordered), (a, unordered)


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
