"""How many values JSON text holds at most, without parsing it: a parser builds each one. Pure.

Every value but the first in an array or object follows a comma, so commas and
openings bound the values (and the keys). Commas inside strings are text: when
the quick count is over the limit, the strings are walked to take theirs out,
one at a time (no copy of the text is made), and each string is a value or a
key itself, so text with more strings than the limit is over it at once.
"""

from __future__ import annotations

import re

_BYTE_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_TEXT_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')


def json_values(text: bytes | str, limit: int) -> int:
    """At least as many as ``text``'s values (or strings), exact about strings only when the quick count is over."""
    count = _openings_and_commas(text)
    if count <= limit:
        return count
    at_least_strings = _at_least_strings(text)  # each string is a value or a key: too many is over already
    if at_least_strings > limit:
        return at_least_strings
    strings = 0
    pattern = _BYTE_STRING if isinstance(text, bytes) else _TEXT_STRING
    for match in pattern.finditer(text):  # type: ignore[arg-type]  # the pattern matches the text's kind
        strings += 1
        if strings > limit:
            return strings
        count -= _openings_and_commas(match.group()) - 1
    return max(count, strings)


def _at_least_strings(text: bytes | str) -> int:
    """Two quotes a string, but for escaped ones (an escaped backslash before a closing quote counts too: fewer)."""
    if isinstance(text, bytes):
        return (text.count(b'"') - text.count(b'\\"')) // 2
    return (text.count('"') - text.count('\\"')) // 2


def _openings_and_commas(text: bytes | str) -> int:
    if isinstance(text, bytes):
        return text.count(b",") + text.count(b"{") + text.count(b"[") + 1
    return text.count(",") + text.count("{") + text.count("[") + 1
