"""A local stand-in for the Dynamiq collector, on 127.0.0.1 by default.

It speaks the service's contract (``POST /v1/traces`` with ``{"runs": [...]}``
and an optional bearer key), refuses invalid runs with a 400 that names the
field, and keeps what it accepts in SQLite for ``GET /v1/traces`` and
``GET /v1/traces/<trace_id>``. The demo, the tests and anyone without a
Dynamiq account can see exactly what the exporter sends.
"""

from __future__ import annotations

import gzip
import hmac
import json
import logging
import threading
import zlib
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from otel_dynamiq.collector._store import RunStore
from otel_dynamiq.collector._validate import validate_body

_logger = logging.getLogger(__name__)

TRACES_PATH = "/v1/traces"
MAX_BODY_BYTES = 64 * 1024 * 1024
"""Larger bodies get a 413, as a real service's front proxy would answer."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes

    def log_message(self, format: str, *args: Any) -> None:
        _logger.debug("%s " + format, self.address_string(), *args)

    def _reply(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> bool:
        expected = self.server.access_key
        if expected is None:
            return True
        given = self.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {expected}".encode())

    def do_POST(self) -> None:
        if self.path.rstrip("/") != TRACES_PATH:
            self._reply(HTTPStatus.NOT_FOUND, {"detail": f"POST goes to {TRACES_PATH}"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"detail": f"body over {MAX_BODY_BYTES} bytes"})
            return
        raw = self.rfile.read(length)
        if not self._authorized():
            self._reply(HTTPStatus.UNAUTHORIZED, {"detail": "missing or wrong bearer key"})
            return
        encoding = self.headers.get("Content-Encoding")
        try:
            text = gzip.decompress(raw) if encoding == "gzip" else raw
            body = json.loads(text)
        except (OSError, EOFError, zlib.error, ValueError) as exc:
            self._reply(HTTPStatus.BAD_REQUEST, {"detail": f"body is not JSON{' (gzip)' if encoding else ''}: {exc}"})
            return
        problems = validate_body(body)
        if problems:
            self._reply(HTTPStatus.BAD_REQUEST, {"detail": problems[:20]})
            return
        self.server.store.add(body["runs"], len(raw), encoding)
        self._reply(HTTPStatus.OK, {"accepted": len(body["runs"])})

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == TRACES_PATH:
            self._reply(HTTPStatus.OK, {"traces": self.server.store.traces()})
        elif path.startswith(TRACES_PATH + "/"):
            trace_id = path[len(TRACES_PATH) + 1 :]
            runs = self.server.store.runs(trace_id)
            if runs:
                self._reply(HTTPStatus.OK, {"trace_id": trace_id, "runs": runs})
            else:
                self._reply(HTTPStatus.NOT_FOUND, {"detail": f"no runs for trace {trace_id}"})
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"detail": f"GET {TRACES_PATH} or {TRACES_PATH}/<trace_id>"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: RunStore, access_key: str | None) -> None:
        super().__init__(address, _Handler)
        self.store = store
        self.access_key = access_key


class LocalCollector:
    """Serve the collector on a background thread; a context manager for tests and the demo.

    ``port=0`` picks a free port; ``url`` tells which. ``access_key`` makes it
    demand ``Authorization: Bearer <key>`` like the real service.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        database: str = ":memory:",
        access_key: str | None = None,
    ) -> None:
        self.store = RunStore(database)
        self._server = _Server((host, port), self.store, access_key)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalCollector:
        self._thread = threading.Thread(target=self._server.serve_forever, name="otel-dynamiq-collector", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        self.store.close()

    def __enter__(self) -> LocalCollector:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
