"""setup.cfg's accelerator extras pull jax with the matching extra, one that jax has."""

import configparser
import importlib.metadata
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_cuda_and_tpu_extras_name_extras_of_jax():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    extras = cfg["options.extras_require"]
    has = set(importlib.metadata.metadata("jax").get_all("Provides-Extra"))
    for name, want in (("cuda", "cuda13"), ("tpu", "tpu")):
        (requirement,) = [line for line in extras[name].splitlines() if line.strip()]
        assert re.fullmatch(rf"jax\[{want}\]>=[\d.]+", requirement.strip())
        assert want in has
