"""Dynamiq's flow loops sleep only after a scheduling step that finished nothing.

Stock Dynamiq sleeps 1 ms after every step of ``Flow.run_sync`` and
``Flow.run_async``, even when the step has just returned finished nodes
after waiting for them. The flow module is given a ``time`` and an
``asyncio`` whose ``sleep`` skips exactly the sleep that follows a
productive step; an idle step still sleeps, so the loop never spins.

- ``run_sync``: the executor's ``execute`` is observed (what it returned, on
  this thread). An executor we cannot observe never sets the flag, so it
  keeps stock behaviour.
- ``run_async``: a step that ran nodes awaits ``asyncio.gather`` over them,
  which returns only when all have finished; after such a step the loop
  still yields to the event loop, without the 1 ms wait.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from types import ModuleType
from typing import Any

import wrapt

_last_sync_step = threading.local()
_last_async_step_ran_nodes: ContextVar[bool] = ContextVar("otel_dynamiq_async_step_ran_nodes", default=False)


def record_step(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Remember whether this scheduling step finished any node."""
    results = wrapped(*args, **kwargs)
    _last_sync_step.finished = bool(results)
    return results


class ConditionalSleepTime(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """The ``time`` module as the flow module sees it, but with a conditional ``sleep``."""

    def sleep(self, seconds: float) -> None:
        if getattr(_last_sync_step, "finished", False):
            _last_sync_step.finished = False
            return
        self.__wrapped__.sleep(seconds)


class ConditionalSleepAsyncio(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """The ``asyncio`` module as the flow module sees it: ``gather`` marks the step, ``sleep`` reads it."""

    def gather(self, *awaitables: Any, **kwargs: Any) -> Any:
        if awaitables:
            _last_async_step_ran_nodes.set(True)  # this task's context: the flow loop's own
        return self.__wrapped__.gather(*awaitables, **kwargs)

    async def sleep(self, delay: float, result: Any = None) -> Any:
        if _last_async_step_ran_nodes.get():
            _last_async_step_ran_nodes.set(False)
            return await self.__wrapped__.sleep(0, result)  # still yield to the event loop
        return await self.__wrapped__.sleep(delay, result)


_PROXIES: dict[str, type[wrapt.ObjectProxy]] = {  # type: ignore[type-arg]
    "time": ConditionalSleepTime,
    "asyncio": ConditionalSleepAsyncio,
}


def install(flow_module: ModuleType) -> None:
    for attribute, proxy in _PROXIES.items():
        current = getattr(flow_module, attribute)
        if not isinstance(current, proxy):
            setattr(flow_module, attribute, proxy(current))


def uninstall(flow_module: ModuleType) -> None:
    for attribute, proxy in _PROXIES.items():
        current = getattr(flow_module, attribute)
        if isinstance(current, proxy):
            setattr(flow_module, attribute, current.__wrapped__)
