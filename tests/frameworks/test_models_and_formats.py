"""Real PyTorch and TensorFlow, no Ray: model twins, storage formats, checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from raylife.frameworks import FRAMEWORKS
from raylife.workloads import WORKLOADS

VISION = WORKLOADS.get("vision")
SAMPLE = np.random.default_rng(0).random((16, 8, 8, 1), dtype=np.float32)


def recipe(framework: str, model: str = "cnn_small") -> dict:
    info = VISION.model(model)
    return {"builder": info.builders[framework], "input_shape": [8, 8, 1], "num_classes": 10,
            "options": dict(info.options), "framework": framework, "model": model}


@pytest.fixture(scope="module", params=["torch", "tensorflow"])
def backend(request):
    return FRAMEWORKS.get(request.param).load_backend()


@pytest.mark.parametrize("model", sorted(VISION.models))
def test_twins_have_the_same_parameter_count(model):
    counts = {}
    for name in ("torch", "tensorflow"):
        backend = FRAMEWORKS.get(name).load_backend()
        counts[name] = backend.count_params(backend.build_model(recipe(name, model)))
    assert abs(counts["torch"] - counts["tensorflow"]) <= 0.05 * counts["torch"], counts


def test_cnn_small_parameter_count_by_hand():
    backend = FRAMEWORKS.get("torch").load_backend()
    # conv 1→16 (3x3): 160; conv 16→32: 4640; dense 512→64: 32832; dense 64→10: 650
    assert backend.count_params(backend.build_model(recipe("torch"))) == 160 + 4640 + 32832 + 650


def test_predict_shape(backend):
    model = backend.build_model(recipe(backend.framework.name))
    assert backend.predict(model, SAMPLE, batch_size=5).shape == (16, 10)  # batches stitched back together


def test_every_format_round_trips(backend, tmp_path: Path):
    name = backend.framework.name
    model = backend.build_model(recipe(name))
    reference = backend.predict(model, SAMPLE)
    for fmt in backend.framework.formats:
        directory = tmp_path / fmt
        directory.mkdir()
        backend.formats[fmt].save(model, directory, SAMPLE[:4], recipe(name))
        predictor = backend.formats[fmt].load(directory)
        predicted = predictor(SAMPLE)  # another batch size than the export sample: the batch dim is dynamic
        assert predicted.shape == reference.shape
        np.testing.assert_allclose(predicted, reference, atol=1e-4, err_msg=f"{name} {fmt}")


def test_checkpoint_round_trip(backend, tmp_path: Path):
    name = backend.framework.name
    model = backend.build_model(recipe(name))
    backend.save_checkpoint(model, tmp_path / "ckpt", SAMPLE[:4], recipe(name))
    assert (tmp_path / "ckpt" / "recipe.json").exists()
    restored = backend.load_checkpoint(tmp_path / "ckpt")
    np.testing.assert_allclose(backend.predict(restored, SAMPLE), backend.predict(model, SAMPLE), atol=1e-6)


def test_descriptor_formats_match_backend(backend):
    assert set(backend.framework.formats) == set(backend.formats)
    assert backend.framework.native_format in backend.formats
