"""Deliver what a process made, however it ends: signals, multiprocessing children, serverless handlers.

A BatchSpanProcessor holds the last spans for up to its schedule delay, and
the SDK flushes them from ``atexit``. Many processes never get there:

- a ``multiprocessing`` child ends with ``os._exit`` right after its target
  (fork, forkserver and spawn alike), so ``atexit`` never runs in a pool
  worker, a ``ProcessPoolExecutor`` worker or a ``Process``;
- Python leaves SIGTERM at the operating system's default, which ends the
  process on the spot: how Kubernetes, Docker, systemd, ``Pool.terminate()``
  and server supervisors stop a process;
- a server that handles SIGTERM itself (uvicorn) puts back the handler it
  found and raises the signal again once it has shut down gracefully.

So the exporter, when it is built, arms two standard mechanisms, each at most
once per process and each bounded by the exporter's timeout:

- ``multiprocessing``'s own finalizers, which a child runs just before its
  ``os._exit``: armed in every child as it starts (``register_after_fork``)
  and at once when the exporter is built inside a child;
- a handler for SIGTERM (and SIGINT, when it too is left at the default),
  installed only from the main thread and only where no one else handles the
  signal. It flushes, puts the default back and raises the same signal again,
  so the exit status, and what a supervisor sees, are what they would have
  been without it. An application or server that installs its own handler
  keeps it; one that later puts ours back (uvicorn does) gets the flush too.
  A process the signal does not end (PID 1 in a container ignores SIGTERM
  unless it handles it) goes on exporting each span within moments of its end
  until the SIGKILL that follows. A signal that arrives while the process is
  already exiting lets that exit, and its flush, finish. The handler may have
  interrupted code holding any lock, so it takes none and starts no thread:
  the flush runs on a thread started with the handler (``_signal_flusher``).

What is flushed is the global tracer provider's processors, where the spans
wait, not only this exporter; then the exporter spools at once whatever the
service does not take on the first attempt, since the process will not be
there to retry. ``OTEL_EXPORTER_DYNAMIQ_FLUSH_ON_EXIT=false`` (or
``flush_on_exit=False``) installs none of it. A process that calls
``os._exit`` itself is the one end no hook can see: call
``otel_dynamiq.force_flush()`` just before it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

from otel_dynamiq._delivery.event_loop import interpreter_shutting_down, mark_process_ending
from otel_dynamiq._delivery.signal_free_threads import start_signal_free
from otel_dynamiq._main_thread_wakeup import MainThreadWakeup
from otel_dynamiq._signal_flusher import SignalFlusher

if TYPE_CHECKING:
    import multiprocessing.util

_logger = logging.getLogger(__name__)

DEFAULT_FLUSH_TIMEOUT_MILLIS = 30_000
"""The SDK's own default for ``force_flush``."""
_PROMPT_FLUSH_INTERVAL_SECONDS = 0.05
"""After a termination signal that did not end the process: how often the processors are emptied."""
_HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def force_flush(timeout_millis: int = DEFAULT_FLUSH_TIMEOUT_MILLIS) -> bool:
    """Export every span the global tracer provider's processors still hold, and wait for it.

    The call a serverless handler makes before it returns (the platform may
    freeze or end the process right after), and the one a process makes
    before it calls ``os._exit``. ``DynamiqSpanExporter.force_flush()`` alone
    is not enough: the spans wait in the processor, which the exporter cannot
    reach. True when everything was exported (or kept in the spool) in time;
    a provider that is not the SDK's has nothing to flush, and gives True.
    """
    provider: Any = trace.get_tracer_provider()
    flush: Callable[[int], bool] | None = getattr(provider, "force_flush", None)
    if flush is None:
        return True
    return bool(flush(timeout_millis))


class _ProcessEnd:
    """What this process has armed; one per process (a forked child inherits the parent's and re-arms)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.timeout_seconds = 0.0
        self.multiprocessing_armed = False
        self.in_multiprocessing_child = False
        self.fork_setup_pending = False
        """A multiprocessing child between ``fork()`` and the end of its after-fork hooks: nothing of its own
        to flush yet, and what a processor inherited may not be cleared yet (see ``_after_fork_in_child``)."""
        self.child_finalizer: multiprocessing.util.Finalize | None = None
        self.handlers: dict[int, Callable[[int, FrameType | None], Any]] = {}
        self.signal_flusher: SignalFlusher | None = None
        """The handler's flushes run there: a handler must take no lock and start no thread."""
        self.wakeup: MainThreadWakeup | None = None
        """In a multiprocessing child: brings a caught signal to its main thread (see _main_thread_wakeup)."""
        self.finishers: list[weakref.WeakMethod[Callable[[float], None]]] = []
        """Each exporter's last step once the processors are empty (exports in flight, memory to disk)."""


_STATE = _ProcessEnd()


def flush_at_process_end(
    timeout_seconds: float, finish: weakref.WeakMethod[Callable[[float], None]] | None = None
) -> None:
    """Arm the hooks of the module docstring (idempotent); the longest timeout asked for bounds each flush.

    ``finish`` (held weakly: an exporter dropped is forgotten) runs after the processors are flushed.
    """
    with _STATE.lock:
        _STATE.timeout_seconds = max(_STATE.timeout_seconds, timeout_seconds)
        if finish is not None:
            _STATE.finishers = [alive for alive in _STATE.finishers if alive() is not None] + [finish]
        _arm_multiprocessing()
        if threading.current_thread() is threading.main_thread():
            for signum in _HANDLED_SIGNALS:
                _install_handler(signum)
            if _STATE.handlers and _STATE.signal_flusher is None:
                _STATE.signal_flusher = _start_signal_flusher()
            if _STATE.in_multiprocessing_child:
                _watch_for_signals_the_main_thread_misses()


def _arm_multiprocessing() -> None:
    """Every multiprocessing child flushes before its ``os._exit``, whichever way it was started."""
    import multiprocessing
    import multiprocessing.util

    if not _STATE.multiprocessing_armed:
        _STATE.multiprocessing_armed = True
        # Run in each child after multiprocessing clears the finalizers it inherited, before the target runs.
        multiprocessing.util.register_after_fork(_STATE, _arm_child)
    if multiprocessing.parent_process() is not None or _spawned_child_starting():  # built inside a child
        _arm_child(_STATE)


def _spawned_child_starting() -> bool:
    """A spawn or forkserver child importing its main module (or run by ``opentelemetry-instrument``).

    Its after-fork hooks never run (a spawned process has nothing to re-arm, so
    multiprocessing skips them), and ``parent_process()`` is set only once it starts its target.
    """
    import multiprocessing.spawn

    return multiprocessing.spawn.is_forking(sys.argv) or bool(
        getattr(multiprocessing.current_process(), "_inheriting", False)
    )


def _arm_child(state: _ProcessEnd) -> None:
    import multiprocessing.util

    state.in_multiprocessing_child = True
    state.fork_setup_pending = False
    _watch_for_signals_the_main_thread_misses()
    # A child that built its exporter while it started (a spawn or forkserver child importing its main module)
    # sees its finalizers cleared once more just before its target runs (forkserver), and arms again then.
    if state.child_finalizer is None or not state.child_finalizer.still_active():
        # Priority above 0: run in the child's first round of finalizers, before it ends children of its own.
        state.child_finalizer = multiprocessing.util.Finalize(None, _flush_before_child_exit, exitpriority=100)
    # Celery's prefork workers (billiard, which shares multiprocessing's registries and so ran this) end with
    # os._exit inside their loop, before any finalizer; Celery says so first, by its own public signal.
    celery_signals = sys.modules.get("celery.signals")
    if celery_signals is not None:
        celery_signals.worker_process_shutdown.connect(_flush_before_celery_worker_exit, weak=False)


def _watch_for_signals_the_main_thread_misses() -> None:
    """Where a pool's ``terminate()`` sends SIGTERM to idle workers, our handler must reach their main thread.

    Only in multiprocessing children, where the main thread waits on the
    pool's lock: it takes Python's wakeup descriptor, process-wide, which a
    main process may need for its own event loop (Trio warns when it finds one
    taken). Where no watcher can run (the descriptor is someone else's, or the
    platform cannot tell which process wrote to it), the child keeps the
    signals' default action instead: a handler that might never run could
    leave ``terminate()`` waiting forever, and the default never does.
    Called on the child's main thread, where our handler is installed.
    """
    if _STATE.wakeup is not None or not any(_our_handler_installed(signum) for signum in _HANDLED_SIGNALS):
        return
    _STATE.wakeup = MainThreadWakeup.start(_our_handler_installed)
    if _STATE.wakeup is None:
        for signum, handler in list(_STATE.handlers.items()):
            with contextlib.suppress(ValueError, OSError):
                if signal.getsignal(signum) is handler:
                    signal.signal(signum, signal.SIG_DFL)
            del _STATE.handlers[signum]


def _flush_before_celery_worker_exit(*args: object, **kwargs: object) -> None:
    _flush_before_child_exit()


def _after_fork_in_child() -> None:
    """A forked child's finalizers are its own to arm; what the parent set up for a signal is still in place.

    This hook runs before the span processors' own (registered after it), which clear the spans they
    inherited: a signal handled between the two (a ``terminate()`` right after ``start()``) would flush
    the parent's spans from the child too, and they would arrive twice. A multiprocessing child is known
    to be set up when multiprocessing's own after-fork hooks run, just before its target; until then a
    signal takes its default action, as the child has made nothing yet.
    """
    _STATE.lock = threading.Lock()
    _STATE.fork_setup_pending = _forked_by_multiprocessing()
    _STATE.in_multiprocessing_child = False
    _STATE.child_finalizer = None
    if _STATE.signal_flusher is not None:  # its thread stayed in the parent: start this child's own
        _STATE.signal_flusher.close()
        _STATE.signal_flusher = _start_signal_flusher()
    if _STATE.wakeup is not None:  # its thread stayed in the parent, with the pipe it reads
        _STATE.wakeup.drop_in_forked_child()
        _STATE.wakeup = None


def _forked_by_multiprocessing() -> bool:
    """Whether ``os.fork()`` was called by multiprocessing's (or billiard's) fork launcher itself.

    Only the frame that called ``os.fork()`` counts: a child running inside that launcher that forks on its
    own (a daemon, ``pty.fork``) has the launcher further up its stack, and no multiprocessing hook to come.
    """
    try:
        caller = sys._getframe(2)  # past this and the after-fork hook: the caller of os.fork() (a C function)
    except ValueError:
        return False
    return caller.f_code.co_name == "_launch" and caller.f_code.co_filename.endswith(_POOL_FORK_LAUNCHERS)


_POOL_FORK_LAUNCHERS = (os.path.join("multiprocessing", "popen_fork.py"), os.path.join("billiard", "popen_fork.py"))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _flush_before_child_exit() -> None:
    mark_process_ending()
    _flush_within(_STATE.timeout_seconds)


def _install_handler(signum: int) -> None:
    """Handle the signal only where nothing does: the default action, which would end the process unflushed."""
    with contextlib.suppress(ValueError, OSError):  # a signal this platform cannot handle
        if signum in _STATE.handlers or signal.getsignal(signum) is not signal.SIG_DFL:
            return
        if _caught_below_python(signum):
            return
        handler = _handler_for(signum)
        signal.signal(signum, handler)
        _STATE.handlers[signum] = handler


def _start_signal_flusher() -> SignalFlusher | None:
    return SignalFlusher.start(_flush_and_finish, _flush_promptly, _PROMPT_FLUSH_INTERVAL_SECONDS)


def _our_handler_installed(signum: int) -> bool:
    handler = _STATE.handlers.get(signum)
    return handler is not None and signal.getsignal(signum) is handler


def _caught_below_python(signum: int) -> bool:
    """A handler installed from C (``faulthandler.register``, an embedded runtime) that Python reports as SIG_DFL.

    Linux lists the signals the process catches in ``/proc/self/status``; elsewhere there is no way to tell,
    and none is assumed.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


def _handler_for(signum: int) -> Callable[[int, FrameType | None], None]:
    def flush_then_default(received: int, frame: FrameType | None) -> None:
        # A child just forked may run this before its after-fork hook: what the parent started is not its own.
        wakeup = _STATE.wakeup if _STATE.wakeup is not None and _STATE.wakeup.started_in_this_process() else None
        flusher = _STATE.signal_flusher
        if flusher is not None and (not flusher.started_in_this_process() or _STATE.fork_setup_pending):
            flusher = None
        if wakeup is not None:
            wakeup.handler_began(received)
        installed = signal.getsignal(received)
        if installed is flush_then_default:
            signal.signal(received, signal.SIG_DFL)  # a second signal takes the default action at once
        _STATE.handlers.pop(received, None)
        if interpreter_shutting_down() and not _STATE.in_multiprocessing_child:
            # Already exiting on its own, and flushing as it goes (the provider's atexit shutdown): ending
            # it now would cut that flush short. Let the exit finish, bounded as it is. Not in a
            # multiprocessing child: Python 3.13 counts its main thread as ended while its finalizers run,
            # and the flush below is the one that delivers before the signal ends it.
            return
        mark_process_ending()
        exit_already_flushing = False
        try:
            if flusher is not None:
                flushed = flusher.flush_and_wait(_STATE.timeout_seconds)
                # The processors refused at once: the exit's own shutdown of the provider (atexit, which
                # spawn and forkserver children run too) had begun, and its worker is exporting what they
                # held, waited for by the very code this signal interrupted. Ending the process now would
                # lose that: the exit goes on, for one more timeout at most (it may be stuck, and this
                # signal was sent to end it). Only where the default action is back in place for it.
                exit_already_flushing = (
                    flushed is False and interpreter_shutting_down() and installed is flush_then_default
                )
        finally:
            # Even when another handler raised while this one waited (a SIGALRM timeout, a SIGINT): the
            # process ends by this signal, as it would have without us.
            if exit_already_flushing and flusher is not None:
                flusher.end_by_signal_after(_STATE.timeout_seconds, received)
            else:
                _take_the_default_action(received, installed, flush_then_default, flusher)

    flush_then_default.__qualname__ = f"otel_dynamiq.flush_then_default[{signal.Signals(signum).name}]"
    return flush_then_default


def _take_the_default_action(
    received: int, installed: Any, ours: Callable[[int, FrameType | None], None], flusher: SignalFlusher | None
) -> None:
    if installed is ours:
        # The default action again, and the same signal: the process ends as it would have without us.
        signal.raise_signal(received)
    else:
        # Called by a handler installed after ours that chains to the one it found: what it asks for is
        # the default action. Raising the signal would call that handler again, so take the default
        # action directly, and put its handler back if the process lives on (PID 1).
        signal.signal(received, signal.SIG_DFL)
        try:
            signal.raise_signal(received)
        finally:
            signal.signal(received, installed)
    # Still running: the default action ignores this signal here, as it does for PID 1 in a container.
    if os.getpid() == 1 and flusher is not None:
        flusher.keep_flushing()


def _flush_within(seconds: float) -> None:
    """Flush on a helper thread, waiting at most ``seconds`` (a multiprocessing child's last finalizer).

    The flush may need a lock its caller's thread holds; a bounded wait on another thread never hangs.
    """
    try:
        thread = threading.Thread(target=_flush_and_finish, name="otel-dynamiq-flush-at-exit", daemon=True)
        start_signal_free(thread)
    except RuntimeError:  # the interpreter is shutting down and starts no thread: flush here
        _flush_and_finish()
        return
    thread.join(seconds)


def _flush_and_finish() -> bool:
    """Empty the processors, then let each exporter finish (exports in flight, memory to disk), in time.

    False when a processor did not take the flush (already shut down) or it did not end in time.
    """
    seconds = _STATE.timeout_seconds
    deadline = time.monotonic() + seconds
    try:
        flushed = force_flush(max(int(seconds * 1000), 1))
        for finisher in list(_STATE.finishers):
            finish = finisher()
            if finish is not None:
                finish(max(deadline - time.monotonic(), 0.0))
        return flushed
    except Exception as exc:  # a hook must never turn an exit into a traceback
        _logger.debug("Flushing spans as the process ends failed: %s", exc)
        return False


def _flush_promptly() -> None:
    with contextlib.suppress(Exception):
        force_flush(max(int(_STATE.timeout_seconds * 1000), 1))
