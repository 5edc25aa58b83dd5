"""The gateway starts only on a disk spool, asking its exporter through the exporter's API.

A 200 from the gateway promises the runs are delivered or on disk. It asks
``exporter.spool_state()`` where the spool is, and refuses to start, saying
what to set, when that is not a disk it may use. Its spool refuses bodies when
full, a mode only the gateway gets: the public constructor has no such argument.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from otel_dynamiq import DynamiqSpanExporter
from otel_dynamiq import environment_variables as env
from otel_dynamiq import exporter as exporter_module
from otel_dynamiq.collector import LocalCollector
from otel_dynamiq.gateway import Gateway
from tests.support.processes import BIN, ROOT, clean_env


@pytest.fixture
def collector_behind(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCollector]:
    with LocalCollector() as collector:
        monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_ENDPOINT, collector.url)
        yield collector


def exporter_threads(settle_seconds: float = 0.0) -> set[str]:
    """The exporters' threads alive now, or once they have had ``settle_seconds`` to end."""
    deadline = time.monotonic() + settle_seconds
    while True:
        alive = {thread.name for thread in threading.enumerate() if thread.name.startswith("otel-dynamiq-exporter")}
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.05)


def opened_to_others(base: Path) -> Path:
    base.mkdir(mode=0o700)
    opened = base / "spool"
    opened.mkdir()
    opened.chmod(0o777)  # as in a shared /tmp where someone else could plant bodies
    return opened


def a_file(base: Path) -> Path:
    base.mkdir(mode=0o700)
    taken = base / "spool"
    taken.write_text("not a directory")
    return taken


@pytest.mark.parametrize(
    ("unusable", "problem"),
    [(opened_to_others, "is writable by other users"), (a_file, "FileExistsError")],
    ids=["writable by others", "a file"],
)
def test_a_spool_that_cannot_be_on_disk_stops_the_gateway_saying_what_to_set(
    collector_behind: LocalCollector, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, unusable: object, problem: str
) -> None:
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR, str(unusable(tmp_path / "base")))  # type: ignore[operator]
    before = exporter_threads()
    with pytest.raises(ValueError) as refused:
        Gateway(port=0, grpc_port=None)
    message = str(refused.value)
    assert "the disk spool cannot be used" in message and problem in message
    assert "OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR" in message
    assert exporter_threads(settle_seconds=5) <= before  # its exporter was shut down, not left running


def test_the_command_refuses_an_unusable_spool_in_one_line_and_promises_no_memory_spool(tmp_path: Path) -> None:
    """The gateway's spool never falls back to memory (it refuses instead), so nothing may say runs wait there."""
    environment = clean_env(
        **{env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR: str(opened_to_others(tmp_path / "base")), env.DYNAMIQ_ACCESS_KEY: "k"}
    )
    done = subprocess.run(
        [str(BIN / "otel-dynamiq"), "gateway", "--port", "0", "--grpc-port", "0"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("otel-dynamiq: the gateway answers 200 only for runs delivered or on disk")
    assert "in memory" not in done.stderr


def test_the_exporter_says_whether_its_spool_is_on_disk(
    exporters: list[DynamiqSpanExporter], collector_behind: LocalCollector, tmp_path: Path
) -> None:
    usable = DynamiqSpanExporter(spool_dir=tmp_path / "usable")
    unusable = DynamiqSpanExporter(spool_dir=opened_to_others(tmp_path / "base"))
    off = DynamiqSpanExporter(spool=False)
    exporters += [usable, unusable, off]
    usable_state, unusable_state = usable.spool_state(), unusable.spool_state()
    assert usable_state is not None and usable_state.on_disk and usable_state.problem is None
    assert usable_state.where.startswith(str(tmp_path / "usable"))
    assert unusable_state is not None and not unusable_state.on_disk
    assert unusable_state.problem is not None and "writable by other users" in unusable_state.problem
    assert off.spool_state() is None


def test_the_gateways_exporter_arms_no_process_end_flush(
    collector_behind: LocalCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway ends its own process (SIGTERM drains, then shuts the exporter down): its exporter, built by
    ``DynamiqSpanExporter.from_config``, installs no signal handler of its own, as it never has."""
    armed: list[float] = []
    monkeypatch.setattr(exporter_module, "flush_at_process_end", lambda timeout, finish=None: armed.append(timeout))
    with Gateway(port=0, grpc_port=None) as gateway:
        exporter = gateway._exporter
        assert isinstance(exporter, DynamiqSpanExporter)
        assert not exporter.config.flush_on_exit
    assert armed == []
    exporter_module.DynamiqSpanExporter(spool=False).shutdown()  # the same patch sees an application's exporter arm
    assert len(armed) == 1


def test_only_the_gateway_gets_a_spool_that_refuses_when_full(collector_behind: LocalCollector) -> None:
    with pytest.raises(TypeError, match="spool_refuse_when_full"):
        DynamiqSpanExporter(spool_refuse_when_full=True)  # type: ignore[call-arg]
    with Gateway(port=0, grpc_port=None) as gateway:
        exporter = gateway._exporter
        assert isinstance(exporter, DynamiqSpanExporter)
        assert exporter.config.spool is not None and exporter.config.spool.refuse_when_full
        state = exporter.spool_state()
        assert state is not None and state.on_disk
        assert httpx.get(f"{gateway.http_url}/healthz").json()["status"] == "serving"
