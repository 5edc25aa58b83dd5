"""OTLP/gRPC: ``TraceService/Export``, because the Collector's loadbalancing exporter speaks only gRPC.

The gRPC codes match the HTTP answers: ``UNAUTHENTICATED`` without the token,
``UNAVAILABLE`` (retryable by every OTLP exporter) when the spans cannot be
delivered or spooled now or the gateway is draining, ``RESOURCE_EXHAUSTED``
with ``RetryInfo`` (retryable) while every worker is busy, ``INVALID_ARGUMENT``
or ``RESOURCE_EXHAUSTED`` without it (final) for a message refused as
malformed or too large, and ``partial_success`` for rejected spans.

Export is served as a client-streaming method, which is the same on the wire
as a unary one, so that the handler runs when the call's metadata arrives, not
after its message: the token and the workers are checked before a byte of the
message is read, and a message that has not arrived within the request timeout
(or within a second while every worker is taken) cancels the call, so silent
callers cannot hold the workers. gRPC's own
decompression is off (it would inflate a bomb whole before refusing it); the
gateway inflates within the same bound as over HTTP.
"""

from __future__ import annotations

import errno
import functools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any, NoReturn

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from otel_dynamiq._http_server.bounded_server import CROWDED_HEADERS_SECONDS, REQUEST_TIMEOUT_SECONDS
from otel_dynamiq._http_server.request_body import MAX_BODY_BYTES
from otel_dynamiq.gateway._core import RETRY_AFTER_SECONDS, ExportRequest, GatewayCore, Refusal, Taken
from otel_dynamiq.gateway._otlp import PROTOBUF, export_response

EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
GRPC_WORKERS = 32
"""Calls served at once; one more is answered RESOURCE_EXHAUSTED with RetryInfo at once."""
_SPARE_WORKERS = 4
"""Threads beyond the served calls, so refusals are answered while every served call is slow."""
MAX_CONCURRENT_RPCS = 1024
"""gRPC's own bound, behind the gateway's: calls past it get RESOURCE_EXHAUSTED without RetryInfo."""
CROWDED_MESSAGE_SECONDS = CROWDED_HEADERS_SECONDS
"""While every worker is taken, a call's message must arrive within this, as HTTP's headers must."""
_REFUSALS = {
    Refusal.UNAUTHORIZED: (grpc.StatusCode.UNAUTHENTICATED, "missing or wrong gateway token (authorization: Bearer)"),
    Refusal.DRAINING: (grpc.StatusCode.UNAVAILABLE, "the gateway is shutting down"),
    # UNAVAILABLE, not RESOURCE_EXHAUSTED: OTLP exporters retry it without RetryInfo.
    Refusal.SPOOL_FULL: (grpc.StatusCode.UNAVAILABLE, "Dynamiq is out and the spool is full"),
    Refusal.NOT_DELIVERED: (grpc.StatusCode.UNAVAILABLE, "cannot deliver or spool now"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_ZLIB_MAGIC = b"\x78"


class _TraceService(grpc.GenericRpcHandler):  # type: ignore[misc]  # grpcio has no type hints
    def __init__(self, core: GatewayCore, request_timeout: float) -> None:
        self._core = core
        self._request_timeout = request_timeout
        self._served = 0
        self._lock = threading.Lock()

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        """Runs when the call's metadata arrives, before its message: refuse here what needs no message."""
        if handler_call_details.method != EXPORT_METHOD:
            return None
        authorization = dict(handler_call_details.invocation_metadata).get("authorization")
        if not self._core.admits(authorization):
            return _refusal(*_REFUSALS[Refusal.UNAUTHORIZED])
        with self._lock:
            busy = self._served >= GRPC_WORKERS
            if not busy:
                self._served += 1
        if busy:
            self._core.refused("busy")
            return _refusal(grpc.StatusCode.RESOURCE_EXHAUSTED, "every worker is busy: retry", retry=True)
        return grpc.stream_unary_rpc_method_handler(
            functools.partial(self._export, authorization),
            response_serializer=ExportTraceServiceResponse.SerializeToString,
        )

    def _export(
        self, authorization: str | None, messages: Iterator[bytes], context: grpc.ServicerContext
    ) -> ExportTraceServiceResponse:
        try:
            outcome = self._core.take(
                ExportRequest("grpc", authorization, PROTOBUF, lambda: self._read(messages, context))
            )
            if isinstance(outcome, Taken):
                return export_response(outcome.decoded)
            if outcome.error is not None:
                too_large = outcome.error.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
                code = grpc.StatusCode.RESOURCE_EXHAUSTED if too_large else grpc.StatusCode.INVALID_ARGUMENT
                _abort(context, code, outcome.error.detail)
            _abort(context, *_REFUSALS[outcome.refusal])
        finally:
            with self._lock:
                self._served -= 1

    def _read(self, messages: Iterator[bytes], context: grpc.ServicerContext) -> tuple[bytes, str | None]:
        """The message and how it is compressed: gzip or deflate, and neither stream can begin a trace request.

        A gzip stream begins with 0x1f (wire type 7, which does not exist), a zlib stream with 0x78
        (field 15, which a trace request does not have).
        """
        message = self._message(messages, context)
        if message.startswith(_GZIP_MAGIC):
            return message, "gzip"
        if message.startswith(_ZLIB_MAGIC):
            return message, "deflate"
        return message, None

    def _message(self, messages: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        """The call's one message, or the call cancelled once the request timeout passes without it.

        While every worker is taken, a call whose message has not come within ``CROWDED_MESSAGE_SECONDS``
        is cancelled (a retryable code) at once, as HTTP cuts late headers then: silent callers cannot
        hold every worker for the whole timeout, over and over.
        """
        watch = _MessageWatch(context, self._request_timeout, self._crowded)
        try:
            message = next(messages, None)
        except grpc.RpcError:  # cancelled: by the watch, or by the caller
            self._core.refused("timeout")
            raise
        finally:
            watch.stop()
        if message is None:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "the call ended without a message")
        return bytes(message)

    def _crowded(self) -> bool:
        with self._lock:
            return self._served >= GRPC_WORKERS


class _MessageWatch:
    """Cancels a call whose message is late: past the request timeout, or past a second while crowded."""

    def __init__(self, context: grpc.ServicerContext, timeout: float, crowded: Callable[[], bool]) -> None:
        self._context = context
        self._deadline = time.monotonic() + timeout
        self._crowded = crowded
        self._lock = threading.Lock()
        self._stopped = False
        self._timer: threading.Timer | None = None
        self._arm()

    def _arm(self) -> None:
        with self._lock:
            if self._stopped:
                return
            wait = min(CROWDED_MESSAGE_SECONDS, max(self._deadline - time.monotonic(), 0.0))
            self._timer = threading.Timer(wait, self._look)
            self._timer.daemon = True
            self._timer.start()

    def _look(self) -> None:
        if time.monotonic() >= self._deadline or self._crowded():
            self._context.cancel()
        else:
            self._arm()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, detail: str) -> NoReturn:
    context.abort(code, detail)
    raise AssertionError("abort raises")  # grpcio has no type hints to say so


def _refusal(code: grpc.StatusCode, detail: str, *, retry: bool = False) -> grpc.RpcMethodHandler:
    """A handler that answers at once, without reading the message."""

    def refuse(messages: Iterator[bytes], context: grpc.ServicerContext) -> NoReturn:
        if retry:
            context.set_trailing_metadata(_retry_metadata(code, detail))
        _abort(context, code, detail)

    return grpc.stream_unary_rpc_method_handler(
        refuse, response_serializer=ExportTraceServiceResponse.SerializeToString
    )


def _retry_metadata(code: grpc.StatusCode, detail: str) -> tuple[tuple[str, bytes], ...]:
    """``RetryInfo``, where the OTLP exporters look for it: the Go ones in the status details, Python's on its own."""
    retry_info = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=RETRY_AFTER_SECONDS))
    packed = any_pb2.Any()
    packed.Pack(retry_info)
    status = status_pb2.Status(code=code.value[0], message=detail, details=[packed])
    return (
        ("grpc-status-details-bin", status.SerializeToString()),
        ("google.rpc.retryinfo-bin", retry_info.SerializeToString()),
    )


def start_grpc_server(
    core: GatewayCore, host: str, port: int, request_timeout: float = REQUEST_TIMEOUT_SECONDS
) -> tuple[grpc.Server, int]:
    """Serve on ``host:port`` (0 picks a port); returns the server and the port it got."""
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", MAX_BODY_BYTES),  # on the wire, as over HTTP
        ("grpc.per_message_decompression", 0),
    ]
    server = grpc.server(
        ThreadPoolExecutor(max_workers=GRPC_WORKERS + _SPARE_WORKERS, thread_name_prefix="otel-dynamiq-gateway-grpc"),
        handlers=[_TraceService(core, request_timeout)],
        maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS,
        options=options,
    )
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
