"""Fixtures and markers; the shared helpers are in `tests.helpers`.

Markers (setup.cfg): `slow`, the end-to-end runs (`-m "not slow"` is the fast tier), and
`needs_fashion_mnist`, skipped where Debian's Fashion-MNIST is not installed.

Compiling is most of the suite's time on a CPU, so the tests (and the commands they start)
share JAX's persistent compilation cache, in `.pytest_cache/jax` unless
`JAX_COMPILATION_CACHE_DIR` says otherwise (`pytest --cache-clear` empties it): a program
compiled once, by any test or an earlier run, is read back instead of compiled again.
"""

import os

import jax
import pytest

from natjax.data.idx import DEBIAN_FASHION_MNIST_DIR
from tests.helpers import ROOT

_CACHE = {  # Read by the subprocesses' JAX at import; this process's is set below.
    "JAX_COMPILATION_CACHE_DIR": os.path.join(ROOT, ".pytest_cache", "jax"),
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",  # Even the small programs: most are.
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
}
for _name, _value in _CACHE.items():
    os.environ.setdefault(_name, _value)
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update(
    "jax_persistent_cache_min_compile_time_secs",
    float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]),
)
jax.config.update(
    "jax_persistent_cache_min_entry_size_bytes",
    int(os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"]),
)


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
