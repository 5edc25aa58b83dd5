"""Host-name lookups on a thread the exporter starts with itself, not on asyncio's default executor.

asyncio resolves names through ``loop.run_in_executor(None, socket.getaddrinfo)``.
That executor refuses new work once the interpreter begins to shut down (its
``atexit`` hook runs before ``TracerProvider``'s), and Python 3.12 refuses to
start the thread it would need. A short-lived process exports its last spans
exactly then, so a lookup there must go to a thread that already exists and
answers whatever the interpreter's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import socket
import threading
from collections.abc import Callable
from typing import Any

AddressInfo = list[tuple[Any, ...]]
_Job = Callable[[], None]


class ResolverThread:
    """One daemon thread that runs ``socket.getaddrinfo`` for one event loop.

    Lookups are rare (one per new connection, and the client keeps its
    connections), so one thread serves them in turn.
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    @classmethod
    def start(cls, name: str) -> ResolverThread | None:
        """A running resolver, or None when no thread can start any more (a process ending as it begins)."""
        try:
            return cls(name)
        except RuntimeError:
            return None

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()

    async def getaddrinfo(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> AddressInfo:
        """What ``loop.getaddrinfo`` answers, looked up on this thread instead of the default executor."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[AddressInfo] = loop.create_future()

        def settle(result: AddressInfo | None, error: BaseException | None) -> None:
            if answer.done():  # the caller was cancelled meanwhile
                return
            if error is not None:
                answer.set_exception(error)
            else:
                answer.set_result(result or [])

        def look_up() -> None:
            try:
                result, error = socket.getaddrinfo(host, port, family, type, proto, flags), None
            except BaseException as exc:  # handed to the caller, whatever it is
                result, error = None, exc
            with contextlib.suppress(RuntimeError):  # the loop closed while we looked
                loop.call_soon_threadsafe(settle, result, error)

        self._jobs.put(look_up)
        return await answer

    def stop(self) -> None:
        self._jobs.put(None)


class ResolvingEventLoop(asyncio.SelectorEventLoop):
    """An event loop whose name lookups never need a new thread or the default executor.

    Without a resolver thread (none could start) a lookup blocks the loop's own
    thread: a last resort, which only a process ending as it began can reach.
    """

    resolver: ResolverThread | None = None

    async def getaddrinfo(
        self, host: Any, port: Any, *, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> AddressInfo:
        if self.resolver is None:
            return socket.getaddrinfo(host, port, family, type, proto, flags)
        return await self.resolver.getaddrinfo(host, port, family, type, proto, flags)
