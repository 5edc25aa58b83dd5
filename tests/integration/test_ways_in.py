"""The three ways in, each as a user runs it: real subprocesses whose runs we read back."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.util._importlib_metadata import entry_points

from otel_dynamiq import DynamiqSpanExporter
from otel_dynamiq.collector import LocalCollector
from tests.support.common import FAKE_KEY, wait_for_runs
from tests.support.processes import BIN, ROOT, clean_env, run

STOCK_DISTRO = ROOT / ".venv" / "stock-distro"


def assert_cli_trace(collector: LocalCollector, done: subprocess.CompletedProcess[str]) -> None:
    trace_hex = done.stdout.split()[0]
    runs = {run["name"]: run for run in wait_for_runs(collector, 2)}
    assert set(runs) == {"answer question", "chat tiny-model"}
    assert runs["answer question"]["trace_id"].replace("-", "") == trace_hex
    assert runs["chat tiny-model"]["parent_run_id"] == runs["answer question"]["id"]
    assert runs["chat tiny-model"]["metadata"]["usage"] == {
        "prompt_tokens": 7,
        "completion_tokens": 2,
        "total_tokens": 9,
    }
    assert runs["chat tiny-model"]["metadata"]["otel"]["resource"]["service.name"] == "cli-test"


def test_opentelemetry_instrument_with_only_this_package(keyed_collector: LocalCollector) -> None:
    """Nothing but the key and where to send: the distro picks the exporter and turns the rest off."""
    environment = clean_env(
        DYNAMIQ_ACCESS_KEY=FAKE_KEY,
        OTEL_EXPORTER_DYNAMIQ_ENDPOINT=keyed_collector.url,
        OTEL_SERVICE_NAME="cli-test",
    )
    done = run([str(BIN / "opentelemetry-instrument"), sys.executable, "examples/cli_app.py"], environment)
    assert_cli_trace(keyed_collector, done)
    # Metrics and logs are off: nothing tried to reach an OTLP endpoint.
    assert "otlp" not in done.stderr.lower() and "Traceback" not in done.stderr


def test_traces_exporter_flag_beside_the_stock_distro(keyed_collector: LocalCollector) -> None:
    assert (STOCK_DISTRO / "opentelemetry" / "distro").is_dir(), "run `make` first: it installs the stock distro"
    environment = clean_env(
        PYTHONPATH=str(STOCK_DISTRO),
        OTEL_PYTHON_DISTRO="distro",  # the stock distro and configurator, not ours
        OTEL_PYTHON_CONFIGURATOR="configurator",
        DYNAMIQ_ACCESS_KEY=FAKE_KEY,
        OTEL_EXPORTER_DYNAMIQ_ENDPOINT=keyed_collector.url,
        OTEL_SERVICE_NAME="cli-test",
    )
    command = [
        str(BIN / "opentelemetry-instrument"),
        "--traces_exporter",
        "dynamiq",
        "--metrics_exporter",
        "none",
        "--logs_exporter",
        "none",
        sys.executable,
        "examples/cli_app.py",
    ]
    done = run(command, environment)
    assert_cli_trace(keyed_collector, done)


def test_otel_traces_exporter_environment_variable_finds_the_entry_point(keyed_collector: LocalCollector) -> None:
    """The SDK's own configurator, as any distro runs it, resolves `dynamiq` by entry point."""
    script = (
        "from opentelemetry.sdk._configuration import _OTelSDKConfigurator\n"
        "_OTelSDKConfigurator().configure()\n"
        "exec(open('examples/cli_app.py').read())\n"
    )
    environment = clean_env(
        OTEL_TRACES_EXPORTER="dynamiq",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        DYNAMIQ_ACCESS_KEY=FAKE_KEY,
        OTEL_EXPORTER_DYNAMIQ_ENDPOINT=keyed_collector.url,
        OTEL_SERVICE_NAME="cli-test",
    )
    done = run([sys.executable, "-c", script], environment)
    assert_cli_trace(keyed_collector, done)


def test_entry_points_are_registered() -> None:
    (exporter,) = entry_points(group="opentelemetry_traces_exporter", name="dynamiq")
    loaded = exporter.load()
    assert loaded is DynamiqSpanExporter and issubclass(loaded, SpanExporter)
    (distro,) = entry_points(group="opentelemetry_distro", name="dynamiq")
    (configurator,) = entry_points(group="opentelemetry_configurator", name="dynamiq")
    assert distro.load().__name__ == "DynamiqDistro"
    assert configurator.load().__name__ == "DynamiqConfigurator"


def test_manual_setup_example(keyed_collector: LocalCollector) -> None:
    environment = clean_env(DYNAMIQ_ACCESS_KEY=FAKE_KEY, OTEL_EXPORTER_DYNAMIQ_ENDPOINT=keyed_collector.url)
    done = run([sys.executable, "examples/manual_setup.py"], environment)
    assert "runs sent: 2, dropped: 0" in done.stdout
    runs = {run["name"]: run for run in wait_for_runs(keyed_collector, 2)}
    assert runs["retrieve documents"]["parent_run_id"] == runs["handle request"]["id"]
    assert runs["retrieve documents"]["input"] == "refund policy"


def test_wrong_key_is_refused_and_counted(keyed_collector: LocalCollector) -> None:
    environment = clean_env(DYNAMIQ_ACCESS_KEY="not-the-key", OTEL_EXPORTER_DYNAMIQ_ENDPOINT=keyed_collector.url)
    done = run([sys.executable, "examples/manual_setup.py"], environment)
    assert "runs sent: 0, dropped: 2" in done.stdout
    assert "HTTP 401" in done.stderr
    assert "not-the-key" not in done.stderr
    assert keyed_collector.store.runs() == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX only")
def test_forked_child_delivers_its_own_spans(collector: LocalCollector) -> None:
    done = run([sys.executable, "-m", "tests.apps.fork_after_export", collector.url], clean_env())
    child_pid = done.stdout.strip()
    names = {run["name"] for run in wait_for_runs(collector, 3)}
    assert names == {"parent-before-fork", "parent-after-fork", f"child-{child_pid}"}


@pytest.mark.skipif(importlib.util.find_spec("socksio") is not None, reason="socksio is installed: SOCKS proxies work")
def test_a_socks_proxy_httpx_cannot_use_is_refused_at_start_up_like_any_bad_setting(collector: LocalCollector) -> None:
    """Under ``opentelemetry-instrument`` the exporter's ValueError goes where every bad setting's goes: the
    SDK's configurator logs it and the application runs untraced. It names the variable and what to install,
    never the proxy's credentials."""
    environment = {key: value for key, value in clean_env().items() if not key.lower().endswith("_proxy")} | {
        "OTEL_EXPORTER_DYNAMIQ_ENDPOINT": collector.url,
        "ALL_PROXY": "socks5://proxy-user-3c9d:proxy-secret-81fa@127.0.0.1:1080",
    }
    done = run([str(BIN / "opentelemetry-instrument"), sys.executable, "tests/apps/short_lived.py", "api"], environment)
    assert len(done.stdout.split()[0]) == 32  # the application ran, and printed its trace id
    assert "ValueError: ALL_PROXY names a SOCKS proxy (socks5://), which needs the socksio package" in done.stderr
    assert "httpx[socks]" in done.stderr
    assert "proxy-user-3c9d" not in done.stderr and "proxy-secret-81fa" not in done.stderr
    assert collector.store.runs() == []
