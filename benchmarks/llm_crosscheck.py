"""raylife's streaming client against GuideLLM on the same /v1/completions endpoint, side by side: TTFT and ITL.

    python benchmarks/llm_crosscheck.py --guidellm PATH/TO/guidellm [--concurrency 1] [--requests 40] [--prompt 64]
                                        [--tokens 32] [--rounds 3] [--dim 256] [--layers 4] [--heads 4]

GuideLLM (vLLM's project; https://github.com/vllm-project/guidellm) is the independent client: it installs without a
GPU (AIPerf and vLLM's ``bench serve`` want more), speaks OpenAI's ``/v1/completions`` with streaming, and reports
TTFT and ITL. It pulls its own PyTorch, so it lives in a virtualenv of its own:
``python3 -m venv /tmp/guidellm && /tmp/guidellm/bin/pip install guidellm``, then ``--guidellm /tmp/guidellm/bin/guidellm``.

One embedded Ray serves a GPT-2-architecture decoder on the byte-level tokenizer (random weights: the figures are the
serving path's, not a model's) through raylife's ``CompletionServer``; GuideLLM counts tokens with the same tokenizer
written as a Hugging Face folder. Each round runs both clients on the same endpoint, in alternating order, at the same
concurrency, prompt length (bytes = tokens) and output length (``ignore_eos``). Compared: TTFT p50, and ITL p50 as
GuideLLM defines it — each request's (E2E − TTFT) / (tokens − 1), which raylife stores as TPOT; raylife's p50 over
every single gap is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raylife_round(port: int, concurrency: int, requests: int, prompt: int, tokens: int, seed: int) -> dict[str, float]:
    """raylife's closed loop (``clients.token_load``) over its streaming client, summarised as a serving cell."""
    import random

    from raylife.clients.streaming import stream_completion
    from raylife.clients.token_load import closed_loop, summarize

    rng = random.Random(seed)
    texts = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(prompt)) for _ in range(requests)]
    records, wall = closed_loop(lambda text: stream_completion("127.0.0.1", port, text, max_tokens=tokens), texts,
                                concurrency)
    cell = summarize(records, concurrency, wall)
    assert cell.failed == 0, [r.error for r in records if not r.ok][:3]
    return {"ttft_ms": cell.ttft.p50, "itl_ms": cell.tpot.p50, "every_gap_ms": cell.itl.p50}


def guidellm_round(binary: str, port: int, tokenizer: Path, concurrency: int, requests: int, prompt: int,
                   tokens: int, out: Path) -> dict[str, float]:
    command = [binary, "run",
               "--backend", (f"kind=openai_http,target=http://127.0.0.1:{port},model=raylife-decoder,"
                             "request_format=/v1/completions"),
               "--profile", f"kind=concurrent,streams={concurrency}",
               "--constraint", f"kind=max_requests,count={requests}",
               "--data", f"kind=synthetic_text,prompt_tokens={prompt},output_tokens={tokens}",
               "--tokenizer", f"kind=hf_auto,model={tokenizer}",
               "--output", f"kind=json,path={out}", "--disable-console"]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"guidellm failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    metrics = json.loads(out.read_text())["benchmarks"][0]["metrics"]
    successful = metrics["request_totals"]["successful"]
    assert successful == requests, f"guidellm: {successful} of {requests} requests succeeded"
    return {"ttft_ms": metrics["time_to_first_token_ms"]["successful"]["median"],
            "itl_ms": metrics["inter_token_latency_ms"]["successful"]["median"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guidellm", default="guidellm")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--prompt", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    args = parser.parse_args()

    os.environ.setdefault("RAY_worker_niceness", "0")
    import ray
    from ray import serve

    from raylife.serving.completions import CompletionArgs, CompletionDeployment
    from raylife.workloads.generative.tokenizer import write_byte_tokenizer

    work = Path(tempfile.mkdtemp(prefix="raylife-crosscheck-"))
    tokenizer = write_byte_tokenizer(work / "tokenizer")
    port = free_port()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    options = {"dim": args.dim, "layers": args.layers, "heads": args.heads, "positions": args.prompt + args.tokens + 64}
    served = CompletionArgs(vocab_size=257, options=options, version="crosscheck")
    serve.run(CompletionDeployment.options(ray_actor_options={"num_cpus": 1}, max_ongoing_requests=64).bind(served),
              name="raylife-crosscheck", route_prefix="/")
    print(f"GPT-2 architecture {options}, byte-level vocabulary; {args.concurrency} stream(s), {args.requests} "
          f"requests of {args.prompt} + {args.tokens} tokens per client per round")
    rows = []
    try:
        raylife_round(port, args.concurrency, 4, args.prompt, args.tokens, seed=99)  # warm-up
        for r in range(args.rounds):
            clients = {
                "raylife": lambda r=r: raylife_round(port, args.concurrency, args.requests, args.prompt, args.tokens, r),
                "guidellm": lambda r=r: guidellm_round(args.guidellm, port, tokenizer, args.concurrency, args.requests,
                                                       args.prompt, args.tokens, work / f"guidellm-{r}.json"),
            }
            order = list(clients) if r % 2 == 0 else list(reversed(clients))
            figures = {name: clients[name]() for name in order}
            rows.append(figures)
            print(f"round {r + 1}: raylife TTFT p50 {figures['raylife']['ttft_ms']:.2f} ms, ITL p50 "
                  f"{figures['raylife']['itl_ms']:.2f} ms (every gap {figures['raylife']['every_gap_ms']:.2f}); "
                  f"guidellm TTFT p50 {figures['guidellm']['ttft_ms']:.2f} ms, ITL p50 {figures['guidellm']['itl_ms']:.2f} ms")
    finally:
        serve.shutdown()
        ray.shutdown()
    for key in ("ttft_ms", "itl_ms"):
        mine = statistics.median(row["raylife"][key] for row in rows)
        theirs = statistics.median(row["guidellm"][key] for row in rows)
        print(f"median {key[:-3].upper()} p50: raylife {mine:.2f} ms, guidellm {theirs:.2f} ms, "
              f"raylife / guidellm = {mine / theirs:.3f}")


if __name__ == "__main__":
    main()
