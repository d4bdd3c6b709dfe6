"""The seat engine stays pure: no I/O, no Airflow, no dynamic imports, no floats in its arithmetic."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted((ROOT / "transforms").glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_module_is_pure(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    for node in top_imports:
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        for name in names:
            assert not name.startswith(("airflow", "enr", "importlib", "os", "io", "shutil", "requests")), \
                f"{path.name} imports {name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            assert name not in {"open", "read_text", "write_text", "read_csv", "to_csv", "__import__",
                                "import_module", "float", "eval", "exec"}, f"{path.name}:{node.lineno} calls {name}"
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            pytest.fail(f"{path.name}:{node.lineno}: float literal {node.value!r}")

