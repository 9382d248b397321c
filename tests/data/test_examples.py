"""Images of a source of examples (`natjax.data.examples`): resized when read, held in memory
where they fit, and a damaged image black with a warning, in memory or not."""

import numpy as np

from natjax.data.decode import DecodedImages
from natjax.data.examples import example_images


class Source:
    """3 examples of 10 x 20 images of the value i; example 1's image is bytes of no image."""

    def __len__(self):
        return 3

    def __getitem__(self, i):
        return {"image": b"no image" if i == 1 else np.full((10, 20, 3), i, np.uint8)}


def test_example_images_resize_on_access_or_at_once_where_they_fit(caplog):
    lazy = example_images(Source(), 8)
    assert isinstance(lazy, DecodedImages) and lazy.shape == (3, 8, 8, 3)
    np.testing.assert_array_equal(lazy[np.array([2, 0])][:, 0, 0, 0], [2, 0])
    assert lazy[1:].shape == (2, 8, 8, 3) and lazy[-1].shape == (8, 8, 3)
    np.testing.assert_array_equal(lazy[2], lazy[np.array([2])][0])
    whole = example_images(Source(), 8, in_memory_bytes=3 * 8 * 8 * 3)
    assert isinstance(whole, np.ndarray) and whole.dtype == np.uint8
    np.testing.assert_array_equal(whole, lazy[:])
    assert not whole[1].any() and "Image 1 cannot be decoded" in caplog.text
