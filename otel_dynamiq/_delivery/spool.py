"""Keep request bodies the service could not take yet, for this process or the next one.

I/O only: bodies go in and come out as bytes, and nothing here reads what
they hold. One directory per endpoint and key (named by a hash of the two, so
a body is only ever resent where it was meant to go), shared safely by every
process that exports there:

- a body is written under a temporary name, synced, renamed into place and
  its directory synced, so a reader never sees half a file and a body once
  put survives a power cut;
- a sender leases a file by renaming it to a name that carries the lease's
  expiry, its pid and its host. A rename succeeds for one process only, so
  no file is sent twice; a lease whose holder died is taken over when it
  expires, or at once on the same host when its pid is gone.

Files hold the body only: never the key or a header. When the disk cannot be
used (not creatable, read-only, full), bodies wait in memory instead, with one
warning, and go back to disk when it takes them again (it is tried every few
seconds, and at exit). A directory that cannot be trusted (another user's, or
writable by others), or none at all, leaves memory alone for as long as this
process lives.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import hashlib
import logging
import os
import secrets
import socket
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from otel_dynamiq._config import SPOOL_LOCATIONS, ExporterConfig, SpoolConfig
from otel_dynamiq._delivery.stats import DropReason
from otel_dynamiq.environment_variables import OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR as SPOOL_DIR_VARIABLE

_logger = logging.getLogger(__name__)

DropCounter = Callable[[DropReason, int], None]
"""Where the spool says it let runs go for good: the ledger's ``dropped_from_spool``."""

_READY_SUFFIX = ".json"
_LEASE_MARK = ".lease."
_TEMPORARY_PREFIX = ".writing-"
_MEMORY_MAX_BYTES = 32 * 1024 * 1024
"""Bodies kept in memory when the disk fails: a bound on what the application lends us."""
MIN_LEASE_SECONDS = 60.0
MEMORY = "memory"
NO_LOCATION = f"no writable directory for the spool: {SPOOL_LOCATIONS} are missing or read-only"
"""``SpoolState.problem`` when no spool directory was set and none of the temporary directories is writable."""
"""``SpoolState.where`` when bodies wait in memory; otherwise it names their directory."""


class SpoolUnavailableError(OSError):
    """The directory cannot be trusted or written; the message says why and what to set."""


class SpoolFullError(Exception):
    """A spool that refuses when full (the gateway's) has no room for this body."""


@dataclass(frozen=True)
class SpooledBody:
    """A body taken out of the spool to be sent; hand it back with ``finish`` or ``release``."""

    key: str
    runs: int
    body: bytes


@dataclass(frozen=True)
class SpoolState:
    """What the spool holds, for ``otel-dynamiq doctor`` and for tests."""

    where: str
    bodies: int
    runs: int
    size_bytes: int
    leased: int
    oldest_age_seconds: float | None
    problem: str | None = None

    @property
    def on_disk(self) -> bool:
        """Whether bodies wait on disk, where they outlive the process; else in memory, lost when it ends."""
        return self.where != MEMORY


def identity_directory(base: Path, endpoint: str, access_key: str | None) -> Path:
    """The subdirectory for one endpoint and key; a hash names it, so neither shows on disk."""
    digest = hashlib.sha256(f"{endpoint}\0{access_key or ''}".encode()).hexdigest()
    return base / digest[:32]


def spool_directory(config: ExporterConfig) -> Path | None:
    """Where this configuration's bodies wait; None when the spool is off or has no directory (memory only)."""
    if config.spool is None or config.spool.directory is None:
        return None
    return identity_directory(config.spool.directory, config.endpoint, config.access_key)


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _pid_is_gone(pid: int) -> bool:
    if os.name == "nt":  # there, os.kill(pid, 0) would terminate the process: rely on the lease's expiry
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists but is not ours, or the platform cannot tell
        return False
    return False


def _checked_directory(path: Path) -> None:
    """Create with mode 0700, then refuse what another user could have planted or could write."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name == "nt":
        return
    link = path.lstat()
    if stat.S_ISLNK(link.st_mode) and link.st_uid != os.getuid():
        # In a shared /tmp, another user's link could point us at a directory of ours elsewhere.
        raise SpoolUnavailableError(f"the spool directory {path} is a symbolic link made by another user")
    status = path.stat()
    if status.st_uid != os.getuid():
        raise SpoolUnavailableError(f"the spool directory {path} belongs to another user")
    if status.st_mode & 0o022:
        raise SpoolUnavailableError(
            f"the spool directory {path} is writable by other users (mode {status.st_mode & 0o777:o}); "
            f"make it 0700 or point {SPOOL_DIR_VARIABLE} elsewhere"
        )


@dataclass(frozen=True)
class _Entry:
    name: str
    created_ns: int
    runs: int
    size: int
    lease_expiry_ms: int | None = None
    lease_pid: int | None = None
    lease_host: str | None = None

    @property
    def base(self) -> str:
        return _ready_name(self.name)


def _ready_name(name: str) -> str:
    """The name a file has when no sender holds it: a lease's name without the lease."""
    return name.split(_LEASE_MARK)[0]


def _parse_entry(name: str, size: int) -> _Entry | None:
    """``<created_ns>-<runs>-<pid>-<random>.json``, optionally followed by ``.lease.<expiry>.<pid>.<host>``."""
    base, _, lease = name.partition(_LEASE_MARK)
    if not base.endswith(_READY_SUFFIX):
        return None
    fields = base[: -len(_READY_SUFFIX)].split("-")
    if len(fields) != 4 or not fields[0].isdigit() or not fields[1].isdigit():
        return None
    entry = _Entry(name, int(fields[0]), int(fields[1]), size)
    if not lease:
        return entry
    parts = lease.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    return _Entry(name, entry.created_ns, entry.runs, size, int(parts[0]), int(parts[1]), parts[2])


_CAP_CHECK_SECONDS = 1.0
"""How long a put may go without listing the directory to enforce the caps (unless its writes could cross them)."""
_REFUSED_PREFIX = "refused-"
"""Entries set aside because they are not regular files of this user: never sent, never parsed again."""


class _NotARegularFile(Exception):
    pass


def _sync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable: a file's own fsync does not cover its directory entry."""
    descriptor = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _read_own_file(path: Path) -> bytes:
    """The file's bytes, if it is a regular file of this user: opened without following a link or
    waiting on a FIFO, then checked on the open descriptor, so a swap after the check cannot matter."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a symbolic link
            raise _NotARegularFile(path.name) from None
        raise
    with os.fdopen(descriptor, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode) or (hasattr(os, "getuid") and status.st_uid != os.getuid()):
            raise _NotARegularFile(path.name)
        return file.read()


class DiskSpool:
    """Bodies as files in one directory, shared by every process exporting to the same place."""

    def __init__(self, directory: Path, config: SpoolConfig, lease_seconds: float, count_drop: DropCounter) -> None:
        self.directory = directory
        self._check_location()
        self._max_bytes = config.max_bytes
        self._max_age_ns = int(config.max_age_seconds * 1e9)
        self._refuse_when_full = config.refuse_when_full
        self._lease_ms = int(max(lease_seconds, MIN_LEASE_SECONDS) * 1000)
        self._count_drop = count_drop
        self._host = _host_tag()
        self._bytes_since_listing = 0
        self._last_listing: tuple[float, int] | None = None
        """When the directory was last listed (monotonic seconds) and the bytes it held after the caps."""
        self._candidates: collections.deque[_Entry] = collections.deque()
        """Bodies found by the last listing, oldest first: claims take from here, so draining is linear."""

    def _check_location(self) -> None:
        """The directory and its parent, checked at every use, not only at start: either may have been swapped."""
        _checked_directory(self.directory.parent)
        _checked_directory(self.directory)

    def _entries(self) -> list[_Entry]:
        self._check_location()
        entries = []
        with os.scandir(self.directory) as listing:
            for item in listing:
                if item.name.startswith(_TEMPORARY_PREFIX):
                    self._remove_abandoned_write(item)
                    continue
                with contextlib.suppress(FileNotFoundError):
                    if not item.is_file(follow_symlinks=False):
                        continue  # a link, a FIFO or a directory named like a body is never ours to send
                    entry = _parse_entry(item.name, item.stat(follow_symlinks=False).st_size)
                    if entry is not None:
                        entries.append(entry)
        entries.sort(key=lambda entry: entry.created_ns)
        return entries

    def _remove_abandoned_write(self, item: os.DirEntry[str]) -> None:
        """A writer killed between write and rename leaves a temporary file; it is never renamed now."""
        with contextlib.suppress(FileNotFoundError):
            if time.time() - item.stat().st_mtime > self._lease_ms / 1000:
                os.unlink(item.path)

    def _drop(self, entry: _Entry, reason: DropReason) -> None:
        try:
            os.unlink(self.directory / entry.name)
        except FileNotFoundError:
            return  # another process took it first
        self._count_drop(reason, entry.runs)

    def put(self, body: bytes, runs: int, created_ns: int | None = None) -> None:
        """Write the body, then make room by dropping the oldest bodies beyond the size cap.

        ``created_ns`` is when a body first waited (held in memory before): its age and its place in
        the order go with it. Raises OSError when the disk refuses; the caller falls back to memory.
        """
        self._check_location()
        if self._refuse_when_full:
            self._make_sure_it_fits(len(body))
        created = created_ns if created_ns is not None else time.time_ns()
        name = f"{created:020d}-{runs}-{os.getpid()}-{secrets.token_hex(4)}{_READY_SUFFIX}"
        temporary = self.directory / f"{_TEMPORARY_PREFIX}{name}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(body)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.directory / name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        _sync_directory(self.directory)  # the rename must survive a power cut too: a 200 promised it
        self._bytes_since_listing += len(body)
        # Listing a large backlog for every put would make an outage quadratic: list again when this
        # process's writes since the last listing could have crossed the size cap, or once a second.
        listed = self._last_listing
        due = listed is None or time.monotonic() - listed[0] >= _CAP_CHECK_SECONDS
        if due or (listed is not None and listed[1] + self._bytes_since_listing > self._max_bytes):
            try:
                self._enforce_caps()
            except OSError as exc:  # the body is safely in place; the caps are enforced again on the next look
                _logger.debug("Could not enforce the spool's caps: %s", exc)

    def _make_sure_it_fits(self, size: int) -> None:
        """Count exactly (a listing) only when the running estimate says the cap could be crossed."""
        listed = self._last_listing
        if listed is not None and listed[1] + self._bytes_since_listing + size <= self._max_bytes:
            return
        total = sum(entry.size for entry in self._enforce_caps())
        if total + size > self._max_bytes:
            raise SpoolFullError(f"the spool holds {total:,} of {self._max_bytes:,} bytes")

    def _enforce_caps(self) -> list[_Entry]:
        """Drop what is past the caps (never a body a live sender holds); the entries that remain."""
        now = time.time_ns()
        entries = self._entries()
        total = sum(entry.size for entry in entries)
        self._bytes_since_listing = 0
        kept = []
        for entry in entries:
            if self._is_held(entry):
                kept.append(entry)
            elif now - entry.created_ns > self._max_age_ns:
                self._drop(entry, DropReason.SPOOL_EXPIRED)
                total -= entry.size
            elif total > self._max_bytes and not self._refuse_when_full:
                self._drop(entry, DropReason.SPOOL_FULL)
                total -= entry.size
            else:
                kept.append(entry)
        self._last_listing = (time.monotonic(), total)
        return kept

    def _is_held(self, entry: _Entry) -> bool:
        """Leased by a sender that is still alive: its lease has not expired and, on this host, its pid exists."""
        if entry.lease_expiry_ms is None or entry.lease_expiry_ms < time.time() * 1000:
            return False
        return not (entry.lease_host == self._host and entry.lease_pid is not None and _pid_is_gone(entry.lease_pid))

    def claim(self) -> SpooledBody | None:
        """Lease the oldest body no live process holds; None when there is none.

        One listing serves many claims (the directory is listed again only when
        its bodies are used up), so draining N bodies costs N claims, not N listings.
        """
        if not self._candidates:
            self._candidates.extend(self._enforce_caps())
        while self._candidates:
            entry = self._candidates.popleft()
            if self._is_held(entry):
                continue
            expiry = int(time.time() * 1000) + self._lease_ms
            leased = f"{entry.base}{_LEASE_MARK}{expiry}.{os.getpid()}.{self._host}"
            try:
                os.rename(self.directory / entry.name, self.directory / leased)
            except FileNotFoundError:
                continue  # another process leased or finished it first
            try:
                body = _read_own_file(self.directory / leased)
            except _NotARegularFile:
                os.rename(self.directory / leased, self.directory / f"{_REFUSED_PREFIX}{entry.base}")
                _logger.warning("A spool entry that is not a regular file of this user was set aside: %s", entry.base)
                continue
            except OSError:
                with contextlib.suppress(OSError):
                    os.rename(self.directory / leased, self.directory / entry.base)
                raise
            return SpooledBody(key=leased, runs=entry.runs, body=body)
        return None

    def finish(self, item: SpooledBody) -> None:
        """The body was delivered, or refused for good: it leaves the spool."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.directory / item.key)

    def release(self, item: SpooledBody) -> None:
        """The body could not be sent now: it goes back for a later attempt, by any process."""
        with contextlib.suppress(FileNotFoundError):  # the lease expired and someone else took it
            os.rename(self.directory / item.key, self.directory / _ready_name(item.key))

    def state(self) -> SpoolState:
        entries = self._entries()
        now = time.time_ns()
        return SpoolState(
            where=str(self.directory),
            bodies=len(entries),
            runs=sum(entry.runs for entry in entries),
            size_bytes=sum(entry.size for entry in entries),
            leased=sum(1 for entry in entries if self._is_held(entry)),
            oldest_age_seconds=(now - entries[0].created_ns) / 1e9 if entries else None,
        )


class MemorySpool:
    """Bodies in memory, oldest first, within a size and an age cap; gone when the process ends."""

    def __init__(self, config: SpoolConfig, count_drop: DropCounter) -> None:
        self._max_bytes = min(config.max_bytes, _MEMORY_MAX_BYTES)
        self._max_age_ns = int(config.max_age_seconds * 1e9)
        self._count_drop = count_drop
        self._waiting: collections.deque[tuple[int, SpooledBody]] = collections.deque()
        self._leased: dict[str, tuple[int, SpooledBody]] = {}
        self._size = 0

    def put(self, body: bytes, runs: int) -> None:
        item = SpooledBody(key=secrets.token_hex(8), runs=runs, body=body)
        self._waiting.append((time.time_ns(), item))
        self._size += len(body)
        self._enforce_caps()

    def has_waiting(self) -> bool:
        return bool(self._waiting)

    def take_oldest(self) -> tuple[int, SpooledBody] | None:
        """The oldest body not being sent, with when it was put, taken out (to move it to disk)."""
        self._enforce_caps()
        if not self._waiting:
            return None
        created, item = self._waiting.popleft()
        self._size -= len(item.body)
        return created, item

    def put_back_oldest(self, created_ns: int, item: SpooledBody) -> None:
        """A body ``take_oldest`` gave that could not be moved goes back in its place."""
        self._waiting.appendleft((created_ns, item))
        self._size += len(item.body)

    def _enforce_caps(self) -> None:
        now = time.time_ns()
        while self._waiting and (self._size > self._max_bytes or now - self._waiting[0][0] > self._max_age_ns):
            created, item = self._waiting.popleft()
            self._size -= len(item.body)
            reason = DropReason.SPOOL_EXPIRED if now - created > self._max_age_ns else DropReason.SPOOL_FULL
            self._count_drop(reason, item.runs)

    def claim(self) -> SpooledBody | None:
        self._enforce_caps()
        if not self._waiting:
            return None
        created, item = self._waiting.popleft()
        self._leased[item.key] = (created, item)
        return item

    def finish(self, item: SpooledBody) -> None:
        if self._leased.pop(item.key, None) is not None:
            self._size -= len(item.body)

    def release(self, item: SpooledBody) -> None:
        held = self._leased.pop(item.key, None)
        if held is not None:
            self._waiting.appendleft(held)

    def drain(self) -> int:
        """Forget everything (the process is ending); the number of runs that were still waiting."""
        runs = sum(item.runs for _, item in self._waiting) + sum(item.runs for _, item in self._leased.values())
        self._waiting.clear()
        self._leased.clear()
        self._size = 0
        return runs

    def state(self, problem: str | None = None) -> SpoolState:
        now = time.time_ns()
        return SpoolState(
            where=MEMORY,
            bodies=len(self._waiting) + len(self._leased),
            runs=sum(item.runs for _, item in self._waiting) + sum(item.runs for _, item in self._leased.values()),
            size_bytes=self._size,
            leased=len(self._leased),
            oldest_age_seconds=(now - self._waiting[0][0]) / 1e9 if self._waiting else None,
            problem=problem,
        )


_DISK_RETRY_SECONDS = 5.0
"""While the disk refuses bodies (full, read-only, gone), how often it is tried again: a failed write costs
little, and bodies held in memory go back to disk within seconds of the space returning."""
_MOVE_BATCH = 64
"""Bodies moved from memory back to disk at one look: writes are synchronous on the exporter's loop, where
exports wait, so a large backlog moves a batch at a time (all of it at exit)."""


class Spool:
    """The disk when it can be used, memory while it cannot; never an exception to the caller,
    unless it refuses when full (the gateway's spool), which raises instead of dropping or forgetting.

    A disk that refuses a write (full, read-only, removed) is tried again every few seconds, on the way
    in and on the resend path; once it takes a body again, what memory held goes back to it, and at exit
    what is still in memory is written there if it has room. Bodies on disk are resent all along: taking
    and removing them needs no room. A directory that cannot be trusted (another user's, or open to
    others), or no directory at all, is never used again by this process.

    Used from the exporter's event loop only, so it needs no lock within a
    process; across processes the disk's renames do the locking.
    """

    def __init__(
        self, config: SpoolConfig, directory: Path | None, lease_seconds: float, count_drop: DropCounter
    ) -> None:
        self._config = config
        self._directory = directory
        self._lease_seconds = lease_seconds
        self._count_drop = count_drop
        self._memory = MemorySpool(config, count_drop)
        self._disk: DiskSpool | None = None
        self._refuse_when_full = config.refuse_when_full
        self._never_disk = False
        """No directory, or one that cannot be trusted: memory only, for as long as this process lives."""
        self._retry_at = 0.0
        """While ``problem`` is set (and the disk may come back), when the disk may be tried again."""
        self._said = False
        self.problem: str | None = None
        # The owner of a spool that refuses when full (the gateway) will not start without the disk,
        # and says why in its own error: a warning here would be a second, contradicting line.
        quiet = self._refuse_when_full
        if directory is None:
            self._never_disk = True
            self.problem = NO_LOCATION
            _logger.log(
                logging.DEBUG if quiet else logging.WARNING,
                "The Dynamiq exporter found no writable directory for its spool (%s are missing or read-only); "
                "undelivered runs wait in memory instead and are lost if the process ends; set %s to a writable "
                "directory",
                SPOOL_LOCATIONS,
                SPOOL_DIR_VARIABLE,
            )
        else:
            self._open_disk(quiet)

    def _open_disk(self, quiet: bool = False) -> DiskSpool | None:
        assert self._directory is not None
        try:
            self._disk = DiskSpool(self._directory, self._config, self._lease_seconds, self._count_drop)
        except OSError as exc:
            self._failed(exc, quiet)
        return self._disk

    def _failed(self, exc: OSError, quiet: bool = False) -> None:
        """Say why (a warning the first time only), and use memory until the disk is tried again."""
        self.problem = _problem(exc)
        if isinstance(exc, SpoolUnavailableError):  # swapped or opened up: never read from it or write to it again
            self._never_disk = True
            self._disk = None
        self._retry_at = time.monotonic() + _DISK_RETRY_SECONDS
        if self._refuse_when_full:  # no memory to fall back on: bodies are refused, and their senders keep them
            consequence = "runs it cannot deliver at once are refused until that is fixed"
        elif self._never_disk:
            consequence = "undelivered runs wait in memory instead and are lost if the process ends"
        else:
            consequence = (
                "undelivered runs wait in memory and go back to disk when it takes them again; "
                "they are lost if the process ends first"
            )
        first = not self._said and not quiet
        self._said = self._said or first
        _logger.log(
            logging.WARNING if first else logging.DEBUG,
            "The Dynamiq exporter cannot use its disk spool (%s); %s",
            self.problem,
            consequence,
        )

    def _writable_disk(self) -> DiskSpool | None:
        """The disk spool if a body may be written to it now: it works, or it failed and is due a new try."""
        if self._never_disk:
            return None
        if self.problem is not None:
            now = time.monotonic()
            if now < self._retry_at:
                return None
            self._retry_at = now + _DISK_RETRY_SECONDS
            if self._disk is None:
                return self._open_disk()
        return self._disk

    def _write(self, disk: DiskSpool, body: bytes, runs: int, created_ns: int | None = None) -> bool:
        """Put a body on disk; False when the disk refused it (said, and tried again later)."""
        try:
            disk.put(body, runs, created_ns)
        except OSError as exc:
            if self._refuse_when_full:
                raise
            self._failed(exc)
            return False
        if self.problem is not None:
            self.problem = None
            _logger.info("The Dynamiq exporter's disk spool takes bodies again; runs held in memory go back to it")
        return True

    def _move_memory_to(self, disk: DiskSpool, limit: int | None) -> None:
        """Bodies memory holds go to disk, oldest first, keeping their age, until it refuses one."""
        moved = 0
        while limit is None or moved < limit:
            oldest = self._memory.take_oldest()
            if oldest is None:
                return
            created_ns, item = oldest
            if not self._write(disk, item.body, item.runs, created_ns):
                self._memory.put_back_oldest(created_ns, item)
                return
            moved += 1

    def put(self, body: bytes, runs: int) -> None:
        """Raises SpoolFullError or OSError when the spool refuses when full; falls back to memory otherwise."""
        disk = self._writable_disk()
        if disk is not None:
            if self._write(disk, body, runs):
                if self._memory.has_waiting():  # the disk came back: what memory held follows
                    self._move_memory_to(disk, _MOVE_BATCH)
                return
        elif self._refuse_when_full:
            raise SpoolUnavailableError(f"the disk spool cannot be used: {self.problem}")
        self._memory.put(body, runs)

    def claim(self) -> SpooledBody | None:
        if self._memory.has_waiting():
            disk = self._writable_disk()
            if disk is not None:
                self._move_memory_to(disk, _MOVE_BATCH)
        item = self._memory.claim()
        if item is not None or self._disk is None:
            return item
        try:
            return self._disk.claim()  # while writes fail too: taking a body needs no room
        except SpoolUnavailableError as exc:  # swapped or opened up since start: never read from it again
            self._failed(exc)
            return None
        except OSError as exc:
            _logger.debug("Could not take a body from the spool: %s", exc)
            return None

    def _owner(self, item: SpooledBody) -> DiskSpool | MemorySpool:
        return self._disk if self._disk is not None and _LEASE_MARK in item.key else self._memory

    def finish(self, item: SpooledBody) -> None:
        try:
            self._owner(item).finish(item)
        except OSError as exc:
            _logger.debug("Could not remove a delivered body from the spool: %s", exc)

    def release(self, item: SpooledBody) -> None:
        try:
            self._owner(item).release(item)
        except OSError as exc:
            _logger.debug("Could not return a body to the spool: %s", exc)

    def write_memory_to_disk(self) -> None:
        """The process may end at any moment (a signal, a worker's exit): what memory holds goes to disk now
        if the disk takes it, however recently it refused."""
        if self._memory.has_waiting():
            self._retry_at = 0.0
            disk = self._writable_disk()
            if disk is not None:
                self._move_memory_to(disk, limit=None)

    def settle_memory(self) -> int:
        """The process is ending: what memory holds goes to disk if it takes it now; the rest is forgotten.
        The number of runs forgotten."""
        self.write_memory_to_disk()
        return self._memory.drain()

    def state(self) -> SpoolState:
        if self._disk is None:
            return self._memory.state(self.problem)
        try:
            disk = self._disk.state()
        except OSError as exc:
            return SpoolState(str(self._disk.directory), 0, 0, 0, 0, None, f"{type(exc).__name__}: {exc}")
        memory = self._memory.state()
        return SpoolState(
            where=disk.where,
            bodies=disk.bodies + memory.bodies,
            runs=disk.runs + memory.runs,
            size_bytes=disk.size_bytes + memory.size_bytes,
            leased=disk.leased + memory.leased,
            oldest_age_seconds=max(filter(None, (disk.oldest_age_seconds, memory.oldest_age_seconds)), default=None),
            problem=self.problem,
        )


def _problem(exc: OSError) -> str:
    return str(exc) if isinstance(exc, SpoolUnavailableError) else f"{type(exc).__name__}: {exc}"


def inspect_spool(config: ExporterConfig) -> SpoolState | None:
    """The spool's state for this configuration, without resending or dropping anything; None when off."""
    if config.spool is None:
        return None
    directory = spool_directory(config)
    if directory is None:
        return SpoolState(MEMORY, 0, 0, 0, 0, None, problem=NO_LOCATION)
    try:
        return DiskSpool(directory, config.spool, MIN_LEASE_SECONDS, lambda _reason, _runs: None).state()
    except OSError as exc:
        return SpoolState(MEMORY, 0, 0, 0, 0, None, problem=_problem(exc))
