"""How many values JSON text holds at most, without parsing it: a parser builds each one. Pure.

Every value but the first in an array or object follows a comma, so commas and
openings bound the values (and the keys). Commas inside strings are text: when
the quick count is over the limit, it is done again with the strings taken out.
"""

from __future__ import annotations

import re

_BYTE_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_TEXT_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')


def json_values(text: bytes | str, limit: int) -> int:
    """At least as many as ``text``'s values: exact about strings only when the quick count is over ``limit``."""
    count = _openings_and_commas(text)
    if count <= limit:
        return count
    if isinstance(text, bytes):
        return _openings_and_commas(_BYTE_STRING.sub(b'""', text))
    return _openings_and_commas(_TEXT_STRING.sub('""', text))


def _openings_and_commas(text: bytes | str) -> int:
    if isinstance(text, bytes):
        return text.count(b",") + text.count(b"{") + text.count(b"[") + 1
    return text.count(",") + text.count("{") + text.count("[") + 1
