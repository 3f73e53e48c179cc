"""The trial parameters SQL reads by JSON path are a contract with the ``Trial`` model: a renamed field must fail
here, not turn a cost into NULL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from raylife.plan import plan_trials
from raylife.store.schema import TRIAL_PARAMS, param
from raylife.suite import parse_suite
from tests.conftest import MINIMAL_SUITE

STORE = Path(__file__).resolve().parents[2] / "raylife" / "store"
MISSING = object()


def stored_params() -> dict:
    """A trial's parameters exactly as the store writes them (JSON), for a trial using every section SQL reads."""
    suite = parse_suite(MINIMAL_SUITE + 'frameworks = ["torch"]\n[train]\ntarget_accuracy = 0.9\n'
                        "[serve]\nreplicas = 2\n[cost]\ncpu_hour_usd = 0.05\n")
    return json.loads(json.dumps(plan_trials(suite)[0].params()))


def lookup(params: dict, path: str):
    node = params
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


@pytest.mark.parametrize("path", TRIAL_PARAMS)
def test_every_path_sql_reads_is_a_trial_parameter(path):
    assert lookup(stored_params(), path) is not MISSING, f"Trial.params() has no {path}: rename it in TRIAL_PARAMS too"


def test_a_path_the_model_does_not_have_is_caught():
    params = stored_params()
    assert lookup(params, "serve.replica") is MISSING and lookup(params, "price.cpu_hour_usd") is MISSING
    with pytest.raises(KeyError, match="not in TRIAL_PARAMS"):
        param("serve.replica")


def test_no_sql_reads_a_parameter_around_the_contract():
    # Every parameter the store's SQL reads goes through param(): no JSON path is written out by hand.
    for path in sorted(STORE.glob("*.py")):
        assert not re.findall(r"params\s*->>\s*'\$\.\w+", path.read_text()), path.name
