"""Conformance against Harbor's swagger (../shared/harbor/swagger-v2.15.2.yaml or $HARBOR_SWAGGER).

check() is called on every test client response: a JSON body of an operation the spec
knows must validate against the schema it gives for that status; a request body the
emulator accepted (2xx) must validate against the operation's body parameter schema.
Paths and operations seen are recorded so a test can report coverage.
"""

import os
import re
from urllib.parse import urlparse

import yaml

_SPEC = None
SEEN = set()


def spec_path():
    if os.environ.get("HARBOR_SWAGGER"):
        return os.environ["HARBOR_SWAGGER"]
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    return os.path.join(os.path.dirname(repo), "shared", "harbor", "swagger-v2.15.2.yaml")


def load():
    global _SPEC
    if _SPEC is None:
        path = spec_path()
        if not os.path.exists(path):
            _SPEC = {}
            return _SPEC
        with open(path) as handle:
            raw = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        ops = []
        for template, item in raw["paths"].items():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template.rstrip("/")))
            specificity = template.count("{")
            for method, op in item.items():
                if method.upper() in ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"):
                    ops.append((specificity, re.compile("^" + pattern + "/?$"), method.upper(), template, op))
        ops.sort(key=lambda o: o[0])  # literal segments win over parameters
        _SPEC = {"definitions": raw.get("definitions", {}), "ops": ops, "base": raw.get("basePath", "/api/v2.0")}
    return _SPEC


def find(method, path):
    spec = load()
    if not spec:
        return None, None
    base = spec["base"]
    if not path.startswith(base):
        return None, None
    rel = path[len(base):].rstrip("/") or "/"
    for _, pattern, op_method, template, op in spec["ops"]:
        if op_method == method and pattern.match(rel):
            return template, op
    return None, None


_DEFS = None
_VALIDATORS = {}


def _validator(schema):
    """A cached draft-4 validator for a swagger 2 schema (x-nullable honoured)."""
    import jsonschema

    global _DEFS
    key = id(schema)
    if key not in _VALIDATORS:
        if _DEFS is None:
            _DEFS = _nullable(load()["definitions"])
        _VALIDATORS[key] = jsonschema.Draft4Validator({"definitions": _DEFS, **_nullable(schema)})
    return _VALIDATORS[key]


def _nullable(node):
    if isinstance(node, dict):
        out = {k: _nullable(v) for k, v in node.items()}
        if out.get("x-nullable") and "type" in out:
            out["type"] = [out["type"], "null"]
        if out.get("additionalProperties") == {"type": "object"}:
            # go-swagger makes this map[string]interface{}: Harbor takes any value there
            # (retention params {"latestPushedK": 10}, schedule parameters {"dry_run": true})
            out["additionalProperties"] = {}
        return out
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


def check(method, url, request_json, response):
    import jsonschema

    path = urlparse(url).path
    template, op = find(method, path)
    if op is None:
        return
    SEEN.add((method, template, response.status_code))
    status = str(response.status_code)
    if 200 <= response.status_code < 300 and request_json is not None:
        for param in op.get("parameters", []):
            if param.get("in") == "body" and "schema" in param:
                try:
                    _validator(param["schema"]).validate(request_json)
                except jsonschema.ValidationError as exc:
                    raise AssertionError(f"emulator accepted a request body the spec rejects: {method} {template}: "
                                         f"{exc.message}") from None
    responses = op.get("responses", {})
    declared = responses.get(status)
    if declared is None:
        if response.status_code >= 400:
            # Harbor's error body shape holds for every error status.
            body = response.json()
            assert isinstance(body.get("errors"), list) and body["errors"][0].get("code"), body
            return
        raise AssertionError(f"{method} {template} answered {status}, which the spec does not declare "
                             f"({sorted(responses)})")
    schema = declared.get("schema")
    if schema is None or method == "HEAD" or not response.content:
        return
    try:
        body = response.json()
    except ValueError:
        if schema.get("type") == "string":
            return
        raise AssertionError(f"{method} {template}: body is not JSON: {response.text[:200]}") from None
    try:
        _validator(schema).validate(body)
    except jsonschema.ValidationError as exc:
        raise AssertionError(f"{method} {template} {status}: response does not match the spec: {exc.message} "
                             f"at {list(exc.absolute_path)}") from None
