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
each span into a run from the span alone.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otel_dynamiq import attributes as attr
from otel_dynamiq._translation.run_shapes import is_model_call


class MarkedSpans:
    """The spans this process marked, until its exporter takes them: the mark survives attribute limits.

    The SDK keeps 128 attributes a span and evicts the oldest first, and the
    mark, set as the span starts, is among the oldest: an instrumentation that
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


MARKED = MarkedSpans()


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


class NestedCallMarker(SpanProcessor):
    """Marks spans by where model calls are: inside one (counted there), or above one (a total, not a call).

    A span started inside a model call gets ``dynamiq.usage.counted_in_parent``. A span under which a
    model call starts gets ``dynamiq.usage.calls_below``, set while it is still live: an agent, a
    workflow or a wrapper that reports its calls' total usage then shows it without counting it again,
    whatever kind the producer gave its span (some make an in-process agent a CLIENT span). Every other
    span is left alone.
    """

    def __init__(self) -> None:
        # Plain dict operations, each atomic: this runs on every span start and end of the application.
        self._live: dict[tuple[int, int], tuple[Span, tuple[int, int] | None]] = {}

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        parent = trace.get_current_span(parent_context)
        attributes = _attributes_of(parent)  # only a live SDK span has them (not a remote parent)
        context = span.get_span_context()
        trace_id = context.trace_id
        above = None
        if attributes is not None:
            if attributes and is_model_call(attributes):
                span.set_attribute(attr.USAGE_COUNTED_IN_PARENT, True)  # for the gateway, in another process
                MARKED.add(trace_id, context.span_id)
            above_context = parent.get_span_context()
            if above_context.trace_id == trace_id:
                above = (trace_id, above_context.span_id)
        live = self._live
        if len(live) < _MAX_LIVE_SPANS:
            live[(trace_id, context.span_id)] = (span, above)
        if above is not None:
            own = _attributes_of(span)
            if own and is_model_call(own):
                self._mark_above(above)

    def _mark_above(self, key: tuple[int, int] | None) -> None:
        """Every live span from ``key`` up, until one already marked (its own ancestors are then marked too)."""
        while key is not None:
            found = self._live.get(key)
            if found is None:
                return
            ancestor, key = found
            if (ancestor.attributes or {}).get(attr.USAGE_CALLS_BELOW) is True:
                return
            if ancestor.end_time is None:  # ending on another thread: its mark would only be a warning
                ancestor.set_attribute(attr.USAGE_CALLS_BELOW, True)

    def on_end(self, span: ReadableSpan) -> None:
        context = span.get_span_context()
        if context is not None:
            self._live.pop((context.trace_id, context.span_id), None)

    def shutdown(self) -> None:
        self._live.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


_marked_lock = threading.Lock()
_marked: weakref.WeakSet[Any] = weakref.WeakSet()
"""Providers that have a marker: one each, however often instrumentors are set up."""


def mark_nested_calls(provider: Any) -> bool:
    """Add one marker to an SDK tracer provider (the global one when None); False when it is not the SDK's."""
    if provider is None:
        provider = trace.get_tracer_provider()
    add = getattr(provider, "add_span_processor", None)
    if add is None:
        return False
    with _marked_lock:
        if provider in _marked:
            return True
        add(NestedCallMarker())
        _marked.add(provider)
    return True
