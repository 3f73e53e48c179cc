"""Planning: matrix expansion and rejection of impossible trials, without Ray or any framework."""

from __future__ import annotations

import subprocess

import pytest

from raylife.errors import PlanError, SuiteError
from raylife.plan import plan_trials
from raylife.suite import parse_suite
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
        "unknown model 'vgg16' for workload 'vision' (s.toml, models[0].name); known models: cnn_small, mobilenet_small, mobilenet_v2, mobilenet_v3_large, resnet18, resnet50, resnet_small, vit_b16"
    )


def test_unknown_framework_lists_known_ones():
    assert plan_error(MINIMAL_SUITE + 'frameworks = ["jax"]\n') == (
        "unknown framework 'jax' (s.toml, models[0].frameworks); known frameworks: tensorflow, torch"
    )


def test_unknown_workload_suggests():
    assert plan_error('name = "t"\nworkload = "vison"\n[[models]]\nname = "x"\n') == (
        "unknown workload 'vison' (s.toml, workload); did you mean 'vision'? known workloads: audio, generative, recommendation, tabular, text, vision"
    )


def test_unknown_dataset():
    assert plan_error(MINIMAL_SUITE + '[data]\ndataset = "mnist"\n') == (
        "unknown dataset 'mnist' for workload 'vision' (s.toml, data.dataset); known datasets: digits, random"
    )


def test_format_a_framework_cannot_save():
    assert plan_error(MINIMAL_SUITE + '[persist]\nformats = ["native", "onnx"]\n') == (
        "framework 'tensorflow' cannot save or load format 'onnx' (s.toml, persist.formats); "
        "formats for tensorflow: native (= keras), h5, safetensors, savedmodel"
    )


def test_framework_the_model_does_not_support(torch_only):
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
    assert sorted({(t.framework, t.num_workers) for t in trials if t.model == "cnn_small"}) == [
        ("tensorflow", 1), ("tensorflow", 2), ("torch", 1), ("torch", 2)
    ]
    assert {t.model for t in trials} == {"cnn_small", "mobilenet_small"}
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
        "formats for tensorflow: native (= keras), h5, safetensors, savedmodel"
    )


def test_update_needs_serve_and_a_retrained_model():
    assert plan_error(MINIMAL_SUITE + "[update]\n").startswith("[update] needs a [serve] section")
    assert plan_error(SERVE + "[update]\n[train]\nretrain_epochs = 0\n") == (
        "[update] rolls out the retrained model, but train.retrain_epochs = 0 (s.toml, train.retrain_epochs); "
        "set retrain_epochs >= 1, or remove [update]"
    )


def test_a_model_that_cannot_take_the_inputs_is_refused():
    assert plan_error('name = "t"\nworkload = "vision"\n[[models]]\nname = "resnet50"\n') == (
        "model 'resnet50' cannot take this data: needs images of at least 32x32, got 8x8 (for digits set data.options = "
        "{ size = 32, channels = 3 }) (s.toml, models[0]); choose another model or data options"
    )
    assert plan('name = "t"\nworkload = "vision"\n[data]\noptions = { size = 32, channels = 3 }\n[[models]]\nname = "resnet50"\n')


def test_a_missing_data_path_is_refused_before_anything_runs(tmp_path):
    suite = parse_suite('name = "t"\nworkload = "tabular"\n[data]\nformat = "csv"\npath = "nope.csv"\n[[models]]\nname = "mlp"\n')
    with pytest.raises(PlanError) as info:
        plan_trials(suite, "s.toml", base_dir=tmp_path)
    assert str(info.value) == (
        f"data path does not exist: {tmp_path}/nope.csv (s.toml, data.path); "
        "check the path (relative paths start at the suite file)"
    )


def test_data_paths_are_relative_to_the_suite_file(tmp_path):
    (tmp_path / "rows.csv").write_text("a,b,label\n1,2,x\n3,4,y\n5,6,x\n")
    suite = parse_suite('name = "t"\nworkload = "tabular"\n[data]\nformat = "csv"\npath = "rows.csv"\n[[models]]\nname = "mlp"\n')
    [torch, _] = plan_trials(suite, "s.toml", base_dir=tmp_path)
    assert torch.data_path == str(tmp_path / "rows.csv") and torch.data_format == "csv"
    assert torch.dataset_label == f"csv:{tmp_path}/rows.csv"


def test_user_builders_are_found_without_importing_them(tmp_path):
    (tmp_path / "my_models.py").write_text("import torch\n\ndef build(input_shape, num_classes):\n    ...\n")
    base = 'name = "t"\nworkload = "tabular"\n[run]\npython_path = ["."]\n[[models]]\nname = "mine"\n'
    [trial] = plan_trials(parse_suite(base + 'builders = { torch = "my_models:build" }\n'), "s.toml", base_dir=tmp_path)
    assert trial.custom_model and trial.builder == "my_models:build" and trial.python_path == (str(tmp_path),)
    assert "my_models" not in __import__("sys").modules  # found, not imported (it would import its framework)
    for builders, expected in [
        ('{ torch = "not_there:build" }', "cannot find builder module 'not_there' (no module named 'not_there') (s.toml, models[0].builders.torch); "
                                          "check the name, install its package, or add its folder to run.python_path"),
        ('{ torch = "my_models:nope" }', f"module 'my_models' ({tmp_path}/my_models.py) defines no 'nope' "
                                         "(s.toml, models[0].builders.torch); check the name after ':'"),
        ('{ torch = "my_models.build" }', "builder 'my_models.build' is not of the form 'package.module:function' "
                                          "(s.toml, models[0].builders.torch); write the module's import path and the function name separated by ':'"),
    ]:
        with pytest.raises(PlanError) as info:
            plan_trials(parse_suite(base + f"builders = {builders}\n"), "s.toml", base_dir=tmp_path)
        assert str(info.value) == expected


def test_per_model_workload_data_and_train_overrides():
    trials = plan('name = "t"\nworkload = "tabular"\n[train]\nepochs = 20\n[[models]]\nname = "mlp"\nframeworks = "torch"\n'
                  '[[models]]\nname = "mf"\nworkload = "recommendation"\nframeworks = "torch"\ntrain = { epochs = 3, num_workers = [1, 2] }\n')
    assert [(t.name, t.workload, t.dataset, t.epochs) for t in trials] == [
        ("mlp/torch/w1", "tabular", "breast_cancer", 20),
        ("recommendation.mf/torch/w1", "recommendation", "synthetic_ratings", 3),
        ("recommendation.mf/torch/w2", "recommendation", "synthetic_ratings", 3),
    ]
    assert trials[1].model_args == {"num_users": 300, "num_items": 200}
    assert plan_error(MINIMAL_SUITE + "train = { epochs = 0 }\n").startswith(
        "models[0].train.epochs: Input should be greater than or equal to 1 (s.toml)")
    # a model's override beside the suite's steps: the suite's defaults (epochs) are not read as given
    [_, steps] = plan('name = "t"\nworkload = "tabular"\n[train]\nsteps = 7\n[[models]]\nname = "mlp"\nframeworks = "torch"\n'
                      '[[models]]\nname = "resmlp"\nframeworks = "torch"\ntrain = { batch_size = 8 }\n')
    assert (steps.steps, steps.batch_size, steps.epochs) == (7, 8, 1)


def test_random_inputs_refuse_an_accuracy_target():
    random = MINIMAL_SUITE + '[data]\ndataset = "random"\noptions = { shape = [16, 16, 3] }\n'
    [torch, _] = plan(random)
    assert not torch.measures_quality and torch.target_accuracy is None and torch.synthetic_data
    error = plan_error(random + "[train]\ntarget_accuracy = 0.9\n")
    assert error.startswith("target_accuracy = 0.9 on random float32 inputs (16, 16, 3): random inputs have nothing to learn")
    assert "(s.toml, train.target_accuracy); remove target_accuracy" in error


def test_builders_are_found_without_running_any_code(tmp_path):
    import sys

    marker = tmp_path / "ran.txt"
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('init ran')\n")
    (pkg / "mod.py").write_text(
        f"open({str(marker)!r}, 'w').write('module ran')\n"
        "import torch\n"
        "# def commented(input_shape, num_classes): the word is here only in a comment\n"
        "if True:\n    def guarded(input_shape, num_classes, hidden: int = 4):\n        ...\n"
        "aliased = guarded\n"
    )
    base = 'name = "t"\nworkload = "tabular"\n[run]\npython_path = ["."]\n[[models]]\nname = "mine"\n'

    def plan(builders: str, options: str = ""):
        return plan_trials(parse_suite(base + f"builders = {builders}\n" + options), "s.toml", base_dir=tmp_path)

    assert plan('{ torch = "pkg.mod:guarded" }', "options = { hidden = 8 }\n")[0].builder == "pkg.mod:guarded"
    assert plan('{ torch = "pkg.mod:aliased" }')[0].builder == "pkg.mod:aliased"
    # A framework's class, behind a star import: accepted, and the framework is not imported on the driver.
    assert plan('{ torch = "torch.nn:Linear" }')[0].builder == "torch.nn:Linear"
    assert not marker.exists() and "pkg" not in sys.modules
    # In a fresh interpreter (this one may have imported torch for other tests): planning imports no framework.
    suite_text = base + 'builders = { torch = "torch.nn:Linear" }\n'
    code = ("import sys, pathlib; from raylife.plan import plan_trials; from raylife.suite import parse_suite; "
            f"plan_trials(parse_suite({suite_text!r}), 's.toml', base_dir=pathlib.Path({str(tmp_path)!r})); "
            "print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
    with pytest.raises(PlanError, match=r"module 'pkg.mod' \(.*mod.py\) defines no 'commented'"):
        plan('{ torch = "pkg.mod:commented" }')
    with pytest.raises(PlanError, match=r"pkg.mod:guarded takes no option 'hiden' \(did you mean 'hidden'\?\); its options: hidden"):
        plan('{ torch = "pkg.mod:guarded" }', "options = { hiden = 8 }\n")
    with pytest.raises(PlanError, match=r"option hidden = \"x\": expected int"):
        plan('{ torch = "pkg.mod:guarded" }', 'options = { hidden = "x" }\n')
    with pytest.raises(PlanError, match=r"cannot find builder module 'pkg.nothere' \(no module named 'pkg.nothere'\)"):
        plan('{ torch = "pkg.nothere:f" }')
    with pytest.raises(PlanError, match=r"'pkg.mod' is a module, not a package"):
        plan('{ torch = "pkg.mod.sub:f" }')
    assert not marker.exists()


PLATFORMS = 'frameworks = ["torch"]\n[platforms.small]\nresources = { cpu_small = 1 }\n[platforms.big]\nlabels = { "node-type" = "big" }\n'


def test_platform_is_an_axis_with_its_resources_and_labels():
    trials = plan_trials(parse_suite(MINIMAL_SUITE + PLATFORMS + '[train]\nplatform = ["small", "big"]\n'))
    assert [(t.name, t.platform, t.platform_resources, t.platform_labels) for t in trials] == [
        ("cnn_small/torch/w1/small", "small", {"cpu_small": 1.0}, {}),
        ("cnn_small/torch/w1/big", "big", {}, {"node-type": "big"}),
    ]
    assert trials[0].key.variant == "cnn_small/small"


def test_an_undefined_platform_is_refused_with_the_defined_ones():
    assert plan_error(MINIMAL_SUITE + PLATFORMS + '[train]\nplatform = ["smal"]\n') == (
        "platform 'smal' is not defined (s.toml, train.platform); did you mean 'small'? defined: big, small")


def test_a_platform_must_select_something():
    with pytest.raises(SuiteError, match="a platform needs resources or labels"):
        parse_suite(MINIMAL_SUITE + "[platforms.empty]\n")


@pytest.mark.parametrize(("extra", "message"), [
    ("[train]\nepochs = 2\n[faults]\nkill_worker_at_epoch = 3\n",
     "faults.kill_worker_at_epoch = 3 but train.epochs = 2: the worker would never be killed (s.toml, faults.kill_worker_at_epoch)"),
    ("[train]\nnum_workers = 2\n[faults]\nkill_worker_at_epoch = 1\nkill_worker_rank = 2\n",
     "faults.kill_worker_rank = 2 but train.num_workers = 2 (s.toml, faults.kill_worker_rank)"),
    ("[faults]\nkill_replica_after_s = 1.0\n",
     "faults.kill_replica_after_s needs a [serve] section: no replica runs without it (s.toml, faults.kill_replica_after_s)"),
])
def test_a_fault_that_could_never_fire_is_refused(extra, message):
    assert plan_error(MINIMAL_SUITE + 'frameworks = ["torch"]\n' + extra).startswith(message)


def test_faults_and_max_failures_reach_the_trial():
    [trial] = plan_trials(parse_suite(MINIMAL_SUITE + 'frameworks = ["torch"]\n[train]\nmax_failures = 2\n'
                                                       "[faults]\nkill_worker_at_epoch = 1\n"))
    assert trial.max_failures == 2 and trial.faults.kill_worker_at_epoch == 1
    assert trial.params()["faults"]["kill_worker_at_epoch"] == 1  # stored with the trial
