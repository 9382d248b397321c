"""`python -m natjax.bench probes [--preset P] [--data SOURCE] [--only linear,mlp,knn]`: each
evaluation protocol on the preset's encoder at random initialisation, with the features held
in memory and re-encoded chunk by chunk (streamed), side by side in one run: the two top-1
figures (one algorithm, so they should agree) and the seconds each took, as a ratio.

The in-memory form's seconds include computing the features once (`hold_seconds`, shared by
the protocols and reported apart); the streamed form re-encodes them on every pass.
"""

import time

from natjax import data
from natjax.bench.timing import load_config
from natjax.evaluation.scores import CLASSIFIERS
from natjax.evaluation.stream import dataset_streams, hold
from natjax.evaluation.suite import initial_variables
from natjax.models import create_model, features

PROTOCOLS = ("linear",)


def _timed(fn, *args, **kwargs):
    """`fn(*args, **kwargs)` and the seconds it took."""
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def run(
    preset: str = "cifar10_cpu", data_source: str | None = None, protocols=PROTOCOLS
) -> list[dict]:
    """One row per protocol: top-1 in memory and streamed, their difference in points, and
    the seconds of each."""
    config = load_config(preset)
    if data_source:
        config.data.source = data_source
    dataset = data.load(config.data)
    model = create_model(config)
    variables, crop = initial_variables(config, model, dataset)
    fn = features.make_encode_fn(model, crop)
    streams = dataset_streams(fn, variables, dataset, config.eval.batch_size)
    held, hold_seconds = _timed(hold, streams, True)
    rows = []
    for name in protocols:
        module = CLASSIFIERS[name]
        settings = module.settings(config)
        in_memory, memory_seconds = _timed(module.top1, *held, dataset.num_classes, **settings)
        streamed, stream_seconds = _timed(module.top1, *streams, dataset.num_classes, **settings)
        rows.append(
            {
                "preset": preset,
                "protocol": name,
                "train_examples": len(dataset.train),
                "feature_dim": streams[0].dim,
                "in_memory_top1": in_memory,
                "streamed_top1": streamed,
                "difference_points": 100 * (streamed - in_memory),
                "hold_seconds": hold_seconds,
                "in_memory_seconds": memory_seconds,
                "streamed_seconds": stream_seconds,
                "streamed_vs_in_memory": stream_seconds / memory_seconds,
            }
        )
    return rows


def format_table(rows: list[dict]) -> str:
    head = "preset | protocol | train images | D | in memory | streamed | difference"
    head += " | hold s | in-memory s | streamed s | streamed / in memory"
    lines = [head, " | ".join(["---"] * 11)]
    for r in rows:
        lines.append(
            f"{r['preset']} | {r['protocol']} | {r['train_examples']} | {r['feature_dim']} | "
            f"{r['in_memory_top1'] * 100:.2f}% | {r['streamed_top1'] * 100:.2f}% | "
            f"{r['difference_points']:+.2f} pt | {r['hold_seconds']:.0f} | "
            f"{r['in_memory_seconds']:.0f} | {r['streamed_seconds']:.0f} | "
            f"{r['streamed_vs_in_memory']:.1f}x"
        )
    return "\n".join(lines)
