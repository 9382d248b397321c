"""The layer-wise probes (the paper's Table 2): the linear probe on every convolutional stage
of the encoder and on the NAT output, each pooled to at most `eval.layer_dims` dimensions
(`natjax.models.features.encode_layers`)."""

from ml_collections import ConfigDict

from natjax.evaluation import linear
from natjax.evaluation.stream import dataset_streams
from natjax.models import features


def top1s(config: ConfigDict, model, variables, dataset, crop_size: int, in_memory: bool) -> dict:
    """`{"layer_NAME_linear_top1": top-1}` for every layer, in the network's order; the layers'
    features held in memory or streamed as `in_memory` says."""
    fn = features.make_layers_fn(model, crop_size, config.eval.layer_dims)
    train, test = dataset_streams(fn, variables, dataset, config.eval.batch_size)
    if in_memory:
        train, test = train.cached(), test.cached()  # {layer: stream}
    else:
        train, test = ({n: s.map(lambda d, n=n: d[n]) for n in train.spec} for s in (train, test))
    return {
        f"layer_{name}_linear_top1": linear.top1(
            train[name], test[name], dataset.num_classes, **linear.settings(config)
        )
        for name in train
    }
