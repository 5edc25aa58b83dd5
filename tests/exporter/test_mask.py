"""The mask hook: each run as the service would get it goes through the user's function before it is sent."""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from otel_dynamiq import DynamiqSpanExporter
from otel_dynamiq import environment_variables as env
from otel_dynamiq.collector import LocalCollector
from tests.support.common import SpanRecorder, wait_for_runs


def spans_with_customer_ids() -> list[ReadableSpan]:
    """An LLM span and a plain one, with a customer id in the input, the output and an invocation parameter."""
    recorder = SpanRecorder()
    llm_attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "tiny-model",
        "gen_ai.system": "openai",
        "input.value": "refund for cust-1234",
        "output.value": "done for cust-1234",
        "llm.invocation_parameters": '{"user": "cust-1234", "temperature": 0}',
        "password": "hunter2",
    }
    with recorder.tracer.start_as_current_span("chat tiny-model", attributes=llm_attributes):
        pass
    with recorder.tracer.start_as_current_span("lookup", attributes={"input.value": "cust-99"}):
        pass
    spans = recorder.spans()
    recorder.provider.shutdown()
    return spans


def test_a_mask_from_the_variable_changes_every_field_of_the_runs_the_collector_stores(
    collector: LocalCollector, exporters: list[DynamiqSpanExporter], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_MASK, "tests.apps.masks:mask_customer_ids")
    exporter = DynamiqSpanExporter(endpoint=collector.url)
    exporters.append(exporter)
    exporter.export(spans_with_customer_ids())
    runs = wait_for_runs(collector, 2)
    stored = str(runs)
    assert "cust-" not in stored  # input, output and metadata (the invocation parameters) alike
    assert stored.count("[customer]") >= 4
    assert "hunter2" not in stored  # the built-in redaction ran before the mask, and still holds


def test_a_mask_returning_none_drops_the_run_counted_as_masked(
    collector: LocalCollector, exporters: list[DynamiqSpanExporter]
) -> None:
    seen: list[dict[str, Any]] = []
    threads: set[str] = set()

    def only_llm_runs(run: dict[str, Any]) -> dict[str, Any] | None:
        seen.append(run)
        threads.add(threading.current_thread().name)
        return run if run["metadata"].get("node", {}).get("group") == "llms" else None

    exporter = DynamiqSpanExporter(endpoint=collector.url, mask=only_llm_runs)
    exporters.append(exporter)
    spans = spans_with_customer_ids()
    exporting = threading.Thread(target=exporter.export, args=(spans,), name="the-exporting-thread")
    exporting.start()
    exporting.join()
    runs = wait_for_runs(collector, 1)
    assert [run["name"] for run in runs] == ["chat tiny-model"]
    assert exporter.stats.runs_dropped == {"masked": 1}
    assert threads == {"the-exporting-thread"}  # the thread that called export(), not the one that ended the span
    assert seen[0]["metadata"]["otel"]["attributes"]["password"] == "[redacted]"  # after the built-in redaction


def test_a_failing_mask_drops_only_its_runs_and_is_logged_once_per_exception_type(
    collector: LocalCollector, exporters: list[DynamiqSpanExporter], caplog: pytest.LogCaptureFixture
) -> None:
    def fails_on_lookups(run: dict[str, Any]) -> dict[str, Any] | None:
        if run["name"] == "lookup":
            raise KeyError("customer_id")
        return run

    exporter = DynamiqSpanExporter(endpoint=collector.url, mask=fails_on_lookups)
    exporters.append(exporter)
    with caplog.at_level(logging.WARNING, logger="otel_dynamiq"):
        exporter.export(spans_with_customer_ids())
        exporter.export(spans_with_customer_ids())
    runs = wait_for_runs(collector, 2)
    assert sorted(run["name"] for run in runs) == ["chat tiny-model", "chat tiny-model"]
    assert exporter.stats.runs_dropped == {"mask_failed": 2}
    lines = [record for record in caplog.records if "mask hook" in record.getMessage()]
    assert len(lines) == 1
    assert "KeyError" in lines[0].getMessage() and "\n" not in lines[0].getMessage()
    assert lines[0].exc_info is None  # no traceback at WARNING


def test_a_mask_returning_something_else_than_a_run_is_a_failure_not_a_leak(
    collector: LocalCollector, exporters: list[DynamiqSpanExporter]
) -> None:
    exporter = DynamiqSpanExporter(endpoint=collector.url, mask=lambda run: "not a run")  # type: ignore[arg-type,return-value]
    exporters.append(exporter)
    exporter.export(spans_with_customer_ids())
    assert exporter.stats.runs_dropped == {"mask_failed": 2}
    assert collector.store.runs() == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("tests.apps.masks", "not of the form package.module:function"),
        ("tests.apps.no_such_module:mask", "cannot be imported"),
        ("tests.apps.masks:no_such_function", "has no attribute 'no_such_function'"),
        ("tests.apps.masks:NOT_A_FUNCTION", "must be callable"),
        ("tests.apps.masks:Masker", "names the class Masker"),
        ("tests.apps.masks:mask_later", "not an async or generator one"),
        ("tests.apps.masks:mask_with_options", "must take exactly one argument, the run; it takes (run, options)"),
        ("tests.apps.masks:ASYNC_MASKER", "not an async or generator one"),
        ("tests.apps.mask_that_fails_to_import:mask", "cannot be imported (RuntimeError)"),
    ],
)
def test_a_bad_mask_variable_fails_at_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_MASK, value)
    with pytest.raises(ValueError, match=env.OTEL_EXPORTER_DYNAMIQ_MASK) as raised:
        DynamiqSpanExporter(endpoint="http://127.0.0.1:9")
    assert message in str(raised.value)
    assert "s3cr3t" not in str(raised.value)  # what a failing import said may quote the module's settings


def test_a_mask_taking_more_than_the_run_is_refused_without_showing_its_default_values() -> None:
    def scrub(run: dict[str, Any], vault: str, *, token: str) -> dict[str, Any]:
        return run

    with pytest.raises(ValueError, match=r"it takes \(run, vault, token\)") as raised:
        DynamiqSpanExporter(endpoint="http://127.0.0.1:9", mask=functools.partial(scrub, token="hvs.S3CR3T"))
    assert "S3CR3T" not in str(raised.value)


def test_a_mask_that_changes_the_trace_id_to_another_string_is_sent(
    collector: LocalCollector, exporters: list[DynamiqSpanExporter]
) -> None:
    """A trace id may be any string of up to 256 characters (Dynamiq's own are UUIDs)."""
    exporter = DynamiqSpanExporter(
        endpoint=collector.url, mask=lambda run: {**run, "trace_id": "tenant-a:" + run["trace_id"]}
    )
    exporters.append(exporter)
    exporter.export(named_spans("one"))
    assert wait_for_runs(collector, 1)[0]["trace_id"].startswith("tenant-a:")


RUN = "5f0c7c43-0d1e-4b8e-9a52-6a3f1f0f7a11"
TRACE = "0f3c2a5e-8b7d-4c1e-9f6a-2d4b8c0e1a33"


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for this value")


@pytest.mark.parametrize(
    ("returned", "failure"),
    [
        ({}, "returned a run without its id (a UUID string)"),
        ({"id": 12, "trace_id": TRACE}, "returned a run without its id (a UUID string)"),
        ({"id": RUN, "trace_id": ""}, "returned a run without its trace_id (a string of 1 to 256 characters)"),
        ({"id": RUN, "trace_id": TRACE, "parent_run_id": 5}, "returned a run whose parent_run_id is not a UUID"),
        (["a", "list"], "returned a list, not a run dict or None"),
        ({"id": RUN, "trace_id": TRACE, "input": Unprintable()}, "a run that cannot be encoded (RuntimeError)"),
    ],
)
def test_a_mask_returning_a_run_without_its_identity_is_refused_here_and_named_as_it_is(
    collector: LocalCollector,
    exporters: list[DynamiqSpanExporter],
    caplog: pytest.LogCaptureFixture,
    returned: Any,
    failure: str,
) -> None:
    """Sent, such a run would make the service refuse the whole request, again at every retry; and the log
    says what the mask returned, not that it raised."""
    exporter = DynamiqSpanExporter(endpoint=collector.url, mask=lambda run: returned)
    exporters.append(exporter)
    with caplog.at_level(logging.WARNING, logger="otel_dynamiq"):
        exporter.export(named_spans("one", "two"))
    assert exporter.stats.runs_dropped == {"mask_failed": 2}
    assert collector.store.runs() == []
    assert exporter.stats.requests == 0
    lines = [record.getMessage() for record in caplog.records if "mask hook" in record.getMessage()]
    assert len(lines) == 1 and failure in lines[0], lines
    assert "raised" not in lines[0]


def test_a_mask_keyword_that_is_not_callable_fails_at_start() -> None:
    with pytest.raises(ValueError, match="mask must be callable"):
        DynamiqSpanExporter(endpoint="http://127.0.0.1:9", mask=42)  # type: ignore[arg-type]


def named_spans(*names: str) -> list[ReadableSpan]:
    recorder = SpanRecorder()
    for name in names:
        with recorder.tracer.start_as_current_span(name, attributes={"input.value": f"input of {name}"}):
            pass
    spans = recorder.spans()
    recorder.provider.shutdown()
    return spans


def test_a_mask_changing_its_run_in_place_changes_no_other_run(
    collector: LocalCollector, exporters: list[DynamiqSpanExporter]
) -> None:
    """The runs of one process share their resource and scope until the mask gets its own copy."""
    from tests.apps.masks import hide_the_service_of_secret_runs

    exporter = DynamiqSpanExporter(endpoint=collector.url, mask=hide_the_service_of_secret_runs)
    exporters.append(exporter)
    exporter.export(named_spans("before", "secret", "after"))
    exporter.export(named_spans("later"))
    runs = {run["name"]: run for run in wait_for_runs(collector, 4)}
    assert runs["secret"]["metadata"]["otel"]["resource"]["service.name"] == "[hidden]"
    for name in ("before", "after", "later"):
        assert runs[name]["metadata"]["otel"]["resource"]["service.name"] != "[hidden]"
        assert not runs[name]["metadata"]["otel"]["scope"]["name"].endswith("+masked")


def test_a_mask_raising_system_exit_drops_its_run_only(
    collector: LocalCollector, exporters: list[DynamiqSpanExporter]
) -> None:
    from tests.apps.masks import exit_on_secret_runs

    exporter = DynamiqSpanExporter(endpoint=collector.url, mask=exit_on_secret_runs)
    exporters.append(exporter)
    exporter.export(named_spans("before", "secret", "after"))
    assert sorted(run["name"] for run in wait_for_runs(collector, 2)) == ["after", "before"]
    assert exporter.stats.runs_dropped == {"mask_failed": 1}


def test_what_the_mask_failed_on_is_not_logged(
    collector: LocalCollector, exporters: list[DynamiqSpanExporter], caplog: pytest.LogCaptureFixture
) -> None:
    from tests.apps.masks import fail_quoting_the_input

    exporter = DynamiqSpanExporter(endpoint=collector.url, mask=fail_quoting_the_input)
    exporters.append(exporter)
    with caplog.at_level(logging.DEBUG, logger="otel_dynamiq"):
        exporter.export(named_spans("refund for alice@example.com"))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "ValueError" in logged
    assert "alice@example.com" not in logged
    assert exporter.stats.runs_dropped == {"mask_failed": 1}
