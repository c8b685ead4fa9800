"""The floor plan's checker (scripts/architecture.py) on small made-up trees, then on ours."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("architecture", ROOT / "scripts/architecture.py")
architecture = importlib.util.module_from_spec(_spec)
sys.modules["architecture"] = architecture
_spec.loader.exec_module(architecture)


def tree(root: Path, files: dict[str, str]) -> Path:
    for top in architecture.FLOORS:
        (root / top).mkdir(parents=True, exist_ok=True)
        (root / top / "__init__.py").touch()
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_an_import_inside_a_function_closes_a_cycle(tmp_path):
    root = tree(
        tmp_path,
        {
            "server/queue.py": "def run():\n    from server.worker import task\n",
            "server/worker.py": "from server import queue\n",
        },
    )
    assert architecture.problems(root) == ["cycle of 2 modules: server.queue, server.worker"]


def test_importing_a_submodule_runs_its_package_but_not_ones_own(tmp_path):
    root = tree(
        tmp_path,
        {
            # summary.rows imports review.service, so review/__init__ runs too; review's
            # __init__ imports summary.rows back: a cycle through the package.
            "server/summary/__init__.py": "",
            "server/summary/rows.py": "from server.review.service import build\n",
            "server/review/__init__.py": "from server.summary import rows\n",
            "server/review/service.py": "def build(): pass\n",
            # Its own package's __init__ is not counted: rows -> summary is no edge.
            "server/summary/page.py": "from server.summary import rows\nimport server.summary\n",
        },
    )
    assert architecture.problems(root) == ["cycle of 2 modules: server.review, server.summary.rows"]


def test_a_blueprint_package_and_its_routes_may_import_each_other(tmp_path):
    root = tree(
        tmp_path,
        {
            "server/review/__init__.py": "bp = 1\nfrom server.review import routes\n",
            "server/review/routes.py": "from server.review import bp\n",
        },
    )
    assert architecture.problems(root) == []
    # A module never counts its own package: it has run before the module.
    (root / "server/review/pages.py").write_text("from server.review import bp\n")
    (root / "server/review/__init__.py").write_text("bp = 1\nfrom server.review import pages\n")
    assert architecture.problems(root) == []


def test_relative_imports_resolve_against_the_package(tmp_path):
    root = tree(
        tmp_path,
        {
            "graders/a.py": "from . import b\n",
            "graders/b.py": "def f():\n    from .a import x\n",
        },
    )
    assert architecture.problems(root) == ["cycle of 2 modules: graders.a, graders.b"]


def test_the_floors_hold_only_downwards(tmp_path):
    root = tree(
        tmp_path,
        {
            "server/app.py": "import graders.x\n",
            "graders/x.py": "def f():\n    import server.app\n",
            "sandbox/y.py": "from graders import x\n",
        },
    )
    assert architecture.problems(root) == [
        "up the floors: graders.x imports server",
        "up the floors: graders.x imports server.app",
        "up the floors: sandbox.y imports graders",
        "up the floors: sandbox.y imports graders.x",
        "cycle of 2 modules: graders.x, server.app",
    ]


def test_a_long_module_is_reported_but_not_the_harness(tmp_path):
    body = "x = 1\n" * (architecture.MAX_LINES + 1)
    root = tree(tmp_path, {"server/big.py": body, "sandbox/harness.py": body})
    assert architecture.problems(root) == ["too long: server/big.py has 501 lines (at most 500)"]


def test_our_tree_keeps_the_floor_plan():
    found = architecture.problems()
    assert found == [], "\n".join(found)


def test_import_linter_contracts_are_kept():
    """The same contracts `make lint` checks (pyproject's [tool.importlinter])."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
