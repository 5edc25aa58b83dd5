"""``DynamiqSpanExporter``: OpenTelemetry spans in, Dynamiq runs out.

``export()`` translates and encodes on the thread that calls it, then hands
the request bodies to the exporter's private event loop and waits for the
outcome up to its deadline. With a BatchSpanProcessor that thread is the
processor's worker, and the application's threads only ever put spans in its
queue; with a SimpleSpanProcessor it is each thread that ends a span, and in
a server built on the exporter (the gateway) each of its request handlers. So
``export()`` is safe to call from many threads at once: each call keeps its
spans, bodies and outcome to itself, the state calls share (the ledger, the
runtime, requests in flight) is behind locks, and everything that touches
HTTP or the spool runs on the one loop. Every batch is an entry in the ledger
(``_delivery/ledger.py``), which counts each run's outcome exactly once.
Bodies the service cannot take in time wait in the spool (see
``_delivery/spool.py``) and are resent in the background, by this process or
the next one that exports to the same endpoint with the same key.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import orjson
from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_dynamiq._config import SETTINGS, ExporterConfig, ExporterOptions, Mask, Run, read_config
from otel_dynamiq._delivery.bodies import ENVELOPE_BYTES, Payload, RunTooLargeError, encode, encode_run, pack
from otel_dynamiq._delivery.delivery import Delivery, import_what_sending_imports
from otel_dynamiq._delivery.event_loop import ForkGuard, LoopThread, interpreter_exiting
from otel_dynamiq._delivery.ledger import Entry, Ledger, LedgerError
from otel_dynamiq._delivery.metrics import publish as publish_metrics
from otel_dynamiq._delivery.spool import Spool, SpoolState, inspect_spool, spool_directory
from otel_dynamiq._delivery.stats import DropReason, ExporterStats
from otel_dynamiq._process_end import flush_at_process_end
from otel_dynamiq._settings import with_arguments
from otel_dynamiq._translation.redaction import Redactor
from otel_dynamiq._translation.run_identity import identity_problem
from otel_dynamiq._translation.span_to_run import RunDefaults, span_to_run
from otel_dynamiq.log_lines import one_line, reclaim_loggers
from otel_dynamiq.processors import SHARED_NOTES, SpanNotes
from otel_dynamiq.processors._content_events import (
    LOST_EVENTS_WARNING,
    attach_for_exporter,
    content_may_be_lost,
    content_sent_as_unrouted_events,
)

if sys.version_info >= (3, 11):
    from typing import Self, Unpack
else:  # pragma: no cover - the oldest Python supported
    from typing_extensions import Self, Unpack

_logger = logging.getLogger(__name__)
T = TypeVar("T")

_GIVEN_CONFIG: contextvars.ContextVar[tuple[object, ExporterConfig] | None] = contextvars.ContextVar(
    "otel_dynamiq_given_config", default=None
)
"""The exporter ``from_config`` is building and its config, handed to that exporter's ``__init__`` around the
constructor's signature: the keywords are the settings' alone, and the one way in stays ``__init__``. Tied to
the instance, so another exporter a subclass's ``__init__`` builds first reads its own settings as usual."""

_RESULT_GRACE_SECONDS = 1.0
"""How long past the deadline ``export()`` waits for the loop to report, before cancelling."""
_DEFAULT_TIMEOUT_MILLIS = 30_000
_MASKED_AWAY = object()
"""What ``_masked`` returns for a run the user's mask dropped on purpose."""
_SPOOL_MARGIN_SECONDS = 0.5
"""At a process's end, how much sooner than its timeout an export gives up, to spool what is left in time."""


@dataclass
class _Runtime:
    """The loop and the HTTP client of one process; rebuilt in a forked child."""

    pid: int
    loop: LoopThread
    delivery: Delivery


class DynamiqSpanExporter(SpanExporter):
    """Export spans to Dynamiq as runs, without the application waiting on the network.

    Every setting but three has an environment variable, so
    ``opentelemetry-instrument --traces_exporter dynamiq`` can build it with
    no arguments; a keyword argument wins over its variable, and a bad value
    of either raises ``ValueError`` here, naming what to set. ``export()`` may
    be called from many threads at once (see the module docstring).
    """

    def __init__(
        self,
        *,
        meter_provider: MeterProvider | None = None,
        span_notes: SpanNotes | None = None,
        **options: Unpack[ExporterOptions],
    ) -> None:
        """Read the settings (keywords over the environment over the defaults), then start in the background."""
        given = _GIVEN_CONFIG.get()
        if given is not None and given[0] is self:
            config = given[1]
            if options:
                raise TypeError(f"from_config() takes the settings from its config, not from {', '.join(options)}")
        else:
            config = read_config(options, caller=type(self).__name__)
        self._start(config, meter_provider, span_notes)
        if config.flush_on_exit:
            flush_at_process_end(config.timeout, weakref.WeakMethod(self._finish_at_process_end))

    if __init__.__doc__ is not None:  # None under python -OO
        __init__.__doc__ = with_arguments(
            __init__.__doc__,
            SETTINGS,
            [
                (
                    "meter_provider",
                    "Where the counters of ``stats`` are published as OpenTelemetry metrics. No variable: "
                    "default, the global MeterProvider (a no-op unless the application set one).",
                ),
                (
                    "span_notes",
                    "Where this exporter finds what ``NestedCallMarker`` and ``GenAIContentEventProcessor`` "
                    "noted about its spans: give them the same ``otel_dynamiq.processors.SpanNotes``. No "
                    "variable: default, ``otel_dynamiq.processors.SHARED_NOTES``, which those processors use "
                    "too when given none.",
                ),
            ],
        )

    @classmethod
    def from_config(
        cls,
        config: ExporterConfig,
        meter_provider: MeterProvider | None = None,
        span_notes: SpanNotes | None = None,
    ) -> Self:
        """An exporter for settings already resolved, built by the constructor like any other.

        ``config`` is used as it is, unchecked: another exporter's ``config``, changed with
        ``dataclasses.replace``, or one ``load_config`` resolved with a mode no keyword offers (the gateway's
        spool refuses bodies when full instead of dropping the oldest). Its ``flush_on_exit`` is honoured:
        the gateway's is false, as it ends its own process.
        """
        exporter = cls.__new__(cls)
        token = _GIVEN_CONFIG.set((exporter, config))
        try:
            exporter.__init__(meter_provider=meter_provider, span_notes=span_notes)  # type: ignore[misc]
        finally:
            _GIVEN_CONFIG.reset(token)
        return exporter

    def _start(
        self, config: ExporterConfig, meter_provider: MeterProvider | None, span_notes: SpanNotes | None = None
    ) -> None:
        self._config: ExporterConfig = config
        self._defaults = RunDefaults(
            source_id=self._config.source_id,
            session_id=self._config.session_id,
            redactor=Redactor(self._config.redact_keys),
            media_inline_bytes=self._config.media_inline_bytes,
        )
        self._ledger = Ledger()
        publish_metrics(self._ledger.snapshot, meter_provider)
        self._notes = SHARED_NOTES if span_notes is None else span_notes
        attach_for_exporter(self._notes)
        self._content_may_be_lost = content_may_be_lost()
        """Until the first sign of content sent as events no one routes here (warned once)."""
        self._lock = threading.Lock()
        self._runtime: _Runtime | None = None
        self._inflight: set[concurrent.futures.Future[bool]] = set()
        self._exports_running = 0
        """Calls of ``export()`` under way: while any is, the ledger may rightly hold open runs."""
        self._shutdown = False
        self._loggers_reclaimed = False
        self._exit_began: float | None = None
        """When the first export after the interpreter began to shut down started: exit is bounded from there."""
        self._mask_failures_logged: set[str] = set()
        """The kinds of mask failure already logged (an exception type, a wrong result): one line each."""
        self._fork_guard = ForkGuard()
        _follow_forks(self)
        # The HTTP stack's modules (httpcore, anyio's asyncio backend: some 45 ms) are imported here, on the
        # application's thread: on the loop thread they would land on the first flush whenever it comes
        # soon after start-up (a serverless function's first invocation), as the GIL lets one thread
        # import at a time. Building the exporter then costs what the stock OTLP exporter's does.
        with self._fork_guard:
            import_what_sending_imports()
        # Started now, not at the first export: in a short-lived process that export happens while the
        # interpreter shuts down, when no thread may start (3.12) and no executor takes work.
        self._runtime_for_this_process()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint={self._config.endpoint!r})"

    @property
    def config(self) -> ExporterConfig:
        return self._config

    @property
    def stats(self) -> ExporterStats:
        """Runs sent, requests, retries and runs dropped by reason, since construction."""
        return self._ledger.snapshot()

    def spool_state(self, *, from_disk: bool = False) -> SpoolState | None:
        """What the spool holds now; None when it is turned off.

        By default the delivery loop answers, so bodies it holds in memory (a disk that failed)
        count too. ``from_disk=True`` reads the spool's directory on the calling thread instead: what a
        monitor asking every second wants, since it neither waits for nor delays delivery.
        """
        if self._config.spool is None:
            return None
        if self._shutdown or from_disk:  # the loop is gone, or not asked: what is on disk is still there
            return inspect_spool(self._config)
        runtime = self._runtime_for_this_process()
        return runtime.loop.submit(_call(runtime.delivery.spool_state)).result(timeout=self._config.timeout)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Deliver the spans as runs within ``timeout``; never raises, and is safe from many threads at once.

        SUCCESS when every run was accepted, or kept in the spool for later;
        FAILURE when any was dropped on its way (each counted in ``stats`` by
        reason). A span that cannot be translated is counted too, but fails the
        export only when nothing else was left to send (retrying could not
        help it); runs the mask drops on purpose never fail it.
        Concurrent calls share the one loop and HTTP client, so they cost no
        thread or connection pool each; each returns its own spans' outcome.
        """
        return self._export(spans, rejected=None)

    def export_rejecting(self, spans: Sequence[ReadableSpan]) -> tuple[SpanExportResult, list[str]]:
        """Export, and say why each span that can never become a run was left out (for OTLP ``partial_success``).

        Spans left out that way count as handled: when nothing else is left, the result is success, so a
        sender is not told to retry what would be refused again.
        """
        rejected: list[str] = []
        return self._export(spans, rejected), rejected

    def _export(self, spans: Sequence[ReadableSpan], rejected: list[str] | None) -> SpanExportResult:
        if not isinstance(spans, Sequence):  # a generator from a processor of someone else's: read it once
            spans = list(spans)
        with self._lock:  # with the count, so shutdown's check never sees an entry without its export
            self._exports_running += 1
            batch = self._ledger.open(len(spans))
        try:
            return self._export_batch(spans, batch, rejected)
        finally:
            with self._lock:
                self._exports_running -= 1

    def _export_batch(
        self, spans: Sequence[ReadableSpan], batch: Entry, rejected: list[str] | None
    ) -> SpanExportResult:
        reasons = rejected if rejected is not None else []
        if self._shutdown:
            batch.dropped(DropReason.SHUTDOWN)
            return SpanExportResult.FAILURE
        now = time.monotonic()
        deadline = now + self._config.timeout
        if interpreter_exiting():
            # What waits on this export at a process's end (a signal's flush) waits one timeout at most:
            # give up a little sooner, so what the service has not taken is in the spool by then.
            deadline -= min(_SPOOL_MARGIN_SECONDS, self._config.timeout / 4)
            if self._exit_began is None:
                with self._lock:  # the first of concurrent exports at exit sets it
                    if self._exit_began is None:
                        self._exit_began = now
        if not self._loggers_reclaimed:  # by now the application has imported Dynamiq, if it uses it
            self._loggers_reclaimed = True
            reclaim_loggers()
        try:
            payloads, masked = self._payloads(spans, batch, reasons)
            if not payloads:
                # Runs the mask dropped on purpose are handled; so are those refused for good, where the
                # caller asked to be told (the gateway's partial_success): nothing is left to retry.
                handled = masked + (len(reasons) if rejected is not None else 0)
                return SpanExportResult.FAILURE if handled < len(spans) else SpanExportResult.SUCCESS
            delivered = self._deliver(payloads, batch, deadline, rejected)
        except LedgerError:
            raise  # a run counted twice: with the ledger checked (the tests), a bug that must not be hidden
        except Exception as exc:  # export() must never raise into the processor, nor a traceback into stderr
            batch.drop_what_is_open(DropReason.UNEXPECTED)
            _logger.error("Exporting %d spans to Dynamiq failed unexpectedly: %s", len(spans), one_line(exc))
            _logger.debug("The unexpected export failure", exc_info=True)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS if delivered else SpanExportResult.FAILURE

    def _payloads(self, spans: Sequence[ReadableSpan], batch: Entry, rejected: list[str]) -> tuple[list[Payload], int]:
        """Translate and encode each span on its own, so one bad span costs only itself (dropped from ``batch``).

        Also says how many runs the mask dropped on purpose. With a mask set, spans are named in logs
        and refusals by their ids only: their names may hold what the mask is there to hide.
        """
        max_run_bytes = self._config.max_request_bytes - ENVELOPE_BYTES
        parts: list[bytes] = []
        masked = 0
        take_notes = self._notes.take
        for span in spans:
            try:
                context = span.context
                notes = take_notes(context.trace_id, context.span_id)
                run = span_to_run(
                    span,
                    self._defaults,
                    notes.content_events,
                    counted_in_parent=notes.counted_in_parent,
                    calls_below=notes.calls_below,
                )
                if self._content_may_be_lost and content_sent_as_unrouted_events(run) and self._first_sign_of_lost():
                    _logger.warning(LOST_EVENTS_WARNING)
                if self._config.mask is None:
                    parts.append(encode_run(run, max_run_bytes))
                else:
                    outcome = self._masked(self._config.mask, run, max_run_bytes)
                    if isinstance(outcome, bytes):
                        parts.append(outcome)
                    elif outcome is _MASKED_AWAY:
                        batch.dropped(DropReason.MASKED, 1)
                        masked += 1
                    else:
                        batch.dropped(DropReason.MASK_FAILED, 1)
                        rejected.append(f"{self._span_label(span)}: the mask hook {outcome}")
            except RunTooLargeError as exc:
                batch.dropped(DropReason.TOO_LARGE, 1)
                _logger.warning("Dropped a Dynamiq run: %s", exc)
                rejected.append(f"{self._span_label(span)}: {exc}")
            except Exception as exc:
                batch.dropped(DropReason.TRANSLATION, 1)
                label = self._span_label(span)
                rejected.append(f"{label}: could not become a Dynamiq run: {one_line(exc)[:200]}")
                _logger.error("Could not translate %s into a Dynamiq run: %s", label, one_line(exc))
                _logger.debug("The translation failure", exc_info=True)
        return pack(parts, self._config.max_request_bytes), masked

    def _span_label(self, span: ReadableSpan) -> str:
        if self._config.mask is not None:
            return f"span {span.context.span_id:016x}"
        return f"span {span.name[:60]!r}"

    def _masked(self, mask: Mask, run: Run, max_run_bytes: int) -> bytes | object | str:
        """The encoded run the user's mask returns; ``_MASKED_AWAY`` when it drops the run on purpose, or the
        name of what it raised when it fails (each counted apart).

        The mask gets the run as the service would: decoded from its JSON, so every container is its own
        (the run's resource and scope are shared with other runs until then) and every value a JSON one.
        The whole run goes in (input, output, metadata and all), so what the mask does not let through
        cannot leave by another field. A run whose mask fails is dropped: sending it unmasked could leak
        what the mask was there to hide; and nothing the mask failed on is logged, since its exception
        may quote it. A run too large is cut or refused as any run is.
        """
        try:
            result = mask(orjson.loads(encode(run)))
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt) and threading.current_thread() is threading.main_thread():
                raise  # a real Ctrl-C that arrived while the mask ran (a SimpleSpanProcessor's export)
            return self._mask_failed(f"raised {type(exc).__name__}")
        if result is None:
            return _MASKED_AWAY
        wrong = identity_problem(result)
        if wrong is not None:
            return self._mask_failed(f"returned {wrong}")
        try:
            return encode_run(result, max_run_bytes)
        except RunTooLargeError:
            raise
        except Exception as exc:
            return self._mask_failed(f"returned a run that cannot be encoded ({type(exc).__name__})")

    def _mask_failed(self, failure: str) -> str:
        """Say once per kind of failure that the mask failed on a run (its message is never logged)."""
        with self._lock:
            first = failure not in self._mask_failures_logged
            self._mask_failures_logged.add(failure)
        if first:
            _logger.warning(
                "Dropped a Dynamiq run: the mask hook %s (no message is logged: it may quote what the mask "
                "hides); runs it fails on are dropped and counted as %r (said once per kind of failure)",
                failure,
                DropReason.MASK_FAILED.value,
            )
        return failure

    def _first_sign_of_lost(self) -> bool:
        """True for one caller only, however many threads export at once: the warning is given once."""
        with self._lock:
            first, self._content_may_be_lost = self._content_may_be_lost, False
        return first

    def _deliver(self, payloads: list[Payload], batch: Entry, deadline: float, rejected: list[str] | None) -> bool:
        runtime = self._runtime_for_this_process()
        handoff = _Handoff()

        async def handed_over() -> bool:
            if not handoff.take():
                return False  # export() gave up before the loop got here, and settled these runs
            return await runtime.delivery.deliver(payloads, deadline, rejected, batch)

        coroutine = handed_over()
        try:
            future = runtime.loop.submit(coroutine)
        except RuntimeError:  # the loop closed under this export: shutdown() ran while it translated
            coroutine.close()
            if handoff.abandon():
                batch.drop_what_is_open(DropReason.SHUTDOWN)
            return False
        with self._lock:
            self._inflight.add(future)
        try:
            return future.result(timeout=max(deadline - time.monotonic(), 0.0) + _RESULT_GRACE_SECONDS)
        except concurrent.futures.TimeoutError:
            future.cancel()  # a coroutine that began counts its runs as dropped or spooled when cancelled
            if handoff.abandon():  # one the loop never began (a starved loop) has nobody else to settle them
                runs = batch.drop_what_is_open(DropReason.TIMEOUT)
                _logger.warning(
                    "Dropped %d Dynamiq runs (timeout): the exporter's loop did not reach them in time", runs
                )
            return False
        except concurrent.futures.CancelledError:
            if handoff.abandon():  # the loop stopped (a shutdown) before it began: nobody else settles them
                batch.drop_what_is_open(DropReason.SHUTDOWN)
            return False
        finally:
            with self._lock:
                self._inflight.discard(future)

    def _runtime_for_this_process(self) -> _Runtime:
        with self._lock:
            runtime = self._runtime
            if runtime is None or runtime.pid != os.getpid():
                runtime = _Runtime(
                    pid=os.getpid(),
                    loop=LoopThread(name=f"otel-dynamiq-exporter-{id(self):x}"),
                    delivery=Delivery(
                        self._config,
                        self._ledger,
                        open_spool=functools.partial(_open_spool, self._config, self._ledger),
                        hold_forks=self._fork_guard,
                    ),
                )
                self._runtime = runtime
                # An exporter dropped without shutdown() takes its threads with it; nothing here refers to it.
                weakref.finalize(self, runtime.loop.stop, 0.0).atexit = False
                # The spool, the client and its TLS context are made on the loop at once, off the
                # application's thread and before the first export needs them, and what an earlier
                # process left in the spool is resent.
                runtime.loop.call_soon(runtime.delivery.start)
            return runtime

    def _after_fork_in_child(self) -> None:
        """The parent's threads do not exist here, and its sockets are the parent's: start anew, now."""
        self._fork_guard.after_fork_in_child()
        self._lock = threading.Lock()
        self._ledger.after_fork_in_child()
        self._exports_running = 0
        self._runtime = None
        self._inflight = set()
        if not self._shutdown:
            self._runtime_for_this_process()

    def force_flush(self, timeout_millis: int = _DEFAULT_TIMEOUT_MILLIS) -> bool:
        """Wait for the exports already in progress; True at once when there are none. Sends nothing.

        ``export()`` holds no queue of its own: finished spans wait in the span
        processor's queue, so this cannot send them. ``provider.force_flush()``
        (or ``otel_dynamiq.force_flush()`` for the global provider) does: each processor
        hands its queue to ``export()`` and waits. That is
        what a serverless handler must call before returning; this only lets a
        caller that already handed spans over wait for their outcome.
        """
        with self._lock:
            pending = set(self._inflight)
        if not pending:
            return True
        _, not_done = concurrent.futures.wait(pending, timeout=timeout_millis / 1000)
        return not not_done

    def _finish_at_process_end(self, timeout: float) -> None:
        """Once the processors are flushed at a process's end: exports in flight finish (a SimpleSpanProcessor's
        are not waited for by anyone else), and bodies held in memory go to disk if it takes them now."""
        deadline = time.monotonic() + timeout
        self.force_flush(int(timeout * 1000))
        with self._lock:
            runtime = self._runtime if self._runtime is not None and self._runtime.pid == os.getpid() else None
        if runtime is None or self._shutdown:
            return
        writing = runtime.loop.submit(_call(runtime.delivery.write_memory_to_disk))
        try:
            writing.result(timeout=max(deadline - time.monotonic(), 0.0))
        except Exception:  # the loop is gone or too slow: the process ends all the same
            writing.cancel()

    def shutdown(self, timeout_millis: float = _DEFAULT_TIMEOUT_MILLIS) -> None:
        """Stop retrying at once, give requests in flight until the timeout, then close.

        Idempotent. Later ``export()`` calls return FAILURE without raising.
        """
        deadline = time.monotonic() + timeout_millis / 1000
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
            runtime = self._runtime if self._runtime is not None and self._runtime.pid == os.getpid() else None
            pending = set(self._inflight)
        if runtime is None:
            return
        runtime.loop.call_soon(runtime.delivery.request_stop)
        if pending:
            _, not_done = concurrent.futures.wait(pending, timeout=max(deadline - time.monotonic(), 0.0))
            for future in not_done:
                future.cancel()
        # Resending what the spool holds goes on while the service takes it, for up to one export timeout;
        # at exit, one timeout from the first export made then, so exit is held one timeout in all.
        since = self._exit_began if self._exit_began is not None else time.monotonic()
        drain_seconds = min(deadline, since + self._config.timeout) - time.monotonic()
        closing = runtime.loop.submit(runtime.delivery.aclose(max(drain_seconds, 0.0)))
        try:
            closing.result(timeout=max(deadline - time.monotonic(), 0.0))
        except Exception:  # a client that cannot close in time is abandoned with its loop
            closing.cancel()
        if not runtime.loop.stop(max(deadline - time.monotonic(), 0.0)):
            # A daemon thread: it cannot hold the process up, and what it still held is counted.
            _logger.debug("The Dynamiq exporter's loop thread was left to end on its own after the shutdown timeout")
        else:
            with self._lock:  # the loop is gone: with no export under way, nothing may be open
                if not self._exports_running:
                    self._ledger.check_all_settled()


class _Handoff:
    """Who settles a batch export() gave up on: the coroutine, if it began; else export() itself. Never both."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: str | None = None

    def take(self) -> bool:
        with self._lock:
            if self._state is None:
                self._state = "taken"
            return self._state == "taken"

    def abandon(self) -> bool:
        with self._lock:
            if self._state is None:
                self._state = "abandoned"
            return self._state == "abandoned"


async def _call(function: Callable[[], T]) -> T:
    """Run a plain function on the exporter's loop, where the spool and the delivery live."""
    return function()


def _open_spool(config: ExporterConfig, ledger: Ledger) -> Spool | None:
    if config.spool is None:
        return None
    # A lease outlives any one request with all its retries, so a live sender never loses its lease.
    lease_seconds = 3 * config.timeout
    return Spool(config.spool, spool_directory(config), lease_seconds, ledger.dropped_from_spool)


def _follow_forks(exporter: DynamiqSpanExporter) -> None:
    """Hold forks while the exporter readies itself, and start anew in a child; without keeping it alive."""
    reference = weakref.ref(exporter)

    def before() -> None:
        alive = reference()
        if alive is not None:
            alive._fork_guard.before_fork()

    def after_in_parent() -> None:
        alive = reference()
        if alive is not None:
            alive._fork_guard.after_fork_in_parent()

    def after_in_child() -> None:
        alive = reference()
        if alive is not None:
            alive._after_fork_in_child()

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(before=before, after_in_parent=after_in_parent, after_in_child=after_in_child)
