"""``SpanNotes``: what the processors learn about live spans, kept until an exporter turns those spans into runs.

The processors run inside the application's SDK pipeline and see what is
gone by export time (a live parent's attributes, log events tied to a span);
the exporter reads their notes, each span's once, when the span arrives. The
two meet in one ``SpanNotes`` object: given to both, or else the process's
``SHARED_NOTES``, which every processor and exporter made without one uses.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, NamedTuple

from otel_dynamiq._translation.llm_content import ContentEvent

MAX_PENDING_SPANS = 4096
MAX_EVENTS_PER_SPAN = 256


class MarkedSpans:
    """The spans a processor marked, until the exporter takes them: the mark survives attribute limits.

    The SDK keeps 128 attributes a span and evicts the oldest first, and a
    mark set as the span starts is among the oldest: an instrumentation that
    records a long conversation as attributes (OpenInference does) would push
    it out. The exporter asks here too. Bounded: marks of spans that no
    Dynamiq exporter takes (another exporter's, or sampled out) are forgotten
    oldest first.
    """

    def __init__(self, capacity: int = 16_384) -> None:
        self._capacity = capacity
        self._marked: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, trace_id: int, span_id: int) -> None:
        with self._lock:
            self._marked[(trace_id, span_id)] = None
            if len(self._marked) > self._capacity:
                self._marked.popitem(last=False)

    def take(self, trace_id: int, span_id: int) -> bool:
        if not self._marked:  # the common case, without the lock: nothing was ever marked
            return False
        with self._lock:
            return self._marked.pop((trace_id, span_id), False) is None


class ContentEventStore:
    """Content events by span, bounded: spans that are never exported must not grow memory."""

    def __init__(self, max_spans: int = MAX_PENDING_SPANS, max_events: int = MAX_EVENTS_PER_SPAN) -> None:
        self._events: OrderedDict[tuple[int, int], list[ContentEvent]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_spans = max_spans
        self._max_events = max_events
        self.dropped = 0

    def __bool__(self) -> bool:
        return bool(self._events)  # read without the lock: a stale answer only delays a take by one batch

    def add(self, trace_id: int, span_id: int, event: ContentEvent) -> None:
        key = (trace_id, span_id)
        with self._lock:
            events = self._events.get(key)
            if events is None:
                if len(self._events) >= self._max_spans:
                    _, forgotten = self._events.popitem(last=False)
                    self.dropped += len(forgotten)
                events = self._events[key] = []
            if len(events) >= self._max_events:
                self.dropped += 1
                return
            events.append(event)

    def take(self, trace_id: int, span_id: int) -> list[ContentEvent]:
        if not self._events:
            return []
        with self._lock:
            return self._events.pop((trace_id, span_id), [])


class TakenNotes(NamedTuple):
    """One span's notes, as ``span_to_run`` takes them."""

    content_events: Sequence[ContentEvent]
    counted_in_parent: bool
    calls_below: bool


class SpanNotes:
    """What the processors noted about spans, until an exporter takes each span's notes, once.

    ``NestedCallMarker`` writes ``counted_in_parent`` (spans started inside a model
    call) and ``calls_below`` (spans a model call ended under);
    ``GenAIContentEventProcessor`` writes ``content_events`` (GenAI log events,
    by span); ``DynamiqSpanExporter`` takes them (``take``) as it turns each span
    into a run. Every part is bounded and safe to use from any thread.

    The notes also remember which providers were given a processor that
    writes to them, so a provider gets one however often an instrumentor or
    an exporter asks, and whether ``opentelemetry-instrument`` is building the
    SDK (an exporter made then leaves the logger provider alone).
    """

    def __init__(self) -> None:
        self.counted_in_parent = MarkedSpans()
        """Spans started inside a model call: their attribute saying so may be evicted by later ones."""
        self.calls_below = MarkedSpans()
        """Spans above a model call: the attribute saying so may find the span full (it is then not written,
        so no attribute of the producer's is evicted) or be evicted by later ones."""
        self.content_events = ContentEventStore()
        """GenAI content events by span: Dynamiq has no logs, so they travel in their span's run."""
        # Kept by this package's mark_nested_calls, attach_content_events and sdk_configuration.
        self._wiring_lock = threading.Lock()
        self._tracer_providers: weakref.WeakSet[Any] = weakref.WeakSet()
        """Tracer providers given a marker that writes here."""
        self._logger_providers: list[object] = []
        """Logger providers given a content event processor that writes here (told apart by identity)."""
        self._sdk_being_configured = False

    def take(self, trace_id: int, span_id: int) -> TakenNotes:
        """The span's notes, forgotten here: each span is turned into a run once."""
        content_events = self.content_events
        return TakenNotes(
            content_events.take(trace_id, span_id) if content_events else (),
            self.counted_in_parent.take(trace_id, span_id),
            self.calls_below.take(trace_id, span_id),
        )


SHARED_NOTES = SpanNotes()
"""The notes of every processor and exporter made without ``notes``: how they meet with no code of the user's.

``opentelemetry-instrument`` makes the exporter from its entry point, with no
arguments, and the distro adds the processors; a manual setup adds
``NestedCallMarker()`` and ``GenAIContentEventProcessor()`` beside a
``DynamiqSpanExporter()``. One per process, as the tracer and logger providers
they serve usually are. An application with several pipelines that must not
share notes gives each its own ``SpanNotes``: to the processors (``notes=``)
and to the exporter (``span_notes=``).
"""
