"""Images decoded on demand (`natjax.data.decode`)."""

import numpy as np
import pytest

from natjax.data.decode import DecodedImages, default_workers, map_in_order


def test_map_in_order_keeps_the_order_on_any_number_of_threads():
    items = list(range(50))
    for workers in (1, 3):
        assert map_in_order(lambda x: x * x, items, workers) == [x * x for x in items]
    assert default_workers() >= 1


def test_decoded_images_index_like_an_array_and_a_bad_row_reads_black(caplog):
    def decode(i):
        if i == 2:
            raise ValueError("broken")
        return np.full((3, 3, 3), i, np.uint8)

    images = DecodedImages(decode, 4, 3, workers=2)
    assert len(images) == 4 and images.shape == (4, 3, 3, 3) and images.dtype == np.uint8
    assert images[[3, 0]][:, 0, 0, 0].tolist() == [3, 0]
    assert images[1:].shape == (3, 3, 3, 3) and images[np.array([[0, 1]])].shape == (1, 2, 3, 3, 3)
    assert not images[2].any() and "cannot be decoded" in caplog.text
    assert not images[[2, 2]].any() and caplog.text.count("cannot be decoded") == 1
    assert "(1 such image(s) so far in this process)" in caplog.text
    assert images[[]].shape == (0, 3, 3, 3)


def test_one_id_is_the_decoders_own_array_as_grain_reads_a_source():
    decoded = [np.full((2, 2, 3), i, np.uint8) for i in range(3)]
    images = DecodedImages(decoded.__getitem__, 3, 2, workers=2)
    assert images[1] is decoded[1] and images[np.int64(2)] is decoded[2]
    assert images[-1] is decoded[2] and images[[1]].shape == (1, 2, 2, 3)
    ids = []  # The decoder sees ids in [0, n), as it does for arrays of ids.
    counted = DecodedImages(lambda i: ids.append(i) or decoded[i], 3, 2, workers=1)
    assert counted[-3] is decoded[0] and ids == [0]
    with pytest.raises(IndexError):
        counted[3]
