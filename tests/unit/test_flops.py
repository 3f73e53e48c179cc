"""A decoder's training FLOPs and MFU (raylife.measure.flops) by hand."""

from __future__ import annotations

import pytest

from raylife.measure.flops import flops_per_token, peak_flops, utilisation


def test_flops_per_token_is_palms_count():
    # GPT-2 small at 1,024 tokens: 6 x 124,439,808 + 12 x 12 x 768 x 1,024
    assert flops_per_token(124_439_808, 12, 768, 1024) == 6 * 124_439_808 + 12 * 12 * 768 * 1024


@pytest.mark.parametrize(("gpu", "precision", "peak"), [
    ("NVIDIA H100 80GB HBM3", "bf16", 989.4e12),
    ("NVIDIA H100 PCIe", "bf16", 756e12),  # the PCIe card before the SXM fragment that also matches it
    ("NVIDIA A100-SXM4-40GB", "fp32", 19.5e12),  # CUDA cores: PyTorch does not run fp32 matmuls as TF32 by default
    ("Tesla T4", "fp16", 65e12),
])
def test_a_listed_gpus_dense_peak(gpu, precision, peak):
    assert peak_flops(gpu, precision) == (peak, None)


def test_no_peak_is_no_mfu_and_says_why():
    assert peak_flops(None, "fp32") == (None, "trained on CPUs: no peak FLOPs are tabulated for CPUs")
    assert peak_flops("Tesla T4", "bf16")[1] == "no bf16 peak tabulated for Tesla T4"
    cpu = utilisation(1000, 2, 64, 128, 500.0, None, "fp32")
    assert cpu.flops_per_s == (6 * 1000 + 12 * 2 * 64 * 128) * 500.0 and cpu.mfu is None and "CPUs" in cpu.why_not
    on_two = utilisation(1000, 2, 64, 128, 500.0, "NVIDIA H100 80GB HBM3", "bf16", devices=2)
    assert on_two.mfu == pytest.approx(cpu.flops_per_s / (2 * 989.4e12))
