"""A local stand-in for the Dynamiq collector, on 127.0.0.1 by default.

It speaks the service's contract (``POST /v1/traces`` with ``{"runs": [...]}``
and an optional bearer key), refuses invalid runs with a 400 that names the
field, and keeps what it accepts in SQLite for ``GET /v1/traces`` and
``GET /v1/traces/<trace_id>``, and shows them in a web page at ``/``
(``_viewer``). The demo, the tests and anyone without a Dynamiq account can
see exactly what the exporter sends.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from http import HTTPStatus
from types import TracebackType
from typing import Any

from otel_dynamiq._config import TRACES_PATH
from otel_dynamiq._http_server.bounded_server import CONNECTION_TIMEOUT_SECONDS, BoundedHTTPServer
from otel_dynamiq._http_server.request_body import decompressed, parse_runs_body
from otel_dynamiq._http_server.request_handler import RequestHandler
from otel_dynamiq.collector._store import RunStore
from otel_dynamiq.collector._validate import canonical_id, canonical_run, validate_body
from otel_dynamiq.collector._viewer import FORBIDDEN_HOST, is_viewer_path, loopback_host
from otel_dynamiq.collector._viewer import serve as serve_viewer

_logger = logging.getLogger(__name__)

ALLOWED = "GET, HEAD, POST"


class _Handler(RequestHandler):
    server: _Server
    server_role = "collector"

    def log_message(self, format: str, *args: Any) -> None:
        _logger.debug("%s " + format, self.address_string(), *args)

    def _reply(self, status: int, payload: Any, close: bool = False, headers: dict[str, str] | None = None) -> None:
        self.send_body(status, json.dumps(payload).encode(), "application/json", close=close, headers=headers)

    def refuse(self, status: int, detail: str) -> None:
        self._reply(status, {"detail": detail}, close=True)

    def _authorized(self) -> bool:
        expected = self.server.access_key
        if expected is None:
            return True
        given = self.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode("utf-8", "replace"), f"Bearer {expected}".encode())

    def do_POST(self) -> None:
        self.guarded(self._post)

    def do_GET(self) -> None:
        self.close_if_body_unread()
        self.guarded(self._get)

    def do_HEAD(self) -> None:
        """What a GET would answer, without its body (``_reply`` and the viewer's sends skip it)."""
        self.close_if_body_unread()
        self.guarded(self._get)

    def do_OPTIONS(self) -> None:
        """No CORS: a web page's preflight is refused, so its scripts can neither post nor read."""
        self.close_if_body_unread()
        self._reply(HTTPStatus.METHOD_NOT_ALLOWED, {"detail": "GET, HEAD or POST"}, headers={"Allow": ALLOWED})

    def _cross_site(self) -> str | None:
        """Without a key, why a POST looks sent by another web site through a visitor's browser, if it does.

        A browser always names a POST's origin, and a form or a ``no-cors`` fetch can only send text or form
        content types; a rebound name shows in ``Host``. The exporter and the gateway send none of these.
        """
        if self.server.access_key is not None:
            return None
        host, origin = self.headers.get("Host"), self.headers.get("Origin")
        if host is not None and not loopback_host(self):
            return FORBIDDEN_HOST
        if origin is not None and origin != f"http://{host}":
            return "without a key the collector takes no runs a web page sends from another origin"
        return None

    def _post(self) -> None:
        if self.request_path() != TRACES_PATH:
            self._reply(HTTPStatus.NOT_FOUND, {"detail": f"POST goes to {TRACES_PATH}"}, close=True)
            return
        if not self._authorized():  # before reading a byte of the body
            self._reply(HTTPStatus.UNAUTHORIZED, {"detail": "missing or wrong bearer key"}, close=True)
            return
        refused = self._cross_site()
        if refused is not None:
            self._reply(HTTPStatus.FORBIDDEN, {"detail": refused}, close=True)
            return
        media_type = self.headers.get("Content-Type", "application/json").partition(";")[0].strip().lower()
        if self.server.access_key is None and media_type != "application/json":  # what a page may send anywhere
            self._reply(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"detail": "Content-Type must be application/json"}, True)
            return
        raw = self.read_body(chunked=False)
        encoding = self.headers.get("Content-Encoding")
        body = parse_runs_body(decompressed(raw, encoding))
        problems = validate_body(body)
        if problems:
            self._reply(HTTPStatus.BAD_REQUEST, {"detail": problems[:20]})
            return
        runs = [canonical_run(run) for run in body["runs"]]
        self.server.store.add(runs, len(raw), (encoding or "").strip().lower() or None)
        self._reply(HTTPStatus.OK, {"accepted": len(runs)})

    def _get(self) -> None:
        path, _, query = self.path.partition("?")
        if is_viewer_path(path):  # the page and its data: the same key, asked for the way a browser can give it
            serve_viewer(self, self.server.store, self.server.access_key, path, query)
            return
        if self.server.access_key is None and not loopback_host(self):  # a web page's rebound name reads nothing
            self._reply(HTTPStatus.FORBIDDEN, {"detail": FORBIDDEN_HOST})
            return
        if not self._authorized():
            self._reply(HTTPStatus.UNAUTHORIZED, {"detail": "missing or wrong bearer key"})
            return
        path = self.request_path()
        if path == TRACES_PATH:
            self._reply(HTTPStatus.OK, {"traces": self.server.store.traces()})
        elif path.startswith(TRACES_PATH + "/"):
            trace_id = canonical_id(path[len(TRACES_PATH) + 1 :])
            runs = self.server.store.runs(trace_id)
            if runs:
                self._reply(HTTPStatus.OK, {"trace_id": trace_id, "runs": runs})
            else:
                self._reply(HTTPStatus.NOT_FOUND, {"detail": f"no runs for trace {trace_id[:80]}"})
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"detail": f"GET {TRACES_PATH} or {TRACES_PATH}/<trace_id>"})


class _Server(BoundedHTTPServer):
    def __init__(
        self, address: tuple[str, int], store: RunStore, access_key: str | None, connection_timeout: float
    ) -> None:
        super().__init__(address, _Handler, connection_timeout)
        self.store = store
        self.access_key = access_key


class LocalCollector:
    """Serve the collector on a background thread; a context manager for tests and the demo.

    Arguments:
        host: the address it listens on (default ``127.0.0.1``; beyond loopback it needs a key).
        port: 0 (the default) picks a free port; ``url`` tells which.
        database: the SQLite file runs are kept in (default ``:memory:``, gone when it stops).
        access_key: demand ``Authorization: Bearer <key>`` like the real service, for the API and
            the viewer alike (default: none, loopback only).
        connection_timeout: seconds a connection may idle between requests (default 10).
        index_content: also let the viewer's search find text in runs' inputs and outputs (their beginnings;
            default off: ids, names and labels only).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        database: str = ":memory:",
        access_key: str | None = None,
        connection_timeout: float = CONNECTION_TIMEOUT_SECONDS,
        index_content: bool = False,
    ) -> None:
        self.store = RunStore(database, index_content=index_content)
        try:
            self._server = _Server((host, port), self.store, access_key, connection_timeout)
        except BaseException:
            self.store.close()
            raise
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

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
