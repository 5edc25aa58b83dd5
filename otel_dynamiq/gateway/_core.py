"""What both OTLP front ends share: the token, decoding, the exporter, the counters and the drain.

A request is answered 200 only after the exporter returned success, and the
exporter returns success only when the runs were delivered or written to the
disk spool; a gateway killed after answering therefore loses nothing. When the
exporter cannot say that (the service is out and the spool cannot take them,
or the gateway is draining), the answer is "retry later", so the sender's own
retry and queue keep the spans.
"""

from __future__ import annotations

import enum
import hmac
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from opentelemetry.metrics import MeterProvider, get_meter
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_dynamiq._http_server.request_body import BodyError, decompressed
from otel_dynamiq.exporter import DynamiqSpanExporter
from otel_dynamiq.gateway._otlp import Decoded, media_type, parse_request, spans_of

DECODING_AT_ONCE = 2
"""Requests inflated and decoded at once: decoding holds the GIL, so more would only add their memory peaks."""
RETRY_AFTER_SECONDS = 5
"""What senders are told to wait after a 503: long enough for a replica to restart or the spool to drain."""


class Draining(Exception):
    """The gateway is shutting down and takes nothing new."""


class SpoolFull(Exception):
    """The disk spool is nearly at its cap: what it took now could push out runs already answered 200."""


class Refusal(enum.Enum):
    """Why a request was not taken; the value is its ``reason`` on the refused-requests counter.

    An invalid request's reason names its front end and status instead (``http_400``, ``grpc_413``).
    """

    UNAUTHORIZED = "unauthorized"
    DRAINING = "draining"
    SPOOL_FULL = "spool_full"
    NOT_DELIVERED = "not_delivered"
    """Decoded, but the exporter could neither deliver nor spool the spans: the sender should retry."""
    INVALID = "invalid"
    """The request itself was refused (framing, encoding, bounds, decoding): ``Outcome.error`` says how."""


@dataclass(frozen=True)
class ExportRequest:
    """One OTLP export request as a front end received it, with nothing of the transport left."""

    front_end: Literal["http", "grpc"]
    """Names an invalid request's refusal on the counter."""
    authorization: str | None
    content_type: str | None
    read: Callable[[], tuple[bytes, str | None]]
    """Reads the body, and says how it is compressed; called only once the request is admitted."""


@dataclass(frozen=True)
class Taken:
    """The request's spans taken: every decodable one delivered or spooled, the rest counted as rejected."""

    decoded: Decoded
    media_type: str
    """The request's OTLP encoding: the one to answer in."""


@dataclass(frozen=True)
class Refused:
    """The request refused (and counted), for each front end to say with its own status or code."""

    refusal: Refusal
    media_type: str | None
    """The request's OTLP encoding, when its content type was checked before the refusal."""
    error: BodyError | None = None
    """For ``Refusal.INVALID``: the HTTP status and what to tell the sender."""


Outcome = Taken | Refused


@dataclass(frozen=True)
class Counts:
    requests: int
    spans_received: int
    spans_rejected: int
    spans_accepted: int
    requests_refused: int


class GatewayCore:
    """The gateway's answer to an export request, whichever front end received it.

    OTLP/HTTP and OTLP/gRPC differ only in how a request arrives and how its
    answer is spelled (a status or a code). What is decided in between (the
    token, draining, a full spool, the bounds, decoding, the export, the
    counters) is decided here, once, by ``take``, so the two front ends cannot
    drift apart: a request taken or refused over one is taken or refused, and
    counted, the same over the other.
    """

    def __init__(self, exporter: SpanExporter, token: str | None, meter_provider: MeterProvider | None = None) -> None:
        self._exporter = exporter
        self._token = token.encode() if token else None
        self._lock = threading.Condition()
        self._in_flight = 0
        self._draining = False
        self._spool_full = False
        self._decoding = threading.BoundedSemaphore(DECODING_AT_ONCE)
        """Inflating and decoding, the steps whose memory grows with what a body holds, a few requests at a time."""
        self._counts = {"requests": 0, "received": 0, "rejected": 0, "accepted": 0, "refused": 0}
        meter = get_meter("otel_dynamiq.gateway", meter_provider=meter_provider)
        self._spans = meter.create_counter(
            "otel_dynamiq.gateway.spans", unit="{span}", description="Spans received, by outcome"
        )
        self._refusals = meter.create_counter(
            "otel_dynamiq.gateway.refused_requests", unit="{request}", description="Requests refused, by reason"
        )

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def spool_full(self) -> bool:
        return self._spool_full

    def set_spool_full(self, full: bool) -> None:
        """Told by the gateway's spool watch; refusing early keeps the spool from dropping answered runs."""
        self._spool_full = full

    def take(self, request: ExportRequest) -> Outcome:
        """Check, read, decode and export one request, in that order; every refusal is counted.

        The token and the gateway's state are checked before the body is read, so a refused sender
        costs no read. The body is read outside the drain's count (a slow sender cannot hold a
        SIGTERM), and inflated and decoded a few requests at a time.
        """
        if not self.admits(request.authorization):
            return Refused(Refusal.UNAUTHORIZED, None)
        kind: str | None = None
        try:
            kind = media_type(request.content_type)
            self._check_taking()
            raw, encoding = request.read()
            with self._counted_in_flight():
                with self._decoding:
                    body = decompressed(raw, encoding)
                    del raw
                    parsed, rejections = parse_request(body, kind)
                    del body
                    decoded = spans_of(parsed, rejections)
                    del parsed
                if not self._export(decoded):
                    return self._refusal(Refusal.NOT_DELIVERED, kind)
            return Taken(decoded, kind)
        except Draining:
            return self._refusal(Refusal.DRAINING, kind)
        except SpoolFull:
            return self._refusal(Refusal.SPOOL_FULL, kind)
        except BodyError as error:
            self.refused(f"{request.front_end}_{int(error.status)}")
            return Refused(Refusal.INVALID, kind, error)

    def admits(self, authorization: str | None) -> bool:
        """Whether the request carries the token; a refusal is counted. gRPC asks before taking a worker.

        Constant time, so the token cannot be guessed a byte at a time; the scheme in any case (RFC 9110).
        """
        if self._token is None:
            return True
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode("utf-8", "replace"), self._token
        ):
            return True
        self.refused(Refusal.UNAUTHORIZED.value)
        return False

    def _refusal(self, refusal: Refusal, kind: str | None) -> Refused:
        self.refused(refusal.value)
        return Refused(refusal, kind)

    def refused(self, reason: str) -> None:
        with self._lock:
            self._counts["refused"] += 1
        self._refusals.add(1, {"reason": reason})

    def _check_taking(self) -> None:
        """Refuse before reading a body that would be refused anyway."""
        if self._draining:
            raise Draining
        if self._spool_full:
            raise SpoolFull

    @contextmanager
    def _counted_in_flight(self) -> Iterator[None]:
        """Count a request in flight, so a drain waits for it; refuse new ones while draining."""
        with self._lock:
            if self._draining:
                raise Draining
            if self._spool_full:
                raise SpoolFull
            self._in_flight += 1
            self._counts["requests"] += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                self._lock.notify_all()

    def _export(self, decoded: Decoded) -> bool:
        """True when every decodable span is delivered or spooled; rejected spans are counted, not retried.

        A span the exporter cannot make a run of (one over the size cap even when cut) is rejected too.
        """
        spans = decoded.spans
        if not spans:
            self._count(decoded.rejected, decoded.rejected, 0)
            return True
        if isinstance(self._exporter, DynamiqSpanExporter):
            result, rejections = self._exporter.export_rejecting(spans)
        else:
            result, rejections = self._exporter.export(spans), []
        for reason in rejections:
            decoded.reject(reason)
        accepted = result is SpanExportResult.SUCCESS
        taken = len(spans) - len(rejections)
        self._spans.add(taken, {"outcome": "accepted" if accepted else "retry_later"})
        self._count(len(spans) + decoded.rejected - len(rejections), decoded.rejected, taken if accepted else 0)
        return accepted

    def _count(self, received: int, rejected: int, accepted: int) -> None:
        with self._lock:
            self._counts["received"] += received
            self._counts["rejected"] += rejected
            self._counts["accepted"] += accepted
        if rejected:
            self._spans.add(rejected, {"outcome": "rejected"})

    def drain(self, timeout: float) -> bool:
        """Take nothing new, and wait for what was taken; False when the wait ran out."""
        with self._lock:
            self._draining = True
            return self._lock.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def counts(self) -> Counts:
        with self._lock:
            counts = dict(self._counts)
        return Counts(
            requests=counts["requests"],
            spans_received=counts["received"],
            spans_rejected=counts["rejected"],
            spans_accepted=counts["accepted"],
            requests_refused=counts["refused"],
        )
