"""evaluate: quality of the final checkpoint on the held-out test split (never trained on)."""

from __future__ import annotations

from raylife.remote.messages import EvalResult
from raylife.stages.context import TrialContext
from raylife.stages.hardware import record_reading


def evaluate(ctx: TrialContext, checkpoint: str, what: str) -> EvalResult:
    return ctx.wait(ctx.on_trial_actor("evaluate", ctx.trial.data, checkpoint, ctx.trial.measures_quality), what)


def record_scoring(ctx: TrialContext, stage: str, out: EvalResult) -> None:
    """Where scoring a checkpoint spent its time (evaluate, and retrain's scoring of the retrained model)."""
    add = ctx.record.add
    add(stage, "eval_predict_s", out.predict_s, "s", device=out.device)
    add(stage, "checkpoint_load_s", out.checkpoint_load_s, "s", device=out.device)
    add(stage, "model_facts_s", out.model_facts_s, "s")
    if out.data_load_s is not None:
        add(stage, "data_load_s", out.data_load_s, "s")
    if out.fetch_s is not None:
        add(stage, "checkpoint_fetch_s", out.fetch_s, "s")


def record_flops(ctx: TrialContext, params: int | None) -> None:
    """A decoder's training FLOPs per token and per second, and its MFU where the device's peak is known (PaLM's
    6N + 12·L·d·T; ``measure.flops``): the train stage measured the tokens/s, this stage counted the parameters."""
    from raylife.measure.flops import utilisation

    t = ctx.trial
    layers, dim = t.model_options.get("layers"), t.model_options.get("dim")
    if not params or not layers or not dim:
        return  # a model of the user's own, whose depth and width raylife cannot read
    env = ctx.record.environment
    gpu = env.gpu if env is not None and t.device == "gpu" else None
    u = utilisation(int(params), int(layers), int(dim), int(t.tokens_per_sample),
                    ctx.record.value("train", "train_tokens_per_s"), gpu, t.precision, devices=t.num_workers)
    add = ctx.record.add
    add("train", "train_flops_per_token", u.flops_per_token, "FLOPs", counted="6N + 12 L d T (PaLM)")
    add("train", "train_flops_per_s", u.flops_per_s, "FLOP/s")
    add("train", "mfu", u.mfu, "ratio", **({"reason": u.why_not} if u.why_not else {"device": gpu}))


class EvaluateStage:
    name = "evaluate"

    def run(self, ctx: TrialContext) -> None:
        ctx.on_progress("scoring the test split")
        out = evaluate(ctx, ctx.artifacts.need("checkpoint"), f"evaluation of {ctx.trial.name}")
        if ctx.record.environment is None:  # normally the rank-0 training worker's, set by the train stage
            ctx.record.environment = out.environment
        add = ctx.record.add
        if not ctx.trial.measures_quality:
            add(self.name, "quality_measured", 0, "bool", reason="random inputs: no accuracy is measured")
        facts = out.model_facts
        add("model", "params", facts.params, "count", trainable=True)
        add("model", "flops_per_sample", facts.flops_per_sample, "FLOPs", counted_by=ctx.trial.framework)
        add("model", "model_memory_bytes", facts.model_memory_bytes, "bytes")
        add(self.name, "accuracy", out.accuracy, "ratio", split="test")
        add(self.name, "eval_loss", out.eval_loss, "loss", split="test")
        if out.top5_accuracy is not None:
            add(self.name, "top5_accuracy", out.top5_accuracy, "ratio", split="test")
        add(self.name, "baseline_accuracy", out.baseline_accuracy, "ratio", split="test", baseline="majority class")
        add(self.name, "eval_samples", out.samples, "count", split="test")
        if ctx.trial.tokens_per_sample:
            record_flops(ctx, facts.params)
        if out.tokens is not None:  # a decoder: accuracy and loss above are per next token
            add(self.name, "eval_tokens", out.tokens, "count", split="test")
            add(self.name, "perplexity", out.perplexity, "ppl", split="test")
            add(self.name, "baseline_perplexity", out.baseline_perplexity, "ppl", split="test",
                baseline="unigram model of the training split")
        record_scoring(ctx, self.name, out)
        record_reading(ctx, self.name, out.telemetry, gpu=out.device == "gpu")
        for split, size in out.split_sizes.items():
            add(self.name, "split_samples", size, "count", split=split)
        ctx.artifacts.data_source = out.data_source
