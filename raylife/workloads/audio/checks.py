from __future__ import annotations

from typing import Any

from raylife.workloads.base import DataFacts

N_FFT = 256


def waveform(facts: DataFacts, options: dict[str, Any]) -> str | None:
    if len(facts.input_shape) != 1 or not facts.dtype.startswith("float"):
        return f"needs mono waveforms, got {facts.dtype} inputs of shape {facts.input_shape}"
    if facts.input_shape[0] < 8 * N_FFT:
        return f"needs clips of at least {8 * N_FFT} samples for its spectrogram, got {facts.input_shape[0]}"
    return None
