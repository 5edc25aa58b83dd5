"""Deliver request bodies to the Dynamiq collector, retrying within one deadline.

Runs only on the exporter's private event loop, through one
``httpx.AsyncClient`` shared by every request of that loop. Knows nothing of
spans or runs beyond their count.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Sequence

import httpx
from opentelemetry.instrumentation.utils import suppress_instrumentation

from otel_dynamiq import _stats
from otel_dynamiq._config import ExporterConfig
from otel_dynamiq._encode import Payload, compress, halve
from otel_dynamiq._retry import backoff_seconds, is_retryable_status, retry_after_seconds
from otel_dynamiq._stats import StatsRecorder

_logger = logging.getLogger(__name__)

_BODY_SNIPPET_CHARS = 200
_NOT_RETRYABLE_TRANSPORT_ERRORS = (httpx.UnsupportedProtocol, httpx.InvalidURL)


class Delivery:
    """The HTTP side of one exporter on one event loop."""

    def __init__(self, config: ExporterConfig, stats: StatsRecorder, rng: random.Random | None = None) -> None:
        self._config = config
        self._stats = stats
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy
        self._client: httpx.AsyncClient | None = None
        self._stopping: asyncio.Event | None = None
        self._causes_logged: set[tuple[str, str]] = set()

    def _http_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                headers=self._config.request_headers(),
                timeout=self._config.timeout,
                follow_redirects=False,
                trust_env=True,
            )
        return self._client

    def _stop_event(self) -> asyncio.Event:
        if self._stopping is None:
            self._stopping = asyncio.Event()
        return self._stopping

    def request_stop(self) -> None:
        """Wake every backoff wait so shutdown never sleeps through a retry delay."""
        self._stop_event().set()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def deliver(self, payloads: Sequence[Payload], deadline: float) -> bool:
        """Send every payload concurrently; True only if all of them were accepted.

        Instrumentation is suppressed here: this loop's thread does not inherit the
        processor's suppression, and an instrumented httpx would otherwise trace
        the exporter's own requests, producing spans that produce requests.
        """
        with suppress_instrumentation():
            results = await asyncio.gather(*(self._send(payload, deadline) for payload in payloads))
        return all(results)

    async def _send(self, payload: Payload, deadline: float) -> bool:
        try:
            return await self._send_with_retries(payload, deadline)
        except asyncio.CancelledError:
            reason = _stats.DROP_SHUTDOWN if self._stop_event().is_set() else _stats.DROP_TIMEOUT
            self._stats.dropped(reason, payload.run_count)
            raise

    async def _send_with_retries(self, payload: Payload, deadline: float) -> bool:
        content = compress(payload.body) if self._config.compression == "gzip" else payload.body
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self._give_up(payload, _stats.DROP_TIMEOUT, "the export deadline passed")
            if self._stop_event().is_set():
                return self._give_up(payload, _stats.DROP_SHUTDOWN, "the exporter is shutting down")

            self._stats.request()
            try:
                response = await self._http_client().post(self._config.traces_url, content=content, timeout=remaining)
            except _NOT_RETRYABLE_TRANSPORT_ERRORS as exc:
                return self._give_up(payload, _stats.DROP_TRANSPORT, type(exc).__name__)
            except httpx.TransportError as exc:
                kind = type(exc).__name__
                cause = f"{kind}: {exc}" if str(exc) else kind
                wait = backoff_seconds(attempt, self._rng)
            else:
                status = response.status_code
                if response.is_success:
                    self._stats.sent(payload.run_count)
                    return True
                if status == 413 and payload.run_count > 1:
                    return await self.deliver(halve(payload), deadline)
                if status == 413:
                    return self._refused(payload, _stats.DROP_TOO_LARGE, response)
                if response.is_redirect:
                    return self._refused(payload, _stats.DROP_REDIRECT, response, "redirects are not followed")
                if not is_retryable_status(status):
                    return self._refused(payload, _stats.DROP_REJECTED, response)
                cause = kind = f"HTTP {status}"
                asked = retry_after_seconds(response.headers.get("Retry-After"))
                wait = asked if asked is not None else backoff_seconds(attempt, self._rng)

            if time.monotonic() + wait >= deadline:
                return self._give_up(payload, _stats.DROP_TIMEOUT, f"{cause}; no time left to retry", kind=kind)
            self._stats.retry()
            _logger.debug("Retrying %d runs in %.2fs after %s", payload.run_count, wait, cause)
            if await self._stopped_during(wait):
                return self._give_up(
                    payload, _stats.DROP_SHUTDOWN, f"{cause}; shut down while waiting to retry", kind=kind
                )
            attempt += 1

    async def _stopped_during(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stop_event().wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return False
        return True

    def _give_up(self, payload: Payload, reason: str, cause: str, kind: str | None = None) -> bool:
        """Count the drop; warn the first time for each kind of cause, then only at debug level.

        Every drop is counted in ``stats``; a collector refusing every batch the same way must not
        fill the application's log.
        """
        self._stats.dropped(reason, payload.run_count)
        first = (reason, kind or cause) not in self._causes_logged
        self._causes_logged.add((reason, kind or cause))
        level = logging.WARNING if first else logging.DEBUG
        _logger.log(level, "Dropped %d Dynamiq runs (%s): %s", payload.run_count, reason, cause)
        return False

    def _refused(self, payload: Payload, reason: str, response: httpx.Response, why: str = "") -> bool:
        snippet = response.text[:_BODY_SNIPPET_CHARS]
        if self._config.access_key:
            snippet = snippet.replace(self._config.access_key, "***")
        if response.status_code in (401, 403) and not why:
            why = "the access key was refused; check DYNAMIQ_ACCESS_KEY"
        detail = f"HTTP {response.status_code} {snippet!r}" + (f" ({why})" if why else "")
        return self._give_up(payload, reason, detail, kind=f"HTTP {response.status_code}")
