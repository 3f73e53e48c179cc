"""A decoder served token by token over OpenAI's ``/v1/completions`` (the API every LLM benchmark client drives).

``POST /v1/completions`` (and ``GET /health``, ``GET /v1/models``, which clients check first) with ``{"prompt": text or token ids, "max_tokens": N, "temperature": 0, "stream": bool,
"ignore_eos": bool}``. Streamed, each token is one server-sent event in OpenAI's ``text_completion`` shape, with
raylife's ``token_ids``, ``version`` and ``replica`` beside ``choices``, then ``data: [DONE]``; not streamed, one JSON
answer with ``usage``. Greedy decoding only (temperature 0): the served tokens are checked against offline greedy
generation of the same weights. A request the model cannot answer gets HTTP 400 and one line saying why. Each stream
decodes alone (``batching = "none"``), or all of a replica's streams decode in one loop (``"continuous"``); PyTorch,
with the library's KV cache.
"""

# No ``from __future__ import annotations``: Serve validates the application builder's ``args`` into its annotation.

import json
import time
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse

from raylife.errors import RaylifeError


class CompletionArgs(BaseModel):
    """What a completions replica loads: a trial's saved model (``model_dir``, a PyTorch ``state_dict`` folder with its
    recipe), or a builder of raylife/workloads/generative with its options, vocabulary and optional weights (a
    PyTorch state dict); the tokenizer (a tokenizer.json, default the byte-level one); the version its answers name."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    model_dir: str | None = None
    builder: str = "raylife.workloads.generative.torch_models:gpt2"
    vocab_size: int | None = Field(default=None, ge=2)
    options: dict[str, Any] = Field(default_factory=dict)
    weights: str | None = None
    tokenizer: str | None = None
    version: str = "v1"
    threads: int = Field(default=1, ge=1)
    model_name: str = "raylife-decoder"
    # "none": each request decodes alone; "continuous": every request of the replica in one decoding loop, joining
    # and leaving the running batch between steps (raylife/workloads/generative/batching.py)
    batching: Literal["none", "continuous"] = "none"
    max_batch: int = Field(default=32, ge=1)


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # OpenAI clients send fields a greedy server does not use (n, top_p…)
    prompt: str | list[int]
    max_tokens: int = 16
    temperature: float = 0.0
    stream: bool = False
    stream_options: dict[str, Any] | None = None  # {"include_usage": true}: a last event with the token counts
    ignore_eos: bool = False


class CompletionServer:
    def __init__(self, args: CompletionArgs) -> None:
        import torch

        from raylife.registry import import_object
        from raylife.workloads.generative.tokenizer import tokenizer_for

        torch.set_num_threads(args.threads)
        if args.model_dir is not None:
            from raylife.frameworks.torch.backend import TorchBackend

            self.model = TorchBackend().load_checkpoint(args.model_dir)
        else:
            if args.vocab_size is None:
                raise ValueError("a decoder built from its builder needs vocab_size")
            self.model = import_object(args.builder, what="decoder builder")((None,), args.vocab_size, **args.options)
            if args.weights:
                self.model.load_state_dict(torch.load(args.weights, map_location="cpu", weights_only=True))
        self.model.eval()
        self.positions = int(getattr(self.model.config, "max_position_embeddings", 0) or self.model.config.n_positions)
        self.vocab_size = int(self.model.config.vocab_size)
        self.tokenizer = tokenizer_for(args.tokenizer)
        self.args = args
        self.batcher = None
        if args.batching == "continuous":
            from raylife.workloads.generative.batching import ContinuousBatcher

            self.batcher = ContinuousBatcher(self.model, max_batch=args.max_batch)
        self.replica = serve.get_replica_context().replica_id.unique_id

    def _ids(self, request: CompletionRequest) -> list[int]:
        ids = self.tokenizer.encode(request.prompt) if isinstance(request.prompt, str) else list(request.prompt)
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"token id {bad[0]} is outside the vocabulary of {self.vocab_size}")
        return ids

    def _tokens(self, ids: list[int], request: CompletionRequest) -> Iterator[int]:
        import numpy as np

        from raylife.workloads.generative.generate import greedy_torch

        if self.batcher is not None:
            eos = None if request.ignore_eos else self.tokenizer.eos_id
            for token, _ in self.batcher.stream(ids, request.max_tokens, eos):
                yield token
            return
        for token in greedy_torch(self.model, np.asarray([ids]), request.max_tokens):
            yield token.ids[0]
            if not request.ignore_eos and token.ids[0] == self.tokenizer.eos_id:
                return

    def _event(self, token: int | None, finish: str | None) -> str:
        text = self.tokenizer.decode([token]) if token is not None else ""
        body = {"id": "cmpl-raylife", "object": "text_completion", "created": int(time.time()),
                "model": self.args.model_name, "version": self.args.version, "replica": self.replica,
                "token_ids": [] if token is None else [token],
                "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}]}
        return f"data: {json.dumps(body)}\n\n"

    def _stream(self, ids: list[int], request: CompletionRequest) -> Iterator[str]:
        count = 0
        for token in self._tokens(ids, request):
            count += 1
            yield self._event(token, None)
        yield self._event(None, "length" if count == request.max_tokens else "stop")
        if (request.stream_options or {}).get("include_usage"):  # as OpenAI sends it: no choices, the counts
            yield "data: " + json.dumps({"id": "cmpl-raylife", "object": "text_completion", "created": int(time.time()),
                                         "model": self.args.model_name, "choices": [],
                                         "usage": _usage(len(ids), count)}) + "\n\n"
        yield "data: [DONE]\n\n"

    async def __call__(self, http: Request) -> Any:
        # what OpenAI clients ask besides completions: a health check and the served model's name
        if http.method == "GET" and http.url.path.rstrip("/").endswith("/health"):
            return JSONResponse({"status": "ok"})
        if http.method == "GET" and http.url.path.rstrip("/").endswith("/models"):
            return JSONResponse({"object": "list", "data": [{"id": self.args.model_name, "object": "model",
                                                              "owned_by": "raylife"}]})
        if http.method != "POST" or not http.url.path.rstrip("/").endswith("/completions"):
            return JSONResponse({"error": {"message": f"{http.method} {http.url.path}: this server answers POST "
                                           "/v1/completions", "type": "invalid_request_error"}}, status_code=404)
        return await self._complete(http)

    async def _complete(self, http: Request) -> Any:
        from raylife.workloads.generative.generate import check_request

        try:
            request = CompletionRequest.model_validate(await http.json())
            if request.temperature != 0:
                raise ValueError(f"temperature {request.temperature}: this server decodes greedily (temperature 0)")
            ids = self._ids(request)
            check_request(len(ids), request.max_tokens, self.positions)
        except (ValueError, RaylifeError) as exc:  # pydantic's ValidationError is a ValueError
            return JSONResponse({"error": {"message": " ".join(str(exc).split()), "type": "invalid_request_error"}},
                                status_code=400)
        if request.stream:
            return StreamingResponse(self._stream(ids, request), media_type="text/event-stream")
        tokens = list(self._tokens(ids, request))
        return JSONResponse({"id": "cmpl-raylife", "object": "text_completion", "model": self.args.model_name,
                             "version": self.args.version, "replica": self.replica, "token_ids": tokens,
                             "choices": [{"index": 0, "text": self.tokenizer.decode(tokens), "logprobs": None,
                                          "finish_reason": "length" if len(tokens) == request.max_tokens else "stop"}],
                             "usage": _usage(len(ids), len(tokens))})


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


CompletionDeployment = serve.deployment(name="CompletionServer")(CompletionServer)


def app_builder(args: CompletionArgs) -> Any:
    return CompletionDeployment.bind(args)
