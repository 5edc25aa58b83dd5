"""Make sure a termination signal our handler caught reaches the main thread.

A signal handler written in Python runs on the main thread, at its next
chance to run Python code. The main thread misses that chance, and may wait
forever, in two cases: the kernel gave the signal to another thread while the
main thread waits in a blocking call (an idle pool worker waits on its pool's
lock, which the parent holds until the worker dies), or the signal arrived
just before the main thread entered that call. Python's default action has
neither problem, since the kernel ends the process itself; so a handler that
replaces it must not bring them in. ``Pool.terminate()`` hung in about one
run in a hundred before this existed.

The standard way for another thread to learn that a signal arrived is the
wakeup file descriptor: Python's C-level handler writes the signal's number
to it, on whichever thread caught it. A watcher thread reads it and, while
our handler for that signal is installed and has not begun, interrupts the
main thread with the same signal, every few tens of milliseconds: the
interrupted call sees EINTR, and Python runs the pending handler.

The descriptor belongs to the process: it is taken only when no one holds
it (asyncio takes it for ``loop.add_signal_handler``, and then its loop wakes
the main thread itself), and a process that takes it after us simply turns
the watcher off.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable

from otel_dynamiq._delivery.signal_free_threads import start_signal_free

_NUDGE_INTERVAL_SECONDS = 0.05


class MainThreadWakeup:
    """Owns the wakeup descriptor and the watcher thread; one per process."""

    def __init__(self, read_fd: int, write_fd: int, waiting: Callable[[int], bool]) -> None:
        self._read_fd = read_fd
        self._write_fd = write_fd
        self._waiting = waiting
        self._main_thread_id = threading.get_ident()  # built on the main thread
        self._lock = threading.Lock()
        self._begun: set[int] = set()
        thread = threading.Thread(target=self._watch, name="otel-dynamiq-signal-wakeup", daemon=True)
        start_signal_free(thread)

    @classmethod
    def start(cls, waiting: Callable[[int], bool]) -> MainThreadWakeup | None:
        """Take the wakeup descriptor and start watching it; None where it is taken or cannot be.

        ``waiting(signum)`` tells whether our handler for ``signum`` is the one
        installed; it is called on the watcher thread. Call from the main thread.
        """
        if not hasattr(signal, "pthread_kill") or not hasattr(os, "pipe2"):
            return None
        read_fd, write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        os.set_blocking(read_fd, True)
        try:
            previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        except (ValueError, OSError):  # not the main thread, or a platform without it
            _close(read_fd, write_fd)
            return None
        if previous != -1:  # someone else's: give it back untouched
            signal.set_wakeup_fd(previous)
            _close(read_fd, write_fd)
            return None
        try:
            return cls(read_fd, write_fd, waiting)
        except RuntimeError:  # no thread can start any more: the interpreter is shutting down
            signal.set_wakeup_fd(-1)
            _close(read_fd, write_fd)
            return None

    def handler_began(self, signum: int) -> None:
        """Called first by our handler: from now on, interrupting the main thread with the signal is not ours
        to do (our handler puts the default action back, and the signal would end the process mid-flush)."""
        with self._lock:
            self._begun.add(signum)

    def drop_in_forked_child(self) -> None:
        """A forked child inherits the descriptor but not the watcher, and the parent reads that pipe:
        stop writing to it, and close the child's copies."""
        with contextlib.suppress(ValueError, OSError):
            current = signal.set_wakeup_fd(-1)
            if current not in (-1, self._write_fd):  # taken by someone else since: theirs to keep
                signal.set_wakeup_fd(current)
        _close(self._read_fd, self._write_fd)

    def _watch(self) -> None:
        while True:
            try:
                arrived = os.read(self._read_fd, 64)
            except OSError:
                return
            if not arrived:
                return
            for signum in set(arrived):
                self._wake_main_thread(signum)

    def _wake_main_thread(self, signum: int) -> None:
        """Interrupt the main thread until our handler for ``signum`` has begun, or is no longer installed."""
        while True:
            with self._lock:
                if signum in self._begun or not self._waiting(signum):
                    return
                with contextlib.suppress(OSError, ValueError):
                    signal.pthread_kill(self._main_thread_id, signum)
            time.sleep(_NUDGE_INTERVAL_SECONDS)


def _close(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
