"""The layout keeps its layers: the checks reach processes and the network
through one door each, nothing the program runs knows about the tests, and
the benchmarks share the harness with the tests instead of importing them."""

from __future__ import annotations

import ast
from pathlib import Path

from harness.config import REPO

PROGRAM = [REPO / "__main__.py", *sorted((REPO / "components").rglob("*.py"))]
# The one door for each: components/checks/process.py (processes and sockets) and download.py.
DOORS = {
    "subprocess": "components/checks/process.py",
    "socket": "components/checks/process.py",
    "urllib.request": "components/checks/download.py",
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return names | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}


def test_processes_and_downloads_go_through_one_door_each() -> None:
    for module, door in DOORS.items():
        users = [path.relative_to(REPO).as_posix() for path in PROGRAM if module in imported_modules(path)]
        assert users == [door], module


def test_the_program_has_no_test_hooks() -> None:
    for path in PROGRAM:
        text = path.read_text()
        assert "LOCAL_MESH_TEST" not in text, path
        assert not any(name.split(".")[0] == "tests" for name in imported_modules(path)), path


def test_the_benchmarks_do_not_import_the_tests() -> None:
    for path in sorted((REPO / "bench").glob("*.py")):
        assert not any(name.split(".")[0] == "tests" for name in imported_modules(path)), path
