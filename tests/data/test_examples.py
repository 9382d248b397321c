"""Images of a source of examples, decoded on demand (`natjax.data.examples`)."""

import numpy as np

from natjax.data.examples import ExampleImages


def test_example_images_resize_on_access():
    class Source:
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return {"image": np.full((10, 20, 3), i, np.uint8)}

    images = ExampleImages(Source(), 8)
    assert images.shape == (3, 8, 8, 3)
    np.testing.assert_array_equal(images[np.array([2, 0])][:, 0, 0, 0], [2, 0])
    assert images[1:].shape == (2, 8, 8, 3) and images[-1].shape == (8, 8, 3)
    np.testing.assert_array_equal(images[1], images[np.array([1])][0])
