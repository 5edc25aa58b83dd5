"""Whatever a span holds, export() never raises, every run encodes, and the local collector accepts it."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_dynamiq import DynamiqSpanExporter
from otel_dynamiq import attributes as attr
from otel_dynamiq.collector import LocalCollector
from tests.support.common import SpanRecorder

TEN_MB = "€" * (10 * 1024 * 1024 // 3)  # multi-byte, so bytes and characters differ
DEEP_JSON = "[" * 100_000 + "]" * 100_000
NASTY_STRINGS = ["a\ud800b", "\udfff", "\x00nul", "💥" * 1000, "not {json", '{"a": NaN}', DEEP_JSON]
NASTY_NUMBERS = [math.nan, math.inf, -math.inf, 2**63 - 1, -(2**63), 1e308, -0.0]


@pytest.fixture(scope="module")
def collector() -> Iterator[LocalCollector]:
    with LocalCollector() as running:
        yield running


@pytest.fixture(scope="module")
def exporter(collector: LocalCollector) -> Iterator[DynamiqSpanExporter]:
    made = DynamiqSpanExporter(endpoint=collector.url, timeout=30)
    yield made
    made.shutdown()


values = st.one_of(
    st.sampled_from(NASTY_STRINGS),
    st.sampled_from(NASTY_NUMBERS),
    st.text(max_size=200),
    st.lists(st.sampled_from(NASTY_NUMBERS), max_size=4),
    st.lists(st.sampled_from(NASTY_STRINGS[:5]), max_size=4),
    st.booleans(),
)
keys = st.sampled_from(
    [
        attr.RUN_TYPE,
        attr.RUN_INPUT,
        attr.RUN_OUTPUT,
        attr.RUN_METADATA,
        attr.RUN_ERROR,
        attr.RUN_EXECUTIONS,
        attr.RUN_STATUS,
        attr.RUN_TAGS,
        attr.RUN_NAME,
        "input.value",
        "input.mime_type",
        "gen_ai.input.messages",
        "gen_ai.usage.input_tokens",
        "llm.token_count.total",
        "session.id",
        "password",
        "a\ud800key",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attributes=st.dictionaries(keys, values, max_size=8), events=st.integers(min_value=0, max_value=3))
def test_any_span_is_delivered(
    exporter: DynamiqSpanExporter, collector: LocalCollector, attributes: dict[str, Any], events: int
) -> None:
    recorder = SpanRecorder()
    with recorder.tracer.start_as_current_span("nasty \ud800 name", attributes=attributes) as span:
        for index in range(events):
            span.add_event(f"event {index}", {"value": NASTY_STRINGS[index % len(NASTY_STRINGS)]})
    before = exporter.stats.runs_sent
    assert exporter.export(recorder.spans()) is SpanExportResult.SUCCESS, exporter.stats
    assert exporter.stats.runs_sent == before + 1
    recorder.provider.shutdown()


def test_huge_values_and_enormous_event_lists_are_cut_not_lost(
    exporter: DynamiqSpanExporter, collector: LocalCollector
) -> None:
    recorder = SpanRecorder()
    attributes = {attr.RUN_TYPE: "node", attr.RUN_NAME: "huge", attr.RUN_INPUT: json.dumps({"text": TEN_MB})}
    with recorder.tracer.start_as_current_span("huge", attributes=attributes):
        pass
    with recorder.tracer.start_as_current_span("chatty", attributes={"input.value": TEN_MB}) as span:
        for index in range(5_000):  # the SDK keeps the last 128 by default; all of them must fit
            span.add_event("tick", {"index": index, "payload": "p" * 1000})
    with recorder.tracer.start_as_current_span("deep", attributes={attr.RUN_TYPE: "node", attr.RUN_INPUT: DEEP_JSON}):
        pass
    assert exporter.export(recorder.spans()) is SpanExportResult.SUCCESS, exporter.stats
    runs = {run["name"]: run for run in collector.store.runs() if run["name"] in ("huge", "chatty", "deep")}
    assert set(runs) == {"huge", "chatty", "deep"}
    huge_text = runs["huge"]["input"]["text"]  # the object kept, its one large value cut
    assert huge_text.startswith("€€€") and "truncated by otel-dynamiq" in huge_text
    assert runs["chatty"]["input"].startswith("€€€") and "truncated by otel-dynamiq" in runs["chatty"]["input"]
    assert runs["deep"]["input"].startswith("[[[")  # not JSON it can parse: kept as text
    recorder.provider.shutdown()
