"""Dynamiq's own tracing handler, kept in process: it builds the runs, we turn them into spans.

Subclassing ``TracingCallbackHandler`` is what makes the spans as rich as
native runs: Dynamiq serializes nodes and inputs for tracing (secrets left
out) only for instances of that class, and the handler's own logic fills in
usage, prompts, tool data, retries, skips, failures and cancellations. We
only change where the finished runs go: never to the network, always to the
span that the wrappers made current for that run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from dynamiq.callbacks.tracing import Run, TracingCallbackHandler
from opentelemetry.instrumentation.dynamiq._attributes import RunnableFacts
from opentelemetry.trace import Span
from pydantic import PrivateAttr

_logger = logging.getLogger(__name__)

MAX_OPEN_RUNS = 10_000
"""Runs in progress at once before the oldest is forgotten (and counted): memory stays bounded."""


@dataclass(eq=False)
class RunRecord:
    """One workflow, flow or node run in progress: its span and, once ended, Dynamiq's run."""

    span: Span
    facts: RunnableFacts
    owner: Any = field(default=None, repr=False)
    """The workflow, flow or node instance being run."""
    run_id: UUID | None = None
    run: Run | None = None
    error: BaseException | None = field(default=None, repr=False)


pending_record: ContextVar[RunRecord | None] = ContextVar("otel_dynamiq_pending_record", default=None)
"""The record of the run whose wrapper is executing in this context, until its first callback claims it."""


class SpanRunRecorder(TracingCallbackHandler):  # type: ignore[misc]
    """A tracing handler whose runs end up on spans instead of in an HTTP request."""

    _records: dict[UUID, RunRecord] = PrivateAttr(default_factory=dict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _evicted: int = PrivateAttr(default=0)
    _failures_logged: set[str] = PrivateAttr(default_factory=set)
    _on_unclaimed: Callable[[Run, RunRecord | None], None] | None = PrivateAttr(default=None)

    def bind(self, on_unclaimed: Callable[[Run, RunRecord | None], None]) -> None:
        """What to do with a run no wrapper claimed (a node class we could not wrap)."""
        self._on_unclaimed = on_unclaimed

    # --- bookkeeping -------------------------------------------------------

    def record_for(self, run_id: Any) -> RunRecord | None:
        if run_id is None:
            return None
        with self._lock:
            return self._records.get(run_id)

    def open_runs(self) -> int:
        """Runs being tracked now; zero whenever nothing is running."""
        with self._lock:
            return len(self._records) + len(self.runs)

    @property
    def evicted(self) -> int:
        return self._evicted

    def forget(self, run_id: UUID | None) -> None:
        """Drop every trace of a run; called on every exit path of its wrapper."""
        if run_id is None:
            return
        with self._lock:
            self._records.pop(run_id, None)
            self.runs.pop(run_id, None)

    def _claim(self, kwargs: dict[str, Any]) -> RunRecord | None:
        run_id = kwargs.get("run_id")
        if run_id is None:
            return None
        with self._lock:
            record = self._records.get(run_id)
            if record is not None:
                return record
            pending = pending_record.get()
            if pending is None or pending.run_id is not None:
                return None
            pending.run_id = run_id
            if len(self._records) >= MAX_OPEN_RUNS:
                oldest = next(iter(self._records))
                self._records.pop(oldest)
                self.runs.pop(oldest, None)
                self._evicted += 1
            self._records[run_id] = pending
            return pending

    def _finish(self, kwargs: dict[str, Any], error: BaseException | None = None) -> None:
        run_id = kwargs.get("run_id")
        with self._lock:
            run = self.runs.pop(run_id, None) if run_id is not None else None
            record = self._records.get(run_id) if run_id is not None else None
        if run is None:
            return
        if record is not None:
            record.run = run
            record.error = error
        elif self._on_unclaimed is not None:
            parent = self.record_for(run.parent_run_id)
            self._on_unclaimed(run, parent)

    def _guard(self, where: str, call: Callable[[], None]) -> None:
        """Our failures must never reach the workflow, and must not flood its log."""
        try:
            call()
        except Exception:
            if where not in self._failures_logged:
                self._failures_logged.add(where)
                _logger.warning("otel-dynamiq could not record %s; the run goes on untraced", where, exc_info=True)

    def flush(self) -> None:
        """Runs leave through spans, never through a tracing client."""

    def _started(self, where: str, kwargs: dict[str, Any], native: Callable[[], None]) -> None:
        def record() -> None:
            self._claim(kwargs)
            native()

        self._guard(where, record)

    def _ended(
        self, where: str, kwargs: dict[str, Any], native: Callable[[], None], error: BaseException | None = None
    ) -> None:
        def record() -> None:
            # Skips, errors and cancellations can come without a start: claim here too.
            self._claim(kwargs)
            native()
            self._finish(kwargs, error)

        self._guard(where, record)

    # --- workflow ------------------------------------------------------------

    def on_workflow_start(self, serialized: dict[str, Any], input_data: Any, **kwargs: Any) -> None:
        self._started(
            "workflow start", kwargs, lambda: Native.on_workflow_start(self, serialized, input_data, **kwargs)
        )

    def on_workflow_end(self, serialized: dict[str, Any], output_data: Any, **kwargs: Any) -> None:
        self._ended("workflow end", kwargs, lambda: Native.on_workflow_end(self, serialized, output_data, **kwargs))

    def on_workflow_error(self, serialized: dict[str, Any], error: BaseException, **kwargs: Any) -> None:
        native = lambda: Native.on_workflow_error(self, serialized, error, **kwargs)  # noqa: E731
        self._ended("workflow error", kwargs, native, error)

    def on_workflow_canceled(self, serialized: dict[str, Any], **kwargs: Any) -> None:
        self._ended("workflow cancel", kwargs, lambda: Native.on_workflow_canceled(self, serialized, **kwargs))

    # --- flow ----------------------------------------------------------------

    def on_flow_start(self, serialized: dict[str, Any], input_data: Any, **kwargs: Any) -> None:
        self._started("flow start", kwargs, lambda: Native.on_flow_start(self, serialized, input_data, **kwargs))

    def on_flow_end(self, serialized: dict[str, Any], output_data: Any, **kwargs: Any) -> None:
        self._ended("flow end", kwargs, lambda: Native.on_flow_end(self, serialized, output_data, **kwargs))

    def on_flow_error(self, serialized: dict[str, Any], error: BaseException, **kwargs: Any) -> None:
        self._ended("flow error", kwargs, lambda: Native.on_flow_error(self, serialized, error, **kwargs), error)

    def on_flow_canceled(self, serialized: dict[str, Any], **kwargs: Any) -> None:
        self._ended("flow cancel", kwargs, lambda: Native.on_flow_canceled(self, serialized, **kwargs))

    # --- node ----------------------------------------------------------------

    def on_node_start(self, serialized: dict[str, Any], input_data: Any, **kwargs: Any) -> None:
        self._started("node start", kwargs, lambda: Native.on_node_start(self, serialized, input_data, **kwargs))

    def on_node_end(self, serialized: dict[str, Any], output_data: Any, **kwargs: Any) -> None:
        self._ended("node end", kwargs, lambda: Native.on_node_end(self, serialized, output_data, **kwargs))

    def on_node_error(self, serialized: dict[str, Any], error: BaseException, **kwargs: Any) -> None:
        self._ended("node error", kwargs, lambda: Native.on_node_error(self, serialized, error, **kwargs), error)

    def on_node_skip(
        self,
        serialized: dict[str, Any],
        skip_data: dict[str, Any],
        input_data: Any,
        human_feedback: str | None = None,
        **kwargs: Any,
    ) -> None:
        def native() -> None:
            Native.on_node_skip(self, serialized, skip_data, input_data, human_feedback, **kwargs)

        self._ended("node skip", kwargs, native)

    def on_node_canceled(self, serialized: dict[str, Any], **kwargs: Any) -> None:
        self._ended("node cancel", kwargs, lambda: Native.on_node_canceled(self, serialized, **kwargs))

    # --- attempts and what happens inside them --------------------------------

    def on_node_execute_start(self, serialized: dict[str, Any], input_data: Any, **kwargs: Any) -> None:
        self._guard("attempt start", lambda: Native.on_node_execute_start(self, serialized, input_data, **kwargs))

    def on_node_execute_end(self, serialized: dict[str, Any], output_data: Any, **kwargs: Any) -> None:
        self._guard("attempt end", lambda: Native.on_node_execute_end(self, serialized, output_data, **kwargs))

    def on_node_execute_error(self, serialized: dict[str, Any], error: BaseException, **kwargs: Any) -> None:
        self._guard("attempt error", lambda: Native.on_node_execute_error(self, serialized, error, **kwargs))

    def on_node_execute_run(self, serialized: dict[str, Any], **kwargs: Any) -> None:
        self._guard("attempt data", lambda: Native.on_node_execute_run(self, serialized, **kwargs))


Native = TracingCallbackHandler
"""The native handler, called explicitly: its logic is the reference for what a run carries."""
