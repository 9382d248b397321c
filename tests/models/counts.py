"""Parameter counts and output shapes of a config's model, without running it."""

import jax
import jax.numpy as jnp

from natjax import models


def encoder_params(config, image_shape):
    """The encoder's parameter count and the model's (representation, projection) shapes."""
    model = models.create_model(config)
    images = jnp.zeros((1, *image_shape), jnp.uint8)
    variables = jax.eval_shape(lambda: model.init(jax.random.key(0), images, train=False))
    outputs = jax.eval_shape(lambda v: model.apply(v, images, train=False), variables)
    count = sum(x.size for x in jax.tree.leaves(variables["params"]["encoder"]))
    return count, outputs


def conv_bn(k, cin, cout):  # A bias-free conv followed by batch norm's scale and offset.
    return k * k * cin * cout + 2 * cout
