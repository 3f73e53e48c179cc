"""Continuous batching: one decoding loop for every stream of a replica, where streams join the running batch between
steps and leave it when done (Orca's iteration-level scheduling, as vLLM and TGI do it), over transformers' KV cache.

A new stream is prefilled alone, then its cache joins the running batch's: the shorter of the two is padded on the
left along time, and an attention mask hides the padding, while each stream keeps its own position ids. Every step
decodes one token of every running stream in one forward. A stream that has its tokens (``max_tokens``, or its end
token unless ignored) leaves the batch, and time columns no stream still needs are cut. Greedy only; PyTorch only.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_END = object()


@dataclass(eq=False)
class _Stream:
    prompt: list[int]
    max_tokens: int
    eos_id: int | None  # None: run to max_tokens
    out: queue.Queue = field(default_factory=queue.Queue)
    produced: int = 0
    position: int = 0  # the next token's position

    def emit(self, token: int) -> bool:
        """Hand one token to the reader; True when the stream is done."""
        self.out.put((token, time.perf_counter()))
        self.produced += 1
        done = self.produced >= self.max_tokens or (self.eos_id is not None and token == self.eos_id)
        if done:
            self.out.put(_END)
        return done


class ContinuousBatcher:
    """Streams of one model decoded together; ``stream()`` is safe to call from any thread."""

    def __init__(self, model: Any, max_batch: int = 32) -> None:
        self.model, self.max_batch = model, max_batch
        self.waiting: queue.Queue[_Stream] = queue.Queue()
        self.steps = 0  # decoding steps run
        self.batch_sizes: list[int] = []  # running streams at each step (how much batching happened)
        self._error: BaseException | None = None
        threading.Thread(target=self._loop, name="continuous-batching", daemon=True).start()

    def stream(self, prompt: list[int], max_tokens: int, eos_id: int | None = None) -> Iterator[tuple[int, float]]:
        """The greedy tokens of ``prompt`` with the time each was ready (perf_counter), as they come."""
        s = _Stream(list(prompt), max_tokens, eos_id)
        self.waiting.put(s)
        while (item := s.out.get()) is not _END:
            if isinstance(item, BaseException):
                raise RuntimeError(f"the decoding loop failed: {item}") from item  # noqa: TRY004 - not a type check
            yield item

    # -- the loop ---------------------------------------------------------------------------------------------------

    def _loop(self) -> None:
        import torch

        running: list[_Stream] = []
        state: _Batch | None = None
        with torch.inference_mode():
            while True:
                try:
                    new = self._admit(block=not running, room=self.max_batch - len(running))
                    for s in new:
                        state = self._join(state, s)
                        running.append(s)
                        if s.emit(state.last_token(-1)):
                            state = state.drop([len(running) - 1]) if len(running) > 1 else None
                            running.pop()
                    if running:
                        tokens = state.step(self.model, [s.position for s in running])
                        self.steps += 1
                        self.batch_sizes.append(len(running))
                        done = [i for i, (s, t) in enumerate(zip(running, tokens)) if self._advance(s, t)]
                        if done:
                            running = [s for i, s in enumerate(running) if i not in done]
                            state = state.drop(done) if running else None
                except BaseException as exc:  # noqa: BLE001 - every stream waiting on the loop hears of it
                    for s in running:
                        s.out.put(exc)
                    running, state = [], None

    @staticmethod
    def _advance(s: _Stream, token: int) -> bool:
        s.position += 1
        return s.emit(token)

    def _admit(self, block: bool, room: int) -> list[_Stream]:
        new = [self.waiting.get()] if block else []
        while len(new) < max(room, 1 if block else 0):
            try:
                new.append(self.waiting.get_nowait())
            except queue.Empty:
                break
        return new

    def _join(self, state: _Batch | None, s: _Stream) -> _Batch:
        import torch

        out = self.model(torch.as_tensor([s.prompt]), use_cache=True)
        s.position = len(s.prompt)
        joined = _Batch.of(out, len(s.prompt))
        return joined if state is None else state.merge(joined)


class _Batch:
    """The running streams' KV cache (one row each), their attention mask over cached positions, and their next
    input tokens."""

    def __init__(self, cache: Any, mask: Any, tokens: Any, cache_name: str) -> None:
        self.cache, self.mask, self.tokens, self.cache_name = cache, mask, tokens, cache_name

    @classmethod
    def of(cls, out: Any, length: int) -> _Batch:
        import torch

        name = "cache" if getattr(out, "cache", None) is not None else "past_key_values"
        tokens = out.logits[:, -1].argmax(-1, keepdim=True)
        return cls(getattr(out, name), torch.ones((1, length), dtype=torch.long), tokens, name)

    def last_token(self, row: int) -> int:
        return int(self.tokens[row, 0])

    def merge(self, other: _Batch) -> _Batch:
        import torch
        import torch.nn.functional as F

        width = max(self.mask.shape[1], other.mask.shape[1])
        for mine, theirs in zip(self.cache.layers, other.cache.layers):
            for name in ("keys", "values"):
                a, b = getattr(mine, name), getattr(theirs, name)
                a = F.pad(a, (0, 0, width - a.shape[2], 0))
                b = F.pad(b, (0, 0, width - b.shape[2], 0))
                setattr(mine, name, torch.cat([a, b], dim=0))
        self.mask = torch.cat([F.pad(self.mask, (width - self.mask.shape[1], 0)),
                               F.pad(other.mask, (width - other.mask.shape[1], 0))], dim=0)
        self.tokens = torch.cat([self.tokens, other.tokens], dim=0)
        return self

    def step(self, model: Any, positions: list[int]) -> list[int]:
        import torch

        self.mask = torch.cat([self.mask, torch.ones((self.mask.shape[0], 1), dtype=torch.long)], dim=1)
        out = model(self.tokens, attention_mask=self.mask, position_ids=torch.as_tensor(positions)[:, None],
                    use_cache=True, **{self.cache_name: self.cache})
        self.cache = getattr(out, self.cache_name)
        self.tokens = out.logits[:, -1].argmax(-1, keepdim=True)
        return [int(t) for t in self.tokens[:, 0]]

    def drop(self, rows: list[int]) -> _Batch:
        import torch

        keep = torch.as_tensor([i for i in range(self.mask.shape[0]) if i not in rows])
        self.cache.batch_select_indices(keep)
        self.mask, self.tokens = self.mask[keep], self.tokens[keep]
        unused = int((self.mask.sum(dim=0) == 0).long().cumprod(0).sum())  # leading columns no stream needs
        if unused:
            self.mask = self.mask[:, unused:]
            for layer in self.cache.layers:
                layer.keys, layer.values = layer.keys[:, :, unused:], layer.values[:, :, unused:]
        return self
