"""Pretrained weights: a state_dict or Keras HDF5 weights file fits the architecture or is refused before Ray starts,
naming the first tensor that differs; one that fits loads exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from raylife.errors import PlanError
from raylife.frameworks import FRAMEWORKS
from raylife.frameworks.model import Recipe
from raylife.plan import plan_trials
from raylife.suite.load import parse_suite

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]
SUITE = """
name = "w"
workload = "vision"
[[models]]
name = "cnn_small"
frameworks = ["{framework}"]
options = {{ width = 16 }}
weights = "{weights}"
"""


def build(framework: str, width: int):
    backend = FRAMEWORKS.get(framework).load_backend()
    recipe = Recipe(builder=f"raylife.workloads.vision.{'torch' if framework == 'torch' else 'tf'}_models:cnn_small",
                    input_shape=(8, 8, 1), num_classes=10, framework=framework, model="cnn_small",
                    options={"width": width})
    return backend, backend.build_model(recipe)


def save(framework: str, width: int, path: Path) -> Path:
    backend, model = build(framework, width)
    if framework == "torch":
        import torch

        torch.save(model.state_dict(), path)
    else:
        model.save_weights(str(path))
    return path


def plan(tmp_path: Path, framework: str, weights: str):
    suite = tmp_path / "w.toml"
    suite.write_text(SUITE.format(framework=framework, weights=weights))
    return plan_trials(parse_suite(suite.read_text(), str(suite)), str(suite))


@pytest.mark.parametrize("framework,suffix", [("torch", "pt"), ("tensorflow", "weights.h5"), ("tensorflow", "h5")])
def test_weights_of_the_architecture_plan_and_load_exactly(tmp_path, framework, suffix):
    path = save(framework, 16, tmp_path / f"good.{suffix}")
    [trial] = plan(tmp_path, framework, f"good.{suffix}")  # relative to the suite file
    assert trial.weights == str(path) and trial.params()["weights"] == str(path)
    backend, saved = build(framework, 16)
    backend.load_weights(saved, path)
    _, other = build(framework, 16)
    x = np.random.default_rng(0).random((4, 8, 8, 1), dtype=np.float32)
    assert not np.allclose(backend.predict(saved, x), backend.predict(other, x))  # fresh weights differ…
    backend.load_weights(other, path)
    np.testing.assert_array_equal(backend.predict(saved, x), backend.predict(other, x))  # …loaded ones do not


def test_a_state_dict_of_another_architecture_names_the_first_tensor(tmp_path):
    save("torch", 8, tmp_path / "narrow.pt")
    with pytest.raises(PlanError) as info:
        plan(tmp_path, "torch", "narrow.pt")
    _, model = build("torch", 16)
    first = next(iter(model.state_dict()))
    shape = tuple(model.state_dict()[first].shape)
    assert str(info.value) == (
        f"weights {tmp_path / 'narrow.pt'} do not fit model 'cnn_small' (torch): tensor '{first}': the file has shape "
        f"{(8, *shape[1:])}, the model {shape} ({tmp_path / 'w.toml'}, models[0].weights); use weights saved from this "
        "architecture with these options and classes")


def test_keras_weights_of_another_architecture_name_the_first_tensor(tmp_path):
    save("tensorflow", 8, tmp_path / "narrow.weights.h5")
    with pytest.raises(PlanError, match=r"do not fit model 'cnn_small' \(tensorflow\): tensor '[^']+': the file has "
                                        r"shape \(3, 3, 1, 8\), the model \(3, 3, 1, 16\)"):
        plan(tmp_path, "tensorflow", "narrow.weights.h5")


def test_missing_or_foreign_weights_files_are_one_line_errors(tmp_path):
    with pytest.raises(PlanError, match=r"^weights file not found: .*nope.pt \(.*models\[0\].weights\)"):
        plan(tmp_path, "torch", "nope.pt")
    (tmp_path / "text.pt").write_text("not a tensor file")
    with pytest.raises(PlanError, match=r"do not fit model 'cnn_small' \(torch\): not a PyTorch state_dict file"):
        plan(tmp_path, "torch", "text.pt")


def test_legacy_keras_weights_of_another_architecture_name_the_first_tensor(tmp_path):
    save("tensorflow", 8, tmp_path / "narrow.h5")
    with pytest.raises(PlanError, match=r"\(tensorflow\): tensor '[^']*kernel[^']*': the file has shape \(3, 3, 1, 8\), "
                                        r"the model \(3, 3, 1, 16\)"):
        plan(tmp_path, "tensorflow", "narrow.h5")
