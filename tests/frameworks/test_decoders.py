"""Decoder language models in both frameworks (raylife/workloads/generative): the published parameter counts, the
same logits from one set of weights in PyTorch (Hugging Face transformers) and TensorFlow (raylife's twins), and a
state dict of another architecture refused by name. Real transformers, real TensorFlow, no Ray."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from raylife.workloads.generative.shapes import SHAPES

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]

# Scaled-down widths of each family: every mechanism of the published shapes (grouped-query attention with 3 query
# heads per key/value head, rotary positions, tied embeddings), small enough to compare in a second.
SMALL = {
    "gpt2": {"dim": 32, "layers": 2, "heads": 4, "positions": 64},
    "llama": {"dim": 48, "layers": 2, "heads": 6, "kv_heads": 2, "ffn": 80, "positions": 64, "rope_theta": 10_000.0},
}
VOCAB = 101


def torch_model(model: str, vocab: int, options: dict, meta: bool = False):
    import torch

    from raylife.workloads.generative import torch_models

    torch.manual_seed(0)
    if meta:  # the published shapes counted without allocating their weights
        with torch.device("meta"):
            return getattr(torch_models, model)((None,), vocab, **options)
    return getattr(torch_models, model)((None,), vocab, **options).eval()


def tf_model(model: str, vocab: int, options: dict):
    from raylife.workloads.generative import tf_models

    return getattr(tf_models, model)((None,), vocab, **options)


def hf_state(module) -> dict[str, np.ndarray]:
    return {name: p.detach().numpy() for name, p in module.named_parameters()}


def twins(model: str):
    """A small decoder in PyTorch and its TensorFlow twin holding the same weights."""
    from raylife.workloads.generative.convert import load_hf_state

    torch_lm, tf_lm = torch_model(model, VOCAB, SMALL[model]), tf_model(model, VOCAB, SMALL[model])
    load_hf_state(tf_lm, hf_state(torch_lm), transpose_linear=model == "llama")
    return torch_lm, tf_lm


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_pytorch_decoders_have_their_published_parameter_count(shape):
    s = SHAPES[shape]
    model = torch_model(s.model, s.vocab_size, s.options, meta=True)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == s.parameters


@pytest.mark.parametrize("shape", ["gpt2_small", "smollm2_135m"])  # Llama-3.2-1B's 5 GB: PyTorch's count (meta) only
def test_tensorflow_twins_have_the_published_parameter_count(shape):
    s = SHAPES[shape]
    model = tf_model(s.model, s.vocab_size, s.options)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == s.parameters


@pytest.mark.parametrize("model", sorted(SMALL))
def test_the_same_weights_give_the_same_logits_in_both_frameworks(model):
    import torch

    torch_lm, tf_lm = twins(model)
    ids = np.random.default_rng(0).integers(0, VOCAB, size=(3, 17))
    with torch.no_grad():
        expected = torch_lm(torch.from_numpy(ids)).numpy()
    got = tf_lm(ids, training=False).numpy()
    assert got.shape == expected.shape == (3, 17, VOCAB)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    # causal: a later token never changes an earlier position's logits
    changed = ids.copy()
    changed[:, -1] = (changed[:, -1] + 1) % VOCAB
    np.testing.assert_allclose(tf_lm(changed, training=False).numpy()[:, :-1], got[:, :-1], rtol=1e-5, atol=1e-5)


def test_a_state_dict_of_another_shape_or_architecture_names_its_first_tensor():
    from raylife.errors import PlanError
    from raylife.workloads.generative.convert import load_hf_state

    state = hf_state(torch_model("gpt2", VOCAB, SMALL["gpt2"]))
    wider = tf_model("gpt2", VOCAB, {**SMALL["gpt2"], "dim": 64})
    with pytest.raises(PlanError, match=r"tensor transformer\.wte\.weight is \(101, 32\) in the file, \(101, 64\)"):
        load_hf_state(wider, state, transpose_linear=False)
    llama = tf_model("llama", VOCAB, SMALL["llama"])
    with pytest.raises(PlanError, match=r"tensor transformer\.wte\.weight \(101, 32\) has no place in llama"):
        load_hf_state(llama, state, transpose_linear=True)
    deeper = tf_model("gpt2", VOCAB, {**SMALL["gpt2"], "layers": 3})
    with pytest.raises(PlanError, match=r"tensor transformer\.h\.2\.ln_1\.weight \(32,\) is missing from the file"):
        load_hf_state(deeper, state, transpose_linear=False)


@pytest.mark.parametrize("model", sorted(SMALL))
def test_a_tensorflow_decoder_saves_and_loads_with_its_own_layers(model, tmp_path):
    import tensorflow as tf

    lm = tf_model(model, VOCAB, SMALL[model])
    ids = np.random.default_rng(1).integers(0, VOCAB, size=(2, 9))
    lm.save(tmp_path / "lm.keras")
    again = tf.keras.models.load_model(tmp_path / "lm.keras")
    np.testing.assert_allclose(again(ids, training=False).numpy(), lm(ids, training=False).numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("framework", ["torch", "tensorflow"])
def test_a_decoder_learns_the_generated_corpus_well_beyond_token_frequencies(framework):
    from raylife.workloads.generative.corpus import generated_documents, pack, perplexity, unigram_perplexity
    from raylife.workloads.generative.tokenizer import ByteTokenizer

    tok = ByteTokenizer()
    rows = pack((tok.encode(d) for d in generated_documents(600, seed=0)), seq_len=64, eos_id=tok.eos_id)
    train, test = rows[:-40], rows[-40:]
    batches = train[np.random.default_rng(0).integers(0, len(train), size=(150, 16))]  # 150 steps of 16 rows
    options = {"dim": 64, "layers": 2, "heads": 4, "kv_heads": 2, "ffn": 128, "positions": 64}
    if framework == "torch":
        import torch

        torch.set_num_threads(1)  # (tests/conftest.py does so before each test, after the first to import torch)
        lm = torch_model("llama", tok.vocab_size, options).train()
        optimizer = torch.optim.AdamW(lm.parameters(), lr=3e-3)

        def loss_of(rows: np.ndarray) -> torch.Tensor:
            logits = lm(torch.from_numpy(rows[:, :-1])).reshape(-1, tok.vocab_size)
            return torch.nn.functional.cross_entropy(logits, torch.from_numpy(rows[:, 1:]).reshape(-1))

        for batch in batches:
            optimizer.zero_grad()
            loss_of(batch).backward()
            optimizer.step()
        with torch.no_grad():
            nll = loss_of(test).item()
    else:
        import tensorflow as tf

        tf.keras.utils.set_random_seed(0)
        lm = tf_model("llama", tok.vocab_size, options)
        lm.compile(optimizer=tf.keras.optimizers.Adam(3e-3),
                   loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        flat = batches.reshape(-1, batches.shape[-1])
        lm.fit(flat[:, :-1], flat[:, 1:], batch_size=16, epochs=1, shuffle=False, verbose=0)
        nll = lm.evaluate(test[:, :-1], test[:, 1:], verbose=0)
    # 1.3 (PyTorch) and 3.5 (TensorFlow) against the unigram model's 17.5 when written
    assert perplexity(nll) < 0.5 * unigram_perplexity(train, test, tok.vocab_size)


@pytest.mark.parametrize("model", sorted(SMALL))
def test_greedy_tokens_with_the_kv_cache_equal_the_whole_prefix_recomputed_in_both_frameworks(model):
    import torch

    from raylife.workloads.generative.generate import greedy_tensorflow, greedy_torch

    torch_lm, tf_lm = twins(model)
    prompts = np.random.default_rng(2).integers(0, VOCAB, size=(2, 7))
    cached = list(greedy_torch(torch_lm, prompts, max_tokens=12))
    twin = list(greedy_tensorflow(tf_lm, prompts, max_tokens=12))
    # the same greedy tokens, up to a near-tie: where they first differ the top two logits were within float noise
    for a, b in zip(cached, twin):
        if a.ids != b.ids:
            assert a.margin < 1e-3, (a, b)
            break
    else:
        assert [t.ids for t in cached] == [t.ids for t in twin]
    # the KV cache changes nothing: PyTorch's own whole-prefix greedy gives the same tokens
    sequence = torch.as_tensor(prompts)
    with torch.no_grad():
        for token in cached:
            nxt = torch_lm(sequence)[:, -1].argmax(-1)
            assert tuple(nxt.tolist()) == token.ids
            sequence = torch.cat([sequence, nxt[:, None]], dim=1)
    assert all(b.at_s > a.at_s for a, b in pairwise(cached))  # timed as they come


def test_a_request_the_model_cannot_answer_is_refused_in_one_line():
    from raylife.errors import PlanError
    from raylife.workloads.generative.generate import check_request

    check_request(10, 5, 16)
    for args, message in [((0, 5, 16), "the prompt is empty"), ((10, 0, 16), "max_tokens is 0"),
                          ((10, 7, 16), "a prompt of 10 tokens and 7 more is 17, beyond the model's 16 positions"),
                          ((17, 1, 16), "beyond the model's 16 positions")]:
        with pytest.raises(PlanError, match=message):
            check_request(*args)


@pytest.mark.parametrize("model", sorted(SMALL))
def test_continuous_batching_gives_each_stream_its_own_greedy_tokens(model):
    import threading

    from raylife.workloads.generative.batching import ContinuousBatcher
    from raylife.workloads.generative.generate import greedy_torch

    lm = torch_model(model, VOCAB, SMALL[model])
    rng = np.random.default_rng(3)
    # prompts of different lengths, answers of different lengths, joining while others decode
    requests = [(rng.integers(0, VOCAB, size=n).tolist(), k) for n, k in [(5, 12), (9, 4), (3, 1), (12, 9), (7, 10)]]
    batcher = ContinuousBatcher(lm, max_batch=4)
    got: dict[int, list[int]] = {}

    def run(i: int) -> None:
        got[i] = [token for token, _ in batcher.stream(*requests[i])]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert max(batcher.batch_sizes) > 1  # streams were decoded together
    for i, (prompt, k) in enumerate(requests):
        alone = list(greedy_torch(lm, np.asarray([prompt]), k))
        assert len(got[i]) == k
        differ = next((j for j, (a, b) in enumerate(zip(got[i], alone)) if a != b.ids[0]), None)
        assert differ is None or alone[differ].margin < 1e-3, (i, got[i], [t.ids[0] for t in alone])
    # an end token stops a stream early unless ignored
    prompt, _ = requests[0]
    first = got[0][0]
    assert [t for t, _ in batcher.stream(prompt, 5, eos_id=first)] == [first]


@pytest.mark.parametrize("model", sorted(SMALL))
def test_a_hugging_face_folder_loads_into_both_frameworks_with_the_same_logits(model, tmp_path):
    import torch

    from raylife.workloads.generative import tf_models, torch_models

    saved = torch_model(model, VOCAB, SMALL[model])
    saved.save_pretrained(tmp_path)  # config.json + model.safetensors, as transformers writes a published model
    ids = np.random.default_rng(4).integers(0, VOCAB, size=(2, 11))
    with torch.no_grad():
        expected = saved(torch.from_numpy(ids)).numpy()
        np.testing.assert_allclose(torch_models.from_folder(str(tmp_path))(torch.from_numpy(ids)).numpy(), expected,
                                   rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tf_models.from_folder(str(tmp_path))(ids, training=False).numpy(), expected,
                               rtol=1e-4, atol=1e-4)


def test_a_folder_of_another_shape_or_without_its_files_is_refused_naming_what(tmp_path):
    import json

    from safetensors.numpy import load_file, save_file

    from raylife.errors import PlanError
    from raylife.workloads.generative import torch_models

    torch_model("gpt2", VOCAB, SMALL["gpt2"]).save_pretrained(tmp_path)
    # the original GPT-2 files name tensors without the LM's prefix and keep the causal mask beside them: they load
    bare = {k.removeprefix("transformer."): v for k, v in load_file(tmp_path / "model.safetensors").items()}
    bare["h.0.attn.bias"] = np.tril(np.ones((1, 1, 64, 64), dtype=np.float32))
    save_file(bare, tmp_path / "model.safetensors")
    torch_models.from_folder(str(tmp_path))
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "n_layer": 3}))
    with pytest.raises(PlanError, match=r"tensor transformer\.h\.2\.ln_1\.weight \(32,\) is missing from the file"):
        torch_models.from_folder(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({**config, "n_embd": 64}))
    with pytest.raises(PlanError, match=r"tensor transformer\.wte\.weight is \(101, 32\) in the file, \(101, 64\)"):
        torch_models.from_folder(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    with pytest.raises(PlanError, match=r"describes a 'bert' model; raylife builds gpt2, llama"):
        torch_models.from_folder(str(tmp_path))
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(PlanError, match=r"has no model\.safetensors"):
        torch_models.from_folder(str(tmp_path))


@pytest.mark.parametrize("model", sorted(SMALL))
def test_a_folder_as_weights_is_checked_and_loaded_by_both_backends(model, tmp_path):
    """``[[models]] weights = "FOLDER"``: the backends' check names the first tensor that does not fit, and their
    load gives the folder's logits (the training loops load weights through the same call)."""
    from dataclasses import replace

    import torch

    from raylife.frameworks.model import Recipe
    from raylife.frameworks.tensorflow.backend import TensorflowBackend
    from raylife.frameworks.torch.backend import TorchBackend

    saved = torch_model(model, VOCAB, SMALL[model])
    saved.save_pretrained(tmp_path / "hf")
    ids = np.random.default_rng(5).integers(0, VOCAB, size=(2, 9))
    with torch.no_grad():
        expected = saved(torch.from_numpy(ids)).numpy()
    builders = {"torch": f"raylife.workloads.generative.torch_models:{model}",
                "tensorflow": f"raylife.workloads.generative.tf_models:{model}"}
    for framework, backend in (("torch", TorchBackend()), ("tensorflow", TensorflowBackend())):
        recipe = Recipe(builder=builders[framework], input_shape=(9,), num_classes=VOCAB, framework=framework,
                        model=model, options=SMALL[model])
        built = backend.build_model(recipe)
        assert backend.weights_problem(built, tmp_path / "hf") is None
        backend.load_weights(built, tmp_path / "hf")
        np.testing.assert_allclose(backend.predict(built, ids), expected, rtol=1e-4, atol=1e-4)
        deeper = backend.build_model(replace(recipe, options={**SMALL[model], "layers": 3}))
        problem = backend.weights_problem(deeper, tmp_path / "hf")
        assert problem.startswith("tensor ") and ".2." in problem and problem.endswith("is missing from the file")


@pytest.mark.parametrize("framework", ["torch", "tensorflow"])
def test_a_decoder_round_trips_through_safetensors(framework, tmp_path):
    """The persist stage's safetensors format on a decoder (tied embeddings stored once): the same logits back."""
    from raylife.frameworks import FRAMEWORKS
    from raylife.frameworks.model import Recipe

    backend = FRAMEWORKS.get(framework).load_backend()
    recipe = Recipe(builder=f"raylife.workloads.generative.{'torch' if framework == 'torch' else 'tf'}_models:llama",
                    input_shape=(9,), num_classes=VOCAB, framework=framework, model="llama", options=SMALL["llama"])
    model = backend.build_model(recipe)
    ids = np.random.default_rng(6).integers(0, VOCAB, size=(2, 9))
    backend.formats["safetensors"].save(model, tmp_path, ids, recipe)
    predict = backend.formats["safetensors"].load(tmp_path)
    np.testing.assert_allclose(predict(ids), backend.predict(model, ids), rtol=1e-5, atol=1e-5)


def test_random_token_rows_batch_with_a_next_token_per_position_in_tensorflow():
    """A cost run's random token ids (generated on demand) reach Keras with a label at every position."""
    from raylife.frameworks.tensorflow.train_loop import batches
    from raylife.workloads import WORKLOADS

    x, y = WORKLOADS.get("generative").load_splits("random", 0, {"shape": [8], "classes": 50, "samples": 40})["train"]
    xb, yb = next(iter(batches(x, y, 4, shuffle_seed=0)))
    assert tuple(xb.shape) == tuple(yb.shape) == (4, 8)
