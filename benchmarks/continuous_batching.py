"""Continuous batching against none: output tokens per second of concurrent streams on one model, side by side.

    python benchmarks/continuous_batching.py [--shape gpt2_small] [--concurrency 8] [--prompt 128] [--tokens 32]
                                             [--rounds 3]

``none``: every stream decodes alone with the KV cache (``generate.greedy_torch``), ``concurrency`` streams at once
in threads, one PyTorch thread each (the streams themselves fill the cores), as the completions server runs them with
``batching = "none"``. ``continuous``: every stream goes to one ``batching.ContinuousBatcher`` loop, PyTorch using
every core, as the server runs them with ``batching = "continuous"``. Each round starts ``concurrency`` streams at
once (random prompts, ``ignore_eos``) and times them to the last token; modes alternate in order. Prints every round,
then the medians: total output tokens/s, median time to the first token, and continuous / none.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

import numpy as np


def run_streams(prompts: list[list[int]], tokens: int, one) -> tuple[float, float]:
    """Output tokens per second over all streams, and the median time to a stream's first token."""
    first: list[float] = []
    lock = threading.Lock()
    start = time.perf_counter()

    def client(prompt: list[int]) -> None:
        for i, at in enumerate(one(prompt, tokens)):
            if i == 0:
                with lock:
                    first.append(at - start)

    threads = [threading.Thread(target=client, args=(p,)) for p in prompts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(prompts) * tokens / (time.perf_counter() - start), statistics.median(first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="gpt2_small")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import torch

    from raylife.workloads.generative import torch_models
    from raylife.workloads.generative.batching import ContinuousBatcher
    from raylife.workloads.generative.generate import greedy_torch
    from raylife.workloads.generative.shapes import SHAPES

    cores = os.cpu_count() or 1
    torch.manual_seed(0)
    shape = SHAPES[args.shape]
    model = getattr(torch_models, shape.model)((None,), shape.vocab_size, **shape.options).eval()
    rng = np.random.default_rng(0)
    batcher = ContinuousBatcher(model, max_batch=args.concurrency)

    def alone(prompt: list[int], tokens: int):
        base = time.perf_counter()
        for t in greedy_torch(model, np.asarray([prompt]), tokens):
            yield base + t.at_s

    def together(prompt: list[int], tokens: int):
        for _, at in batcher.stream(prompt, tokens):
            yield at

    modes = {"none": (alone, 1), "continuous": (together, cores)}
    print(f"{args.shape} ({shape.parameters:,} parameters), {args.concurrency} streams of {args.prompt} + "
          f"{args.tokens} tokens, {cores} cores, torch {torch.__version__}")
    rows = []
    for r in range(args.rounds):
        prompts = [rng.integers(0, shape.vocab_size, size=args.prompt).tolist() for _ in range(args.concurrency)]
        order = list(modes) if r % 2 == 0 else list(reversed(modes))
        figures = {}
        for name in order:
            one, threads = modes[name]
            torch.set_num_threads(threads)
            figures[name] = run_streams(prompts, args.tokens, one)
        rows.append(figures)
        print(f"round {r + 1}: " + ", ".join(f"{n} {f[0]:.1f} tokens/s (TTFT p50 {f[1]:.2f} s)"
                                              for n, f in figures.items()))
    med = {n: (statistics.median(r[n][0] for r in rows), statistics.median(r[n][1] for r in rows)) for n in modes}
    print("median: " + ", ".join(f"{n} {m[0]:.1f} tokens/s (TTFT p50 {m[1]:.2f} s)" for n, m in med.items())
          + f"; continuous / none = {med['continuous'][0] / med['none'][0]:.2f}x"
          + f"; mean running batch {statistics.mean(batcher.batch_sizes):.1f}")


if __name__ == "__main__":
    main()
