"""The layer-wise probes (`natjax.evaluation.layers`): the linear probe on every stage and on
the output, in the network's order, the same whether the layers are held or streamed."""

import jax
import pytest

from natjax import data
from natjax.evaluation import layers
from natjax.models import create_model
from natjax.objectives.state import init_variables
from tests.helpers import tiny_config


@pytest.mark.slow
def test_every_layer_is_probed_in_the_networks_order_held_or_streamed(tmp_path):
    config = tiny_config(str(tmp_path))
    config.eval.layer_dims = 64
    config.eval.linear.epochs = 5
    model = create_model(config)
    variables = init_variables(model, jax.random.key(0), (12, 12, 1))
    dataset = data.load(config.data)
    held = layers.top1s(config, model, variables, dataset, 12, in_memory=True)
    names = ["layer_conv1_linear_top1", "layer_conv2_linear_top1", "layer_output_linear_top1"]
    assert list(held) == names and all(0.0 <= v <= 1.0 for v in held.values())
    assert layers.top1s(config, model, variables, dataset, 12, in_memory=False) == held
