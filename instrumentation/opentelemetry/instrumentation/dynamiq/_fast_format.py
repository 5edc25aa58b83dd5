"""Dynamiq's ``format_value``, without its per-leaf machinery for plain JSON-like values.

``format_value`` walks every value Dynamiq traces or logs: a node's input
and output, each dependency's result, a flow's and a workflow's output (which
repeat every node's). For each leaf it does not recognise it builds
``RootModel[type(value)](value).model_dump()``, and for each container entry
it formats a path string that nothing reads. For ``str``, ``int``,
``float``, ``bool`` and ``None`` the ``RootModel`` round trip gives back the
value itself, but pydantic (2.12) keeps its cache of parametrized classes in
a ``ContextVar``; Dynamiq runs every node in a copied context, so in a fresh
thread or task the next node builds ``RootModel[str]`` (a full schema build)
again. Under concurrent load that was about half of the CPU a traced run
spent; after it, the walk itself was the largest part of the instrumented
asyncio profile (docs/performance.md).

While instrumented, ``format_value`` formats exact ``dict``, ``list``,
``tuple`` and ``set`` containers and those five scalar types in one plain
recursive walk that does what Dynamiq's does for them: new containers of the
same types, keys in ``TRACING_REDACTED_KEYS`` replaced when formatting for
tracing, lists cut to ``truncate_limit`` when formatting for tracing, scalars
as they are. Anything else (subclasses, models, results, bytes, exceptions,
callables) is handed to Dynamiq's own function with the arguments it would
have been given, path included. It is installed in every module that holds a
reference to it, so untraced formatting benefits too.
``tests/instrumentation/test_fast_format.py`` shows the output is the same on
a corpus of values; ``uninstrument()`` restores the original.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping
from typing import Any

PLAIN_SCALARS = frozenset({str, int, float, bool, type(None)})
"""Types whose ``RootModel`` round trip is the identity."""

PLAIN_CONTAINERS = (dict, list, tuple, set)
"""Exact container types whose formatting is a copy with each item formatted."""

MODULES_HOLDING_FORMAT_VALUE = (
    "dynamiq.utils.utils",  # the definition: its recursion into containers looks itself up here
    "dynamiq.utils",
    "dynamiq.callbacks.tracing",
    "dynamiq.runnables.base",
    "dynamiq.nodes.node",
)
"""Where ``format_value`` is looked up on the paths every run takes (``from ... import`` copies the name)."""

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


def plain_value_formatter(original: Callable[..., Any], redacted_keys: Collection[Any], placeholder: Any) -> Wrapper:
    """A ``wrapt`` wrapper for ``original`` (Dynamiq's ``format_value``), with its defaults and redaction table.

    A function of another signature in its place (a user's replacement) is called as it is, untouched.
    """
    parameter = _parameters(original).get("truncate_limit")
    if parameter is None:
        return _as_it_is
    default_limit = parameter.default

    def walk(value: Any, skip: Any, force: Any, for_tracing: bool, limit: int, path: str) -> Any:
        kind = type(value)
        if kind in PLAIN_SCALARS:
            return value
        if kind is dict:
            formatted: dict[Any, Any] = {}
            for key, item in value.items():
                if for_tracing and key in redacted_keys:
                    formatted[key] = placeholder
                elif type(item) in PLAIN_SCALARS:
                    formatted[key] = item
                else:
                    formatted[key] = walk(item, skip, force, for_tracing, limit, f"{path}.{key}" if path else key)
            return formatted
        if kind is list or kind is tuple or kind is set:
            if for_tracing and kind is list and len(value) > limit:
                value = value[:limit]
            items = [
                item if type(item) in PLAIN_SCALARS else walk(item, skip, force, for_tracing, limit, f"{path}[{index}]")
                for index, item in enumerate(value)
            ]
            return items if kind is list else kind(items)
        return original(value, skip, force, for_tracing, path=path, truncate_limit=limit)

    def format_plain_values_at_once(
        value: Any,
        skip_format_types: set[type] | None = None,
        force_format_types: set[type] | None = None,
        for_tracing: bool = False,
        truncate_limit: int = default_limit,
        **kwargs: Any,
    ) -> Any:
        kind = type(value)
        if kind in PLAIN_SCALARS:
            return value  # skipped or formatted, Dynamiq gives back the value itself
        if kind not in PLAIN_CONTAINERS or _skips_containers(skip_format_types, force_format_types):
            return original(value, skip_format_types, force_format_types, for_tracing, truncate_limit, **kwargs)
        path = kwargs.get("path", "")
        return walk(value, skip_format_types, force_format_types, for_tracing, truncate_limit, path)

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if wrapped is not original:  # a module holding another function (a user's patch): leave it be
            return wrapped(*args, **kwargs)
        return format_plain_values_at_once(*args, **kwargs)

    return wrapper


def _parameters(function: Callable[..., Any]) -> Mapping[str, inspect.Parameter]:
    try:
        return inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {}


def _as_it_is(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return wrapped(*args, **kwargs)


def _skips_containers(skip: Collection[type] | None, force: Collection[type] | None) -> bool:
    """Whether Dynamiq would hand a container back untouched (its skip check comes before everything)."""
    if not skip:
        return False
    skipped, forced = tuple(skip), tuple(force or ())
    return any(issubclass(kind, skipped) and not issubclass(kind, forced) for kind in PLAIN_CONTAINERS)
