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
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LISTEN_BACKLOG = 1024
"""Connections the kernel holds while every handler is busy (the standard library's default is 5)."""
MAX_HANDLERS = 64
"""Connections served at once; the rest wait in the backlog instead of costing a thread each."""
CONNECTION_TIMEOUT_SECONDS = 10.0
"""A connection that sends nothing for this long (idle keep-alive, a slow sender) is closed."""


class BoundedHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        connection_timeout: float = CONNECTION_TIMEOUT_SECONDS,
        max_handlers: int = MAX_HANDLERS,
    ) -> None:
        self.connection_timeout = connection_timeout
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
        super().setup()

    def end_headers(self) -> None:
        """Every answer passes here: while the server is crowded, it closes the connection after it."""
        if self.server.crowded and not self.close_connection:
            self.send_header("Connection", "close")
            self.close_connection = True
        super().end_headers()
