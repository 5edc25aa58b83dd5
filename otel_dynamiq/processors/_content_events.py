"""GenAI content that instrumentations emit as log events, kept until their span is exported.

``opentelemetry-instrumentation-openai-v2`` and others put prompts and
completions in log events tied to the span (``gen_ai.user.message``,
``gen_ai.choice``, ``gen_ai.client.inference.operation.details``) rather than
on the span. Dynamiq has no logs, and the distro turns log export off, so
without this the content a user asked for would vanish. A log record
processor keeps those events in its ``SpanNotes``, keyed by the span they
were emitted in, and the exporter takes them when it turns that span into a
run. The user sets up no logs pipeline: the processor is added to the logger
provider there is, or to one made for it when there is none.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import _logs
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor

from otel_dynamiq import environment_variables as env
from otel_dynamiq._translation.llm_content import CONTENT_EVENT_NAMES, ContentEvent
from otel_dynamiq.processors._span_notes import SHARED_NOTES, SpanNotes

_logger = logging.getLogger(__name__)

CAPTURE_CONTENT_VARIABLE = env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
EVENT_CONTENT_MODES = frozenset({"true", "event_only", "span_and_event"})
"""Values of the capture setting under which some instrumentation sends content as log events."""


class GenAIContentEventProcessor(LogRecordProcessor):
    """Keeps GenAI content events of sampled spans for the exporter; ignores every other log record.

    The events are kept in ``notes`` (default: ``SHARED_NOTES``), where the exporter given the same notes
    takes them.
    """

    def __init__(self, notes: SpanNotes | None = None) -> None:
        self._notes = SHARED_NOTES if notes is None else notes

    def on_emit(self, log_record: Any) -> None:
        record = getattr(log_record, "log_record", log_record)
        name = getattr(record, "event_name", None) or (record.attributes or {}).get("event.name")
        if name not in CONTENT_EVENT_NAMES:
            return
        span_id, trace_id = record.span_id, record.trace_id
        flags = record.trace_flags
        if not span_id or not trace_id or (flags is not None and not int(flags) & 1):  # 1: sampled
            return
        attributes = dict(record.attributes) if isinstance(record.attributes, Mapping) else {}
        self._notes.content_events.add(trace_id, span_id, ContentEvent(str(name), record.body, attributes))

    emit = on_emit
    """The name older SDKs call (before ``on_emit``)."""

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


_UNSET_PROVIDERS = frozenset({"ProxyLoggerProvider", "NoOpLoggerProvider"})
"""What the API hands out before anyone sets a logger provider (the proxy's class is private)."""


@contextlib.contextmanager
def sdk_configuration(notes: SpanNotes | None = None) -> Iterator[None]:
    """While ``opentelemetry-instrument`` builds the SDK, exporters leave the logger provider alone.

    The SDK sets its own logger provider after the trace exporter is made; one
    set earlier would refuse it, and with it any logs pipeline the user asked for.
    The configurator attaches the processor once the SDK is done.
    """
    notes = SHARED_NOTES if notes is None else notes
    notes._sdk_being_configured = True
    try:
        yield
    finally:
        notes._sdk_being_configured = False


def attach_for_exporter(notes: SpanNotes) -> None:
    """What a new exporter does: attach now, unless the SDK is being configured around it."""
    if content_comes_as_events() and not notes._sdk_being_configured:
        attach_content_events(notes)


def content_comes_as_events() -> bool:
    return os.environ.get(CAPTURE_CONTENT_VARIABLE, "").strip().lower() in EVENT_CONTENT_MODES


TRACELOOP_CONTENT_VARIABLE = env.TRACELOOP_TRACE_CONTENT
_OPENLLMETRY_MARKS = ("gen_ai.is_streaming", "llm.is_streaming")
"""Attributes only OpenLLMetry's instrumentations set, on every LLM span."""
LOST_EVENTS_WARNING = (
    "An OpenLLMetry (Traceloop) LLM span arrived without its prompt and answer: in its events mode "
    f"(use_attributes=False) it logs them as events, which reach Dynamiq runs only with "
    f"{CAPTURE_CONTENT_VARIABLE}=true in the application that traced it. Set that, or instrument with "
    "use_attributes=True; "
    f"set {TRACELOOP_CONTENT_VARIABLE}=false if you meant to send no content."
)


def content_may_be_lost() -> bool:
    """Whether content logged as events could go unrouted: nothing routes events, and OpenLLMetry may send some."""
    traceloop = os.environ.get(TRACELOOP_CONTENT_VARIABLE, "true").strip().lower()
    return not content_comes_as_events() and traceloop not in ("false", "0")


def content_sent_as_unrouted_events(run: Mapping[str, Any]) -> bool:
    """An OpenLLMetry LLM run with neither input nor output: its content went to log events (pure, no I/O)."""
    if run["input"] is not None or run["output"] is not None:
        return False
    metadata = run["metadata"]
    if metadata.get("node", {}).get("group") not in ("llms", "embedders"):
        return False
    attributes = metadata.get("otel", {}).get("attributes", {})
    return any(mark in attributes for mark in _OPENLLMETRY_MARKS)


def attach_content_events(notes: SpanNotes | None = None) -> bool:
    """Make GenAI content events reach the exporter that reads ``notes``; say once what to do when they cannot."""
    notes = SHARED_NOTES if notes is None else notes
    with notes._wiring_lock:
        provider = _logs.get_logger_provider()
        if any(provider is attached for attached in notes._logger_providers):
            return True
        if not isinstance(provider, LoggerProvider):
            if type(provider).__name__ not in _UNSET_PROVIDERS:
                _logger.warning(
                    "%s asks for GenAI content as log events, but the global logger provider (%s) is not the "
                    "OpenTelemetry SDK's, so that content cannot reach Dynamiq runs. Add "
                    "otel_dynamiq.GenAIContentEventProcessor() to it, or set %s=span_only.",
                    CAPTURE_CONTENT_VARIABLE,
                    type(provider).__name__,
                    CAPTURE_CONTENT_VARIABLE,
                )
                return False
            # Nobody set up logs: a provider whose only job is to hand content events to the exporter.
            provider = LoggerProvider()
            _logs.set_logger_provider(provider)
            provider = _logs.get_logger_provider()
            if not isinstance(provider, LoggerProvider):
                return False
        provider.add_log_record_processor(GenAIContentEventProcessor(notes))
        notes._logger_providers.append(provider)
        return True
