"""A run's pictures, as PNG files under `DIR/figures/`: training curves, nearest neighbours
under the features' L2 distance (the paper's Figure 3), the first-layer filters composed
with the fixed input filter (Figure 4) and a 2-D t-SNE map of the test features coloured by
label. Drawn on `matplotlib.figure.Figure`, so no display is used."""

import os

import numpy as np
from matplotlib.figure import Figure
from sklearn.manifold import TSNE

from natjax.evaluation.metrics import read_metrics
from natjax.evaluation.monitor import monitor_subsets
from natjax.models import features, filters

MAP_POINTS = 2000  # Test images in the t-SNE map.


def _save(fig: Figure, workdir: str, name: str) -> str:
    path = os.path.join(workdir, "figures", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=80)
    return path


def training_curves(workdir: str) -> str | None:
    """Loss, share of changed targets per re-assignment and kNN top-1 against the step."""
    series = read_metrics(workdir)
    names = [n for n in ("loss", "changed_fraction", "knn_top1") if n in series]
    if not names:
        return None
    fig = Figure(figsize=(4 * len(names), 3), layout="constrained")
    for ax, name in zip(fig.subplots(1, len(names), squeeze=False)[0], names, strict=True):
        steps, values = series[name]
        ax.plot(steps, values, marker="o" if len(steps) < 30 else None)
        ax.set_xlabel("step")
        ax.set_title(name)
    return _save(fig, workdir, "curves.png")


def nearest_neighbours(
    workdir: str, encode_fn, variables, bank, queries, batch_size: int, k: int = 5
) -> str:
    """Each query image (left) and its `k` nearest bank images under the L2 distance."""
    bank_x = features.extract(encode_fn, variables, bank, batch_size)
    query_x = features.extract(encode_fn, variables, queries, batch_size)
    d = (query_x**2).sum(1)[:, None] - 2 * query_x @ bank_x.T + (bank_x**2).sum(1)[None]
    nearest = np.argsort(d, axis=1)[:, :k]
    fig = Figure(figsize=(k + 1, len(queries)), layout="constrained")
    axes = fig.subplots(len(queries), k + 1, squeeze=False)
    for row, query in enumerate(queries):
        for col, image in enumerate([query, *bank[nearest[row]]]):
            _show(axes[row, col], image)
    axes[0, 0].set_title("query", fontsize=8)
    return _save(fig, workdir, "neighbours.png")


def _show(ax, image: np.ndarray) -> None:
    ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray")
    ax.axis("off")


def compose(kernel: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The single filter equal to correlating with `first` then with `kernel` (2-D):
    their full convolution, `[kh + fh - 1, kw + fw - 1]`."""
    kh, kw = kernel.shape
    out = np.zeros((kh + first.shape[0] - 1, kw + first.shape[1] - 1), np.float32)
    for i in range(kh):
        for j in range(kw):
            out[i : i + first.shape[0], j : j + first.shape[1]] += kernel[i, j] * first
    return out


def input_filters(input_filter: str) -> list[np.ndarray]:
    """The fixed 2-D filters between the grayscale image and each input channel of the encoder
    (the high-pass one applies to every channel alike)."""
    if input_filter == "sobel":
        return [filters.SOBEL_X, filters.SOBEL_X.T]
    if input_filter == "highpass":
        return [filters.HIGHPASS]
    return [np.ones((1, 1), np.float32)]


def first_layer_filters(
    workdir: str, params: dict, input_filter: str, max_filters: int = 64
) -> str:
    """The encoder's first convolution as filters on the grayscale image: each filter composed
    with the fixed input filter of each channel it sees."""
    kernel = np.asarray(params["encoder"]["Conv_0"]["kernel"], np.float32)  # [kh, kw, in, out]
    fixed = input_filters(input_filter)
    composed = []
    for f in range(min(kernel.shape[-1], max_filters)):
        channels = range(kernel.shape[2])
        composed.append(sum(compose(kernel[:, :, c, f], fixed[c % len(fixed)]) for c in channels))
    cols = 8
    rows = -(-len(composed) // cols)
    fig = Figure(figsize=(cols, rows), layout="constrained")
    for ax, filt in zip(fig.subplots(rows, cols, squeeze=False).flat, composed, strict=False):
        ax.imshow(filt, cmap="gray")
    for ax in fig.axes:
        ax.axis("off")
    return _save(fig, workdir, "filters.png")


def feature_map(workdir: str, feats: np.ndarray, labels: np.ndarray, seed: int = 0) -> str:
    """A 2-D t-SNE embedding (scikit-learn) of `feats` `[n, D]`, one colour per label."""
    perplexity = min(30.0, (len(feats) - 1) / 3)  # scikit-learn needs perplexity < n.
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    xy = tsne.fit_transform(feats)
    fig = Figure(figsize=(6, 5), layout="constrained")
    ax = fig.subplots()
    points = ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="tab10", s=3)
    fig.colorbar(points, ax=ax, label="label")
    ax.set_title(f"t-SNE of {len(feats)} test features")
    ax.axis("off")
    return _save(fig, workdir, "tsne.png")


def draw_all(workdir: str, config, model, variables: dict, dataset, crop_size: int) -> dict:
    """Every picture of the run; returns `{name: path relative to workdir}`."""
    encode_fn = features.make_encode_fn(model, crop_size)
    bank, _ = monitor_subsets(config, dataset)  # Random: folders are class by class.
    queries = dataset.test.sample(8, config.seed).images
    shown = dataset.test.sample(MAP_POINTS, config.seed)
    batch = config.eval.batch_size
    paths = {
        "neighbours": nearest_neighbours(
            workdir, encode_fn, variables, bank.images, queries, batch
        ),
        "filters": first_layer_filters(workdir, variables["params"], config.input.filter),
        "tsne": feature_map(
            workdir,
            features.extract(encode_fn, variables, shown.images, batch),
            shown.labels,
            config.seed,
        ),
    }
    if curves := training_curves(workdir):
        paths["curves"] = curves
    return {name: os.path.relpath(path, workdir) for name, path in paths.items()}


def figure2(path: str, rows: list[dict], metrics=("linear_probe_top1", "knn_top1")) -> str:
    """The paper's Figure 2 from `natjax.training.figure2`'s rows: top-1 (%) against the
    re-assignment period (left; "never" first) and the training length (right), one line per
    metric, error bars of one sample std."""
    fig = Figure(figsize=(9, 3.5), layout="constrained")
    titles = {"period": "re-assignment period (epochs)", "epochs": "training length (epochs)"}
    for ax, curve in zip(fig.subplots(1, 2), ("period", "epochs"), strict=True):
        points = [r for r in rows if r["curve"] == curve]
        xs = list(range(len(points)))
        for key in metrics:
            means = [100 * r[key] for r in points]
            stds = [100 * (r[f"{key}_std"] or 0.0) for r in points]
            ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=key.split("_top1")[0])
        ax.set_xticks(xs, [_tick(curve, r["x"]) for r in points])
        ax.set_xlabel(titles[curve])
        ax.set_ylabel("top-1 (%)")
        ax.grid(alpha=0.3)
    fig.axes[0].legend(fontsize=8)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def _tick(curve: str, x: int) -> str:
    return "never" if curve == "period" and x == 0 else str(x)
