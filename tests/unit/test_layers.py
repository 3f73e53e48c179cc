"""Imports run one way: the framework plug-ins know nothing of the trial's actor or the driver's stages."""

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
