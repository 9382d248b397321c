"""The objectives a run can train, by `config.objective`: one line each in `REGISTRY`, and what
the harness asks of the registry (the config's settings sections, their checks, the recipes).

Adding an objective is its module (its `Objective`, settings, checks and recipe, gathered in a
`Spec`) and its line here; `docs/objectives.md` walks through one.
"""

from collections.abc import Iterable, Mapping

from ml_collections import ConfigDict

from natjax.errors import require
from natjax.objectives import (
    byol,
    deepcluster,
    instdisc,
    moco,
    nat,
    rotation,
    simclr,
    simsiam,
    supervised,
    swav,
)
from natjax.objectives.base import Objective, Spec

REGISTRY: dict[str, Spec] = {
    spec.name: spec
    for spec in (
        nat.SPEC,
        supervised.SPEC,
        simclr.SPEC,
        rotation.SPEC,
        instdisc.SPEC,
        simsiam.SPEC,
        byol.SPEC,
        moco.SPEC,
        swav.SPEC,
        deepcluster.SPEC,
    )
}


def names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def register(spec: Spec) -> None:
    """Adds an objective defined outside natjax (its `Spec`); its settings' defaults reach the
    configs made after this call."""
    REGISTRY[spec.name] = spec


def build(config: ConfigDict) -> Objective:
    """`config.objective`'s Objective (a run builds it once)."""
    return REGISTRY[config.objective].build(config)


def default_settings() -> dict[str, ConfigDict]:
    """Every objective's settings section, `{name: defaults()}`, for those that have one."""
    return {name: spec.defaults() for name, spec in REGISTRY.items() if spec.defaults}


def check(config: ConfigDict) -> None:
    """The objective's name, then every objective's settings (a config holds them all)."""
    known = names()
    require(config.objective in known, "objective", config.objective, ", ".join(known))
    for spec in REGISTRY.values():
        if spec.defaults is None or spec.name in config:
            spec.check(config)


def _is_set(key: str, user_keys: Iterable[str]) -> bool:
    """Whether the user set `key` (dotted), itself or a section holding it."""
    return any(key == k or key.startswith(k + ".") for k in user_keys)


def recipe(config: ConfigDict, user_keys: Iterable[str] = ()) -> Mapping[str, object]:
    """The keys `config.objective`'s recipe changes in `config`: its recipe without the keys
    the user set (`user_keys`, dotted) and those already at the recipe's value."""
    user_keys = tuple(user_keys)
    wanted = REGISTRY[config.objective].recipe if config.objective in REGISTRY else {}
    return {
        key: value
        for key, value in wanted.items()
        if not _is_set(key, user_keys) and _get(config, key) != value
    }


def apply_recipe(config: ConfigDict, user_keys: Iterable[str] = ()) -> ConfigDict:
    """`config` with `config.objective`'s recipe (`Spec.recipe`: its learning rate, say) set,
    except the keys the user set (`user_keys`, dotted, as `--config.KEY=...` names them).

    Args:
      config: a run config (`configs/nat.py`).
      user_keys: the keys the user chose, which the recipe leaves as they are.

    Returns:
      `config` itself where the recipe changes nothing, else a changed copy.

    >>> from configs.nat import get_config
    >>> config = get_config("smoke")
    >>> config.objective = "supervised"
    >>> apply_recipe(config).optim.learning_rate
    0.01
    >>> apply_recipe(config, ["optim.learning_rate"]).optim.learning_rate
    0.05
    """
    changes = recipe(config, user_keys)
    if not changes:
        return config
    config = config.copy_and_resolve_references()
    with config.unlocked():
        config.update_from_flattened_dict(dict(changes))
    return config


def _get(config: ConfigDict, key: str):
    node = config
    for part in key.split("."):
        node = node[part]
    return node
