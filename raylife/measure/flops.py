"""A decoder's training FLOPs and its model-FLOPs utilisation (MFU), as PaLM defines them (Chowdhery et al. 2022,
appendix B): 6N + 12·L·d·T FLOPs per token trained — the weights' forward and backward matmuls, and attention's
scores and weighted sum at sequence length T — against the device's dense peak at the training precision.

Peaks are the vendors' dense (no sparsity) tensor-core figures; a GPU not listed, or a CPU, has no peak here and its
MFU is stored as NULL with that reason, never as a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

# (name fragment as nvidia-smi prints it, dense peak FLOP/s by precision); the first fragment found in a name wins,
# so more specific names come first.
PEAKS: tuple[tuple[str, dict[str, float]], ...] = (
    ("H100 PCIe", {"fp32": 51.2e12, "tf32": 378e12, "bf16": 756e12, "fp16": 756e12}),
    ("H100", {"fp32": 66.9e12, "tf32": 494.7e12, "bf16": 989.4e12, "fp16": 989.4e12}),  # SXM5
    ("H200", {"fp32": 66.9e12, "tf32": 494.7e12, "bf16": 989.4e12, "fp16": 989.4e12}),
    ("A100", {"fp32": 19.5e12, "tf32": 156e12, "bf16": 312e12, "fp16": 312e12}),
    ("L4", {"fp32": 30.3e12, "tf32": 60e12, "bf16": 121e12, "fp16": 121e12}),
    ("V100", {"fp32": 15.7e12, "fp16": 125e12}),
    ("T4", {"fp32": 8.1e12, "fp16": 65e12}),
)


@dataclass(frozen=True)
class Utilisation:
    flops_per_token: float
    flops_per_s: float | None
    mfu: float | None  # achieved / peak, 0..1
    why_not: str | None  # why mfu is None


def flops_per_token(params: int, layers: int, dim: int, seq_len: int) -> float:
    """Training FLOPs per token: 6N for the weights, 12·L·d·T for attention (PaLM's MFU numerator)."""
    return 6.0 * params + 12.0 * layers * dim * seq_len


def peak_flops(gpu: str | None, precision: str) -> tuple[float | None, str | None]:
    """The device's dense peak at ``precision``, or None with the reason. fp32 is the CUDA cores' peak: PyTorch runs
    fp32 matmuls without TF32 unless told to."""
    if not gpu:
        return None, "trained on CPUs: no peak FLOPs are tabulated for CPUs"
    for fragment, peaks in PEAKS:
        if fragment.lower() in gpu.lower():
            if precision in peaks:
                return peaks[precision], None
            return None, f"no {precision} peak tabulated for {gpu}"
    return None, f"no peak FLOPs tabulated for {gpu} (raylife.measure.flops.PEAKS)"


def utilisation(params: int, layers: int, dim: int, seq_len: int, tokens_per_s: float | None, gpu: str | None,
                precision: str, devices: int = 1) -> Utilisation:
    per_token = flops_per_token(params, layers, dim, seq_len)
    achieved = per_token * tokens_per_s if tokens_per_s else None
    peak, why = peak_flops(gpu, precision)
    if achieved is None:
        return Utilisation(per_token, None, None, "no training throughput was measured")
    if peak is None:
        return Utilisation(per_token, achieved, None, why)
    return Utilisation(per_token, achieved, achieved / (peak * max(1, devices)), None)
