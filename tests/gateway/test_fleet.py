"""A fleet with real parts: an app, the OpenTelemetry Collector, three gateway replicas, the local collector.

    app --OTLP/gRPC--> Collector (loadbalancing by trace id, queue on disk) --OTLP/gRPC--> 3 gateways --> Dynamiq

The Collector is built from the official modules by ``deploy/collector/build.sh``
(Go and the Go module proxy), and a Node.js app sends through the gateway with
the official packages from the npm registry, so these tests need Go, Node.js
and npm: they are marked ``fleet`` and run by ``make fleet`` (and CI), not by
``make test``, which must work with Python alone.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_dynamiq._translation.span_to_run import run_uuid
from otel_dynamiq.collector import LocalCollector
from otel_dynamiq.gateway import Gateway
from tests.support.common import wait_for
from tests.support.gateways import assert_agent_trace, healthy
from tests.support.processes import BIN, ROOT, clean_env
from tests.support.servers import free_port

pytestmark = pytest.mark.fleet

NODE_SENDER = ROOT / "tests" / "node_sender"
TOKEN = "fleet-token-9d27c1"
SPANS = 10_000
SPANS_PER_TRACE = 10


@pytest.fixture(scope="session")
def collector_binary() -> Path:
    built = subprocess.run(
        ["bash", str(ROOT / "deploy" / "collector" / "build.sh")], capture_output=True, text=True, timeout=1500
    )
    assert built.returncode == 0, built.stderr
    print(built.stderr.strip())
    return Path(built.stdout.strip())


def test_nodejs_sdk_sender(gateway: Gateway, collector_behind: LocalCollector) -> None:
    """A TypeScript/JavaScript agent's spans, from the official packages on the npm registry."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "make fleet needs Node.js and npm"
    if not (NODE_SENDER / "node_modules" / "@opentelemetry" / "exporter-trace-otlp-http").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_SENDER, check=True, timeout=300)
    done = subprocess.run(
        [node, "send.mjs", f"{gateway.http_url}/v1/traces"], cwd=NODE_SENDER, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert_agent_trace(collector_behind, done.stdout.split()[0], "node-agent")
    chat = next(run for run in collector_behind.store.runs() if run["name"] == "chat gpt-4o-mini")
    assert chat["input"] == {"messages": [{"role": "user", "content": "What is 2 + 2?"}]}
    assert chat["output"] == {"content": "4"}


class Replica:
    """One ``otel-dynamiq gateway`` process; killed and restarted on the same ports and spool."""

    def __init__(self, index: int, service_url: str, spool_root: Path) -> None:
        self.http_port, self.grpc_port = free_port(), free_port()
        self.spool = spool_root / f"replica-{index}"
        self.spool.mkdir()
        self.environment = clean_env(
            OTEL_EXPORTER_DYNAMIQ_ENDPOINT=service_url,
            OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR=str(self.spool),
            OTEL_DYNAMIQ_GATEWAY_TOKEN=TOKEN,
        )
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        command = [
            str(BIN / "otel-dynamiq"),
            "gateway",
            "--port",
            str(self.http_port),
            "--grpc-port",
            str(self.grpc_port),
        ]
        self.process = subprocess.Popen(
            command, env=self.environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
        wait_for(lambda: healthy(f"http://127.0.0.1:{self.http_port}"), timeout=30)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def fleet(collector_binary: Path, tmp_path: Path) -> Iterator[tuple[LocalCollector, list[Replica], int]]:
    with LocalCollector() as service:
        replicas = [Replica(index, service.url, tmp_path) for index in range(3)]
        for replica in replicas:
            replica.start()
        otlp_port = free_port()
        environment = {
            **clean_env(),
            "GATEWAYS": "[" + ", ".join(f"127.0.0.1:{replica.grpc_port}" for replica in replicas) + "]",
            "OTEL_DYNAMIQ_GATEWAY_TOKEN": TOKEN,
            "QUEUE_DIR": str(tmp_path / "queue"),
            "OTLP_GRPC_ENDPOINT": f"127.0.0.1:{otlp_port}",
            "OTLP_HTTP_ENDPOINT": f"127.0.0.1:{free_port()}",
        }
        collector = subprocess.Popen(
            [str(collector_binary), "--config", str(ROOT / "deploy" / "collector" / "fleet.yaml")],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / "collector.log", "w"),  # noqa: SIM115 - closed with the process
        )
        try:
            wait_for(lambda: _listening(otlp_port), timeout=60)
            yield service, replicas, otlp_port
        finally:
            collector.send_signal(signal.SIGTERM)
            try:
                collector.wait(timeout=30)
            except subprocess.TimeoutExpired:
                collector.kill()
            for replica in replicas:
                replica.stop()
            print((tmp_path / "collector.log").read_text()[-3000:])


def test_a_replica_killed_with_spans_in_flight_loses_nothing(fleet: tuple[LocalCollector, list[Replica], int]) -> None:
    service, replicas, otlp_port = fleet
    provider = TracerProvider(resource=Resource.create({"service.name": "fleet-app"}))
    provider.add_span_processor(
        BatchSpanProcessor(
            GrpcSpanExporter(endpoint=f"127.0.0.1:{otlp_port}", insecure=True),
            max_queue_size=SPANS * 2,
            max_export_batch_size=512,
            schedule_delay_millis=50,
        )
    )
    tracer = provider.get_tracer("fleet-app")
    expected: set[str] = set()

    def send() -> None:
        for trace_number in range(SPANS // SPANS_PER_TRACE):
            with tracer.start_as_current_span(f"request {trace_number}") as root:
                ids = [root.get_span_context()]
                for step in range(SPANS_PER_TRACE - 1):
                    with tracer.start_as_current_span(
                        f"step {step}", attributes={"gen_ai.usage.input_tokens": step}
                    ) as span:
                        ids.append(span.get_span_context())
            expected.update(run_uuid(context.trace_id, context.span_id) for context in ids)
            if trace_number % 50 == 0:
                time.sleep(0.01)  # a steady stream rather than one burst, so the kill lands mid-flight
        provider.force_flush()

    sender = threading.Thread(target=send)
    sender.start()
    wait_for(lambda: len(service.store.runs()) >= SPANS // 4, timeout=120)
    victim = replicas[1]
    victim.kill()  # SIGKILL: no drain, no goodbye
    sender.join(timeout=300)
    provider.shutdown()
    time.sleep(2)  # the Collector keeps retrying the dead replica from its queue on disk
    victim.start()  # same ports, same spool
    wait_for(lambda: len(service.store.delivery_counts()) >= SPANS, timeout=180, interval=0.5)

    counts = service.store.delivery_counts()
    assert len(expected) == SPANS
    assert set(counts) == expected  # every run arrived, by id, and nothing else did
    assert len(service.store.runs()) == SPANS  # upserts by id: none twice
    resent = sum(1 for deliveries in counts.values() if deliveries > 1)
    print(f"fleet: {SPANS} runs arrived; {resent} of them were sent more than once and upserted")


def test_a_restarted_replica_delivers_its_spool(collector_binary: Path, tmp_path: Path) -> None:
    """A replica takes spans while Dynamiq is out (they go to its disk spool), dies, and delivers them on restart."""
    port = free_port()
    spool_root = tmp_path / "spools"
    spool_root.mkdir()
    replica = Replica(0, f"http://127.0.0.1:{port}", spool_root)
    replica.environment["OTEL_EXPORTER_DYNAMIQ_TIMEOUT"] = "2"
    replica.start()
    try:
        exporter = HttpSpanExporter(
            endpoint=f"http://127.0.0.1:{replica.http_port}/v1/traces", headers={"authorization": f"Bearer {TOKEN}"}
        )
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(exporter))
        with provider.get_tracer("app").start_as_current_span("while Dynamiq was out") as span:
            pass
        provider.shutdown()
        assert any(path.is_file() for path in replica.spool.rglob("*")), "a 200 means the runs are on disk"
        replica.kill()
        with LocalCollector(port=port) as service:
            replica.start()
            context = span.get_span_context()
            wait_for(lambda: run_uuid(context.trace_id, context.span_id) in service.store.delivery_counts(), timeout=60)
    finally:
        replica.stop()
