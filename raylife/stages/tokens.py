"""deploy and serve for a decoder (``workload = "generative"``): its saved model on Ray Serve behind OpenAI's
``/v1/completions`` (``serving.completions``), then closed-loop streams per concurrency level, measured the way LLM
users measure a server (``clients.token_load``): TTFT, ITL, TPOT and E2E, output tokens per second in total and per
stream, goodput under the TTFT and TPOT limits; then, with ``[tokens] rates``, Poisson arrivals at each offered rate
(open loop, vLLM's ``--request-rate``), each judged against the limits at p99 by MLPerf's early-stopping rule, and the
highest rate that met them. Every request is kept in ``token_requests``.

The first stream is checked against the saved model's own greedy tokens for the same prompt (generated offline in the
trial's actor): a deployment that answers other tokens fails the trial, as a classifier's wrong first answer does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlparse

import numpy as np

from raylife.clients.streaming import StreamRecord, stream_completion
from raylife.clients.token_load import Sent, TokenCell, closed_loop, open_loop, poisson_arrivals, summarize
from raylife.measure.stats import tail_verdict
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
        config = ctx.record.context.get("config")
        for level in tokens.concurrency:
            ctx.on_progress(f"{level} stream{'s' if level > 1 else ''} x {tokens.requests_per_stream} requests")
            batch = [prompts[i % len(prompts)] for i in range(level * tokens.requests_per_stream)]
            timed = SendTimes(send, time.perf_counter())
            records, wall = closed_loop(timed.send, batch, level)
            cell = summarize(records, level, wall)
            self._record(ctx, cell, records, {"concurrency": level})
            ctx.record.token_requests.extend(_rows(records, timed.sent_s, level, config))
        kept: list[tuple[float, bool]] = []  # (rate, met) where the limits were judged
        for i, rate in enumerate(tokens.rates or []):
            ctx.on_progress(f"{tokens.requests_per_rate} requests arriving at {rate:g}/s")
            times = poisson_arrivals(rate, tokens.requests_per_rate, seed=t.seed * 1000 + i)
            sent, wall = open_loop(send, prompts, times, tokens.max_concurrency)
            records = [s.record for s in sent]
            cell = summarize(records, 0, wall)
            labels = {"offered_rps": rate, "arrival": "poisson", "max_concurrency": tokens.max_concurrency}
            self._record(ctx, cell, records, labels)
            ctx.record.add(self.name, "send_lag_p99_ms",
                           float(np.percentile([s.lag_s * 1e3 for s in sent], 99)) if sent else None, "ms", **labels)
            met = self._verdict(ctx, records, labels)
            if met is not None:
                kept.append((rate, met))
            ctx.record.token_requests.extend(_open_rows(sent, rate, config))
        if kept:
            best = max((rate for rate, met in kept if met), default=None)
            ctx.record.add(self.name, "max_token_rps_at_slo", best, "requests/s", slo_ttft_ms=tokens.slo_ttft_ms,
                           slo_tpot_ms=tokens.slo_tpot_ms, percentile=99,
                           **({} if best is not None else {"reason": "no offered rate met the limits at p99 with "
                                                                     "enough answers (MLPerf's early stopping)"}))

    def _verdict(self, ctx: TrialContext, records: list[StreamRecord], labels: dict) -> bool | None:
        """p99 of TTFT and of TPOT against their limits, with MLPerf's early-stopping rule: met only when enough
        answers back it (459 with none over at 99% confidence); None when no limit is set."""
        tokens = ctx.trial.tokens
        ok = [r for r in records if r.ok]
        failed = len(records) - len(ok)
        verdicts = []
        for name, limit, values in (("ttft", tokens.slo_ttft_ms, [r.ttft_s * 1e3 for r in ok if r.ttft_s is not None]),
                                    ("tpot", tokens.slo_tpot_ms, [r.tpot_s * 1e3 for r in ok if r.tpot_s is not None])):
            if limit is None:
                continue
            v = tail_verdict(values, failed, limit)
            ctx.record.add(self.name, "token_slo_answers", v.answers, "count", figure=name, limit_ms=limit,
                           verdict=v.verdict, needed=v.needed, over=v.over, **labels)
            verdicts.append(v.verdict)
        if not verdicts:
            return None
        return all(v == "met" for v in verdicts)

    def _record(self, ctx: TrialContext, cell: TokenCell, records: list[StreamRecord], where: dict) -> None:
        add, tokens = ctx.record.add, ctx.trial.tokens
        labels = {**where, "prompt_tokens": tokens.prompt_tokens, "max_tokens": tokens.max_tokens,
                  "batching": tokens.batching, "answers": cell.requests - cell.failed}
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


def _row(r: StreamRecord, phase: str, seq: int, sent_s: float, config: str | None, concurrency: int | None = None,
         offered_rps: float | None = None) -> TokenRequest:
    return TokenRequest(
        phase=phase, concurrency=concurrency, seq=seq, sent_s=sent_s, input_tokens=r.input_tokens,
        output_tokens=r.output_tokens, ttft_ms=None if r.ttft_s is None else r.ttft_s * 1e3,
        tpot_ms=None if r.tpot_s is None else r.tpot_s * 1e3, e2e_ms=r.e2e_s * 1e3, itl_ms=[g * 1e3 for g in r.itl_s],
        ok=r.ok, error=r.error, version=r.version, replica=r.replica, config=config, offered_rps=offered_rps)


def _rows(records: list[StreamRecord], sent_s: dict[int, float], concurrency: int,
          config: str | None) -> list[TokenRequest]:
    ordered = sorted(records, key=lambda r: sent_s[id(r)])
    return [_row(r, "serve", seq, sent_s[id(r)], config, concurrency=concurrency) for seq, r in enumerate(ordered)]


def _open_rows(sent: list[Sent], rate: float, config: str | None) -> list[TokenRequest]:
    return [_row(s.record, "open-loop", seq, s.due_s, config, offered_rps=rate) for seq, s in enumerate(sent)]
