"""``Flow.run_sync`` sleeps only after a scheduling step that finished nothing.

Stock Dynamiq sleeps 1 ms after every step, even when the executor has just
returned finished nodes after blocking for them. We observe the executor's
``execute`` (what it returned, on this thread) and give the flow module a
``time`` whose ``sleep`` skips exactly the sleep that follows a productive
step. An idle step still sleeps, so the loop never spins; an executor we
cannot observe never sets the flag, so it keeps stock behaviour.
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Any

import wrapt

_last_step = threading.local()


def record_step(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Remember whether this scheduling step finished any node."""
    results = wrapped(*args, **kwargs)
    _last_step.finished = bool(results)
    return results


class ConditionalSleepTime(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """The ``time`` module as the flow module sees it, but with a conditional ``sleep``."""

    def sleep(self, seconds: float) -> None:
        if getattr(_last_step, "finished", False):
            _last_step.finished = False
            return
        self.__wrapped__.sleep(seconds)


_MODULE_ATTRIBUTE = "time"


def install(flow_module: ModuleType) -> None:
    current = getattr(flow_module, _MODULE_ATTRIBUTE)
    if not isinstance(current, ConditionalSleepTime):
        setattr(flow_module, _MODULE_ATTRIBUTE, ConditionalSleepTime(current))


def uninstall(flow_module: ModuleType) -> None:
    current = getattr(flow_module, _MODULE_ATTRIBUTE)
    if isinstance(current, ConditionalSleepTime):
        setattr(flow_module, _MODULE_ATTRIBUTE, current.__wrapped__)
