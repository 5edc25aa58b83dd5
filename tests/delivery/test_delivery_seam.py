"""Delivery's decisions, through an injected httpx transport: fast, and the same every time.

Each test scripts the service's answers with ``httpx.MockTransport`` and
checks what a user would count on: which runs arrived (the bodies the
"service" accepted), which were dropped and why (``stats``), what waits in
the spool, and what was logged. The same code runs against real servers in
the integration tests; here only the wire is replaced.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from otel_dynamiq._config import ExporterConfig, load_config
from otel_dynamiq._delivery.answers import Outcome, read_answer, read_failure
from otel_dynamiq._delivery.bodies import Payload, body_of, pack
from otel_dynamiq._delivery.delivery import Delivery
from otel_dynamiq._delivery.ledger import Ledger
from otel_dynamiq._delivery.spool import Spool
from otel_dynamiq._delivery.stats import DropReason
from otel_dynamiq.exporter import _open_spool as open_spool

KEY = "dq-key-for-the-seam-tests-91c3"
Answer = Callable[[httpx.Request], httpx.Response]


class Service:
    """A scripted service: answers in turn (the last one repeats), and keeps the runs of every 2xx."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.accepted: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        response = answer(request)
        if response.is_success:
            self.accepted += [run["id"] for run in orjson.loads(request.content)["runs"]]
        return response


def status(code: int, **headers: str) -> Answer:
    return lambda request: httpx.Response(code, headers=headers, text="")


def refuse_run(bad: str, code: int = 422) -> Answer:
    """Refuse every body that holds the run ``bad``; take the others."""
    return lambda request: httpx.Response(code if bad.encode() in request.content else 200)


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def payloads(*run_ids: str, per_body: int = 100) -> list[Payload]:
    parts = [orjson.dumps({"id": run_id, "trace_id": "t", "type": "node"}) for run_id in run_ids]
    return [
        Payload(tuple(parts[i : i + per_body]), body_of(parts[i : i + per_body]))
        for i in range(0, len(parts), per_body)
    ]


def config(tmp_path: Path, spool: bool = True) -> ExporterConfig:
    return load_config(
        endpoint="https://dynamiq.invalid", access_key=KEY, timeout=5.0, spool=spool, spool_dir=str(tmp_path)
    )


class Harness:
    def __init__(self, tmp_path: Path, service: Service, spool: bool = True) -> None:
        self.config = config(tmp_path, spool)
        self.ledger = Ledger(strict=True)
        self.service = service
        self.delivery = Delivery(
            self.config,
            self.ledger,
            open_spool=self._open_spool,
            transport=httpx.MockTransport(service),
            backoff=lambda attempt: 0.0,
        )
        self.spool: Spool | None = None

    def _open_spool(self) -> Spool | None:
        """The exporter's own way to open its spool, kept at hand so a test can read what it holds."""
        self.spool = open_spool(self.config, self.ledger)
        return self.spool

    def run(self, work: Callable[[Delivery], Coroutine[Any, Any, Any]]) -> Any:
        async def main() -> Any:
            self.delivery.start()
            try:
                return await work(self.delivery)
            finally:
                await self.delivery.aclose(drain_seconds=0.0)

        result = asyncio.run(main())
        self.ledger.check_all_settled()  # every run the work handed over has one outcome, and only one
        return result

    def deliver(self, batch: list[Payload], seconds: float = 5.0, refused: list[str] | None = None) -> bool:
        return bool(self.run(lambda delivery: delivery.deliver(batch, time.monotonic() + seconds, refused)))

    def spooled_runs(self) -> int:
        assert self.spool is not None
        return self.spool.state().runs


def test_a_retryable_answer_is_retried_and_the_runs_arrive_once(tmp_path: Path) -> None:
    harness = Harness(tmp_path, Service(status(503), status(500), status(200)))
    assert harness.deliver(payloads("a", "b"))
    assert harness.service.accepted == ["a", "b"]
    counts = harness.ledger.snapshot()
    assert (counts.requests, counts.retries, counts.runs_sent) == (3, 2, 2)


def test_a_retry_after_beyond_the_deadline_spools_at_once_instead_of_waiting(tmp_path: Path) -> None:
    harness = Harness(tmp_path, Service(status(429, **{"Retry-After": "3600"})))
    assert harness.deliver(payloads("a", "b", "c"))  # kept: the service may take them later
    counts = harness.ledger.snapshot()
    assert (counts.retries, counts.runs_spooled) == (0, 3)  # (the spool's resender may have tried once since)
    assert harness.spooled_runs() == 3


def test_a_body_refused_for_one_run_is_halved_until_only_that_run_is_dropped(tmp_path: Path) -> None:
    harness = Harness(tmp_path, Service(refuse_run("r3")))
    refused: list[str] = []
    assert harness.deliver(payloads(*(f"r{i}" for i in range(8))), refused=refused)
    assert sorted(harness.service.accepted) == sorted(f"r{i}" for i in range(8) if i != 3)
    assert harness.ledger.snapshot().runs_dropped == {DropReason.REJECTED: 1}
    assert len(refused) == 1 and "HTTP 422" in refused[0]


def test_a_body_too_large_is_split_and_every_run_arrives(tmp_path: Path) -> None:
    harness = Harness(
        tmp_path, Service(lambda request: httpx.Response(413 if request.content.count(b'"id"') > 2 else 200))
    )
    assert harness.deliver(payloads(*(f"r{i}" for i in range(7))))
    assert sorted(harness.service.accepted) == sorted(f"r{i}" for i in range(7))
    assert harness.ledger.snapshot().runs_dropped == {}


def test_a_refused_key_is_dropped_named_and_never_echoed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    echo = Service(lambda request: httpx.Response(401, text=f"bad key {request.headers['authorization']}"))
    harness = Harness(tmp_path, echo)
    # The delivery module's own logger: importing dynamiq sets every existing logger to ERROR, and only an
    # exporter (not built here) takes ours back.
    with caplog.at_level(logging.WARNING, logger="otel_dynamiq._delivery.delivery"):
        assert not harness.deliver(payloads("a"))
    assert harness.ledger.snapshot().runs_dropped == {DropReason.REJECTED: 1}
    assert len(echo.requests) == 1  # never retried
    assert "DYNAMIQ_ACCESS_KEY" in caplog.text
    assert KEY not in caplog.text
    assert harness.spooled_runs() == 0


def test_a_redirect_is_not_followed_so_the_key_goes_nowhere_else(tmp_path: Path) -> None:
    service = Service(status(307, Location="https://elsewhere.invalid/v1/traces"))
    harness = Harness(tmp_path, service)
    assert not harness.deliver(payloads("a"))
    assert [request.url.host for request in service.requests] == ["dynamiq.invalid"]
    assert harness.ledger.snapshot().runs_dropped == {DropReason.REDIRECT: 1}


def test_an_unreachable_service_spools_then_later_bodies_skip_the_network(tmp_path: Path) -> None:
    service = Service(unreachable)
    harness = Harness(tmp_path, service)

    async def two_exports(delivery: Delivery) -> tuple[bool, int, bool]:
        first = await delivery.deliver(payloads("a"), time.monotonic() + 0.3)
        requests_after_first = len(service.requests)
        second = await delivery.deliver(payloads("b"), time.monotonic() + 0.3)
        return first, requests_after_first, second

    first, requests_after_first, second = harness.run(two_exports)
    assert first and second
    assert requests_after_first >= 1
    assert harness.ledger.snapshot().runs_spooled == 2
    assert harness.spooled_runs() == 2


def test_without_a_spool_an_unreachable_service_drops_on_the_deadline(tmp_path: Path) -> None:
    harness = Harness(tmp_path, Service(unreachable), spool=False)
    assert not harness.deliver(payloads("a", "b"), seconds=0.2)
    assert harness.ledger.snapshot().runs_dropped == {DropReason.TIMEOUT: 2}


def test_the_spool_is_resent_oldest_first_when_the_service_answers_again(tmp_path: Path) -> None:
    down = Harness(tmp_path, Service(unreachable))
    down.run(lambda delivery: delivery.deliver(payloads("old", per_body=1), time.monotonic() + 0.2))
    down.run(lambda delivery: delivery.deliver(payloads("new", per_body=1), time.monotonic() + 0.2))
    assert down.spooled_runs() == 2

    service = Service(status(200))
    up = Harness(tmp_path, service)

    async def until_drained(delivery: Delivery) -> None:
        while up.spool is None or up.spooled_runs():
            await asyncio.sleep(0.01)

    up.run(until_drained)
    assert service.accepted == ["old", "new"]
    assert up.ledger.snapshot().runs_resent == 2


def test_a_spooled_body_refused_for_one_run_is_split_in_the_spool(tmp_path: Path) -> None:
    down = Harness(tmp_path, Service(unreachable))
    down.run(lambda delivery: delivery.deliver(payloads("a", "b", "bad", "c"), time.monotonic() + 0.2))
    service = Service(refuse_run("bad", code=400))
    up = Harness(tmp_path, service)

    async def until_drained(delivery: Delivery) -> None:
        while up.spool is None or up.spooled_runs():
            await asyncio.sleep(0.01)

    up.run(until_drained)
    assert sorted(service.accepted) == ["a", "b", "c"]
    assert up.ledger.snapshot().runs_dropped == {DropReason.REJECTED: 1}


def test_shutdown_during_a_backoff_wait_spools_instead_of_sleeping_it_out(tmp_path: Path) -> None:
    harness = Harness(tmp_path, Service(status(503)))
    harness.delivery = Delivery(
        harness.config,
        harness.ledger,
        open_spool=harness._open_spool,
        transport=httpx.MockTransport(harness.service),
        backoff=lambda attempt: 3600.0,
    )

    async def stop_while_waiting(delivery: Delivery) -> bool:
        sending = asyncio.ensure_future(delivery.deliver(payloads("a"), time.monotonic() + 7200))
        while not harness.service.requests:
            await asyncio.sleep(0.01)
        delivery.request_stop()
        return await asyncio.wait_for(sending, timeout=30)

    assert harness.run(stop_while_waiting)
    assert harness.ledger.snapshot().runs_spooled == 1


@pytest.mark.parametrize(
    ("code", "outcome", "reason", "splittable"),
    [
        (200, Outcome.ARRIVED, None, False),
        (202, Outcome.ARRIVED, None, False),
        (400, Outcome.FINAL, DropReason.REJECTED, True),
        (401, Outcome.FINAL, DropReason.REJECTED, False),
        (404, Outcome.FINAL, DropReason.REJECTED, False),
        (413, Outcome.FINAL, DropReason.TOO_LARGE, True),
        (422, Outcome.FINAL, DropReason.REJECTED, True),
        (301, Outcome.FINAL, DropReason.REDIRECT, False),
        (308, Outcome.FINAL, DropReason.REDIRECT, False),
        (408, Outcome.RETRY, None, False),
        (429, Outcome.RETRY, None, False),
        (500, Outcome.RETRY, None, False),
        (503, Outcome.RETRY, None, False),
        (501, Outcome.FINAL, DropReason.REJECTED, False),
    ],
)
def test_every_answer_has_one_meaning(code: int, outcome: Outcome, reason: DropReason | None, splittable: bool) -> None:
    headers = {"Location": "https://elsewhere.invalid/"} if 300 <= code < 400 else {}
    verdict = read_answer(httpx.Response(code, headers=headers))
    assert (verdict.outcome, verdict.reason, verdict.splittable) == (outcome, reason, splittable)


def test_a_retry_after_is_read_from_the_answer() -> None:
    assert read_answer(httpx.Response(503, headers={"Retry-After": "7"})).retry_after == 7.0


def test_no_answer_is_final_only_when_no_request_could_ever_reach() -> None:
    request = httpx.Request("POST", "https://dynamiq.invalid/v1/traces")
    assert read_failure(httpx.ConnectError("refused", request=request)).outcome is Outcome.RETRY
    assert read_failure(httpx.ReadTimeout("slow", request=request)).outcome is Outcome.RETRY
    final = read_failure(httpx.UnsupportedProtocol("ftp", request=request))
    assert (final.outcome, final.reason) == (Outcome.FINAL, DropReason.TRANSPORT)


def test_bodies_pack_in_order_under_the_cap() -> None:
    parts = [orjson.dumps({"id": f"r{i}"}) for i in range(10)]
    packed = pack(parts, max_body_bytes=64)
    assert [part for payload in packed for part in payload.parts] == parts
    assert all(len(payload.body) <= 64 for payload in packed)


def test_an_endpoint_httpx_cannot_make_a_url_of_is_a_transport_drop_not_a_crash(tmp_path: Path) -> None:
    """httpx raises ``InvalidURL`` (not a ``TransportError``) for a host it cannot encode, such as a
    non-IDNA name that passed the start-up check: the runs are dropped for ``transport``, said once,
    and nothing is left to an "unexpected" failure or a crashed resender."""
    harness = Harness(tmp_path, Service(status(200)))
    harness.config = load_config(
        endpoint="https://\u2603.invalid", access_key=KEY, timeout=5.0, spool=True, spool_dir=str(tmp_path)
    )
    harness.delivery = Delivery(
        harness.config,
        harness.ledger,
        open_spool=harness._open_spool,
        transport=httpx.MockTransport(harness.service),
        backoff=lambda attempt: 0.0,
    )
    assert not harness.deliver(payloads("a", "b"))
    assert harness.ledger.snapshot().runs_dropped == {DropReason.TRANSPORT: 2}
    assert harness.spooled_runs() == 0
    assert harness.service.requests == []


def test_a_body_failing_in_a_way_nobody_foresaw_costs_only_its_own_runs(tmp_path: Path) -> None:
    """The bodies sent beside it still arrive and are counted; its runs are dropped as ``unexpected``, once."""

    def breaks_on_b(request: httpx.Request) -> httpx.Response:
        if b'"b"' in request.content:
            raise RuntimeError("a transport with a bug")
        return httpx.Response(200)

    harness = Harness(tmp_path, Service(breaks_on_b))
    assert not harness.deliver(payloads("a", "b", "c", per_body=1))
    assert sorted(harness.service.accepted) == ["a", "c"]
    counts = harness.ledger.snapshot()
    assert (counts.runs_sent, dict(counts.runs_dropped)) == (2, {"unexpected": 1})


def test_an_answer_whose_body_cannot_be_decoded_is_no_answer_and_is_retried(tmp_path: Path) -> None:
    """A 200 whose ``Content-Encoding`` lies: httpx cannot read it, so nothing says the runs arrived."""
    lying = Service(
        lambda request: httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(b"not gzip")),
        status(200),
    )
    harness = Harness(tmp_path, lying)
    assert harness.deliver(payloads("a", "b"))
    counts = harness.ledger.snapshot()
    assert (counts.requests, counts.retries, counts.runs_sent, dict(counts.runs_dropped)) == (2, 1, 2, {})
