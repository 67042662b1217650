"""No function or method in idp/ is more complex than radon's grade C (cyclomatic complexity
up to 20): a longer one is split into plain, named steps (docs/architecture.md, "Size of a
function").

radon counts one for the function and one more for each decision in it (if and elif, loops,
except, and/or, conditional expressions, comprehensions). Methods, closures and the methods of
nested classes are checked too (`radon cc --show-closures idp` lists the same).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from radon.complexity import cc_visit
from radon.visitors import Class, Function

import idp

PACKAGE = Path(idp.__file__).parent
MAX_COMPLEXITY = 20  # the top of grade C


def _functions(blocks: list[Function | Class]) -> Iterator[Function]:
    """Every function and method in the blocks, closures and nested classes included."""
    for block in blocks:
        if isinstance(block, Class):
            yield from _functions([*block.methods, *block.inner_classes])
        else:
            yield block
            yield from _functions(block.closures)


def too_complex(root: Path, limit: int = MAX_COMPLEXITY) -> list[str]:
    """`path:line name (complexity)` of each function above `limit`, in file and line order."""
    found = []
    for path in sorted(root.rglob("*.py")):
        # cc_visit lists methods both on their own and in their class: each counts once.
        functions = {
            (f.lineno, f.col_offset): f for f in _functions(cc_visit(path.read_text("utf-8")))
        }
        for (line, _), function in sorted(functions.items()):
            if function.complexity > limit:
                where = f"{path.relative_to(root.parent)}:{line}"
                found.append(f"{where} {function.fullname} ({function.complexity})")
    return found


def test_no_function_above_grade_c():
    found = too_complex(PACKAGE)
    assert not found, (
        f"complexity above {MAX_COMPLEXITY} (radon): split into named steps:\n" + "\n".join(found)
    )


def test_the_check_sees_methods_and_closures(tmp_path):
    branches = "".join(f"    if x == {i}:\n        x += 1\n" for i in range(20))
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(
        f"def plain(x):\n{branches}    return x\n"
        f"class K:\n    def method(self, x):\n{branches.replace('    ', '        ')}"
        "        return x\n"
        f"def outer():\n    def inner(x):\n{branches.replace('    ', '        ')}"
        "        return x\n    return inner\n"
        "def small(x):\n    return x\n",
        encoding="utf-8",
    )
    found = too_complex(tmp_path / "pkg")
    assert [line.split()[1] for line in found] == ["plain", "K.method", "inner"]
    assert all(line.endswith("(21)") for line in found)
