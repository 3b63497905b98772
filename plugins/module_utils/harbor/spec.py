# -*- coding: utf-8 -*-
# Copyright: registryops.harbor maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validating thousands of objects against one argument spec (the state module's structure).

Ansible's ArgumentSpecValidator costs about 0.2 ms per object (it deep-copies and walks every
option with its conversions), which made validation a third of a no-op run over 11,000
objects. Most declared objects already carry exactly the declared types: for those the
validated result is the given values plus the spec's defaults, and the spec's cross-option
rules are checked with Ansible's own check functions. Anything else (an alias, a value that
needs a conversion, a sub-spec, an error to report) goes through Ansible's validator, so the
results and messages are Ansible's. tests/unit/test_spec.py checks both paths agree.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.validation import (
    check_mutually_exclusive,
    check_required_by,
    check_required_if,
    check_required_one_of,
    check_required_together,
)

# declared type -> the Python type a value must already have to skip conversion
EXACT_TYPES = {"str": str, "bool": bool, "int": int, "float": float, "list": list, "dict": dict}


class QuickResult(object):
    """The parts of Ansible's ValidationResult the callers read."""

    def __init__(self, parameters, no_log_values):
        self.validated_parameters = parameters
        self._no_log_values = no_log_values
        self.error_messages = []


class SpecValidator(object):
    """ArgumentSpecValidator(spec, **rules).validate(), with a direct path for well-typed objects."""

    def __init__(self, spec, mutually_exclusive=None, required_together=None, required_one_of=None,
                 required_if=None, required_by=None):
        self.full = ArgumentSpecValidator(
            spec, mutually_exclusive=mutually_exclusive, required_together=required_together,
            required_one_of=required_one_of, required_if=required_if, required_by=required_by)
        self.spec = spec
        self.rules = (mutually_exclusive, required_together, required_one_of, required_if, required_by)
        self.required = [name for name, option in spec.items() if option.get("required")]
        # options that must go through Ansible whenever they are absent (env fallbacks, sub-specs
        # that fill in defaults) make every object take the full path
        self.always_full = any("fallback" in option or option.get("apply_defaults") for option in spec.values())

    def validate(self, raw):
        if self.always_full or not self._well_typed(raw):
            return self.full.validate(raw)
        # the order of Ansible's validator: mutual exclusion on the given options, the other
        # rules once the defaults are in, then None for every option still unset
        params = dict(raw)
        no_log = set(raw[name] for name in raw if raw[name] and self.spec[name].get("no_log"))
        try:
            check_mutually_exclusive(self.rules[0], params)
            for name, option in self.spec.items():
                if name not in params and option.get("default") is not None:
                    params[name] = copy.deepcopy(option["default"])
                    if option.get("no_log") and params[name]:
                        no_log.add(params[name])
            self._check_rules(params)
        except TypeError:  # let Ansible word the error
            return self.full.validate(raw)
        for name in self.spec:
            params.setdefault(name, None)
        return QuickResult(params, no_log)

    def _well_typed(self, raw):
        for name in self.required:
            if raw.get(name) is None:
                return False
        for name, value in raw.items():
            option = self.spec.get(name)
            if option is None or "options" in option:
                return False
            if value is None:  # Ansible converts an explicit None in places (e.g. against choices)
                return False
            kind = option.get("type", "str")
            # exact classes: a bool is an int to isinstance(), not to Ansible's int check
            if kind != "raw" and value.__class__ is not EXACT_TYPES.get(kind):
                return False
            if option.get("no_log") and not isinstance(value, str):
                return False
            if kind == "list":
                elements = EXACT_TYPES.get(option.get("elements"))
                if elements is None or any(element.__class__ is not elements for element in value):
                    return False
            choices = option.get("choices")
            if choices is not None and any(v not in choices for v in (value if kind == "list" else [value])):
                return False
        return True

    def _check_rules(self, params):
        required_together, required_one_of, required_if, required_by = self.rules[1:]
        check_required_together(required_together, params)
        check_required_one_of(required_one_of, params)
        check_required_if(required_if, params)
        check_required_by(required_by, params)
