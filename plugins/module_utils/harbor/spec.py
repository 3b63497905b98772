# -*- coding: utf-8 -*-
# Copyright: registryops.harbor maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validating thousands of objects against one argument spec (the state module's structure).

Ansible's ArgumentSpecValidator costs about 0.2 ms per object (it deep-copies and walks every
option with its conversions), which made validation a third of a no-op run over 11,000
objects. Most declared objects already carry exactly the declared types: for those the
validated result is the given values plus the spec's defaults (sub-options included), and the
spec's cross-option rules are checked with Ansible's own check functions. Anything else (an
alias, a value that needs a conversion, an explicit None, an error to report) goes through
Ansible's validator, so the results and messages are Ansible's. The spec is compiled once per
validator into what the direct path checks per option. tests/unit/test_spec.py checks both
paths agree.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.collections import is_iterable
from ansible.module_utils.common.validation import (
    check_mutually_exclusive,
    check_required_by,
    check_required_if,
    check_required_one_of,
    check_required_together,
)

# declared type -> the Python type a value must already have to skip conversion
EXACT_TYPES = {"str": str, "bool": bool, "int": int, "float": float, "list": list, "dict": dict}
# defaults Ansible hands out as they are; any other default is copied for each object
IMMUTABLE = (str, bool, int, float)


class QuickResult(object):
    """The parts of Ansible's ValidationResult the callers read."""

    def __init__(self, parameters, no_log_values):
        self.validated_parameters = parameters
        self._no_log_values = no_log_values
        self.error_messages = []


class OptionCheck(object):
    """What the direct path checks for one option of the spec."""

    __slots__ = ("cls", "elements", "choices", "secret", "sub", "class_only")

    def __init__(self, cls, elements, choices, secret, sub):
        self.cls = cls              # exact class a given value must have (None: type raw, any class)
        self.elements = elements    # exact class of every element of a list
        self.choices = choices
        self.secret = secret        # no_log: the value is a secret to hide
        self.sub = sub              # SpecValidator of the sub-options (a dict, or each dict of a list)
        # most options: a value of the right class is all there is to check
        self.class_only = cls is not None and elements is None and choices is None and not secret and sub is None


class SpecValidator(object):
    """ArgumentSpecValidator(spec, **rules).validate(), with a direct path for well-typed objects."""

    def __init__(self, spec, mutually_exclusive=None, required_together=None, required_one_of=None,
                 required_if=None, required_by=None):
        self.spec = spec
        self.rule_kwargs = dict(mutually_exclusive=mutually_exclusive, required_together=required_together,
                                required_one_of=required_one_of, required_if=required_if, required_by=required_by)
        self._full = None
        self.mutually_exclusive = mutually_exclusive
        # every option some mutual exclusion names: with fewer than two of them given, no group can
        # count two (a group given as one string is one name to Ansible too)
        self.exclusive_names = set()
        for group in mutually_exclusive or []:
            self.exclusive_names.update(group if is_iterable(group) else [group])
        # the rules Ansible checks once the defaults are in, in its order
        self.rules = [(check, terms) for check, terms in (
            (check_required_together, required_together), (check_required_one_of, required_one_of),
            (check_required_if, required_if), (check_required_by, required_by)) if terms]
        self.required = tuple(name for name, option in spec.items() if option.get("required"))
        self.checks = {}
        self.defaults = []            # (name, default, copy it, no_log), in the spec's order
        self.unset = []               # options without a default: None unless given
        # options that must go through Ansible whenever they are absent (env fallbacks, sub-specs that
        # fill in defaults) make every object take the full path
        self.direct = not any("fallback" in option or option.get("apply_defaults") for option in spec.values())
        for name, option in spec.items():
            if spec_error(option):
                self.direct = False
            check = option_check(option)
            if check is not None:
                self.checks[name] = check
            default = option.get("default")
            if default is None:
                self.unset.append(name)
                continue
            # Ansible converts and checks a default like a given value: the direct path takes only
            # defaults that need neither (and none that a sub-spec would fill in)
            if check is None or check.sub is not None or self._accept(check, default, set()) is None:
                self.direct = False
            self.defaults.append((name, default, not isinstance(default, IMMUTABLE), bool(option.get("no_log"))))
        self.with_options = set(name for name, check in self.checks.items() if check.sub is not None)

    @property
    def full(self):
        """Ansible's validator, built when an object first needs it."""
        if self._full is None:
            self._full = ArgumentSpecValidator(self.spec, **self.rule_kwargs)
        return self._full

    def validate(self, raw):
        quick = self.quick(raw)
        # Ansible fills in sub-options in place, in its deep copy of the object: a dict reached twice
        # there (a YAML alias) is one dict, filled in twice. Only Ansible can say what that gives.
        if quick is None or (self.with_options.intersection(raw) and reached_twice(raw, set())):
            return self.full.validate(raw)
        return QuickResult(*quick)

    def quick(self, raw):
        """(validated parameters, no_log values) exactly as Ansible's validator gives them, or None
        when only Ansible's validator can say (a conversion, an alias, an error, ...)."""
        if not self.direct:
            return None
        for name in self.required:
            if raw.get(name) is None:
                return None
        checks = self.checks
        params = {}                   # the given options first, in their order, as Ansible keeps them
        no_log = set()
        for name, value in raw.items():
            check = checks.get(name)
            if check is None:
                return None
            if check.class_only:
                if value.__class__ is not check.cls:  # None included
                    return None
            else:
                value = self._accept(check, value, no_log)
                if value is None:
                    return None
            params[name] = value
        # the order of Ansible's validator: mutual exclusion on the given options, the other rules
        # once the defaults are in, then None for every option still unset
        try:
            if self.mutually_exclusive and len(self.exclusive_names.intersection(params)) > 1:
                check_mutually_exclusive(self.mutually_exclusive, params)
            for name, default, mutable, secret in self.defaults:
                if name not in params:
                    params[name] = copy.deepcopy(default) if mutable else default
                    if secret and default:
                        no_log.add(default)
            for check_rule, terms in self.rules:
                check_rule(terms, params)
        except TypeError:  # let Ansible word the error
            return None
        for name in self.unset:
            if name not in params:
                params[name] = None
        return params, no_log

    @staticmethod
    def _accept(check, value, no_log):
        """The validated value of one option when Ansible would keep it as it is (sub-options filled
        in), its secrets added to no_log; None when the value needs Ansible's validator."""
        if value is None:  # Ansible converts an explicit None in places (e.g. against choices)
            return None
        # exact classes: a bool is an int to isinstance(), not to Ansible's int check
        if check.cls is not None and value.__class__ is not check.cls:
            return None
        if check.elements is not None:
            for element in value:
                if element.__class__ is not check.elements:
                    return None
        choices = check.choices
        if choices is not None:
            if isinstance(value, list):
                for element in value:
                    if element not in choices:
                        return None
            elif value not in choices:
                return None
        if check.secret:
            if value.__class__ is not str:
                return None
            if value:
                no_log.add(value)
        sub = check.sub
        if sub is not None:
            if check.elements is None:
                done = sub.quick(value)
                if done is None:
                    return None
                no_log.update(done[1])
                return done[0]
            validated = []
            for element in value:
                done = sub.quick(element)
                if done is None:
                    return None
                no_log.update(done[1])
                validated.append(done[0])
            return validated
        return value


def reached_twice(value, seen):
    """True when one dict or list is found twice in value (`seen`: the ids of those found so far)."""
    if isinstance(value, dict):
        inner = value.values()
    elif isinstance(value, list):
        inner = value
    elif isinstance(value, tuple):
        return any(reached_twice(v, seen) for v in value)
    else:
        return False
    if id(value) in seen:
        return True
    seen.add(id(value))
    return any(reached_twice(v, seen) for v in inner)


def spec_error(option):
    """True for an option Ansible's validator reports as an internal error on every object."""
    aliases = option.get("aliases")
    return bool((option.get("default") is not None and option.get("required")) or
                (aliases is not None and (not is_iterable(aliases) or isinstance(aliases, (bytes, str)))))


def option_check(option):
    """How the direct path checks one option; None when every value of it needs Ansible's validator."""
    kind = option.get("type", "str")
    if kind == "raw":
        cls = None
    elif kind in EXACT_TYPES:
        cls = EXACT_TYPES[kind]
    else:  # path, jsonarg, bits, a callable...: conversions
        return None
    elements = None
    if kind == "list":
        elements = EXACT_TYPES.get(option.get("elements"))
        if elements is None:
            return None
    elif option.get("elements") is not None:
        return None
    choices = option.get("choices")
    if choices is not None and not isinstance(choices, (list, tuple)):
        return None
    sub = None
    if option.get("options") is not None:
        if kind != "dict" and elements is not dict:
            return None
        sub = SpecValidator(option["options"], mutually_exclusive=option.get("mutually_exclusive"),
                            required_together=option.get("required_together"),
                            required_one_of=option.get("required_one_of"), required_if=option.get("required_if"),
                            required_by=option.get("required_by"))
        if not sub.direct:
            return None
    return OptionCheck(cls, elements, choices, bool(option.get("no_log")), sub)
