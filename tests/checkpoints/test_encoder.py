"""The exported encoder (`natjax.checkpoints.encoder`): `export` writes a standalone artifact,
`load_encoder` gives back the features the run evaluated, compiled once."""

import json
import logging
import os
import shutil
import subprocess
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

import natjax
from natjax import checkpoints, data
from natjax.errors import UserError
from natjax.models import create_model, features, filters


def test_exported_encoder_reproduces_the_evaluated_features(tiny_run, tmp_path, caplog):
    config, workdir, _ = tiny_run
    out = natjax.export(workdir, str(tmp_path / "export"))
    assert sorted(os.listdir(out)) == [
        "config.json",
        "encoder",
        "encoder.jax_export",
        "export.json",
        "run.json",
    ]
    encode = natjax.load_encoder(out)
    images = data.load(config.data).test.images[:20]
    feats = encode(images)
    assert feats.shape == (20, 6 * 6 * 16) and feats.dtype == np.float32
    manager = checkpoints.create_manager(workdir, create=False)
    model_vars = manager.restore(manager.latest_step()).model
    encode_fn = features.make_encode_fn(create_model(config), 12)
    expected = features.extract(encode_fn, model_vars, images, 8)
    np.testing.assert_allclose(feats, expected, rtol=1e-5, atol=1e-5)
    caplog.clear()
    with jax.log_compiles(), caplog.at_level(logging.WARNING):
        np.testing.assert_array_equal(encode(images), feats)
    assert "Compiling" not in caplog.text  # A second call reuses the compiled encoder.
    with pytest.raises(ValueError, match="uint8 images"):
        encode(images.astype(np.float32))
    with pytest.raises(UserError, match="already holds an export"):
        natjax.export(workdir, out)


def test_an_earlier_step_exports_its_own_encoder(tiny_run, tmp_path):
    config, workdir, _ = tiny_run
    images = data.load(config.data).test.images[:4]
    at_8, at_12 = (
        natjax.load_encoder(natjax.export(workdir, str(tmp_path / str(s)), step=s))(images)
        for s in (8, 12)
    )
    assert not np.array_equal(at_8, at_12)


def test_load_encoder_on_a_non_export_is_one_sentence(tiny_run, tmp_path):
    with pytest.raises(UserError, match="not a natjax workdir or export"):
        natjax.load_encoder(str(tmp_path))
    for name in ("config.json", "run.json"):  # A run's files, and no encoder beside them.
        shutil.copy(os.path.join(tiny_run.workdir, name), tmp_path / name)
    with pytest.raises(UserError, match="holds no readable encoder .*; export it again"):
        natjax.load_encoder(str(tmp_path))


def test_encoding_no_images_gives_no_rows(tiny_run, tmp_path):
    config, workdir, _ = tiny_run
    encode = natjax.load_encoder(natjax.export(workdir, str(tmp_path / "export")))
    none = encode(data.load(config.data).test.images[:0])
    assert none.shape == (0, 6 * 6 * 16) and none.dtype == np.float32


def test_a_truncated_export_is_one_sentence_naming_the_array(tiny_run, tmp_path):
    import glob

    out = natjax.export(tiny_run.workdir, str(tmp_path / "export"))
    files = glob.glob(os.path.join(out, "encoder", "**", "d", "*"), recursive=True)
    os.truncate(max(files, key=os.path.getsize), 1000)
    with pytest.raises(UserError) as refused:
        natjax.load_encoder(out)
    sentence = str(refused.value)
    assert sentence.startswith(f"{out} holds no readable encoder (OUT_OF_RANGE: Error reading")
    assert sentence.endswith("); export it again.") and "<bound method" not in sentence


def test_an_out_that_is_a_file_or_cannot_be_written_is_one_sentence(
    tiny_run, tmp_path, monkeypatch
):
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    with pytest.raises(UserError, match=r"--out=.*notes.txt is a file; give a directory"):
        natjax.export(tiny_run.workdir, str(taken))
    assert taken.read_text() == "mine"

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(ocp.StandardCheckpointer, "save", refused)
    out = str(tmp_path / "export")
    with pytest.raises(UserError) as e:
        natjax.export(tiny_run.workdir, out)
    assert str(e.value) == (
        f"writing the export to {out} failed (Permission denied); choose an --out you can "
        "write to, then export again."
    )
    assert not os.path.exists(out)


def test_an_export_with_flipped_bytes_is_refused_in_one_sentence(tiny_run, tmp_path):
    from tests.checkpoints.test_train_state import flip_bytes

    out = natjax.export(tiny_run.workdir, str(tmp_path / "export"))
    with open(os.path.join(out, "export.json")) as f:
        manifest = json.load(f)
    assert (manifest["format"], manifest["version"]) == ("natjax-encoder", 2)
    assert "params.Dense_0.kernel" in manifest["checksums"]
    flip_bytes(os.path.join(out, "encoder"))
    with pytest.raises(UserError) as refused:
        natjax.load_encoder(out)
    assert str(refused.value) == (
        f"the export {out} is damaged (params.Dense_0.kernel does not match the checksum saved "
        "with it); export it again."
    )
    shutil.rmtree(out)
    out = natjax.export(tiny_run.workdir, out)
    with open(os.path.join(out, "encoder.jax_export"), "r+b") as f:
        f.seek(1000)
        f.write(b"\xff" * 8)
    with pytest.raises(UserError, match=r"is damaged \(encoder.jax_export does not match the"):
        natjax.load_encoder(out)
    with open(os.path.join(out, "export.json"), "w") as f:
        f.write("{garbled")
    with pytest.raises(UserError, match=r"is damaged \(its export.json cannot be read\)"):
        natjax.load_encoder(out)


def test_an_export_onto_a_full_disk_is_one_sentence_and_leaves_nothing(
    tiny_run, tmp_path, monkeypatch
):
    from tests.checkpoints.test_train_state import TENSORSTORE_FULL

    def full(self, *args, **kwargs):
        raise TENSORSTORE_FULL

    monkeypatch.setattr(ocp.StandardCheckpointer, "save", full)
    out = str(tmp_path / "export")
    with pytest.raises(UserError) as refused:
        natjax.export(tiny_run.workdir, out)
    assert str(refused.value).startswith(
        f"writing the export to {out} failed (No space left on device); it takes about 0."
    )
    assert str(refused.value).endswith("free space or choose another --out, then export again.")
    assert not os.path.exists(out)


# Run in a fresh interpreter that cannot import natjax: what a user of another code base has.
_READ_WITHOUT_NATJAX = """
import json, sys
sys.modules["natjax"] = None  # `import natjax` now fails, even where it is installed.
import jax, numpy as np, orbax.checkpoint as ocp
out, images = sys.argv[1], np.load(sys.argv[2])
with open(f"{out}/export.json") as f:
    manifest = json.load(f)
with open(f"{out}/" + manifest["function"]["file"], "rb") as f:
    encode = jax.export.deserialize(f.read())
params = ocp.StandardCheckpointer().restore(f"{out}/encoder")
np.save(sys.argv[3], np.asarray(encode.call(images)))
print(json.dumps({
    "modules": sorted(m for m, v in sys.modules.items() if m.startswith("natjax") and v),
    "arrays": sorted(".".join(map(str, k)) for k in ocp.tree.to_flat_dict(params)),
}))
"""


def test_an_export_is_read_and_run_without_natjax(tiny_run, tmp_path):
    config, workdir, _ = tiny_run
    out = natjax.export(workdir, str(tmp_path / "export"))
    images = data.load(config.data).test.images[:7]  # Not the batch size load_encoder uses.
    np.save(tmp_path / "images.npy", images)
    script = tmp_path / "read.py"
    script.write_text(_READ_WITHOUT_NATJAX)
    done = subprocess.run(
        [sys.executable, str(script), out, str(tmp_path / "images.npy"), str(tmp_path / "f.npy")],
        cwd=tmp_path,  # Not the checkout: its natjax/ is not on the path.
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["modules"] == []
    np.testing.assert_allclose(
        np.load(tmp_path / "f.npy"), natjax.load_encoder(out)(images), rtol=1e-5, atol=1e-5
    )
    with open(os.path.join(out, "export.json")) as f:
        manifest = json.load(f)
    assert sorted(seen["arrays"]) == sorted(manifest["checksums"])  # Plain Orbax reads all.
    assert manifest["input"] == {
        "dtype": "uint8",
        "shape": [None, 12, 12, 1],
        "layout": "NHWC",
        "center_crop": None,
        "scaling": "float32(x) / 255",
        "filter": filters.describe("sobel"),
    }
    assert manifest["output"]["shape"] == [None, 6 * 6 * 16]
    assert "flattened in (h, w, c) order" in manifest["output"]["what"]
    encoder, head = manifest["arrays"]["encoder"], manifest["arrays"]["head"]
    assert "params.encoder.Conv_0.kernel" in encoder and "params.Dense_0.kernel" in head
    assert sorted(encoder + head) == sorted(manifest["checksums"])
