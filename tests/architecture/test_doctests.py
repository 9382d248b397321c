"""The examples in the public API's docstrings run and print what they say."""

import doctest
import importlib

import pytest

MODULES = (
    "natjax.assignment",
    "natjax.evaluation.knn",
    "natjax.evaluation.linear",
    "natjax.objectives.registry",
)


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_run(name):
    results = doctest.testmod(importlib.import_module(name))
    assert results.attempted > 0 and results.failed == 0
