"""The fixed input filters of the paper, the model's first (non-trainable) layer: Sobel
gradients, a high-pass filter, or none."""

import jax
import jax.numpy as jnp
import numpy as np

# numpy, not jnp: importing natjax must not start a backend (jax.distributed comes first).
SOBEL_X = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]], np.float32)
_GRAY = np.array([0.299, 0.587, 0.114], np.float32)
BLUR = np.outer(*2 * [np.array([1.0, 4.0, 6.0, 4.0, 1.0], np.float32) / 16.0])  # 5x5 binomial.
_HIGHPASS_GAIN = 4.0  # So that high-pass edges span about [-1, 1].
# `highpass` as one kernel (for the filter pictures): the identity minus the blur, scaled.
HIGHPASS = _HIGHPASS_GAIN * (np.pad(np.ones((1, 1), np.float32), 2) - BLUR)
FILTERS = ("sobel", "highpass", "raw")  # The paper's input ablation: gradients, high-pass, clean.


def to_float(images: jax.Array) -> jax.Array:
    """uint8 `[b, H, W, C]` to float32 in [0, 1]."""
    return images.astype(jnp.float32) / 255.0


def sobel(x: jax.Array) -> jax.Array:
    """Grayscale image gradients: float `[b, H, W, C]` to `[b, H, W, 2]` (d/dx, d/dy).

    A fixed (non-trainable) filter: it removes colour, which the paper found otherwise lets the
    network solve the task from trivial colour statistics.
    """
    gray = x @ _GRAY if x.shape[-1] == 3 else jnp.mean(x, axis=-1)
    kernel = jnp.stack([SOBEL_X, SOBEL_X.T], axis=-1)[:, :, None, :]  # [3, 3, 1, 2]
    return jax.lax.conv_general_dilated(
        gray[..., None], kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )


def highpass(x: jax.Array) -> jax.Array:
    """Each channel minus its 5x5 binomial blur, times _HIGHPASS_GAIN: `[b, H, W, C]`."""
    c = x.shape[-1]
    kernel = np.broadcast_to(BLUR[:, :, None, None], (5, 5, 1, c))
    blurred = jax.lax.conv_general_dilated(
        x,
        kernel,
        (1, 1),
        "SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=c,
    )
    return _HIGHPASS_GAIN * (x - blurred)


def apply_filter(x: jax.Array, name: str) -> jax.Array:
    """The encoder's input from float images in [0, 1]: `name` is one of FILTERS."""
    if name == "sobel":
        return sobel(x)
    if name == "highpass":
        return highpass(x)
    if name == "raw":
        return 2.0 * x - 1.0
    raise ValueError(f"Unknown input filter {name!r}; use one of {', '.join(FILTERS)}.")


def describe(name: str) -> dict:
    """`apply_filter(x, name)` in words and numbers, for readers of an export without natjax;
    convolutions are cross-correlations (`lax.conv`), stride 1, zero padding to the same size."""
    if name == "sobel":
        return {
            "name": "sobel",
            "gray": "x @ gray_weights for 3 channels, else the mean of the channels",
            "gray_weights": _GRAY.tolist(),
            "kernels": {"d/dx": SOBEL_X.tolist(), "d/dy": SOBEL_X.T.tolist()},
            "padding": "SAME, zeros",
            "output_channels": ["d/dx", "d/dy"],
        }
    if name == "highpass":
        return {
            "name": "highpass",
            "formula": "gain * (x - blur(x)), the blur applied to each channel alone",
            "gain": _HIGHPASS_GAIN,
            "blur_kernel": BLUR.tolist(),
            "padding": "SAME, zeros",
        }
    if name == "raw":
        return {"name": "raw", "formula": "2 * x - 1"}
    raise ValueError(f"Unknown input filter {name!r}; use one of {', '.join(FILTERS)}.")
