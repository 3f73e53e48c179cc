"""A decoder served token by token on Ray Serve over OpenAI's /v1/completions (raylife/serving/completions.py), read
by raylife's streaming client: the served greedy tokens are offline greedy generation's, every token is timed, and a
request the model cannot answer gets one line. Real Ray Serve on the session's cluster, real transformers."""

from __future__ import annotations

import http.client
import json
import socket

import numpy as np
import pytest

pytestmark = [pytest.mark.ray, pytest.mark.torch, pytest.mark.timeout(300)]

OPTIONS = {"dim": 32, "layers": 2, "heads": 4, "positions": 64}
VOCAB = 257  # the byte-level tokenizer's


@pytest.fixture(scope="module")
def endpoint(ray_session, tmp_path_factory):
    import torch
    from ray import serve

    from raylife.serving import control as sc
    from raylife.serving.completions import CompletionArgs, CompletionDeployment
    from raylife.workloads.generative.torch_models import gpt2

    torch.manual_seed(0)
    model = gpt2((None,), VOCAB, **OPTIONS).eval()
    weights = tmp_path_factory.mktemp("decoder") / "weights.pt"
    torch.save(model.state_dict(), weights)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sc.start_serve("127.0.0.1", port, check_port=True)
    args = CompletionArgs(vocab_size=VOCAB, options=OPTIONS, weights=str(weights), version="v7")
    serve.run(CompletionDeployment.options(ray_actor_options={"num_cpus": 0.5}).bind(args),
              name="raylife-completions-test", route_prefix="/v1")
    batched = args.model_copy(update={"batching": "continuous", "version": "v8"})
    serve.run(CompletionDeployment.options(ray_actor_options={"num_cpus": 0.5}, max_ongoing_requests=16).bind(batched),
              name="raylife-completions-batched", route_prefix="/batched/v1")
    yield port, model
    sc.shutdown_serve()


def test_streamed_tokens_are_offline_greedy_tokens_each_timed(endpoint):
    from raylife.clients.streaming import stream_completion
    from raylife.workloads.generative.generate import greedy_torch
    from raylife.workloads.generative.tokenizer import ByteTokenizer

    port, model = endpoint
    prompt = "the sleepy cat"
    offline = list(greedy_torch(model, np.asarray([ByteTokenizer().encode(prompt)]), max_tokens=10))
    record = stream_completion("127.0.0.1", port, prompt, max_tokens=10)
    assert record.ok, record.error
    first_differing = next((i for i, (s, o) in enumerate(zip(record.token_ids, offline)) if s != o.ids[0]), None)
    # the same tokens; where they differ (another process's float sums), only at a near-tie of the top two logits
    assert first_differing is None or offline[first_differing].margin < 1e-3
    assert record.output_tokens == 10 and record.finish_reason == "length" and record.input_tokens == len(prompt)
    assert record.version == "v7" and record.replica
    assert record.ttft_s > 0 and len(record.itl_s) == 9 and all(gap >= 0 for gap in record.itl_s)
    assert record.e2e_s == pytest.approx(record.ttft_s + sum(record.itl_s))
    assert record.tpot_s == pytest.approx(sum(record.itl_s) / 9)


def test_an_answer_not_streamed_holds_the_same_tokens_and_its_usage(endpoint):
    from raylife.clients.streaming import stream_completion

    port, _ = endpoint
    streamed = stream_completion("127.0.0.1", port, [5, 6, 7], max_tokens=6)
    status, answer = post(port, {"prompt": [5, 6, 7], "max_tokens": 6, "temperature": 0})
    assert status == 200 and answer["token_ids"] == list(streamed.token_ids)
    assert answer["usage"] == {"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9}
    assert answer["object"] == "text_completion" and answer["choices"][0]["finish_reason"] == "length"
    # stream_options.include_usage: a last event with no choices and the counts, as OpenAI sends it
    events = sse(port, {"prompt": [5, 6, 7], "max_tokens": 2, "stream": True, "stream_options": {"include_usage": True}})
    assert events[-1] == "[DONE]" and json.loads(events[-2]) == {**json.loads(events[-2]), "choices": [],
                                                                   "usage": answer["usage"] | {"completion_tokens": 2,
                                                                                               "total_tokens": 5}}


def sse(port: int, body: dict) -> list[str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", "/v1/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
        text = connection.getresponse().read().decode()
        return [line[len("data: "):] for line in text.splitlines() if line.startswith("data: ")]
    finally:
        connection.close()


def test_a_request_the_model_cannot_answer_gets_one_line(endpoint):
    from raylife.clients.streaming import stream_completion

    port, _ = endpoint
    zero = stream_completion("127.0.0.1", port, "hi", max_tokens=0)
    assert not zero.ok and zero.error == "HTTP 400: max_tokens is 0; ask for at least 1 token"
    long = stream_completion("127.0.0.1", port, "x" * 60, max_tokens=10)
    assert not long.ok and "a prompt of 60 tokens and 10 more is 70, beyond the model's 64 positions" in long.error
    status, answer = post(port, {"prompt": "hi", "max_tokens": 3, "temperature": 0.7})
    assert status == 400 and answer["error"]["message"].startswith("temperature 0.7: this server decodes greedily")
    status, answer = post(port, {"prompt": [3, 999], "max_tokens": 3})
    assert status == 400 and answer["error"]["message"] == "token id 999 is outside the vocabulary of 257"
    status, answer = get(port, "/v1/models")
    assert status == 200 and answer["data"][0]["id"] == "raylife-decoder"


def get(port: int, path: str) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def post(port: int, body: dict) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", "/v1/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_streams_decoded_together_each_get_their_own_greedy_tokens(endpoint):
    from concurrent.futures import ThreadPoolExecutor

    from raylife.clients.streaming import stream_completion
    from raylife.workloads.generative.generate import greedy_torch
    from raylife.workloads.generative.tokenizer import ByteTokenizer

    port, model = endpoint
    prompts = ["the cat", "a loyal dog barks by the river", "owls", "the green frog croaks at night"]
    with ThreadPoolExecutor(len(prompts)) as pool:
        records = list(pool.map(lambda p: stream_completion("127.0.0.1", port, p, max_tokens=8,
                                                            path="/batched/v1/completions"), prompts))
    for prompt, record in zip(prompts, records):
        assert record.ok and record.version == "v8" and record.output_tokens == 8, record.error
        offline = list(greedy_torch(model, np.asarray([ByteTokenizer().encode(prompt)]), max_tokens=8))
        differ = next((i for i, (s, o) in enumerate(zip(record.token_ids, offline)) if s != o.ids[0]), None)
        assert differ is None or offline[differ].margin < 1e-3


def test_a_concurrency_sweep_measures_every_cell_on_the_served_decoder(endpoint):
    from raylife.clients.streaming import stream_completion
    from raylife.clients.token_load import concurrency_sweep

    port, _ = endpoint
    send = lambda prompt: stream_completion("127.0.0.1", port, prompt, max_tokens=6,  # noqa: E731
                                            path="/batched/v1/completions")
    cells = concurrency_sweep(send, ["the cat", "a dog", "an owl hoots"], levels=[1, 3], requests_per_stream=2)
    assert [(c.concurrency, c.requests, c.failed, c.output_tokens) for c in cells] == [(1, 2, 0, 12), (3, 6, 0, 36)]
    for c in cells:
        for tail in (c.ttft, c.itl, c.tpot, c.e2e):
            assert 0 < tail.p50 <= tail.p90 <= tail.p99
        assert c.output_tokens_per_s > 0 and c.output_tokens_per_s_per_user == pytest.approx(1e3 / c.tpot.p50)
