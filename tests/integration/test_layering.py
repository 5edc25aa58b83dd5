"""The import graph follows the data path: no cycles, and no arrow running back up.

Read from the source (an AST scan, nothing imported). The rooms, lowest first: the shared names
(``attributes``, ``environment_variables``, ``log_lines``, ``version``, ``_settings``); translation
(``_translation``, pure: ``tests/translation/test_purity.py`` says what it may import); the processors
that gather what only a live span knows (``processors``); delivery (``_delivery``); the exporter and how a
process ends; the servers (``_http_server``, then ``collector`` and ``gateway``); the command line and
the distro on top. A room may import the rooms below it, never one above.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import ROOT

PACKAGE = ROOT / "otel_dynamiq"

ABOVE = {
    "otel_dynamiq.processors": ("_delivery", "exporter", "_http_server", "collector", "gateway", "cli", "distro"),
    "otel_dynamiq._delivery": ("processors", "exporter", "_http_server", "collector", "gateway", "cli", "distro"),
    "otel_dynamiq.exporter": ("_http_server", "collector", "gateway", "cli", "distro", "_doctor"),
    "otel_dynamiq._http_server": ("collector", "gateway", "exporter", "cli"),
    "otel_dynamiq.collector": ("gateway", "exporter", "cli", "processors"),
    "otel_dynamiq.gateway": ("collector", "cli", "processors"),
}
"""For each room, the rooms above it, which it must not import."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imported(module: str, path: Path) -> Iterator[str]:
    """The package's modules ``module`` imports (``from otel_dynamiq import attributes`` is ``attributes``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    yield f"{base}.{alias.name}"
                elif base in MODULES:
                    yield base
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in MODULES)


GRAPH = {module: set(_imported(module, path)) - {module} for module, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph)))
    try:
        for node in sorted(graph):
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_the_package_has_no_import_cycles() -> None:
    assert _cycles(GRAPH) == []


def test_the_scan_finds_a_cycle_when_there_is_one() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("room", sorted(ABOVE))
def test_no_room_imports_one_above_it(room: str) -> None:
    forbidden = tuple(f"otel_dynamiq.{above}" for above in ABOVE[room])
    upward = {
        module: sorted(target for target in targets if target.startswith(forbidden))
        for module, targets in GRAPH.items()
        if module == room or module.startswith(f"{room}.")
    }
    assert {module: targets for module, targets in upward.items() if targets} == {}


def test_only_the_command_line_uses_the_doctor_and_nothing_imports_the_command_line() -> None:
    importers = {module for module, targets in GRAPH.items() if "otel_dynamiq._doctor" in targets}
    assert importers <= {"otel_dynamiq.cli"}
    assert not [module for module, targets in GRAPH.items() if "otel_dynamiq.cli" in targets]
