"""Real PyTorch and TensorFlow, no Ray: every architecture's twins, their storage formats, their size facts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from raylife.frameworks import FRAMEWORKS
from raylife.frameworks.model import Recipe
from raylife.workloads import WORKLOADS

STANDARD = {"resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_large", "vit_b16"}  # need 32x32x3 or more
ALL_MODELS = [(w, m) for w in WORKLOADS.names() for m in WORKLOADS.get(w).models]
# The reference models' own sizes take seconds per format; their structure is the same at these widths.
NARROW = {"vit_b16": {"dim": 32, "heads": 2, "layers": 2, "ffn": 64, "patch": 8},
          "bert_base": {"dim": 32, "heads": 2, "layers": 2, "ffn": 64},
          "distilbert": {"dim": 32, "heads": 2, "layers": 2, "ffn": 64},
          # decoders: their published shapes are counted in tests/frameworks/test_decoders.py
          "gpt2_small": {"dim": 32, "heads": 2, "layers": 2, "positions": 64},
          "smollm2_135m": {"dim": 32, "heads": 4, "kv_heads": 2, "layers": 2, "ffn": 64, "positions": 64},
          "llama_3_2_1b": {"dim": 32, "heads": 4, "kv_heads": 2, "layers": 2, "ffn": 64, "positions": 64}}

_MLPERF_DLRM = {"dense": 13, "dim": 128, "bottom": [512, 256, 128], "top": [1024, 1024, 512, 256], "rows": 1000}
# Trainable parameters at the reference input and class count: the published figures (torchvision's models, Hugging
# Face's BertForSequenceClassification / DistilBertForSequenceClassification at vocabulary 30,522 and 2 labels);
# DLRM counted by hand for MLPerf's layers (13 dense, 26 tables of 1,000 rows x 128, 27 vectors: 351 dot products).
REFERENCE = {
    "resnet18": ("vision", (224, 224, 3), 1000, {}, {}, 11_689_512),
    "resnet50": ("vision", (224, 224, 3), 1000, {}, {}, 25_557_032),
    "mobilenet_v2": ("vision", (224, 224, 3), 1000, {}, {}, 3_504_872),
    "mobilenet_v3_large": ("vision", (224, 224, 3), 1000, {}, {}, 5_483_032),
    "vit_b16": ("vision", (224, 224, 3), 1000, {}, {}, 86_567_656),
    "bert_base": ("text", (128,), 2, {"vocab_size": 30_522}, {}, 109_483_778),
    "distilbert": ("text", (128,), 2, {"vocab_size": 30_522}, {}, 66_955_010),
    "dlrm": ("recommendation", (39,), 2, {"num_users": 1000, "num_items": 1000}, _MLPERF_DLRM,
             (13 * 512 + 512) + (512 * 256 + 256) + (256 * 128 + 128) + 26 * 1000 * 128
             + (479 * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 * 512 + 512) + (512 * 256 + 256) + (256 * 2 + 2)),
}

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]


def backend(framework: str):
    return FRAMEWORKS.get(framework).load_backend()


def facts_for(workload: str, model: str):
    options = {"size": 32, "channels": 3} if model in STANDARD else {}
    return WORKLOADS.get(workload).facts(None, None, options)


def recipe(workload: str, model: str, framework: str, facts, num_classes: int | None = None) -> Recipe:
    info = WORKLOADS.get(workload).model(model)
    return Recipe(builder=info.builders[framework], input_shape=tuple(facts.input_shape),
                  num_classes=num_classes or facts.num_classes, options={**info.options, **NARROW.get(model, {})},
                  model_args=dict(facts.model_args), framework=framework, model=model)


def sample(facts, n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(0)
    if facts.sequence_targets:  # a decoder reads token ids of its vocabulary
        return rng.integers(0, facts.num_classes, size=(n, *facts.input_shape), dtype=np.int64)
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


@pytest.mark.parametrize("framework", ["torch", "tensorflow"])
@pytest.mark.parametrize("model", sorted(REFERENCE))
def test_reference_models_have_their_published_parameter_count(model, framework):
    workload, shape, classes, model_args, options, published = REFERENCE[model]
    info = WORKLOADS.get(workload).model(model)
    b = backend(framework)
    built = b.build_model(Recipe(builder=info.builders[framework], input_shape=shape, num_classes=classes,
                                 options={**info.options, **options}, model_args=model_args, framework=framework, model=model))
    assert b.count_params(built) == published
    rng = np.random.default_rng(0)
    x = (rng.integers(0, 1000, size=(2, *shape), dtype=np.int64) if workload != "vision"
         else rng.random((2, *shape), dtype=np.float32))
    assert b.predict(built, x).shape == (2, classes)


def test_a_vision_transformer_refuses_images_its_patches_do_not_tile():
    info = WORKLOADS.get("vision").model("vit_b16")
    facts = WORKLOADS.get("vision").facts(None, None, {"size": 40, "channels": 3})
    assert "not divisible by 16" in info.problem_with(facts, dict(info.options))
    assert info.problem_with(WORKLOADS.get("vision").facts(None, None, {"size": 32, "channels": 3}), dict(info.options)) is None


def test_bert_refuses_sequences_longer_than_its_positions():
    info = WORKLOADS.get("text").model("bert_base")
    facts = WORKLOADS.get("text").facts("random", None, {"shape": [600], "high": 30_522})
    assert "exceed its 512 position embeddings" in info.problem_with(facts, dict(info.options))


def test_dlrm_checks_its_tables_and_mlps_against_the_data():
    info = WORKLOADS.get("recommendation").model("dlrm")
    facts = WORKLOADS.get("recommendation").facts("random", None, {"shape": [5], "high": 50})
    assert info.problem_with(facts, {"dense": 2}) is None
    assert "3 id columns" in info.problem_with(facts, {"dense": 2, "rows": [50, 50]})
    assert "cannot hold ids up to 49" in info.problem_with(facts, {"dense": 2, "rows": 10})
    assert "dot products" in info.problem_with(facts, {"dense": 2, "dim": 8, "bottom": [16, 4]})
    assert "no id column" in info.problem_with(facts, {"dense": 5})


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


ROUND_TRIP = [(w, m) for w, m in ALL_MODELS if m not in STANDARD or m in NARROW or m == "mobilenet_v3_large"]


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


def test_a_tensorflow_checkpoint_holds_no_optimizer_state(tmp_path: Path):
    """Nothing loads it (checkpoints load with compile=False), and at ResNet-50 size it tripled the file and made
    evaluate's checkpoint load 7.7x slower; the model keeps training after the save."""
    import tensorflow as tf

    facts = facts_for("vision", "cnn_small")
    b = backend("tensorflow")
    r = recipe("vision", "cnn_small", "tensorflow", facts)
    x, y = sample(facts, 16), np.arange(16) % facts.num_classes
    trained = b.build_model(r)
    trained.compile(optimizer=tf.keras.optimizers.Adam(1e-3),
                    loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    trained.fit(x, y, epochs=1, verbose=0)  # Adam now holds two slots per weight
    b.save_checkpoint(trained, tmp_path / "trained", x[:2], r)
    b.save_checkpoint(b.build_model(r), tmp_path / "plain", x[:2], r)
    sizes = {name: (tmp_path / name / "model.keras").stat().st_size for name in ("trained", "plain")}
    assert sizes["trained"] < 1.1 * sizes["plain"], sizes
    np.testing.assert_allclose(b.predict(b.load_checkpoint(tmp_path / "trained"), x), b.predict(trained, x), atol=1e-5)
    assert trained.optimizer is not None
    trained.fit(x, y, epochs=1, verbose=0)


def test_the_keras_format_is_a_keras_archive_also_after_a_load_in_another_thread(tmp_path: Path):
    """tf_keras picks the format of a '.keras' path by a thread-local flag its own load leaves False in any thread
    but the importing one, and then writes HDF5 under that name: the trial's actor (a thread pool) persisted HDF5 as
    'keras', so the format's bytes and load time were another format's."""
    import threading
    import zipfile

    facts = facts_for("vision", "cnn_small")
    b = backend("tensorflow")
    r = recipe("vision", "cnn_small", "tensorflow", facts)
    written: list[bool] = []

    def in_a_worker_thread() -> None:
        b.save_checkpoint(b.build_model(r), tmp_path / "checkpoint", sample(facts)[:2], r)
        loaded = b.load_checkpoint(tmp_path / "checkpoint")
        (tmp_path / "persisted").mkdir()
        b.formats["keras"].save(loaded, tmp_path / "persisted", sample(facts)[:2], r)
        written.append(zipfile.is_zipfile(tmp_path / "persisted" / "model.keras"))

    thread = threading.Thread(target=in_a_worker_thread)
    thread.start()
    thread.join()
    assert written == [True]


def test_a_keras_archive_loads_from_its_extracted_weights_exactly_as_tf_keras_loads_it(tmp_path: Path):
    """raylife reads the archive's weights from a file on disk (tf_keras' zip stream made BERT-base's load 96 s,
    benchmarks/keras_archive_load.py); the model is the same, custom layers and all, and an archive it does not
    recognise is left to tf_keras."""
    import zipfile

    import tensorflow as tf

    from raylife.frameworks.tensorflow.backend import load_keras_archive
    from raylife.registry import import_object

    # a small encoder with raylife's own layers (position embeddings) and Keras attention
    model = import_object("raylife.workloads.text.tf_models:transformer")((12,), 3, vocab_size=50, dim=16, heads=2)
    x = np.random.default_rng(0).integers(0, 50, (3, 12))
    path = tmp_path / "model.keras"
    model.save(path, save_format="keras_v3")
    expected = tf.keras.models.load_model(str(path), compile=False)(x).numpy()
    np.testing.assert_array_equal(load_keras_archive(path)(x).numpy(), expected)
    with zipfile.ZipFile(path, "a") as archive:  # a fourth member: tf_keras' own load
        archive.writestr("assets/vocab.txt", "a\nb\n")
    np.testing.assert_array_equal(load_keras_archive(path)(x).numpy(), expected)
