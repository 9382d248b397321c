import gzip
import io
import os
import tarfile

import numpy as np
import pytest
from PIL import Image

from configs.nat import get_config
from conftest import make_idx_dataset, write_idx
from natjax import data
from natjax.data.idx import read_idx
from natjax.errors import UserError


def test_read_idx_round_trips(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(str(tmp_path / "x.gz"), array)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "x.gz")), array)


def test_truncated_idx_is_reported(tmp_path):
    write_idx(str(tmp_path / "x.gz"), np.zeros((4, 4), np.uint8))
    with gzip.open(tmp_path / "x.gz") as f:
        raw = f.read()[:-3]
    with gzip.open(tmp_path / "y.gz", "wb") as f:
        f.write(raw)
    with pytest.raises(UserError, match="truncated"):
        read_idx(str(tmp_path / "y.gz"))


def test_idx_source_and_example_limits(tmp_path):
    config = get_config().data
    config.source = "idx:" + make_idx_dataset(str(tmp_path))
    config.max_train_examples = 50
    dataset = data.load(config)
    assert dataset.image_shape == (12, 12, 1)
    assert len(dataset.train) == 50 and len(dataset.test) == 40
    assert dataset.train.images.dtype == np.uint8 and dataset.train.labels.dtype == np.int32


def _with(config, **changes):
    config = config.copy_and_resolve_references()
    config.update(changes)
    return config


def test_example_limits_draw_a_seeded_subset_that_keeps_every_class(tmp_path):
    """A folder is stored class by class: its first 3 training images are all cats, while a
    random subset of 3 (the default) holds both classes; the same seed draws the same images."""
    config = get_config().data
    config.source = f"folder:{make_folder(tmp_path / 'pets')}"
    config.image_size = 4
    config.update(max_train_examples=3, max_test_examples=2)
    first = data.load(_with(config, subset="first"))
    assert first.train.labels.tolist() == [0, 0, 0]
    drawn = [data.load(config) for _ in range(2)]
    assert len(drawn[0].train) == 3 and len(drawn[0].test) == 2
    assert set(drawn[0].train.labels.tolist()) == {0, 1}
    np.testing.assert_array_equal(drawn[0].train.images, drawn[1].train.images)
    seeds = {tuple(data.load(_with(config, subset_seed=s)).train.labels) for s in range(8)}
    assert len(seeds) > 1  # The seed picks the subset.


def test_missing_idx_files_say_how_to_install(tmp_path):
    config = get_config().data
    config.source = f"idx:{tmp_path}"
    with pytest.raises(UserError, match="apt-get install dataset-fashion-mnist"):
        data.load(config)


def test_unknown_source_is_named():
    config = get_config().data
    config.source = "s3://bucket"
    with pytest.raises(UserError, match="not a data source"):
        data.load(config)


def png(colour, size=6) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "PNG")
    return buf.getvalue()


def make_folder(root, corrupt=False):
    for split, count in (("train", 3), ("test", 2)):
        for cls, colour in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))):
            os.makedirs(root / split / cls, exist_ok=True)
            for i in range(count):
                (root / split / cls / f"{i}.png").write_bytes(png(colour))
    if corrupt:
        (root / "train" / "dog" / "bad.png").write_bytes(b"not an image")
    return root


def test_folder_dataset_labels_ids_and_resizing(tmp_path):
    config = get_config().data
    config.source = f"folder:{make_folder(tmp_path / 'pets')}"
    config.image_size = 4
    dataset = data.load(config)
    assert dataset.num_classes == 2 and dataset.image_shape == (4, 4, 3)
    np.testing.assert_array_equal(dataset.train.labels, [0, 0, 0, 1, 1, 1])  # Sorted classes.
    assert dataset.train.images[0, 0, 0].tolist() == [255, 0, 0]
    assert dataset.train.images[-1, 0, 0].tolist() == [0, 0, 255]


def test_folder_from_tar_archive_skips_corrupt_files(tmp_path, caplog):
    root = make_folder(tmp_path / "pets", corrupt=True)
    archive = tmp_path / "pets.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="pets")
    config = get_config().data
    config.source = f"folder:{archive}"
    config.image_size = 6
    dataset = data.load(config)
    assert len(dataset.train) == 6 and len(dataset.test) == 4
    assert "Skipped 1 image" in caplog.text


def test_folder_without_split_says_what_layout_is_expected(tmp_path):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.png").write_bytes(png((0, 0, 0)))
    config = get_config().data
    config.source = f"folder:{tmp_path / 'flat'}"
    with pytest.raises(UserError, match="train/<class>/<image>"):
        data.load(config)


def test_epoch_order_is_a_deterministic_permutation():
    ids = data.epoch_ids(103, 10, seed=7, epoch=2)
    assert ids.shape == (10, 10) and ids.dtype == np.int32
    assert len(np.unique(ids)) == 100 and ids.max() < 103
    np.testing.assert_array_equal(ids, data.epoch_ids(103, 10, seed=7, epoch=2))
    assert not np.array_equal(ids, data.epoch_ids(103, 10, seed=7, epoch=3))


def test_a_folder_too_large_for_memory_is_decoded_on_demand_like_the_in_memory_one(
    tmp_path, caplog
):
    """The same ids, labels and pixels either way, on 1 or 3 threads; a file found bad only
    when read reads as black with a warning (the in-memory load skips it at load)."""
    from natjax.data.folder import load_folder_dataset

    root = str(make_folder(tmp_path / "pets"))
    eager, _ = load_folder_dataset(root, "train", "test", 4, workers=3)
    for workers in (1, 3):
        lazy, skipped = load_folder_dataset(root, "train", "test", 4, workers, in_memory_bytes=0)
        assert skipped == 0 and not isinstance(lazy.train.images, np.ndarray)
        np.testing.assert_array_equal(lazy.train.labels, eager.train.labels)
        np.testing.assert_array_equal(lazy.train.images[:], eager.train.images)
        np.testing.assert_array_equal(lazy.train.images[[5, 0]], eager.train.images[[5, 0]])
        assert lazy.train.images[np.array([[1, 2], [3, 4]])].shape == (2, 2, 4, 4, 3)
    (tmp_path / "pets" / "train" / "dog" / "2.png").write_bytes(b"broken")
    lazy, _ = load_folder_dataset(root, "train", "test", 4, 2, in_memory_bytes=0)
    assert len(lazy.train) == 6 and not lazy.train.images[5].any()
    assert "cannot be decoded" in caplog.text


def test_decode_bench_writes_jpegs_and_times_each_thread_count():
    from natjax.bench import decode

    rows = decode.run(workers=(1, 2), n=16, side=32, batch=8, batches=1)
    assert [r["workers"] for r in rows] == [1, 2]
    assert all(r["images_per_second"] > 0 and r["mean_file_bytes"] > 100 for r in rows)
    table = decode.format_table(rows)
    assert f"| 32 | {rows[0]['mean_file_bytes'] / 1e3:.0f} KB |" in table and "1.00x" in table
