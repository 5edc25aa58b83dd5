"""``otel-dynamiq gateway``: OTLP in, Dynamiq runs out, for any OpenTelemetry SDK and for Collector fleets.

Spans arrive over OTLP/HTTP (protobuf or JSON) or OTLP/gRPC, become SDK spans,
and go through a ``DynamiqSpanExporter``: the same translation, transport,
retries and disk spool as inside an application. The Dynamiq key lives only
in the gateway's environment. Needs the ``gateway`` extra (``grpcio``,
``opentelemetry-proto``)::

    pip install 'otel-dynamiq[gateway]'
    DYNAMIQ_ACCESS_KEY=... otel-dynamiq gateway
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import replace
from types import FrameType

import grpc
from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.trace.export import SpanExporter

from otel_dynamiq import environment_variables as env
from otel_dynamiq._config import is_loopback_host, load_config
from otel_dynamiq._http_server.bounded_server import CONNECTION_TIMEOUT_SECONDS, REQUEST_TIMEOUT_SECONDS
from otel_dynamiq.exporter import DynamiqSpanExporter
from otel_dynamiq.gateway._core import Counts, GatewayCore
from otel_dynamiq.gateway._grpc import start_grpc_server
from otel_dynamiq.gateway._http import GatewayHTTPServer

TOKEN_VARIABLE = env.OTEL_DYNAMIQ_GATEWAY_TOKEN
DEFAULT_HTTP_PORT = 4318
DEFAULT_GRPC_PORT = 4317
SPOOL_FULL_FRACTION = 0.9
"""Above this share of the spool's byte cap, new spans are refused (429) until it drains."""
SPOOL_WATCH_SECONDS = 1.0
DRAIN_SECONDS = 20.0
"""SIGTERM to exit: requests in flight finish (each within the exporter's timeout), then the exporter
stops; Kubernetes' default grace period is 30 s."""

__all__ = ["DEFAULT_GRPC_PORT", "DEFAULT_HTTP_PORT", "TOKEN_VARIABLE", "Counts", "Gateway"]


def _checked_exporter() -> DynamiqSpanExporter:
    """A 200 promises the runs are delivered or on disk, so the gateway refuses to start without a disk spool.

    Its spool refuses bodies when full rather than dropping the oldest, which were answered 200. It arms no
    flush at the process's end (``flush_on_exit``): the gateway ends its own process (SIGTERM drains the front
    ends, then shuts the exporter down: ``serve_until_signalled``), holds no tracer provider whose spans that
    flush would send, and a process that embeds a ``Gateway`` keeps its own signal handlers.
    """
    config = replace(load_config(spool_refuse_when_full=True), flush_on_exit=False)
    exporter = DynamiqSpanExporter.from_config(config)
    try:
        state = exporter.spool_state()
    except BaseException:
        exporter.shutdown()
        raise
    if state is None or not state.on_disk or state.problem is not None:
        exporter.shutdown()
        why = "the spool is off" if state is None else f"the disk spool cannot be used: {state.problem}"
        raise ValueError(
            f"the gateway answers 200 only for runs delivered or on disk, and {why}: "
            f"set {env.OTEL_EXPORTER_DYNAMIQ_SPOOL}=true and {env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR} to a directory "
            "only this user can write"
        )
    return exporter


class Gateway:
    """Both OTLP front ends over one exporter; ``grpc_port=None`` serves OTLP/HTTP only.

    Arguments:
        host: the address both front ends listen on (default ``127.0.0.1``). Any other address needs
            a token: senders beyond this machine must prove who they are.
        port: OTLP/HTTP (default 4318, OTLP's own; 0 picks a free port, ``http_url`` tells which).
        grpc_port: OTLP/gRPC (default 4317; 0 picks a free port; None turns gRPC off, and with it the
            ``gateway`` extra's grpcio).
        token: the bearer token senders must present (default ``OTEL_DYNAMIQ_GATEWAY_TOKEN``).
        exporter: where accepted spans go (default: a ``DynamiqSpanExporter`` configured from the
            environment, whose spool must be on disk and which refuses, rather than drops, when full:
            the gateway answers 200 only for runs delivered or on disk).
        meter_provider: where the gateway's own counters are published (default: the global one).
        connection_timeout: seconds a connection may idle between requests (default 10).
        request_timeout: seconds a request has to arrive whole once its first byte came (default 10).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_HTTP_PORT,
        grpc_port: int | None = DEFAULT_GRPC_PORT,
        token: str | None = None,
        exporter: SpanExporter | None = None,
        meter_provider: MeterProvider | None = None,
        connection_timeout: float = CONNECTION_TIMEOUT_SECONDS,
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        token = token if token is not None else os.environ.get(TOKEN_VARIABLE) or None
        if not is_loopback_host(host) and not token:
            raise ValueError(
                f"the gateway listens on {host}, beyond this machine: set {TOKEN_VARIABLE} to a secret that senders "
                "present as 'Authorization: Bearer <token>'"
            )
        self._exporter = exporter if exporter is not None else _checked_exporter()
        self.core = GatewayCore(self._exporter, token, meter_provider)
        self._grpc: grpc.Server | None = None
        self.grpc_port: int | None = None
        try:
            self._http = GatewayHTTPServer((host, port), self.core, connection_timeout, request_timeout)
        except BaseException:
            self._exporter.shutdown()
            raise
        try:
            if grpc_port is not None:
                self._grpc, self.grpc_port = start_grpc_server(self.core, host, grpc_port, request_timeout)
        except BaseException:  # a port in use: nothing may be left half started
            self._http.server_close()
            self._exporter.shutdown()
            raise
        self._http_thread = threading.Thread(
            target=self._http.serve_forever, name="otel-dynamiq-gateway-http", daemon=True
        )
        self._http_thread.start()
        self._stopped = False
        self._stop_watching = threading.Event()
        if isinstance(self._exporter, DynamiqSpanExporter):
            threading.Thread(
                target=self._watch_spool, args=(self._exporter,), name="otel-dynamiq-gateway-spool", daemon=True
            ).start()

    def _watch_spool(self, exporter: DynamiqSpanExporter) -> None:
        """Refuse before the spool's cap would push out runs already answered 200, and take spans again after."""
        settings = exporter.config.spool
        while settings is not None and not self._stop_watching.wait(SPOOL_WATCH_SECONDS):
            state = exporter.spool_state(from_disk=True)
            self.core.set_spool_full(state is not None and state.size_bytes > SPOOL_FULL_FRACTION * settings.max_bytes)

    @property
    def http_url(self) -> str:
        host, port = self._http.server_address[:2]
        host_text = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://[{host_text}]:{port}" if ":" in host_text else f"http://{host_text}:{port}"

    def counts(self) -> Counts:
        return self.core.counts()

    def stop(self, timeout: float = DRAIN_SECONDS) -> bool:
        """Refuse new spans (503, so senders go elsewhere), finish those taken, stop the exporter.

        True when everything taken was finished within ``timeout``.
        """
        if self._stopped:
            return True
        self._stopped = True
        self._stop_watching.set()
        finished = self.core.drain(timeout)
        self._http.shutdown()
        self._http.server_close()
        if self._grpc is not None:
            self._grpc.stop(grace=1.0).wait()
        self._exporter.shutdown()
        return finished

    def serve_until_signalled(self, timeout: float = DRAIN_SECONDS) -> bool:
        """Block until SIGTERM or SIGINT, then stop gracefully."""
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            while not stop.wait(0.5):  # a timed wait, so the signal handler gets to run
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.stop(timeout)

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
