"""SpecValidator's direct path gives exactly what Ansible's ArgumentSpecValidator gives.

For the spec of every kind the state module validates, objects are generated option by
option (well typed, needing a conversion, explicit None, an invalid choice, unknown keys,
missing required options, combinations that break the spec's rules) and validated both ways.
"""

import itertools

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.registryops.harbor.plugins.module_utils.harbor import state
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.spec import QuickResult, SpecValidator

KINDS = [cls for name, cls in sorted(vars(state).items())
         if name.endswith("Kind") and name != "Kind" and isinstance(cls, type) and issubclass(cls, state.Kind)]


def sample(option, variant=0):
    """A well-typed value for an option (variant picks another one where there is a choice)."""
    choices = option.get("choices")
    kind = option.get("type", "str")
    if choices:
        value = list(choices)[variant % len(choices)]
        return [value] if kind == "list" else value
    return {"str": ["alpha", "beta"][variant % 2], "bool": bool(variant % 2), "int": 5 + variant,
            "float": 1.5, "dict": {}, "list": ["a", "b"] if option.get("elements") == "str" else []}[kind]


def converted(option):
    """A value Ansible accepts after a conversion (or rejects): never the direct path."""
    return {"str": 42, "bool": "yes", "int": "7", "float": "2.5", "dict": "a=1", "list": "a,b"}[option.get("type", "str")]


def objects(spec):
    simple = dict((n, o) for n, o in spec.items() if "options" not in o)
    required = dict((n, sample(o)) for n, o in spec.items() if o.get("required"))
    yield dict(required)
    for variant in range(3):
        yield dict((n, sample(o, variant)) for n, o in simple.items())
    for name, option in simple.items():
        for value in (sample(option, 1), converted(option), None):
            yield dict(required, **{name: value})
        if option.get("choices"):
            yield dict(required, **{name: "not-a-choice"})
    for a, b in itertools.combinations(sorted(simple), 2):  # rules between two options
        yield dict(required, **{a: sample(simple[a]), b: sample(simple[b])})
    yield dict(required, unknown_option="x")
    for name in required:
        yield dict((n, v) for n, v in required.items() if n != name)
    for name, option in spec.items():
        for alias in option.get("aliases", []):
            yield dict(required, **{alias: sample(option)})


def rules(kind):
    proto = kind.resource_class()
    kwargs = proto.module_kwargs()
    keys = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")
    return proto.argument_spec(), dict((k, kwargs.get(k)) for k in keys)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_direct_path_matches_ansible(kind):
    spec, kwargs = rules(kind)
    quick, full = SpecValidator(spec, **kwargs), ArgumentSpecValidator(spec, **kwargs)
    direct = 0
    for raw in objects(spec):
        got, want = quick.validate(dict(raw)), full.validate(dict(raw))
        assert bool(got.error_messages) == bool(want.error_messages), raw
        if not want.error_messages:
            assert got.validated_parameters == want.validated_parameters, raw
            assert got._no_log_values == want._no_log_values, raw
        direct += isinstance(got, QuickResult)
    assert direct > 0, "no object took the direct path: the comparison proves nothing"


def test_direct_path_taken_for_well_typed_objects_only():
    spec = {"name": {"type": "str", "required": True}, "public": {"type": "bool", "default": False},
            "size": {"type": "int"}, "secret": {"type": "str", "no_log": True},
            "tags": {"type": "list", "elements": "str", "default": []}}
    validator = SpecValidator(spec, mutually_exclusive=[["size", "secret"]])
    result = validator.validate({"name": "p", "secret": "s3cret"})
    assert isinstance(result, QuickResult)
    assert result.validated_parameters == {"name": "p", "public": False, "size": None, "secret": "s3cret", "tags": []}
    assert result._no_log_values == {"s3cret"}
    # a default is a copy: changing one object's list does not change the next one's
    result.validated_parameters["tags"].append("x")
    assert validator.validate({"name": "q"}).validated_parameters["tags"] == []
    for raw in ({"name": "p", "size": "3"}, {"name": "p", "size": 1, "secret": "s"}, {"nam": "p"}, {}):
        assert not isinstance(validator.validate(raw), QuickResult), raw
    assert validator.validate({"name": "p", "size": 1, "secret": "s"}).error_messages
