"""Fixtures and markers; the shared helpers are in `tests.helpers`.

Markers (setup.cfg): `slow`, the end-to-end runs (`-m "not slow"` is the fast tier), and
`needs_fashion_mnist`, skipped where Debian's Fashion-MNIST is not installed.
"""

import os

import pytest

from natjax.data.idx import DEBIAN_FASHION_MNIST_DIR


def pytest_collection_modifyitems(config, items):
    if os.path.isdir(DEBIAN_FASHION_MNIST_DIR):
        return
    skip = pytest.mark.skip(
        reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
    )
    for item in items:
        if "needs_fashion_mnist" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One finished tiny run (`tiny_config`, 2 epochs of 6 steps, saved every 4 steps and at
    epoch ends, the last 3 kept: steps 6, 8 and 12), shared by the tests of what a run leaves
    behind. Its workdir is read only: a test that changes it works on `copy_run`'s copy."""
    from natjax.training import train_and_evaluate
    from tests.helpers import TinyRun, tiny_config

    tmp = tmp_path_factory.mktemp("tiny_run")
    config = tiny_config(str(tmp))
    config.num_epochs = 2
    workdir = str(tmp / "workdir")
    return TinyRun(config, workdir, train_and_evaluate(config, workdir))
