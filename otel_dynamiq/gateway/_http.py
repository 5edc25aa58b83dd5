"""OTLP/HTTP: ``POST /v1/traces`` in protobuf or JSON, and a health endpoint, on the bounded server base.

Answers follow the OTLP specification: 200 with the export response (and
``partial_success`` when spans were rejected), 400 for a body that cannot be
decoded, 401 without the gateway token, 413 past the size bounds, 415 for
another content type, and 503 with ``Retry-After`` when the spans cannot be
delivered or spooled now, so the sender retries. The token is checked before a
byte of the body is read.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
from google.rpc import status_pb2

from otel_dynamiq._config import TRACES_PATH
from otel_dynamiq._http_server.bounded_server import (
    CONNECTION_TIMEOUT_SECONDS,
    REQUEST_TIMEOUT_SECONDS,
    BoundedHTTPServer,
)
from otel_dynamiq._http_server.request_handler import RequestHandler
from otel_dynamiq.gateway._core import RETRY_AFTER_SECONDS, ExportRequest, GatewayCore, Refusal, Taken
from otel_dynamiq.gateway._otlp import JSON, encode_response

_logger = logging.getLogger(__name__)

HEALTH_PATHS = ("/health", "/healthz")
_REFUSALS = {
    Refusal.UNAUTHORIZED: (HTTPStatus.UNAUTHORIZED, "missing or wrong gateway token (Authorization: Bearer)", True),
    Refusal.DRAINING: (HTTPStatus.SERVICE_UNAVAILABLE, "the gateway is shutting down", True),
    # The body, if any, is unread: the connection closes rather than read it as a request.
    Refusal.SPOOL_FULL: (HTTPStatus.TOO_MANY_REQUESTS, "Dynamiq is out and the spool is full", True),
    Refusal.NOT_DELIVERED: (HTTPStatus.SERVICE_UNAVAILABLE, "cannot deliver or spool now", False),
}
"""Status, message and whether the connection closes; every refusal but the token's asks for a retry."""


class _Handler(RequestHandler):
    server: GatewayHTTPServer
    failure_level = logging.ERROR
    server_role = "gateway"
    _kind = JSON

    def log_message(self, format: str, *args: Any) -> None:
        _logger.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, body: bytes, content_type: str, *, close: bool = False, retry: bool = False) -> None:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if retry else None
        self.send_body(status, body, content_type, close=close, headers=headers)

    def refuse(self, status: int, detail: str) -> None:
        self._error(status, detail)

    def _error(self, status: int, message: str, *, close: bool = True, retry: bool = False) -> None:
        """An OTLP error answer: a ``google.rpc.Status`` in the request's own encoding."""
        if self._kind == JSON:
            body, content_type = orjson.dumps({"code": int(status), "message": message}), JSON
        else:
            body = status_pb2.Status(code=int(status), message=message).SerializeToString()
            content_type = "application/x-protobuf"
        self._send(status, body, content_type, close=close, retry=retry)

    def do_POST(self) -> None:
        self._kind = JSON if "json" in self.headers.get("Content-Type", "").lower() else "application/x-protobuf"
        self.guarded(self._post)

    def _post(self) -> None:
        if self.request_path() != TRACES_PATH:
            self._error(HTTPStatus.NOT_FOUND, f"POST goes to {TRACES_PATH}")
            return
        request = ExportRequest(
            "http",
            self.headers.get("Authorization"),
            self.headers.get("Content-Type"),
            # Read only once admitted: a refusal then closes the connection, never reads the body.
            lambda: (self.read_body(chunked=True), self.headers.get("Content-Encoding")),
        )
        outcome = self.server.core.take(request)
        self._kind = outcome.media_type or self._kind
        if isinstance(outcome, Taken):
            self._send(HTTPStatus.OK, encode_response(outcome.decoded, self._kind), self._kind)
        elif outcome.error is not None:
            self._error(outcome.error.status, outcome.error.detail)
        else:
            status, detail, close = _REFUSALS[outcome.refusal]
            self._error(status, detail, close=close, retry=status != HTTPStatus.UNAUTHORIZED)

    def do_GET(self) -> None:
        self.close_if_body_unread()
        if self.request_path() not in HEALTH_PATHS:
            self._send(HTTPStatus.NOT_FOUND, b'{"detail": "GET /healthz"}', "application/json")
            return
        core = self.server.core
        counts = core.counts()
        status = "draining" if core.draining else "spool_full" if core.spool_full else "serving"
        body = orjson.dumps({"status": status, **counts.__dict__})
        # A full spool is not unhealthy: the replica must stay up to drain it once Dynamiq answers.
        status_code = HTTPStatus.SERVICE_UNAVAILABLE if core.draining else HTTPStatus.OK
        self._send(status_code, body, "application/json")


class GatewayHTTPServer(BoundedHTTPServer):
    def __init__(
        self,
        address: tuple[str, int],
        core: GatewayCore,
        connection_timeout: float = CONNECTION_TIMEOUT_SECONDS,
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(address, _Handler, connection_timeout, request_timeout=request_timeout)
        self.core = core
