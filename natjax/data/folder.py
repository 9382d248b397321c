"""Image-folder datasets: `ROOT/<split>/<class>/<image>`, as a directory or a .tar(.gz) archive.

Labels come from the sorted class-folder names and are used only for evaluation. Ids follow the
sorted (class, file name) order, so they are stable across runs and machines. Files that cannot be
decoded are skipped with a warning and counted, so one bad file does not end a long run.
"""

import functools
import io
import logging
import os
import tarfile
from collections.abc import Iterator

import numpy as np
from PIL import Image

from natjax.data.types import Dataset, Split
from natjax.errors import UserError

_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".ppm", ".pgm")


def load_folder_dataset(
    path: str, train_split: str, test_split: str, image_size: int
) -> tuple[Dataset, int]:
    """Loads both splits; returns the dataset and the number of undecodable files skipped."""
    files = _list_files(path)  # {split: {class: {file name: bytes reader}}}
    missing = [s for s in (train_split, test_split) if s not in files]
    if missing:
        raise UserError(
            f"{path} has no {missing[0]!r} folder; an image folder holds "
            f"{train_split}/<class>/<image> and {test_split}/<class>/<image>."
        )
    classes = sorted(files[train_split])
    skipped = 0
    splits = {}
    for split in (train_split, test_split):
        splits[split], bad = _decode_split(files[split], classes, image_size, path, split)
        skipped += bad
    name = os.path.basename(path.rstrip("/")).split(".")[0]
    dataset = Dataset(name, splits[train_split], splits[test_split], num_classes=len(classes))
    return dataset, skipped


def _decode_split(by_class, classes, image_size, path, split) -> tuple[Split, int]:
    images, labels, skipped = [], [], 0
    for label, cls in enumerate(classes):
        for file_name, read in sorted(by_class.get(cls, {}).items()):
            try:
                images.append(decode_image(read(), image_size))
                labels.append(label)
            except (OSError, ValueError) as e:
                logging.warning("Skipping %s/%s/%s/%s: %s", path, split, cls, file_name, e)
                skipped += 1
    if not images:
        raise UserError(f"{path}/{split} holds no readable image; check the folder layout.")
    return Split(np.stack(images), np.asarray(labels, np.int32)), skipped


def decode_image(data: bytes, image_size: int) -> np.ndarray:
    """Decodes to RGB uint8 `[S, S, 3]`, resizing the shorter side and centre-cropping."""
    with Image.open(io.BytesIO(data)) as image:
        return fit_image(image, image_size)


def fit_image(image: Image.Image, image_size: int) -> np.ndarray:
    """RGB uint8 `[S, S, 3]`: the shorter side resized to S, then the centre S x S crop."""
    image = image.convert("RGB")
    w, h = image.size
    if (w, h) != (image_size, image_size):
        scale = image_size / min(w, h)
        nw, nh = max(image_size, round(w * scale)), max(image_size, round(h * scale))
        image = image.resize((nw, nh), Image.BILINEAR)
        left, top = (nw - image_size) // 2, (nh - image_size) // 2
        image = image.crop((left, top, left + image_size, top + image_size))
    return np.asarray(image, dtype=np.uint8)


def _list_files(path: str) -> dict:
    if not os.path.exists(path):
        raise UserError(
            f"Image folder {path} does not exist; pass --config.data.source=folder:PATH."
        )
    entries = _tar_entries(path) if os.path.isfile(path) else _dir_entries(path)
    files: dict = {}
    for parts, read in entries:
        if len(parts) >= 3 and parts[-1].lower().endswith(_EXTENSIONS):
            split, cls, name = parts[-3:]
            files.setdefault(split, {}).setdefault(cls, {})[name] = read
    return files


def _dir_entries(root: str) -> Iterator:
    for dirpath, _, names in os.walk(root):
        rel = os.path.relpath(dirpath, root).split(os.sep)
        for name in names:
            full = os.path.join(dirpath, name)
            yield (*rel, name), functools.partial(_read_file, full)


def _read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _tar_entries(archive: str) -> Iterator:
    try:
        with tarfile.open(archive) as tar:
            for member in tar:
                if member.isfile():
                    data = tar.extractfile(member).read()
                    yield tuple(member.name.split("/")), lambda data=data: data
    except tarfile.TarError as e:
        raise UserError(f"{archive} is not a readable tar archive ({e}); re-download it.") from e
