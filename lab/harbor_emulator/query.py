"""Harbor's list conventions: `q` filters, `sort`, `page`/`page_size`, `X-Total-Count`, `Link`.

q syntax (Harbor's lib/q): comma-separated `key=value` terms where value is
`v` (exact), `~v` (fuzzy: substring), `[a~b]` (range), `{a b}` (union: any of) or `(a b)`
(intersection: all of), as Harbor's swagger describes them.
"""

import operator
from urllib.parse import urlencode

from .errors import bad_request

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100


def _int_param(args, name, default, minimum, maximum=None):
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} in query must be of type int64: \"{raw}\"") from None
    if value < minimum:
        raise bad_request(f"{name} in query should be greater than or equal to {minimum}")
    if maximum is not None and value > maximum:
        raise bad_request(f"{name} in query should be less than or equal to {maximum}")
    return value


def page_params(args):
    page = _int_param(args, "page", 1, 1)
    page_size = _int_param(args, "page_size", DEFAULT_PAGE_SIZE, 0, MAX_PAGE_SIZE)
    return page, page_size


def parse_q(raw):
    """Return [(key, kind, value)] where kind is exact|fuzzy|range|and|or."""
    terms = []
    if not raw:
        return terms
    for part in _split_terms(raw):
        if not part:
            continue
        if "=" not in part:
            raise bad_request(f'invalid query: "{part}" is not in key=value form')
        key, value = part.split("=", 1)
        key = key.strip()
        if not key:
            raise bad_request(f'invalid query: empty key in "{part}"')
        if value.startswith("~"):
            terms.append((key, "fuzzy", value[1:]))
        elif value.startswith("[") and value.endswith("]") and "~" in value:
            low, high = value[1:-1].split("~", 1)
            terms.append((key, "range", (low.strip() or None, high.strip() or None)))
        elif value.startswith("{") and value.endswith("}"):
            terms.append((key, "or", value[1:-1].split()))
        elif value.startswith("(") and value.endswith(")"):
            terms.append((key, "and", value[1:-1].split()))
        else:
            terms.append((key, "exact", value))
    return terms


def _split_terms(raw):
    """Split on commas that are not inside brackets."""
    depth, current, out = 0, [], []
    for ch in raw:
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    out.append("".join(current).strip())
    return out


def _as_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _compare_key(value):
    try:
        return (0, float(value))
    except (TypeError, ValueError):
        return (1, str(value))


def matches(item_value, kind, expected):
    if kind == "exact":
        return _as_text(item_value) == expected
    if kind == "fuzzy":
        return expected in _as_text(item_value)
    if kind == "range":
        low, high = expected
        key = _compare_key(item_value)
        return (low is None or key >= _compare_key(low)) and (high is None or key <= _compare_key(high))
    values = item_value if isinstance(item_value, (list, tuple, set)) else [item_value]
    texts = {_as_text(v) for v in values}
    if kind == "and":
        return all(v in texts for v in expected)
    return any(v in texts for v in expected)  # or


def fields(*keys):
    """q/sort getters for fields that are plain document keys."""
    return {key: operator.itemgetter(key) for key in keys}


def filter_items(items, q_raw, fields):
    """Filter with q. `fields` maps each filterable key to a getter; unknown keys are a 400."""
    terms = parse_q(q_raw)
    for key, _, _ in terms:
        if key not in fields:
            raise bad_request(f'invalid query: key "{key}" is not supported')
    if not terms:
        return items
    return [item for item in items if all(matches(fields[key](item), kind, value) for key, kind, value in terms)]


def sort_items(items, sort_raw, fields):
    if not sort_raw:
        return items
    for key in reversed([k.strip() for k in sort_raw.split(",") if k.strip()]):
        reverse = key.startswith("-")
        key = key.lstrip("-")
        if key not in fields:
            raise bad_request(f'invalid sort: key "{key}" is not supported')
        items = sorted(items, key=lambda item: _compare_key(fields[key](item)), reverse=reverse)
    return items


def paginate(request, items):
    """Slice one page and return (page_items, headers) the way Harbor does."""
    page, page_size = page_params(request.args)
    if page_size == 0:  # Harbor: page_size 0 means "all"
        return items, {"X-Total-Count": str(len(items))}
    start = (page - 1) * page_size
    return items[start:start + page_size], page_headers(request, len(items))


def window(request):
    """(offset, limit) of the requested page, for a listing that pages in the database;
    limit None means all (page_size 0)."""
    page, page_size = page_params(request.args)
    return ((page - 1) * page_size, page_size) if page_size else (0, None)


def page_headers(request, total):
    """X-Total-Count and Link (prev/next) for the requested page of `total` items."""
    page, page_size = page_params(request.args)
    headers = {"X-Total-Count": str(total)}
    if page_size == 0:
        return headers
    start = (page - 1) * page_size
    links = []
    base = {k: v for k, v in request.args.items() if k not in ("page", "page_size")}

    def link(p, rel):
        qs = urlencode({**base, "page": p, "page_size": page_size})
        return f'<{request.path}?{qs}>; rel="{rel}"'

    if page > 1:
        links.append(link(page - 1, "prev"))
    if start + page_size < total:
        links.append(link(page + 1, "next"))
    if links:
        headers["Link"] = " , ".join(links)
    return headers


def listing(request, items, fields, sort_fields=None):
    """q filter → sort → paginate; returns (page_items, headers)."""
    items = filter_items(items, request.args.get("q"), fields)
    items = sort_items(items, request.args.get("sort"), sort_fields or fields)
    return paginate(request, items)
