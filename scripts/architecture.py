"""The house's floor plan, checked: every import (those inside functions too), no import back
up the floors (``server`` -> ``graders`` -> ``sandbox``), no cycle among modules, no module
over 500 lines but the harness and the migrations.

import-linter (``make lint``) holds the floors and the cycles between ``server``'s parts;
this script is the module-level view it lacks: a cycle through an import inside a function
is still a cycle (it ties the modules' meaning, whenever it runs), and importing
``pkg.sub`` runs ``pkg/__init__`` first, so that counts as an import of the package too,
except a module's own packages (Python has run them already: so a blueprint's ``routes``
importing ``bp`` from its package's ``__init__``, Flask's pattern, is no cycle). Usage:

    .venv/bin/python scripts/architecture.py            # prints the problems; rc 1 if any
    .venv/bin/python scripts/architecture.py --graph    # also every module's imports
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Top-level packages, lowest floor last: a package may import the ones after it only.
FLOORS = ("server", "graders", "sandbox")
MAX_LINES = 500
#: Files allowed over MAX_LINES: the harness runs inside the sandbox from one file, and
#: migrations are history, not design.
LONG_ALLOWED = ("sandbox/harness.py", "server/migrations/")


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool


def modules(root: Path = ROOT) -> dict[str, Module]:
    found = {}
    for top in FLOORS:
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root)
            if rel.as_posix().startswith("server/migrations/versions/"):
                continue
            parts = list(rel.with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            found[".".join(parts)] = Module(".".join(parts), path, is_package)
    return found


def _imported_names(module: Module, known: dict[str, Module]) -> Iterator[str]:
    """Every module of ours that ``module``'s import statements name (anywhere in the file)."""
    tree = ast.parse(module.path.read_text(encoding="utf-8"), str(module.path))
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield sub if sub in known else target


def imports_of(module: Module, known: dict[str, Module]) -> set[str]:
    """The modules that importing ``module`` runs by its own statements: each named module of
    ours and the packages above it, less ``module``'s own packages (already run)."""
    own = set()
    parts = module.name.split(".")
    for i in range(1, len(parts) + 1):
        own.add(".".join(parts[:i]))
    edges = set()
    for name in _imported_names(module, known):
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in known and prefix not in own:
                edges.add(prefix)
    return edges


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    known = modules(root)
    return {name: imports_of(module, known) for name, module in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    kept = {a: {b for b in targets if b in edges} for a, targets in edges.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so that a long chain cannot reach Python's recursion limit.
        work = [(start, iter(sorted(kept[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(kept[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))

    for name in sorted(kept):
        if name not in index:
            visit(name)
    return groups


def problems(root: Path = ROOT) -> list[str]:
    known = modules(root)
    edges = {name: imports_of(module, known) for name, module in known.items()}
    found = []
    for name, targets in sorted(edges.items()):
        floor = FLOORS.index(name.split(".")[0])
        for target in sorted(targets):
            if FLOORS.index(target.split(".")[0]) < floor:
                found.append(f"up the floors: {name} imports {target}")
    for group in cycles(edges):
        found.append(f"cycle of {len(group)} modules: {', '.join(group)}")
    for _name, module in sorted(known.items()):
        rel = module.path.relative_to(root).as_posix()
        lines = len(module.path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES and not rel.startswith(LONG_ALLOWED):
            found.append(f"too long: {rel} has {lines} lines (at most {MAX_LINES})")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graph", action="store_true", help="print every module's imports")
    args = parser.parse_args(argv)
    if args.graph:
        for name, targets in sorted(graph().items()):
            print(f"{name}: {' '.join(sorted(targets))}")
    found = problems()
    for line in found:
        print(line)
    if not found:
        print("architecture: floors hold, no import cycle, no module over 500 lines")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
