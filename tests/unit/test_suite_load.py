"""Suite parsing: valid files become typed specs; every problem is one precise SuiteError."""

from __future__ import annotations

import pytest

from raylife.errors import SuiteError
from raylife.suite import load_suite, parse_suite
from tests.conftest import MINIMAL_SUITE, SUITES


def error_of(text: str) -> str:
    with pytest.raises(SuiteError) as info:
        parse_suite(text, "s.toml")
    return str(info.value)


def test_minimal_suite_gets_defaults():
    spec = parse_suite(MINIMAL_SUITE)
    assert spec.models[0].framework_names(["tensorflow", "torch"]) == ["torch", "tensorflow"]
    assert spec.train.epochs == [5] and spec.train.num_workers == [1]
    assert spec.persist.formats == ["native"]
    assert spec.run.storage_path == "./raylife-artifacts"


def test_scalar_and_list_values_are_both_axes():
    spec = parse_suite(MINIMAL_SUITE + "[train]\nbatch_size = [16, 32]\nnum_workers = 2\n")
    assert spec.train.batch_size == [16, 32]
    assert spec.train.num_workers == [2]


def test_per_framework_formats():
    spec = parse_suite(MINIMAL_SUITE + '[persist]\nformats = { torch = ["native", "onnx"] }\n')
    assert spec.persist.formats_for("torch") == ["native", "onnx"]
    assert spec.persist.formats_for("tensorflow") == ["native"]


@pytest.mark.parametrize("path", sorted(SUITES.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_suites_load(path):
    spec, text = load_suite(path)
    assert spec.name == path.stem
    assert text.startswith("#")  # every shipped suite documents itself


def test_unknown_key_suggests_the_close_match():
    assert error_of(MINIMAL_SUITE + "[train]\nepoch = 3\n") == (
        "unknown key 'epoch' in [train] (s.toml:6); did you mean 'epochs'? keys allowed in [train]: "
        "batch_size, checkpoint_upload, cpus_per_worker, device, epochs, learning_rate, max_failures, num_workers, platform, precision, "
        "retrain_epochs, "
        "steps, target_accuracy, timeout_s"
    )


def test_unknown_key_in_array_of_tables():
    message = error_of(MINIMAL_SUITE + 'framework = ["torch"]\n')
    assert message.startswith("unknown key 'framework' in [[models]] #1 (s.toml:5); did you mean 'frameworks'?")


def test_typo_reported_before_the_missing_key_it_causes():
    message = error_of('name = "t"\nworkloads = "vision"\n[[models]]\nname = "cnn_small"\n')
    assert message.startswith("unknown key 'workloads' in the top level (1 more problem after this one) (s.toml:2)")
    assert "did you mean 'workload'?" in message


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("batch_size = 0", "train.batch_size = 0 is invalid: Input should be greater than or equal to 1 (s.toml:6)"),
        ("epochs = -2", "train.epochs = -2 is invalid: Input should be greater than or equal to 1 (s.toml:6)"),
        ("num_workers = [1, 0]", "train.num_workers[1] = 0 is invalid: Input should be greater than or equal to 1 (s.toml:6)"),
        ('device = "tpu"', "train.device = \"tpu\" is invalid: Input should be 'cpu' or 'gpu' (s.toml:6)"),
        ('batch_size = "big"', 'train.batch_size = "big" is invalid: Input should be a valid integer'),
        ("target_accuracy = 1.5", "train.target_accuracy = 1.5 is invalid: Input should be less than or equal to 1 (s.toml:6)"),
        ("retrain_epochs = -1", "train.retrain_epochs = -1 is invalid: Input should be greater than or equal to 0 (s.toml:6)"),
    ],
)
def test_bad_values_name_key_value_and_line(snippet, expected):
    assert error_of(MINIMAL_SUITE + f"[train]\n{snippet}\n").startswith(expected)


def test_missing_required_key():
    assert error_of('name = "t"\n[[models]]\nname = "cnn_small"\n') == (
        "missing required key 'workload' in the top level (s.toml); add `workload = ...` there"
    )


def test_toml_syntax_error_has_line_and_column():
    assert error_of('name = "t"\nworkload = "vision"\n[[models]\n') == (
        "invalid TOML: Expected ']]' at the end of an array declaration (s.toml:3:9); fix the syntax at that line"
    )


def test_missing_file_lists_nearby_suites(tmp_path):
    (tmp_path / "real.toml").write_text(MINIMAL_SUITE)
    with pytest.raises(SuiteError) as info:
        load_suite(tmp_path / "nope.toml")
    assert str(info.value) == f"suite file not found: {tmp_path}/nope.toml; check the path; suites in {tmp_path}/: real.toml"


def test_duplicate_frameworks_rejected():
    assert "'torch' is listed twice" in error_of(MINIMAL_SUITE + 'frameworks = ["torch", "torch"]\n')


def test_suite_name_must_be_a_plain_identifier():
    assert error_of('name = "a b"\nworkload = "vision"\n[[models]]\nname = "cnn_small"\n').startswith('name = "a b" is invalid')


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("[serve]\nbatch_sizes = [1, 0]", "serve.batch_sizes[1] = 0 is invalid: Input should be greater than or equal to 1 (s.toml:6)"),
        ("[serve]\nconcurrency = [-4]", "serve.concurrency[0] = -4 is invalid: Input should be greater than or equal to 1 (s.toml:6)"),
        ("[serve]\nreplicas = 0", "serve.replicas = 0 is invalid: Input should be greater than or equal to 1 (s.toml:6)"),
        ("[serve]\nport = 70000", "serve.port = 70000 is invalid: Input should be less than or equal to 65535 (s.toml:6)"),
        ("[serve]\ncpus_per_replica = 0", "serve.cpus_per_replica = 0 is invalid: Input should be greater than 0 (s.toml:6)"),
        ('[update]\nstrategies = ["blue-green"]', "update.strategies[0] = \"blue-green\" is invalid: Input should be 'reconfigure' or 'rollout' (s.toml:6)"),
        ("[serve]\nbatch_size = [1]", "unknown key 'batch_size' in [serve] (s.toml:6); did you mean 'batch_sizes'?"),
    ],
)
def test_bad_serve_and_update_values(snippet, expected):
    assert error_of(MINIMAL_SUITE + snippet + "\n").startswith(expected)
