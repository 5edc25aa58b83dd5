"""A thread, started before any signal, that flushes when a signal handler asks.

A signal handler runs on the main thread between two bytecodes of whatever
it interrupted, which may hold any lock: a ``threading.Event``'s, the lock
``Thread.start()`` takes, a logger's. A handler that takes one of those locks
itself waits forever (a pool worker finishing its own exit flush when
``terminate()`` signalled it did exactly that). So the handler takes no lock
and starts no thread: it writes one byte to a pipe this thread reads, and
waits for its answer with ``select`` and a timeout, both of which are
lock-free system calls.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from collections.abc import Callable

from otel_dynamiq._delivery.signal_free_threads import start_signal_free

_FLUSH_ONCE = b"f"
_KEEP_FLUSHING = b"k"
_END_LATER = b"e"
_FLUSHED = b"d"
_NOT_ALL_FLUSHED = b"n"


class SignalFlusher:
    """One per process; a forked child starts its own (the thread stays in the parent)."""

    def __init__(
        self, flush_once: Callable[[], bool], flush_promptly: Callable[[], None], interval_seconds: float
    ) -> None:
        self._flush_once = flush_once
        self._flush_promptly = flush_promptly
        self._interval_seconds = interval_seconds
        self._flushing_promptly = False
        self._end_later_seconds = 0.0
        self._pid = os.getpid()
        self._requests_read, self._requests_write = os.pipe()
        self._done_read, self._done_write = os.pipe()
        for fd in (self._requests_read, self._requests_write, self._done_read, self._done_write):
            os.set_inheritable(fd, False)
        os.set_blocking(self._done_read, False)
        try:
            start_signal_free(threading.Thread(target=self._serve, name="otel-dynamiq-signal-flush", daemon=True))
        except BaseException:
            self.close()
            raise

    @classmethod
    def start(
        cls, flush_once: Callable[[], bool], flush_promptly: Callable[[], None], interval_seconds: float
    ) -> SignalFlusher | None:
        """None when no thread can start (the interpreter is shutting down).

        ``flush_once`` runs for each ``flush_and_wait`` and says whether everything was flushed; after
        ``keep_flushing``,
        ``flush_promptly`` runs every ``interval_seconds`` until the process ends.
        Neither may raise.
        """
        try:
            return cls(flush_once, flush_promptly, interval_seconds)
        except (RuntimeError, OSError):
            return None

    def started_in_this_process(self) -> bool:
        """False in a child forked a moment ago whose after-fork hook has not yet started its own."""
        return self._pid == os.getpid()

    def flush_and_wait(self, seconds: float) -> bool | None:
        """From a signal handler: ask for one flush and wait at most ``seconds`` for it.

        What the flush said (True when everything was flushed), or None when it did not answer in time.
        """
        if self._flushing_promptly:  # nothing waits long in the processors any more
            return True
        with contextlib.suppress(BlockingIOError, OSError):
            os.read(self._done_read, 64)  # an answer to an earlier request that timed out
        try:
            os.write(self._requests_write, _FLUSH_ONCE)
        except OSError:
            return None
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self._done_read], [], [], left)
            if ready:
                with contextlib.suppress(BlockingIOError, OSError):
                    if answer := os.read(self._done_read, 64):
                        return answer[-1:] == _FLUSHED
        return None

    def keep_flushing(self) -> None:
        """From a signal handler that did not end the process (PID 1): flush every few tens of ms, forever."""
        self._flushing_promptly = True
        with contextlib.suppress(OSError):
            os.write(self._requests_write, _KEEP_FLUSHING)

    def end_by_signal_after(self, seconds: float, signum: int) -> None:
        """From a signal handler that let an exit already under way go on: should that exit still be
        running in ``seconds`` (stuck, or waiting on a service), the signal is sent again then, to a process
        whose handler for it is the default action by now, and ends it as it would have ended at first."""
        self._end_later_seconds = seconds  # read by the thread once the request below reaches it
        with contextlib.suppress(OSError):
            os.write(self._requests_write, _END_LATER + bytes([signum]))

    def close(self) -> None:
        """In a forked child, whose copy of the thread does not exist: close the child's copies of the pipes."""
        for fd in (self._requests_read, self._requests_write, self._done_read, self._done_write):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _serve(self) -> None:
        while True:
            try:
                request = os.read(self._requests_read, 1)
            except OSError:
                return
            if not request:
                return
            if request == _END_LATER:
                signum = os.read(self._requests_read, 1)
                time.sleep(self._end_later_seconds)
                os.kill(os.getpid(), signum[0])
                return
            if request == _KEEP_FLUSHING:
                while True:
                    self._flush_promptly()
                    time.sleep(self._interval_seconds)
            flushed = False
            try:
                flushed = self._flush_once()
            finally:
                with contextlib.suppress(OSError):
                    os.write(self._done_write, _FLUSHED if flushed else _NOT_ALL_FLUSHED)
