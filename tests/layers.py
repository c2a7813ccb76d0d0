"""What the layer tests look at: the modules a package loads, and the imports a file writes."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

_LOAD_ALL = """
import importlib, json, pkgutil, sys
package = importlib.import_module({package!r})
for module in pkgutil.walk_packages(package.__path__, {package!r} + "."):
    if not module.name.startswith({skip!r}):
        importlib.import_module(module.name)
print(json.dumps(sorted(sys.modules)))
"""


def modules_loaded_by(package: str, *, skip: tuple[str, ...] = ()) -> set[str]:
    """Every module a fresh interpreter holds after importing all of `package` (but `skip`)."""
    script = _LOAD_ALL.format(package=package, skip=skip or ("\0",))
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(json.loads(result.stdout))


def within(modules: set[str], *prefixes: str) -> list[str]:
    """The modules that are one of `prefixes` or inside one."""
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def written_imports(path: Path) -> set[str]:
    """The modules a file imports by name (`import a.b`, `from a.b import c` -> a.b, a.b.c)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found
