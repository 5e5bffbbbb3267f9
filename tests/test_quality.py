"""The code checks that keep the project readable: ruff and mypy (strict) are clean."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import repo_root


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    tool = Path(sys.executable).with_name(name)
    return subprocess.run([str(tool), *args], cwd=repo_root(), capture_output=True, text=True,
                          timeout=300)


def test_ruff_is_clean() -> None:
    result = run_tool("ruff", "check", "kiosk", "linkserver", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = run_tool("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
    result = run_tool("mypy", "linkserver/linkserver")
    assert result.returncode == 0, result.stdout + result.stderr


#: The size rule: no module over this many lines and no function over ``MAX_FUNCTION_LINES``.
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60
SIZE_RULE_ROOTS = ("kiosk", "linkserver/linkserver", "bench", "tests")
#: Data rather than code, not counted: the flow's transition table (module, assigned name).
SIZE_RULE_DATA = {("kiosk/flow/table.py", "RULES")}


def size_rule_modules() -> list[Path]:
    """Every Python module the size rule covers; Alembic migrations (``migrations/``) are exempt."""
    root = repo_root()
    return sorted(path for folder in SIZE_RULE_ROOTS for path in (root / folder).rglob("*.py")
                  if "migrations" not in path.relative_to(root).parts)


def data_lines(tree: ast.Module, module: str) -> int:
    """Lines of the module's top-level assignments that are data exempt from the rule."""
    exempt = {name for path, name in SIZE_RULE_DATA if path == module}
    lines = 0
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id in exempt for t in targets):
            lines += (node.end_lineno or node.lineno) - node.lineno + 1
    return lines


def size_offenders(path: Path, module: str) -> list[str]:
    """The module itself if it is too long, and each function (from ``def`` to its last line) too long."""
    text = path.read_text("utf-8")
    tree = ast.parse(text, filename=module)
    offenders = []
    lines = len(text.splitlines()) - data_lines(tree, module)
    if lines > MAX_MODULE_LINES:
        offenders.append(f"{module}: {lines} lines")
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                offenders.append(f"{module}:{node.lineno} {node.name}(): {length} lines")
    return offenders


def test_no_module_or_function_is_too_long() -> None:
    root = repo_root()
    modules = size_rule_modules()
    assert any(path.relative_to(root).as_posix() == "kiosk/flow/table.py" for path in modules)
    offenders = [offender for path in modules
                 for offender in size_offenders(path, path.relative_to(root).as_posix())]
    assert not offenders, (f"over {MAX_MODULE_LINES} lines per module or {MAX_FUNCTION_LINES} per "
                           "function:\n  " + "\n  ".join(offenders))
