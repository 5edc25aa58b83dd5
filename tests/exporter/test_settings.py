"""Every setting of ``_config.SETTINGS`` reaches the exporter's config, from its keyword and from each variable.

The table drives the constructor's keywords and ``load_config``; a setting added to it without a case here
fails ``test_every_setting_has_a_case``, and one that is declared but never read (or read into the wrong
field) fails the cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pytest

from otel_dynamiq import DynamiqSpanExporter, ExporterConfig
from otel_dynamiq import environment_variables as env
from otel_dynamiq._config import SETTINGS, load_config
from tests.apps.masks import identity
from tests.support.common import FAKE_KEY
from tests.support.tls import CertificateAuthority

LOOPBACK = "http://127.0.0.1:9"
PASSWORD = "correct-horse-battery"


@dataclass
class Case:
    """A keyword's value, a variable's text meaning the same, what the config then holds, and how to see it."""

    keyword_value: Any
    text: str | None
    expected: Any
    observe: Callable[[ExporterConfig], Any]
    context: dict[str, Any] = field(default_factory=dict)
    """Other keywords the setting needs to show (an http endpoint for ``insecure``)."""


def cases(tmp_path: Path) -> dict[str, Case]:
    authority = CertificateAuthority(tmp_path)
    for directory in ("plain", "locked", "spool"):
        (tmp_path / directory).mkdir()
    certificate, key = authority.client_certificate(tmp_path / "plain")
    locked_certificate, locked_key = authority.client_certificate(tmp_path / "locked", password=PASSWORD.encode())
    return {
        "access_key": Case("key-from-here", "key-from-here", "key-from-here", lambda c: c.access_key),
        "endpoint": Case(
            "http://127.0.0.1:4319/", "http://127.0.0.1:4319/", "http://127.0.0.1:4319", lambda c: c.endpoint
        ),
        "timeout": Case(7, "7", 7.0, lambda c: c.timeout),
        "compression": Case("gzip", "gzip", "gzip", lambda c: c.compression),
        "headers": Case({"x-team": "ai ops"}, "x-team=ai%20ops", {"x-team": "ai ops"}, lambda c: c.headers),
        "max_request_bytes": Case(65536, "65536", 65536, lambda c: c.max_request_bytes),
        "source_id": Case("source-a", "source-a", "source-a", lambda c: c.source_id),
        "session_id": Case("session-a", None, "session-a", lambda c: c.session_id),
        "insecure": Case(
            True,
            "true",
            "http://collector.example",
            lambda c: c.endpoint,
            {"endpoint": "http://collector.example", "access_key": FAKE_KEY},
        ),
        "redact_keys": Case(["a", "b"], "a, b", ("a", "b"), lambda c: c.redact_keys),
        "spool": Case(False, "false", None, lambda c: c.spool),
        "spool_dir": Case(tmp_path / "spool", str(tmp_path / "spool"), tmp_path / "spool", lambda c: c.spool.directory),
        "spool_max_bytes": Case(2_000_000, "2000000", 2_000_000, lambda c: c.spool.max_bytes),
        "spool_max_age": Case(60, "60", 60.0, lambda c: c.spool.max_age_seconds),
        "certificate_file": Case(
            authority.ca_file, str(authority.ca_file), authority.ca_file, lambda c: c.certificate_file
        ),
        "flush_on_exit": Case(False, "false", False, lambda c: c.flush_on_exit),
        "client_certificate_file": Case(
            certificate,
            str(certificate),
            certificate,
            lambda c: c.client_certificate and c.client_certificate.certificate_file,
            {"client_key_file": key},
        ),
        "client_key_file": Case(
            key,
            str(key),
            key,
            lambda c: c.client_certificate and c.client_certificate.key_file,
            {"client_certificate_file": certificate},
        ),
        "client_key_password": Case(
            PASSWORD,
            PASSWORD,
            PASSWORD,
            lambda c: c.client_certificate and c.client_certificate.key_password,
            {"client_certificate_file": locked_certificate, "client_key_file": locked_key},
        ),
        "mask": Case("tests.apps.masks:identity", "tests.apps.masks:identity", identity, lambda c: c.mask),
        "media_inline_bytes": Case(100, "100", 100, lambda c: c.media_inline_bytes),
    }


def test_every_setting_has_a_case(tmp_path: Path) -> None:
    assert list(cases(tmp_path)) == [setting.keyword for setting in SETTINGS]


def test_every_setting_that_is_its_own_field_is_a_field_of_the_config() -> None:
    names = {config_field.name for config_field in fields(ExporterConfig)}
    assert {setting.keyword for setting in SETTINGS if setting.in_config} <= names


def without(config: Callable[[], ExporterConfig], case: Case) -> Any:
    """What the config holds when the setting is given neither way; a ValueError's text when it cannot load."""
    try:
        return case.observe(config())
    except ValueError as exc:
        return str(exc)


@pytest.mark.parametrize("keyword", [setting.keyword for setting in SETTINGS])
def test_each_setting_reaches_the_config_from_its_keyword_and_from_each_variable(
    keyword: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exporters: list[DynamiqSpanExporter]
) -> None:
    setting = next(setting for setting in SETTINGS if setting.keyword == keyword)
    case = cases(tmp_path)[keyword]
    context = {"endpoint": LOOPBACK, **case.context}
    if keyword == "endpoint":
        context = {}

    assert without(lambda: load_config(**context), case) != case.expected  # the case shows the setting

    exporter = DynamiqSpanExporter(**{**context, keyword: case.keyword_value})  # the keyword, through the constructor
    exporters.append(exporter)
    assert case.observe(exporter.config) == case.expected
    assert case.observe(load_config(**{**context, keyword: case.keyword_value})) == case.expected

    assert case.text is not None or not setting.variables
    for variable in setting.variables:
        with monkeypatch.context() as patched:
            patched.setenv(variable, case.text or "")
            assert case.observe(load_config(**context)) == case.expected, variable


def test_a_keyword_that_is_no_setting_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match=r"^DynamiqSpanExporter\(\) got an unexpected keyword argument 'timeout_s'$"):
        DynamiqSpanExporter(endpoint=LOOPBACK, timeout_s=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"^load_config\(\) got an unexpected keyword argument 'meter_provider'$"):
        load_config(endpoint=LOOPBACK, meter_provider=None)  # type: ignore[call-arg]


def test_keywords_given_as_none_are_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env.OTEL_EXPORTER_DYNAMIQ_TIMEOUT, "3")
    assert load_config(endpoint=LOOPBACK, timeout=None, access_key=FAKE_KEY).timeout == 3.0


def test_each_documented_default_starts_with_the_default_value() -> None:
    """The docstring's and the documentation's defaults are the table's text: it must say the table's value."""
    for setting in SETTINGS:
        value = setting.default
        if isinstance(value, bool):
            shown = "true" if value else "false"
        elif isinstance(value, (int, float)):
            shown = f"{value:g}" if value < 1e6 else str(int(value))
        elif isinstance(value, str):
            shown = value
        else:
            continue
        assert setting.documented_default.startswith(f"``{shown}``"), setting.keyword
