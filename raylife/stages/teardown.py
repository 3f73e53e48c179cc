"""teardown: delete the trial's Serve application and time it."""

from __future__ import annotations

import time

from raylife.stages import serve_control as sc
from raylife.stages.context import TrialContext


class TeardownStage:
    name = "teardown"

    def run(self, ctx: TrialContext) -> None:
        deployment = ctx.artifacts.get("deployment")
        if deployment is None:
            return
        ctx.on_progress("deleting the application")
        started = time.perf_counter()
        sc.delete_app(deployment.app)
        ctx.record.add(self.name, "teardown_s", time.perf_counter() - started, "s")
