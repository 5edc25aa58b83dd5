"""The documentation agrees with the code: the configuration table, the module map, the links, the README's length.

A variable added to an ``environment_variables.py`` without a row in
``docs/configuration.md`` is a setting nobody can find; a row for a variable
the code no longer reads sends users after nothing. A module missing from
``CONTRIBUTING.md``'s map is one a newcomer cannot find in one step. A
relative link that points nowhere is a broken page on the code host. Pure
file reading: no network, no subprocess.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from types import ModuleType

import pytest
from opentelemetry.instrumentation.dynamiq import environment_variables as instrumentation_variables

from otel_dynamiq import environment_variables as exporter_variables

pytestmark = pytest.mark.same_on_every_python  # the documents are the same on every Python


def _repository_root() -> Path:
    here = Path(__file__).resolve().parent
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    raise AssertionError(f"no pyproject.toml above {here}")


ROOT = _repository_root()
CONFIGURATION = ROOT / "docs" / "configuration.md"
TABLE_HEADING = "## Every variable"
README_MAX_LINES = 200

STANDARD_VARIABLES = frozenset(
    {
        # OpenSSL's and httpx's, honoured by the exporter's client.
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        # OpenTelemetry's, which the distro sets or the doctor reads.
        "OTEL_TRACES_EXPORTER",
        "OTEL_METRICS_EXPORTER",
        "OTEL_LOGS_EXPORTER",
        "OTEL_PYTHON_DISTRO",
        "OTEL_PYTHON_CONFIGURATOR",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",
        # The LLM instrumentations' content switches, which decide where GenAI content goes.
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
        "TRACELOOP_TRACE_CONTENT",
    }
)
"""Variables other projects define, documented because they change what this package does."""

NAMED_ELSEWHERE = frozenset(
    {"OTEL_DYNAMIQ_COLLECTOR_ACCESS_KEY", "OTEL_DYNAMIQ_GATEWAY_TOKEN", "OTEL_DYNAMIQ_DEMO_WAIT"}
)
"""This package's own variables of the collector, the gateway and the demo, named in their modules."""


def module_variables(module: ModuleType) -> set[str]:
    return {value for name, value in vars(module).items() if not name.startswith("_") and isinstance(value, str)}


def table_variables(text: str) -> list[str]:
    """The variables in the first column of the table under ``TABLE_HEADING``, in order."""
    assert TABLE_HEADING in text, f"{CONFIGURATION.name} has no '{TABLE_HEADING}' section"
    section = text.split(TABLE_HEADING, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert len(rows) > 2, "the variables table is missing"
    names: list[str] = []
    for row in rows[2:]:  # past the header and its separator
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        assert len(cells) == 3, f"a row needs variable, default and meaning: {row}"
        found = re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[0])
        assert found, f"a row names no variable: {row}"
        names.extend(found)
    return names


def test_configuration_table_lists_every_variable_the_code_names() -> None:
    listed = table_variables(CONFIGURATION.read_text(encoding="utf-8"))
    in_modules = module_variables(exporter_variables) | module_variables(instrumentation_variables)

    assert len(listed) == len(set(listed)), f"listed twice: {sorted({n for n in listed if listed.count(n) > 1})}"
    assert in_modules - set(listed) == set(), "named in environment_variables.py, missing from the table"
    unknown = set(listed) - in_modules - STANDARD_VARIABLES - NAMED_ELSEWHERE
    assert unknown == set(), "in the table, but read by nothing this test knows of"


def test_variables_named_outside_the_modules_are_still_read() -> None:
    sources = [*(ROOT / "otel_dynamiq").rglob("*.py"), *(ROOT / "examples").glob("*.py")]
    text = "\n".join(path.read_text(encoding="utf-8") for path in sources)
    assert {name for name in NAMED_ELSEWHERE if f'"{name}"' not in text} == set()


PACKAGE_FOLDERS = ("otel_dynamiq", "instrumentation/opentelemetry/instrumentation/dynamiq")


def test_module_map_names_every_module() -> None:
    """Each module by its path; a package's ``__init__.py`` by its folder, as the map's rows name them."""
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    modules = sorted(path.relative_to(ROOT) for folder in PACKAGE_FOLDERS for path in (ROOT / folder).rglob("*.py"))
    assert modules, "no modules found: PACKAGE_FOLDERS is out of date"
    missing = []
    for module in modules:
        names = [f"`{module.as_posix()}`"]
        if module.name == "__init__.py":
            names.append(f"`{module.parent.as_posix()}/`")
        if not any(name in text for name in names):
            missing.append(module.as_posix())
    assert missing == [], "modules missing from CONTRIBUTING.md's module map"


def documents() -> list[Path]:
    return [
        ROOT / "README.md",
        ROOT / "SECURITY.md",
        ROOT / "CONTRIBUTING.md",
        ROOT / "CHANGELOG.md",
        *sorted((ROOT / "docs").glob("*.md")),
    ]


def prose(markdown: str) -> str:
    """The text without fenced blocks and code spans, where brackets are code, not links."""
    without_fences = re.sub(r"^```.*?^```", "", markdown, flags=re.DOTALL | re.MULTILINE)
    return re.sub(r"`[^`\n]*`", "", without_fences)


def heading_anchors(markdown: str) -> set[str]:
    """The anchors a code host gives the headings: lower case, punctuation dropped, spaces as hyphens."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    without_fences = re.sub(r"^```.*?^```", "", markdown, flags=re.DOTALL | re.MULTILINE)
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", without_fences, flags=re.MULTILINE):
        text = heading.replace("`", "").lower()
        slug = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN").replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def relative_links(markdown: str) -> list[str]:
    targets = re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", prose(markdown))
    return [target for target in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]


@pytest.mark.parametrize("document", documents(), ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_point_to_files_and_headings_that_exist(document: Path) -> None:
    assert document.is_file(), f"{document.relative_to(ROOT)} is missing"
    broken = []
    for link in relative_links(document.read_text(encoding="utf-8")):
        path_part, _, anchor = link.partition("#")
        target = (document.parent / path_part).resolve() if path_part else document
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in heading_anchors(target.read_text(encoding="utf-8")):
            broken.append(f"{link}: no such heading in {target.relative_to(ROOT)}")
    assert broken == [], "\n".join(broken)


def test_readme_is_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail to docs/"


def test_docs_parse_the_way_this_test_reads_them() -> None:
    """The helpers above, on known input: a parser that finds nothing would let every check pass."""
    sample = "# A `b` c.d\n\n## TLS and private CAs\n\n## TLS and private CAs\n\n```\n# not a heading\n```\n"
    assert heading_anchors(sample) == {"a-b-cd", "tls-and-private-cas", "tls-and-private-cas-1"}
    links = "[a](docs/x.md#y) [b](https://e.invalid/) `[c](no.md)` [d](#z)\n```\n[e](f.md)\n```\n"
    assert relative_links(links) == ["docs/x.md#y", "#z"]
    table = f"{TABLE_HEADING}\n\n| variable | default | meaning |\n| --- | --- | --- |\n| `A_B`, `C` | 1 | x |\n"
    assert table_variables(table) == ["A_B", "C"]
