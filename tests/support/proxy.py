"""A tiny real forward HTTP proxy on 127.0.0.1: what ``HTTP_PROXY`` points to in the proxy tests.

It takes requests in absolute form (``POST http://host:port/path``), as a
client sends them to a plain-http proxy, forwards each with ``http.client`` (which
reads no proxy variable, so it never loops back to itself) and relays the answer.
Every request is recorded with the ``Proxy-Authorization`` it carried, so a test
sees that the exporter's requests went through the proxy, with its credentials.
"""

from __future__ import annotations

import base64
import http.client
from dataclasses import dataclass
from urllib.parse import urlsplit

from examples.loopback import LoopbackServer, QuietHandler

_HOP_BY_HOP = frozenset({"proxy-authorization", "proxy-connection", "connection", "keep-alive", "host"})


@dataclass(frozen=True)
class Proxied:
    url: str
    proxy_authorization: str | None


class ForwardProxy(LoopbackServer):
    """Forwards plain-http requests; with ``user`` and ``password`` it answers 407 to requests without them."""

    def __init__(self, user: str | None = None, password: str | None = None) -> None:
        self.requests: list[Proxied] = []
        expected = f"Basic {base64.b64encode(f'{user}:{password}'.encode()).decode()}" if user else None
        self._credentials = (user, password)
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.read_body()
                authorization = self.headers.get("Proxy-Authorization")
                outer.requests.append(Proxied(self.path, authorization))
                if expected is not None and authorization != expected:
                    self.answer(407, b"", {"Proxy-Authenticate": 'Basic realm="test"'})
                    return
                target = urlsplit(self.path)
                headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP}
                upstream = http.client.HTTPConnection(target.hostname or "", target.port or 80, timeout=10)
                try:
                    upstream.request(self.command, target.path or "/", body=body, headers=headers)
                    answer = upstream.getresponse()
                    content = answer.read()
                    kept = {"Content-Type": answer.getheader("Content-Type") or "application/octet-stream"}
                    self.answer(answer.status, content, kept)
                finally:
                    upstream.close()

            do_GET = do_POST

        super().__init__(Handler)

    @property
    def url(self) -> str:
        """The proxy's URL, with its credentials when it has some: what ``HTTP_PROXY`` is set to."""
        user, password = self._credentials
        auth = f"{user}:{password}@" if user else ""
        return f"http://{auth}127.0.0.1:{self.port}"
