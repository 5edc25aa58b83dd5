"""From Dynamiq's callback events to finished native runs, one per traced workflow, flow or node run.

The run wrappers (``_wrappers``) open a span and leave a pending record in
the context; the first event of that run (seen through the dispatchers in
``_callbacks``) claims it by run id. Each event then feeds the private run
builder exactly what a tracing handler in the run's config would have been
given; the events that end a run take the built run off the builder and
keep it on the record until its wrapper ends the span.

Nothing here may change what the application sees: failures are ours to
count and log, never to raise.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from dynamiq.callbacks.tracing import Run
from dynamiq.utils import format_value
from opentelemetry.instrumentation.dynamiq._attributes import RunnableFacts
from opentelemetry.instrumentation.dynamiq._callbacks import Event
from opentelemetry.instrumentation.dynamiq._run_builder import make_run_builder
from opentelemetry.trace import Span

_logger = logging.getLogger(__name__)

MAX_OPEN_RUNS = 10_000
"""Runs in progress at once before the oldest is forgotten (and counted): memory stays bounded."""


@dataclass(eq=False)
class RunRecord:
    """One workflow, flow or node run in progress: its span and, once ended, Dynamiq's run."""

    span: Span | None
    """None for a run no wrapper saw (a node class that bypasses the wrapped methods)."""
    facts: RunnableFacts | None
    owner: Any = field(default=None, repr=False)
    """The workflow, flow or node instance being run."""
    run_id: UUID | None = None
    run: Run | None = None
    error: BaseException | None = field(default=None, repr=False)
    serialized: Mapping[str, Any] | None = field(default=None, repr=False)
    """The runnable's tracing form, made once at its first event (native handlers remake it at each)."""


pending_record: ContextVar[RunRecord | None] = ContextVar("otel_dynamiq_pending_record", default=None)
"""The record of the run whose wrapper is executing in this context, until its first event claims it."""


def _unformattable(value: Any) -> str:
    try:
        shown = repr(value)
    except Exception:
        shown = f"<{type(value).__qualname__}>"
    return f"{shown} (otel-dynamiq: Dynamiq could not format this value for tracing)"


def displayable(value: Any) -> Any:
    """``value`` with every leaf that Dynamiq's formatting rejects replaced by a readable stand-in.

    Used only after the native handler failed on a value, so that the run
    still carries everything else it would have carried.
    """
    if isinstance(value, dict):
        return {key: displayable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [displayable(item) for item in value]
    try:
        format_value(value, for_tracing=True)
    except Exception:
        return _unformattable(value)
    return value


class ContainerDump(Mapping[str, Any]):
    """A workflow's or flow's tracing form, made only if something reads more than its identity.

    Dynamiq's tracing handler reads ``id``, ``version`` and ``name`` of a
    workflow's or flow's dump, but the dump itself serializes every node of
    the flow: for a flow of N nodes, two dumps per run cost as much as 2N node
    dumps. Those three fields are answered from the runnable (they are plain
    model fields, dumped as they are); anything else makes the full dump.
    """

    IDENTITY = ("id", "version", "name")

    def __init__(self, runnable: Any, make: Callable[[], dict[str, Any]]) -> None:
        fields = getattr(type(runnable), "model_fields", {})
        self._identity = {key: getattr(runnable, key) for key in self.IDENTITY if key in fields}
        self._make = make
        self._full: dict[str, Any] | None = None

    def _everything(self) -> dict[str, Any]:
        if self._full is None:
            self._full = self._make()
        return self._full

    def __getitem__(self, key: str) -> Any:
        if key in self._identity:
            return self._identity[key]
        return self._everything()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._everything())

    def __len__(self) -> int:
        return len(self._everything())


class RunRecorder:
    """Builds native runs for the traced runs from the events Dynamiq dispatches."""

    def __init__(self) -> None:
        self._builder = make_run_builder()
        self._records: dict[UUID, RunRecord] = {}
        self._lock = threading.Lock()
        self.evicted = 0
        self.failures: Counter[str] = Counter()
        """Events we could not record, by kind: each kind is logged once at WARNING, then at DEBUG."""
        self._on_unclaimed: Callable[[Run, RunRecord | None], None] | None = None

    def bind(self, on_unclaimed: Callable[[Run, RunRecord | None], None]) -> None:
        """What to do with a finished run no wrapper claimed."""
        self._on_unclaimed = on_unclaimed

    # --- bookkeeping -------------------------------------------------------

    def record_for(self, run_id: Any) -> RunRecord | None:
        return self._records.get(run_id) if run_id is not None else None

    def open_runs(self) -> int:
        """Runs being tracked now; zero whenever nothing is running."""
        return len(self._records) + len(self._builder.runs)

    def forget(self, run_id: UUID | None) -> None:
        """Drop every trace of a run; called on every exit path of its wrapper."""
        if run_id is None:
            return
        with self._lock:
            self._records.pop(run_id, None)
        self._builder.runs.pop(run_id, None)

    def _claim(self, run_id: UUID, runnable: Any, parent_run_id: Any) -> RunRecord | None:
        pending = pending_record.get()
        with self._lock:
            if pending is not None and pending.run_id is None and pending.owner is runnable:
                record = pending
            elif parent_run_id is not None and parent_run_id in self._records:
                record = RunRecord(span=None, facts=None, owner=runnable)
            else:
                return None
            record.run_id = run_id
            if len(self._records) >= MAX_OPEN_RUNS:
                oldest = next(iter(self._records))
                self._records.pop(oldest)
                self._builder.runs.pop(oldest, None)
                self.evicted += 1
            self._records[run_id] = record
            return record

    # --- events ----------------------------------------------------------------

    def observe(self, event: Event, runnable: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """One dispatched event; the dispatcher itself has already run for the application."""
        if not self._records and pending_record.get() is None:
            return  # nothing traced in this context: the common case for untraced work costs one lookup
        run_id = kwargs.get("run_id")
        if run_id is None:
            return
        record = self._records.get(run_id)
        if record is None:
            if not event.opens:
                return
            record = self._claim(run_id, runnable, kwargs.get("parent_run_id"))
            if record is None:
                return
        try:
            payload, handler_kwargs = event.arguments(*args, **kwargs)
        except Exception as exc:
            self._failed(f"{event.handler_method} arguments", exc)
            return
        self._feed(event, record, runnable, payload, handler_kwargs)
        if event.closes:
            error = payload[0] if payload and isinstance(payload[0], BaseException) else None
            self._finish(record, error)

    def _feed(
        self, event: Event, record: RunRecord, runnable: Any, payload: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        method = getattr(self._builder, event.handler_method)
        serialized = self._serialized(record, runnable, event.of_node)
        try:
            method(serialized, *payload, **kwargs)
            return
        except Exception as exc:
            self._failed(event.handler_method, exc)
        # Most failures are a value Dynamiq's formatting rejects: the run still gets everything else.
        shown_kwargs = {**kwargs, "input_data": displayable(kwargs["input_data"])} if "input_data" in kwargs else kwargs
        shown = tuple(item if isinstance(item, BaseException) else displayable(item) for item in payload)
        try:
            method(serialized, *shown, **shown_kwargs)
        except Exception as exc:
            self._failed(f"{event.handler_method} with values shown as text", exc)

    def _serialized(self, record: RunRecord, runnable: Any, of_node: bool) -> Mapping[str, Any]:
        if record.serialized is None:
            if of_node:
                record.serialized = self._dump(runnable)
            else:
                record.serialized = ContainerDump(runnable, lambda: self._dump(runnable))
        return record.serialized

    def _dump(self, runnable: Any) -> dict[str, Any]:
        try:
            dump: dict[str, Any] = runnable.to_dict(for_tracing=True)
        except Exception as exc:
            self._failed("serialization for tracing", exc)
            dump = {"id": getattr(runnable, "id", None), "name": getattr(runnable, "name", None)}
        return dump

    def _finish(self, record: RunRecord, error: BaseException | None) -> None:
        run = self._builder.runs.pop(record.run_id, None)
        if run is None:
            return
        record.run = run
        record.error = error
        if record.span is None:  # nobody will end a span for it: make one now
            self.forget(record.run_id)
            if self._on_unclaimed is not None:
                self._on_unclaimed(run, self.record_for(run.parent_run_id))

    def _failed(self, kind: str, exc: BaseException) -> None:
        """Count it; tell the user once per kind, with the cause and without a traceback."""
        key = f"{kind}: {type(exc).__qualname__}"
        self.failures[key] += 1
        if self.failures[key] == 1:
            _logger.warning(
                "otel-dynamiq could not record %s (%s: %s); the run goes on and its span keeps the rest. "
                "Later failures of this kind are logged at DEBUG.",
                kind,
                type(exc).__qualname__,
                _describe(exc),
            )
        else:
            _logger.debug("otel-dynamiq could not record %s", kind, exc_info=exc)


def _describe(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return "<no message>"
