"""The generative workload a suite names: its data (packed next-token rows, users' files, random tokens), what the
planner refuses before Ray starts, and quality per token (perplexity beside the unigram model's)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from raylife.errors import PlanError, RaylifeError
from raylife.measure.quality import QualityTally, classification_quality, unigram_perplexity
from raylife.plan import plan_trials
from raylife.suite import parse_suite
from raylife.workloads import WORKLOADS

SUITE = """name = "g"
workload = "generative"
[data]
options = { documents = 200, seq_len = 32 }
[[models]]
name = "gpt2_small"
frameworks = ["torch"]
options = { dim = 32, layers = 1, heads = 2, positions = 64 }
"""
SERVED = SUITE + "[serve]\nport = 8150\n"


def plan(text: str, tmp_path=None):  # noqa: ANN001, ANN201 - a pytest path, a list of trials
    return plan_trials(parse_suite(text), source=str(tmp_path / "s.toml") if tmp_path else "<suite>",
                       base_dir=tmp_path)


def test_stories_pack_into_rows_whose_targets_are_the_next_tokens():
    workload = WORKLOADS.get("generative")
    splits = workload.load_splits(None, seed=0, options={"documents": 200, "seq_len": 32})
    x, y = splits["train"]
    assert x.shape[1:] == y.shape[1:] == (32,) and x.dtype == y.dtype == np.int64
    assert np.array_equal(x[:, 1:], y[:, :-1])  # each target is the input one position on
    assert splits.facts.sequence_targets and splits.num_classes == 257  # the byte-level tokenizer's vocabulary
    assert sum(splits.sizes().values()) == len(np.concatenate([splits[n][1] for n in splits.sizes()]))


def test_random_tokens_have_a_target_at_every_position_and_measure_no_quality():
    splits = WORKLOADS.get("generative").load_splits("random", 0, {"shape": [16], "classes": 50, "samples": 40})
    x, y = splits["train"]
    assert y.shape == (len(y), 16) and np.asarray(x[:4]).max() < 50 and y.max() < 50
    assert not splits.facts.measures_quality


def test_a_planned_decoder_knows_its_tokens_per_row_and_serves_token_by_token():
    [trained] = plan(SUITE)
    assert trained.tokens_per_sample == 32 and trained.tokens is None and "deploy" not in trained.stages
    [served] = plan(SERVED)
    assert served.tokens is not None and served.tokens.concurrency == [1, 4]
    assert served.stages[-3:] == ("deploy", "serve", "teardown")  # no load, no update: a classifier's


def test_a_tensorflow_decoder_in_a_serving_suite_trains_and_is_not_deployed():
    torch_trial, tf_trial = plan(SERVED.replace('frameworks = ["torch"]', 'frameworks = ["torch", "tensorflow"]'))
    assert "serve" in torch_trial.stages and torch_trial.tokens is not None
    assert tf_trial.framework == "tensorflow" and tf_trial.stages == ("train", "evaluate", "persist", "retrain")
    assert tf_trial.tokens is None


def test_a_tokenizer_is_found_relative_to_the_suite(tmp_path):
    from raylife.workloads.generative.tokenizer import write_byte_tokenizer

    write_byte_tokenizer(tmp_path / "tok")
    [trial] = plan(SUITE.replace("seq_len = 32 }", 'seq_len = 32, tokenizer = "tok/tokenizer.json" }'), tmp_path)
    assert trial.data_options["tokenizer"] == str(tmp_path / "tok" / "tokenizer.json")


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s + "[load]\nslo_p99_ms = 100\n", "[load] measures a classifier's requests"),
    (lambda s: s + "[tokens]\nprompt_tokens = 40\nmax_tokens = 30\n", "prompt_tokens + max_tokens = 70 exceed"),
    (lambda s: s + "[tokens]\nprompt_tokens = 33\nmax_tokens = 1\n", "prompts are held-out rows of 32 tokens"),
    (lambda s: s.replace("port = 8150", "port = 8150\nreplicas = [1, 2]"), "serve.replicas as a list"),
    (lambda s: s.replace("positions = 64", "positions = 16"), "rows of 32 tokens exceed the model's 16 positions"),
    (lambda s: s.replace("heads = 2", "heads = 3"), "width 32 does not split into 3 heads"),
])
def test_what_a_decoder_cannot_do_is_refused_before_ray_starts(change, message):
    with pytest.raises(RaylifeError) as info:
        plan(change(SERVED))
    assert message in str(info.value)


def test_tokens_without_a_decoder_or_without_serve_are_refused():
    with pytest.raises(PlanError, match=r"\[tokens\] needs a \[serve\] section"):
        plan(SUITE + "[tokens]\nmax_tokens = 4\n")
    classifier = 'name = "c"\nworkload = "vision"\n[[models]]\nname = "cnn_small"\nframeworks = ["torch"]\n[serve]\n'
    with pytest.raises(PlanError, match="no model of this suite is one"):
        plan(classifier + "[tokens]\nmax_tokens = 4\n")


def test_a_bad_row_in_a_users_corpus_is_named_before_ray_starts(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"text": "a fine document"}) + "\n" + "{not json\n")
    suite = SUITE.replace("[data]\noptions = { documents = 200, seq_len = 32 }",
                          '[data]\nformat = "jsonl"\npath = "c.jsonl"\noptions = { seq_len = 32 }')
    with pytest.raises(PlanError) as info:
        plan(suite, tmp_path)
    assert f"cannot read row 2 of {corpus}" in str(info.value)
    corpus.write_text("".join(json.dumps({"text": f"document {i} " * 20}) + "\n" for i in range(40)))
    [trial] = plan(suite, tmp_path)
    assert trial.data_format == "jsonl" and trial.tokens_per_sample == 32


def test_quality_per_token_is_the_flattened_classification_quality():
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(5, 7, 11)), rng.integers(0, 11, size=(5, 7))
    tally = QualityTally()
    tally.add(logits[:2], labels[:2])
    tally.add(logits[2:], labels[2:])
    flat = classification_quality(logits.reshape(-1, 11), labels.reshape(-1))
    assert tally.result() == pytest.approx(flat)


def test_the_unigram_baseline_of_uniform_tokens_is_the_vocabulary():
    tokens = np.tile(np.arange(8), 100).reshape(-1, 8)
    assert unigram_perplexity(tokens, tokens, 8) == pytest.approx(8.0)
    # a model that knows nothing more than frequencies: one token in four of a skewed stream
    skewed = np.array([[0, 0, 0, 1]] * 50)
    assert unigram_perplexity(skewed, skewed, 2) < 2 and math.isfinite(unigram_perplexity(skewed, skewed, 2))


def test_a_hugging_face_folder_of_another_depth_is_named_before_ray_starts(tmp_path):
    """``weights = "FOLDER"`` (config.json + model.safetensors, as transformers saves a model): checked against the
    architecture in each framework before Ray starts; the first tensor that does not fit is the one line."""
    from raylife.workloads.generative.torch_models import gpt2

    gpt2((None,), 257, dim=32, layers=2, heads=2, positions=64).save_pretrained(tmp_path / "hf")
    # (a folder that fits plans and loads: tests/frameworks/test_decoders.py; each check here builds the model in a
    # child process, seconds each)
    with pytest.raises(PlanError) as info:
        plan(SUITE.replace("layers = 1", "layers = 3") + 'weights = "hf"\n', tmp_path)
    assert "tensor transformer.h.2.ln_1.weight (32,) is missing from the file" in str(info.value)
