"""What one OTLP request may hold, whatever its encoding: each bound is checked before the work it protects.

A decoded protobuf message costs about 60 bytes of memory however few bytes
it took on the wire (an empty ``ResourceSpans`` is two), and an SDK span about
10 KB once translated, so size bounds alone do not bound memory: the counts
below do. Together they bound one request's peak memory (the README states the
figure measured by ``benchmarks/gateway_limits.py``).
"""

from __future__ import annotations

from http import HTTPStatus

from otel_dynamiq._http_server.request_body import SMALLER_BATCHES, BodyError

MAX_SPANS = 10_000
"""Spans in one request: the SDK's batches hold 512, the Collector's default 8,192."""
MAX_ATTRIBUTES = 1_024
"""Attributes of one span, event, link, resource or scope (the SDK keeps 128 by default)."""
MAX_EVENTS = 1_024
"""Events, and links, of one span (the SDK keeps 128 by default)."""
MAX_VALUES = 500_000
"""Attribute values in one request, counting every item of arrays and maps: 50 for each of 10,000 spans."""
MAX_NESTING = 16
"""Arrays and maps inside attribute values: deeper is never instrumentation, only an attack."""
MAX_MESSAGES = 1_200_000
"""Protobuf messages in one large request, counted on the wire before it is decoded: two a value
(the pair and its value), and room for the spans, events and links around them."""
SCAN_ABOVE_BYTES = 4 * 1024 * 1024
"""Smaller protobuf bodies are decoded without counting first (at worst about 130 MB decoded, measured):
counting costs about 1 µs a field in Python, which would double the cost of the SDK's usual batches."""
MAX_IDENTIFYING_BYTES = 64 * 1024
"""A span name (or session id, run name, tag) that a run carries whole: runs cut payloads, never these."""
MAX_TIME_UNIX_NANO = 7_258_118_400 * 10**9
"""2200-01-01: a later time is a broken clock or an attack, and the service would refuse the run."""


def too_large(detail: str) -> BodyError:
    """A 413 (or gRPC's final RESOURCE_EXHAUSTED) whose message tells the sender what to change."""
    return BodyError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"{detail}: {SMALLER_BATCHES}")
