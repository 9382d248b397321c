"""Weighted kNN (Wu et al., 2018): the k nearest training points by cosine similarity vote for
their label with weight `exp(similarity / temperature)`. One rule (`vote` on the top-k), used
by the protocol on streams (`top1`: each query keeps a running top-k, merged with each chunk's,
memory O(queries x chunk) whatever the bank's size), its in-memory form (`top1_in_memory`) and
the kNN monitor during training (`predict`, one compiled program over a bank on the devices).
"""

import functools

import jax
import jax.numpy as jnp
from ml_collections import ConfigDict

from natjax.evaluation.stream import FeatureStream, in_memory_form
from natjax.models.layers import l2_normalize
from natjax.parallel.sharding import replicated

RESULT = "knn_top1"


def settings(config: ConfigDict) -> dict:
    """The protocol's keyword arguments from a run config (`eval.knn_k`, `eval.knn_temperature`)."""
    return {"k": config.eval.knn_k, "temperature": config.eval.knn_temperature}


def vote(sims: jax.Array, labels: jax.Array, num_classes: int, temperature: float) -> jax.Array:
    """Each query's class from its top-k similarities `sims` and their labels (int), both
    `[..., k]`: the label of the largest sum of `exp(sims / temperature)`."""
    weights = jnp.exp(sims / temperature)
    votes = jnp.einsum("...k,...kc->...c", weights, jax.nn.one_hot(labels, num_classes))
    return jnp.argmax(votes, -1)


def predict(query, bank, bank_labels, *, k, temperature, num_classes, bank_mask=None):
    """Each unit query's `[q, D]` class by weighted kNN over the unit `bank` rows `[n, D]` and
    their labels `[n]` (rows where `bank_mask` is False never vote)."""
    sims = query @ bank.T
    if bank_mask is not None:
        sims = jnp.where(bank_mask, sims, -jnp.inf)
    sims, idx = jax.lax.top_k(sims, k)  # [q, k]
    return vote(sims, bank_labels[idx], num_classes, temperature)


def top1(
    train: FeatureStream,
    test: FeatureStream,
    num_classes: int,
    *,
    k: int = 200,
    temperature: float = 0.07,
) -> float:
    """Test top-1 of weighted kNN over the training features.

    Args:
      train: the bank: training features and labels, a stream (in memory or re-encoded).
      test: the queries, held on the devices (split over them) for the whole pass.
      num_classes: the labels' range.
      k: neighbours that vote (at most the bank's size).
      temperature: the votes' softness.

    Returns:
      The share of `test` classified right.

    >>> import numpy as np
    >>> bank = np.array([[1, 0], [0.9, 0.1], [0, 1]], np.float32)
    >>> top1_in_memory(bank, np.array([0, 0, 1]), bank, np.array([0, 0, 1]), 2, k=1)
    1.0
    """
    queries = [(l2_normalize(c.x), c.labels, c.valid) for c in test.chunks()]
    qx, qy, qvalid = (jnp.stack(parts) for parts in zip(*queries, strict=True))  # [m, chunk, ...]
    jax.block_until_ready(qx)  # The encoder's programs done before the collective merges.
    k = min(k, train.n)
    sims = jnp.full((*qy.shape, k), -jnp.inf)
    labels = jnp.zeros((*qy.shape, k), jnp.int32)
    merge = jax.jit(
        functools.partial(_merge_top_k, gathered=replicated(train.mesh)), donate_argnums=(0, 1)
    )
    for chunk in train.chunks():
        sims, labels = merge(sims, labels, qx, l2_normalize(chunk.x), chunk.labels, chunk.valid)
        jax.block_until_ready(sims)  # One chunk's programs at a time: see `chunks`.
    pred = vote(sims, labels, num_classes, temperature)
    return int(jnp.sum((pred == qy) & qvalid)) / test.n


def _merge_top_k(sims, labels, queries, bank, bank_labels, bank_valid, *, gathered):
    """Each query's running top-k (`sims`, `labels` `[m, q, k]`) merged with its top-k in one
    chunk of unit bank rows; the chunk is gathered on every device, the queries stay split."""
    bank, bank_labels, bank_valid = jax.lax.with_sharding_constraint(
        (bank, bank_labels, bank_valid), gathered
    )
    new = jnp.einsum("mqd,bd->mqb", queries, bank)
    new = jnp.where(bank_valid, new, -jnp.inf)
    all_sims = jnp.concatenate([sims, new], -1)
    all_labels = jnp.concatenate([labels, jnp.broadcast_to(bank_labels, new.shape)], -1)
    sims, idx = jax.lax.top_k(all_sims, sims.shape[-1])
    return sims, jnp.take_along_axis(all_labels, idx, -1)


top1_in_memory = in_memory_form(top1)
