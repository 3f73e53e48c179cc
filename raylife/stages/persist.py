"""persist: save the trained model in every format the suite asks for, reload it, check it predicts the same."""

from __future__ import annotations

from raylife.remote.messages import PersistResult
from raylife.stages.context import TrialContext


class PersistStage:
    name = "persist"

    def run(self, ctx: TrialContext) -> None:
        formats = list(ctx.trial.formats)
        ctx.on_progress(f"saving and reloading {', '.join(formats)}")
        ref = ctx.on_trial_actor(
            "persist", ctx.trial.data, ctx.artifacts.need("checkpoint"), formats, ctx.storage.child("models").uri
        )
        result: PersistResult = ctx.wait(ref, f"persist of {ctx.trial.name}")
        add = ctx.record.add
        add(self.name, "checkpoint_load_s", result.checkpoint_load_s, "s")
        add(self.name, "reference_predict_s", result.reference_predict_s, "s")
        if result.data_load_s is not None:
            add(self.name, "data_load_s", result.data_load_s, "s")
        for r in result.formats:
            labels = {"format": r.format, "native": r.native, "device": r.device}
            add(self.name, "save_s", r.save_s, "s", **labels)
            add(self.name, "load_s", r.load_s, "s", **labels)
            add(self.name, "first_predict_s", r.first_predict_s, "s", **labels)
            add(self.name, "bytes", r.bytes, "bytes", **labels)
            add(self.name, "params", r.params, "count", **labels)
            add(self.name, "roundtrip_max_abs_diff", r.roundtrip_max_abs_diff, "logit", **labels)
            if r.upload_s is not None:
                add(self.name, "upload_s", r.upload_s, "s", **labels)
            ctx.artifacts.models[r.format] = r.path
