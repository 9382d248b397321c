"""Measuring a frozen encoder and a run.

- protocols, one module each, one algorithm each, on feature streams held in memory or
  re-encoded alike: `linear`, `mlp`, `knn`, `layers` (layer-wise linear probes);
- `stream`: features as chunks on the mesh; `classifier`: the probes' shared fit;
- `suite`: every protocol of a run (`evaluate`), of a checkpoint, and the `baselines`; another
  dataset as the encoder's input (`transfer`);
- `monitor`: the kNN monitor during training; `metrics`: the scalars a run records;
- `figures`: a run's pictures; `results`: its results as files and tables.
"""

from natjax.evaluation.results import format_results, write_results
from natjax.evaluation.suite import (
    PROTOCOLS,
    evaluate,
    evaluate_baselines,
    evaluate_checkpoint,
    evaluate_model,
    initial_variables,
    transfer,
)

__all__ = [
    "PROTOCOLS",
    "evaluate",
    "evaluate_baselines",
    "evaluate_checkpoint",
    "evaluate_model",
    "initial_variables",
    "format_results",
    "transfer",
    "write_results",
]
