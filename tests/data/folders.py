"""Image folders made on the fly, as `folder:PATH` sources read them."""

import io
import os
import tarfile

from PIL import Image


def png(colour, size=6, fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, fmt)
    return buf.getvalue()


def make_folder(root, corrupt=False, fmt="PNG"):
    """`root/{train,test}/{cat,dog}/*.png`: 3 red cats and 3 blue dogs to train, 2 of each to
    test; with `corrupt`, one training file that is no image. `fmt="BMP"` stores raw pixels,
    which no checksum guards (a PNG's CRCs find a changed byte)."""
    for split, count in (("train", 3), ("test", 2)):
        for cls, colour in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))):
            os.makedirs(root / split / cls, exist_ok=True)
            for i in range(count):
                (root / split / cls / f"{i}.{fmt.lower()}").write_bytes(png(colour, fmt=fmt))
    if corrupt:
        (root / "train" / "dog" / "bad.png").write_bytes(b"not an image")
    return root


def archive(root, path, compresslevel=9):
    """`root` as the tar archive `path` (`.tar` or `.tar.gz`), its members in sorted order and
    each a single header, as GNU tar writes them (Python's default, PAX, adds one before each)."""
    mode = "w:gz" if str(path).endswith(".gz") else "w"
    kwargs = {"compresslevel": compresslevel} if mode == "w:gz" else {}
    with tarfile.open(path, mode, format=tarfile.GNU_FORMAT, **kwargs) as tar:
        tar.add(root, arcname=root.name)
    return path
