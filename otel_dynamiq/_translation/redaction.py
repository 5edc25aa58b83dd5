"""Mask values stored under keys that name secrets, before a run leaves the process.

Pure: no I/O. A key is secret when, after its last separator (``_``, ``-``,
``.``), or whole, it is one of the names below or one the user adds, in any
case: ``api_key``, ``openai_api_key``, ``apiKey`` and
``http.request.header.authorization`` are secret; ``prompt_tokens`` and
``cache_key`` are not, so usage and configuration stay readable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

DEFAULT_SECRET_NAMES = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "access_key",
    "private_key",
    "credentials",
    "cookie",
)
MASK = "[redacted]"
_CACHE_LIMIT = 8192


TOO_DEEP = "[too deeply nested to check for secrets: left out]"
MAX_DEPTH = 100
"""Levels of nesting checked for secrets; a value deeper is replaced by ``TOO_DEEP`` (Python's stack holds
about 500 such levels, and no input or output a person reads is nested a hundred deep)."""


class Redactor:
    """Replaces the values of secret-looking keys, anywhere in nested dicts and lists."""

    def __init__(self, extra_names: Iterable[str] = ()) -> None:
        names = sorted({name.strip().lower() for name in (*DEFAULT_SECRET_NAMES, *extra_names) if name.strip()})
        alternatives = "|".join(re.escape(name) for name in names)
        self._pattern = re.compile(rf"(?:^|.*[_.\-])(?:{alternatives})$", re.IGNORECASE)
        self._verdicts: dict[str, bool] = {}

    def is_secret(self, key: str) -> bool:
        verdict = self._verdicts.get(key)
        return self._judge(key) if verdict is None else verdict

    def _judge(self, key: Any) -> bool:
        # Runs meet the same few keys over and over: remember the verdicts, within a bound.
        if len(self._verdicts) >= _CACHE_LIMIT:
            self._verdicts.clear()
        verdict = self._verdicts[key] = isinstance(key, str) and self._pattern.match(key) is not None
        return verdict

    def redact(self, value: Any) -> Any:
        """The value with secrets masked; the very same object when it holds none (nothing is copied then).

        Values come from JSON parsing, so exact ``dict`` and ``list`` types are
        checked: this walk runs over every input and output the exporter sends.
        """
        kind = type(value)
        if kind is dict:
            return self._redact_dict(value, MAX_DEPTH)
        if kind is list:
            return self._redact_list(value, MAX_DEPTH)
        return value

    def _redact_dict(self, value: dict[Any, Any], depth: int) -> Any:
        if depth <= 0:  # deeper than any secret is checked: the value is left out, its siblings stay
            return TOO_DEEP
        verdicts = self._verdicts
        copy: dict[Any, Any] | None = None
        for key, item in value.items():
            verdict = verdicts.get(key)
            if verdict is None:
                verdict = self._judge(key)
            if verdict and item is not None:
                masked: Any = MASK
            else:
                kind = type(item)
                if kind is dict:
                    masked = self._redact_dict(item, depth - 1)
                elif kind is list:
                    masked = self._redact_list(item, depth - 1)
                else:
                    continue
                if masked is item:
                    continue
            if copy is None:
                copy = dict(value)
            copy[key] = masked
        return value if copy is None else copy

    def _redact_list(self, value: list[Any], depth: int) -> Any:
        if depth <= 0:
            return TOO_DEEP
        copied: list[Any] | None = None
        for index, item in enumerate(value):
            kind = type(item)
            if kind is dict:
                masked: Any = self._redact_dict(item, depth - 1)
            elif kind is list:
                masked = self._redact_list(item, depth - 1)
            else:
                continue
            if masked is not item:
                if copied is None:
                    copied = list(value)
                copied[index] = masked
        return value if copied is None else copied
