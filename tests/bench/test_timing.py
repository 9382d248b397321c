"""The benchmarks' timing helpers (`natjax.bench.timing`)."""

import jax

from configs.nat import get_config
from natjax.bench import timing


def test_median_seconds_warms_up_then_times_each_callable_alternately():
    calls = []
    seconds = timing.median_seconds(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3
    )
    assert calls == ["a", "b"] + ["a", "b"] * 3 and set(seconds) == {"a", "b"}
    assert all(s >= 0 for s in seconds.values())


def test_the_machine_and_the_repositorys_presets():
    device = jax.devices()[0]
    assert timing.machine() == f"{device.platform}: {device.device_kind} x{jax.device_count()}"
    assert timing.load_config("cifar10").to_dict() == get_config("cifar10").to_dict()
