"""The layering rules of DESIGN.md, enforced."""

from __future__ import annotations

import ast
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
