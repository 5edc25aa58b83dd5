"""Secrets under secret-looking keys are masked before runs leave the process."""

from __future__ import annotations

import json

import pytest

from otel_dynamiq._translation.redaction import MASK, Redactor
from otel_dynamiq._translation.span_to_run import RunDefaults, span_to_run
from tests.support import dynamiq_apps as ds
from tests.support.common import SpanRecorder

SECRET = "hunter2-do-not-leak"


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("password", True),
        ("Password", True),
        ("db_password", True),
        ("openai_api_key", True),
        ("apiKey", True),  # matched whole, ignoring case
        ("apikey", True),
        ("http.request.header.authorization", True),
        ("x-api-key", False),  # not a name on the list: add it with OTEL_EXPORTER_DYNAMIQ_REDACT_KEYS
        ("access_token", True),
        ("client_secret", True),
        ("prompt_tokens", False),
        ("max_tokens", False),
        ("cache_key", False),
        ("tokenizer", False),
        ("secret_name", False),
    ],
)
def test_which_keys_are_secret(key: str, secret: bool) -> None:
    assert Redactor().is_secret(key) is secret


def test_nested_values_are_masked_and_clean_values_kept_as_they_are() -> None:
    redactor = Redactor(extra_names=["x-api-key"])
    clean = {"question": "hi", "usage": {"prompt_tokens": 3}, "items": [1, 2]}
    assert redactor.redact(clean) is clean
    dirty = {"q": "hi", "auth": {"password": SECRET, "user": "ann"}, "calls": [{"x-api-key": SECRET}], "token": None}
    assert redactor.redact(dirty) == {
        "q": "hi",
        "auth": {"password": MASK, "user": "ann"},
        "calls": [{"x-api-key": MASK}],
        "token": None,
    }
    assert dirty["auth"]["password"] == SECRET  # the caller's data is not modified


def test_translation_masks_inputs_outputs_and_metadata(recorder: SpanRecorder) -> None:
    attributes = {
        "dynamiq.run.type": "node",
        "dynamiq.run.input": json.dumps({"login": {"password": SECRET}}),
        "dynamiq.run.output": json.dumps({"api_key": SECRET, "answer": 4}),
        "dynamiq.run.metadata": json.dumps(
            {"node": {"connection": {"access_token": SECRET}}, "usage": {"total_tokens": 9}}
        ),
    }
    with recorder.tracer.start_as_current_span("dq", attributes=attributes):
        pass
    with recorder.tracer.start_as_current_span("GET", attributes={"http.request.header.authorization": SECRET}):
        pass
    defaults = RunDefaults("s", "t", Redactor())
    runs = [span_to_run(span, defaults) for span in recorder.spans()]
    assert SECRET not in json.dumps(runs)
    dq_run = next(run for run in runs if run["name"] == "dq")
    assert dq_run["output"] == {"api_key": MASK, "answer": 4}
    assert dq_run["metadata"]["usage"] == {"total_tokens": 9}
    http_run = next(run for run in runs if run["name"] == "GET")
    assert http_run["metadata"]["otel"]["attributes"]["http.request.header.authorization"] == MASK


def test_a_real_workflow_input_with_a_password_reaches_dynamiq_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_REDACT_KEYS", "ssn")
    with ds.instrumented() as traced:
        ds.sequential_flow().run_sync(input_data={"user": "ann", "password": SECRET, "ssn": "078-05-1120"})
        runs = traced.flush(expected_runs=5)
    assert len(runs) == 5
    received = json.dumps(runs)
    assert SECRET not in received and "078-05-1120" not in received
    workflow = next(run for run in runs if run["type"] == "workflow")
    assert workflow["input"] == {"user": "ann", "password": MASK, "ssn": MASK}
