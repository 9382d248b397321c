"""Another dataset's images as an encoder's input (`natjax.data.convert`): resized like the
loaders fit images, RGB to gray by luma and gray to RGB, converted row by row when read."""

import numpy as np

from natjax.data import Dataset, Split, convert_dataset
from natjax.data.convert import ConvertedImages, convert_image


def test_rgb_becomes_gray_by_luma_and_gray_becomes_rgb():
    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 255
    gray = convert_image(red, (28, 28, 1))
    assert gray.shape == (28, 28, 1) and gray.dtype == np.uint8
    assert np.all(gray == 76)  # 0.299 * 255, ITU-R 601.
    rgb = convert_image(np.full((28, 28, 1), 100, np.uint8), (32, 32, 3))
    assert rgb.shape == (32, 32, 3) and np.all(rgb == 100)


def test_resizing_keeps_the_centre_square_of_a_wide_image():
    wide = np.zeros((10, 20, 3), np.uint8)
    wide[:, 5:15] = 255  # A white centre square between black bands.
    out = convert_image(wide, (5, 5, 3))
    assert out.shape == (5, 5, 3) and out[:, 1:4].min() > 200  # Edges blend bilinearly.


def test_converted_images_read_like_an_array():
    base = np.arange(4 * 8 * 8, dtype=np.uint8).reshape(4, 8, 8, 1)
    images = ConvertedImages(base, (6, 6, 3))
    assert images.shape == (4, 6, 6, 3) and images.dtype == np.uint8 and len(images) == 4
    rows = images[[3, 1]]
    assert rows.shape == (2, 6, 6, 3)
    np.testing.assert_array_equal(rows[0], convert_image(base[3], (6, 6, 3)))
    assert images[1:3].shape == (2, 6, 6, 3) and images[2].shape == (6, 6, 3)
    assert images[np.zeros(0, int)].shape == (0, 6, 6, 3)


def test_a_dataset_already_of_the_shape_is_left_as_it_is():
    split = Split(np.zeros((3, 8, 8, 1), np.uint8), np.arange(3))
    same = Dataset("toy", split, split, 3)
    assert convert_dataset(same, (8, 8, 1)) == same
    other = convert_dataset(same, (4, 4, 3))
    assert other.image_shape == (4, 4, 3) and other.train.labels is split.labels
