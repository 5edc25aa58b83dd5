"""The wrappers around Dynamiq's run methods: one span per run, current for exactly that run.

Each wrapper starts the span, makes it current while the wrapped call runs
(so httpx, openai or any other instrumentation inside the run nests under
it, in Dynamiq's thread pool and in asyncio tasks alike), and ends it when
the call returns, with the attributes of the run that Dynamiq's tracing
handler built meanwhile. Context is restored by ``try``/``finally`` in the
wrapper's own frame on every path; nothing is attached in one callback and
detached in another.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Awaitable, Callable
from contextvars import Token
from datetime import datetime
from typing import Any

from dynamiq.callbacks.tracing import Run
from dynamiq.utils.utils import orjson_encode
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.dynamiq._attributes import (
    RunnableFacts,
    enum_value,
    span_attributes,
    span_name,
    start_attributes,
)
from opentelemetry.instrumentation.dynamiq._callbacks import Event
from opentelemetry.instrumentation.dynamiq._recorder import RunRecord, RunRecorder, pending_record
from opentelemetry.instrumentation.dynamiq._settings import CaptureSettings
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Status, StatusCode, Tracer

from otel_dynamiq.log_lines import one_line

_logger = logging.getLogger(__name__)

_Tokens = tuple[Token[RunRecord | None], Token[otel_context.Context]]
"""What a wrapper restores when its run ends: the pending record and the current context."""

_RUN_FIELDS = tuple(field.name for field in dataclasses.fields(Run))
"""Read in place rather than through ``Run.to_dict()``, whose deep copy cost more than the rest of a span."""


def _epoch_nanos(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1_000_000_000) if moment is not None else None


class RunTracer:
    """Turns wrapped run calls into spans; shared by every wrapper of one instrumentor."""

    def __init__(
        self,
        tracer: Tracer,
        recorder: RunRecorder,
        settings: CaptureSettings,
        mark_nested_calls: Callable[[], bool] | None = None,
    ) -> None:
        self._tracer = tracer
        self._recorder = recorder
        self._settings = settings
        self._failures_logged: set[str] = set()
        self._mark_nested_calls = mark_nested_calls
        """Tried again before each span until it succeeds: instrumented before the SDK's provider was set."""
        recorder.bind(self._emit_unclaimed)

    # --- wrappers (wrapt signature) -------------------------------------------

    def wrap_sync(self, describe: Callable[[Any], RunnableFacts]) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if not is_instrumentation_enabled():
                return wrapped(*args, **kwargs)
            record = self._prepare(describe, instance, kwargs)
            if record is None:
                return wrapped(*args, **kwargs)
            tokens = self._enter(record)
            try:
                return wrapped(*args, **kwargs)
            except BaseException as exc:  # the user's exception: record it, then re-raise it unchanged
                self._record_exception(record, exc)
                raise
            finally:
                self._leave(record, tokens)

        return wrapper

    def wrap_async(self, describe: Callable[[Any], RunnableFacts]) -> Callable[..., Awaitable[Any]]:
        async def wrapper(
            wrapped: Callable[..., Awaitable[Any]], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            if not is_instrumentation_enabled():
                return await wrapped(*args, **kwargs)
            record = self._prepare(describe, instance, kwargs)
            if record is None:
                return await wrapped(*args, **kwargs)
            tokens = self._enter(record)
            try:
                return await wrapped(*args, **kwargs)
            except BaseException as exc:
                self._record_exception(record, exc)
                raise
            finally:
                self._leave(record, tokens)

        return wrapper

    def observe(self, event: Event) -> Callable[..., Any]:
        """A wrapper for one of Dynamiq's callback dispatchers: the application's callbacks first, then ours."""
        recorder = self._recorder

        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            result = wrapped(*args, **kwargs)
            try:
                recorder.observe(event, instance, args, kwargs)
            except Exception:
                self._log_once("event", "otel-dynamiq could not follow a Dynamiq callback; the run goes on")
            return result

        return wrapper

    # --- the run's life ------------------------------------------------------

    def _prepare(
        self, describe: Callable[[Any], RunnableFacts], instance: Any, kwargs: dict[str, Any]
    ) -> RunRecord | None:
        """Start the span; on any failure of ours, the run goes on untraced. The call itself is never changed."""
        try:
            if self._mark_nested_calls is not None and self._mark_nested_calls():
                self._mark_nested_calls = None
            facts = describe(instance)
            parent = self._recorder.record_for(kwargs.get("parent_run_id"))
            # Dynamiq names the parent run explicitly; it wins over whatever context the caller had.
            parent_span = parent.span if parent is not None else None
            parent_context = trace.set_span_in_context(parent_span) if parent_span is not None else None
            span = self._tracer.start_span(span_name(facts), context=parent_context, attributes=start_attributes(facts))
            return RunRecord(span=span, facts=facts, owner=instance)
        except Exception:
            self._log_once("start", "otel-dynamiq could not start a span; the run goes on untraced")
            return None

    def _enter(self, record: RunRecord) -> _Tokens:
        """Make the run's span current, and its record the one its first event claims.

        Plain attach and detach around the call, in the wrapper's own frame: a generator-based context
        manager per run cost more than the rest of starting the span.
        """
        span = record.span
        assert span is not None  # a wrapper's record always has its span
        # An unsampled run still propagates its context, but its events build no run.
        pending_token = pending_record.set(record if span.is_recording() else None)
        return pending_token, otel_context.attach(trace.set_span_in_context(span))

    def _leave(self, record: RunRecord, tokens: _Tokens) -> None:
        pending_token, context_token = tokens
        otel_context.detach(context_token)
        pending_record.reset(pending_token)
        self._end(record)

    def _record_exception(self, record: RunRecord, exc: BaseException) -> None:
        span = record.span
        try:
            if span is not None and span.is_recording():
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                span.set_attribute("error.type", type(exc).__qualname__)
        except Exception:
            self._log_once("exception", "otel-dynamiq could not record an exception on its span")

    def _end(self, record: RunRecord) -> None:
        span = record.span
        assert span is not None
        try:
            if record.facts is not None:
                self._annotate(span, record.facts, record.run, record.error)
        except Exception:
            self._log_once("end", "otel-dynamiq could not describe a finished run on its span")
        finally:
            span.end()
            self._recorder.forget(record.run_id)

    def _annotate(self, span: trace.Span, facts: RunnableFacts, run: Run | None, error: BaseException | None) -> None:
        if not span.is_recording():
            return
        if run is None:
            span.set_attributes(span_attributes(facts, None, self._settings, orjson_encode))
            return
        fields = {name: getattr(run, name) for name in _RUN_FIELDS}
        span.set_attributes(span_attributes(facts, fields, self._settings, orjson_encode))
        if enum_value(run.status) == "failed":
            message = run.error.get("message") if isinstance(run.error, dict) else None
            message = message or "failed"
            if error is not None:
                span.record_exception(error)
                span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(Status(StatusCode.ERROR, str(message)))

    def _emit_unclaimed(self, run: Run, parent: RunRecord | None) -> None:
        """A run no wrapper saw (a class that overrides its run method): still one span, after the fact."""
        facts = RunnableFacts(kind=enum_value(run.type) or "node", name=str(run.name))
        parent_span = parent.span if parent is not None else None
        context = trace.set_span_in_context(parent_span) if parent_span is not None else otel_context.get_current()
        span = self._tracer.start_span(span_name(facts), context=context, start_time=_epoch_nanos(run.start_time))
        self._annotate(span, facts, run, None)
        span.end(end_time=_epoch_nanos(run.end_time))

    # --- helpers ---------------------------------------------------------------

    def _log_once(self, where: str, message: str) -> None:
        """Our own failures: the first of each kind at WARNING in one line with its cause, every one at DEBUG
        with its traceback (a traceback in the application's stderr would read as the application's failure)."""
        if where not in self._failures_logged:
            self._failures_logged.add(where)
            cause = sys.exc_info()[1]
            _logger.warning("%s: %s", message, one_line(cause) if cause is not None else "unknown cause")
        _logger.debug(message, exc_info=True)
