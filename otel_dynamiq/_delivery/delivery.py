"""Deliver request bodies to the Dynamiq collector, retrying within one deadline.

Runs only on the exporter's private event loop, through one
``httpx.AsyncClient`` shared by every request of that loop. Knows nothing of
spans or runs beyond their count.

A body still failing for a retryable cause at its deadline, or at shutdown,
goes to the spool; while the service is out, new bodies go straight there
(the application's exports then cost no waiting at all), and one background
task resends the spool's bodies, oldest first, until the service answers again.

While the interpreter exits, a retryable failure spools the body at once
instead of waiting to retry: the next process resends it, and this one is not
held up past the one attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import logging
import os
import random
import ssl
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from urllib.parse import urlsplit

import certifi
import httpx
from opentelemetry.instrumentation.utils import suppress_instrumentation

from otel_dynamiq import environment_variables as env
from otel_dynamiq._config import ExporterConfig
from otel_dynamiq._delivery.answers import Outcome, Verdict, read_answer, read_failure
from otel_dynamiq._delivery.bodies import Payload, compress, halve, payload_of_body
from otel_dynamiq._delivery.event_loop import interpreter_exiting
from otel_dynamiq._delivery.ledger import Entry, Ledger, LedgerError
from otel_dynamiq._delivery.retry_policy import backoff_seconds, wait_before_retry
from otel_dynamiq._delivery.spool import Spool, SpooledBody, SpoolFullError, SpoolState
from otel_dynamiq._delivery.stats import DropReason
from otel_dynamiq.log_lines import one_line

_logger = logging.getLogger(__name__)

_BODY_SNIPPET_CHARS = 200
_NO_ANSWER = (httpx.TransportError, httpx.InvalidURL, httpx.DecodingError, ssl.SSLError)
"""Every way a request gets no answer; ``InvalidURL`` (a host httpx cannot encode) is not a ``TransportError``,
an answer whose body cannot be decoded (a ``Content-Encoding`` it does not hold) is no answer either, and an
``SSLError`` read after the handshake (TLS 1.3's refusal of the client's certificate) reaches us unwrapped."""
_SPOOLABLE_REASONS = frozenset({DropReason.TIMEOUT, DropReason.SHUTDOWN})
"""Retryable causes: the service may take these runs later. Final refusals are never spooled."""


class Delivery:
    """The HTTP side of one exporter on one event loop.

    ``transport`` is the seam: the exporter leaves it None (httpx's own, with
    TLS, proxies and connection pooling), and the delivery tests give an
    ``httpx.MockTransport`` that answers as they script it, with ``backoff``
    returning no wait, so retries, splits, spooling and shutdown are checked
    quickly and the same way every time. Everything above the transport is the
    code the exporter runs.
    """

    def __init__(
        self,
        config: ExporterConfig,
        ledger: Ledger,
        open_spool: Callable[[], Spool | None] = lambda: None,
        hold_forks: AbstractContextManager[None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff: Callable[[int], float] | None = None,
    ) -> None:
        self._config = config
        self._ledger = ledger
        self._transport = transport
        self._backoff = backoff or functools.partial(backoff_seconds, rng=random.Random())  # noqa: S311 - jitter
        self._client: httpx.AsyncClient | None = None
        self._stopping: asyncio.Event | None = None
        self._causes_logged: set[tuple[str, str]] = set()
        self._open_spool = open_spool
        self._hold_forks = hold_forks or contextlib.nullcontext()
        self._spool: Spool | None = None
        self._started = False
        self._service_out = False
        """The last attempt ended in a retryable failure: new bodies go straight to the spool."""
        self._resender: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Open the spool, make the client (and its TLS context), and resend what the spool holds.

        The exporter asks for this on its loop as soon as it is built, off the
        application's thread, so that the first export finds the client ready
        and nothing of it is made for the first time while the interpreter
        shuts down. Every entry point calls it too, so the order never matters.
        Idempotent.
        """
        if self._started:
            return
        self._started = True
        with self._hold_forks:  # nothing below may be half imported or half built in a forked child
            self._spool = self._open_spool()
            try:
                import_what_sending_imports()
                self._http_client()
            except Exception as exc:  # the first request meets it again, and says so in its own line
                _logger.warning("The Dynamiq exporter could not make its HTTP client: %s", one_line(exc))
        self.resume()

    def _http_client(self) -> httpx.AsyncClient:
        if self._client is None:
            try:
                verify = _tls_context(self._config)
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                # Files read at start-up can be gone or changed when a forked child makes its own client
                # (a rotated client certificate): a failure the next attempt may not meet, so the body
                # waits in the spool rather than being dropped.
                raise httpx.TransportError(f"could not make the HTTP client: {type(exc).__name__}: {exc}") from exc
            self._client = httpx.AsyncClient(
                headers=self._config.request_headers(),
                timeout=self._config.timeout,
                follow_redirects=False,
                # The environment was read at start-up (see _tls_context and _delivery/proxy.py): httpx reading
                # it again would build a transport for every proxy variable, even one no request uses.
                trust_env=False,
                verify=verify,
                proxy=self._config.proxy if self._transport is None else None,  # a proxy would bypass the seam
                transport=self._transport,
            )
        return self._client

    def _stop_event(self) -> asyncio.Event:
        if self._stopping is None:
            self._stopping = asyncio.Event()
        return self._stopping

    def request_stop(self) -> None:
        """Wake every backoff wait so shutdown never sleeps through a retry delay."""
        self._stop_event().set()

    async def aclose(self, drain_seconds: float = 0.0) -> None:
        """Let resending go on while the service takes bodies, for ``drain_seconds`` at most, then close.

        A body being resent when time runs out goes back to the spool.
        """
        resender, self._resender = self._resender, None
        if resender is not None and not resender.done():
            if drain_seconds > 0 and not self._service_out:
                await asyncio.wait({resender}, timeout=drain_seconds)
            resender.cancel()
            await asyncio.gather(resender, return_exceptions=True)
        if self._spool is not None:
            lost = self._spool.settle_memory()
            if lost:
                self._ledger.dropped_from_spool(DropReason.SHUTDOWN, lost)
                self._say_dropped(
                    lost, DropReason.SHUTDOWN, "they were waiting in memory and the disk spool could not take them"
                )
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def write_memory_to_disk(self) -> None:
        """Call on the loop when the process may end without shutting the exporter down (a signal)."""
        if self._spool is not None:
            self._spool.write_memory_to_disk()

    def spool_state(self) -> SpoolState | None:
        self.start()
        return self._spool.state() if self._spool is not None else None

    def resume(self) -> None:
        """Resend what the spool holds, in the background, until it is empty or the exporter stops.

        Call on the loop. Also picks up bodies left by processes that ended
        before delivering them.
        """
        if self._spool is None or self._stop_event().is_set():
            return
        if self._resender is None or self._resender.done():
            self._resender = asyncio.get_running_loop().create_task(self._resend_spooled())

    async def deliver(
        self,
        payloads: Sequence[Payload],
        deadline: float,
        rejected: list[str] | None = None,
        entry: Entry | None = None,
    ) -> bool:
        """Send every payload concurrently; True only if all of them were accepted, or refused alone.

        A run the service refuses alone (after halving) is dropped and counted; its refusal is added to
        ``rejected`` when given (for OTLP's ``partial_success``), and without it the delivery is not a
        success. ``entry`` holds the runs of all the payloads in the ledger (the exporter's, for its
        batch); without it one is opened here.

        Instrumentation is suppressed here: this loop's thread does not inherit the
        processor's suppression, and an instrumented httpx would otherwise trace
        the exporter's own requests, producing spans that produce requests.
        """
        self.start()
        if entry is None:
            entry = self._ledger.open(sum(payload.runs for payload in payloads))
        parts = entry.split([payload.runs for payload in payloads])
        if self._spool is not None and (self._service_out or self._stop_event().is_set()):
            return all([self._keep(payload, part, cause=None) for payload, part in zip(payloads, parts, strict=True)])
        with suppress_instrumentation():
            results = await asyncio.gather(
                *(self._send(payload, part, deadline, rejected) for payload, part in zip(payloads, parts, strict=True))
            )
        return all(results)

    async def _send(self, payload: Payload, entry: Entry, deadline: float, rejected: list[str] | None) -> bool:
        """Send one body to its outcome: whatever happens, its runs settle here, and the bodies sent beside it
        (gathered with it) go on to theirs."""
        try:
            return await self._send_with_retries(payload, entry, deadline, rejected)
        except asyncio.CancelledError:
            if entry.open_runs:  # not yet handed on to halves, which settle their own when cancelled
                reason = DropReason.SHUTDOWN if self._stop_event().is_set() else DropReason.TIMEOUT
                self._give_up(payload, entry, reason, "the request was still in flight")
            raise
        except LedgerError:
            raise
        except Exception as exc:  # a failure nobody foresaw: this body's runs only, never its neighbours'
            runs = entry.open_runs
            if runs:
                entry.dropped(DropReason.UNEXPECTED)
            _logger.error("Sending %d Dynamiq runs failed unexpectedly: %s", runs, one_line(exc))
            _logger.debug("The unexpected delivery failure", exc_info=True)
            return False

    async def _send_with_retries(
        self, payload: Payload, entry: Entry, deadline: float, rejected: list[str] | None
    ) -> bool:
        content = compress(payload.body) if self._config.compression == "gzip" else payload.body
        attempt = 0
        client_refusal: Verdict | None = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self._give_up(payload, entry, DropReason.TIMEOUT, "the export deadline passed")
            if self._stop_event().is_set():
                return self._give_up(payload, entry, DropReason.SHUTDOWN, "the exporter is shutting down")

            self._ledger.request()
            response: httpx.Response | None = None
            try:
                response = await self._http_client().post(self._config.traces_url, content=content, timeout=remaining)
            except _NO_ANSWER as exc:
                verdict = read_failure(exc)
            else:
                verdict = read_answer(response)
            if verdict.outcome is Outcome.ARRIVED:
                entry.delivered()
                return True
            if verdict.outcome is Outcome.FINAL:
                if response is None:
                    return self._give_up(payload, entry, _final_reason(verdict), verdict.cause)
                if verdict.splittable:
                    return await self._split_refused(payload, entry, response, verdict, deadline, rejected)
                return self._refused(entry, response, verdict)
            if verdict.client_refused:
                client_refusal = verdict
            elif client_refusal is not None and response is None:
                verdict = client_refusal  # the cause a person can act on, not the closed connection after it
            cause, kind = verdict.cause, verdict.kind
            wait = wait_before_retry(verdict.retry_after, self._backoff(attempt))

            if time.monotonic() + wait >= deadline:
                return self._give_up(payload, entry, DropReason.TIMEOUT, f"{cause}; no time left to retry", kind=kind)
            if self._spool is not None and interpreter_exiting():
                return self._give_up(payload, entry, DropReason.TIMEOUT, f"{cause}; the process is exiting", kind=kind)
            self._ledger.retry()
            _logger.debug("Retrying %d runs in %.2fs after %s", payload.runs, wait, cause)
            if await self._stopped_during(wait):
                return self._give_up(
                    payload, entry, DropReason.SHUTDOWN, f"{cause}; shut down while waiting to retry", kind=kind
                )
            attempt += 1

    async def _split_refused(
        self,
        payload: Payload,
        entry: Entry,
        response: httpx.Response,
        verdict: Verdict,
        deadline: float,
        rejected: list[str] | None,
    ) -> bool:
        """A body refused for what it holds is halved until the runs refused are alone, so the others arrive.

        A run refused alone is dropped (counted, and logged). Told where to say so (``rejected``), the
        delivery still succeeds: the service will never take the run, and failing the export for it would
        have its sender (the gateway's) retry every run beside it forever.
        """
        if payload.runs > 1:
            return await self.deliver(halve(payload), deadline, rejected, entry)
        self._refused(entry, response, verdict)
        if rejected is None:
            return False
        rejected.append(f"Dynamiq refused its run: {self._refusal(response, verdict.cause)}")
        return True

    async def _stopped_during(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stop_event().wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return False
        return True

    def _log_once(self, reason: str, kind: str, message: str, *args: object) -> None:
        """Warn the first time for each kind of cause, then only at debug level.

        Every outcome is counted in ``stats``; a collector refusing every batch the same way must not
        fill the application's log.
        """
        first = (reason, kind) not in self._causes_logged
        self._causes_logged.add((reason, kind))
        _logger.log(logging.WARNING if first else logging.DEBUG, message, *args)

    def _give_up(self, payload: Payload, entry: Entry, reason: DropReason, cause: str, kind: str | None = None) -> bool:
        """Spool a body the service may still take later; drop (and count) what it never will."""
        if reason in _SPOOLABLE_REASONS and self._spool is not None:
            return self._keep(payload, entry, cause, kind)
        return self._drop(entry, reason, cause, kind)

    def _drop(self, entry: Entry, reason: DropReason, cause: str, kind: str | None = None) -> bool:
        runs = entry.open_runs
        entry.dropped(reason)
        self._say_dropped(runs, reason, cause, kind)
        return False

    def _say_dropped(self, runs: int, reason: DropReason, cause: str, kind: str | None = None) -> None:
        self._log_once(reason, kind or cause, "Dropped %d Dynamiq runs (%s): %s", runs, reason, cause)

    def _keep(self, payload: Payload, entry: Entry, cause: str | None, kind: str | None = None) -> bool:
        """Spool the body; ``cause`` None means the service is already known to be out (said once already)."""
        assert self._spool is not None
        try:
            self._spool.put(payload.body, payload.runs)
        except (SpoolFullError, OSError) as exc:  # only a spool that refuses when full raises: nothing is lost,
            entry.returned()  # the export fails and whoever sent the spans keeps them
            self._log_once("returned", type(exc).__name__, "The spool did not take %d runs: %s", payload.runs, exc)
            self.resume()
            return False
        entry.spooled()
        self._service_out = True
        if cause is None:
            _logger.debug("Spooled %d runs while the Dynamiq service is out", payload.runs)
        else:
            self._log_once(
                "spooled",
                kind or cause,
                "Dynamiq did not take %d runs in time (%s); they wait in the spool and are resent when it answers",
                payload.runs,
                cause,
            )
        self.resume()
        return True

    def _refusal(self, response: httpx.Response, cause: str = "") -> str:
        text = response.text
        if self._config.access_key:  # mask first: a key that spans the cut would otherwise show its start
            text = text.replace(self._config.access_key, "***")
        snippet = text[:_BODY_SNIPPET_CHARS]
        if response.status_code in (401, 403) and not cause:
            cause = f"the access key was refused; check {env.DYNAMIQ_ACCESS_KEY}"
        return f"HTTP {response.status_code} {snippet!r}" + (f" ({cause})" if cause else "")

    def _refused(self, entry: Entry, response: httpx.Response, verdict: Verdict) -> bool:
        return self._drop(entry, _final_reason(verdict), self._refusal(response, verdict.cause), kind=verdict.kind)

    async def _resend_spooled(self) -> None:
        """One body at a time, oldest first; back off while the service still fails.

        After shutdown is requested it goes on only while bodies are taken: the
        first failure ends it (``aclose`` bounds how long it may go on).
        """
        assert self._spool is not None
        attempt = 0
        with suppress_instrumentation():
            while True:
                item = self._spool.claim()
                if item is None:
                    return
                try:
                    finished, asked = await self._resend(item)
                except BaseException:
                    self._spool.release(item)
                    raise
                if finished:
                    attempt = 0
                    continue
                self._service_out = True
                if self._stop_event().is_set():
                    return
                wait = wait_before_retry(asked, self._backoff(attempt))
                attempt += 1
                if await self._stopped_during(wait):
                    return

    async def _resend(self, item: SpooledBody) -> tuple[bool, float | None]:
        """Send one spooled body once: (True, _) when it left the spool, else (False, Retry-After)."""
        assert self._spool is not None
        content = compress(item.body) if self._config.compression == "gzip" else item.body
        self._ledger.request()
        response: httpx.Response | None = None
        try:
            response = await self._http_client().post(self._config.traces_url, content=content)
        except _NO_ANSWER as exc:
            verdict = read_failure(exc)
        else:
            verdict = read_answer(response)
        if verdict.outcome is Outcome.ARRIVED:
            self._spool.finish(item)
            self._ledger.resent(item.runs)
            self._service_out = False
            _logger.debug("Resent %d spooled Dynamiq runs", item.runs)
            return True, None
        if verdict.outcome is Outcome.RETRY:
            self._spool.release(item)
            return False, verdict.retry_after
        if response is None:
            self._spool.finish(item)
            self._ledger.dropped_from_spool(_final_reason(verdict), item.runs)
            self._say_dropped(item.runs, _final_reason(verdict), verdict.cause)
            return True, None
        if verdict.splittable and item.runs > 1 and self._split(item):
            return True, None
        self._spool.finish(item)
        # Every sender was told these runs were kept: losing them is never said only once.
        self._ledger.dropped_from_spool(_final_reason(verdict), item.runs)
        _logger.warning(
            "Dropped %d spooled Dynamiq runs (%s): %s",
            item.runs,
            _final_reason(verdict),
            self._refusal(response, verdict.cause),
        )
        return True, None

    def _split(self, item: SpooledBody) -> bool:
        """Put the body's halves back in its place: the runs the service refuses are found by halving, the rest go."""
        assert self._spool is not None
        try:
            halves = halve(payload_of_body(item.body))
        except (ValueError, KeyError, TypeError):  # not a body this package wrote: it cannot be split
            return False
        kept = 0
        for half in halves:
            try:
                self._spool.put(half.body, half.runs)
            except (SpoolFullError, OSError) as exc:
                lost = item.runs - kept
                self._ledger.dropped_from_spool(DropReason.REJECTED, lost)
                _logger.warning(
                    "Dropped %d spooled Dynamiq runs: their body was refused and could not be split: %s", lost, exc
                )
                break
            kept += half.runs
        self._spool.finish(item)
        return True


def _final_reason(verdict: Verdict) -> DropReason:
    """Every final verdict names why its runs are dropped (``answers.py`` sets it)."""
    assert verdict.reason is not None, verdict
    return verdict.reason


def import_what_sending_imports() -> None:
    """httpx imports httpcore, and anyio its asyncio backend, on first use: here, under the fork guard, instead."""
    import httpcore  # noqa: F401

    with contextlib.suppress(ImportError):  # anyio's own name for it; a later anyio that moves it imports on use
        importlib.import_module("anyio._backends._asyncio")


def _tls_context(config: ExporterConfig) -> ssl.SSLContext:
    """Verification is never turned off: a certificate file narrows trust to its CAs, else httpx's defaults.

    httpx's defaults are followed by hand, since the client does not read the environment itself:
    ``SSL_CERT_FILE``, else ``SSL_CERT_DIR``, else certifi's bundle. A plain http:// endpoint never
    uses the context (an https:// proxy has its own), so it gets one that trusts nothing rather than
    spending some 20 ms of CPU loading certifi's bundle for no request. A client certificate (mutual
    TLS) is loaded into whichever context the endpoint gets.
    """
    context = _trust(config)
    if config.client_certificate is not None:
        config.client_certificate.load_into(context)
    return context


def _trust(config: ExporterConfig) -> ssl.SSLContext:
    if config.certificate_file is not None:
        return ssl.create_default_context(cafile=str(config.certificate_file))
    if urlsplit(config.endpoint).scheme != "https":
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, and trusts no one
    cert_file, cert_dir = os.environ.get(env.SSL_CERT_FILE), os.environ.get(env.SSL_CERT_DIR)
    if cert_file:
        return ssl.create_default_context(cafile=cert_file)
    if cert_dir:
        return ssl.create_default_context(capath=cert_dir)
    return ssl.create_default_context(cafile=certifi.where())
