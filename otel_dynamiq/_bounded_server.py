"""The HTTP server base of the local collector and the gateway: many senders, bounded cost.

The standard library's threading server takes any number of connections, a
thread each, and its kernel backlog holds five. Here the backlog holds a
thousand, at most ``max_handlers`` connections are served at once (the rest
wait in the backlog, costing no thread), and a connection idle for
``connection_timeout`` is closed, so hundreds of senders queue instead of
exhausting the process, and a slow sender cannot hold a handler forever.
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
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self._slots.acquire()  # blocks accepting; new connections wait in the backlog
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
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
