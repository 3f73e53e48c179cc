"""Per-token decode time: raylife's greedy loop (raylife/workloads/generative/generate.py, what the completions
server runs) against a bare loop over the same model in the same process, side by side.

    python benchmarks/decode_loop.py [--shape gpt2_small] [--prompt 128] [--tokens 32] [--batch 1] [--rounds 5]
                                     [--threads 1]

The bare loop is what a user would write with transformers alone: one forward over the prompt with the KV cache,
then one position per step, the next token by ``argmax`` on the logits tensor. raylife's loop does the same and also
copies the last logits to numpy for the top-two margin (near-ties) and times each token. Each round times both, in
alternating order; per-token time is (the last token's time − the first's) / (tokens − 1), the prefill left out.
Prints every round and the medians' ratio (bare / raylife: 1.0 means no overhead; the issue asks at least 0.9).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def bare(model, prompts, tokens: int) -> float:
    import torch

    with torch.inference_mode():
        out = model(torch.as_tensor(prompts), use_cache=True)
        name = "cache" if getattr(out, "cache", None) is not None else "past_key_values"
        times = []
        for _ in range(tokens):
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)
            times.append(time.perf_counter())
            out = model(nxt, use_cache=True, **{name: getattr(out, name)})
    return (times[-1] - times[0]) / (tokens - 1)


def raylife_loop(model, prompts, tokens: int) -> float:
    from raylife.workloads.generative.generate import greedy_torch

    at = [t.at_s for t in greedy_torch(model, prompts, tokens)]
    return (at[-1] - at[0]) / (tokens - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="gpt2_small")
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    from raylife.workloads.generative import torch_models
    from raylife.workloads.generative.shapes import SHAPES

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shape = SHAPES[args.shape]
    model = getattr(torch_models, shape.model)((None,), shape.vocab_size, **shape.options).eval()
    prompts = np.random.default_rng(0).integers(0, shape.vocab_size, size=(args.batch, args.prompt))
    print(f"{args.shape} ({shape.parameters:,} parameters), prompt {args.prompt}, {args.tokens} tokens, batch "
          f"{args.batch}, {args.threads} thread(s), torch {torch.__version__}")
    bare(model, prompts, 4)  # warm-up: first calls allocate
    rows = []
    for r in range(args.rounds):
        order = [("bare", bare), ("raylife", raylife_loop)]
        if r % 2:
            order.reverse()
        times = {name: fn(model, prompts, args.tokens) for name, fn in order}
        rows.append(times)
        print(f"round {r + 1}: bare {times['bare'] * 1e3:.1f} ms/token, raylife {times['raylife'] * 1e3:.1f} ms/token")
    b = statistics.median(t["bare"] for t in rows)
    mine = statistics.median(t["raylife"] for t in rows)
    print(f"median: bare {b * 1e3:.1f} ms/token, raylife {mine * 1e3:.1f} ms/token, bare / raylife = {b / mine:.3f}")


if __name__ == "__main__":
    main()
