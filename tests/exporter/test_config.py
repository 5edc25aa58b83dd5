from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from otel_dynamiq import DynamiqSpanExporter
from otel_dynamiq import environment_variables as env
from otel_dynamiq._config import DEFAULT_ENDPOINT, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_TIMEOUT_SECONDS, load_config
from tests.support.common import FAKE_KEY
from tests.support.processes import ROOT, clean_env


def test_defaults_with_only_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYNAMIQ_ACCESS_KEY", FAKE_KEY)
    config = load_config()
    assert config.endpoint == DEFAULT_ENDPOINT
    assert config.traces_url == DEFAULT_ENDPOINT + "/v1/traces"
    assert config.access_key == FAKE_KEY
    assert config.timeout == DEFAULT_TIMEOUT_SECONDS
    assert config.compression == "none"
    assert config.max_request_bytes == DEFAULT_MAX_REQUEST_BYTES
    assert config.request_headers()["Authorization"] == f"Bearer {FAKE_KEY}"


def test_service_token_is_the_fallback_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYNAMIQ_SERVICE_TOKEN", "token-b")
    assert load_config().access_key == "token-b"
    monkeypatch.setenv("DYNAMIQ_ACCESS_KEY", "key-a")
    assert load_config().access_key == "key-a"


def test_missing_key_names_both_variables() -> None:
    with pytest.raises(ValueError, match="DYNAMIQ_ACCESS_KEY") as raised:
        DynamiqSpanExporter()
    assert "DYNAMIQ_SERVICE_TOKEN" in str(raised.value)


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:4319", "http://localhost:9", "http://[::1]:80"])
def test_loopback_endpoint_needs_no_key(endpoint: str) -> None:
    config = load_config(endpoint=endpoint)
    assert config.access_key is None
    assert "Authorization" not in config.request_headers()


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYNAMIQ_ACCESS_KEY", FAKE_KEY)
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_ENDPOINT", "https://dynamiq.example/")
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_TIMEOUT", "2.5")
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_COMPRESSION", "GZIP")
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_HEADERS", "x-team=ai%20ops, x-env = prod")
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_MAX_REQUEST_BYTES", "65536")
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_SOURCE_ID", "my-source")
    config = load_config()
    assert config.traces_url == "https://dynamiq.example/v1/traces"
    assert config.timeout == 2.5
    assert config.compression == "gzip"
    assert config.headers == {"x-team": "ai ops", "x-env": "prod"}
    assert config.max_request_bytes == 65536
    assert config.source_id == "my-source"
    headers = config.request_headers()
    assert headers["Content-Encoding"] == "gzip"
    assert headers["x-team"] == "ai ops"


def test_keywords_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYNAMIQ_ACCESS_KEY", "from-env")
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_TIMEOUT", "2.5")
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_COMPRESSION", "gzip")
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_HEADERS", "a=1")
    config = load_config(access_key="from-kwarg", timeout=7, compression="none", headers={"b": "2"})
    assert (config.access_key, config.timeout, config.compression, dict(config.headers)) == (
        "from-kwarg",
        7.0,
        "none",
        {"b": "2"},
    )


@pytest.mark.parametrize("name", ["Authorization", "authorization", "Content-Length", "Host", "Transfer-Encoding"])
def test_extra_headers_cannot_set_what_the_exporter_sets(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_HEADERS", f"{name}=Bearer%20other-secret")
    with pytest.raises(ValueError, match="OTEL_EXPORTER_DYNAMIQ_HEADERS") as refused:
        load_config(access_key=FAKE_KEY)
    assert "other-secret" not in str(refused.value)
    with pytest.raises(ValueError, match="headers: header"):
        load_config(access_key=FAKE_KEY, headers={name: "x"})


@pytest.mark.parametrize(
    "raw", ["X-Team=a%0D%0AX-Evil%3A%201", "X-Team=caf%C3%A9-secret", "X-T%0Aeam=1", "Bad%20Name=1"]
)
def test_header_values_that_would_break_requests_fail_at_start(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_HEADERS", raw)
    with pytest.raises(ValueError, match="OTEL_EXPORTER_DYNAMIQ_HEADERS") as refused:
        load_config(access_key=FAKE_KEY)
    assert "secret" not in str(refused.value) and "Evil" not in str(refused.value)


@pytest.mark.parametrize("key", [f"{FAKE_KEY}\r\nX-Evil: 1", f"{FAKE_KEY} x", f"{FAKE_KEY}é"])
def test_a_key_that_cannot_be_a_header_fails_at_start_without_being_echoed(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("DYNAMIQ_ACCESS_KEY", key)
    with pytest.raises(ValueError, match="DYNAMIQ_ACCESS_KEY") as refused:
        load_config()
    assert FAKE_KEY not in str(refused.value)


def test_user_and_password_in_the_endpoint_are_refused_without_being_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_ENDPOINT", "https://user:hunter2@collector.example")
    with pytest.raises(ValueError, match="OTEL_EXPORTER_DYNAMIQ_ENDPOINT") as refused:
        load_config(access_key=FAKE_KEY)
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("OTEL_EXPORTER_DYNAMIQ_TIMEOUT", "soon", "OTEL_EXPORTER_DYNAMIQ_TIMEOUT='soon' is not a number"),
        ("OTEL_EXPORTER_DYNAMIQ_TIMEOUT", "-1", "must be a positive"),
        ("OTEL_EXPORTER_DYNAMIQ_COMPRESSION", "brotli", "set it to 'none' or 'gzip'"),
        ("OTEL_EXPORTER_DYNAMIQ_MAX_REQUEST_BYTES", "lots", "OTEL_EXPORTER_DYNAMIQ_MAX_REQUEST_BYTES='lots'"),
        ("OTEL_EXPORTER_DYNAMIQ_MAX_REQUEST_BYTES", "100", "must be at least"),
        ("OTEL_EXPORTER_DYNAMIQ_HEADERS", "novalue", "OTEL_EXPORTER_DYNAMIQ_HEADERS has an entry without"),
        ("OTEL_EXPORTER_DYNAMIQ_ENDPOINT", "collector.example", "is not an http(s) URL"),
    ],
)
def test_bad_values_fail_at_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv("DYNAMIQ_ACCESS_KEY", FAKE_KEY)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError) as raised:
        DynamiqSpanExporter()
    assert expected in str(raised.value)


def test_bad_header_error_does_not_echo_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYNAMIQ_ACCESS_KEY", FAKE_KEY)
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_HEADERS", "secret-token-xyz")
    with pytest.raises(ValueError) as raised:
        load_config()
    assert "secret-token-xyz" not in str(raised.value)


def test_key_is_not_in_reprs() -> None:
    exporter = DynamiqSpanExporter(access_key=FAKE_KEY, headers={"x-api-key": FAKE_KEY})
    assert FAKE_KEY not in repr(exporter)
    assert FAKE_KEY not in repr(exporter.config)
    assert FAKE_KEY not in str(exporter.config)


def test_plain_http_to_another_host_is_refused_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYNAMIQ_ACCESS_KEY", FAKE_KEY)
    with pytest.raises(ValueError, match="OTEL_EXPORTER_DYNAMIQ_INSECURE=true") as raised:
        DynamiqSpanExporter(endpoint="http://collector.example")
    assert "clear text" in str(raised.value)
    assert FAKE_KEY not in str(raised.value)
    assert load_config(endpoint="http://collector.example", insecure=True).endpoint == "http://collector.example"
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_INSECURE", "true")
    assert load_config(endpoint="http://collector.example").endpoint == "http://collector.example"
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_INSECURE", "perhaps")
    with pytest.raises(ValueError, match="OTEL_EXPORTER_DYNAMIQ_INSECURE='perhaps' is not a boolean"):
        load_config(endpoint="http://collector.example")


@pytest.mark.parametrize("endpoint", ["https://collector.example", "http://127.0.0.1:4319", "http://localhost:1"])
def test_https_and_loopback_http_need_no_permission(endpoint: str) -> None:
    assert load_config(endpoint=endpoint, access_key=FAKE_KEY).endpoint == endpoint


@pytest.mark.parametrize(("content", "problem"), [(None, "cannot be read"), (b"not a certificate", "no usable PEM")])
def test_a_certificate_file_that_cannot_serve_fails_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: bytes | None, problem: str
) -> None:
    pem = tmp_path / "ca.pem"
    if content is not None:
        pem.write_bytes(content)
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_CERTIFICATE", str(pem))
    with pytest.raises(ValueError, match=problem) as raised:
        DynamiqSpanExporter(endpoint="https://localhost:4319")
    assert "OTEL_EXPORTER_DYNAMIQ_CERTIFICATE" in str(raised.value)
    with pytest.raises(ValueError, match="certificate_file"):
        DynamiqSpanExporter(endpoint="https://localhost:4319", certificate_file=pem)


def test_a_certificate_file_that_is_not_a_regular_file_fails_at_start_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "ca.pem"
    os.mkfifo(fifo)  # reading it would block the constructor for ever
    with pytest.raises(ValueError, match="not a regular file"):
        DynamiqSpanExporter(endpoint="https://localhost:4319", certificate_file=fifo)


@pytest.mark.parametrize(("variable", "kind"), [("SSL_CERT_FILE", "not a file"), ("SSL_CERT_DIR", "not a directory")])
def test_standard_trust_variables_naming_nothing_fail_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, kind: str
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv(variable, str(tmp_path / "missing"))
    with pytest.raises(ValueError, match=f"{variable}=.*{kind}"):
        DynamiqSpanExporter(endpoint="https://localhost:4319")
    DynamiqSpanExporter(endpoint="http://localhost:4319").shutdown()  # plain http does not read them


def test_an_endpoint_whose_port_is_not_a_number_fails_at_start() -> None:
    with pytest.raises(ValueError, match="is not an http"):
        load_config(endpoint="http://127.0.0.1:4319x")


HOMELESS_UID = 54321
"""A user with no passwd entry and no HOME, as a container run with a random ``--user`` is."""
TRY_A_HOME_PATH = """
import sys
from otel_dynamiq import DynamiqSpanExporter
keywords = {sys.argv[1]: sys.argv[2]} if len(sys.argv) > 2 else {}
try:
    DynamiqSpanExporter(endpoint="https://localhost:4319", access_key="dq-secret-in-the-key", **keywords).shutdown()
except ValueError as exc:
    print(f"ValueError: {exc}")
"""


def runs_as_a_user_without_a_home() -> bool:
    """Root, setpriv (util-linux), and an interpreter that user may run (pyenv's shared libpython under a
    0700 /root is not)."""
    if not hasattr(os, "getuid") or os.getuid() != 0 or shutil.which("setpriv") is None:
        return False
    as_homeless = ["setpriv", f"--reuid={HOMELESS_UID}", f"--regid={HOMELESS_UID}", "--clear-groups"]
    probe = subprocess.run([*as_homeless, sys.executable, "-c", "pass"], capture_output=True, timeout=60, cwd="/")
    return probe.returncode == 0


@pytest.mark.skipif(
    not runs_as_a_user_without_a_home(),
    reason="running as a user with no home needs root, setpriv (util-linux) and an interpreter that user can run",
)
@pytest.mark.parametrize(
    ("keyword", "variable"),
    [("spool_dir", "OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR"), ("certificate_file", "OTEL_EXPORTER_DYNAMIQ_CERTIFICATE")],
)
@pytest.mark.parametrize("given_as", ["keyword", "variable"])
def test_a_home_path_for_a_user_without_a_home_fails_at_start_naming_the_setting(
    keyword: str, variable: str, given_as: str
) -> None:
    import pwd

    with pytest.raises(KeyError):
        pwd.getpwuid(HOMELESS_UID)
    environment = clean_env(PYTHONPATH=str(ROOT))
    environment.pop("HOME", None)
    environment.pop(env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR, None)
    arguments = [keyword, "~/otel"] if given_as == "keyword" else []
    if given_as == "variable":
        environment[variable] = "~/otel"
    as_homeless = ["setpriv", f"--reuid={HOMELESS_UID}", f"--regid={HOMELESS_UID}", "--clear-groups"]
    done = subprocess.run(
        [*as_homeless, sys.executable, "-c", TRY_A_HOME_PATH, *arguments],
        env=environment,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    named = keyword if given_as == "keyword" else variable
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert done.stdout.startswith(f"ValueError: {named}='~/otel'"), done.stdout
    assert "home directory" in done.stdout
    assert "dq-secret-in-the-key" not in done.stdout + done.stderr


@pytest.mark.skipif(not os.access("/tmp", os.W_OK | os.X_OK), reason="needs a writable /tmp")
def test_the_default_spool_is_in_the_first_writable_temporary_directory_never_the_working_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(env.OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR)
    own = f"otel-dynamiq-{os.getuid()}"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "relative").mkdir()
    (tmp_path / "absolute").mkdir()
    for tmpdir, expected in [
        ("relative", Path("/tmp") / own),
        (str(tmp_path / "missing"), Path("/tmp") / own),
        (str(tmp_path / "absolute"), tmp_path / "absolute" / own),
    ]:
        monkeypatch.setenv("TMPDIR", tmpdir)
        spool = load_config(endpoint="http://127.0.0.1:9").spool
        assert spool is not None and spool.directory == expected, tmpdir


def test_an_empty_spool_dir_is_refused_and_a_relative_one_made_absolute(monkeypatch, tmp_path):
    """An empty one would be the working directory, and a relative one would follow the application's chdir()."""
    with pytest.raises(ValueError, match="spool_dir is empty"):
        load_config(endpoint="http://127.0.0.1:9", spool_dir="")
    monkeypatch.chdir(tmp_path)
    config = load_config(endpoint="http://127.0.0.1:9", spool_dir="relative/spool")
    assert config.spool is not None
    assert config.spool.directory == tmp_path / "relative" / "spool"


def test_redact_keys_given_as_one_string_are_names_separated_by_commas_never_letters() -> None:
    config = load_config(endpoint="http://127.0.0.1:9", redact_keys="customer_ref, account")
    assert config.redact_keys == ("customer_ref", "account")


def test_headers_may_be_the_configuration_files_list_of_name_value_pairs() -> None:
    config = load_config(
        endpoint="http://127.0.0.1:9",
        headers=[{"name": "x-team", "value": "ai-ops"}, {"name": "x-shard", "value": "3"}],  # type: ignore[arg-type]
    )
    assert config.headers == {"x-team": "ai-ops", "x-shard": "3"}


@pytest.mark.parametrize("keyword", ["access_key", "source_id", "session_id"])
def test_a_number_where_text_is_needed_fails_at_start_saying_to_quote_it(keyword: str) -> None:
    """YAML reads an unquoted ``${VAR}`` of digits as a number, and may change it (``0755`` is 493): taking
    the number as text would send the wrong key or id without a word."""
    with pytest.raises(ValueError, match=f"{keyword} must be a string, not int .in a configuration file, quote it"):
        load_config(endpoint="http://127.0.0.1:9", **{keyword: 493})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("keywords", "named"),
    [
        ({"endpoint": 5}, "endpoint must be a string"),
        ({"access_key": ["a"]}, "access_key must be a string"),
        ({"client_certificate_file": 5}, "client_certificate_file must be a file path"),
        ({"spool_dir": True}, "spool_dir must be a file path"),
        ({"redact_keys": ["a", 5]}, "redact_keys must hold key names"),
        ({"redact_keys": 5}, "redact_keys must be a list"),
        ({"headers": ["x-team: ai-ops"]}, "headers must be a mapping"),
        ({"headers": {"x-shard": 3}}, "the value of header 'x-shard' must be a string, not int"),
    ],
)
def test_keywords_of_the_wrong_type_fail_at_start_naming_the_keyword(keywords: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        load_config(**{"endpoint": "http://127.0.0.1:9", **keywords})  # type: ignore[arg-type]


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9", "https://collector.example"])
def test_a_bad_insecure_value_is_refused_whatever_the_endpoint(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="insecure"):
        load_config(endpoint=endpoint, access_key="k", insecure="maybe")  # type: ignore[arg-type]
    monkeypatch.setenv("OTEL_EXPORTER_DYNAMIQ_INSECURE", "ture")
    with pytest.raises(ValueError, match="OTEL_EXPORTER_DYNAMIQ_INSECURE"):
        load_config(endpoint=endpoint, access_key="k")
