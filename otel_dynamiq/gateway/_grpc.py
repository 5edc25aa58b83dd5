"""OTLP/gRPC: ``TraceService/Export``, because the Collector's loadbalancing exporter speaks only gRPC.

The gRPC codes match the HTTP answers: ``UNAUTHENTICATED`` without the token,
``UNAVAILABLE`` (retryable by every OTLP exporter) when the spans cannot be
delivered or spooled now or the gateway is draining, and ``partial_success``
for rejected spans. gRPC itself bounds the message size and decompresses gzip.
"""

from __future__ import annotations

import errno
from concurrent.futures import ThreadPoolExecutor

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from otel_dynamiq.collector._body import MAX_DECOMPRESSED_BYTES
from otel_dynamiq.gateway._core import Draining, GatewayCore, SpoolFull
from otel_dynamiq.gateway._otlp import export_response, spans_of

GRPC_WORKERS = 32
MAX_CONCURRENT_RPCS = 256
"""Beyond this gRPC answers RESOURCE_EXHAUSTED at once, rather than queueing without bound."""


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, core: GatewayCore) -> None:
        self._core = core

    def Export(self, request: ExportTraceServiceRequest, context: grpc.ServicerContext) -> ExportTraceServiceResponse:
        core = self._core
        metadata = dict(context.invocation_metadata())
        if not core.authorized(metadata.get("authorization")):
            core.refused("unauthorized")
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong gateway token (authorization: Bearer)")
        try:
            with core.request():
                decoded = spans_of(request)
                if not core.export(decoded):
                    core.refused("not_delivered")
                    context.abort(grpc.StatusCode.UNAVAILABLE, "cannot deliver or spool now")
        except Draining:
            core.refused("draining")
            context.abort(grpc.StatusCode.UNAVAILABLE, "the gateway is shutting down")
        except SpoolFull:  # UNAVAILABLE, not RESOURCE_EXHAUSTED: OTLP exporters retry it without RetryInfo
            core.refused("spool_full")
            context.abort(grpc.StatusCode.UNAVAILABLE, "Dynamiq is out and the spool is full")
        return export_response(decoded)


def start_grpc_server(core: GatewayCore, host: str, port: int) -> tuple[grpc.Server, int]:
    """Serve on ``host:port`` (0 picks a port); returns the server and the port it got."""
    server = grpc.server(
        ThreadPoolExecutor(max_workers=GRPC_WORKERS, thread_name_prefix="otel-dynamiq-gateway-grpc"),
        maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS,
        options=[("grpc.max_receive_message_length", MAX_DECOMPRESSED_BYTES)],
    )
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(core), server)  # type: ignore[no-untyped-call]
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:  # grpcio's word for a port in use
        bound = 0
    if not bound:
        server.stop(grace=None)
        raise OSError(errno.EADDRINUSE, f"cannot listen for OTLP/gRPC on {address}")
    server.start()
    return server, bound
