"""Image-folder datasets: `ROOT/<split>/<class>/<image>`, as a directory or a .tar(.gz) archive.

Labels come from the sorted class-folder names and are used only for evaluation. Ids follow the
sorted (class, file name) order, so they are stable across runs and machines. Files that cannot be
decoded are skipped with a warning and counted, so one bad file does not end a long run. An
archive is read whole, to its end, so that a damaged one is one sentence, not images that are
missing or changed.
"""

import functools
import io
import logging
import lzma
import os
import tarfile
import zlib
from collections.abc import Callable, Iterator

import numpy as np
from PIL import Image

from natjax.data.decode import DecodedImages, map_in_order
from natjax.data.types import Dataset, Split
from natjax.errors import UserError

_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".ppm", ".pgm")


def load_folder_dataset(
    path: str,
    train_split: str,
    test_split: str,
    image_size: int,
    workers: int = 1,
    in_memory_bytes: int = 2 << 30,
) -> tuple[Dataset, int]:
    """Loads both splits; returns the dataset and the number of undecodable files skipped.

    A split whose decoded images fit in `in_memory_bytes` is decoded at once; a larger one
    stays files, decoded on demand (`DecodedImages`). Both decode on `workers` threads."""
    files = _list_files(path)  # {split: {class: {file name: bytes reader}}}
    missing = [s for s in (train_split, test_split) if s not in files]
    if missing:
        raise UserError(
            f"{path} has no {missing[0]!r} folder; an image folder holds "
            f"{train_split}/<class>/<image> and {test_split}/<class>/<image>."
        )
    classes = sorted(files[train_split])
    _warn_untrained_classes(files[test_split], classes, path, train_split, test_split)
    skipped = 0
    splits = {}
    for split in (train_split, test_split):
        listed = _listed(files[split], classes)
        if not listed:
            raise UserError(f"{path}/{split} holds no image; check the folder layout.")
        if len(listed) * image_size * image_size * 3 > in_memory_bytes:
            splits[split] = _lazy_split(listed, image_size, workers)
            continue
        splits[split], bad = _decode_split(listed, image_size, path, split, workers)
        skipped += bad
    name = os.path.basename(path.rstrip("/")).split(".")[0]
    dataset = Dataset(name, splits[train_split], splits[test_split], num_classes=len(classes))
    return dataset, skipped


def _warn_untrained_classes(by_class: dict, classes: list, path, train_split, test_split):
    """Test images of a class that has no training image have no label the probes know: they
    are left out, with one line saying so."""
    untrained = sorted(set(by_class) - set(classes))
    if untrained:
        counts = ", ".join(f"{cls}: {len(by_class[cls])}" for cls in untrained)
        logging.warning(
            "Leaving out %d test images of classes with no training image (%s); add their "
            "images to %s/%s/<class> or remove them from %s/%s.",
            sum(len(by_class[cls]) for cls in untrained),
            counts,
            path,
            train_split,
            path,
            test_split,
        )


def _listed(by_class: dict, classes: list) -> list[tuple[int, str, Callable]]:
    """`(label, "class/file", reader)` in (class, file name) order: the ids' order."""
    return [
        (label, f"{cls}/{name}", read)
        for label, cls in enumerate(classes)
        for name, read in sorted(by_class.get(cls, {}).items())
    ]


def _decode_split(listed, image_size, path, split, workers) -> tuple[Split, int]:
    def decode(entry):
        try:
            return decode_image(entry[2](), image_size)
        except (OSError, ValueError) as e:
            logging.warning("Skipping %s/%s/%s: %s", path, split, entry[1], e)
            return None

    decoded = map_in_order(decode, listed, workers)
    keep = [i for i, image in enumerate(decoded) if image is not None]
    if not keep:
        raise UserError(f"{path}/{split} holds no readable image; check the folder layout.")
    images = np.stack([decoded[i] for i in keep])
    labels = np.asarray([listed[i][0] for i in keep], np.int32)
    return Split(images, labels), len(listed) - len(keep)


def _lazy_split(listed, image_size, workers) -> Split:
    """The split as files decoded when read; its labels, from the folder names, in memory."""
    readers, names = [entry[2] for entry in listed], [entry[1] for entry in listed]

    def decode(i: int) -> np.ndarray:
        try:
            return decode_image(readers[i](), image_size)
        except (OSError, ValueError) as e:  # Named, for the warning that it reads as black.
            raise ValueError(f"{names[i]}: {e}") from e

    images = DecodedImages(decode, len(listed), image_size, workers)
    return Split(images, np.asarray([entry[0] for entry in listed], np.int32))


def decode_image(data: bytes, image_size: int) -> np.ndarray:
    """Decodes to RGB uint8 `[S, S, 3]`, resizing the shorter side and centre-cropping."""
    with Image.open(io.BytesIO(data)) as image:
        return fit_image(image, image_size)


def fit_image(image: Image.Image, image_size: int, mode: str = "RGB") -> np.ndarray:
    """uint8 `[S, S, 3]` (`mode` "RGB") or `[S, S]` ("L", gray by ITU-R 601 luma): the shorter
    side resized to S, then the centre S x S crop."""
    image = image.convert(mode)
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


def _tar_entries(archive: str) -> list:
    """Every file member, read whole: an archive is read once, to its end, so that a damaged
    one is found here and not as images that are missing or changed."""
    try:
        with tarfile.open(archive, tarinfo=_CheckedHeader) as tar:
            entries = [
                (tuple(member.name.split("/")), _bytes_reader(tar.extractfile(member).read()))
                for member in tar
                if member.isfile()
            ]
            _read_to_the_end(tar)
    except _DAMAGED as e:
        raise _damaged(archive, e) from e
    return entries


def _bytes_reader(data: bytes) -> Callable[[], bytes]:
    return lambda: data


# What reading a damaged archive raises: tar's own errors (a bad header checksum, data that ends
# early), a corrupt deflate stream (zlib), a gzip stream that ends early (EOFError) or fails its
# CRC (gzip.BadGzipFile, an OSError, as bz2's errors are), a corrupt xz stream (lzma).
_DAMAGED = (tarfile.TarError, zlib.error, EOFError, OSError, lzma.LZMAError)
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


class _CheckedHeader(tarfile.TarInfo):
    """A tar header that fails loudly: `tarfile` takes a header that fails its checksum or
    stops short, past the first member, for the archive's end, and drops the rest unsaid."""

    @classmethod
    def frombuf(cls, buf, encoding, errors):
        try:
            return super().frombuf(buf, encoding, errors)
        except (tarfile.InvalidHeaderError, tarfile.TruncatedHeaderError) as e:
            raise tarfile.ReadError(f"a damaged tar header: {e}") from e


def _read_to_the_end(tar: tarfile.TarFile) -> None:
    """Reads what follows the last member, which must be zeros: a compressed stream checks its
    CRC only at its end, so a byte changed inside a member is found only there. The members
    were read already, so this reads the end-of-archive padding alone."""
    while chunk := tar.fileobj.read(1 << 20):
        if chunk.strip(b"\0"):
            raise tarfile.ReadError("data after the end-of-archive marker")


def _damaged(archive: str, e: Exception) -> UserError:
    """The one sentence for an archive that cannot be read, by what its first bytes say."""
    with open(archive, "rb") as f:
        head = f.read(512)
    if not head.startswith(_COMPRESSED_MAGIC) and head[257:262] != b"ustar":
        return UserError(
            f"{archive} is neither an image folder nor a .tar(.gz) archive of one; pass "
            "--config.data.source=folder:PATH with a folder or an archive of one."
        )
    why = f" ({e})" if str(e) and "\n" not in str(e) else ""  # Not tarfile's list of openers.
    return UserError(f"{archive} is truncated or damaged{why}; download or copy it again.")
