"""Fuzzing `raylife validate`: every shipped suite, mutated key by key, either validates or fails with exactly one
`Error:` line and exit code 1 — never a traceback.

Two parts: an exhaustive sweep (every key of every shipped suite x a fixed set of mutations: removed, wrong types,
out of range, non-finite, an unknown key beside it) and a hypothesis search over arbitrary values. Run with
``-s`` to see the counts.
"""

from __future__ import annotations

import copy
import math
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

from unittest.mock import patch

import pytest
import tomli_w
import typer.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.main import get_command
from typer.testing import CliRunner

from raylife.cli import app
from tests.conftest import SUITES

runner = CliRunner()
COMMAND = get_command(app)  # built once: Typer's own invoke rebuilds it on every call (2/3 of the time here)
SHIPPED = {path.name: tomllib.loads(path.read_text()) for path in sorted(SUITES.glob("*.toml"))}
REMOVE = object()
UNKNOWN = object()
# removed, an unknown key beside it, wrong types, out of range (and non-finite).
FIXED_MUTATIONS: list[Any] = [REMOVE, UNKNOWN, "x", True, [], {"a": 1}, -1, 0, 10**15, math.nan]
COUNTS: Counter[str] = Counter()

Path_ = tuple[Any, ...]


def key_paths(node: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every key and list element, tables and leaves alike."""
    found: list[Path_] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((*prefix, key))
            found += key_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.append((*prefix, index))
            found += key_paths(value, (*prefix, index))
    return found


def mutate(suite: dict[str, Any], path: Path_, mutation: Any) -> dict[str, Any]:
    out = copy.deepcopy(suite)
    parent = out
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if mutation is REMOVE:
        del parent[last]
    elif mutation is UNKNOWN:
        target = parent[last] if isinstance(parent[last], dict) else parent
        if isinstance(target, dict):
            target["zz_unknown_key"] = 1
        else:
            parent[last] = {"zz_unknown_key": 1}
    else:
        parent[last] = mutation
    return out


def check(tmp_path: Path, suite: dict[str, Any]) -> str:
    """Validate a mutant; the outcome ('accepted' / 'refused'), or an assertion error for anything else."""
    file = tmp_path / "mutant.toml"
    file.write_text(tomli_w.dumps(suite))
    with patch.object(typer.testing, "_get_command", lambda _app: COMMAND):
        result = runner.invoke(app, ["validate", str(file)])
    assert "Traceback" not in result.output, result.output
    if result.exit_code == 0:
        assert "is valid" in result.stdout
        return "accepted"
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return "refused"


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_key_of_every_shipped_suite(tmp_path, name):
    suite = SHIPPED[name]
    assert check(tmp_path, suite) == "accepted"
    for path in key_paths(suite):
        for mutation in FIXED_MUTATIONS:
            outcome = check(tmp_path, mutate(suite, path, mutation))
            COUNTS[outcome] += 1
            COUNTS["tried"] += 1
    print(f"\n{name}: {dict(COUNTS)}")


SUITE_AND_PATH = st.sampled_from(sorted(SHIPPED)).flatmap(
    lambda name: st.tuples(st.just(name), st.sampled_from(key_paths(SHIPPED[name]))))
VALUES = st.recursive(
    st.none().map(lambda _: REMOVE) | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(min_size=1, max_size=6), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=SUITE_AND_PATH, value=VALUES)
def test_arbitrary_values(tmp_path, target, value):
    name, path = target
    if not _writable(value):
        return
    outcome = check(tmp_path, mutate(SHIPPED[name], path, value))
    COUNTS[f"hypothesis {outcome}"] += 1


def _writable(value: Any) -> bool:
    """TOML cannot hold every Python value (a list mixing None); those mutants are not files a user can write."""
    try:
        tomli_w.dumps({"v": value}) if value is not REMOVE else None
    except (TypeError, ValueError):
        return False
    return True


def test_report_counts():
    print(f"\nfuzz counts: {dict(COUNTS)}")
