"""A purpose-built misbehaving HTTP server on 127.0.0.1 for transport fault tests.

Each request takes the next scripted behaviour (the last one repeats), and
every request is recorded with its headers, body and arrival time, so a test
asserts on what the exporter really sent.
"""

from __future__ import annotations

import gzip
import json
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from examples.loopback import LoopbackServer, QuietHandler


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok": true}'
    delay: float = 0.0


@dataclass(frozen=True)
class Hang:
    """Accept the request and never answer (until the server stops)."""


@dataclass(frozen=True)
class Reset:
    """Close the connection with a TCP reset, before any answer."""


@dataclass(frozen=True)
class CutOff:
    """Promise a body and close the connection halfway through it."""

    status: int = 200


Behaviour = Reply | Hang | Reset | CutOff | Callable[["Recorded"], Any]


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        raw = gzip.decompress(self.body) if self.headers.get("content-encoding") == "gzip" else self.body
        return json.loads(raw)

    @property
    def runs(self) -> list[dict[str, Any]]:
        return self.json()["runs"]


def free_port() -> int:
    """A port nothing listens on (connections to it are refused) until a test starts a server there."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def forward_to(url: str) -> Callable[[Recorded], Reply]:
    """A behaviour that hands the request to a real server (the local collector) and relays its answer."""

    def forward(record: Recorded) -> Reply:
        headers = {name: value for name, value in record.headers.items() if name in ("authorization", "content-type")}
        if "content-encoding" in record.headers:
            headers["content-encoding"] = record.headers["content-encoding"]
        request = urllib.request.Request(url + record.path, data=record.body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Reply(response.status, body=response.read())
        except urllib.error.HTTPError as refused:
            return Reply(refused.code, body=refused.read())

    return forward


class ScriptedServer(LoopbackServer):
    def __init__(self, *script: Behaviour, port: int = 0) -> None:
        self.script = list(script) or [Reply()]
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                record = Recorded(
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.read_body(),
                    at=time.monotonic(),
                )
                with outer._lock:
                    outer.requests.append(record)
                    index = min(len(outer.requests) - 1, len(outer.script) - 1)
                    behaviour = outer.script[index]
                if callable(behaviour) and not isinstance(behaviour, (Reply, Hang, Reset, CutOff)):
                    behaviour = behaviour(record)
                self._act(behaviour)

            do_GET = do_POST

            def _act(self, behaviour: Any) -> None:
                if isinstance(behaviour, Hang):
                    outer._stopping.wait(60)
                    self.close_connection = True
                    return
                if isinstance(behaviour, Reset):
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                if isinstance(behaviour, CutOff):
                    self.send_response(behaviour.status)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.write(b'{"partial": ')
                    self.wfile.flush()
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                if behaviour.delay:
                    outer._stopping.wait(behaviour.delay)
                self.answer(behaviour.status, behaviour.body, behaviour.headers)

        super().__init__(Handler, port)

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()  # hanging and delayed answers end, so the server's threads can
        super().__exit__(*exc)
