"""Code that runs inside the Ray cluster (the trial's actor) and the typed values it exchanges with the driver.

``messages`` is pure (no Ray, no framework) so the driver and tests can import it; ``trial_actor`` imports
the frameworks and only ever runs in a cluster process.
"""
