"""Craft checks that run with the tests (issue 21): ruff, function size, positional
parameters and ``mypy --strict`` on the pure room.

Each check prints every finding, so a failure is the to-do list. The linters come with the
``[test]`` extra; if one is missing the test is skipped locally (CI installs the extra).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("gis", "layers", "maps", "workflows")
MAX_LINES = 80
MAX_POSITIONAL = 6

# Functions that are data, not logic, and may be long; say why beside each entry.
# ("module path", "qualified name"): reason
LONG_ALLOWED: dict[tuple[str, str], str] = {}
# Public functions allowed more than MAX_POSITIONAL positional parameters (none today).
POSITIONAL_ALLOWED: dict[tuple[str, str], str] = {}


def _tool(name: str) -> str:
    exe = Path(sys.executable).with_name(name)
    if exe.exists():
        return str(exe)
    found = shutil.which(name)
    if not found:
        if os.environ.get("AGRIGIS_REQUIRE_LINTERS"):  # set by .ci/run: CI must lint, not skip
            pytest.fail(f"{name} is not installed, but AGRIGIS_REQUIRE_LINTERS is set")
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return found


def _functions(tree: ast.AST, *, nested: bool = True):
    """Yield (qualified name, node) for every function and method; with ``nested=False``
    functions defined inside other functions (closures, not API) are left out."""
    stack: list[tuple[str, ast.AST, bool]] = [("", tree, False)]
    while stack:
        prefix, node, in_function = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                if nested or not in_function:
                    yield name, child
                stack.append((f"{name}.", child, True))
            elif isinstance(child, ast.ClassDef):
                stack.append((f"{prefix}{child.name}.", child, in_function))
            else:
                stack.append((prefix, child, in_function))


def _sources():
    for room in ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            yield rel, ast.parse(path.read_text(encoding="utf-8"), filename=rel)


def _positional(fn: ast.FunctionDef | ast.AsyncFunctionDef, is_method: bool) -> int:
    names = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)]
    if is_method and names and names[0] in ("self", "cls"):
        names = names[1:]
    return len(names)


def test_ruff_is_clean():
    exe = _tool("ruff")
    paths = [*ROOMS, "tests", "benchmarks", "docs"]
    out = subprocess.run(
        [exe, "check", "--output-format", "concise", "--no-cache", *paths],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, f"ruff findings ({ROOT / 'pyproject.toml'} [tool.ruff]):\n{out.stdout}{out.stderr}"


def test_no_function_over_80_lines():
    long = []
    for rel, tree in _sources():
        for name, fn in _functions(tree):
            n = fn.end_lineno - fn.lineno + 1
            if n > MAX_LINES and (rel, name) not in LONG_ALLOWED:
                long.append(f"{rel}:{fn.lineno} {name}: {n} lines")
    assert not long, f"functions over {MAX_LINES} lines (split into named steps):\n" + "\n".join(sorted(long))


def test_no_public_function_over_6_positional_parameters():
    wide = []
    for rel, tree in _sources():
        methods = {
            id(f) for c in ast.walk(tree) if isinstance(c, ast.ClassDef)
            for f in c.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        for name, fn in _functions(tree, nested=False):
            if any(part.startswith("_") and not part.startswith("__") for part in name.split(".")):
                continue
            n = _positional(fn, id(fn) in methods)
            if n > MAX_POSITIONAL and (rel, name) not in POSITIONAL_ALLOWED:
                wide.append(f"{rel}:{fn.lineno} {name}: {n} positional")
    assert not wide, (
        f"public functions with more than {MAX_POSITIONAL} positional parameters "
        "(make options keyword-only with `*` or group them in a frozen dataclass):\n" + "\n".join(sorted(wide))
    )


def test_the_counters_see_what_they_should():
    """The AST counters above are themselves checked on a small sample, so a bug in them
    cannot make the two tests pass vacuously."""
    src = (
        "def a(x, y, z, u, v, w, t):\n    pass\n"
        "class C:\n    def m(self, a, b, c, d, e, f):\n        pass\n"
        "    def n(self, *, a, b, c, d, e, f, g):\n        def inner():\n            return 1\n        return inner\n"
    )
    found = {name: fn for name, fn in _functions(ast.parse(src))}
    assert set(found) == {"a", "C.m", "C.n", "C.n.inner"}
    assert {name for name, _ in _functions(ast.parse(src), nested=False)} == {"a", "C.m", "C.n"}
    assert _positional(found["a"], False) == 7
    assert _positional(found["C.m"], True) == 6
    assert _positional(found["C.n"], True) == 0
    assert found["C.n"].end_lineno - found["C.n"].lineno + 1 == 4


@pytest.mark.slow
def test_mypy_strict_on_gis():
    exe = _tool("mypy")
    out = subprocess.run(
        [exe, "--cache-dir", "/dev/null", "--config-file", str(ROOT / "pyproject.toml")],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, f"mypy --strict findings on gis/:\n{out.stdout}{out.stderr}"


def _module_name(rel: str) -> str:
    name = rel[:-3].replace("/", ".")
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def _imports(module: str, tree: ast.Module, is_package: bool) -> set[str]:
    """Modules of ours that ``module`` imports at import time (module level, not inside
    functions: a lazy import inside a function cannot close a circle at import)."""
    package = module if is_package else module.rpartition(".")[0]
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}
    return out


def test_no_import_circle():
    trees = {_module_name(rel): (rel, tree) for rel, tree in _sources()}
    graph = {
        m: {i for i in _imports(m, tree, rel.endswith("__init__.py")) if i in trees and i != m}
        for m, (rel, tree) in trees.items()
    }
    done: set[str] = set()
    circles = []

    def visit(m: str, path: list[str]) -> None:
        if m in path:
            circles.append(" → ".join([*path[path.index(m):], m]))
            return
        if m in done:
            return
        for n in sorted(graph[m]):
            visit(n, [*path, m])
        done.add(m)

    for m in sorted(graph):
        visit(m, [])
    assert not circles, "import circles at module level:\n" + "\n".join(sorted(set(circles)))
    assert graph["gis.errors"] and "gis.label_table" in graph["gis.errors"]  # the graph is not empty
