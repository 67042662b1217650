"""An import of idp inside a function is a cycle in disguise unless a comment says why.

The import contracts themselves are in pyproject.toml ([tool.importlinter]); `make test`
runs `lint-imports`. This check covers what import-linter cannot see: whether an import
was pushed into a function to dodge a cycle. A function-level `from idp... import` must
carry `cycle:` or `lazy:` and a reason, on one of its lines or on the line above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import idp

PACKAGE = Path(idp.__file__).parent
REASONS = ("cycle:", "lazy:")


def _is_idp(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] == "idp"
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] == "idp" for alias in node.names)
    return False


def unexplained_local_imports(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.relative_to(root).parts:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for function in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if not _is_idp(node):
                    continue
                span = lines[node.lineno - 2 : node.end_lineno]
                if not any(reason in line for line in span for reason in REASONS):
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno}")
    return sorted(set(found))


def test_no_unexplained_function_level_idp_imports():
    assert unexplained_local_imports(PACKAGE) == []


def test_the_check_sees_a_hidden_import(tmp_path):
    package = tmp_path / "idp"
    package.mkdir()
    (package / "a.py").write_text(
        "def f():\n    from idp import b\n\n\ndef g():\n    # lazy: only the CLI needs it\n"
        "    from idp import c\n"
    )
    assert unexplained_local_imports(package) == ["idp/a.py:2"]
