"""The HTTP server base of the local collector and the gateway: many senders, bounded cost.

The standard library's threading server takes any number of connections, a
thread each, and its kernel backlog holds five. Here the backlog holds a
thousand, at most ``max_handlers`` connections are served at once (the rest
wait in the backlog, costing no thread), and a connection idle for
``connection_timeout`` is closed, so hundreds of senders queue instead of
exhausting the process, and a slow sender cannot hold a handler forever.

Keep-alive needs one more rule: every OTLP exporter keeps its connection open
between exports, so with more senders than handlers the first ones would hold
every handler while idle and the rest would wait in the backlog for idle
timeouts. While every handler is taken, an answer says ``Connection: close``,
and the handler moves on to a connection that is waiting.

The idle timeout bounds each read, not a request: a sender trickling a byte
at a time would hold a handler forever. So a request must arrive whole (line,
headers and body) within ``request_timeout`` of its first byte, or its
connection is closed. A sender that resets or abandons its connection is a
normal event for a server: one line at DEBUG, never a traceback.
"""

from __future__ import annotations

import io
import logging
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_logger = logging.getLogger(__name__)

LISTEN_BACKLOG = 1024
"""Connections the kernel holds while every handler is busy (the standard library's default is 5)."""
MAX_HANDLERS = 64
"""Connections served at once; the rest wait in the backlog instead of costing a thread each."""
CONNECTION_TIMEOUT_SECONDS = 10.0
"""A connection that sends nothing for this long (idle keep-alive, a slow sender) is closed."""
CROWDED_HEADERS_SECONDS = 1.0
"""While every handler is taken, a new connection must deliver its first request's line and headers (one
packet for any real sender, sent before the handler takes it) within this long of its handler taking it,
so trickling senders yield to waiting ones. A kept-alive connection is not cut between requests by this:
its next request may be on its way, and answers already close connections while the server is crowded."""
REQUEST_TIMEOUT_SECONDS = 10.0
"""A request (line, headers and body) must arrive whole within this long of its first byte: the OTLP
exporters give up on a request after 10 s by default, so one slower than that is abandoned anyway."""


class BoundedHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        connection_timeout: float = CONNECTION_TIMEOUT_SECONDS,
        max_handlers: int = MAX_HANDLERS,
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self.connection_timeout = connection_timeout
        self.request_timeout = request_timeout
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._slots = threading.BoundedSemaphore(max_handlers)
        self._max_handlers = max_handlers
        self._active = 0
        self._active_lock = threading.Lock()
        super().__init__(address, handler)

    @property
    def crowded(self) -> bool:
        """Every handler is taken: a connection kept alive now would keep a waiting sender out."""
        return self._active >= self._max_handlers

    def process_request(self, request: Any, client_address: Any) -> None:
        self._slots.acquire()  # blocks accepting; new connections wait in the backlog
        with self._active_lock:
            self._active += 1
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A peer that reset or abandoned its connection: one DEBUG line; anything else is a bug, logged as one."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            _logger.debug("connection from %s ended: %s", client_address[0], error or type(error).__name__)
        else:
            _logger.error("request from %s failed", client_address[0], exc_info=error)

    def _release(self) -> None:
        with self._active_lock:
            self._active -= 1
        self._slots.release()


class BoundedHandler(BaseHTTPRequestHandler):
    """A handler whose idle timeout is its server's, not its class's."""

    server: BoundedHTTPServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    timeout = CONNECTION_TIMEOUT_SECONDS

    def setup(self) -> None:
        self.timeout = self.server.connection_timeout  # type: ignore[misc]  # per server, not per class
        self._deadline = time.monotonic() + self.server.connection_timeout
        self._awaiting_request = True
        self._headers_by = time.monotonic() + CROWDED_HEADERS_SECONDS
        super().setup()
        buffered = self.rfile
        self.rfile = io.BufferedReader(_DeadlineReader(self))
        buffered.close()  # the socket closes only once every file made from it is closed

    def handle_one_request(self) -> None:
        """Between requests a connection may idle for the idle timeout; a request then has its own deadline."""
        self._deadline = time.monotonic() + self.server.connection_timeout
        self._awaiting_request = True
        super().handle_one_request()

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        self._headers_by = float("inf")  # the headers are in: only the request's own deadline is left
        return parsed

    def read_within_deadline(self, buffer: Any) -> int:
        """One read, bounded by the idle timeout and the request's deadline; while headers are awaited,
        in slices, so a connection is cut as soon as the server is crowded and its headers are late."""
        idle = self.server.connection_timeout
        started = time.monotonic()
        while True:
            now = time.monotonic()
            deadline = min(self._deadline, started + idle)
            if self._headers_by < deadline and self.server.crowded:
                deadline = self._headers_by
            remaining = deadline - now
            if remaining <= 0:
                raise TimeoutError("the request did not arrive whole in time")
            waiting_for_headers = self._headers_by != float("inf")
            self.connection.settimeout(min(remaining, CROWDED_HEADERS_SECONDS) if waiting_for_headers else remaining)
            try:
                received: int = self.connection.recv_into(buffer)
            except TimeoutError:
                if waiting_for_headers:
                    continue  # look again: the server may be crowded now, or the deadline passed
                raise
            finally:
                self.connection.settimeout(idle)
            if received and self._awaiting_request:
                self._awaiting_request = False
                self._deadline = now + self.server.request_timeout
            return received

    def log_message(self, format: str, *args: Any) -> None:
        _logger.debug("%s " + format, self.address_string(), *args)

    def end_headers(self) -> None:
        """Every answer passes here: while the server is crowded, it closes the connection after it."""
        if self.server.crowded and not self.close_connection:
            self.send_header("Connection", "close")
            self.close_connection = True
        super().end_headers()


class _DeadlineReader(io.RawIOBase):
    """The socket as its handler reads it: every read bounded by what is left of the request's deadline."""

    def __init__(self, handler: BoundedHandler) -> None:
        super().__init__()
        self._handler = handler

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._handler.read_within_deadline(buffer)
