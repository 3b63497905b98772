# -*- coding: utf-8 -*-
# Copyright: registryops.harbor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Storage sizes as users write them ("50GiB", "500MB", "-1", "unlimited") <-> bytes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_UNITS = {
    "": 1, "b": 1,
    "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3, "tib": 1024 ** 4, "pib": 1024 ** 5,
    "kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3, "tb": 1000 ** 4, "pb": 1000 ** 5,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
UNLIMITED = -1


def parse_size(text):
    """Bytes for a size; -1 for unlimited. Raises ValueError with the accepted forms."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        raw = str(text).strip()
        if raw.lower() in ("-1", "unlimited"):
            return UNLIMITED
        match = _SIZE.match(raw)
        unit = match.group(2).lower() if match else None
        if not match or unit not in _UNITS:
            raise ValueError(
                "invalid size %r: use a number with an optional unit B, KiB, MiB, GiB, TiB, PiB (powers of 1024) "
                "or KB, MB, GB, TB, PB (powers of 1000), or -1/unlimited" % (text,))
        value = int(float(match.group(1)) * _UNITS[unit])
    if value == UNLIMITED:
        return UNLIMITED
    if value <= 0:
        raise ValueError("invalid size %r: must be positive, or -1/unlimited" % (text,))
    return value


def format_size(value):
    """A readable form for diffs: the largest binary unit that divides exactly."""
    if value == UNLIMITED:
        return "unlimited"
    for unit in ("PiB", "TiB", "GiB", "MiB", "KiB"):
        factor = _UNITS[unit.lower()]
        if value % factor == 0:
            return "%d%s" % (value // factor, unit)
    return "%dB" % value
