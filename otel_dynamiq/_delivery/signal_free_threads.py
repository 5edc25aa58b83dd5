"""Threads of ours never take SIGTERM or SIGINT.

The kernel gives a signal sent to a process to any one of its threads that
does not block it. A Python handler then runs on the main thread only once
that thread runs Python code again; if the main thread waits in a blocking
call, the signal is not noticed until the wait ends, where Python's default
action would have ended the process at once. So every thread this package
starts blocks both signals, leaving them to the application's threads. A
thread inherits its signal mask from the thread that starts it, so the mask
is set around ``start()`` and put back at once.
"""

from __future__ import annotations

import signal
import threading

_TERMINATION_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


def start_signal_free(thread: threading.Thread) -> None:
    """``thread.start()``, the new thread blocking SIGTERM and SIGINT (where the platform has signal masks)."""
    if not hasattr(signal, "pthread_sigmask"):
        thread.start()
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _TERMINATION_SIGNALS)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
