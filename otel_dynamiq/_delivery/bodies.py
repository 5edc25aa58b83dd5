"""Runs to request bodies: JSON encoding, per-run size caps and batch packing.

Pure functions, no I/O. Each run is encoded once, on its own, so a batch can
be packed into bodies under the size cap (and split again after a 413)
by joining bytes rather than encoding twice.

orjson is used because it encodes runs several times faster than the standard
library (see ``benchmarks/encoder_choice.py``), writes NaN and infinities as
``null`` instead of invalid JSON, and accepts non-string keys as Dynamiq's
own client does.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from otel_dynamiq._delivery.cutting import CONTENT_FIELDS, cut_to_fit
from otel_dynamiq._translation.span_to_run import Run

_OPTIONS = orjson.OPT_NON_STR_KEYS
_BODY_PREFIX = b'{"runs":['
_BODY_SUFFIX = b"]}"
ENVELOPE_BYTES = len(_BODY_PREFIX) + len(_BODY_SUFFIX)
MAX_DEPTH = 200
"""orjson refuses deeper nesting; deeper values are replaced by a marker."""
TRUNCATION_MARKER = "…[truncated by otel-dynamiq: {dropped} of {total} bytes dropped]"
_INT64_RANGE = range(-(2**63), 2**64)
_MARKER_ROOM = len(TRUNCATION_MARKER) + 40
"""Bytes a cut field needs besides its kept text: the marker with its numbers, and quotes."""
_FIT_ATTEMPTS = 6


class RunTooLargeError(ValueError):
    """Even with every payload field truncated, the run does not fit the cap."""


@dataclass(frozen=True)
class Payload:
    """One request: the encoded runs it carries and the body that carries them."""

    parts: tuple[bytes, ...]
    body: bytes

    @property
    def runs(self) -> int:
        return len(self.parts)


def _clean_text(text: str) -> str:
    """Replace lone surrogates, which UTF-8 cannot carry, with U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _sanitize(value: Any, depth: int = 0) -> Any:
    """Make a value encodable, changing only the parts that are not."""
    if depth > MAX_DEPTH:
        return "[otel-dynamiq: nested too deep]"
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if value in _INT64_RANGE else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {
            (_clean_text(key) if isinstance(key, str) else str(key)): _sanitize(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_sanitize(item, depth + 1) for item in value]
    return _clean_text(str(value))


def encode(value: Any) -> bytes:
    """JSON bytes for any value; what JSON cannot hold becomes text, never an exception."""
    try:
        return orjson.dumps(value, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        return orjson.dumps(_sanitize(value), option=_OPTIONS)


def _marker(dropped: int, total: int) -> str:
    return TRUNCATION_MARKER.format(dropped=dropped, total=total)


def _truncate_text(encoded: bytes, keep: int) -> str:
    kept = encoded[: max(keep, 0)].decode("utf-8", "ignore")
    return kept + _marker(len(encoded) - len(kept.encode()), len(encoded))


def _truncated_field(field: str, value: Any, encoded: bytes, keep: int) -> Any:
    """A truncated stand-in that keeps the field's JSON type, so the run stays valid.

    A string is cut as itself; anything else is cut as its JSON text.
    """
    source = _clean_text(value).encode() if isinstance(value, str) else encoded
    text = _truncate_text(source, keep)
    if field == "metadata":
        return {"truncated": text}
    if field == "executions":
        return []
    if field == "error":
        return {"message": text}
    return text


def _fair_shares(budget: int, sizes: dict[str, int]) -> dict[str, int]:
    """Split a byte budget so that small fields stay whole and large ones share the rest."""
    shares: dict[str, int] = {}
    remaining = max(budget, 0)
    ordered = sorted(sizes.items(), key=lambda item: item[1])
    for position, (field, size) in enumerate(ordered):
        share = min(size, remaining // (len(ordered) - position))
        shares[field] = share
        remaining -= share
    return shares


def encode_run(run: Run, max_bytes: int) -> bytes:
    """Encode one run in at most ``max_bytes``, cutting its largest values if needed (see ``cutting``).

    Identifying fields are never cut. Only when values alone cannot be cut
    enough are whole payload fields cut: small ones stay whole, the large ones
    share what is left, each cut with a visible marker.
    """
    encoded = encode(run)
    if len(encoded) <= max_bytes:
        return encoded
    values_cut = cut_to_fit(run, len(encoded), max_bytes, encode, _marker)
    if values_cut is not None:
        return values_cut
    # Too many values to cut each (a million small ones): cut whole fields, which always fits.
    fields = {field: encode(run[field]) for field in CONTENT_FIELDS if run.get(field)}
    fixed = len(encoded) - sum(len(value) for value in fields.values())
    shares = _fair_shares(max_bytes - fixed - len(fields) * _MARKER_ROOM, {f: len(v) for f, v in fields.items()})
    truncated = dict(run)
    for _ in range(_FIT_ATTEMPTS):
        cut = [field for field, share in shares.items() if share < len(fields[field])]
        for field in cut:
            truncated[field] = _truncated_field(field, run[field], fields[field], shares[field])
        encoded = encode(truncated)
        if len(encoded) <= max_bytes:
            return encoded
        # JSON escaping made the cut text longer than its share: shrink by the overshoot.
        overshoot = len(encoded) - max_bytes
        for field in cut or list(shares):
            shares[field] = max(0, shares[field] - overshoot // max(len(cut), 1) - 1)
    raise RunTooLargeError(f"run {run.get('id')} is {len(encoded)} bytes after truncation; the cap is {max_bytes}")


def body_of(parts: Sequence[bytes]) -> bytes:
    return _BODY_PREFIX + b",".join(parts) + _BODY_SUFFIX


def pack(parts: Iterable[bytes], max_body_bytes: int) -> list[Payload]:
    """Group encoded runs into as few bodies as fit under the cap, keeping their order."""
    payloads: list[Payload] = []
    current: list[bytes] = []
    size = ENVELOPE_BYTES
    for part in parts:
        added = len(part) + (1 if current else 0)
        if current and size + added > max_body_bytes:
            payloads.append(Payload(tuple(current), body_of(current)))
            current, size = [], ENVELOPE_BYTES
            added = len(part)
        current.append(part)
        size += added
    if current:
        payloads.append(Payload(tuple(current), body_of(current)))
    return payloads


def halve(payload: Payload) -> list[Payload]:
    """Split a payload the server refused as too large; a single run cannot be split."""
    middle = len(payload.parts) // 2
    halves = (payload.parts[:middle], payload.parts[middle:])
    return [Payload(half, body_of(half)) for half in halves if half]


def compress(body: bytes) -> bytes:
    # Level 6 is gzip's own default: most of the gain of 9 at a fraction of its time.
    return gzip.compress(body, compresslevel=6, mtime=0)


def payload_of_body(body: bytes) -> Payload:
    """A body read back from the spool, as separately encoded runs, so that it can be halved after a 413."""
    runs = orjson.loads(body)["runs"]
    return Payload(tuple(orjson.dumps(run, option=_OPTIONS) for run in runs), body)
