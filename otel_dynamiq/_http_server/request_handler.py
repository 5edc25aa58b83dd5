"""What every request to the local collector and the gateway goes through, whatever it carries.

Both servers route on the path alone, read a body under the same framing
rules and bounds, answer with a body of their own encoding, and turn every
failure into an answer or a closed connection: a client never gets a
traceback, and a server never dies of a client. Each server adds only its
routes and its encoding (``refuse``).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler

from otel_dynamiq._http_server.bounded_server import BoundedHandler
from otel_dynamiq._http_server.request_body import MAX_BODY_BYTES, TOO_LARGE_ADVICE, BodyError, content_length

_logger = logging.getLogger(__name__)

_MAX_CHUNK_LINE = 1024
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


class RequestHandler(BoundedHandler):
    failure_level = logging.DEBUG
    """How loudly an unexpected failure is logged (with its traceback): a server's own bug is an error."""
    server_role = "server"
    """Named in the answer to a request that failed unexpectedly."""

    def request_path(self) -> str:
        """The path without its query or a trailing slash: what both servers route on."""
        return self.path.split("?", 1)[0].rstrip("/")

    def send_body(
        self, status: int, body: bytes, content_type: str, *, close: bool = False, headers: dict[str, str] | None = None
    ) -> None:
        """One whole answer; ``close`` when what the client sent after this request will not be read.

        An answer after which the connection closes anyway (``close_if_body_unread``, HTTP/1.0) says so.
        """
        if close or self.close_connection:
            close = self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def refuse(self, status: int, detail: str) -> None:
        """Answer an error in the server's own encoding, and close the connection."""
        raise NotImplementedError

    def guarded(self, handle: Callable[[], None]) -> None:
        """No request ends without an answer, and nothing a client sends reaches the log as a traceback."""
        try:
            handle()
        except BodyError as refused:
            self.refuse(refused.status, refused.detail)
        except (TimeoutError, ConnectionError) as exc:
            _logger.debug("connection from %s ended: %s", self.client_address[0], exc or type(exc).__name__)
            self.close_connection = True
        except Exception:
            _logger.log(self.failure_level, "%s request failed", self.server_role, exc_info=True)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.refuse(HTTPStatus.INTERNAL_SERVER_ERROR, f"the {self.server_role} could not handle this request")

    def close_if_body_unread(self) -> None:
        """A request whose body is never read (GET, HEAD, OPTIONS) closes its connection after the answer.

        Otherwise the body, whatever it holds, would be read as the next request on that connection.
        """
        if self.headers.get("Content-Length", "0").strip() != "0" or "Transfer-Encoding" in self.headers:
            self.close_connection = True

    def handle_expect_100(self) -> bool:
        """Not yet: ``100 Continue`` goes out only once the key and the headers are checked (``read_body``)."""
        return True

    def read_body(self, *, chunked: bool) -> bytes:
        """The body as framed by exactly one of ``Content-Length`` and ``Transfer-Encoding: chunked`` (RFC 9112).

        Any other framing is refused and the connection closed: two readers of the same bytes (a proxy
        in front, and this) must never disagree about where the request ends. ``chunked=False`` refuses
        chunked bodies with 411, for a server whose senders always know their length.
        """
        encodings = self.headers.get_all("Transfer-Encoding") or []
        lengths = self.headers.get_all("Content-Length") or []
        if encodings:
            if not chunked and any("chunked" in value.lower() for value in encodings):
                raise BodyError(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length; chunked bodies are not taken")
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
                        raise BodyError(
                            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY_BYTES} bytes: {TOO_LARGE_ADVICE}"
                        )
                    if trailer in (b"\r\n", b"\n", b""):
                        return b"".join(parts)
            total += size + 2
            if total > MAX_BODY_BYTES or size < 0:
                raise BodyError(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY_BYTES} bytes: {TOO_LARGE_ADVICE}"
                )
            chunk = self.rfile.read(size)
            if len(chunk) < size or self.rfile.readline(_MAX_CHUNK_LINE).strip():
                raise BodyError(HTTPStatus.BAD_REQUEST, "chunked body ended early or is malformed")
            parts.append(chunk)
