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
reference to it, so untraced formatting benefits too; ``PlainValueFormatter``
says when it steps aside (a patch of the function, odd skip or force types).
``tests/instrumentation/test_fast_format.py`` shows the output is the same on
a corpus of values and options, that a patch sees what it sees without us,
and that the redaction table is read at each call; ``uninstrument()``
restores the original. What it does not match: the nesting depth at which a
``RecursionError`` comes (a plain level costs one frame, as Dynamiq's does; a
level Dynamiq formats itself costs a few more than without us).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping
from types import ModuleType
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

_CLASS_SETS = (set, frozenset, tuple, list)
_NOT_GIVEN: Any = object()


class PlainValueFormatter:
    """The ``wrapt`` wrapper for Dynamiq's ``format_value``, made once from its home module.

    It takes the fast path only where nothing could tell: when the function it wraps is Dynamiq's
    own (not a user's patch or another wrapper found there at ``instrument()``), while its home
    module still holds the installed wrapper (a patch put there later sees every nested call, as it
    would without us), and when the skip and force types are plain classes (anything else gets
    Dynamiq's own answer, error included). The redaction table is read from the home module at
    every call, so a table the application extends after ``instrument()`` still applies.
    """

    def __init__(self, home: ModuleType) -> None:
        self._home = home
        self._original: Callable[..., Any] = home.format_value
        parameter = _parameters(self._original).get("truncate_limit")
        self._default_limit = parameter.default if parameter is not None else None
        self._enabled = parameter is not None and _is_defined_in(self._original, home)
        self.installed: Any = None
        """What ``instrument()`` put in the home module; set right after installing it there."""

    def __call__(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if (
            not self._enabled
            or wrapped is not self._original
            or self._home.__dict__.get("format_value") is not self.installed
        ):
            return wrapped(*args, **kwargs)
        return self.format_value(*args, **kwargs)

    def format_value(
        self,
        value: Any,
        skip_format_types: Any = None,
        force_format_types: Any = None,
        for_tracing: bool = False,
        truncate_limit: Any = _NOT_GIVEN,
        **kwargs: Any,
    ) -> Any:
        limit = self._default_limit if truncate_limit is _NOT_GIVEN else truncate_limit
        kind = type(value)
        plain_classes = _plain_classes(skip_format_types) and _plain_classes(force_format_types)
        if kind in PLAIN_SCALARS and plain_classes:
            return value  # skipped or formatted, Dynamiq gives back the value itself
        if (
            kind not in PLAIN_CONTAINERS
            or not plain_classes
            or _skips_containers(skip_format_types, force_format_types)
        ):
            return self._original(value, skip_format_types, force_format_types, for_tracing, limit, **kwargs)
        home = self._home.__dict__
        redacted = home.get("TRACING_REDACTED_KEYS", ()) if for_tracing else ()
        placeholder = home.get("TRACING_REDACTED_PLACEHOLDER")
        return self._walk(
            value,
            skip_format_types,
            force_format_types,
            for_tracing,
            limit,
            kwargs.get("path", ""),
            redacted,
            placeholder,
        )

    def _walk(
        self,
        value: Any,
        skip: Any,
        force: Any,
        for_tracing: bool,
        limit: Any,
        path: Any,
        redacted: Any,
        placeholder: Any,
    ) -> Any:
        """Dynamiq's walk for exact containers and plain scalars; anything else to Dynamiq's own function."""
        kind = type(value)
        if kind in PLAIN_SCALARS:
            return value
        if kind is dict:
            formatted: dict[Any, Any] = {}
            for key, item in value.items():
                if key in redacted:
                    formatted[key] = placeholder
                elif type(item) in PLAIN_SCALARS:
                    formatted[key] = item
                else:
                    inner = f"{path}.{key}" if path else key
                    formatted[key] = self._walk(item, skip, force, for_tracing, limit, inner, redacted, placeholder)
            return formatted
        if kind is list or kind is tuple or kind is set:
            if for_tracing and kind is list and len(value) > limit:
                value = value[:limit]
            items = []
            for index, item in enumerate(value):
                if type(item) not in PLAIN_SCALARS:
                    item = self._walk(item, skip, force, for_tracing, limit, f"{path}[{index}]", redacted, placeholder)
                items.append(item)
            return items if kind is list else kind(items)
        return self._original(value, skip, force, for_tracing, path=path, truncate_limit=limit)


def _is_defined_in(function: Any, home: ModuleType) -> bool:
    """Dynamiq's own function, not a patch or a wrapper standing in its place (those carry ``__wrapped__``)."""
    code = getattr(function, "__code__", None)
    return (
        code is not None
        and not hasattr(function, "__wrapped__")
        and getattr(function, "__module__", None) == home.__name__
        and code.co_filename == getattr(home, "__file__", None)
    )


_PROBES: tuple[Any, ...] = ({}, [], (), set(), "", 0, 0.0, False, None)
_MAX_REMEMBERED_TYPES = 256
_answers_alike: dict[Any, bool] = {}
"""Per skip or force type: whether ``isinstance`` on each plain value equals ``issubclass`` on its type."""


def _plain_classes(types: Any) -> bool:
    """Skip or force types that plain values and their types answer alike, without an error."""
    if not types:
        return types is None or type(types) in _CLASS_SETS
    if type(types) not in _CLASS_SETS:
        return False  # an iterator would be used up; Dynamiq's own function gets it whole
    for kind in types:
        try:
            alike = _answers_alike.get(kind)
        except TypeError:  # unhashable: no class
            return False
        if alike is None:
            alike = _probe(kind)
            if len(_answers_alike) < _MAX_REMEMBERED_TYPES:  # classes made on the fly must not grow it forever
                _answers_alike[kind] = alike
        if not alike:
            return False
    return True


def _probe(kind: Any) -> bool:
    try:
        return all(isinstance(probe, kind) == issubclass(type(probe), kind) for probe in _PROBES)
    except Exception:  # typing.Any, a data protocol, text: Dynamiq's own check raises too
        return False


def _parameters(function: Callable[..., Any]) -> Mapping[str, inspect.Parameter]:
    try:
        return inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {}


def _skips_containers(skip: Collection[type] | None, force: Collection[type] | None) -> bool:
    """Whether Dynamiq would hand a container back untouched (its skip check comes before everything)."""
    if not skip:
        return False
    skipped, forced = tuple(skip), tuple(force or ())
    return any(issubclass(kind, skipped) and not issubclass(kind, forced) for kind in PLAIN_CONTAINERS)
