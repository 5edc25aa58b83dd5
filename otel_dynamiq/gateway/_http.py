"""OTLP/HTTP: ``POST /v1/traces`` in protobuf or JSON, and a health endpoint, on the bounded server base.

Answers follow the OTLP specification: 200 with the export response (and
``partial_success`` when spans were rejected), 400 for a body that cannot be
decoded, 401 without the gateway token, 413 past the size bounds, 415 for
another content type, and 503 with ``Retry-After`` when the spans cannot be
delivered or spooled now, so the sender retries. The token is checked before a
byte of the body is read.
"""

from __future__ import annotations

import contextlib
import logging
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

import orjson
from google.rpc import status_pb2

from otel_dynamiq._config import TRACES_PATH
from otel_dynamiq._http_server.bounded_server import (
    CONNECTION_TIMEOUT_SECONDS,
    REQUEST_TIMEOUT_SECONDS,
    BoundedHandler,
    BoundedHTTPServer,
)
from otel_dynamiq._http_server.request_body import MAX_BODY_BYTES, BodyError, content_length, decompressed
from otel_dynamiq.gateway._core import RETRY_AFTER_SECONDS, Draining, GatewayCore, SpoolFull
from otel_dynamiq.gateway._otlp import JSON, OtlpError, encode_response, media_type, parse_request, spans_of

_logger = logging.getLogger(__name__)

HEALTH_PATHS = ("/health", "/healthz")
_MAX_CHUNK_LINE = 1024
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


class _Handler(BoundedHandler):
    server: GatewayHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        _logger.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, body: bytes, content_type: str, *, close: bool = False, retry: bool = False) -> None:
        if close:
            self.close_connection = True  # what the client sent after this is not read
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if retry:
            self.send_header("Retry-After", str(RETRY_AFTER_SECONDS))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, kind: str, *, close: bool = True, retry: bool = False) -> None:
        """An OTLP error answer: a ``google.rpc.Status`` in the request's own encoding."""
        if kind == JSON:
            body = orjson.dumps({"code": int(status), "message": message})
        else:
            body = status_pb2.Status(code=int(status), message=message).SerializeToString()
            kind = "application/x-protobuf"
        self._send(status, body, kind, close=close, retry=retry)

    def do_POST(self) -> None:
        core = self.server.core
        kind = JSON if "json" in self.headers.get("Content-Type", "").lower() else "application/x-protobuf"
        try:
            if self.path.split("?", 1)[0].rstrip("/") != TRACES_PATH:
                self._error(HTTPStatus.NOT_FOUND, f"POST goes to {TRACES_PATH}", kind)
                return
            if not core.authorized(self.headers.get("Authorization")):
                core.refused("unauthorized")
                self._error(HTTPStatus.UNAUTHORIZED, "missing or wrong gateway token (Authorization: Bearer)", kind)
                return
            kind = media_type(self.headers.get("Content-Type"))
            core.check_taking()  # before the body: a refusal then closes the connection, never reads it
            raw = self._body()  # outside the drain's count: a slow sender cannot hold a SIGTERM
            with core.request():
                with core.decoding():
                    body = decompressed(raw, self.headers.get("Content-Encoding"))
                    del raw
                    request, refused = parse_request(body, kind)
                    del body
                    decoded = spans_of(request, refused)
                    del request
                if not core.export(decoded):
                    core.refused("not_delivered")
                    self._error(
                        HTTPStatus.SERVICE_UNAVAILABLE, "cannot deliver or spool now", kind, close=False, retry=True
                    )
                    return
            self._send(HTTPStatus.OK, encode_response(decoded, kind), kind)
        except Draining:
            core.refused("draining")
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, "the gateway is shutting down", kind, retry=True)
        except SpoolFull:  # the body, if any, is unread: the connection closes rather than read it as a request
            core.refused("spool_full")
            self._error(HTTPStatus.TOO_MANY_REQUESTS, "Dynamiq is out and the spool is full", kind, retry=True)
        except (BodyError, OtlpError) as refused:
            core.refused(f"http_{int(refused.status)}")
            self._error(refused.status, refused.detail, kind)
        except (TimeoutError, ConnectionError) as exc:
            _logger.debug("connection from %s ended: %s", self.client_address[0], exc or type(exc).__name__)
            self.close_connection = True
        except Exception:
            _logger.exception("gateway request failed")
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "the gateway could not handle this request", kind)

    def handle_expect_100(self) -> bool:
        """Not yet: ``100 Continue`` goes out only once the token and the headers are checked (``_body``)."""
        return True

    def _body(self) -> bytes:
        """The body as framed by exactly one of ``Content-Length`` and ``Transfer-Encoding: chunked`` (RFC 9112).

        Any other framing is refused and the connection closed: two readers of the same bytes (a proxy
        in front, and this) must never disagree about where the request ends.
        """
        encodings = self.headers.get_all("Transfer-Encoding") or []
        lengths = self.headers.get_all("Content-Length") or []
        if encodings:
            if [value.strip().lower() for value in encodings] != ["chunked"]:
                raise BodyError(HTTPStatus.NOT_IMPLEMENTED, "Transfer-Encoding must be exactly chunked")
            if lengths:
                raise BodyError(HTTPStatus.BAD_REQUEST, "Content-Length and Transfer-Encoding together")
            self._continue()
            return self._chunked_body()
        if len({value.strip() for value in lengths}) > 1:
            raise BodyError(HTTPStatus.BAD_REQUEST, "Content-Length given twice with different values")
        length = content_length(self.headers.get("Content-Length"))
        self._continue()
        raw = self.rfile.read(length)
        if len(raw) < length:
            raise BodyError(HTTPStatus.BAD_REQUEST, f"body ended after {len(raw)} of {length} bytes")
        return raw

    def _continue(self) -> None:
        if self.headers.get("Expect", "").lower() == "100-continue" and self.request_version >= "HTTP/1.1":
            self.send_response_only(HTTPStatus.CONTINUE)
            BaseHTTPRequestHandler.end_headers(self)  # an interim answer: the final one says whether to close

    def _chunked_body(self) -> bytes:
        """A chunked body, counted with its framing against the bound a declared length has."""
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(_MAX_CHUNK_LINE)
            total += len(line)
            size_text = line.split(b";", 1)[0].rstrip(b"\r\n \t")
            if not _CHUNK_SIZE.fullmatch(size_text):  # int() would take "0x10", "+1", "1_0"
                raise BodyError(HTTPStatus.BAD_REQUEST, "malformed chunked body")
            size = int(size_text, 16)
            if size == 0:
                while True:  # trailers: read within the bound, and ignored
                    trailer = self.rfile.readline(_MAX_CHUNK_LINE)
                    total += len(trailer)
                    if total > MAX_BODY_BYTES:
                        raise BodyError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY_BYTES} bytes")
                    if trailer in (b"\r\n", b"\n", b""):
                        return b"".join(parts)
            total += size + 2
            if total > MAX_BODY_BYTES or size < 0:
                raise BodyError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY_BYTES} bytes")
            chunk = self.rfile.read(size)
            if len(chunk) < size or self.rfile.readline(_MAX_CHUNK_LINE).strip():
                raise BodyError(HTTPStatus.BAD_REQUEST, "chunked body ended early or is malformed")
            parts.append(chunk)

    def do_GET(self) -> None:
        # A GET's body is never read: a connection that sent one closes after the answer, or its body
        # would be read as the next request.
        unread = self.headers.get("Content-Length", "0").strip() != "0" or "Transfer-Encoding" in self.headers
        if unread:
            self.close_connection = True
        path = self.path.split("?", 1)[0].rstrip("/")
        if path not in HEALTH_PATHS:
            self._send(HTTPStatus.NOT_FOUND, b'{"detail": "GET /healthz"}', "application/json", close=unread)
            return
        core = self.server.core
        counts = core.counts()
        status = "draining" if core.draining else "spool_full" if core.spool_full else "serving"
        body = orjson.dumps({"status": status, **counts.__dict__})
        # A full spool is not unhealthy: the replica must stay up to drain it once Dynamiq answers.
        status_code = HTTPStatus.SERVICE_UNAVAILABLE if core.draining else HTTPStatus.OK
        self._send(status_code, body, "application/json", close=unread)


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
