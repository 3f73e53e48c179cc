"""retrain: continue training from the checkpoint on a fresh slice of data, then score it again."""

from __future__ import annotations

from raylife.stages.context import TrialContext
from raylife.stages.evaluate import evaluate, record_scoring
from raylife.stages.train import record_training, run_training


class RetrainStage:
    name = "retrain"

    def run(self, ctx: TrialContext) -> None:
        t = ctx.trial
        out = run_training(ctx, "retrain", "retrain", t.retrain_epochs, ctx.artifacts.need("checkpoint"))
        ctx.artifacts.retrained_checkpoint = out.checkpoint
        record_training(ctx, self.name, "retrain", out)
        ctx.on_progress("scoring the retrained model")
        quality = evaluate(ctx, out.checkpoint, f"evaluation after retraining {t.name}")
        record_scoring(ctx, self.name, quality)
        ctx.record.add(self.name, "accuracy", quality.accuracy, "ratio", split="test")
        ctx.record.add(self.name, "eval_loss", quality.eval_loss, "loss", split="test")
