"""deploy and serve for a decoder (``workload = "generative"``): its saved model on Ray Serve behind OpenAI's
``/v1/completions`` (``serving.completions``), then closed-loop streams per concurrency level, measured the way LLM
users measure a server (``clients.token_load``): TTFT, ITL, TPOT and E2E, output tokens per second in total and per
stream, goodput under the TTFT and TPOT limits. Every request is kept in ``token_requests``.

The first stream is checked against the saved model's own greedy tokens for the same prompt (generated offline in the
trial's actor): a deployment that answers other tokens fails the trial, as a classifier's wrong first answer does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlparse

from raylife.clients.streaming import StreamRecord, stream_completion
from raylife.clients.token_load import TokenCell, closed_loop, summarize
from raylife.records import TokenRequest
from raylife.remote.messages import TokenPrompts
from raylife.serving import control as sc
from raylife.serving.completions import CompletionArgs
from raylife.stages.context import TrialContext
from raylife.stages.deploy import _check_room, serving_url

IMPORT_PATH, DEPLOYMENT = "raylife.serving.completions:app_builder", "CompletionServer"
# Held-out rows read as prompts: the cells cycle through them.
PROMPT_ROWS = 64


@dataclass(frozen=True)
class TokenApp:
    """A decoder's Serve application: where clients stream from, and its removal."""

    name: str
    url: str

    @property
    def host_port(self) -> tuple[str, int]:
        parsed = urlparse(self.url)
        return parsed.hostname or "127.0.0.1", int(parsed.port or 80)

    def delete(self) -> None:
        sc.delete_app(self.name)


def _send(app: TokenApp, max_tokens: int, timeout_s: float):  # noqa: ANN202 - a token_load.Send
    host, port = app.host_port
    path = f"/{app.name}/v1/completions"
    return lambda prompt: stream_completion(host, port, list(prompt), max_tokens, timeout_s=timeout_s, path=path)


class TokenDeployStage:
    name = "deploy"

    def run(self, ctx: TrialContext) -> None:
        t, spec, tokens = ctx.trial, ctx.trial.serve, ctx.trial.tokens
        model_dir = ctx.artifacts.need("models")[t.serve_format]
        ctx.on_progress("preparing prompts from held-out rows")
        prepared = time.perf_counter()
        prompts: TokenPrompts = ctx.wait(
            ctx.on_trial_actor("token_prompts", t.data, model_dir, tokens.prompt_tokens, tokens.max_tokens, PROMPT_ROWS),
            f"prompt preparation for {t.name}")
        ctx.record.add(self.name, "request_data_s", time.perf_counter() - prepared, "s")
        ctx.record.add(self.name, "offline_generate_s", prompts.offline_s, "s")
        ctx.artifacts.token_prompts = prompts
        _check_room(t)
        name = f"{sc.APP_PREFIX}{ctx.record.trial_id}"
        app = TokenApp(name, serving_url(ctx, name))
        ctx.artifacts.app = app
        ctx.add_cleanup(app.delete)  # never leave an application behind, also when the trial fails
        args = CompletionArgs(model_dir=model_dir, tokenizer=t.data_options.get("tokenizer"), version="trained-1",
                              threads=max(1, int(spec.cpus_per_replica)), model_name=t.name,
                              batching=tokens.batching, max_batch=max(tokens.concurrency))
        settings = sc.DeploymentSettings(
            replicas=spec.replicas, cpus_per_replica=spec.cpus_per_replica,
            max_ongoing_requests=max(spec.max_ongoing_requests, max(tokens.concurrency)), host=spec.host,
            port=spec.port, env_vars=ctx.runtime_env()["env_vars"], resources=dict(t.platform_resources),
            labels=dict(t.platform_labels), graceful_shutdown=spec.graceful_shutdown())
        ctx.on_progress(f"deploying {spec.replicas} decoder replica{'s' if spec.replicas > 1 else ''}")
        started = time.perf_counter()
        sc.apply_config(sc.deploy_config(name, args, None, settings, IMPORT_PATH, DEPLOYMENT))
        sc.wait_running(name, spec.ready_timeout_s)
        ctx.record.add(self.name, "deploy_ready_s", time.perf_counter() - started, "s", replicas=spec.replicas)
        first_start = time.perf_counter()
        first = _send(app, tokens.max_tokens, spec.request_timeout_s)(prompts.prompts[0])
        ctx.record.add(self.name, "first_request_ms", (time.perf_counter() - first_start) * 1000, "ms", path="http",
                       batch_size=1)
        if not first.ok:
            raise sc.ServeDeployError(f"the first stream from {app.url} failed: {first.error}")
        same = first.token_ids == prompts.offline_first
        ctx.record.add(self.name, "stream_matches_offline", int(same), "bool", tokens=len(first.token_ids))
        if not same:
            raise sc.ServeDeployError(
                f"the served stream's tokens {list(first.token_ids)[:8]}… differ from the saved model's own greedy "
                f"tokens {list(prompts.offline_first)[:8]}… for the same prompt",
                hint="the replica loaded other weights or another tokenizer than the trial saved")


class TokenServeStage:
    name = "serve"

    def run(self, ctx: TrialContext) -> None:
        t, tokens = ctx.trial, ctx.trial.tokens
        app: TokenApp = ctx.artifacts.need("app")
        prompts = ctx.artifacts.need("token_prompts").prompts
        send = _send(app, tokens.max_tokens, t.serve.request_timeout_s)
        for level in tokens.concurrency:
            ctx.on_progress(f"{level} stream{'s' if level > 1 else ''} x {tokens.requests_per_stream} requests")
            batch = [prompts[i % len(prompts)] for i in range(level * tokens.requests_per_stream)]
            started = time.perf_counter()
            timed = SendTimes(send, started)
            records, wall = closed_loop(timed.send, batch, level)
            cell = summarize(records, level, wall)
            self._record(ctx, cell, records)
            ctx.record.token_requests.extend(
                _rows(records, timed.sent_s, level, ctx.record.context.get("config")))

    def _record(self, ctx: TrialContext, cell: TokenCell, records: list[StreamRecord]) -> None:
        add, tokens = ctx.record.add, ctx.trial.tokens
        labels = {"concurrency": cell.concurrency, "prompt_tokens": tokens.prompt_tokens,
                  "max_tokens": tokens.max_tokens, "batching": tokens.batching, "answers": cell.requests - cell.failed}
        for what in ("ttft", "itl", "tpot", "e2e"):
            tail = getattr(cell, what)
            for p in ("p50", "p90", "p99"):
                add(self.name, f"{what}_{p}_ms", getattr(tail, p), "ms", **labels)
        add(self.name, "output_tokens_per_s", cell.output_tokens_per_s, "tokens/s", **labels)
        add(self.name, "output_tokens_per_s_per_user", cell.output_tokens_per_s_per_user, "tokens/s", **labels)
        add(self.name, "stream_requests", cell.requests, "count", **labels)
        add(self.name, "stream_failed", cell.failed, "count", **labels)
        if tokens.slo_ttft_ms is not None or tokens.slo_tpot_ms is not None:
            good = sum(1 for r in records if _within(r, tokens.slo_ttft_ms, tokens.slo_tpot_ms))
            add(self.name, "token_goodput_rps", good / cell.wall_s if cell.wall_s > 0 else None, "requests/s",
                slo_ttft_ms=tokens.slo_ttft_ms, slo_tpot_ms=tokens.slo_tpot_ms, **labels)


def _within(r: StreamRecord, ttft_ms: float | None, tpot_ms: float | None) -> bool:
    """A request that counts toward goodput: answered, its TTFT and TPOT within the limits set (vLLM's definition)."""
    if not r.ok or r.ttft_s is None:
        return False
    if ttft_ms is not None and r.ttft_s * 1e3 > ttft_ms:
        return False
    return tpot_ms is None or r.tpot_s is None or r.tpot_s * 1e3 <= tpot_ms


@dataclass
class SendTimes:
    """A sender that notes when each request left, in order of sending (the records come back in order of ending)."""

    inner: object
    t0: float

    def __post_init__(self) -> None:
        self.sent_s: dict[int, float] = {}

    def send(self, prompt: tuple[int, ...]) -> StreamRecord:
        sent = time.perf_counter() - self.t0
        record = self.inner(prompt)
        self.sent_s[id(record)] = sent
        return record


def _rows(records: list[StreamRecord], sent_s: dict[int, float], concurrency: int,
          config: str | None) -> list[TokenRequest]:
    rows = []
    for seq, r in enumerate(sorted(records, key=lambda r: sent_s[id(r)])):
        rows.append(TokenRequest(
            phase="serve", concurrency=concurrency, seq=seq, sent_s=sent_s[id(r)], input_tokens=r.input_tokens,
            output_tokens=r.output_tokens, ttft_ms=None if r.ttft_s is None else r.ttft_s * 1e3,
            tpot_ms=None if r.tpot_s is None else r.tpot_s * 1e3, e2e_ms=r.e2e_s * 1e3,
            itl_ms=[g * 1e3 for g in r.itl_s], ok=r.ok, error=r.error, version=r.version, replica=r.replica,
            config=config))
    return rows
