"""``DynamiqSpanExporter``: OpenTelemetry spans in, Dynamiq runs out.

``export()`` translates and encodes on the thread that calls it, then hands
the request bodies to the exporter's private event loop and waits for the
outcome up to its deadline. With a BatchSpanProcessor that thread is the
processor's worker, and the application's threads only ever put spans in its
queue; with a SimpleSpanProcessor it is each thread that ends a span, and in
the gateway each request handler (64 for OTLP/HTTP, 32 for gRPC). So ``export()`` is safe
to call from many threads at once: each call keeps its spans, bodies and
outcome to itself, the state calls share (counters, the runtime, requests in
flight) is behind locks, and everything that touches HTTP or the spool runs
on the one loop. Bodies the service cannot take in time wait in the spool
(see ``_delivery/spool.py``) and are resent in the background, by this
process or the next one that exports to the same endpoint with the same key.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import orjson
from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_dynamiq._config import ExporterConfig, Mask, Run, load_config
from otel_dynamiq._delivery import stats as _stats
from otel_dynamiq._delivery.bodies import ENVELOPE_BYTES, Payload, RunTooLargeError, encode, encode_run, pack
from otel_dynamiq._delivery.delivery import Delivery, import_what_sending_imports
from otel_dynamiq._delivery.event_loop import ForkGuard, LoopThread, interpreter_exiting
from otel_dynamiq._delivery.metrics import publish as publish_metrics
from otel_dynamiq._delivery.spool import Spool, SpoolState, inspect_spool, spool_directory
from otel_dynamiq._delivery.stats import ExporterStats, StatsRecorder
from otel_dynamiq._process_end import flush_at_process_end
from otel_dynamiq._translation.call_nesting import ABOVE_CALLS, MARKED
from otel_dynamiq._translation.content_events import (
    LOST_EVENTS_WARNING,
    attach_for_exporter,
    content_may_be_lost,
    content_sent_as_unrouted_events,
)
from otel_dynamiq._translation.content_events import STORE as CONTENT_EVENTS
from otel_dynamiq._translation.redaction import Redactor
from otel_dynamiq._translation.run_identity import identity_problem
from otel_dynamiq._translation.span_to_run import RunDefaults, span_to_run
from otel_dynamiq.log_lines import one_line, reclaim_loggers

_logger = logging.getLogger(__name__)
T = TypeVar("T")

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

    Every setting but two has an environment variable, so
    ``opentelemetry-instrument --traces_exporter dynamiq`` can build it with
    no arguments; a keyword argument wins over its variable, and a bad value
    of either raises ``ValueError`` here, naming what to set. ``export()`` may
    be called from many threads at once (see the module docstring).
    """

    def __init__(
        self,
        *,
        access_key: str | None = None,
        endpoint: str | None = None,
        timeout: float | None = None,
        compression: str | None = None,
        headers: Mapping[str, str] | None = None,
        max_request_bytes: int | None = None,
        source_id: str | None = None,
        session_id: str | None = None,
        insecure: bool | None = None,
        redact_keys: Iterable[str] | None = None,
        spool: bool | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_max_bytes: int | None = None,
        spool_max_age: float | None = None,
        certificate_file: str | os.PathLike[str] | None = None,
        flush_on_exit: bool | None = None,
        client_certificate_file: str | os.PathLike[str] | None = None,
        client_key_file: str | os.PathLike[str] | None = None,
        client_key_password: str | None = None,
        mask: Mask | str | None = None,
        media_inline_bytes: int | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        """Read the settings (keywords over the environment over the defaults), then start in the background.

        Args:
            access_key: The Dynamiq access key, sent as ``Authorization: Bearer``
                and never logged, echoed or written to the spool. Default:
                ``DYNAMIQ_ACCESS_KEY``, else ``DYNAMIQ_SERVICE_TOKEN``. Required
                unless the endpoint is on this machine (the local collector).
            endpoint: The collector's base URL; requests go to
                ``<endpoint>/v1/traces``. Default: ``OTEL_EXPORTER_DYNAMIQ_ENDPOINT``,
                else ``https://collector.getdynamiq.ai``. Plain ``http://`` is
                refused for another host unless ``insecure``.
            timeout: Seconds one ``export()`` may take in all, retries included;
                what is still undelivered then goes to the spool. Default:
                ``OTEL_EXPORTER_DYNAMIQ_TIMEOUT``, else 10.
            compression: ``"none"`` or ``"gzip"`` (request bodies). Default:
                ``OTEL_EXPORTER_DYNAMIQ_COMPRESSION``, else ``"none"``.
            headers: Extra headers on every request; they cannot replace the
                key's ``Authorization``. Default: ``OTEL_EXPORTER_DYNAMIQ_HEADERS``
                (``k1=v1,k2=v2``), else none.
            max_request_bytes: The largest request body. Batches are split to
                fit, and a run too large alone has its inputs and outputs cut
                with a visible marker. Default:
                ``OTEL_EXPORTER_DYNAMIQ_MAX_REQUEST_BYTES``, else 4 MiB; at least 16 KiB.
            source_id: The ``source_id`` of every run. Default:
                ``OTEL_EXPORTER_DYNAMIQ_SOURCE_ID``, else a new UUID per exporter.
            session_id: The ``session_id`` of runs whose span names none
                (``session.id``, ``gen_ai.conversation.id``). No variable:
                default, a new UUID per exporter.
            insecure: True allows plain ``http://`` to another host, sending the
                key in clear text. Default: ``OTEL_EXPORTER_DYNAMIQ_INSECURE``, else False.
            redact_keys: More key names whose values are masked before runs
                leave the process, beside the built-in ones (``password``,
                ``api_key``, ``token``, ...), which always apply. Default:
                ``OTEL_EXPORTER_DYNAMIQ_REDACT_KEYS`` (comma-separated), else none.
            spool: False turns the spool off: runs still undeliverable at the
                deadline, or at shutdown, are then dropped (and counted).
                Default: ``OTEL_EXPORTER_DYNAMIQ_SPOOL``, else True.
            spool_dir: The spool's base directory, with one subdirectory per
                endpoint and key, used only if it belongs to this user and no
                one else can write it (else bodies wait in memory). Given, it
                is used as it is; the temporary directory is not looked at.
                Default: ``OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR``, else
                ``otel-dynamiq-<uid>`` in the first writable of ``$TMPDIR``,
                ``/tmp`` and ``/var/tmp`` (never the working directory); with
                none writable, bodies wait in memory only, said in one line.
            spool_max_bytes: The most the spool holds for one endpoint and key;
                the oldest bodies go first. Default:
                ``OTEL_EXPORTER_DYNAMIQ_SPOOL_MAX_BYTES``, else 100 MiB; at least 1 MiB.
            spool_max_age: Seconds a spooled body is kept before it is dropped
                as too old. Default: ``OTEL_EXPORTER_DYNAMIQ_SPOOL_MAX_AGE``, else a week.
            certificate_file: A PEM file of the certificate authorities to trust
                for an ``https://`` endpoint, instead of the default ones (which
                honour ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``). Verification is
                never turned off. Default: ``OTEL_EXPORTER_DYNAMIQ_CERTIFICATE``, else none.
            flush_on_exit: False installs nothing to flush the spans a process
                made when it ends without ``atexit``: a SIGTERM (or SIGINT) left
                at its default action, a ``multiprocessing`` child's exit. Each
                flush is bounded by ``timeout``, and the process then ends with
                the same signal and status as without it (docs/delivery.md).
                Default: ``OTEL_EXPORTER_DYNAMIQ_FLUSH_ON_EXIT``, else True.
            client_certificate_file: A PEM file with this client's certificate
                (and its chain, and the key if ``client_key_file`` is not
                given), for an endpoint that demands one (mutual TLS). Loaded
                at start-up: a wrong path, a key that does not match or an
                encrypted key without its password fails there. Default:
                ``OTEL_EXPORTER_DYNAMIQ_CLIENT_CERTIFICATE``, else none.
            client_key_file: The certificate's PEM private key. Default:
                ``OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY``, else the certificate's file.
            client_key_password: The password of an encrypted key; never
                logged or echoed. Default:
                ``OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY_PASSWORD``, else none.
            mask: Called with each run (a dict, after the built-in redaction),
                on the thread that exports (a BatchSpanProcessor's worker); it returns
                the run to send, changed as it likes, or None to drop it
                (counted as ``masked``). A run whose mask raises is dropped
                alone (``mask_failed``), never sent unmasked. A callable, or
                ``"package.module:function"``, imported at start-up. Default:
                ``OTEL_EXPORTER_DYNAMIQ_MASK``, else none.
            media_inline_bytes: Images, audio and files in messages up to this
                many bytes stay in the run as data URLs; larger ones are kept as
                a typed part (kind, MIME type, size) without their data.
                Default: ``OTEL_EXPORTER_DYNAMIQ_MEDIA_INLINE_BYTES``, else 16 KiB;
                0 keeps none inline.
            meter_provider: Where the counters of ``stats`` are published as
                OpenTelemetry metrics. No variable: default, the global
                MeterProvider (a no-op unless the application set one).
        """
        config = load_config(
            access_key=access_key,
            endpoint=endpoint,
            timeout=timeout,
            compression=compression,
            headers=headers,
            max_request_bytes=max_request_bytes,
            source_id=source_id,
            session_id=session_id,
            insecure=insecure,
            redact_keys=redact_keys,
            spool=spool,
            spool_dir=spool_dir,
            spool_max_bytes=spool_max_bytes,
            spool_max_age=spool_max_age,
            certificate_file=certificate_file,
            flush_on_exit=flush_on_exit,
            client_certificate_file=client_certificate_file,
            client_key_file=client_key_file,
            client_key_password=client_key_password,
            mask=mask,
            media_inline_bytes=media_inline_bytes,
        )
        self._start(config, meter_provider)
        if config.flush_on_exit:
            flush_at_process_end(config.timeout, weakref.WeakMethod(self._finish_at_process_end))

    @classmethod
    def _from_config(cls, config: ExporterConfig, meter_provider: MeterProvider | None = None) -> DynamiqSpanExporter:
        """An exporter for settings resolved by the caller: the way in for modes no application should pick.

        The gateway's spool refuses bodies when full instead of dropping the
        oldest (``load_config(spool_refuse_when_full=True)``): it has answered
        200 for every body there, and a sender it refuses keeps its spans. An
        application's exporter must never refuse that way, so the mode is not
        a constructor argument, and the exporter need not know who uses it.
        """
        exporter = cls.__new__(cls)
        exporter._start(config, meter_provider)
        return exporter

    def _start(self, config: ExporterConfig, meter_provider: MeterProvider | None) -> None:
        self._config: ExporterConfig = config
        self._defaults = RunDefaults(
            source_id=self._config.source_id,
            session_id=self._config.session_id,
            redactor=Redactor(self._config.redact_keys),
            media_inline_bytes=self._config.media_inline_bytes,
        )
        self._stats = StatsRecorder()
        publish_metrics(self._stats.snapshot, meter_provider)
        attach_for_exporter()
        self._content_may_be_lost = content_may_be_lost()
        """Until the first sign of content sent as events no one routes here (warned once)."""
        self._lock = threading.Lock()
        self._runtime: _Runtime | None = None
        self._inflight: set[concurrent.futures.Future[bool]] = set()
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
        return self._stats.snapshot()

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
        FAILURE when any was dropped (each counted in ``stats`` by reason).
        Concurrent calls share the one loop and HTTP client, so they cost no
        thread or connection pool each; each returns its own spans' outcome.
        """
        return self._export(spans, refused=None)

    def export_refusing(self, spans: Sequence[ReadableSpan]) -> tuple[SpanExportResult, list[str]]:
        """Export, and say why each span that can never become a run was left out (for OTLP ``partial_success``).

        Spans left out that way count as handled: when nothing else is left, the result is success, so a
        sender is not told to retry what would be refused again.
        """
        refused: list[str] = []
        return self._export(spans, refused), refused

    def _export(self, spans: Sequence[ReadableSpan], refused: list[str] | None) -> SpanExportResult:
        reasons = refused if refused is not None else []
        if self._shutdown:
            self._stats.dropped(_stats.DROP_SHUTDOWN, len(spans))
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
            payloads, masked = self._payloads(spans, reasons)
            if not payloads:
                # Runs the mask dropped on purpose are handled; so are those refused for good, where the
                # caller asked to be told (the gateway's partial_success): nothing is left to retry.
                handled = masked + (len(reasons) if refused is not None else 0)
                return SpanExportResult.FAILURE if handled < len(spans) else SpanExportResult.SUCCESS
            delivered = self._deliver(payloads, deadline, refused)
        except Exception as exc:  # export() must never raise into the processor, nor a traceback into stderr
            self._stats.dropped(_stats.DROP_UNEXPECTED, len(spans))
            _logger.error("Exporting %d spans to Dynamiq failed unexpectedly: %s", len(spans), one_line(exc))
            _logger.debug("The unexpected export failure", exc_info=True)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS if delivered else SpanExportResult.FAILURE

    def _payloads(self, spans: Sequence[ReadableSpan], refused: list[str]) -> tuple[list[Payload], int]:
        """Translate and encode each span on its own, so one bad span costs only itself.

        Also says how many runs the mask dropped on purpose. With a mask set, spans are named in logs
        and refusals by their ids only: their names may hold what the mask is there to hide.
        """
        max_run_bytes = self._config.max_request_bytes - ENVELOPE_BYTES
        parts: list[bytes] = []
        masked = 0
        content_events = CONTENT_EVENTS
        for span in spans:
            try:
                events = content_events.take(span.context.trace_id, span.context.span_id) if content_events else ()
                context = span.context
                marked = MARKED.take(context.trace_id, context.span_id)
                above = ABOVE_CALLS.take(context.trace_id, context.span_id)
                run = span_to_run(span, self._defaults, events, counted_in_parent=marked, calls_below=above)
                if self._content_may_be_lost and content_sent_as_unrouted_events(run) and self._first_sign_of_lost():
                    _logger.warning(LOST_EVENTS_WARNING)
                if self._config.mask is None:
                    parts.append(encode_run(run, max_run_bytes))
                else:
                    outcome = self._masked(self._config.mask, run, max_run_bytes)
                    if isinstance(outcome, bytes):
                        parts.append(outcome)
                    elif outcome is _MASKED_AWAY:
                        masked += 1
                    else:
                        refused.append(f"{self._span_label(span)}: the mask hook {outcome}")
            except RunTooLargeError as exc:
                self._stats.dropped(_stats.DROP_TOO_LARGE, 1)
                _logger.warning("Dropped a Dynamiq run: %s", exc)
                refused.append(f"{self._span_label(span)}: {exc}")
            except Exception as exc:
                self._stats.dropped(_stats.DROP_TRANSLATION, 1)
                label = self._span_label(span)
                refused.append(f"{label}: could not become a Dynamiq run: {one_line(exc)[:200]}")
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
            self._stats.dropped(_stats.DROP_MASKED, 1)
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
        """Count a run the mask failed on, and say so once per kind of failure (its message is never logged)."""
        self._stats.dropped(_stats.DROP_MASK_FAILED, 1)
        with self._lock:
            first = failure not in self._mask_failures_logged
            self._mask_failures_logged.add(failure)
        if first:
            _logger.warning(
                "Dropped a Dynamiq run: the mask hook %s (no message is logged: it may quote what the mask "
                "hides); runs it fails on are dropped and counted as %r (said once per kind of failure)",
                failure,
                _stats.DROP_MASK_FAILED,
            )
        return failure

    def _first_sign_of_lost(self) -> bool:
        """True for one caller only, however many threads export at once: the warning is given once."""
        with self._lock:
            first, self._content_may_be_lost = self._content_may_be_lost, False
        return first

    def _deliver(self, payloads: list[Payload], deadline: float, refused: list[str] | None) -> bool:
        runtime = self._runtime_for_this_process()
        handoff = _Handoff()

        async def handed_over() -> bool:
            if not handoff.take():
                return False  # export() gave up before the loop got here, and counted these runs
            return await runtime.delivery.deliver(payloads, deadline, refused)

        future = runtime.loop.submit(handed_over())
        with self._lock:
            self._inflight.add(future)
        try:
            return future.result(timeout=max(deadline - time.monotonic(), 0.0) + _RESULT_GRACE_SECONDS)
        except concurrent.futures.TimeoutError:
            future.cancel()  # a coroutine that began counts its runs as dropped or spooled when cancelled
            if handoff.abandon():  # one the loop never began (a starved loop) has nobody else to count them
                runs = sum(payload.run_count for payload in payloads)
                self._stats.dropped(_stats.DROP_TIMEOUT, runs)
                _logger.warning(
                    "Dropped %d Dynamiq runs (timeout): the exporter's loop did not reach them in time", runs
                )
            return False
        except concurrent.futures.CancelledError:
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
                        self._stats,
                        open_spool=functools.partial(_open_spool, self._config, self._stats),
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


class _Handoff:
    """Who counts a batch export() gave up on: the coroutine, if it began; else export() itself. Never both."""

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


def _open_spool(config: ExporterConfig, stats: StatsRecorder) -> Spool | None:
    if config.spool is None:
        return None
    # A lease outlives any one request with all its retries, so a live sender never loses its lease.
    lease_seconds = 3 * config.timeout
    return Spool(config.spool, spool_directory(config), lease_seconds, stats.dropped)


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
