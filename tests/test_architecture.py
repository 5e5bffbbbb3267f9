"""The layering rules of docs/architecture.md, enforced, and the flow table it shows kept true."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import repo_root


def test_import_linter_contracts_hold() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter)], cwd=repo_root(), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 8 kept, 0 broken" in result.stdout


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_only_the_pcsc_backend_imports_pyscard() -> None:
    package = repo_root() / "kiosk"
    importers = sorted(
        str(path.relative_to(package.parent))
        for path in package.rglob("*.py")
        if any(m == "smartcard" or m.startswith("smartcard.") for m in imported_modules(path))
    )
    assert importers == ["kiosk/nfc/pcsc.py"]


def test_card_layer_imports_no_qt_http_or_sql() -> None:
    for path in (repo_root() / "kiosk" / "nfc").rglob("*.py"):
        for module in imported_modules(path):
            root = module.split(".")[0]
            assert root not in {"PySide6", "httpx", "httpx2", "sqlalchemy"}, (path, module)


def test_the_documented_flow_table_is_the_code_s() -> None:
    from kiosk.flow.table import markdown

    document = (repo_root() / "docs" / "architecture.md").read_text("utf-8")
    shown = document.split("<!-- flow-table -->\n", 1)[1].split("<!-- /flow-table -->", 1)[0]
    assert shown == markdown(), "docs/architecture.md: paste the output of kiosk.flow.table.markdown()"


def test_no_file_cites_a_document_outside_the_project() -> None:
    outside = re.compile(r"\.\./shared|\b(?:DESIGN|CARD|STYLE|LIBRARIES)\.md\b")
    cited = [str(path.relative_to(repo_root())) for folder in ("kiosk", "linkserver", "tests", "bench",
                                                                "scripts", "docs", "resources")
             for path in (repo_root() / folder).rglob("*") if path.is_file()
             and path.suffix in (".py", ".md", ".toml", ".ts", "") and outside.search(path.read_text("utf-8",
                                                                                                    "replace"))]
    cited += [name for name in ("README.md", "pyproject.toml")
              if outside.search((repo_root() / name).read_text("utf-8"))]
    assert cited == []
