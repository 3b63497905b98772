"""Harbor's pattern semantics (Go doublestar): `*` and `?` stay within a path segment, `**`
crosses segments, `{a,b}` alternatives (nested), `[..]` classes. Used by replication filters,
retention and immutable-tag selectors."""

import re


def doublestar(pattern, name):
    return re.fullmatch(glob_regex(pattern), name) is not None


def glob_regex(pattern):
    """A doublestar glob as a regex: `**` crosses '/', `*` and `?` do not, `{a,b}` alternates."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "{":
            end, depth = i, 0
            while end < len(pattern):
                depth += {"{": 1, "}": -1}.get(pattern[end], 0)
                if depth == 0:
                    break
                end += 1
            if end >= len(pattern):
                out.append(re.escape(ch))
            else:
                out.append("(?:" + "|".join(glob_regex(part) for part in split_alternatives(pattern[i + 1:end])) + ")")
                i = end
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1:end]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def split_alternatives(text):
    parts, depth, current = [], 0, []
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts
