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
