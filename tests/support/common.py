"""What most tests share: a recognisable fake key, waiting for a condition, recording real spans."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
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


def runs_by_scenario(runs: list[dict[str, Any]], scenarios: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The runs under each ``scenario <name>`` run, by name: how the producer tests find each call's runs."""
    by_id = {run["id"]: run for run in runs}
    grouped: dict[str, list[dict[str, Any]]] = {name: [] for name in scenarios}
    for run in runs:
        ancestor = run
        while ancestor["parent_run_id"] in by_id and not ancestor["name"].startswith("scenario "):
            ancestor = by_id[ancestor["parent_run_id"]]
        if ancestor is not run and ancestor["name"].startswith("scenario "):
            grouped[ancestor["name"].removeprefix("scenario ")].append(run)
    return grouped


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
