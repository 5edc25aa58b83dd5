"""Serialize a running workflow, flow or node for tracing once per run, not once per callback.

Dynamiq calls ``to_dict(for_tracing=True)`` on the runnable for every
callback of every tracing handler: four times per node run, twice per flow
and workflow run (and a flow's dump includes all its nodes). Its tracing
handler uses the dump of the first callback and ignores the rest. While a
wrapped run is in progress, later dumps of that same runnable return a
shallow copy of the first: the same data, without serializing again.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass(eq=False)
class SerializationMemo:
    owner: Any
    dump: dict[str, Any] | None = None


current_memo: ContextVar[SerializationMemo | None] = ContextVar("otel_dynamiq_serialization_memo", default=None)


def memoized_to_dict(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    memo = current_memo.get()
    if memo is None or memo.owner is not instance or args or kwargs != {"for_tracing": True}:
        return wrapped(*args, **kwargs)
    if memo.dump is None:
        memo.dump = wrapped(*args, **kwargs)
        return memo.dump
    return dict(memo.dump)
