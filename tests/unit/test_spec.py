"""SpecValidator's direct path gives exactly what Ansible's ArgumentSpecValidator gives.

For the spec of every kind the state module validates, and for a made-up spec that uses every
feature the direct path compiles, objects are generated option by option (well typed, needing a
conversion, explicit None, an invalid choice, unknown keys, missing required options, aliases,
sub-options valid and invalid, combinations that break the spec's rules) and validated both ways:
the same parameters (key order included, at every level), the same no_log values, the same error
messages, and the input left as it was.
"""

import copy
import gc
import itertools
import json

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.registryops.harbor.plugins.module_utils.harbor import state
from ansible_collections.registryops.harbor.plugins.module_utils.harbor.spec import QuickResult, SpecValidator

KINDS = [cls for name, cls in sorted(vars(state).items())
         if name.endswith("Kind") and name != "Kind" and isinstance(cls, type) and issubclass(cls, state.Kind)]
RULES = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")

# every feature the direct path compiles, and some it leaves to Ansible
FEATURES_SPEC = {
    "name": {"type": "str", "required": True, "aliases": ["title"]},
    "count": {"type": "int", "default": 1},
    "ratio": {"type": "float"},
    "anything": {"type": "raw"},
    "where": {"type": "path"},
    "loose": {"type": "list"},
    "levels": {"type": "list", "elements": "int", "choices": [1, 2, 3]},
    "tags": {"type": "list", "elements": "str", "default": []},
    "mode": {"type": "str", "choices": ["on", "off", "auto"], "default": "auto"},
    "flag": {"type": "bool"},
    "token": {"type": "str", "no_log": True},
    "fallback_token": {"type": "str", "no_log": True, "default": "D3faultSecret"},
    "labels": {"type": "dict"},
    "target": {"type": "dict", "options": {
        "address": {"type": "str", "required": True},
        "kind": {"type": "str", "choices": ["http", "slack"], "default": "http"},
        "header": {"type": "str", "no_log": True},
        "extra": {"type": "dict", "default": {}},
    }},
    "rules": {"type": "list", "elements": "dict", "mutually_exclusive": [["pattern", "regex"]],
              "required_if": [["scope", "repo", ["pattern"]]], "options": {
                  "scope": {"type": "str", "choices": ["repo", "tag"], "required": True},
                  "pattern": {"type": "str"},
                  "regex": {"type": "str"},
                  "selectors": {"type": "list", "elements": "dict", "options": {
                      "decoration": {"type": "str", "choices": ["matching", "excluding"], "default": "matching"},
                      "value": {"type": "str", "default": "**"},
                  }},
              }},
}
FEATURES_RULES = {"mutually_exclusive": [["token", "flag"], "name"], "required_together": [["ratio", "anything"]],
                  "required_one_of": [["name", "count"]], "required_if": [["mode", "on", ["flag"]]],
                  "required_by": {"labels": ["ratio"]}}


def kind_rules(kind):
    proto = kind.resource_class()
    kwargs = proto.module_kwargs()
    return proto.argument_spec(), dict((k, kwargs.get(k)) for k in RULES)


def sample(option, variant=0):
    """A well-typed value for an option (variant picks another one where there is a choice)."""
    choices = option.get("choices")
    kind = option.get("type", "str")
    if option.get("options"):
        value = well_typed(option["options"], variant)
        return [value, well_typed(option["options"], variant + 1)] if kind == "list" else value
    if choices:
        value = list(choices)[variant % len(choices)]
        return [value] if kind == "list" else value
    if kind == "list":
        return {"str": ["a", "b"], "int": [1, 2], "dict": [{"k": variant}]}.get(option.get("elements"), ["x", 1])
    return {"str": ["alpha", "beta"][variant % 2], "bool": bool(variant % 2), "int": 5 + variant, "float": 1.5,
            "dict": {"k": "v"} if variant % 2 else {}, "raw": [{"any": variant}], "path": "/tmp/x"}[kind]


def well_typed(spec, variant=0):
    """Every option with a well-typed value, or only the required ones (variant 0)."""
    if variant == 0:
        return dict((n, sample(o)) for n, o in spec.items() if o.get("required"))
    return dict((n, sample(o, variant)) for n, o in spec.items()
                if o.get("required") or (variant + len(n)) % 3)


def converted(option):
    """A value Ansible accepts after a conversion (or rejects): never the direct path."""
    if option.get("options"):
        return "a=1"
    return {"str": 42, "bool": "yes", "int": "7", "float": "2.5", "dict": "a=1", "list": "a,b", "raw": None,
            "path": "~/x"}[option.get("type", "str")]


def objects(spec, depth=0):
    required = dict((n, sample(o)) for n, o in spec.items() if o.get("required"))
    yield dict(required)
    for variant in range(4):
        yield well_typed(spec, variant)
    for name, option in spec.items():
        for value in (sample(option, 1), converted(option), None):
            yield dict(required, **{name: value})
        if option.get("choices"):
            yield dict(required, **{name: "not-a-choice"})
        if option.get("options") and depth < 2:
            for sub in objects(option["options"], depth + 1):
                if option["type"] == "list":
                    yield dict(required, **{name: [sample(option, 1)[0], sub]})
                else:
                    yield dict(required, **{name: sub})
            if option["type"] == "list":
                shared = sample(option)[0]
                yield dict(required, **{name: [shared, shared]})  # a YAML alias: one dict twice
                yield dict(required, **{name: ["not-a-dict"]})
    for a, b in itertools.combinations(sorted(spec), 2):  # rules between two options
        yield dict(required, **{a: sample(spec[a]), b: sample(spec[b])})
    yield dict(required, unknown_option="x")
    for name in required:
        yield dict((n, v) for n, v in required.items() if n != name)
    for name, option in spec.items():
        for alias in option.get("aliases", []):
            yield dict(required, **{alias: sample(option)})
            yield dict((n, v) for n, v in required.items() if n != name)


def ordered(value):
    """value with every dict as a list of its items: == then compares key order too."""
    if isinstance(value, dict):
        return [(k, ordered(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [ordered(v) for v in value]
    return value


def compare(spec, rules, raws):
    """Validate each object both ways; (objects that took the direct path, of which with sub-options)."""
    quick, full = SpecValidator(spec, **rules), ArgumentSpecValidator(spec, **rules)
    direct = with_sub = 0
    for raw in raws:
        before = copy.deepcopy(raw)
        got, want = quick.validate(raw), full.validate(copy.deepcopy(raw))
        assert raw == before, "the input was changed: %r" % raw
        assert got.error_messages == want.error_messages, raw
        if not want.error_messages:
            assert ordered(got.validated_parameters) == ordered(want.validated_parameters), raw
            assert got._no_log_values == want._no_log_values, raw
        if isinstance(got, QuickResult):
            direct += 1
            with_sub += any(isinstance(v, (dict, list)) and spec[k].get("options")
                            for k, v in got.validated_parameters.items())
    return direct, with_sub


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_direct_path_matches_ansible(kind):
    spec, rules = kind_rules(kind)
    direct, with_sub = compare(spec, rules, objects(spec))
    assert direct > 0, "no object took the direct path: the comparison proves nothing"
    if any(o.get("options") for o in spec.values()):
        assert with_sub > 0, "no object with sub-options took the direct path"


def test_direct_path_matches_ansible_on_every_feature():
    direct, with_sub = compare(FEATURES_SPEC, FEATURES_RULES, objects(FEATURES_SPEC))
    assert direct > 10 and with_sub > 5


def test_a_dict_reached_twice_goes_to_ansible():
    spec = {"repositories": {"type": "dict", "options": {"pattern": {"type": "str", "default": "**"}}},
            "params": {"type": "dict"}}
    shared = {}
    # Ansible fills in its (one) deep copy of the shared dict: params shows the default too
    for raw in ({"repositories": shared, "params": shared}, {"params": shared, "repositories": shared}):
        result = SpecValidator(spec).validate(raw)
        assert not isinstance(result, QuickResult)
        assert result.validated_parameters == {"repositories": {"pattern": "**"}, "params": {"pattern": "**"}}
    assert isinstance(SpecValidator(spec).validate({"repositories": {}, "params": {}}), QuickResult)


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


def test_a_default_ansible_would_convert_sends_every_object_to_ansible():
    spec = {"name": {"type": "str"}, "timeout": {"type": "int", "default": "30"}}
    validator = SpecValidator(spec)
    assert not validator.direct
    assert validator.validate({"name": "x"}).validated_parameters == {"name": "x", "timeout": 30}


@pytest.mark.parametrize("option", [{"type": "str", "required": True, "default": "x"},
                                    {"type": "str", "aliases": "other"}])
def test_a_spec_ansible_calls_broken_gets_ansibles_error(option):
    spec = {"name": {"type": "str"}, "broken": option}
    got, want = SpecValidator(spec).validate({"name": "x"}), ArgumentSpecValidator(spec).validate({"name": "x"})
    assert want.error_messages and got.error_messages == want.error_messages


def test_structure_file_validates_as_ansible_does(tmp_path):
    structure = {"users": [{"username": "alice", "sysadmin": "yes"}], "projects": [{"name": "p", "public": True}],
                 "config": {"settings": {"a": 1}}}
    path = tmp_path / "structure.json"
    path.write_text(json.dumps(structure))
    params = {"src": str(path), "purge": False}
    merged = state.with_structure_file(params)
    spec = state.state_argument_spec()
    want = ArgumentSpecValidator(dict((k, spec[k]) for k in state.STRUCTURE_KEYS)).validate(structure)
    assert merged == dict(params, **dict((k, v) for k, v in want.validated_parameters.items() if v is not None))
    path.write_text(json.dumps({"users": ["alice"]}))
    with pytest.raises(state.InvalidInput, match="Elements value for option 'users' is of type str"):
        state.with_structure_file(params)


def test_collector_leaves_out_only_what_existed_and_only_inside_the_block():
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError):
        with state.collector_skips_existing():
            assert gc.get_freeze_count() > 0
            garbage = []
            garbage.append(garbage)  # a cycle made inside the block is still collected
            del garbage
            assert gc.collect() > 0
            raise RuntimeError("the block fails")
    assert gc.get_freeze_count() == 0
