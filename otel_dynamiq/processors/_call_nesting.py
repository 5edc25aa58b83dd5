"""Mark spans that describe an LLM call already described by the span they were started in, and spans above calls.

One LLM call is often traced several times over: a Dynamiq LLM node calls
litellm, which calls the OpenAI client, which one or two instrumentations
trace as well. Each of those spans reports the same tokens. Dynamiq sums
``metadata.usage`` over a trace's runs, so the call must carry usage in one
run only: the outermost, the one the application itself made (for a Dynamiq
LLM node, exactly the run Dynamiq's own tracing would send).

Whether a span is nested in another span of the same call is known for
certain only when it starts, in the process that starts it: the parent is
live and its attributes are readable. Spans arrive at the exporter children
first and in any batch, so deciding there would need state across batches.
This processor decides at the start and writes the answer on the span
(``dynamiq.usage.counted_in_parent``), so the exporter and the gateway turn
each span into a run from the span alone; it also notes it in its
``SpanNotes``, where this process's exporter finds it if the attribute is lost.
"""

from __future__ import annotations

import functools
import weakref
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otel_dynamiq import attributes as attr
from otel_dynamiq._translation.run_shapes import is_model_call
from otel_dynamiq.processors._span_notes import SHARED_NOTES, SpanNotes


def _attributes_of(span: Any) -> Any:
    """A live SDK span's attributes as the plain dict they are kept in, else its public ``attributes``.

    The public view is a read-only proxy over ``BoundedAttributes``, whose ``get`` raises and catches
    ``KeyError`` for every missing key (half a microsecond each); this runs at every span's start,
    on the application's thread. Any other span (or another SDK version) takes the public way.
    """
    inner = getattr(getattr(span, "_attributes", None), "_dict", None)
    return inner if isinstance(inner, dict) else getattr(span, "attributes", None)


_MAX_LIVE_SPANS = 100_000
"""Spans tracked while live; past this (spans that never end) new ones are not tracked, and nothing else changes."""


_Key = tuple[int, int]


def _forget(live: dict[_Key, Any], key: _Key, collected: object) -> None:
    """A span dropped unended by its application: gone from the live spans with it."""
    live.pop(key, None)


class NestedCallMarker(SpanProcessor):
    """Marks spans by where model calls are: inside one (counted there), or above one (a total, not a call).

    A span started inside a model call gets ``dynamiq.usage.counted_in_parent``. The live spans above
    a model call get ``dynamiq.usage.calls_below`` when the call ends (its attributes are complete then:
    some instrumentations name the operation only after starting the span): an agent, a workflow or a
    wrapper that reports its calls' total usage then shows it without counting it again, whatever kind
    the producer gave its span (some make an in-process agent a CLIENT span). Live spans are held by
    weak reference, so a span its application abandons without ending costs nothing here.

    Each mark is also noted in ``notes`` (default: ``SHARED_NOTES``), where the exporter looks when the
    attribute was evicted or never written: give an exporter the same notes.
    """

    def __init__(self, notes: SpanNotes | None = None) -> None:
        self._notes = SHARED_NOTES if notes is None else notes
        # Plain dict operations, each atomic: this runs on every span start and end of the application.
        self._live: dict[_Key, tuple[weakref.ref[Span], _Key | None]] = {}

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        parent = trace.get_current_span(parent_context)
        attributes = _attributes_of(parent)  # only a live SDK span has them (not a remote parent)
        context = span.get_span_context()
        trace_id = context.trace_id
        above = None
        if attributes is not None:
            if attributes and is_model_call(attributes):
                span.set_attribute(attr.USAGE_COUNTED_IN_PARENT, True)  # for the gateway, in another process
                self._notes.counted_in_parent.add(trace_id, context.span_id)
            above_context = parent.get_span_context()
            if above_context.trace_id == trace_id:
                above = (trace_id, above_context.span_id)
        live = self._live
        if len(live) < _MAX_LIVE_SPANS:
            key = (trace_id, context.span_id)
            live[key] = (weakref.ref(span, functools.partial(_forget, live, key)), above)

    def on_end(self, span: ReadableSpan) -> None:
        context = span.get_span_context()
        if context is None:
            return
        found = self._live.pop((context.trace_id, context.span_id), None)
        if found is not None and found[1] is not None:
            attributes = _attributes_of(span)
            if attributes and is_model_call(attributes):
                self._mark_above(found[1])

    def _mark_above(self, key: _Key | None) -> None:
        """Every live span from ``key`` up that is not itself a model call, until one already marked."""
        while key is not None:
            found = self._live.get(key)
            ancestor = found[0]() if found is not None else None
            if found is None or ancestor is None:
                return
            marked_key, key = key, found[1]
            attributes = _attributes_of(ancestor)
            if attributes is None or attributes.get(attr.USAGE_CALLS_BELOW) is True:
                return
            if is_model_call(attributes):  # a call around a call: the inner one is counted in it already
                continue
            self._notes.calls_below.add(*marked_key)
            room = getattr(getattr(ancestor, "_attributes", None), "maxlen", None)
            full = room is not None and len(attributes) >= room
            if not full and ancestor.end_time is None:  # a full span would evict the producer's oldest attribute
                ancestor.set_attribute(attr.USAGE_CALLS_BELOW, True)

    def shutdown(self) -> None:
        self._live.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def mark_nested_calls(provider: Any, notes: SpanNotes | None = None) -> bool:
    """Add one marker to an SDK tracer provider (the global one when None); False when it is not the SDK's.

    One each, however often instrumentors are set up: a provider that has a marker writing to ``notes``
    (default: ``SHARED_NOTES``) is left as it is.
    """
    if provider is None:
        provider = trace.get_tracer_provider()
    add = getattr(provider, "add_span_processor", None)
    if add is None:
        return False
    notes = SHARED_NOTES if notes is None else notes
    with notes._wiring_lock:
        if provider in notes._tracer_providers:
            return True
        add(NestedCallMarker(notes))
        notes._tracer_providers.add(provider)
    return True
