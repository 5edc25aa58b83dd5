"""Short-lived processes, as cron jobs, CLI tools and test runs are: a trace, then exit at once.

Each test starts real subprocesses (``tests/apps/short_lived.py``) that end right
after their last span without calling ``shutdown()``, so every run reaches the
service through the provider's ``atexit`` hook, while the interpreter shuts
down. They run on whichever Python runs the suite, and CI runs the suite on
3.10 to 3.13. Endpoints are named as users name theirs: ``localhost`` (a name
to resolve), https with a certificate from a CA made for the test, and a name
that resolves to nothing.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_dynamiq import DynamiqSpanExporter
from otel_dynamiq import environment_variables as env
from otel_dynamiq._config import load_config
from otel_dynamiq._delivery.spool import inspect_spool
from otel_dynamiq.collector import LocalCollector
from tests.support.common import FAKE_KEY, SpanRecorder, wait_for_runs
from tests.support.servers import Reply, ScriptedServer, forward_to, free_port
from tests.support.tls import CertificateAuthority, TlsFront

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
APP = str(ROOT / "tests" / "apps" / "short_lived.py")
WAYS = ["opentelemetry-instrument", "manual", "initialize"]
EXIT_LIMIT_SECONDS = 60
"""Far above any exit the exporter allows (its default timeout is 10 s); reaching it means exit was held."""


def app_environment(endpoint: str, **extra: str) -> dict[str, str]:
    """The test's environment without any OpenTelemetry or Dynamiq setting but the test's spool and these."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "DYNAMIQ_")) and key not in ("PYTHONPATH", "SSL_CERT_FILE", "SSL_CERT_DIR")
    }
    environment[env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR] = os.environ[env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR]
    environment[env.OTEL_EXPORTER_DYNAMIQ_ENDPOINT] = endpoint
    environment["OTEL_SERVICE_NAME"] = "short-lived"
    environment.update(extra)
    return environment


def run_app(way: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the script the given way; it must exit cleanly, with no traceback from anyone."""
    if way == "opentelemetry-instrument":
        command = [str(BIN / "opentelemetry-instrument"), sys.executable, APP, "api"]
    else:
        command = [sys.executable, APP, way]
    done = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=EXIT_LIMIT_SECONDS, cwd=ROOT.parent
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done


def trace_of(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout.split()[0]


def assert_trace_arrived(collector: LocalCollector, trace_hex: str, total_runs: int = 2) -> None:
    runs = [run for run in wait_for_runs(collector, total_runs) if run["trace_id"].replace("-", "") == trace_hex]
    by_name = {run["name"]: run for run in runs}
    assert sorted(by_name) == ["short job", "step"], runs
    assert by_name["step"]["parent_run_id"] == by_name["short job"]["id"]
    assert by_name["step"]["input"] == "one step"


def spooled_runs(endpoint: str, access_key: str | None = None) -> int:
    state = inspect_spool(load_config(endpoint=endpoint, access_key=access_key))
    assert state is not None
    return state.runs


def log_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def https_collector(collector: LocalCollector, authority: CertificateAuthority) -> Iterator[TlsFront]:
    with TlsFront(collector.url, authority.server_context()) as front:
        yield front


@pytest.mark.parametrize("way", WAYS)
def test_runs_arrive_from_a_process_that_exits_right_after_its_spans(way: str, collector: LocalCollector) -> None:
    """``localhost``, not 127.0.0.1: the name is resolved while the interpreter shuts down."""
    endpoint = collector.url.replace("127.0.0.1", "localhost")
    done = run_app(way, app_environment(endpoint))
    assert_trace_arrived(collector, trace_of(done))
    assert log_lines(done) == []


@pytest.mark.parametrize("way", WAYS)
def test_https_endpoint_trusted_through_the_certificate_setting(
    way: str, collector: LocalCollector, https_collector: TlsFront, authority: CertificateAuthority
) -> None:
    environment = app_environment(https_collector.url, OTEL_EXPORTER_DYNAMIQ_CERTIFICATE=str(authority.ca_file))
    done = run_app(way, environment)
    assert_trace_arrived(collector, trace_of(done))
    assert log_lines(done) == []


def test_https_endpoint_trusted_through_ssl_cert_file(
    collector: LocalCollector, https_collector: TlsFront, authority: CertificateAuthority
) -> None:
    """The standard variable works too, as for any httpx client."""
    done = run_app("manual", app_environment(https_collector.url, SSL_CERT_FILE=str(authority.ca_file)))
    assert_trace_arrived(collector, trace_of(done))


def test_untrusted_certificate_is_refused_in_one_line_and_never_downgraded(
    collector: LocalCollector, https_collector: TlsFront
) -> None:
    """No CA setting: the test CA is not among the defaults, so nothing may reach the collector."""
    done = run_app("manual", app_environment(https_collector.url))
    (line,) = log_lines(done)
    assert "certificate is not trusted" in line and env.OTEL_EXPORTER_DYNAMIQ_CERTIFICATE in line, line
    assert "wait in the spool" in line
    assert https_collector.handshake_failures >= 1
    assert collector.store.runs() == []
    assert spooled_runs(https_collector.url) == 2


def test_a_name_that_does_not_resolve_spools_and_says_so_once() -> None:
    """``.invalid`` never resolves (RFC 6761); the runs wait in the spool, and one line says why."""
    endpoint = "https://otel-dynamiq-test.invalid"
    done = run_app("manual", app_environment(endpoint, DYNAMIQ_ACCESS_KEY=FAKE_KEY))
    (line,) = log_lines(done)
    assert "ConnectError" in line and "wait in the spool" in line, line
    assert FAKE_KEY not in done.stderr
    assert spooled_runs(endpoint, FAKE_KEY) == 2


@pytest.mark.parametrize("way", WAYS)
def test_service_down_spools_and_the_next_short_process_delivers(way: str) -> None:
    port = free_port()
    endpoint = f"http://localhost:{port}"
    first = run_app(way, app_environment(endpoint))
    assert spooled_runs(endpoint) == 2
    assert len(log_lines(first)) == 1, first.stderr

    with LocalCollector(port=port) as collector:
        second = run_app(way, app_environment(endpoint))
        assert_trace_arrived(collector, trace_of(second), total_runs=4)
        assert_trace_arrived(collector, trace_of(first), total_runs=4)
    assert spooled_runs(endpoint) == 0


@pytest.mark.parametrize("way", WAYS)
def test_slow_service_spools_within_the_timeout_and_does_not_hold_the_exit(way: str) -> None:
    """The service answers after a minute; the exporter's timeout is one second, and exit must not wait longer."""
    with ScriptedServer(Reply(delay=EXIT_LIMIT_SECONDS)) as slow:
        endpoint = slow.url.replace("127.0.0.1", "localhost")
        done = run_app(way, app_environment(endpoint, OTEL_EXPORTER_DYNAMIQ_TIMEOUT="1"))
        assert len(slow.requests) >= 1  # it was tried, not skipped
    assert spooled_runs(endpoint) == 2
    (line,) = log_lines(done)
    assert "ReadTimeout" in line and "wait in the spool" in line, line


def test_with_the_spool_off_what_is_lost_is_counted_in_one_line() -> None:
    endpoint = f"http://localhost:{free_port()}"
    done = run_app(
        "manual", app_environment(endpoint, OTEL_EXPORTER_DYNAMIQ_SPOOL="false", OTEL_EXPORTER_DYNAMIQ_TIMEOUT="1")
    )
    (line,) = log_lines(done)
    assert line.startswith("Dropped 2 Dynamiq runs (timeout)"), line


def test_exporter_in_a_long_lived_process_over_https_with_a_certificate_file(
    collector: LocalCollector,
    https_collector: TlsFront,
    authority: CertificateAuthority,
    exporters: list[DynamiqSpanExporter],
    recorder: SpanRecorder,
) -> None:
    """The keyword argument, in-process: one client, its TLS context made off the caller's thread."""
    exporter = DynamiqSpanExporter(endpoint=https_collector.url, certificate_file=authority.ca_file)
    exporters.append(exporter)
    with recorder.tracer.start_as_current_span("short job"):
        with recorder.tracer.start_as_current_span("step", attributes={"input.value": "one step"}):
            pass
    assert exporter.export(recorder.spans()).name == "SUCCESS"
    assert exporter.stats.runs_sent == 2
    assert {run["name"] for run in collector.store.runs()} == {"short job", "step"}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX only")
def test_a_worker_forked_while_the_exporter_readies_itself_delivers(collector: LocalCollector) -> None:
    """Forks land before, during and after the exporter's start on its loop thread (it imports modules there).

    A child forked while that thread held a module lock would hang on its first import of that module.
    """
    rounds = 10
    environment = app_environment(collector.url.replace("127.0.0.1", "localhost"))
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "apps" / "fork_during_start.py"), str(rounds)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT.parent,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"hung": 0, "failed": 0}, done.stderr
    names = {run["name"] for run in wait_for_runs(collector, rounds)}
    assert names == {f"worker {number}" for number in range(rounds)}


def test_a_thread_that_outlives_main_is_not_taken_for_exit(collector: LocalCollector) -> None:
    """The service refuses once with 503: a live application retries at once instead of spooling as at exit."""
    with ScriptedServer(Reply(status=503), forward_to(collector.url)) as flaky:
        done = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "apps" / "thread_outlives_main.py")],
            env=app_environment(flaky.url),
            capture_output=True,
            text=True,
            timeout=EXIT_LIMIT_SECONDS,
        )
        assert done.returncode == 0 and log_lines(done) == [], done.stderr
        assert len(flaky.requests) == 2
    assert [run["name"] for run in collector.store.runs()] == ["after main returned"]
    assert spooled_runs(flaky.url) == 0


def test_a_certificate_for_another_host_is_named_as_such(
    collector: LocalCollector, authority: CertificateAuthority, tmp_path: Path
) -> None:
    """Trusting the CA cannot help here, so the line must not say it would."""
    wrong_host = authority.ca.issue_cert("elsewhere.example")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    wrong_host.configure_cert(context)
    with TlsFront(collector.url, context) as front:
        environment = app_environment(front.url, OTEL_EXPORTER_DYNAMIQ_CERTIFICATE=str(authority.ca_file))
        (line,) = log_lines(run_app("manual", environment))
    assert "certificate was refused" in line and "Hostname mismatch" in line, line
    assert env.OTEL_EXPORTER_DYNAMIQ_CERTIFICATE not in line
