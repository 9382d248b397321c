"""`python -m natjax.bench kernel` (`natjax.bench.kernel`): the fused kernel's Triton IR, and
its resources on Hopper where Triton is installed."""

import pytest

from natjax.bench import kernel


def test_kernel_bench_lowers_the_fused_kernel_to_triton_ir():
    """jaxlib alone gives the Triton IR: one program whose rounds are a device loop."""
    text = kernel.triton_ir(100, 16, 4)
    assert "tt.func public @natjax_auction" in text and "scf.while" in text
    assert (16, 4) in kernel.configs(100) and kernel.default_config(256) == (16, 8)


def test_kernel_bench_compiles_for_hopper_where_triton_is_installed():
    pytest.importorskip("triton", reason="compiling the IR needs `pip install triton`")
    usage = kernel.resources(kernel.triton_ir(256, 16, 8), 8)
    assert 0 < usage["REG"] <= 255 and usage["STACK"] == 0  # The b = 256 default: no spills.
