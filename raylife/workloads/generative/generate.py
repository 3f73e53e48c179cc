"""Greedy generation token by token, with each token's time: the decoding loop the serving path runs, and the offline
reference the served tokens are checked against.

PyTorch decodes with the library's KV cache (one forward over the prompt — the prefill — then one position per
step); TensorFlow's twins recompute the whole prefix each step (no cache yet: correct, slower). Temperature 0 only:
the greedy token is the arg-max of the last position's logits, the first of equal ones.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from raylife.errors import PlanError


@dataclass(frozen=True)
class Token:
    """One generated token of every sequence in the batch, and when it was ready."""

    ids: tuple[int, ...]  # one per sequence
    at_s: float  # since the request started (perf_counter)
    margin: float  # the smallest gap between the top two logits over the batch: a near-tie when tiny


def check_request(prompt_tokens: int, max_tokens: int, positions: int) -> None:
    """A request the model cannot answer is refused before any work: an empty prompt, ``max_tokens`` below 1, or a
    prompt plus its answer longer than the model's positions."""
    if prompt_tokens < 1:
        raise PlanError("the prompt is empty", hint="give at least one token")
    if max_tokens < 1:
        raise PlanError(f"max_tokens is {max_tokens}", hint="ask for at least 1 token")
    if prompt_tokens + max_tokens > positions:
        raise PlanError(f"a prompt of {prompt_tokens} tokens and {max_tokens} more is {prompt_tokens + max_tokens}, "
                        f"beyond the model's {positions} positions", hint="shorten the prompt or lower max_tokens")


def _pick(logits: np.ndarray) -> tuple[np.ndarray, float]:
    top2 = np.partition(logits, -2, axis=-1)[:, -2:]  # linear in the vocabulary, not a sort of it
    return np.argmax(logits, axis=-1), float((top2[:, 1] - top2[:, 0]).min())


def greedy_torch(model: Any, prompts: np.ndarray, max_tokens: int) -> Iterator[Token]:
    """Greedy tokens of a transformers causal LM for a batch of equal-length prompts (batch, tokens), as they come."""
    import torch

    start = time.perf_counter()
    with torch.inference_mode():
        out = model(torch.as_tensor(prompts), use_cache=True)
        # transformers 5 names the KV cache `cache` (4.x: `past_key_values`)
        name = "cache" if getattr(out, "cache", None) is not None else "past_key_values"
        for _ in range(max_tokens):
            ids, margin = _pick(out.logits[:, -1].float().numpy())
            yield Token(tuple(int(i) for i in ids), time.perf_counter() - start, margin)
            out = model(torch.as_tensor(ids[:, None]), use_cache=True, **{name: getattr(out, name)})


def greedy_tensorflow(model: Any, prompts: np.ndarray, max_tokens: int) -> Iterator[Token]:
    """Greedy tokens of a TensorFlow twin (the whole prefix recomputed at each step)."""
    start = time.perf_counter()
    sequence = np.asarray(prompts, dtype=np.int64)
    for _ in range(max_tokens):
        ids, margin = _pick(model(sequence, training=False).numpy()[:, -1])
        yield Token(tuple(int(i) for i in ids), time.perf_counter() - start, margin)
        sequence = np.concatenate([sequence, ids[:, None].astype(np.int64)], axis=1)
