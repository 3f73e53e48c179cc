"""Imports run one way, down the order of rooms: each of raylife's folders (and top-level modules) imports only those
below it, so the catalogue and the clients know nothing of the runs that use them, and the framework plug-ins
nothing of the trial's actor or the driver's stages."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "raylife"


def imported_modules(path: Path, root: Path) -> set[str]:
    """Every module a file imports, at module level or inside functions, resolved to absolute names."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = path.relative_to(root.parent).with_suffix("").parts[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from this file's package, one level up per extra dot
                base = list(package[: len(package) - node.level + 1])
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def importers_of(prefix: str, folder: str, root: Path = ROOT) -> dict[str, list[str]]:
    out = {}
    for path in sorted((root / folder).rglob("*.py")):
        bad = sorted(m for m in imported_modules(path, root) if m == prefix or m.startswith(prefix + "."))
        if bad:
            out[str(path.relative_to(root.parent))] = bad
    return out


# Lowest first: a room may import itself and any room before it, never one after it.
ORDER = ("errors", "registry", "lifecycle", "measure", "artifacts", "workloads", "frameworks", "suite", "serving",
         "clients", "plan", "records", "remote", "stages", "store", "decide", "runner", "report", "cli", "__main__")


def upward_imports(root: Path = ROOT) -> list[tuple[str, str]]:
    """(file, module) for every import of a room after the file's own in ORDER; a room not in ORDER is one too."""
    rank = {room: i for i, room in enumerate(ORDER)}
    found = []
    for path in sorted(root.rglob("*.py")):
        room = path.relative_to(root).with_suffix("").parts[0]
        if room == "__init__":
            continue
        for module in sorted(imported_modules(path, root)):
            parts = module.split(".")
            if parts[0] != "raylife" or len(parts) < 2 or parts[1] in (room, "__init__", "__version__"):
                continue
            if rank.get(parts[1], len(ORDER)) > rank.get(room, -1) or room not in rank:
                found.append((str(path.relative_to(root.parent)), module))
    return found


def test_every_room_imports_only_the_rooms_below_it():
    rooms = {p.stem if p.is_file() else p.name for p in ROOT.iterdir() if p.name not in ("__init__.py", "__pycache__")}
    assert rooms == set(ORDER), "a room is missing from ORDER: place it in the order of the data flow"
    assert upward_imports() == []


def test_the_order_check_sees_an_upward_import(tmp_path):
    root = tmp_path / "raylife"
    (root / "measure").mkdir(parents=True)
    (root / "measure" / "probe.py").write_text("def f():\n    from raylife.serving.messages import Answer\n")
    assert upward_imports(root) == [("raylife/measure/probe.py", "raylife.serving.messages"),
                                    ("raylife/measure/probe.py", "raylife.serving.messages.Answer")]


def test_no_framework_module_imports_the_trial_actor_or_the_stages():
    for upward in ("raylife.remote", "raylife.stages", "raylife.runner", "raylife.cli"):
        assert importers_of(upward, "frameworks") == {}, upward


def test_the_check_sees_an_import_that_runs_back_up(tmp_path):
    # The checker must catch a function-level import and a relative one, or the test above proves nothing.
    root = tmp_path / "raylife"
    (root / "frameworks").mkdir(parents=True)
    (root / "frameworks" / "probe.py").write_text(
        "def f():\n    from raylife.remote.messages import FitResult\n\nfrom ..remote import trial_actor\n")
    assert importers_of("raylife.remote", "frameworks", root) == {"raylife/frameworks/probe.py": [
        "raylife.remote", "raylife.remote.messages", "raylife.remote.messages.FitResult", "raylife.remote.trial_actor"]}


def test_one_stage_order_for_the_registry_the_planner_and_the_reports():
    from raylife.lifecycle import DEPLOY_STAGES, DEVELOP_STAGES, STAGE_ORDER
    from raylife.plan import plan_trials
    from raylife.stages.base import STAGES
    from raylife.suite import parse_suite
    from tests.conftest import MINIMAL_SUITE

    assert sorted(STAGES.names()) == sorted(STAGE_ORDER) and STAGE_ORDER == DEVELOP_STAGES + DEPLOY_STAGES
    full = MINIMAL_SUITE + 'frameworks = ["torch"]\n[serve]\n[update]\n[load]\nslo_p99_ms = 100\n'
    [trial] = plan_trials(parse_suite(full))
    assert trial.stages == STAGE_ORDER  # a trial with every stage runs them in the one order
    # and no module keeps a list of its own
    for path in sorted(ROOT.rglob("*.py")):
        if path.name != "lifecycle.py":
            assert '"train", "evaluate", "persist"' not in path.read_text(), path


def test_no_function_is_longer_than_70_lines():
    # a function longer than a screen hides its steps: name them (a stage timer, a configuration loop, ...)
    long = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 70:
                long.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} {node.name}")
    assert long == []
