"""Planning: matrix expansion and rejection of impossible trials, without Ray or any framework."""

from __future__ import annotations

import pytest

from raylife.errors import PlanError
from raylife.plan import plan_trials
from raylife.suite import parse_suite
from raylife.workloads import WORKLOADS, ModelInfo, Workload
from tests.conftest import MINIMAL_SUITE, SUITES


def plan(text: str):
    return plan_trials(parse_suite(text, "s.toml"), "s.toml")


def plan_error(text: str) -> str:
    with pytest.raises(PlanError) as info:
        plan(text)
    return str(info.value)


def test_matrix_is_models_x_frameworks_x_axes():
    trials = plan(MINIMAL_SUITE + "[train]\nnum_workers = [1, 2]\nbatch_size = [16, 32, 64]\n")
    assert len(trials) == 2 * 2 * 3
    assert [t.index for t in trials] == list(range(12))
    names = [t.name for t in trials]
    assert len(set(names)) == len(names)
    assert names[0] == "cnn_small/torch/w1/bs16"
    assert {t.framework for t in trials} == {"torch", "tensorflow"}


def test_trial_carries_resolved_settings():
    [torch] = plan(MINIMAL_SUITE + 'frameworks = "torch"\noptions = { width = 8 }\n[train]\nretrain_epochs = 0\n')
    assert torch.model_options == {"width": 8}  # the suite overrides the model's default width
    assert torch.builder == "raylife.workloads.vision.torch_models:cnn_small"
    assert torch.formats == ("state_dict",)
    assert torch.stages == ("train", "evaluate", "persist")  # retrain_epochs = 0 drops the stage
    assert torch.dataset == "digits"
    assert torch.params()["model_options"] == {"width": 8}


def test_native_format_resolves_per_framework():
    trials = plan(MINIMAL_SUITE + '[persist]\nformats = { torch = ["native", "onnx"], tensorflow = ["native", "savedmodel"] }\n')
    assert [t.formats for t in trials] == [("state_dict", "onnx"), ("keras", "savedmodel")]


def test_unknown_model_lists_known_ones():
    assert plan_error('name = "t"\nworkload = "vision"\n[[models]]\nname = "vgg16"\n') == (
        "unknown model 'vgg16' for workload 'vision' (s.toml, models[0].name); known models: cnn_small, mobilenet_small, mobilenet_v2, resnet18, resnet50, resnet_small"
    )


def test_unknown_framework_lists_known_ones():
    assert plan_error(MINIMAL_SUITE + 'frameworks = ["jax"]\n') == (
        "unknown framework 'jax' (s.toml, models[0].frameworks); known frameworks: tensorflow, torch"
    )


def test_unknown_workload_suggests():
    assert plan_error('name = "t"\nworkload = "vison"\n[[models]]\nname = "x"\n') == (
        "unknown workload 'vison' (s.toml, workload); did you mean 'vision'? known workloads: audio, recommendation, tabular, text, vision"
    )


def test_unknown_dataset():
    assert plan_error(MINIMAL_SUITE + '[data]\ndataset = "mnist"\n') == (
        "unknown dataset 'mnist' for workload 'vision' (s.toml, data.dataset); known datasets: digits, random"
    )


def test_format_a_framework_cannot_save():
    assert plan_error(MINIMAL_SUITE + '[persist]\nformats = ["native", "onnx"]\n') == (
        "framework 'tensorflow' cannot save or load format 'onnx' (s.toml, persist.formats); "
        "formats for tensorflow: native (= keras), savedmodel"
    )


@pytest.fixture
def torch_only_workload():
    WORKLOADS.register(
        "torch_only",
        Workload(
            name="torch_only", task="test", description="", sources=WORKLOADS.get("vision").sources,
            default_dataset="digits",
            models={"m": ModelInfo(name="m", description="", builders={"torch": "raylife.workloads.vision.torch_models:cnn_small"})},
        ),
    )
    yield
    WORKLOADS._targets.pop("torch_only")
    WORKLOADS._loaded.pop("torch_only", None)


def test_framework_the_model_does_not_support(torch_only_workload):
    assert [t.framework for t in plan('name = "t"\nworkload = "torch_only"\n[[models]]\nname = "m"\n')] == ["torch"]
    assert plan_error('name = "t"\nworkload = "torch_only"\n[[models]]\nname = "m"\nframeworks = ["tensorflow", "torch"]\n') == (
        "model 'm' has no tensorflow implementation (s.toml, models[0].frameworks); 'm' supports: torch"
    )


@pytest.mark.parametrize("path", sorted(SUITES.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_suites_plan(path):
    trials = plan_trials(parse_suite(path.read_text(), str(path)), str(path))
    assert trials
    assert {t.framework for t in trials} == {"torch", "tensorflow"}  # every shipped suite compares both


def test_vision_suite_runs_one_and_two_workers():
    trials = plan_trials(parse_suite((SUITES / "vision.toml").read_text()))
    assert sorted({(t.framework, t.num_workers) for t in trials}) == [
        ("tensorflow", 1), ("tensorflow", 2), ("torch", 1), ("torch", 2)
    ]
    assert all(t.target_accuracy == 0.95 for t in trials)


def test_same_model_with_other_options_gets_its_own_name():
    trials = plan(MINIMAL_SUITE + 'frameworks = "torch"\n[[models]]\nname = "cnn_small"\nframeworks = "torch"\noptions = { width = 8 }\n')
    assert [t.name for t in trials] == ["cnn_small/torch/w1", "cnn_small[width=8]/torch/w1"]


def test_duplicate_trials_rejected():
    assert plan_error(MINIMAL_SUITE + '[[models]]\nname = "cnn_small"\n') == (
        "two trials would both be 'cnn_small/torch/w1' (s.toml, models[1]); each [[models]] entry needs a distinct name or options"
    )


SERVE = MINIMAL_SUITE + "[serve]\n"


def test_serve_and_update_add_deployment_stages_and_the_served_format():
    trials = plan(SERVE + 'format = "native"\n[update]\n[persist]\nformats = { torch = ["onnx"], tensorflow = ["savedmodel"] }\n')
    assert [t.stages for t in trials] == [
        ("train", "evaluate", "persist", "retrain", "deploy", "serve", "update", "teardown")
    ] * 2
    assert [(t.serve_format, t.formats) for t in trials] == [
        ("state_dict", ("onnx", "state_dict")), ("keras", ("savedmodel", "keras"))  # persist saves what Serve loads
    ]
    assert trials[0].params()["serve"]["batch_sizes"] == [1, 8, 32]


def test_serve_without_update_skips_the_update_stage():
    [torch, _] = plan(SERVE)
    assert torch.stages[-3:] == ("deploy", "serve", "teardown")


def test_serve_format_the_framework_cannot_load():
    assert plan_error(SERVE + 'format = "torchscript"\n') == (
        "framework 'tensorflow' cannot save or load format 'torchscript' (s.toml, serve.format); "
        "formats for tensorflow: native (= keras), savedmodel"
    )


def test_update_needs_serve_and_a_retrained_model():
    assert plan_error(MINIMAL_SUITE + "[update]\n").startswith("[update] needs a [serve] section")
    assert plan_error(SERVE + "[update]\n[train]\nretrain_epochs = 0\n") == (
        "[update] rolls out the retrained model, but train.retrain_epochs = 0 (s.toml, train.retrain_epochs); "
        "set retrain_epochs >= 1, or remove [update]"
    )
