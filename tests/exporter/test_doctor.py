"""`otel-dynamiq doctor` as a user runs it: a real subprocess against the local collector."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from otel_dynamiq import DynamiqSpanExporter
from otel_dynamiq import environment_variables as env
from otel_dynamiq._delivery.spool import inspect_spool
from otel_dynamiq._instrumentations import InstrumentationStatus, describe_instrumentations
from otel_dynamiq.collector import LocalCollector
from tests.support.common import FAKE_KEY
from tests.support.processes import ROOT, clean_env
from tests.support.runs import make_spans
from tests.support.servers import free_port

pytestmark = pytest.mark.same_on_every_python  # the doctor's wording; its checks run in the other tests


def doctor(**environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_dynamiq.cli", "doctor"],
        env=clean_env(**environment),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_a_sound_setup_is_confirmed_with_a_real_run(keyed_collector: LocalCollector) -> None:
    done = doctor(DYNAMIQ_ACCESS_KEY=FAKE_KEY, OTEL_EXPORTER_DYNAMIQ_ENDPOINT=keyed_collector.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"endpoint {keyed_collector.url}/v1/traces" in done.stdout
    assert "service: accepted a test run" in done.stdout
    assert [run["name"] for run in keyed_collector.store.runs()] == ["otel-dynamiq doctor"]
    assert FAKE_KEY not in done.stdout + done.stderr


def test_a_refused_key_is_reported_without_echoing_it(keyed_collector: LocalCollector) -> None:
    done = doctor(DYNAMIQ_ACCESS_KEY="wrong-key-1234", OTEL_EXPORTER_DYNAMIQ_ENDPOINT=keyed_collector.url)
    assert done.returncode == 1
    assert "not delivered (rejected)" in done.stdout
    assert "the access key was refused" in done.stderr
    assert "wrong-key-1234" not in done.stdout + done.stderr


def test_a_missing_key_is_a_configuration_error() -> None:
    done = doctor(OTEL_EXPORTER_DYNAMIQ_ENDPOINT="https://collector.example")
    assert done.returncode == 2
    assert "configuration: not usable" in done.stdout and "DYNAMIQ_ACCESS_KEY" in done.stdout


def test_the_spool_state_is_printed_and_left_alone() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # the service is out
    waiting = DynamiqSpanExporter(endpoint=url, access_key=FAKE_KEY, timeout=1)
    waiting.export(make_spans(2))
    waiting.shutdown()

    done = doctor(DYNAMIQ_ACCESS_KEY=FAKE_KEY, OTEL_EXPORTER_DYNAMIQ_ENDPOINT=url, OTEL_EXPORTER_DYNAMIQ_TIMEOUT="1")
    assert done.returncode == 1
    assert f"spool: {os.environ[env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR]}/" in done.stdout
    assert "2 runs waiting in 1 bodies" in done.stdout
    assert "service: the test run was not delivered (timeout)" in done.stdout  # never spooled as a success
    assert FAKE_KEY not in done.stdout + done.stderr
    state = inspect_spool(waiting.config)
    assert state is not None and state.runs == 2  # the doctor resent nothing and added nothing


def test_a_spool_that_is_off_is_said_so() -> None:
    done = doctor(OTEL_EXPORTER_DYNAMIQ_ENDPOINT=f"http://127.0.0.1:{free_port()}", OTEL_EXPORTER_DYNAMIQ_SPOOL="false")
    assert "spool: off (OTEL_EXPORTER_DYNAMIQ_SPOOL=false)" in done.stdout


def fake_distribution(site: Path, name: str, module: str) -> None:
    """An installed instrumentation whose entry point names a module that cannot be imported."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[opentelemetry_instrumentor]\nbroken = {module}:Instrumentor\n")


def test_instrumentations_are_listed_with_why_one_was_skipped(keyed_collector: LocalCollector, tmp_path: Path) -> None:
    """The auto-loader skips an instrumentation whose import fails without a word; the doctor says it."""
    fake_distribution(tmp_path, "opentelemetry-instrumentation-broken", "a_module_that_is_not_there")
    done = doctor(
        DYNAMIQ_ACCESS_KEY=FAKE_KEY,
        OTEL_EXPORTER_DYNAMIQ_ENDPOINT=keyed_collector.url,
        PYTHONPATH=str(tmp_path),
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="httpx2",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "  dynamiq (otel-dynamiq 0.1.0): loads" in lines
    assert any(
        line.startswith("  httpx (opentelemetry-instrumentation-httpx ") and line.endswith(": loads") for line in lines
    )
    assert any(
        line.startswith("  httpx2 (") and "skipped: disabled by OTEL_PYTHON_DISABLED_INSTRUMENTATIONS" in line
        for line in lines
    )
    assert (
        "  broken (opentelemetry-instrumentation-broken 1.0): skipped: its import fails "
        "(ModuleNotFoundError: No module named 'a_module_that_is_not_there')" in lines
    )
    # The test extra installs three OpenAI instrumentations beside Dynamiq: the same calls, traced over again.
    (same_client,) = [line for line in lines if line.startswith("  note: 3 instrumentations named 'openai'")]
    assert "traced 3 times; otel-dynamiq counts each call's usage once, in the outermost run" in same_client
    (under_dynamiq,) = [line for line in lines if line.startswith("  note: dynamiq and ")]
    assert "openai" in under_dynamiq and "the LLM node's run carries it" in under_dynamiq
    (siblings,) = [line for line in lines if line.startswith("  note: OpenInference's langchain")]
    assert siblings.endswith("set OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=openai")


def test_duplicate_llm_tracing_is_explained_and_other_duplicates_are_not() -> None:
    statuses = [
        InstrumentationStatus("dynamiq", "otel-dynamiq", "0.1.0", loaded=True),
        InstrumentationStatus("litellm", "openinference-instrumentation-litellm", "0.1", loaded=True),
        InstrumentationStatus("httpx", "opentelemetry-instrumentation-httpx", "0.1", loaded=True),
        InstrumentationStatus("httpx", "other-httpx", "0.1", loaded=True),
    ]
    notes = [line for line in describe_instrumentations(statuses) if line.startswith("  note:")]
    assert notes == [
        "  note: 2 instrumentations named 'httpx' load together, so each call is traced twice; "
        "uninstall the one you do not want",
        "  note: dynamiq and litellm may both trace the model calls of Dynamiq's LLM nodes; otel-dynamiq counts "
        "each call's usage once, in the outermost run; the runs inside it keep theirs under metadata.otel.usage: "
        "the LLM node's run carries it, as Dynamiq's own tracing does (an embedder node's run has no usage in "
        "Dynamiq, so there the client's run counts it)",
    ]
    assert not [line for line in describe_instrumentations(statuses[1:]) if "dynamiq and" in line]


def test_content_capture_is_described() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = doctor(
        OTEL_EXPORTER_DYNAMIQ_ENDPOINT=url,
        OTEL_EXPORTER_DYNAMIQ_TIMEOUT="1",
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true",
    )
    assert (
        "GenAI content: OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true; the log events are routed"
        in done.stdout
    )
