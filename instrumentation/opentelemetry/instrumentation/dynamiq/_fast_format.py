"""Dynamiq's ``format_value``, without building a pydantic class for every plain scalar.

``format_value`` formats each leaf it does not recognise with
``RootModel[type(value)](value).model_dump()``. For ``str``, ``int``,
``float``, ``bool`` and ``None`` that round trip gives back the value
itself, but pydantic (2.12) keeps its cache of parametrized classes in a
``ContextVar``. Dynamiq runs every node in a copied context, so in a fresh
thread or task the cache set inside the copy is thrown away with it, and the
next node builds ``RootModel[str]`` (a full schema build) again. Under
concurrent load that was about half of the CPU a traced run spent.

While instrumented, ``format_value`` returns exact instances of those five
types at once (subclasses, and everything else, take Dynamiq's own path),
in every module that holds a reference to it, so untraced formatting
benefits too. ``tests/instrumentation/test_fast_format.py`` shows the output is the same on a
corpus of values; ``uninstrument()`` restores the original.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PLAIN_SCALARS = frozenset({str, int, float, bool, type(None)})
"""Types whose ``RootModel`` round trip is the identity."""

MODULES_HOLDING_FORMAT_VALUE = (
    "dynamiq.utils.utils",  # the definition: its recursion into containers looks itself up here
    "dynamiq.utils",
    "dynamiq.callbacks.tracing",
    "dynamiq.runnables.base",
    "dynamiq.nodes.node",
)
"""Where ``format_value`` is looked up on the paths every run takes (``from ... import`` copies the name)."""

_NOT_GIVEN = object()


def format_plain_scalars_at_once(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    value = args[0] if args else kwargs.get("value", _NOT_GIVEN)
    if type(value) in PLAIN_SCALARS:
        return value
    return wrapped(*args, **kwargs)
