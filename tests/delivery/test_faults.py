"""Fault injection: real misbehaving servers on 127.0.0.1, real span streams and real Dynamiq workflows.

Every test asserts by run id what the collector finally holds, and that it
received each run once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_dynamiq import DynamiqSpanExporter
from otel_dynamiq import environment_variables as env
from otel_dynamiq._delivery.spool import inspect_spool
from otel_dynamiq._translation.span_to_run import run_uuid
from otel_dynamiq.collector import LocalCollector
from tests.support.common import FAKE_KEY, wait_for
from tests.support.processes import ROOT, clean_env
from tests.support.servers import CutOff, Hang, Reply, Reset, ScriptedServer, forward_to, free_port

# Not on the Python matrix: kill -9, a full disk, leases between processes: the operating system's part.
pytestmark = pytest.mark.same_on_every_python


class SteadyLoad:
    """An application thread ending spans at a steady pace, through a BatchSpanProcessor to the exporter."""

    def __init__(self, exporter: DynamiqSpanExporter, spans: int) -> None:
        self.exporter = exporter
        self.provider = TracerProvider()
        self.provider.add_span_processor(
            BatchSpanProcessor(exporter, schedule_delay_millis=50, max_export_batch_size=50)
        )
        self.tracer = self.provider.get_tracer("steady-load")
        self.run_ids: list[str] = []
        self.ended = threading.Event()
        self._spans = spans
        self._thread = threading.Thread(target=self._produce, name="application")
        self.progress = threading.Semaphore(0)

    def _produce(self) -> None:
        for index in range(self._spans):
            with self.tracer.start_as_current_span(f"request {index}", attributes={"input.value": "x" * 200}) as span:
                context = span.get_span_context()
            self.run_ids.append(run_uuid(context.trace_id, context.span_id))
            self.progress.release()
            time.sleep(0.002)
        self.ended.set()

    def __enter__(self) -> SteadyLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join()
        self.provider.shutdown()

    def wait_for_spans(self, count: int) -> None:
        for _ in range(count):
            assert self.progress.acquire(timeout=30)

    def finish(self) -> None:
        self._thread.join(timeout=60)
        assert not self._thread.is_alive()
        self.provider.force_flush()


def assert_delivered_once(collector: LocalCollector, run_ids: list[str]) -> None:
    wait_for(lambda: collector.store.delivery_counts().keys() >= set(run_ids), timeout=60)
    counts = collector.store.delivery_counts()
    assert {run_id: counts[run_id] for run_id in run_ids} == dict.fromkeys(run_ids, 1)


def exporter_at(made: list[DynamiqSpanExporter], url: str, timeout: float = 1) -> DynamiqSpanExporter:
    exporter = DynamiqSpanExporter(endpoint=url, access_key=FAKE_KEY, timeout=timeout)
    made.append(exporter)
    return exporter


def test_refused_connections_during_steady_load_then_recovery(exporters: list[DynamiqSpanExporter]) -> None:
    port = free_port()
    exporter = exporter_at(exporters, f"http://127.0.0.1:{port}")
    with SteadyLoad(exporter, spans=800) as load:
        # The collector is down for the first stretch of the load: longer than one export's deadline.
        load.wait_for_spans(300)
        wait_for(lambda: exporter.stats.runs_spooled > 0)
        with LocalCollector(port=port, access_key=FAKE_KEY) as collector:
            load.finish()
            assert_delivered_once(collector, load.run_ids)
    stats = exporter.stats
    assert stats.runs_spooled > 0 and stats.runs_resent > 0
    assert stats.runs_dropped_total == 0


def test_5xx_storm_429_cut_off_and_reset_answers_then_recovery(exporters: list[DynamiqSpanExporter]) -> None:
    with LocalCollector(access_key=FAKE_KEY) as collector:
        storm = [Reply(503), Reply(500), Reply(429, headers={"Retry-After": "1"}), Reply(502)]
        broken = [CutOff(), Reset()]
        with ScriptedServer(*storm, *broken, forward_to(collector.url)) as server:
            exporter = exporter_at(exporters, server.url, timeout=3)
            with SteadyLoad(exporter, spans=400) as load:
                load.finish()
                assert load.ended.is_set()
                assert_delivered_once(collector, load.run_ids)
        assert len(server.requests) > len(storm) + len(broken)
    assert exporter.stats.runs_dropped_total == 0


def test_a_server_that_never_answers_costs_the_application_nothing(exporters: list[DynamiqSpanExporter]) -> None:
    port = free_port()
    hanging = ScriptedServer(Hang(), port=port)
    with hanging:
        exporter = exporter_at(exporters, hanging.url, timeout=3)
        load = SteadyLoad(exporter, spans=300)
        with load:
            load.ended.wait(timeout=60)
            # Every span has ended, while no request sent so far has had an answer.
            assert load.ended.is_set()
            wait_for(lambda: hanging.requests)
            assert exporter.stats.runs_sent == 0
        # Leaving `with load` shut the provider down: bounded by the exporter's timeout, nothing lost.
        state = inspect_spool(exporter.config)
        assert state is not None and state.runs == 300
    with LocalCollector(port=port, access_key=FAKE_KEY) as collector:
        exporter_at(exporters, f"http://127.0.0.1:{port}")  # the next start resends
        assert_delivered_once(collector, load.run_ids)


# The application as a separate process: killed, restarted, out of disk.


def app_environment(url: str, timeout: float = 1) -> dict[str, str]:
    return clean_env(
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        DYNAMIQ_ACCESS_KEY=FAKE_KEY,
        OTEL_EXPORTER_DYNAMIQ_ENDPOINT=url,
        OTEL_EXPORTER_DYNAMIQ_TIMEOUT=str(timeout),
    )


def start_app(environment: dict[str, str], *arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.apps.spooling_app", *arguments],
        env=environment,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def expected_run_ids(app: subprocess.Popen[str]) -> list[str]:
    assert app.stdout is not None
    line = app.stdout.readline()
    assert line, app.stderr.read() if app.stderr else "the app ended early"
    return list(json.loads(line))


def resend_in_a_new_process(url: str) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.apps.spooling_app", "resend"],
        env=app_environment(url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def spool_entries() -> list[str]:
    return [path.name for path in Path(os.environ[env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR]).rglob("*") if path.is_file()]


def test_killed_with_runs_in_the_spool_the_next_process_delivers_them() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = start_app(app_environment(url), "produce", "3")
    try:
        run_ids = expected_run_ids(app)
        assert len(run_ids) == 15  # workflow, flow and three nodes, three times
        assert spool_entries()
    finally:
        app.send_signal(signal.SIGKILL)
        app.wait(timeout=30)
    with LocalCollector(port=port, access_key=FAKE_KEY) as collector:
        assert resend_in_a_new_process(url)["resent"] == 15
        assert_delivered_once(collector, run_ids)
    assert spool_entries() == []


def test_killed_while_resending_its_lease_passes_to_the_next_process() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with ScriptedServer(Hang(), port=port):
        app = start_app(app_environment(url, timeout=2), "produce", "2")
        try:
            run_ids = expected_run_ids(app)
            # The background resender holds a lease while its request hangs: kill it right then.
            wait_for(lambda: any(".lease." in name for name in spool_entries()), timeout=30)
        finally:
            app.send_signal(signal.SIGKILL)
            app.wait(timeout=30)
        assert any(".lease." in name for name in spool_entries())
    with LocalCollector(port=port, access_key=FAKE_KEY) as collector:
        # The dead holder's lease is good for a minute; on the same host its pid shows it is gone.
        assert resend_in_a_new_process(url)["resent"] == 10
        assert_delivered_once(collector, run_ids)


def test_the_process_exits_within_the_shutdown_timeout_while_the_server_hangs() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with ScriptedServer(Hang(), port=port) as hanging:
        # A hang detector, not a speed test: exit waits at most the exporter's 3 s deadline.
        done = subprocess.run(
            [sys.executable, "-m", "tests.apps.spooling_app", "produce-and-exit", "2"],
            env=app_environment(url, timeout=3),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert hanging.requests
    with LocalCollector(port=port, access_key=FAKE_KEY) as collector:
        assert resend_in_a_new_process(url)["resent"] == 10
        workflows = [run for run in collector.store.runs() if run["type"] == "workflow"]
        assert len(workflows) == 2
        assert set(collector.store.delivery_counts().values()) == {1}


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_a_full_disk_degrades_to_memory_with_one_warning() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = start_app(app_environment(url), "produce", "2", "--full-disk")
    try:
        run_ids = expected_run_ids(app)
        assert spool_entries() == []  # the failed write left nothing behind
        with LocalCollector(port=port, access_key=FAKE_KEY) as collector:
            output, errors = app.communicate("go\n", timeout=120)
            assert app.returncode == 0, errors
            assert_delivered_once(collector, run_ids)
    finally:
        if app.poll() is None:
            app.kill()
    assert json.loads(output.strip().splitlines()[-1]) == {"resent": 10, "dropped": {}}
    assert errors.count("cannot use its disk spool") == 1
    assert "File too large" in errors
