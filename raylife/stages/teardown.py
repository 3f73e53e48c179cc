"""teardown: delete the trial's Serve application and time it."""

from __future__ import annotations

import time

from raylife.stages.context import TrialContext


class TeardownStage:
    name = "teardown"

    def run(self, ctx: TrialContext) -> None:
        app = ctx.artifacts.app
        if app is None:
            return
        ctx.on_progress("deleting the application")
        started = time.perf_counter()
        app.delete()
        ctx.record.add(self.name, "teardown_s", time.perf_counter() - started, "s")
