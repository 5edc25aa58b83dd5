"""The processors otel-dynamiq adds inside the application's SDK pipeline, and the notes they leave the exporter.

Some of what a run needs is gone by the time its span is exported, so it is
gathered while the span is live, on the application's threads:

- ``NestedCallMarker`` (span processor, ``_call_nesting``) marks a span started
  inside a model call (its usage is counted there) and the spans a model call
  ended under (their usage is a total); ``mark_nested_calls`` adds one to a
  tracer provider, once.
- ``GenAIContentEventProcessor`` (log record processor, ``_content_events``)
  keeps the GenAI content instrumentations log as events, by span.

Both write to a ``SpanNotes`` (``_span_notes``), which the exporter reads,
each span's notes once, as it turns the span into a run. Given none, they and
``DynamiqSpanExporter`` all use ``SHARED_NOTES``: that is how an exporter made
with no arguments (by ``opentelemetry-instrument``) or beside processors added
by hand finds what they noted. ``opentelemetry-instrument`` adds both, the
Dynamiq instrumentor the marker, and an exporter the content processor to the
global SDK logger provider; a manual setup with two instrumentations of one
LLM client adds the marker::

    provider.add_span_processor(NestedCallMarker())
"""

from otel_dynamiq.processors._call_nesting import NestedCallMarker, mark_nested_calls
from otel_dynamiq.processors._content_events import GenAIContentEventProcessor
from otel_dynamiq.processors._span_notes import SHARED_NOTES, SpanNotes

__all__ = [
    "SHARED_NOTES",
    "GenAIContentEventProcessor",
    "NestedCallMarker",
    "SpanNotes",
    "mark_nested_calls",
]
