"""Image folders made on the fly, as `folder:PATH` sources read them."""

import io
import os

from PIL import Image


def png(colour, size=6) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "PNG")
    return buf.getvalue()


def make_folder(root, corrupt=False):
    """`root/{train,test}/{cat,dog}/*.png`: 3 red cats and 3 blue dogs to train, 2 of each to
    test; with `corrupt`, one training file that is no image."""
    for split, count in (("train", 3), ("test", 2)):
        for cls, colour in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))):
            os.makedirs(root / split / cls, exist_ok=True)
            for i in range(count):
                (root / split / cls / f"{i}.png").write_bytes(png(colour))
    if corrupt:
        (root / "train" / "dog" / "bad.png").write_bytes(b"not an image")
    return root
