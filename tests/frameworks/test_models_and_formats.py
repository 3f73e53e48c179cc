"""Real PyTorch and TensorFlow, no Ray: every architecture's twins, their storage formats, their size facts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from raylife.frameworks import FRAMEWORKS
from raylife.frameworks.model import Recipe
from raylife.workloads import WORKLOADS

STANDARD = {"resnet18": 11_689_512, "resnet50": 25_557_032, "mobilenet_v2": 3_504_872}  # published, 1000 classes
ALL_MODELS = [(w, m) for w in WORKLOADS.names() for m in WORKLOADS.get(w).models]

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]


def backend(framework: str):
    return FRAMEWORKS.get(framework).load_backend()


def facts_for(workload: str, model: str):
    options = {"size": 32, "channels": 3} if model in STANDARD else {}
    return WORKLOADS.get(workload).facts(None, None, options)


def recipe(workload: str, model: str, framework: str, facts, num_classes: int | None = None) -> Recipe:
    info = WORKLOADS.get(workload).model(model)
    return Recipe(builder=info.builders[framework], input_shape=tuple(facts.input_shape),
                  num_classes=num_classes or facts.num_classes, options=dict(info.options),
                  model_args=dict(facts.model_args), framework=framework, model=model)


def sample(facts, n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(0)
    if facts.dtype.startswith("int"):
        high = min(facts.model_args.get("vocab_size", 10**9), facts.model_args.get("num_users", 10**9),
                   facts.model_args.get("num_items", 10**9))
        return rng.integers(0, high, size=(n, *facts.input_shape), dtype=np.int64)
    return rng.random((n, *facts.input_shape), dtype=np.float32)


@pytest.mark.parametrize(("workload", "model"), ALL_MODELS, ids=[f"{w}.{m}" for w, m in ALL_MODELS])
def test_twins_have_the_same_parameter_count(workload, model):
    facts = facts_for(workload, model)
    counts = {f: backend(f).count_params(backend(f).build_model(recipe(workload, model, f, facts))) for f in ("torch", "tensorflow")}
    assert abs(counts["torch"] - counts["tensorflow"]) <= 0.05 * counts["torch"], counts


@pytest.mark.parametrize("model", sorted(STANDARD))
def test_standard_architectures_match_their_published_size(model):
    from raylife.workloads.vision import torch_models

    built = getattr(torch_models, model)((224, 224, 3), 1000)
    assert sum(p.numel() for p in built.parameters()) == STANDARD[model]


def test_cnn_small_parameters_and_flops_by_hand():
    facts = facts_for("vision", "cnn_small")
    torch_backend = backend("torch")
    model = torch_backend.build_model(recipe("vision", "cnn_small", "torch", facts))
    assert torch_backend.count_params(model) == 160 + 4640 + 32832 + 650
    # multiply and add counted apart: conv 8x8x16x(1x9)x2 + conv 8x8x32x(16x9)x2 + dense 512x64x2 + dense 64x10x2
    facts_torch = torch_backend.model_facts(model, sample(facts))
    assert facts_torch.flops_per_sample == 18432 + 589824 + 65536 + 1280
    assert facts_torch.model_memory_bytes == 38282 * 4
    tf_backend = backend("tensorflow")
    facts_tf = tf_backend.model_facts(tf_backend.build_model(recipe("vision", "cnn_small", "tensorflow", facts)), sample(facts))
    assert facts_tf.flops_per_sample == pytest.approx(facts_torch.flops_per_sample, rel=0.02)  # TF adds bias adds


@pytest.mark.parametrize("model", ["transformer", "gru"])
def test_tensorflow_flops_are_not_guessed_where_its_profiler_cannot_count(model):
    facts = facts_for("text", model)
    tf_backend = backend("tensorflow")
    built = tf_backend.build_model(recipe("text", model, "tensorflow", facts))
    assert tf_backend.model_facts(built, sample(facts)).flops_per_sample is None
    torch_backend = backend("torch")
    assert torch_backend.model_facts(torch_backend.build_model(recipe("text", model, "torch", facts)),
                                     sample(facts)).flops_per_sample > 10**6


ROUND_TRIP = [(w, m) for w, m in ALL_MODELS if m not in STANDARD]


@pytest.mark.parametrize("framework", ["torch", "tensorflow"])
@pytest.mark.parametrize(("workload", "model"), ROUND_TRIP, ids=[f"{w}.{m}" for w, m in ROUND_TRIP])
def test_every_format_round_trips(workload, model, framework, tmp_path: Path):
    facts = facts_for(workload, model)
    b = backend(framework)
    r = recipe(workload, model, framework, facts)
    built = b.build_model(r)
    x = sample(facts)
    reference = b.predict(built, x)
    for fmt in b.framework.formats:
        directory = tmp_path / fmt
        directory.mkdir()
        b.formats[fmt].save(built, directory, x[:2], r)
        predicted = b.formats[fmt].load(directory)(x)  # another batch size than the export sample
        np.testing.assert_allclose(predicted, reference, atol=1e-4, err_msg=f"{framework} {fmt}")


@pytest.mark.parametrize("framework", ["torch", "tensorflow"])
def test_checkpoint_round_trip_with_custom_layers(framework, tmp_path: Path):
    facts = facts_for("audio", "cnn")  # TF: a registered custom layer with non-trainable weights
    b = backend(framework)
    r = recipe("audio", "cnn", framework, facts)
    built = b.build_model(r)
    x = sample(facts)
    b.save_checkpoint(built, tmp_path / "ckpt", x[:2], r)
    np.testing.assert_allclose(b.predict(b.load_checkpoint(tmp_path / "ckpt"), x), b.predict(built, x), atol=1e-5)


def test_predict_stitches_batches():
    facts = facts_for("vision", "cnn_small")
    b = backend("torch")
    assert b.predict(b.build_model(recipe("vision", "cnn_small", "torch", facts)), sample(facts, 16), batch_size=5).shape == (16, 10)


def test_descriptor_formats_match_backends():
    for name in FRAMEWORKS.names():
        b = backend(name)
        assert set(b.framework.formats) == set(b.formats) and b.framework.native_format in b.formats
