"""A small HTTP server on 127.0.0.1, served from a thread: what the local LLM runs on, standard library only.

A stand-in server writes only its handler; this starts it, gives its URL,
and stops it whole at the end of a ``with`` block. The tests' other
stand-ins (a misbehaving service, a forward proxy) and the benchmarks' (a
sink, a slow service, an OTLP receiver) run on it too, so it is written once.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

_Self = TypeVar("_Self", bound="LoopbackServer")


class QuietHandler(BaseHTTPRequestHandler):
    """Keep-alive (HTTP/1.1), answers sent without Nagle's delay, and no access log in the test output."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def read_body(self) -> bytes:
        """The body its ``Content-Length`` announces (none without one)."""
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def answer(self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> None:
        """One whole answer, framed by its length."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], backlog: int, quiet: bool
    ) -> None:
        self.request_queue_size = backlog  # read when the socket starts listening, inside __init__
        self._quiet = quiet
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not self._quiet:
            super().handle_error(request, client_address)


class LoopbackServer:
    """Serves ``handler`` from a daemon thread, from ``with`` to its end.

    ``quiet``: a request that fails (a client that hangs up on a keep-alive connection) prints no traceback.
    """

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        backlog: int = 5,
        quiet: bool = False,
    ) -> None:
        self._server = _Server((host, port), handler, backlog, quiet)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self: _Self) -> _Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
