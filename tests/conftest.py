from __future__ import annotations

import os

# dynamiq imports litellm, which downloads a price map unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_dynamiq import DynamiqSpanExporter
from otel_dynamiq import environment_variables as env
from otel_dynamiq.collector import LocalCollector

FAKE_KEY = "dq-test-key-7f3a9c1e5b"
"""Recognisable, so a test can grep for it anywhere it must not appear."""


@pytest.fixture(autouse=True)
def _clean_exporter_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests start from an environment with none of the exporter's variables, and a spool of their own.

    The spool directory is set (and inherited by the subprocesses a test starts),
    so no test resends what another one left behind in the default directory.
    """
    for name in vars(env).values():
        if isinstance(name, str) and (name.startswith("OTEL_EXPORTER_DYNAMIQ") or name.startswith("DYNAMIQ_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR, str(tmp_path_factory.mktemp("spool")))


@pytest.fixture
def exporters() -> Iterator[list[DynamiqSpanExporter]]:
    """Exporters a test makes (it appends them here) are shut down after it, even when it fails."""
    made: list[DynamiqSpanExporter] = []
    yield made
    for exporter in made:
        exporter.shutdown(timeout_millis=2000)


@pytest.fixture
def collector() -> Iterator[LocalCollector]:
    with LocalCollector() as running:
        yield running


@pytest.fixture
def keyed_collector() -> Iterator[LocalCollector]:
    with LocalCollector(access_key=FAKE_KEY) as running:
        yield running


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


@pytest.fixture
def recorder() -> Iterator[SpanRecorder]:
    made = SpanRecorder()
    yield made
    made.provider.shutdown()
