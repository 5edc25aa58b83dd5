"""Proxies from the environment: the one that applies to the endpoint carries the runs, the others are never built.

The exporter decides at start-up which proxy, if any, httpx's rules give its one
endpoint, and hands httpx exactly that one. A proxy the installed httpx cannot
use is a start-up ``ValueError`` naming the variable (never the URL: it may hold a
password), unless ``NO_PROXY`` exempts the endpoint.

"SOCKS support is not installed" is made true here by hiding ``socksio``
(``sys.modules["socksio"] = None`` makes every import of it fail, httpx's
included), so the tests mean the same whether or not it is installed.
"""

from __future__ import annotations

import sys

import httpx
import pytest

from otel_dynamiq import DynamiqSpanExporter
from otel_dynamiq._delivery.proxy import proxy_for
from otel_dynamiq.collector import LocalCollector
from tests.support.common import FAKE_KEY, SpanRecorder
from tests.support.proxy import ForwardProxy

PROXY_USER = "proxy-user-3c9d"
PROXY_PASSWORD = "proxy-secret-81fa"  # recognisable, so a test can grep for it
SOCKS_URL = f"socks5://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:1080"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD")


@pytest.fixture(autouse=True)
def _no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sets the proxy variables it is about, in whichever case; none leak in from the machine."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def without_socksio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "socksio", None)


def export_two_runs(exporter: DynamiqSpanExporter, recorder: SpanRecorder) -> str:
    with recorder.tracer.start_as_current_span("through the proxy"):
        with recorder.tracer.start_as_current_span("step"):
            pass
    return exporter.export(recorder.spans()).name


def test_an_http_proxy_carries_the_runs_with_its_credentials(
    monkeypatch: pytest.MonkeyPatch,
    collector: LocalCollector,
    exporters: list[DynamiqSpanExporter],
    recorder: SpanRecorder,
) -> None:
    """What works today must keep working: HTTP_PROXY is used for an http endpoint, loopback included."""
    with ForwardProxy(PROXY_USER, PROXY_PASSWORD) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        exporter = DynamiqSpanExporter(endpoint=collector.url)
        exporters.append(exporter)
        assert export_two_runs(exporter, recorder) == "SUCCESS"
        assert [request.url for request in proxy.requests] == [collector.url + "/v1/traces"]
        assert proxy.requests[0].proxy_authorization is not None
    assert {run["name"] for run in collector.store.runs()} == {"through the proxy", "step"}


@pytest.mark.usefixtures("without_socksio")
def test_the_http_proxy_is_used_while_all_proxy_names_a_socks_proxy_never_needed(
    monkeypatch: pytest.MonkeyPatch,
    collector: LocalCollector,
    exporters: list[DynamiqSpanExporter],
    recorder: SpanRecorder,
) -> None:
    """For an http:// URL httpx prefers HTTP_PROXY over ALL_PROXY: the SOCKS one is never built."""
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("ALL_PROXY", SOCKS_URL)
        exporter = DynamiqSpanExporter(endpoint=collector.url)
        exporters.append(exporter)
        assert export_two_runs(exporter, recorder) == "SUCCESS"
        assert len(proxy.requests) == 1
    assert {run["name"] for run in collector.store.runs()} == {"through the proxy", "step"}


@pytest.mark.usefixtures("without_socksio")
@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost, 127.0.0.1"])
def test_a_socks_proxy_the_endpoint_is_exempt_from_costs_nothing(
    no_proxy: str,
    monkeypatch: pytest.MonkeyPatch,
    collector: LocalCollector,
    exporters: list[DynamiqSpanExporter],
    recorder: SpanRecorder,
) -> None:
    """ALL_PROXY=socks5://... with NO_PROXY covering the endpoint: the stock OTLP exporter delivers, so must we."""
    monkeypatch.setenv("ALL_PROXY", SOCKS_URL)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    exporter = DynamiqSpanExporter(endpoint=collector.url)
    exporters.append(exporter)
    assert export_two_runs(exporter, recorder) == "SUCCESS"
    assert {run["name"] for run in collector.store.runs()} == {"through the proxy", "step"}
    assert exporter.stats.runs_dropped == {}


@pytest.mark.usefixtures("without_socksio")
@pytest.mark.parametrize(
    ("variable", "endpoint"),
    [
        ("ALL_PROXY", "http://127.0.0.1:4319"),
        ("all_proxy", "http://127.0.0.1:4319"),
        ("HTTPS_PROXY", "https://dynamiq.example"),
        ("https_proxy", "https://dynamiq.example"),
        ("HTTP_PROXY", "http://127.0.0.1:4319"),
    ],
)
def test_a_socks_proxy_without_socksio_fails_at_start_up(
    variable: str, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, SOCKS_URL)
    monkeypatch.setenv("NO_PROXY", "elsewhere.example")
    with pytest.raises(ValueError, match=variable) as raised:
        DynamiqSpanExporter(endpoint=endpoint, access_key=FAKE_KEY)
    message = str(raised.value)
    assert "socksio" in message and "httpx[socks]" in message, message
    assert PROXY_USER not in message and PROXY_PASSWORD not in message, message


def test_a_proxy_scheme_httpx_cannot_use_fails_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx would say "Unknown scheme for proxy URL" with the URL, password and all, at the first export."""
    monkeypatch.setenv("ALL_PROXY", f"socks4://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:1080")
    with pytest.raises(ValueError, match="ALL_PROXY") as raised:
        DynamiqSpanExporter(endpoint="http://127.0.0.1:4319")
    message = str(raised.value)
    assert "socks4" in message and "socks5" in message, message
    assert PROXY_USER not in message and PROXY_PASSWORD not in message, message


@pytest.mark.parametrize(
    ("variables", "url"),
    [
        ({"HTTP_PROXY": "http://127.0.0.1:3128"}, "http://127.0.0.1:4319/v1/traces"),
        ({"HTTP_PROXY": "http://127.0.0.1:3128"}, "https://dynamiq.example/v1/traces"),
        ({"HTTPS_PROXY": "127.0.0.1:3129", "ALL_PROXY": "http://127.0.0.1:3130"}, "https://dynamiq.example/v1/traces"),
        ({"ALL_PROXY": "http://127.0.0.1:3130"}, "http://localhost:4319/v1/traces"),
        ({"ALL_PROXY": "http://127.0.0.1:3130", "NO_PROXY": "localhost"}, "http://localhost:4319/v1/traces"),
        ({"ALL_PROXY": "http://127.0.0.1:3130", "NO_PROXY": "elsewhere, *"}, "http://localhost:4319/v1/traces"),
        ({"ALL_PROXY": "http://127.0.0.1:3130", "NO_PROXY": "example"}, "https://dynamiq.example/v1/traces"),
        ({"ALL_PROXY": "http://127.0.0.1:3130", "NO_PROXY": ".example"}, "https://dynamiq.example/v1/traces"),
        ({"ALL_PROXY": "http://127.0.0.1:3130", "NO_PROXY": ".dynamiq.example"}, "https://dynamiq.example/v1/traces"),
        ({"ALL_PROXY": "http://127.0.0.1:3130", "NO_PROXY": "::1"}, "http://[::1]:4319/v1/traces"),
        ({"ALL_PROXY": "http://127.0.0.1:3130", "NO_PROXY": "http://127.0.0.1"}, "http://127.0.0.1:4319/v1/traces"),
        ({"ALL_PROXY": "http://127.0.0.1:3130", "NO_PROXY": "all://127.0.0.1:4319"}, "http://127.0.0.1:4319/"),
        ({"http_proxy": "http://127.0.0.1:3131", "HTTP_PROXY": "http://127.0.0.1:3132"}, "http://127.0.0.1:9/"),
        ({"HTTP_PROXY": "http://127.0.0.1:3132", "REQUEST_METHOD": "GET"}, "http://127.0.0.1:9/"),
        ({"https_proxy": "", "HTTPS_PROXY": "http://127.0.0.1:3133"}, "https://dynamiq.example/v1/traces"),
    ],
)
def test_the_proxy_chosen_is_the_one_httpx_itself_would_use(
    variables: dict[str, str], url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked against httpx's own choice for a client that reads the environment (plain-http proxies only,
    so that every proxy it builds can be built)."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with httpx.Client(trust_env=True) as client:
        transport = client._transport_for_url(httpx.URL(url))
        expected = None if transport is client._transport else transport._pool._proxy_url  # type: ignore[attr-defined]
    chosen = proxy_for(url)
    if expected is None:
        assert chosen is None
    else:
        assert chosen is not None
        assert (httpx.URL(chosen.url).host, httpx.URL(chosen.url).port) == (expected.host.decode(), expected.port)
