"""Request-body checks with Harbor's (go-swagger's) wording: every bad input is a 400, never a 500."""

import json
import re

from .errors import bad_request

MISSING = object()
RESOURCE_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")

_TYPE_NAMES = {bool: "boolean", int: "integer", str: "string", dict: "object", list: "array", float: "number"}


def _type_name(value):
    if value is None:
        return "null"
    for py, name in _TYPE_NAMES.items():
        if type(value) is py:  # bool is an int subclass: compare exact types
            return name
    return type(value).__name__


def parse_json(raw, required=True):
    if not raw or not raw.strip():
        if required:
            raise bad_request("request body is required")
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"parsing body body from \"\" failed, because {exc}") from None


class Body:
    """Typed access to a JSON object; `where` prefixes field paths in messages."""

    def __init__(self, data, where="body"):
        if not isinstance(data, dict):
            raise bad_request(f"{where} must be of type object: \"{_type_name(data)}\"")
        self.data = data
        self.where = where

    @classmethod
    def of(cls, request, required=True):
        data = parse_json(request.get_data(as_text=True), required)
        return cls({} if data is None else data)

    def has(self, name):
        return name in self.data and self.data[name] is not None

    def _get(self, name, required):
        """The value, or MISSING when absent or null."""
        if name not in self.data or self.data[name] is None:
            if required:
                raise bad_request(f"{name} in {self.where} is required")
            return MISSING
        return self.data[name]

    def _check_type(self, name, value, *types):
        if not any(type(value) is t for t in types):
            expected = _TYPE_NAMES[types[0]]
            raise bad_request(f"{name} in {self.where} must be of type {expected}: \"{_type_name(value)}\"")

    def str(self, name, required=False, default=None, min_len=None, max_len=None, pattern=None, choices=None):
        value = self._get(name, required)
        if value is MISSING:
            return default
        self._check_type(name, value, str)
        if min_len is not None and len(value) < min_len:
            raise bad_request(f"{name} in {self.where} should be at least {min_len} chars long")
        if max_len is not None and len(value) > max_len:
            raise bad_request(f"{name} in {self.where} should be at most {max_len} chars long")
        if pattern is not None and not re.match(pattern, value):
            raise bad_request(f"{name} in {self.where} should match '{pattern}'")
        if choices is not None and value not in choices:
            raise bad_request(f"{name} in {self.where} should be one of {sorted(choices)}")
        return value

    def bool(self, name, required=False, default=None):
        value = self._get(name, required)
        if value is MISSING:
            return default
        self._check_type(name, value, bool)
        return value

    def int(self, name, required=False, default=None, minimum=None, maximum=None):
        value = self._get(name, required)
        if value is MISSING:
            return default
        self._check_type(name, value, int)
        if minimum is not None and value < minimum:
            raise bad_request(f"{name} in {self.where} should be greater than or equal to {minimum}")
        if maximum is not None and value > maximum:
            raise bad_request(f"{name} in {self.where} should be less than or equal to {maximum}")
        return value

    def obj(self, name, required=False):
        value = self._get(name, required)
        if value is MISSING:
            return None
        self._check_type(name, value, dict)
        return Body(value, f"{self.where}.{name}")

    def mapping(self, name):
        """The raw dict under `name` (type-checked), or {} when absent."""
        body = self.obj(name)
        return body.data if body is not None else {}

    def list(self, name, required=False, item_type=None):
        value = self._get(name, required)
        if value is MISSING:
            return None
        self._check_type(name, value, list)
        if item_type is not None:
            for index, item in enumerate(value):
                if type(item) is not item_type:
                    raise bad_request(
                        f"{name}.{index} in {self.where} must be of type {_TYPE_NAMES[item_type]}: \"{_type_name(item)}\""
                    )
        return value

    def objs(self, name, required=False):
        """A list of objects, each wrapped as Body."""
        items = self.list(name, required, dict) or []
        return [Body(item, f"{self.where}.{name}.{i}") for i, item in enumerate(items)]


def resource_name(value, what="name", max_len=255):
    if not RESOURCE_NAME.match(value or "") or len(value) > max_len:
        raise bad_request(f"{what} {value!r} is invalid: must match ^[a-z0-9]+(?:[._-][a-z0-9]+)*$ and be at most {max_len} characters")
    return value
