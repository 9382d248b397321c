"""The assignment benchmark's score families (`natjax.bench.scores`), NAT's own among them:
features against the targets the images hold, at initialisation and from a trained run."""

import numpy as np
import pytest

from natjax.bench import scores as families
from natjax.errors import UserError
from tests.helpers import tiny_config


def test_score_families_have_their_shapes():
    b = 12
    for name, make in families.SYNTHETIC.items():
        assert make(b, seed=1).shape == (b, b), name
    dup = families.duplicated(b, seed=1)
    np.testing.assert_array_equal(dup[0::2], dup[1::2])
    assert len(np.unique(families.ties(b, seed=1))) <= 4


def test_nat_scores_at_init_and_from_a_trained_run(tiny_run, tmp_path):
    """NAT's own problem: features against the targets the images hold; from a trained run,
    the assignment that run holds."""
    s = families.init_source(tiny_config(str(tmp_path))).scores(16, seed=0)
    assert s.shape == (16, 16) and np.all(np.abs(s) <= 1 + 1e-5)  # Cosines.
    with pytest.raises(UserError, match="not a natjax workdir"):
        families.trained_source(str(tmp_path / "none"))
    trained = families.trained_source(tiny_run.workdir)
    assert int(trained.state.step) > 0 and trained.scores(16, seed=0).shape == (16, 16)
    perm = np.asarray(trained.state.perm)
    assert sorted(perm.tolist()) == list(range(len(perm)))
    assert not np.array_equal(trained.scores(16, seed=0), s)  # Trained features differ.
