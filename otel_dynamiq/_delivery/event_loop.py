"""A private asyncio event loop on a daemon thread.

The exporter's HTTP client lives here, never on the application's loop: the
application may have no loop, may block its loop, or may run one
``asyncio.run()`` after another, and none of that can reach this one.

The loop's thread starts with the exporter, and starts its name resolver's
thread first thing: a short-lived process exports its last spans while the
interpreter shuts down, when Python 3.12 refuses to start threads and
asyncio's default executor refuses work.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from otel_dynamiq._delivery.resolver import ResolverThread, ResolvingEventLoop
from otel_dynamiq._delivery.signal_free_threads import start_signal_free

T = TypeVar("T")


_process_ending = False
"""True when the process is known to end soon although the interpreter has not begun to shut down."""


def mark_process_ending() -> None:
    """A termination signal arrived, or a multiprocessing child finished its work: no time is left to retry.

    A plain assignment, no lock: a signal handler calls this, and may have interrupted anything.
    """
    global _process_ending
    _process_ending = True


def _after_fork_in_child() -> None:
    global _process_ending
    _process_ending = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def interpreter_exiting() -> bool:
    """True once the process is ending: what is not delivered at the first attempt is spooled, not retried.

    The interpreter shuts down once the main thread's code has ended (on
    every supported Python; the main thread counts as stopped from then on)
    and no non-daemon thread of the application is left: ``atexit``
    handlers, a provider's shutdown among them, run then. A termination
    signal or a multiprocessing child's last finalizers mark the end earlier
    (``mark_process_ending``).
    """
    return _process_ending or interpreter_shutting_down()


def interpreter_shutting_down() -> bool:
    """True once the main thread's code has ended and no non-daemon thread of the application is left."""
    if threading.main_thread().is_alive():
        return False
    return not any(thread.is_alive() and not thread.daemon for thread in threading.enumerate())


_FORK_WAIT_SECONDS = 10.0
"""The longest a fork() waits for the loop thread to finish readying the exporter; it is done in milliseconds."""


class ForkGuard:
    """Holds ``fork()`` back while the loop thread imports modules or builds the client.

    A child forked while another thread holds one of the interpreter's module
    locks inherits that lock held by a thread it does not have, and hangs on
    its first import of that module, its runs lost without a word.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held_for_fork = False

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def before_fork(self) -> None:
        self._held_for_fork = self._lock.acquire(timeout=_FORK_WAIT_SECONDS)

    def after_fork_in_parent(self) -> None:
        if self._held_for_fork:
            self._held_for_fork = False
            self._lock.release()

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._held_for_fork = False


class LoopThread:
    """One event loop running forever on one daemon thread until ``stop()``."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._loop = ResolvingEventLoop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        start_signal_free(self._thread)  # its resolver thread, started from it, inherits the mask

    def _run(self) -> None:
        # Started here rather than by the caller, so the application's start-up waits for one thread, not two.
        resolver = ResolverThread.start(name=f"{self._name}-resolver")
        self._loop.resolver = resolver
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._close_loop()
            if resolver is not None:
                resolver.stop()

    def _close_loop(self) -> None:
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        with contextlib.suppress(Exception):
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule a coroutine from any other thread; the future can be waited on or cancelled."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def call_soon(self, callback: Callable[[], object]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop already closed
            self._loop.call_soon_threadsafe(callback)

    def call_later(self, delay: float, callback: Callable[[], object]) -> None:
        self.call_soon(lambda: self._loop.call_later(delay, callback))

    def stop(self, timeout: float) -> bool:
        """Stop the loop and wait for its thread; True when the thread has ended."""
        self.call_soon(self._loop.stop)
        if threading.current_thread() is not self._thread:
            self._thread.join(max(timeout, 0.0))
        return not self._thread.is_alive()
