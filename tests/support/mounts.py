"""Processes that see other disks than the test: read-only temporary directories, a small full disk.

Each runs in a private mount namespace (``unshare --mount --propagation private``, which needs root),
so what it mounts is seen by it alone and is gone when it ends: nothing on the machine changes.
The paths stay the same inside and out, so a test reads what the process wrote where it wrote it
(and a tmpfs of the process's own, through ``/proc/<pid>/root``).
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

TEMPORARY_DIRECTORIES = ("/tmp", "/var/tmp")


@functools.cache
def _why_no_private_mounts() -> str | None:
    if not hasattr(os, "getuid") or os.getuid() != 0:
        return "mounting in a private mount namespace needs root"
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "needs unshare and mount (util-linux)"
    probe = subprocess.run(
        in_private_mounts(read_only_temporary_directories()),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        return f"unshare or mount was refused here: {probe.stderr.strip()[:200]}"
    return None


def require_private_mounts() -> None:
    """Skip the calling test, saying why, where a private mount namespace cannot be made."""
    reason = _why_no_private_mounts()
    if reason is not None:
        pytest.skip(reason)


def read_only_temporary_directories(writable: Sequence[Path] = ()) -> str:
    """Shell lines making ``/tmp`` and ``/var/tmp`` read-only, as in a container with a read-only root,
    all but ``writable`` (directories under them that stay writable, as a volume mounted there would)."""
    lines = ["set -e"]
    for directory in TEMPORARY_DIRECTORIES:
        lines += [f"mount --bind {directory} {directory}", f"mount -o remount,bind,ro {directory}"]
    for path in writable:
        quoted = shlex.quote(str(path))
        lines += [f"mount --bind {quoted} {quoted}", f"mount -o remount,bind,rw {quoted}"]
    return "\n".join(lines)


def small_disk(path: Path, size_kib: int) -> str:
    """Shell lines mounting a tmpfs of ``size_kib`` KiB at ``path``: a disk that fills up quickly."""
    return f"mount -t tmpfs -o size={size_kib}k,mode=0700 tmpfs {shlex.quote(str(path))}"


def app_command(arguments: Sequence[str]) -> str:
    """The shell command that runs ``python -m tests.apps.disk_app`` with these arguments, with this interpreter."""
    return shlex.join([sys.executable, "-m", "tests.apps.disk_app", *arguments])


def in_private_mounts(script: str) -> list[str]:
    """The command that runs the shell script in a private mount namespace; its pid is the shell's (no fork)."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
