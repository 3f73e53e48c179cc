"""A streaming completions client: one request to ``/v1/completions`` with ``stream = true``, each server-sent event
timed as it arrives, the way LLM benchmark clients (vLLM's ``bench serve``, GuideLLM, AIPerf) time them.

Figures per request (MLPerf's and vLLM's definitions): TTFT, the time from sending to the first token; ITL, every gap
between consecutive tokens; TPOT, (E2E − TTFT) / (output tokens − 1); E2E, sending to the last token.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True)
class StreamRecord:
    """One streamed request, measured by the client."""

    ok: bool
    error: str | None
    input_tokens: int
    token_ids: tuple[int, ...]
    ttft_s: float | None
    itl_s: tuple[float, ...]  # one per token after the first
    e2e_s: float
    version: str | None
    replica: str | None
    finish_reason: str | None

    @property
    def output_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def tpot_s(self) -> float | None:
        if self.ttft_s is None or self.output_tokens < 2:
            return None
        return (self.e2e_s - self.ttft_s) / (self.output_tokens - 1)


def stream_completion(host: str, port: int, prompt: str | list[int], max_tokens: int, ignore_eos: bool = True,
                      timeout_s: float = 60.0, path: str = "/v1/completions") -> StreamRecord:
    """Send one streamed completion request and time every token event."""
    body = json.dumps({"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True,
                       "ignore_eos": ignore_eos})
    input_tokens = len(prompt) if isinstance(prompt, list) else len(prompt.encode("utf-8"))
    connection = http.client.HTTPConnection(host, port, timeout=timeout_s)
    start = time.perf_counter()
    arrivals: list[float] = []
    ids: list[int] = []
    version = replica = finish = None
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            text = response.read().decode("utf-8", "replace")
            return _failed(f"HTTP {response.status}: {_message(text)}", input_tokens, start)
        while line := response.readline():
            if not line.startswith(b"data: "):
                continue
            data = line[6:].strip()
            if data == b"[DONE]":
                break
            event = json.loads(data)
            version, replica = event.get("version"), event.get("replica")
            finish = event["choices"][0].get("finish_reason") or finish
            if event.get("token_ids"):
                arrivals.append(time.perf_counter() - start)
                ids.extend(event["token_ids"])
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return _failed(f"{type(exc).__name__}: {exc}", input_tokens, start)
    finally:
        connection.close()
    end = arrivals[-1] if arrivals else time.perf_counter() - start
    return StreamRecord(ok=True, error=None, input_tokens=input_tokens, token_ids=tuple(ids),
                        ttft_s=arrivals[0] if arrivals else None,
                        itl_s=tuple(b - a for a, b in pairwise(arrivals)), e2e_s=end, version=version,
                        replica=replica, finish_reason=finish)


def _message(text: str) -> str:
    try:
        return json.loads(text)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return text.strip()[:200]


def _failed(error: str, input_tokens: int, start: float) -> StreamRecord:
    return StreamRecord(ok=False, error=error, input_tokens=input_tokens, token_ids=(), ttft_s=None, itl_s=(),
                        e2e_s=time.perf_counter() - start, version=None, replica=None, finish_reason=None)
