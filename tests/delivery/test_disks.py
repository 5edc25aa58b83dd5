"""Read-only and full disks, as containers have them: the application starts, and no run is lost or sent twice.

Each program runs in a private mount namespace (see ``tests/support/mounts.py``): ``/tmp`` and
``/var/tmp`` read-only, as with a read-only root filesystem, or a tmpfs of 2 MiB as the spool that
fills up and is freed again while the program runs. Every test counts, by run id, what the local
collector received.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otel_dynamiq import environment_variables as env
from otel_dynamiq.collector import LocalCollector
from tests.support.common import FAKE_KEY, wait_for
from tests.support.mounts import (
    app_command,
    in_private_mounts,
    read_only_temporary_directories,
    require_private_mounts,
    small_disk,
)
from tests.support.processes import ROOT, clean_env
from tests.support.servers import free_port

NO_LOCATION = "found no writable directory for its spool"


@pytest.fixture(autouse=True)
def _private_mounts() -> None:
    require_private_mounts()


def app_environment(url: str, spool_dir: Path | None) -> dict[str, str]:
    environment = clean_env(
        DYNAMIQ_ACCESS_KEY=FAKE_KEY,
        OTEL_EXPORTER_DYNAMIQ_ENDPOINT=url,
        OTEL_EXPORTER_DYNAMIQ_TIMEOUT="1",
        PYTHONPATH=str(ROOT),
        PYTHONDONTWRITEBYTECODE="1",
    )
    for variable in ("TMPDIR", "TEMP", "TMP", env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR):
        environment.pop(variable, None)
    if spool_dir is not None:
        environment[env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR] = str(spool_dir)
    return environment


class App:
    """A program in its own mount namespace, talked to one JSON line at a time."""

    def __init__(self, script: str, environment: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            in_private_mounts(script),
            env=environment,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=30)
            raise AssertionError(f"the app ended early: {self.stderr()}")
        return dict(json.loads(line))

    def tell(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def finish(self) -> str:
        """Wait for the end; its stderr."""
        assert self.process.wait(timeout=120) == 0, self.stderr()
        return self.stderr()

    def stderr(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def own_view(self, path: Path) -> Path:
        """The path as this process sees it, in its own mounts."""
        return Path(f"/proc/{self.process.pid}/root") / path.relative_to("/")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.fixture
def apps() -> Iterator[list[App]]:
    started: list[App] = []
    yield started
    for app in started:
        app.kill()


def start(apps: list[App], script: str, environment: dict[str, str], cwd: Path = ROOT) -> App:
    app = App(script, environment, cwd)
    apps.append(app)
    return app


def delivered_once(collector: LocalCollector, run_ids: list[str]) -> None:
    wait_for(lambda: collector.store.delivery_counts().keys() >= set(run_ids), timeout=60)
    counts = collector.store.delivery_counts()
    assert {run_id: counts[run_id] for run_id in run_ids} == dict.fromkeys(run_ids, 1)


def bodies(directory: Path) -> dict[str, int]:
    """The spooled bodies under a directory, with the runs each holds (named ``<time>-<runs>-...json``)."""
    return {path.name: int(path.name.split("-")[1]) for path in directory.rglob("*.json*") if path.is_file()}


# /tmp and /var/tmp read-only


def test_a_writable_spool_dir_is_used_when_the_temporary_directories_are_read_only(
    apps: list[App], tmp_path: Path
) -> None:
    """The application starts (no traceback), its runs wait in the spool dir, and the next process delivers them."""
    spool_dir, read_only_cwd = tmp_path / "volume", tmp_path / "app"
    spool_dir.mkdir(mode=0o700)
    read_only_cwd.mkdir()
    port = free_port()
    environment = app_environment(f"http://127.0.0.1:{port}", spool_dir)
    mounts = read_only_temporary_directories(writable=[spool_dir])

    first = start(apps, f"{mounts}\nexec {app_command(['export', '3'])}", environment, cwd=read_only_cwd)
    exported = first.read()
    counts = first.read()
    errors = first.finish()
    assert "Traceback" not in errors and "No usable temporary directory" not in errors
    assert counts == {"sent": 0, "spooled": 3, "resent": 0, "dropped": {}}
    assert sum(bodies(spool_dir).values()) == 3

    with LocalCollector(port=port, access_key=FAKE_KEY) as collector:
        second = start(apps, f"{mounts}\nexec {app_command(['resend'])}", environment, cwd=read_only_cwd)
        assert second.read()["resent"] == 3
        second.finish()
        delivered_once(collector, exported["run_ids"])
    assert bodies(spool_dir) == {}


def test_with_no_writable_location_runs_wait_in_memory_with_one_line_said(apps: list[App], tmp_path: Path) -> None:
    """No spool setting, and nowhere to write: one line on stderr, then runs held in memory until the service is up."""
    read_only_cwd = tmp_path / "app"
    read_only_cwd.mkdir()
    port = free_port()
    script = f"{read_only_temporary_directories()}\nexec {app_command(['export', '3', '--hold'])}"
    app = start(apps, script, app_environment(f"http://127.0.0.1:{port}", None), cwd=read_only_cwd)
    exported = app.read()
    assert (exported["where"], exported["spool_runs"], exported["on_disk_runs"]) == ("memory", 3, 0)
    with LocalCollector(port=port, access_key=FAKE_KEY) as collector:
        app.tell()
        assert app.read() == {"sent": 3, "spooled": 3, "resent": 3, "dropped": {}}
        app.tell()
        app.read()
        errors = app.finish()
        delivered_once(collector, exported["run_ids"])
    (said,) = [line for line in errors.splitlines() if NO_LOCATION in line]  # one line, and no traceback
    assert "Traceback" not in errors
    assert "OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR" in said and "memory" in said


def test_with_no_writable_location_runs_are_delivered_and_nothing_is_made_in_the_working_directory(
    apps: list[App], tmp_path: Path
) -> None:
    """A writable working directory is never where the spool goes: the next process, started elsewhere, would
    never find it."""
    writable_cwd = tmp_path / "app"
    writable_cwd.mkdir()
    with LocalCollector(access_key=FAKE_KEY) as collector:
        mounts = read_only_temporary_directories(writable=[writable_cwd])
        script = f"{mounts}\nexec {app_command(['export', '4'])}"
        app = start(apps, script, app_environment(collector.url, None), cwd=writable_cwd)
        exported = app.read()
        assert app.read() == {"sent": 4, "spooled": 0, "resent": 0, "dropped": {}}
        errors = app.finish()
        delivered_once(collector, exported["run_ids"])
    assert list(writable_cwd.iterdir()) == []
    assert errors.count(NO_LOCATION) == 1, errors


# A spool on a small disk that fills up and is freed again


SMALL_DISK_KIB = 2048
PAYLOAD = 10_000
SPANS = 60
LEFT_KIB = 256
"""About 650 KiB of bodies (60 of 10 kB): more than the room the ballast leaves, far less than the memory cap."""


def ballast(disk: Path) -> str:
    """A shell line filling the disk but for ``LEFT_KIB``, as another program's files would."""
    return f"head -c {(SMALL_DISK_KIB - LEFT_KIB) * 1024} /dev/zero > {shlex.quote(str(disk / 'ballast'))}"


def test_a_spool_that_fills_up_goes_back_to_disk_when_freed_and_loses_nothing(apps: list[App], tmp_path: Path) -> None:
    disk = tmp_path / "small-disk"
    disk.mkdir(mode=0o700)
    port = free_port()
    script = "\n".join(
        [
            small_disk(disk, SMALL_DISK_KIB),
            ballast(disk),
            f"exec {app_command(['export', str(SPANS), '--payload', str(PAYLOAD), '--hold'])}",
        ]
    )
    app = start(apps, script, app_environment(f"http://127.0.0.1:{port}", disk))
    exported = app.read()
    assert exported["spool_runs"] == SPANS
    assert 0 < exported["on_disk_runs"] < SPANS  # the disk filled up: the others wait in memory
    seen = app.own_view(disk)

    (seen / "ballast").unlink()  # space comes back while the service is still out
    wait_for(lambda: sum(bodies(seen).values()) == SPANS, timeout=60)  # what memory held went back to disk

    with LocalCollector(port=port, access_key=FAKE_KEY) as collector:
        app.tell()
        assert app.read() == {"sent": SPANS, "spooled": SPANS, "resent": SPANS, "dropped": {}}
        delivered_once(collector, exported["run_ids"])
        assert bodies(seen) == {}  # nothing stranded on disk
        app.tell()
        assert app.read()["dropped"] == {}
        errors = app.finish()
    assert errors.count("cannot use its disk spool") == 1, errors
    assert "No space left on device" in errors


def test_runs_held_in_memory_are_written_to_disk_at_exit_once_it_has_room(apps: list[App], tmp_path: Path) -> None:
    """The disk fills while the service is out, then is freed; the process exits before it looked again."""
    disk = tmp_path / "small-disk"
    disk.mkdir(mode=0o700)
    port = free_port()
    environment = app_environment(f"http://127.0.0.1:{port}", disk)
    script = "\n".join(
        [
            small_disk(disk, SMALL_DISK_KIB),
            ballast(disk),
            app_command(["export", str(SPANS), "--payload", str(PAYLOAD), "--then-exit"]),
            "read line",  # the next process starts once the service is up
            f"exec {app_command(['resend'])}",
        ]
    )
    app = start(apps, script, environment)
    exported = app.read()
    assert 0 < exported["on_disk_runs"] < SPANS
    (app.own_view(disk) / "ballast").unlink()
    app.tell()
    assert app.read() == {"sent": 0, "spooled": SPANS, "resent": 0, "dropped": {}}  # none lost at exit

    with LocalCollector(port=port, access_key=FAKE_KEY) as collector:
        app.tell()
        assert app.read()["resent"] == SPANS
        app.finish()
        delivered_once(collector, exported["run_ids"])
