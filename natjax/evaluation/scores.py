"""The classifier protocols of one pair of feature streams (train, test), by name, and the one
memory setting: whether features are held in memory or re-encoded on every pass."""

from ml_collections import ConfigDict

from natjax.evaluation import knn, linear, mlp

CLASSIFIERS = {"linear": linear, "mlp": mlp, "knn": knn}


def scores(train, test, num_classes: int, config: ConfigDict, protocols) -> dict:
    """Top-1 of one pair of feature streams under each of `protocols` among linear, mlp and
    knn: `{protocol: top-1}`."""
    return {
        name: module.top1(train, test, num_classes, **module.settings(config))
        for name, module in CLASSIFIERS.items()
        if name in protocols
    }


def fits(stream, config: ConfigDict) -> bool:
    """Whether training features of this size are held in memory (`eval.max_feature_bytes`)
    rather than re-encoded on every pass."""
    return stream.nbytes <= config.eval.max_feature_bytes
