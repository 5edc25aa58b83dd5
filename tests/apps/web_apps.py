"""A plain ASGI app and a plain WSGI app, each making one trace of two spans per request.

Served by real uvicorn and gunicorn workers in tests/integration/test_process_ends.py; the response
body is the trace id, so the test knows every trace the workers made. Tracing is set up by
``opentelemetry-instrument`` (the API only here), as it is for most deployed servers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from opentelemetry import trace


def make_trace(path: str) -> bytes:
    tracer = trace.get_tracer("web-apps")
    with tracer.start_as_current_span(f"GET {path}") as root:
        with tracer.start_as_current_span("handle", attributes={"input.value": path}):
            pass
    return format(root.get_span_context().trace_id, "032x").encode()


async def asgi_app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = make_trace(scope["path"])
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = make_trace(environ["PATH_INFO"])
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
