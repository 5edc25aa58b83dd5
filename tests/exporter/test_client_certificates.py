"""Client certificates (mutual TLS): an https front that demands one from a test CA, the local collector behind it."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_dynamiq import DynamiqSpanExporter
from otel_dynamiq import environment_variables as env
from otel_dynamiq._delivery.answers import Outcome, read_failure
from otel_dynamiq.collector import LocalCollector
from tests.support.common import wait_for_runs
from tests.support.runs import make_spans
from tests.support.tls import CertificateAuthority, TlsFront

PASSWORD = "correct-horse-battery"  # a test key's password, checked never to be echoed


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def mtls_front(collector: LocalCollector, authority: CertificateAuthority) -> Iterator[TlsFront]:
    with TlsFront(collector.url, authority.server_context(require_client_certificate=True)) as front:
        yield front


def test_runs_arrive_through_a_front_that_requires_a_client_certificate(
    collector: LocalCollector,
    mtls_front: TlsFront,
    authority: CertificateAuthority,
    exporters: list[DynamiqSpanExporter],
    tmp_path: Path,
) -> None:
    certificate, key = authority.client_certificate(tmp_path)
    exporter = DynamiqSpanExporter(
        endpoint=mtls_front.url,
        access_key="dq-test",
        certificate_file=authority.ca_file,
        client_certificate_file=certificate,
        client_key_file=key,
    )
    exporters.append(exporter)
    exporter.export(make_spans(2))
    assert sorted(run["name"] for run in wait_for_runs(collector, 2)) == ["span-0", "span-1"]
    assert mtls_front.handshake_failures == 0


def test_an_encrypted_key_from_the_variables_with_its_password(
    collector: LocalCollector,
    mtls_front: TlsFront,
    authority: CertificateAuthority,
    exporters: list[DynamiqSpanExporter],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    certificate, key = authority.client_certificate(tmp_path, password=PASSWORD.encode())
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_CLIENT_CERTIFICATE, str(certificate))
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY, str(key))
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY_PASSWORD, PASSWORD)
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_CERTIFICATE, str(authority.ca_file))
    exporter = DynamiqSpanExporter(endpoint=mtls_front.url, access_key="dq-test")
    exporters.append(exporter)
    exporter.export(make_spans(1))
    assert [run["name"] for run in wait_for_runs(collector, 1)] == ["span-0"]


def test_without_a_client_certificate_nothing_is_delivered_the_runs_wait_in_the_spool_and_one_line_says_why(
    collector: LocalCollector,
    mtls_front: TlsFront,
    authority: CertificateAuthority,
    exporters: list[DynamiqSpanExporter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    exporter = DynamiqSpanExporter(
        endpoint=mtls_front.url, access_key="dq-test", certificate_file=authority.ca_file, timeout=1
    )
    exporters.append(exporter)
    with caplog.at_level(logging.WARNING, logger="otel_dynamiq"):
        exporter.export(make_spans(2))
    assert collector.store.runs() == []
    assert exporter.stats.runs_spooled == 2
    assert exporter.stats.runs_dropped == {}
    state = exporter.spool_state()
    assert state is not None and state.runs == 2
    warnings = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0], warnings
    # Which words it has depends on a race TLS 1.3 leaves open: the server's alert arrives after the
    # client has written its request, and httpcore drops the write's error, so the read may see only the
    # closed connection (ReadError). When the alert is seen, the line names the settings to fix.
    assert "wait in the spool" in warnings[0]
    assert mtls_front.handshake_failures >= 1


def test_the_servers_refusal_of_the_client_certificate_names_the_settings_to_set() -> None:
    alert = ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required")
    alert.reason = "TLSV13_ALERT_CERTIFICATE_REQUIRED"
    verdict = read_failure(alert)
    assert verdict.outcome is Outcome.RETRY  # kept, spooled at the deadline, resent once the setting is fixed
    assert verdict.client_refused
    assert env.OTEL_EXPORTER_DYNAMIQ_CLIENT_CERTIFICATE in verdict.cause and "\n" not in verdict.cause


def write_other_key(authority: CertificateAuthority, directory: Path) -> Path:
    directory.mkdir()
    return authority.client_certificate(directory)[1]


@pytest.mark.parametrize("case", ["missing certificate", "missing key", "key of another certificate", "key alone"])
def test_a_client_certificate_that_cannot_serve_fails_at_start_naming_the_setting(
    authority: CertificateAuthority, tmp_path: Path, case: str
) -> None:
    certificate, key = authority.client_certificate(tmp_path)
    keywords: dict[str, object] = {"client_certificate_file": certificate, "client_key_file": key}
    expected = {
        "missing certificate": "client_certificate_file=",
        "missing key": "client_key_file=",
        "key of another certificate": "is not the private key of the certificate",
        "key alone": "client_key_file is set without a client certificate",
    }[case]
    if case == "missing certificate":
        keywords["client_certificate_file"] = tmp_path / "nowhere.pem"
    elif case == "missing key":
        keywords["client_key_file"] = tmp_path / "nowhere-key.pem"
    elif case == "key of another certificate":
        keywords["client_key_file"] = write_other_key(authority, tmp_path / "other")
    else:
        del keywords["client_certificate_file"]
    with pytest.raises(ValueError, match=expected):
        DynamiqSpanExporter(endpoint="https://localhost:9", access_key="dq-test", **keywords)  # type: ignore[arg-type]


def test_an_encrypted_key_without_its_password_fails_at_start_without_prompting(
    authority: CertificateAuthority, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certificate, key = authority.client_certificate(tmp_path, password=PASSWORD.encode())
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_CLIENT_CERTIFICATE, str(certificate))
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY, str(key))
    with pytest.raises(ValueError, match=f"encrypted private key.*{env.OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY_PASSWORD}"):
        DynamiqSpanExporter(endpoint="https://localhost:9", access_key="dq-test")


def test_an_encrypted_key_given_by_keyword_names_the_keyword_for_its_password(
    authority: CertificateAuthority, tmp_path: Path
) -> None:
    certificate, key = authority.client_certificate(tmp_path, password=PASSWORD.encode())
    with pytest.raises(ValueError, match="set client_key_password ") as raised:
        DynamiqSpanExporter(
            endpoint="https://localhost:9",
            access_key="dq-test",
            client_certificate_file=certificate,
            client_key_file=key,
        )
    assert env.OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY_PASSWORD in str(raised.value)  # the other way, said second


def test_a_certificate_file_without_its_key_names_no_variable_that_is_not_set(
    authority: CertificateAuthority, tmp_path: Path
) -> None:
    certificate, _ = authority.client_certificate(tmp_path)  # the certificate alone: no key in the file
    with pytest.raises(ValueError, match="no key file given, so the key was looked for in this one") as raised:
        DynamiqSpanExporter(endpoint="https://localhost:9", access_key="dq-test", client_certificate_file=certificate)
    assert "(the same file)" not in str(raised.value)


def test_a_wrong_password_fails_at_start_without_echoing_it(authority: CertificateAuthority, tmp_path: Path) -> None:
    certificate, key = authority.client_certificate(tmp_path, password=PASSWORD.encode())
    with pytest.raises(ValueError, match="client_key_password is not the key's password") as raised:
        DynamiqSpanExporter(
            endpoint="https://localhost:9",
            access_key="dq-test",
            client_certificate_file=certificate,
            client_key_file=key,
            client_key_password="wrong-" + PASSWORD,
        )
    assert PASSWORD not in str(raised.value)


def test_the_certificate_by_keyword_and_its_key_from_the_variable(
    collector: LocalCollector,
    mtls_front: TlsFront,
    authority: CertificateAuthority,
    exporters: list[DynamiqSpanExporter],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each setting falls back to its own variable (a configuration file naming only the certificate)."""
    certificate, key = authority.client_certificate(tmp_path)
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_CLIENT_KEY, str(key))
    exporter = DynamiqSpanExporter(
        endpoint=mtls_front.url,
        access_key="dq-test",
        certificate_file=authority.ca_file,
        client_certificate_file=certificate,
    )
    exporters.append(exporter)
    exporter.export(make_spans(1))
    assert [run["name"] for run in wait_for_runs(collector, 1)] == ["span-0"]


def test_a_password_that_is_not_text_fails_at_start_naming_the_setting(
    authority: CertificateAuthority, tmp_path: Path
) -> None:
    certificate, key = authority.client_certificate(tmp_path, password=b"123456")
    with pytest.raises(ValueError, match="client_key_password must be a string"):
        DynamiqSpanExporter(
            endpoint="https://127.0.0.1:9",
            access_key="dq-test",
            client_certificate_file=certificate,
            client_key_file=key,
            client_key_password=123456,  # type: ignore[arg-type] - as a YAML file gives an unquoted number
        )
