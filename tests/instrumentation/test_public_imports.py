"""The instrumentor uses only otel_dynamiq's public API, so the exporter's private modules can change freely.

Read from the source (an AST scan, nothing imported): any ``otel_dynamiq``
module or name with a leading underscore that the instrumentor imports fails
this test.
"""

from __future__ import annotations

import ast

from tests.support.processes import ROOT

INSTRUMENTOR = ROOT / "instrumentation" / "opentelemetry" / "instrumentation" / "dynamiq"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_imports(source: str) -> list[tuple[str, int]]:
    """Each private ``otel_dynamiq`` module, or private name of a public one, the source imports, and its line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            private_names = [alias.name for alias in node.names if _private(alias.name)]
            modules = [node.module] + [f"{node.module}.{name}" for name in private_names]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] == "otel_dynamiq" and any(_private(part) for part in parts):
                found.append((module, node.lineno))
    return found


def instrumentor_private_imports() -> dict[str, list[str]]:
    """Private module to where the instrumentor imports it (``file:line``)."""
    where: dict[str, list[str]] = {}
    for path in sorted(INSTRUMENTOR.rglob("*.py")):
        for module, line in private_imports(path.read_text(encoding="utf-8")):
            where.setdefault(module, []).append(f"{path.relative_to(ROOT)}:{line}")
    return where


def test_the_instrumentor_imports_nothing_private_from_otel_dynamiq() -> None:
    """One it needed would say that otel_dynamiq's public API lacks something: make that public instead."""
    assert instrumentor_private_imports() == {}


def test_the_scan_sees_every_form_of_a_private_import() -> None:
    source = (
        "from otel_dynamiq._config import load_config\n"
        "import otel_dynamiq.collector._store\n"
        "from otel_dynamiq import _process_end, attributes\n"
        "from otel_dynamiq.attributes import RUN_ID\n"
        "def later():\n"
        "    from otel_dynamiq.gateway._core import GatewayCore\n"
    )
    assert private_imports(source) == [
        ("otel_dynamiq._config", 1),
        ("otel_dynamiq.collector._store", 2),
        ("otel_dynamiq._process_end", 3),
        ("otel_dynamiq.gateway._core", 6),
    ]
