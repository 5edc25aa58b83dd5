"""Mark spans that describe an LLM call already described by the span they were started in.

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


class NestedCallMarker(SpanProcessor):
    """Marks a span started inside a span that is itself a model call; every other span is left alone."""

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        parent = trace.get_current_span(parent_context)
        attributes = getattr(parent, "attributes", None)  # only a live SDK span has them (not a remote parent)
        if attributes and is_model_call(attributes):
            span.set_attribute(attr.USAGE_COUNTED_IN_PARENT, True)  # for the gateway, in another process
            context = span.get_span_context()
            MARKED.add(context.trace_id, context.span_id)

    def on_end(self, span: ReadableSpan) -> None:
        pass

    def shutdown(self) -> None:
        pass

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
