"""The classifier protocols of one pair of streams (`natjax.evaluation.scores`), and the one
memory setting."""

from configs.nat import get_config
from natjax.evaluation import knn, linear, mlp
from natjax.evaluation.scores import CLASSIFIERS, fits, scores
from tests.evaluation.streams import blobs, stream


def test_each_protocol_asked_for_scores_with_the_configs_settings():
    assert {"linear": linear, "mlp": mlp, "knn": knn} == CLASSIFIERS
    config = get_config("smoke")
    config.eval.knn_k = 5
    (x, y), (q, qy) = blobs(0, 100), blobs(0, 40)
    pair = stream(x, y), stream(q, qy)
    found = scores(*pair, 5, config, ("knn", "layers"))
    assert found == {"knn": knn.top1(*pair, 5, k=5, temperature=0.07)}
    assert scores(*pair, 5, config, ()) == {}


def test_features_within_the_budget_are_held():
    config = get_config()
    s = stream(*blobs(0, 100))  # 100 x 20 float32: 8,000 bytes.
    config.eval.max_feature_bytes = 8000
    assert fits(s, config)
    config.eval.max_feature_bytes = 7999
    assert not fits(s, config)
