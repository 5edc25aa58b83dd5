"""The disk spool: what goes in, what never does, who may resend it, and what happens when the disk fails."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_dynamiq import DynamiqSpanExporter
from otel_dynamiq import environment_variables as env
from otel_dynamiq._config import SpoolConfig
from otel_dynamiq._delivery.spool import DiskSpool, SpoolFullError, _host_tag, identity_directory
from otel_dynamiq._translation.span_to_run import run_uuid
from otel_dynamiq.collector import LocalCollector
from tests.support.common import FAKE_KEY, wait_for
from tests.support.runs import make_spans
from tests.support.servers import Hang, Recorded, Reply, ScriptedServer, free_port


def run_ids(spans: Sequence[ReadableSpan]) -> set[str]:
    return {run_uuid(span.context.trace_id, span.context.span_id) for span in spans}


def spool_files(base: Path) -> list[Path]:
    return sorted(path for path in base.rglob("*") if path.is_file())


def only_spooled_file(base: Path) -> tuple[Path, os.stat_result, bytes]:
    """The one spooled file, its stat and its bytes, read between the loop's resend attempts: an attempt
    renames the file to lease it and back when the service still does not answer."""
    files: list[Path] = []
    for _ in range(200):
        files = spool_files(base)
        if len(files) != 1:  # a listing taken while a lease was renamed may miss the file
            continue
        try:
            return files[0], files[0].stat(), files[0].read_bytes()
        except FileNotFoundError:
            continue
    raise AssertionError(f"no single spooled file stayed put long enough to be read: {files}")


@pytest.fixture
def spool_base() -> Path:
    return Path(os.environ[env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR])


def exporter_at(made: list[DynamiqSpanExporter], url: str, **kwargs: object) -> DynamiqSpanExporter:
    settings: dict[str, object] = {"access_key": FAKE_KEY, "timeout": 1, **kwargs}
    exporter = DynamiqSpanExporter(endpoint=url, **settings)  # type: ignore[arg-type]
    made.append(exporter)
    return exporter


def test_runs_the_service_cannot_take_wait_on_disk_then_arrive_once(
    exporters: list[DynamiqSpanExporter], spool_base: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    reader = InMemoryMetricReader()
    exporter = exporter_at(
        exporters, url, spool_dir=str(spool_base / "made-by-the-exporter"), meter_provider=MeterProvider([reader])
    )
    spans = make_spans(3, payload="kept for later")
    assert exporter.export(spans) is SpanExportResult.SUCCESS  # kept, not lost
    assert exporter.stats.runs_spooled == 3 and exporter.stats.runs_dropped_total == 0

    spooled, file_stat, content = only_spooled_file(spool_base)
    # What the loop says and what a monitor reads from the disk (the gateway's, every second) agree.
    from_loop, from_disk = exporter.spool_state(), exporter.spool_state(from_disk=True)
    assert from_loop is not None and from_disk is not None
    assert (from_loop.runs, from_loop.size_bytes) == (from_disk.runs, from_disk.size_bytes) == (3, file_stat.st_size)
    assert stat.S_IMODE(file_stat.st_mode) == 0o600
    assert stat.S_IMODE(spooled.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((spool_base / "made-by-the-exporter").stat().st_mode) == 0o700
    assert b"kept for later" in content
    assert FAKE_KEY.encode() not in content and b"Bearer" not in content  # the body only, never the key

    with LocalCollector(port=port, access_key=FAKE_KEY) as collector:
        wait_for(lambda: collector.store.delivery_counts().keys() >= run_ids(spans))
        wait_for(lambda: exporter.stats.runs_resent == 3)
        assert set(collector.store.delivery_counts().values()) == {1}
    assert spool_files(spool_base) == []
    assert exporter.stats.runs_sent == 3
    published = {
        metric.name: metric.data.data_points[0].value  # type: ignore[union-attr]
        for resource_metrics in reader.get_metrics_data().resource_metrics  # type: ignore[union-attr]
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
        if metric.data.data_points
    }
    assert published["otel_dynamiq.exporter.runs.spooled"] == 3
    assert published["otel_dynamiq.exporter.runs.resent"] == 3
    assert "wait in the spool" in caplog.text and "Resent 3 spooled Dynamiq runs" in caplog.text
    assert FAKE_KEY not in caplog.text  # at DEBUG, through spooling and resending


def test_the_next_process_with_the_same_endpoint_and_key_resends(
    exporters: list[DynamiqSpanExporter], spool_base: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = exporter_at(exporters, url)
    spans = make_spans(2)
    first.export(spans)
    first.shutdown()
    assert len(spool_files(spool_base)) == 1

    with LocalCollector(port=port, access_key=FAKE_KEY) as collector:
        other_key = DynamiqSpanExporter(endpoint=url, access_key="another-key", timeout=1)
        exporters.append(other_key)
        assert other_key.spool_state() is not None and other_key.spool_state().runs == 0  # type: ignore[union-attr]
        assert len(spool_files(spool_base)) == 1  # not its to send

        second = exporter_at(exporters, url)  # no export call: starting is enough
        wait_for(lambda: collector.store.delivery_counts().keys() == run_ids(spans))
        wait_for(lambda: second.stats.runs_resent == 2)
    assert spool_files(spool_base) == []


@pytest.mark.parametrize(
    ("status", "runs", "reason"),
    [(400, 2, "rejected"), (401, 2, "rejected"), (403, 2, "rejected"), (413, 1, "too_large")],
)
def test_final_refusals_are_dropped_never_spooled(
    exporters: list[DynamiqSpanExporter],
    spool_base: Path,
    caplog: pytest.LogCaptureFixture,
    status: int,
    runs: int,
    reason: str,
) -> None:
    caplog.set_level(logging.WARNING, logger="otel_dynamiq")
    with ScriptedServer(Reply(status, body=b'{"detail": "no"}')) as server:
        exporter = exporter_at(exporters, server.url)
        assert exporter.export(make_spans(runs)) is SpanExportResult.FAILURE
        assert exporter.export(make_spans(runs)) is SpanExportResult.FAILURE
    assert exporter.stats.runs_dropped == {reason: 2 * runs}
    assert exporter.stats.runs_spooled == 0
    assert spool_files(spool_base) == []
    warnings = [record.getMessage() for record in caplog.records if record.name.startswith("otel_dynamiq")]
    assert len(warnings) == 1 and f"HTTP {status}" in warnings[0]
    if status in (401, 403):
        assert "the access key was refused" in warnings[0]
    assert FAKE_KEY not in caplog.text


def test_runs_still_in_flight_at_shutdown_are_spooled(exporters: list[DynamiqSpanExporter], spool_base: Path) -> None:
    with ScriptedServer(Hang()) as server:
        exporter = exporter_at(exporters, server.url, timeout=60)
        exporting = threading.Thread(target=exporter.export, args=(make_spans(4),))
        exporting.start()
        wait_for(lambda: server.requests)
        exporter.shutdown(timeout_millis=500)
        exporting.join(timeout=30)
        assert not exporting.is_alive()
    assert exporter.stats.runs_spooled == 4 and exporter.stats.runs_dropped_total == 0
    assert len(spool_files(spool_base)) == 1


def test_the_spool_can_be_turned_off(
    exporters: list[DynamiqSpanExporter], spool_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_SPOOL, "false")
    exporter = exporter_at(exporters, f"http://127.0.0.1:{free_port()}")
    assert exporter.export(make_spans(2)) is SpanExportResult.FAILURE
    assert exporter.stats.runs_dropped == {"timeout": 2}
    assert exporter.spool_state() is None
    assert spool_files(spool_base) == []


def test_a_spool_directory_writable_by_others_is_refused_and_memory_used(
    exporters: list[DynamiqSpanExporter], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="otel_dynamiq")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    port = free_port()
    exporter = exporter_at(exporters, f"http://127.0.0.1:{port}", spool_dir=str(shared))
    spans = make_spans(2)
    exporter.export(spans)
    exporter.export(make_spans(1))
    state = exporter.spool_state()
    assert state is not None and state.where == "memory" and state.runs == 3
    assert state.problem is not None and "writable by other users" in state.problem
    assert list(shared.iterdir()) == []
    spool_warnings = [record for record in caplog.records if "cannot use its disk spool" in record.getMessage()]
    assert len(spool_warnings) == 1

    with LocalCollector(port=port, access_key=FAKE_KEY) as collector:
        wait_for(lambda: collector.store.delivery_counts().keys() >= run_ids(spans))
        wait_for(lambda: exporter.stats.runs_resent == 3)


def refusal_of(exporters: list[DynamiqSpanExporter], spool_dir: Path) -> str:
    """Export one span to a service that is out with this spool directory; why the disk was refused."""
    exporter = exporter_at(exporters, f"http://127.0.0.1:{free_port()}", spool_dir=str(spool_dir))
    exporter.export(make_spans(1))
    state = exporter.spool_state()
    assert state is not None and state.where == "memory" and state.runs == 1
    assert state.problem is not None
    return state.problem


needs_root = pytest.mark.skipif(
    not hasattr(os, "getuid") or os.getuid() != 0, reason="giving a directory or a link to another user needs root"
)


@needs_root
def test_a_spool_directory_planted_by_another_user_is_refused(
    exporters: list[DynamiqSpanExporter], tmp_path: Path
) -> None:
    planted = tmp_path / "otel-dynamiq-0"  # as another user could create it first in a shared /tmp
    planted.mkdir(mode=0o700)
    os.chown(planted, 65534, 65534)
    assert "belongs to another user" in refusal_of(exporters, planted)
    assert list(planted.iterdir()) == []


@needs_root
def test_a_link_another_user_planted_is_refused(exporters: list[DynamiqSpanExporter], tmp_path: Path) -> None:
    ours = tmp_path / "somewhere-of-ours"
    ours.mkdir(mode=0o700)
    planted = tmp_path / "otel-dynamiq-0"
    planted.symlink_to(ours)
    os.lchown(planted, 65534, 65534)
    assert "symbolic link made by another user" in refusal_of(exporters, planted)
    assert list(ours.iterdir()) == []


def test_an_unwritable_spool_location_degrades_to_memory(
    exporters: list[DynamiqSpanExporter], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="otel_dynamiq")
    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_text("")
    exporter = exporter_at(exporters, f"http://127.0.0.1:{free_port()}", spool_dir=str(not_a_directory / "spool"))
    assert exporter.export(make_spans(2)) is SpanExportResult.SUCCESS
    state = exporter.spool_state()
    assert state is not None and state.where == "memory" and state.runs == 2
    assert "cannot use its disk spool" in caplog.text
    exporter.shutdown()
    assert exporter.stats.runs_dropped == {"shutdown": 2}  # memory does not outlive the process


def test_size_cap_drops_the_oldest_bodies_and_counts_them(
    exporters: list[DynamiqSpanExporter], spool_base: Path
) -> None:
    exporter = exporter_at(exporters, f"http://127.0.0.1:{free_port()}", spool_max_bytes=1024 * 1024)
    for index in range(6):
        exporter.export(make_spans(1, payload=f"{index}" + "x" * 300_000))
    state = exporter.spool_state()
    assert state is not None
    assert 0 < state.size_bytes <= 1024 * 1024
    assert exporter.stats.runs_dropped == {"spool_full": 6 - state.runs}


def test_the_size_cap_keeps_the_newest(tmp_path: Path) -> None:
    dropped: list[tuple[str, int]] = []
    directory = tmp_path / "spool" / "identity"
    spool = DiskSpool(directory, SpoolConfig(tmp_path, max_bytes=1024 * 1024), 60, lambda *drop: dropped.append(drop))
    for index in range(6):
        spool.put(f"{index}".encode() + b"x" * 300_000, index + 1)
    kept = sorted(path.read_bytes()[:1] for path in directory.iterdir())
    assert kept == [b"3", b"4", b"5"]
    assert dropped == [("spool_full", 1), ("spool_full", 2), ("spool_full", 3)]


def test_a_spool_that_refuses_when_full_keeps_the_oldest_and_refuses_the_new(tmp_path: Path) -> None:
    """The gateway's spool: every body in it was answered 200, so none is pushed out for a new one."""
    dropped: list[tuple[str, int]] = []
    directory = tmp_path / "spool" / "identity"
    config = SpoolConfig(tmp_path, max_bytes=1024 * 1024, refuse_when_full=True)
    spool = DiskSpool(directory, config, 60, lambda *drop: dropped.append(drop))
    for index in range(3):
        spool.put(f"{index}".encode() + b"x" * 300_000, index + 1)
    with pytest.raises(SpoolFullError, match="of 1,048,576 bytes"):
        spool.put(b"3" + b"x" * 300_000, 4)
    assert sorted(path.read_bytes()[:1] for path in directory.iterdir()) == [b"0", b"1", b"2"]
    assert dropped == []


def test_age_cap_drops_old_bodies_and_counts_them(exporters: list[DynamiqSpanExporter], spool_base: Path) -> None:
    exporter = exporter_at(exporters, f"http://127.0.0.1:{free_port()}", spool_max_age=0.5)
    exporter.export(make_spans(2))
    wait_for(lambda: exporter.stats.runs_dropped.get("spool_expired") == 2)  # found by the resender's next look
    assert spool_files(spool_base) == []


def test_spool_settings_are_checked_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_SPOOL_MAX_BYTES, "lots")
    with pytest.raises(ValueError, match="OTEL_EXPORTER_DYNAMIQ_SPOOL_MAX_BYTES='lots'"):
        DynamiqSpanExporter(endpoint="http://127.0.0.1:9")
    monkeypatch.delenv(env.OTEL_EXPORTER_DYNAMIQ_SPOOL_MAX_BYTES)
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_SPOOL, "maybe")
    with pytest.raises(ValueError, match="OTEL_EXPORTER_DYNAMIQ_SPOOL='maybe' is not a boolean"):
        DynamiqSpanExporter(endpoint="http://127.0.0.1:9")


# Leases, with two spools on one directory standing for two processes.


def disk_spool(directory: Path) -> DiskSpool:
    return DiskSpool(directory, SpoolConfig(directory.parent), lease_seconds=60, count_drop=lambda _r, _n: None)


def test_two_senders_never_take_the_same_body(tmp_path: Path) -> None:
    directory = identity_directory(tmp_path / "spool", "http://127.0.0.1:1", FAKE_KEY)
    writer = disk_spool(directory)
    for index in range(200):
        writer.put(f'{{"runs":[{{"n":{index}}}]}}'.encode(), 1)
    taken: list[list[bytes]] = [[], []]
    start_together = threading.Barrier(2)

    def drain(spool: DiskSpool, into: list[bytes]) -> None:
        start_together.wait()
        while (item := spool.claim()) is not None:
            into.append(item.body)
            spool.finish(item)

    senders = [threading.Thread(target=drain, args=(disk_spool(directory), taken[n])) for n in range(2)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert len(taken[0]) + len(taken[1]) == 200
    assert len(set(taken[0]) | set(taken[1])) == 200
    assert taken[0] and taken[1], "both senders should have had a share"


def lease_to(directory: Path, expiry_ms: int, pid: int) -> Path:
    """Lease the one waiting body as a process with this pid on this host would."""
    (ready,) = list(directory.glob("*.json"))
    leased = directory / f"{ready.name}.lease.{expiry_ms}.{pid}.{_host_tag()}"
    ready.rename(leased)
    return leased


def test_a_live_lease_is_respected_and_an_expired_one_taken_over(tmp_path: Path) -> None:
    directory = tmp_path / "spool" / "identity"
    spool = disk_spool(directory)
    spool.put(b'{"runs":[]}', 1)
    far_future = 2**62
    lease_to(directory, far_future, os.getpid())  # a live holder: this very process
    assert disk_spool(directory).claim() is None

    (leased,) = list(directory.iterdir())
    expired = directory / leased.name.replace(f".lease.{far_future}.", ".lease.1.")
    leased.rename(expired)
    item = disk_spool(directory).claim()
    assert item is not None and item.body == b'{"runs":[]}'


def test_a_lease_whose_holder_died_is_taken_over_at_once(tmp_path: Path) -> None:
    directory = tmp_path / "spool" / "identity"
    disk_spool(directory).put(b'{"runs":[]}', 1)
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lease_to(directory, 2**62, int(ended.stdout))  # a lease good for ages, but its holder is gone
    item = disk_spool(directory).claim()
    assert item is not None


def test_a_half_written_body_is_never_sent(tmp_path: Path) -> None:
    directory = tmp_path / "spool" / "identity"
    spool = disk_spool(directory)
    (directory / ".writing-00000000000000000001-1-1-abcd.json").write_bytes(b'{"runs":[{"na')
    assert spool.claim() is None
    assert spool.state().bodies == 0


def spool_two_bodies(
    exporters: list[DynamiqSpanExporter], spool_dir: Path
) -> tuple[str, DynamiqSpanExporter, set[str]]:
    """An exporter whose service is down, with two bodies on disk; the URL where the service will come up."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    exporter = exporter_at(exporters, url, spool_dir=str(spool_dir))
    first, second = make_spans(2), make_spans(2)
    assert exporter.export(first) is SpanExportResult.SUCCESS
    assert exporter.export(second) is SpanExportResult.SUCCESS
    return url, exporter, run_ids(first) | run_ids(second)


def body_directory(spool_dir: Path) -> Path:
    (directory,) = {path.parent for path in spool_dir.rglob("*.json")}
    return directory


@pytest.mark.parametrize("planted", ["fifo", "directory", "symlink"])
def test_entries_named_like_bodies_that_are_not_files_are_never_sent_and_stop_nothing(
    exporters: list[DynamiqSpanExporter], spool_base: Path, planted: str
) -> None:
    spool_dir = spool_base / planted
    url, exporter, expected = spool_two_bodies(exporters, spool_dir)
    directory = body_directory(spool_dir)
    name = directory / f"{1:020d}-1-{os.getpid()}-deadbeef.json"  # the oldest, so it comes first
    if planted == "fifo":
        os.mkfifo(name, 0o600)
    elif planted == "directory":
        name.mkdir()
    else:
        target = spool_base / "outside.json"
        target.write_bytes(b'{"runs": []}')
        name.symlink_to(target)
    port = int(url.rsplit(":", 1)[1])
    with LocalCollector(port=port, access_key=FAKE_KEY) as collector:
        wait_for(lambda: collector.store.delivery_counts().keys() >= expected)
        assert exporter.export(make_spans(1)) is SpanExportResult.SUCCESS  # later exports still work
        wait_for(lambda: len(collector.store.delivery_counts()) == len(expected) + 1)
    assert os.path.lexists(name) or any(path.name.startswith("refused-") for path in directory.iterdir())


def bodies_in(directory: Path) -> list[str]:
    """The bodies a directory holds, by the name they have unleased: the resender may lease one meanwhile."""
    return sorted(path.name.partition(".lease.")[0] for path in directory.iterdir())


def test_a_spool_directory_opened_to_others_after_start_is_no_longer_used(
    exporters: list[DynamiqSpanExporter], spool_base: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="otel_dynamiq")
    spool_dir = spool_base / "swapped"
    _, exporter, _ = spool_two_bodies(exporters, spool_dir)
    directory = body_directory(spool_dir)
    before = bodies_in(directory)
    directory.chmod(0o777)  # as if another user had swapped in a directory anyone can write
    assert exporter.export(make_spans(1)) is SpanExportResult.SUCCESS
    assert bodies_in(directory) == before  # nothing written there any more
    assert exporter.spool_state() is not None and exporter.spool_state().where == "memory"  # type: ignore[union-attr]
    assert "writable by other users" in caplog.text


def test_a_thousand_spooled_bodies_are_all_resent_once(exporters: list[DynamiqSpanExporter], spool_base: Path) -> None:
    config = SpoolConfig(directory=spool_base, max_bytes=1 << 30, max_age_seconds=3600)
    directory = identity_directory(spool_base, "http://127.0.0.1:1", FAKE_KEY)
    disk = DiskSpool(directory, config, lease_seconds=60, count_drop=lambda reason, runs: None)
    for _ in range(1000):
        disk.put(b'{"runs": []}', 1)
    taken = []
    while (item := disk.claim()) is not None:
        taken.append(item.key)
        disk.finish(item)
    assert len(taken) == len(set(taken)) == 1000
    assert spool_files(spool_base) == []


def test_a_spooled_body_refused_later_loses_only_the_runs_refused(
    exporters: list[DynamiqSpanExporter], spool_base: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Spooled during an outage (a gateway answered 200 for it), then one run refused: the other runs arrive."""
    caplog.set_level(logging.WARNING, logger="otel_dynamiq")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = exporter_at(exporters, url)
    spans = make_spans(6)
    assert first.export(spans) is SpanExportResult.SUCCESS  # on disk: the service is out
    first.shutdown()
    assert len(spool_files(spool_base)) == 1

    delivered: list[str] = []

    def refuse_span_3(record: Recorded) -> Reply:
        names = [run["name"] for run in record.runs]
        if "span-3" in names:
            return Reply(400, body=b'{"detail": "span-3 is not a valid run"}')
        delivered.extend(names)
        return Reply(200)

    with ScriptedServer(refuse_span_3, port=port):
        second = exporter_at(exporters, url)
        wait_for(lambda: spool_files(spool_base) == [], timeout=30)
    assert sorted(delivered) == ["span-0", "span-1", "span-2", "span-4", "span-5"]
    assert second.stats.runs_dropped == {"rejected": 1}
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any("Dropped 1 spooled Dynamiq runs" in text and "HTTP 400" in text for text in warnings), warnings


def test_a_spooled_body_survives_a_power_cut(spool_base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A body's rename is durable only once its directory is synced: the file's own fsync does not cover it."""
    synced: list[bool] = []
    real_fsync = os.fsync

    def recording_fsync(descriptor: int) -> None:
        synced.append(stat.S_ISDIR(os.fstat(descriptor).st_mode))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    spool = DiskSpool(spool_base / "durable", SpoolConfig(spool_base), 30.0, lambda reason, runs: None)
    spool.put(b'{"runs": []}', 1)
    assert synced == [False, True]  # the file, then its directory after the rename
