"""What a setting is: declared once, read the one way, documented from its declaration.

A ``Setting`` holds a keyword, the environment variables that stand in for it,
how its text is parsed, its default and one paragraph of documentation. The
exporter's settings are a tuple of them (``_config.SETTINGS``), which
``load_config``, the constructor's docstring and the documentation's tests all
read, so a setting is added in one place and cannot be forgotten in another.
"""

from __future__ import annotations

import inspect
import os
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any


def read_variable(name: str) -> str | None:
    """The variable's value, stripped; None when it is unset or blank."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def unchanged(name: str, value: Any) -> Any:
    """A keyword's value as its check left it."""
    return value


@dataclass(frozen=True)
class Setting:
    """One setting: a keyword, else the first of its variables that is set, else its default."""

    keyword: str
    doc: str
    """What it does, for the constructor's docstring, which adds the variables and the default."""
    variables: tuple[str, ...]
    """Read in this order when the keyword is not given; none for a setting no variable sets."""
    parse: Callable[[str, str], Any]
    """A variable's text (or a keyword's, as text) to the value, or a ValueError naming the first argument."""
    default: Any = None
    default_factory: Callable[[], Any] | None = None
    """Makes the default anew each time (a UUID per exporter); ``default`` is then unused."""
    documented_default: str = "none"
    """The default as the docstring and docs/configuration.md state it (reStructuredText's ````code````)."""
    check: Callable[[str, object], object] = unchanged
    """A keyword as given, checked for its type (a configuration file's YAML gives numbers, lists, maps),
    before any setting is read; None makes it count as not given. Errors name the keyword."""
    parse_keyword: Callable[[str, Any], Any] | None = None
    """A checked keyword to the value; by default ``parse`` of its text."""
    in_config: bool = True
    """``ExporterConfig`` has a field of the keyword's name holding the value; False when the value only
    goes into another field (``spool_dir`` into ``spool``), by code in ``load_config``."""

    def value(self, given: Mapping[str, Any]) -> Any:
        """The keyword among the checked ``given`` ones, else the first variable set, else the default."""
        keyword_value = given.get(self.keyword)
        if keyword_value is not None:
            if self.parse_keyword is not None:
                return self.parse_keyword(self.keyword, keyword_value)
            return self.parse(self.keyword, str(keyword_value))
        for variable in self.variables:
            raw = read_variable(variable)
            if raw is not None:
                return self.parse(variable, raw)
        return self.default_factory() if self.default_factory is not None else self.default

    def described(self) -> str:
        """What the constructor's docstring says of it: what it does, then where its default comes from."""
        if not self.variables:
            return f"{self.doc} No variable: default, {self.documented_default}."
        variables = ", else ".join(f"``{variable}``" for variable in self.variables)
        return f"{self.doc} Default: {variables}, else {self.documented_default}."


def checked_keywords(settings: Iterable[Setting], options: Mapping[str, object], caller: str) -> dict[str, Any]:
    """The keywords given (None ones left out), each checked for its type; a TypeError for one that is no setting.

    The TypeError is Python's own for an unexpected keyword argument, naming ``caller``.
    """
    by_keyword = {setting.keyword: setting for setting in settings}
    for keyword in options:
        if keyword not in by_keyword:
            raise TypeError(f"{caller}() got an unexpected keyword argument {keyword!r}")
    given: dict[str, Any] = {}
    for keyword, setting in by_keyword.items():
        value = options.get(keyword)
        checked = setting.check(keyword, value) if value is not None else None
        if checked is not None:
            given[keyword] = checked
    return given


_WIDTH = 100


def with_arguments(doc: str, settings: Iterable[Setting], more: Iterable[tuple[str, str]] = ()) -> str:
    """``doc`` and its ``Args:`` section: one entry a setting, then the ``more`` (name, text) entries."""
    entries = [(setting.keyword, setting.described()) for setting in settings] + list(more)
    lines = [inspect.cleandoc(doc), "", "Args:"]
    for name, text in entries:
        lines += textwrap.wrap(
            " ".join(text.split()),
            _WIDTH,
            initial_indent=f"    {name}: ",
            subsequent_indent=" " * 8,
            break_long_words=False,
            break_on_hyphens=False,
        )
    return "\n".join(lines)
