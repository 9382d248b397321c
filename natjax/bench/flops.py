"""The model's FLOPs, counted from its jaxpr: the same figure on every backend.

Only convolutions and matrix products are counted, as the published counts (the ResNet paper's,
torchvision's table) do: a multiply-add (MAC) per kernel tap and input feature of each output
element, padding taps included. Element-wise ops (batch norm, ReLU, the residual adds, the
pools) are left out. FLOPs = 2 x MACs.

XLA's cost analysis of a compiled program is no substitute: on a GPU the convolutions that run
as cuDNN calls are missing from it, and on a CPU it leaves out the taps that fall on padding
(which is why it counts about 13% less than the published figure for a 32 px ResNet-18).
"""

import functools
import math

import jax
import jax.numpy as jnp
from jax.extend import core


def conv_macs(eqn: core.JaxprEqn) -> int:
    """A `conv_general_dilated`'s MACs: output elements x kernel taps x input features per
    group (the kernel's input-feature dimension, already divided by the group count)."""
    out = eqn.outvars[0].aval.shape
    kernel = eqn.invars[1].aval.shape
    out_features = kernel[eqn.params["dimension_numbers"].rhs_spec[0]]
    return math.prod(out) * math.prod(kernel) // out_features


def dot_macs(eqn: core.JaxprEqn) -> int:
    """A `dot_general`'s MACs: output elements (batch x free dims) x contracted elements."""
    (lhs_contracting, _), _ = eqn.params["dimension_numbers"]
    lhs = eqn.invars[0].aval.shape
    return math.prod(eqn.outvars[0].aval.shape) * math.prod(lhs[d] for d in lhs_contracting)


COUNTED = {"conv_general_dilated": conv_macs, "dot_general": dot_macs}


def _eqn_macs(eqn: core.JaxprEqn) -> int:
    """The equation's own MACs: 0 unless it is a convolution or a matrix product."""
    count = COUNTED.get(eqn.primitive.name)
    return count(eqn) if count else 0


def _jaxprs(value) -> list:
    """The jaxprs among an equation's parameter value (a jaxpr, or a tuple of them)."""
    values = value if isinstance(value, tuple | list) else (value,)
    return [v for v in values if isinstance(v, core.Jaxpr | core.ClosedJaxpr)]


def _nested_macs(eqn: core.JaxprEqn) -> int:
    """The MACs of the jaxprs inside `eqn` (jit, custom_jvp/vjp, remat, scan, cond, while...):
    a scan's body `length` times, the costliest of a cond's branches, a while loop's body and
    condition once each (its trip count is not known from the jaxpr)."""
    if eqn.primitive.name == "cond":
        return max(macs(branch) for branch in eqn.params["branches"])
    total = sum(macs(j) for value in eqn.params.values() for j in _jaxprs(value))
    return total * eqn.params["length"] if eqn.primitive.name == "scan" else total


def macs(jaxpr: core.Jaxpr | core.ClosedJaxpr) -> int:
    """The multiply-adds of the convolutions and matrix products in `jaxpr`, nested ones
    included."""
    jaxpr = jaxpr.jaxpr if isinstance(jaxpr, core.ClosedJaxpr) else jaxpr
    return sum(_eqn_macs(e) + _nested_macs(e) for e in jaxpr.eqns)


def forward_flops(model, variables: dict, images: jax.Array) -> int:
    """The FLOPs of one train-mode forward pass of `model` on `images` (arrays or
    `jax.ShapeDtypeStruct`s): traced, never compiled or run."""
    apply = functools.partial(model.apply, train=True, mutable=["batch_stats"])
    return 2 * macs(jax.make_jaxpr(apply)(variables, images))


def image_flops(model, input_shape: tuple[int, int, int]) -> int:
    """The forward FLOPs per uint8 image of `input_shape` (`[H, W, C]`), from the variables'
    shapes alone."""
    images = jax.ShapeDtypeStruct((1, *input_shape), jnp.uint8)
    init = functools.partial(model.init, train=False)
    variables = jax.eval_shape(init, jax.random.PRNGKey(0), images)
    return forward_flops(model, dict(variables), images)
