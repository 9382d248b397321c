"""Training objectives on one shared step: NAT's and its successors', each in its module.

- `base`: the contract (`Objective`, `StepContext`, `Found`, `Spec`, the state's keys);
- `step`: the step every objective runs (`objective_step`, `StepConfig`);
- `state`: the train state (`TrainState`);
- `registry`: the objectives by `config.objective`, their settings, checks and recipes;
- `refresh`: an objective's pass over the training set between epochs (DeepCluster's).
"""

from natjax.objectives.base import Found, Objective, Spec, StepContext
from natjax.objectives.registry import (
    REGISTRY,
    apply_recipe,
    build,
    check,
    default_settings,
    names,
    register,
)
from natjax.objectives.state import TrainState, create_train_state
from natjax.objectives.step import StepConfig, objective_step

__all__ = [
    "REGISTRY",
    "Found",
    "Objective",
    "Spec",
    "StepConfig",
    "StepContext",
    "TrainState",
    "apply_recipe",
    "build",
    "check",
    "create_train_state",
    "default_settings",
    "names",
    "objective_step",
    "register",
]
