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
to it, on whichever thread caught it (Linux only here: see ``start``). A watcher thread reads it and, while
our handler for that signal is installed and has not begun, interrupts the
main thread with the same signal, every few tens of milliseconds: the
interrupted call sees EINTR, and Python runs the pending handler.

The descriptor belongs to the process: it is taken only when no one holds
it (asyncio takes it for ``loop.add_signal_handler``, and then its loop wakes
the main thread itself), and a process that takes it after us simply turns
the watcher off. So it is used in multiprocessing children only, where idle
workers wait so; a main process leaves the descriptor to its event loops.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable

from otel_dynamiq._delivery.signal_free_threads import start_signal_free

_NUDGE_INTERVAL_SECONDS = 0.05


class MainThreadWakeup:
    """Owns the wakeup descriptor and the watcher thread; one per process."""

    def __init__(self, reader: socket.socket, writer: socket.socket, waiting: Callable[[int], bool]) -> None:
        self._reader = reader
        self._writer = writer
        self._waiting = waiting
        self._main_thread_id = threading.get_ident()  # built on the main thread
        self._lock = threading.RLock()  # our handler may interrupt itself (SIGINT during SIGTERM's)
        self._begun: set[int] = set()
        self._pid = os.getpid()
        thread = threading.Thread(target=self._watch, name="otel-dynamiq-signal-wakeup", daemon=True)
        start_signal_free(thread)

    @classmethod
    def start(cls, waiting: Callable[[int], bool]) -> MainThreadWakeup | None:
        """Take the wakeup descriptor and start watching it; None where it is taken or cannot be.

        ``waiting(signum)`` tells whether our handler for ``signum`` is the one
        installed; it is called on the watcher thread. Call from the main thread.

        The descriptor is a datagram socket whose reader is told the sending
        process of each byte (Linux's ``SO_PASSCRED``): a child forked from
        this process inherits the descriptor until its own after-fork hook
        gives it up, and a signal sent to the child in that moment writes here;
        a byte from another process is not this one's signal. Where the sender
        cannot be told, there is no watcher.
        """
        if not (hasattr(signal, "pthread_kill") and hasattr(socket, "SO_PASSCRED") and hasattr(socket, "AF_UNIX")):
            return None
        try:
            reader, writer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        except OSError:
            return None
        try:
            reader.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            writer.setblocking(False)  # Python's C handler must never block on it
            previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        except (ValueError, OSError):  # not the main thread, or a platform without it
            _close(reader, writer)
            return None
        if previous != -1:  # someone else's: give it back untouched
            signal.set_wakeup_fd(previous)
            _close(reader, writer)
            return None
        try:
            return cls(reader, writer, waiting)
        except RuntimeError:  # no thread can start any more: the interpreter is shutting down
            signal.set_wakeup_fd(-1)
            _close(reader, writer)
            return None

    def started_in_this_process(self) -> bool:
        """False in a child forked a moment ago: its lock may be held by a watcher the child does not have."""
        return self._pid == os.getpid()

    def handler_began(self, signum: int) -> None:
        """Called first by our handler: from now on, interrupting the main thread with the signal is not ours
        to do (our handler puts the default action back, and the signal would end the process mid-flush)."""
        with self._lock:
            self._begun.add(signum)

    def drop_in_forked_child(self) -> None:
        """A forked child inherits the descriptor but not the watcher, and the parent reads that socket:
        stop writing to it, and close the child's copies."""
        with contextlib.suppress(ValueError, OSError):
            current = signal.set_wakeup_fd(-1)
            if current not in (-1, self._writer.fileno()):  # taken by someone else since: theirs to keep
                signal.set_wakeup_fd(current)
        _close(self._reader, self._writer)

    def _watch(self) -> None:
        credentials_size = struct.calcsize("3i")
        while True:
            try:
                data, ancillary, _, _ = self._reader.recvmsg(64, socket.CMSG_SPACE(credentials_size))
            except OSError:
                return
            if not data:
                return
            if _sender_pid(ancillary, credentials_size) != os.getpid():
                continue  # written by a forked child before it gave the descriptor up: not our signal
            for signum in set(data):
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


def _sender_pid(ancillary: list[tuple[int, int, bytes]], credentials_size: int) -> int | None:
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(payload) >= credentials_size:
            pid, _uid, _gid = struct.unpack("3i", payload[:credentials_size])
            return int(pid)
    return None


def _close(*sockets: socket.socket) -> None:
    for each in sockets:
        with contextlib.suppress(OSError):
            each.close()
