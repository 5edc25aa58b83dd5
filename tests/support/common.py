"""What most tests share: a recognisable fake key, waiting for a condition, recording real spans."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_dynamiq.collector import LocalCollector

FAKE_KEY = "dq-test-key-7f3a9c1e5b"
"""Recognisable, so a test can grep for it anywhere it must not appear."""


def wait_for(condition: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll until the condition holds; return its value or fail with what was last seen."""
    deadline = time.monotonic() + timeout
    value = condition()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = condition()
    assert value, "condition not met in time"
    return value


def wait_for_runs(collector: LocalCollector, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    wait_for(lambda: len(collector.store.runs()) >= count, timeout)
    return collector.store.runs()


class SpanRecorder:
    """A real SDK tracer whose finished spans are kept, for translation tests."""

    def __init__(self, resource: Resource | None = None) -> None:
        self.memory = InMemorySpanExporter()
        self.provider = TracerProvider(resource=resource or Resource.create({"service.name": "tests"}))
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.tracer = self.provider.get_tracer("tests.scope", "1.2.3")

    def spans(self) -> list[ReadableSpan]:
        return list(self.memory.get_finished_spans())

    def one(self, name: str) -> ReadableSpan:
        matches = [span for span in self.spans() if span.name == name]
        assert len(matches) == 1, f"expected one span named {name!r}, got {len(matches)}"
        return matches[0]
