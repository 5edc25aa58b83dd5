"""The documentation agrees with the code: the configuration table, the module map, the links, the README's length.

A variable added to an ``environment_variables.py`` without a row in
``docs/configuration.md`` is a setting nobody can find; a row for a variable
the code no longer reads sends users after nothing; a row whose default is not
the one the exporter's settings table (``_config.SETTINGS``) declares misleads. A module missing from
``CONTRIBUTING.md``'s map is one a newcomer cannot find in one step. A
relative link that points nowhere is a broken page on the code host. Pure
file reading: no network, no subprocess.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from pathlib import Path
from types import ModuleType

import pytest
from opentelemetry.instrumentation.dynamiq import environment_variables as instrumentation_variables

from otel_dynamiq import environment_variables as exporter_variables
from otel_dynamiq._config import SETTINGS

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
        # OpenTelemetry's, which the distro sets or the doctor reads (named by OpenTelemetry's constants).
        "OTEL_TRACES_EXPORTER",
        "OTEL_METRICS_EXPORTER",
        "OTEL_LOGS_EXPORTER",
        "OTEL_PYTHON_DISTRO",
        "OTEL_PYTHON_CONFIGURATOR",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",
    }
)
"""Variables other projects define and name, documented because they change what this package does."""

NAMED_ELSEWHERE = frozenset({"OTEL_DYNAMIQ_DEMO_WAIT"})
"""Variables of the repository's examples (``make demo``), named there: not the package's."""

OWN_PREFIXES = ("OTEL_EXPORTER_DYNAMIQ_", "OTEL_DYNAMIQ_", "DYNAMIQ_", "OTEL_INSTRUMENTATION_DYNAMIQ_")


def module_variables(module: ModuleType) -> set[str]:
    return {value for name, value in vars(module).items() if not name.startswith("_") and isinstance(value, str)}


def table_rows(text: str) -> list[tuple[list[str], str, str]]:
    """The rows of the table under ``TABLE_HEADING``, in order: the variables, the default, the meaning."""
    assert TABLE_HEADING in text, f"{CONFIGURATION.name} has no '{TABLE_HEADING}' section"
    section = text.split(TABLE_HEADING, 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    assert len(lines) > 2, "the variables table is missing"
    rows = []
    for line in lines[2:]:  # past the header and its separator
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == 3, f"a row needs variable, default and meaning: {line}"
        found = re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[0])
        assert found, f"a row names no variable: {line}"
        rows.append((found, cells[1], cells[2]))
    return rows


def table_variables(text: str) -> list[str]:
    """The variables in the first column of the table under ``TABLE_HEADING``, in order."""
    return [name for names, _, _ in table_rows(text) for name in names]


def test_configuration_table_lists_every_variable_the_code_names() -> None:
    listed = table_variables(CONFIGURATION.read_text(encoding="utf-8"))
    in_modules = module_variables(exporter_variables) | module_variables(instrumentation_variables)

    assert len(listed) == len(set(listed)), f"listed twice: {sorted({n for n in listed if listed.count(n) > 1})}"
    assert in_modules - set(listed) == set(), "named in environment_variables.py, missing from the table"
    unknown = set(listed) - in_modules - STANDARD_VARIABLES - NAMED_ELSEWHERE
    assert unknown == set(), "in the table, but read by nothing this test knows of"


def test_variables_named_outside_the_modules_are_still_read() -> None:
    text = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "examples").glob("*.py"))
    assert {name for name in NAMED_ELSEWHERE if f'"{name}"' not in text} == set()


def named_variables(source: str) -> set[str]:
    """The variable names in a module's strings, docstrings left out (they may speak of any variable)."""
    tree = ast.parse(source)
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }
    texts = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]
    return {name for text in texts for name in re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", text)}


def test_every_variable_the_package_names_is_named_in_its_environment_variables_module() -> None:
    """A name spelled out in code elsewhere (to read it, or in a message) is one the module and the table miss."""
    own = module_variables(exporter_variables) | module_variables(instrumentation_variables)
    spelled_out = {}
    for folder in PACKAGE_FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "environment_variables.py":
                continue
            for name in named_variables(path.read_text(encoding="utf-8")):
                if name in own or name.startswith(OWN_PREFIXES):
                    spelled_out.setdefault(name, []).append(path.relative_to(ROOT).as_posix())
    assert spelled_out == {}, "import these names from environment_variables.py instead"


def test_every_variable_of_the_package_says_what_it_does_and_its_default() -> None:
    """Each name in ``otel_dynamiq/environment_variables.py`` is followed by its docstring."""
    body = ast.parse((ROOT / "otel_dynamiq" / "environment_variables.py").read_text(encoding="utf-8")).body
    undocumented = []
    for statement, following in zip(body, [*body[1:], None], strict=True):
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            documented = (
                isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and "default" in str(following.value.value).lower()
            )
            if not documented:
                undocumented.append(statement.target.id)
    assert undocumented == []


def test_configuration_table_documents_every_setting_as_the_settings_table_says() -> None:
    """Each of the exporter's settings: its variables have rows, the first says its keyword and the table's
    default; one without a variable has its keyword said on the page."""
    text = CONFIGURATION.read_text(encoding="utf-8")
    rows = {name: (default, meaning) for names, default, meaning in table_rows(text) for name in names}
    for setting in SETTINGS:
        if not setting.variables:
            assert f"`{setting.keyword}=`" in text, f"{setting.keyword}= is not on the page"
            continue
        missing = [variable for variable in setting.variables if variable not in rows]
        assert missing == [], f"{setting.keyword}: no row for {missing}"
        default, meaning = rows[setting.variables[0]]
        assert f"Keyword `{setting.keyword}=`" in meaning, f"the row of {setting.variables[0]} names no keyword"
        assert default == setting.documented_default.replace("``", "`"), setting.keyword


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
    table = f"{TABLE_HEADING}\n\n| variable | default | meaning |\n| --- | --- | --- |\n| `A_B`, `C` | `1` | x |\n"
    assert table_variables(table) == ["A_B", "C"]
    assert table_rows(table) == [(["A_B", "C"], "`1`", "x")]
    code = 'NAME = "OTEL_A_B"\n"""Says OTEL_C_D."""\nraise ValueError(f"set {NAME} or OTEL_E_F")\n'
    assert named_variables(code) == {"OTEL_A_B", "OTEL_E_F"}
