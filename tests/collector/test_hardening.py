"""The local collector and the command line against a careless user and an attacker: bounded, answered, quiet."""

from __future__ import annotations

import gzip
import http.client
import http.server
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from otel_dynamiq._http_server.bounded_server import BoundedHandler, BoundedHTTPServer
from otel_dynamiq._http_server.request_body import MAX_DECOMPRESSED_BYTES, MAX_RUNS
from otel_dynamiq.collector import LocalCollector, render_tree
from tests.support.common import FAKE_KEY
from tests.support.http import get, post
from tests.support.processes import ROOT, clean_env
from tests.support.runs import sample_run


def raw_request(url: str, request: bytes, read_timeout: float = 10.0) -> bytes:
    """Send bytes as they are, and read until the server closes or goes quiet."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=read_timeout) as connection:
        connection.sendall(request)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    return received


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_reading_runs_needs_the_key_when_one_is_set(keyed_collector: LocalCollector) -> None:
    run = sample_run()
    assert post(keyed_collector.url, {"runs": [run]}, headers={"Authorization": f"Bearer {FAKE_KEY}"})[0] == 200
    for path in ("/v1/traces", f"/v1/traces/{run['trace_id']}"):
        assert get(keyed_collector.url + path)[0] == 401
        wrong = raw_request(keyed_collector.url, f"GET {path} HTTP/1.1\r\nAuthorization: Bearer nope\r\n\r\n".encode())
        assert status_of(wrong) == 401 and run["id"].encode() not in wrong
        right = raw_request(
            keyed_collector.url,
            f"GET {path} HTTP/1.1\r\nAuthorization: Bearer {FAKE_KEY}\r\nConnection: close\r\n\r\n".encode(),
        )
        assert status_of(right) == 200


@pytest.mark.parametrize(("length", "status"), [("-1", 400), ("abc", 400), ("1e9", 400), (str(64 * 1024 * 1024), 413)])
def test_a_bad_or_huge_content_length_is_refused_before_reading(
    collector: LocalCollector, length: str, status: int
) -> None:
    answer = raw_request(
        collector.url, f"POST /v1/traces HTTP/1.1\r\nContent-Length: {length}\r\n\r\n".encode() + b"{" * 1000
    )
    assert status_of(answer) == status
    assert b"Connection: close" in answer
    assert collector.store.runs() == []


def test_a_wrong_key_is_answered_before_the_body_is_read(keyed_collector: LocalCollector) -> None:
    # Headers announce 10 MB that never come: the answer must not wait for them.
    answer = raw_request(
        keyed_collector.url,
        b"POST /v1/traces HTTP/1.1\r\nAuthorization: Bearer wrong\r\nContent-Length: 10000000\r\n\r\n",
        read_timeout=5,
    )
    assert status_of(answer) == 401


def test_a_gzip_bomb_is_refused_at_the_decompressed_cap(collector: LocalCollector) -> None:
    bomb = gzip.compress(b'{"runs": [' + b" " * (MAX_DECOMPRESSED_BYTES + 1024) + b"]}")
    assert len(bomb) < 100_000
    status, answer = post(collector.url, None, raw=bomb, headers={"Content-Encoding": "gzip"})
    assert status == 413 and "inflates past" in answer["detail"]


def test_too_many_runs_or_values_are_refused(collector: LocalCollector) -> None:
    status, answer = post(collector.url, None, raw=b'{"runs": [' + b",".join([b"{}"] * (MAX_RUNS + 1)) + b"]}")
    assert status == 413 and "runs" in answer["detail"]
    status, answer = post(collector.url, None, raw=b'{"runs": [' + b",".join([b"[]"] * 1_000_001) + b"]}")
    assert status == 413 and "objects and arrays" in answer["detail"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"runs": ' + b"[" * 990 + b"]" * 990 + b"}",
        b'{"runs": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        json.dumps({"runs": [sample_run(trace_id="TRACE")]}).encode().replace(b"TRACE", b"\\ud800"),
        json.dumps({"runs": [sample_run(metadata={"score": 1.5})]}).encode().replace(b"1.5", b"NaN"),
    ],
    ids=["nested 990 deep", "nested 5000 deep", "lone surrogate", "NaN"],
)
def test_malformed_json_gets_a_400_answer(collector: LocalCollector, raw: bytes) -> None:
    status, answer = post(collector.url, None, raw=raw)
    assert status == 400 and answer["detail"]
    assert collector.store.runs() == []


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("GZIP", gzip.compress), ("deflate", zlib.compress), ("identity", lambda data: data)],
)
def test_content_encodings_are_read_whatever_their_case(
    collector: LocalCollector, encoding: str, compress: Any
) -> None:
    run = sample_run()
    raw = compress(json.dumps({"runs": [run]}).encode())
    assert post(collector.url, None, raw=raw, headers={"Content-Encoding": encoding})[0] == 200
    assert [stored["id"] for stored in collector.store.runs()] == [run["id"]]


def test_an_unknown_content_encoding_is_refused(collector: LocalCollector) -> None:
    assert post(collector.url, {"runs": []}, headers={"Content-Encoding": "br"})[0] == 415


def test_one_uuid_in_any_spelling_is_one_run(collector: LocalCollector) -> None:
    value = uuid.uuid4()
    spellings = [str(value), str(value).upper(), value.hex, f"{{{value}}}", f"urn:uuid:{value}"]
    for spelling in spellings:
        assert post(collector.url, {"runs": [sample_run(id=spelling)]})[0] == 200
    assert [run["id"] for run in collector.store.runs()] == [str(value)]
    assert collector.store.delivery_counts() == {str(value): 5}


def test_a_trace_is_found_by_its_32_hex_opentelemetry_id(collector: LocalCollector) -> None:
    run = sample_run(trace_id=str(uuid.uuid4()))
    post(collector.url, {"runs": [run]})
    status, trace = get(f"{collector.url}/v1/traces/{uuid.UUID(run['trace_id']).hex}")
    assert status == 200 and [stored["id"] for stored in trace["runs"]] == [run["id"]]


def test_a_post_to_a_wrong_path_closes_the_connection_instead_of_reading_its_body_as_a_request(
    collector: LocalCollector,
) -> None:
    smuggled = b"GET /v1/traces HTTP/1.1\r\n\r\n"
    answer = raw_request(
        collector.url, f"POST /elsewhere HTTP/1.1\r\nContent-Length: {len(smuggled)}\r\n\r\n".encode() + smuggled
    )
    assert status_of(answer) == 404
    assert answer.count(b"HTTP/1.1 ") == 1  # the body was not answered as a second request


def test_idle_connections_are_closed_after_the_timeout() -> None:
    with LocalCollector(connection_timeout=0.5) as collector:
        host, port = collector.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as idle:
            began = time.monotonic()
            assert idle.recv(1) == b""  # closed by the server, not by our own timeout
            assert time.monotonic() - began < 9


def test_a_burst_of_256_connections_stores_every_run(collector: LocalCollector) -> None:
    runs = [sample_run(id=str(uuid.uuid4())) for _ in range(256)]
    start = threading.Barrier(len(runs))
    statuses: list[int] = []

    def send(run: dict[str, Any]) -> None:
        start.wait()
        statuses.append(post(collector.url, {"runs": [run]})[0])

    threads = [threading.Thread(target=send, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * len(runs)
    assert {run["id"] for run in collector.store.runs()} == {run["id"] for run in runs}


# --- the tree ----------------------------------------------------------------------------------------


def chain(length: int) -> list[dict[str, Any]]:
    ids = [str(uuid.uuid4()) for _ in range(length)]
    return [
        sample_run(id=run_id, name=f"step {index}", parent_run_id=ids[index - 1] if index else None)
        for index, run_id in enumerate(ids)
    ]


def test_a_deep_chain_is_drawn_without_recursion() -> None:
    lines = render_tree(chain(1200)).splitlines()
    assert len(lines) == 1200 and lines[-1].lstrip(" └─").startswith("step 1199")


def test_parent_cycles_and_self_parents_are_drawn_not_dropped() -> None:
    cycle = chain(3)
    cycle[0]["parent_run_id"] = cycle[2]["id"]
    own = sample_run(id=str(uuid.uuid4()), name="own parent")
    own["parent_run_id"] = own["id"]
    text = render_tree([*cycle, own])
    for name in ("step 0", "step 1", "step 2", "own parent"):
        assert text.count(name) == 1, text
    assert "(in a parent cycle)" in text


def test_control_characters_never_reach_the_terminal() -> None:
    text = render_tree([sample_run(name="evil\x1b[2J\x07name\r")])
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert "\\x1b[2J" in text


# --- the command line ----------------------------------------------------------------------------------


def cli(*arguments: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_dynamiq.cli", *arguments],
        cwd=ROOT,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_collector_command_fails_in_one_line(busy_port: int, tmp_path: Any) -> None:
    assert_one_line_failure(cli("collector", "--port", str(busy_port)), "in use")
    assert_one_line_failure(cli("collector", "--port", "70000"), "not a port number")
    assert_one_line_failure(
        cli("collector", "--port", "0", "--db", str(tmp_path / "missing" / "runs.db")), "does not exist"
    )
    keyed = clean_env(OTEL_DYNAMIQ_COLLECTOR_ACCESS_KEY=FAKE_KEY)
    assert_one_line_failure(cli("collector", "--host", "no-such-host.invalid", env=keyed), "cannot serve")
    assert_one_line_failure(cli("collector", "--host", "0.0.0.0", "--port", "0"), "OTEL_DYNAMIQ_COLLECTOR_ACCESS_KEY")


class NotACollector(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html>hello</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_show_fails_in_one_line() -> None:
    assert_one_line_failure(cli("show", "--url", "ftp://example"), "not an http")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotACollector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert_one_line_failure(cli("show", "--url", f"http://127.0.0.1:{server.server_port}"), "collector")
    finally:
        server.shutdown()
    with socket.socket() as silent:  # accepts connections and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        assert_one_line_failure(cli("show", "--url", f"http://127.0.0.1:{port}", "--timeout", "1"), "cannot reach")


def test_show_prints_a_deep_trace_by_its_hex_id_into_a_closed_pipe(collector: LocalCollector) -> None:
    runs = chain(1200)
    post(collector.url, {"runs": runs})
    hex_id = uuid.UUID(runs[0]["trace_id"]).hex
    result = cli("show", hex_id, "--url", collector.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("step ") == 1200
    piped = subprocess.run(
        f"{sys.executable} -m otel_dynamiq.cli show {hex_id} --url {collector.url} | head -1",
        shell=True,
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert piped.stdout.startswith("trace ") and "Error" not in piped.stderr and "Traceback" not in piped.stderr


def test_version_and_help() -> None:
    from otel_dynamiq.version import __version__

    assert cli("--version").stdout.strip() == f"otel-dynamiq {__version__}"
    for command in ((), ("collector",), ("show",)):
        text = cli(*command, "--help").stdout
        assert "``" not in text
    collector_help = cli("collector", "--help").stdout
    assert "address to listen on" in collector_help and "port to listen on" in collector_help


def test_doctor_with_a_header_it_cannot_send_fails_in_one_line() -> None:
    result = cli(
        "doctor",
        env=clean_env(
            OTEL_EXPORTER_DYNAMIQ_ENDPOINT="http://127.0.0.1:1", OTEL_EXPORTER_DYNAMIQ_HEADERS="X-Team=caf%C3%A9"
        ),
    )
    assert result.returncode == 2 and "Traceback" not in result.stdout + result.stderr
    assert "OTEL_EXPORTER_DYNAMIQ_HEADERS" in result.stdout


def test_doctor_never_shows_a_password_in_the_endpoint() -> None:
    result = cli("doctor", env=clean_env(OTEL_EXPORTER_DYNAMIQ_ENDPOINT="https://user:hunter2@collector.example"))
    assert result.returncode == 2 and "hunter2" not in result.stdout + result.stderr
    assert "OTEL_EXPORTER_DYNAMIQ_ENDPOINT" in result.stdout


class _Echo(BoundedHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


def test_senders_that_keep_connections_alive_do_not_lock_the_rest_out() -> None:
    """Two handlers, two idle keep-alive senders, and a third sender: it is answered, not left in the backlog."""
    server = BoundedHTTPServer(("127.0.0.1", 0), _Echo, connection_timeout=60, max_handlers=2)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        kept = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(2)]
        closes = []
        for connection in kept:  # each asks once and then idles, connection open, as an OTLP exporter does
            connection.request("GET", "/")
            answer = connection.getresponse()
            answer.read()
            closes.append(answer.getheader("Connection"))
        assert closes[-1] == "close"  # the second took the last handler: it was told not to keep it
        third = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # well under the 60 s idle timeout
        third.request("GET", "/")
        assert third.getresponse().read() == b"ok"
    finally:
        server.shutdown()
        server.server_close()


def test_trickling_senders_yield_their_handlers_to_waiting_ones() -> None:
    """Two handlers, two senders dribbling their headers a byte at a time, and a third sender: it is answered.

    The idle and request timeouts (60 s) never fire here: while every handler is taken, headers must
    arrive within a second of the handler taking them.
    """
    server = BoundedHTTPServer(("127.0.0.1", 0), _Echo, connection_timeout=60, max_handlers=2, request_timeout=60)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    stop = threading.Event()

    def trickle() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            for byte in b"GET / HTTP/1.1\r\nHost: slow\r\n" * 20:
                if stop.wait(0.2):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    tricklers = [threading.Thread(target=trickle, daemon=True) for _ in range(2)]
    try:
        for thread in tricklers:
            thread.start()
        time.sleep(0.5)  # both handlers are now taken by the tricklers
        waiting = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        waiting.request("GET", "/")
        assert waiting.getresponse().read() == b"ok"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("framing", "status"),
    [
        (b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 411),
        (b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400),
        (b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}", 411),
        (b"Content-Length: 2\r\nTransfer-Encoding: gzip\r\n\r\n{}", 501),
    ],
    ids=["chunked", "two-lengths", "length-and-chunked", "other-transfer-encoding"],
)
def test_a_body_framed_any_other_way_than_one_length_is_refused_and_the_connection_closed(
    collector: LocalCollector, framing: bytes, status: int
) -> None:
    # A proxy in front and the collector must never disagree about where a request ends.
    answer = raw_request(collector.url, b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n" + framing, read_timeout=5)
    assert status_of(answer) == status
    assert b"connection: close" in answer.lower()
    assert collector.store.runs() == []


def test_100_continue_is_sent_only_once_the_key_is_checked(keyed_collector: LocalCollector) -> None:
    answer = raw_request(
        keyed_collector.url,
        b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer wrong\r\n"
        b"Expect: 100-continue\r\nContent-Length: 10\r\n\r\n",
        read_timeout=5,
    )
    assert status_of(answer) == 401 and b"100 Continue" not in answer
    body = json.dumps({"runs": [sample_run()]}).encode()
    answer = raw_request(
        keyed_collector.url,
        b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {FAKE_KEY}\r\nExpect: 100-continue\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body,
        read_timeout=5,
    )
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ")
    assert len(keyed_collector.store.runs()) == 1


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_body_sent_where_none_is_read_closes_the_connection_instead_of_being_read_as_a_request(
    keyed_collector: LocalCollector, method: str, framing: str
) -> None:
    """A refused GET (wrong key) that carries a body: the body is never read, so it must not become a request."""
    smuggled = f"GET /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {FAKE_KEY}\r\n\r\n".encode()
    if framing == "length":
        head, body = f"Content-Length: {len(smuggled)}\r\n", smuggled
    else:
        head, body = "Transfer-Encoding: chunked\r\n", f"{len(smuggled):x}\r\n".encode() + smuggled + b"\r\n0\r\n\r\n"
    answer = raw_request(
        keyed_collector.url,
        f"{method} /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer wrong\r\n{head}\r\n".encode() + body,
    )
    assert status_of(answer) in (401, 405)
    assert answer.count(b"HTTP/1.1 ") == 1  # the body was not answered as a second request
    assert b"Connection: close" in answer


def test_a_content_switch_that_is_no_boolean_fails_in_one_line() -> None:
    result = cli("collector", "--port", "0", env=clean_env(OTEL_DYNAMIQ_COLLECTOR_INDEX_CONTENT="sometimes"))
    assert_one_line_failure(result, "OTEL_DYNAMIQ_COLLECTOR_INDEX_CONTENT", "'true' or 'false'")
