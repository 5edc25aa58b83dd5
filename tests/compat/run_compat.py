"""Run Dynamiq's own test suite twice, plain and instrumented, and fail when any test's outcome differs.

    python tests/compat/run_compat.py                 # the Dynamiq release installed beside otel-dynamiq
    python tests/compat/run_compat.py --dynamiq 0.65.0

The sdist of that release (which ships ``tests/`` and the ``examples/`` two
tests import) is downloaded once from the package registry into ``.compat/``,
with a virtualenv of its own holding that release, the test tools its
``dev`` dependency group pins, and this checkout of otel-dynamiq. Both runs
use the same environment, the same exclusions (``EXCLUDED`` below, the only
place they are listed) and ``pytest-xdist``; the instrumented run adds the
``otel_dynamiq_compat`` plugin. A run whose plugin traced nothing fails too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter
from importlib.metadata import version
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".compat"
PLUGIN_DIR = Path(__file__).resolve().parent

EXCLUDED = {
    "--ignore=tests/integration_with_creds": "calls real providers (OpenAI, Pinecone, ...) with credentials",
    "-m not smoke": "the `smoke` marker: paid end-to-end production scenarios, run only by Dynamiq's release pipeline",
}
"""What neither run executes, and why. Both runs get exactly these arguments."""

TEST_TOOLS = {
    "pytest",
    "pytest-mock",
    "pytest-asyncio",
    "pytest-xdist",
    "pytest-timeout",
    "pytest-rerunfailures",
    "fakeredis",
    "requests-mock",
    "python-dotenv",
}
"""The packages of Dynamiq's ``dev`` group that its tests need (the rest build docs or measure coverage)."""


def run(command: list[str], **kwargs: object) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, **kwargs)  # type: ignore[call-overload]


def pip(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "pip", *arguments]


def sdist_tree(release: str) -> Path:
    """Dynamiq's sdist, unpacked, without its own package: the tests must import the installed release."""
    tree = CACHE / f"dynamiq-{release}"
    if (tree / "tests").is_dir():
        return tree
    downloads = CACHE / "sdists"
    archive = downloads / f"dynamiq-{release}.tar.gz"
    if not archive.exists():
        run(
            pip(
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"dynamiq=={release}",
                "--dest",
                str(downloads),
            )
        )
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch, tarfile.open(archive) as tar:
        tar.extractall(scratch, filter="data")
        unpacked = Path(scratch) / f"dynamiq-{release}"
        shutil.rmtree(unpacked / "dynamiq")
        unpacked.rename(tree)
    return tree


def test_requirements(tree: Path) -> list[str]:
    groups = tomllib.loads((tree / "pyproject.toml").read_text()).get("dependency-groups", {})
    pinned = [text for text in groups.get("dev", []) if _name(text) in TEST_TOOLS]
    missing = TEST_TOOLS - {_name(text) for text in pinned}
    return pinned + sorted(missing)


def _name(requirement: str) -> str:
    for separator in "<>=!~[; ":
        requirement = requirement.split(separator, 1)[0]
    return requirement.strip().lower()


def environment(release: str, tree: Path) -> Path:
    venv = CACHE / f"venv-{release}"
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if stamp.exists() and stamp.stat().st_mtime >= (REPO / "pyproject.toml").stat().st_mtime:
        return python
    if not python.exists():
        run([sys.executable, "-m", "venv", str(venv)])
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    run([*pip, "--upgrade", "pip"])
    run([*pip, f"dynamiq=={release}", *test_requirements(tree), "-e", str(REPO)])
    stamp.touch()
    return python


def outcomes(report: Path) -> dict[str, str]:
    """Each test's outcome, from pytest's JUnit XML."""
    found: dict[str, str] = {}
    for case in ElementTree.parse(report).iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        children = {child.tag for child in case}
        outcome = next((tag for tag in ("failure", "error", "skipped") if tag in children), "passed")
        if test_id in found and found[test_id] != "passed":
            continue  # a setup error reported beside a call failure: keep the first
        found[test_id] = outcome
    return found


def suite(python: Path, tree: Path, label: str, workers: str, instrumented: bool) -> tuple[dict[str, str], float]:
    results = CACHE / "results"
    results.mkdir(parents=True, exist_ok=True)
    report = results / f"{tree.name}-{label}.xml"
    command = [str(python), "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "-o", "addopts="]
    command += ["-n", workers, "--timeout=300", f"--junitxml={report}"]
    # Dynamiq's timing tests ("parallel is faster than sequential", "calls overlap") fail now and then on a
    # busy machine, in either run (seen both ways); both runs give every test two more tries alike.
    command += ["--reruns=2"]
    for argument in EXCLUDED:
        command += argument.split(" ", 1)
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    if instrumented:
        command += ["-p", "otel_dynamiq_compat"]
        env["PYTHONPATH"] = str(PLUGIN_DIR)
        env["OTEL_DYNAMIQ_COMPAT_REPORT_DIR"] = str(_fresh(results / f"{tree.name}-traced"))
    started = time.monotonic()
    print(f"\n== Dynamiq {tree.name} test suite, {label}", flush=True)
    with open(results / f"{tree.name}-{label}.log", "w") as log:
        subprocess.run(command, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    return outcomes(report), time.monotonic() - started


def _fresh(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def traced_totals(tree: Path) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for worker in (CACHE / "results" / f"{tree.name}-traced").glob("*.json"):
        report = json.loads(worker.read_text())
        totals["pytest processes"] += 1
        totals["runs stored by the local collector"] += report["runs_stored"]
        totals["runs dropped by the exporter"] += sum(report["runs_dropped"].values())
        totals["events not recorded as native tracing would"] += sum(report["recording_failures"].values())
        totals["runs still open at the end"] += report["open_runs"]
    return dict(totals)


def summary(found: dict[str, str]) -> str:
    counts = Counter(found.values())
    return ", ".join(f"{counts[outcome]} {outcome}" for outcome in ("passed", "failure", "error", "skipped"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dynamiq", default=version("dynamiq"), help="the release to test (default: installed)")
    parser.add_argument("--workers", default="2", help="pytest-xdist workers per run (default 2)")
    options = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    tree = sdist_tree(options.dynamiq)
    python = environment(options.dynamiq, tree)
    plain, plain_seconds = suite(python, tree, "plain", options.workers, instrumented=False)
    traced, traced_seconds = suite(python, tree, "instrumented", options.workers, instrumented=True)
    totals = traced_totals(tree)

    print(f"\nDynamiq {options.dynamiq}, excluded in both runs:")
    for argument, reason in EXCLUDED.items():
        print(f"  {argument}: {reason}")
    print(f"plain:        {len(plain)} tests: {summary(plain)} ({plain_seconds:.0f} s)")
    print(f"instrumented: {len(traced)} tests: {summary(traced)} ({traced_seconds:.0f} s)")
    for name, value in totals.items():
        print(f"  {name}: {value}")
    differences = sorted(
        (test_id, plain.get(test_id, "absent"), traced.get(test_id, "absent"))
        for test_id in plain.keys() | traced.keys()
        if plain.get(test_id) != traced.get(test_id)
    )
    for test_id, before, after in differences:
        print(f"DIFFERS {test_id}: plain {before}, instrumented {after}")
    if not plain or not traced:
        print("FAILED: a run executed no test")
        return 1
    if not totals.get("runs stored by the local collector"):
        print("FAILED: the instrumented run traced nothing")
        return 1
    if differences:
        print(f"compat: {len(plain.keys() | traced.keys()) - len(differences)} passed, {len(differences)} failed")
        return 1
    # The plain closing line CI reads: tests whose outcome matched, and tests whose outcome differed.
    print(f"compat: {len(plain)} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
