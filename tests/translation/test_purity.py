"""``otel_dynamiq._translation`` stays pure: no processors, no ``global``, no module-level state, no arrow back up.

Everything a translation remembers between spans is an object its caller owns
and passes in (``RunDefaults``, ``SpanNotes`` read by the exporter); the SDK
processors that gather what only a live span shows live in
``otel_dynamiq.processors``, above this package. These checks read the source
(no import), so they fail the moment state creeps back in, whether or not a
test happens to reach it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import otel_dynamiq
from otel_dynamiq._translation import span_to_run

pytestmark = pytest.mark.same_on_every_python  # the source is the same on every Python

PACKAGE = Path(otel_dynamiq.__file__).parent
TRANSLATION = PACKAGE / "_translation"
MODULES = sorted(TRANSLATION.glob("*.py"))

PROCESSOR_BASES = frozenset({"SpanProcessor", "LogRecordProcessor"})
IMMUTABLE_MAKERS = frozenset({"frozenset", "MappingProxyType", "compile", "UUID", "TypeVar", "NewType", "field"})
"""Calls whose result is a constant: a frozen set, a read-only table, a compiled pattern, a UUID, a type;
``field`` for a dataclass field (its default factory makes one object per instance)."""
TRANSLATION_MAY_IMPORT = ("otel_dynamiq._translation", "otel_dynamiq.attributes")
"""Within this package's distribution, the translation reads only itself and the attribute names."""


def _constant(node: ast.expr | None, in_type: bool = False) -> bool:
    """Whether an expression can only make a value nobody mutates: literals, tuples, aliases, read-only makers."""
    if node is None or isinstance(node, (ast.Constant, ast.JoinedStr, ast.Name, ast.Attribute)):
        return True  # a literal, an f-string, another name (checked where it is made), an annotation's alias
    if isinstance(node, ast.Tuple) or (in_type and isinstance(node, ast.List)):
        return all(_constant(item, in_type) for item in node.elts)  # a list only inside Callable[[...], ...]
    if isinstance(node, ast.BinOp):
        return _constant(node.left, in_type) and _constant(node.right, in_type)  # 2**53 - 1, X | None
    if isinstance(node, ast.UnaryOp):
        return _constant(node.operand, in_type)
    if isinstance(node, ast.Subscript):  # a typing alias: dict[str, Any], Callable[[...], None]
        return _constant(node.value, True) and _constant(node.slice, True)
    if isinstance(node, ast.Call):
        called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        return called in IMMUTABLE_MAKERS
    return False


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """A module's or a class's statements, into ``if``, ``try`` and ``with`` blocks but not into functions."""
    for statement in body:
        yield statement
        if isinstance(statement, (ast.If, ast.With, ast.Try)):
            for block in ("body", "orelse", "finalbody"):
                yield from _top_level(getattr(statement, block, []))
            for handler in getattr(statement, "handlers", []):
                yield from _top_level(handler.body)


def _problems(source: str) -> list[str]:
    tree = ast.parse(source)
    problems = [f"line {node.lineno}: `global`" for node in ast.walk(tree) if isinstance(node, ast.Global)]
    scopes: list[list[ast.stmt]] = [tree.body]
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            scopes.append(node.body)
            bases = {base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "") for base in node.bases}
            if bases & PROCESSOR_BASES:
                problems.append(f"line {node.lineno}: {node.name} is an SDK processor")
    for scope in scopes:
        for statement in _top_level(scope):
            if isinstance(statement, ast.AugAssign):
                problems.append(f"line {statement.lineno}: {ast.unparse(statement)}")
            elif isinstance(statement, (ast.Assign, ast.AnnAssign)) and not _constant(statement.value):
                problems.append(f"line {statement.lineno}: {ast.unparse(statement)[:80]}")
            elif isinstance(statement, ast.Expr) and not isinstance(statement.value, ast.Constant):
                problems.append(f"line {statement.lineno}: {ast.unparse(statement)[:80]}")  # a call made at import
    return problems


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.name)
def test_a_translation_module_keeps_no_state_and_holds_no_processor(module: Path) -> None:
    assert _problems(module.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.name)
def test_a_translation_module_imports_nothing_above_it(module: Path) -> None:
    """Processors and the exporter read the translation; it never reads them (no arrow back up)."""
    imported: list[str] = []
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            imported.extend(
                [node.module] if node.module != "otel_dynamiq" else [f"otel_dynamiq.{a.name}" for a in node.names]
            )
        elif isinstance(node, ast.Import):
            imported.extend(alias.name for alias in node.names)
    ours = [name for name in imported if name == "otel_dynamiq" or name.startswith("otel_dynamiq.")]
    assert [name for name in ours if not name.startswith(TRANSLATION_MAY_IMPORT)] == []


@pytest.mark.parametrize(
    "source",
    [
        "_last = None\ndef remember(x):\n    global _last\n    _last = x\n",
        "_cache = {}\n",
        "_seen: list[int] = []\n",
        "_COUNT = 0\n_COUNT += 1\n",
        "STORE = Store()\n",
        "_pending = set()\n",
        "from opentelemetry.sdk.trace import SpanProcessor\nclass Marker(SpanProcessor):\n    pass\n",
        "from opentelemetry.sdk import _logs\nclass Keeper(_logs.LogRecordProcessor):\n    pass\n",
        "class Holder:\n    registry = {}\n",
        "_TABLE = {}\n_TABLE.update(a=1)\n",
    ],
)
def test_the_check_finds_state_put_back(source: str) -> None:
    assert _problems(source) != []


def test_the_check_lets_constants_through() -> None:
    constants = (
        'import re\nfrom types import MappingProxyType\nfrom typing import Any, Callable\nNAME = "x"\n'
        "LIMIT = 2**53 - 1\nNAMES = ('a', 'b')\nSET = frozenset({'a'})\nTABLE = MappingProxyType({'a': 1})\n"
        "PATTERN = re.compile('a+')\nJson = Any\nRun = dict[str, Any]\nShaper = Callable[[int, str], None]\n"
        "Optional = int | None\nALIAS = NAMES\nTEXT = f'{NAME} and more'\n"
    )
    assert _problems(constants) == []


def test_the_descriptions_runs_share_belong_to_their_defaults() -> None:
    """What ``span_to_run`` remembers across spans lives on the ``RunDefaults`` it is given: one per exporter."""
    first = span_to_run.RunDefaults("s", "s")
    second = span_to_run.RunDefaults("s", "s")
    assert first.descriptions is not second.descriptions
    assert first == second  # the remembered descriptions are no part of the defaults' value
