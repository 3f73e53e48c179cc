"""Measurement primitives: clocks, memory sampling, statistics, environment fingerprint. No Ray, no database."""
