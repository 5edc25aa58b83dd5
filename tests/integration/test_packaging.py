"""What ``pip install`` gives a user: the built wheel in a fresh virtualenv, away from the checkout.

The editable install the other tests use can hide a file missing from the
wheel, an entry point that names a module the wheel lacks, or an import that
only works from the checkout. Here the wheel is built, installed alone in a new
virtualenv, and a short-lived traced script runs from a directory that holds
nothing of the project, three ways in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_dynamiq.collector import LocalCollector
from tests.support.common import wait_for_runs

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).parent / "uv"


def build(kind: str, out: Path) -> Path:
    subprocess.run(
        [str(UV), "build", "--quiet", f"--{kind}", "--out-dir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (made,) = out.glob("*.whl" if kind == "wheel" else "*.tar.gz")
    return made


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build("wheel", tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A new virtualenv with the wheel and its dependencies only; returns its bin directory."""
    venv = tmp_path_factory.mktemp("venv") / "user"
    subprocess.run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(UV), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    yield venv / "bin"


def user_environment(**extra: str) -> dict[str, str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "DYNAMIQ_", "PYTHONPATH"))
    }
    environment["OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR"] = os.environ["OTEL_EXPORTER_DYNAMIQ_SPOOL_DIR"]
    environment.update(extra)
    return environment


def test_wheel_carries_the_license_type_markers_and_entry_points(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(name for name in names if name.endswith(".dist-info/METADATA"))).decode()
        entry_points = archive.read(next(name for name in names if name.endswith("entry_points.txt"))).decode()
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert {"otel_dynamiq/py.typed", "opentelemetry/instrumentation/dynamiq/py.typed"} <= names
    viewer = {Path(name).name for name in names if name.startswith("otel_dynamiq/collector/viewer/")}
    assert {"index.html", "app.js", "style.css"} <= viewer, viewer  # the trace viewer's assets
    assert not any(name.startswith(("tests/", "examples/", "benchmarks/")) for name in names)
    assert "License-Expression: Apache-2.0" in metadata
    assert "Classifier: Programming Language :: Python :: 3.13" in metadata
    assert "Classifier: Framework :: OpenTelemetry :: Exporters" in metadata
    for group in ("opentelemetry_traces_exporter", "opentelemetry_instrumentor", "opentelemetry_distro"):
        assert f"[{group}]" in entry_points


def test_the_installed_wheel_imports_from_the_virtualenv_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    script = "import otel_dynamiq, opentelemetry.instrumentation.dynamiq as i; print(otel_dynamiq.__file__, i.__file__)"
    done = subprocess.run(
        [str(installed / "python"), "-c", script],
        env=user_environment(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert str(ROOT) not in done.stdout and str(installed.parent) in done.stdout, done.stdout


@pytest.mark.parametrize("way", ["opentelemetry-instrument", "manual", "initialize"])
def test_a_short_lived_script_delivers_through_the_installed_wheel(
    installed: Path, collector: LocalCollector, tmp_path: Path, way: str
) -> None:
    app = tmp_path / "app.py"
    shutil.copy(ROOT / "tests" / "apps" / "short_lived.py", app)
    if way == "opentelemetry-instrument":
        command = [str(installed / "opentelemetry-instrument"), str(installed / "python"), str(app), "api"]
    else:
        command = [str(installed / "python"), str(app), way]
    endpoint = collector.url.replace("127.0.0.1", "localhost")
    done = subprocess.run(
        command,
        env=user_environment(OTEL_EXPORTER_DYNAMIQ_ENDPOINT=endpoint),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    trace_hex = done.stdout.split()[0]
    runs = {run["name"]: run for run in wait_for_runs(collector, 2)}
    assert runs["short job"]["trace_id"].replace("-", "") == trace_hex
    assert runs["step"]["parent_run_id"] == runs["short job"]["id"]


def test_the_installed_command_line_answers(installed: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(installed / "otel-dynamiq"), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "collector" in done.stdout


@pytest.mark.timeout(600)
def test_the_sdist_holds_what_make_test_needs_and_its_tests_run_from_it(tmp_path: Path) -> None:
    sdist = build("sdist", tmp_path / "dist")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    (tree,) = (tmp_path / "unpacked").iterdir()
    for needed in ("LICENSE", "Makefile", "pyproject.toml", "README.md", "CHANGELOG.md", "tests/conftest.py"):
        assert (tree / needed).is_file(), needed
    # Run from the unpacked tree, these tests import the sdist's own package, not the checkout's.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/delivery/test_retry_policy.py",
            "tests/delivery/test_bodies.py",
        ],
        cwd=tree,
        env=user_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout.splitlines()[-1]
