"""What a request body may cost before it is refused: bytes, decompressed bytes, values and nesting.

Pure: no I/O. The server reads at most ``MAX_BODY_BYTES`` (after checking the
key), and this module turns those bytes into a JSON value or a ``BodyError``
with the HTTP status and a message that says which bound was crossed. Every
bound is checked before the work it protects: decompression stops at its
cap, and values are counted (one ``{`` or ``[`` each) before parsing.
"""

from __future__ import annotations

import zlib
from http import HTTPStatus
from typing import Any

import orjson

MAX_BODY_BYTES = 16 * 1024 * 1024
"""On the wire. The exporter's requests stay under 4 MiB by default."""
SMALLER_BATCHES = (
    "send smaller batches (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, or the Collector's batch processor send_batch_max_size)"
)
TOO_LARGE_ADVICE = f"{SMALLER_BATCHES} or compress them with gzip"
"""What a sender refused with 413 can do: the bound protects the receiver's memory, the sender controls its size."""
MAX_DECOMPRESSED_BYTES = 32 * 1024 * 1024
"""After gzip or deflate: a 500 KiB gzip bomb would otherwise inflate to 512 MiB."""
MAX_CONTAINERS = 1_000_000
"""Objects and arrays in one body; parsed, each costs memory whatever its size (an empty run too)."""
MAX_RUNS = 10_000
"""Runs in one request; the exporter sends at most a few thousand."""

_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_IDENTITY = ("", "identity")
_GZIP_MAGIC = b"\x1f\x8b"


class BodyError(Exception):
    """A body refused, with the status to answer and what to tell the sender.

    The collector's and the gateway's refusals alike, from framing to a span's attributes: the
    gateway's gRPC front end maps the HTTP status to its code.
    """

    def __init__(self, status: HTTPStatus, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def content_length(header: str | None) -> int:
    """The declared length: digits only, present, and within the cap."""
    if header is None:
        raise BodyError(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
    text = header.strip()
    if not text.isdigit() or not text.isascii():
        raise BodyError(HTTPStatus.BAD_REQUEST, f"Content-Length must be a number of bytes, got {header[:40]!r}")
    length = int(text)
    if length > MAX_BODY_BYTES:
        raise BodyError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY_BYTES} bytes: {TOO_LARGE_ADVICE}")
    return length


def decompressed(raw: bytes, encoding: str | None) -> bytes:
    """The body as sent before compression, refusing to inflate past ``MAX_DECOMPRESSED_BYTES``."""
    name = (encoding or "").strip().lower()
    if name in _IDENTITY:
        return raw
    wbits = _WBITS.get(name)
    if wbits is None:
        raise BodyError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"Content-Encoding {name[:40]!r}: use gzip or deflate")
    parts: list[bytes] = []
    total = 0
    while True:  # gzip allows several members one after another; each is inflated within what is left
        inflater = zlib.decompressobj(wbits)
        try:
            text = inflater.decompress(raw, MAX_DECOMPRESSED_BYTES + 1 - total)
        except zlib.error as exc:
            raise BodyError(HTTPStatus.BAD_REQUEST, f"body is not valid {name}: {exc}") from None
        total += len(text)
        if total > MAX_DECOMPRESSED_BYTES or inflater.unconsumed_tail:
            raise BodyError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"body inflates past {MAX_DECOMPRESSED_BYTES} bytes: {SMALLER_BATCHES}",
            )
        if not inflater.eof:
            raise BodyError(HTTPStatus.BAD_REQUEST, f"body is a truncated {name} stream")
        if text:
            parts.append(text)
        raw = inflater.unused_data
        if not raw:
            return parts[0] if len(parts) == 1 else b"".join(parts)
        if wbits == _WBITS["deflate"] or not raw.startswith(_GZIP_MAGIC):
            raise BodyError(HTTPStatus.BAD_REQUEST, f"{len(raw)} bytes follow the end of the {name} stream")


def parse_runs_body(text: bytes) -> Any:
    """JSON with bounded work: too many values or runs is a 413; bad JSON, NaN, lone surrogates, 400."""
    if text.count(b"{") + text.count(b"[") > MAX_CONTAINERS:
        raise BodyError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body holds over {MAX_CONTAINERS} objects and arrays")
    try:
        body = orjson.loads(text)  # strict JSON: no NaN, no lone surrogates, nesting bounded
    except orjson.JSONDecodeError as exc:
        raise BodyError(HTTPStatus.BAD_REQUEST, f"body is not JSON: {exc}") from None
    if isinstance(body, dict) and isinstance(body.get("runs"), list) and len(body["runs"]) > MAX_RUNS:
        raise BodyError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"over {MAX_RUNS} runs in one request")
    return body
