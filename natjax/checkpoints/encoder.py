"""An encoder as a standalone artifact: `export` writes it, `load_encoder` reads it back.

An export holds `encoder/` (an Orbax checkpoint of params and batch-norm statistics),
`encoder.jax_export` (the forward pass, preprocessing included, serialised by `jax.export`),
`export.json` (its format version, every array's checksum, the function's sha256, and what the
input, the output and each array are: `portable.describe`), `config.json` and `run.json`.
Loading it needs no training code or training state, and verifies the checksums; reading it
needs no natjax at all (docs/running.md, "Reading an export without natjax").
"""

import json
import os
import shutil
import sys
from collections.abc import Callable

import numpy as np
import orbax.checkpoint as ocp

from natjax.checkpoints import checksums, portable, train_state
from natjax.checkpoints.run_files import CONFIG_FILE, RUN_FILE, abstract_variables, read_run
from natjax.errors import UserError
from natjax.models import create_model, features
from natjax.views import model_input_shape

_ENCODER_DIR = "encoder"
MANIFEST = "export.json"
FORMAT, VERSION = "natjax-encoder", 2  # 2: the description and the serialised function.


def export(workdir: str, out: str, step: int | None = None) -> str:
    """Writes the encoder of a run to a standalone directory.

    Args:
      workdir: the training run's directory.
      out: where to write the export; it must not hold one already.
      step: the checkpoint to export (default: the latest).

    Returns:
      `out`, as an absolute path, for `load_encoder`.
    """
    config, image_shape = read_run(workdir)
    like = abstract_variables(config, image_shape)
    variables = train_state.restore_model(workdir, step, like, step_flag="--step")
    out = os.path.abspath(out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise UserError(f"--out={out} is a file; give a directory to write the export into.")
    if os.path.exists(os.path.join(out, _ENCODER_DIR)):
        raise UserError(f"{out} already holds an export; choose another --out or delete it.")
    made = not os.path.exists(out)
    try:
        os.makedirs(out, exist_ok=True)
        _write(workdir, out, variables, config, image_shape)
    except Exception as e:  # noqa: BLE001 (tensorstore reports a full disk as a ValueError)
        if not train_state._failed_write(e):
            raise
        _remove_partial(out, made)
        raise _write_failed(workdir, out, step, e) from e
    return out


_WRITTEN = (_ENCODER_DIR, portable.FUNCTION_FILE, MANIFEST, CONFIG_FILE, RUN_FILE)


def _remove_partial(out: str, made: bool) -> None:
    """Removes what a failed export wrote: `out` itself if it made it, else its own files."""
    if made:
        shutil.rmtree(out, ignore_errors=True)
        return
    for name in _WRITTEN:
        path = os.path.join(out, name)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.exists(path):
            os.remove(path)


def _write_failed(workdir: str, out: str, step: int | None, e: Exception) -> UserError:
    """The sentence for a failed write: the space it takes when the disk is full, else a
    writable place."""
    reason = train_state._reason(e)
    if reason != train_state._NO_SPACE:
        return UserError(
            f"writing the export to {out} failed ({reason}); choose an --out you can write to, "
            "then export again."
        )
    step = train_state.latest_step(workdir) if step is None else step
    model = os.path.join(workdir, "checkpoints", str(step), "model")
    return UserError(
        f"writing the export to {out} failed ({reason}); it takes about "
        f"{train_state._size(model) / 1e6:.1f} MB: free space or choose another --out, "
        "then export again."
    )


def _write(workdir: str, out: str, variables: dict, config, image_shape: tuple) -> None:
    with ocp.StandardCheckpointer() as ckptr:
        ckptr.save(os.path.join(out, _ENCODER_DIR), variables)
    for name in (CONFIG_FILE, RUN_FILE):
        shutil.copy(os.path.join(workdir, name), os.path.join(out, name))
    crop = model_input_shape(image_shape, config.input.crop_size)[0]
    exported = portable.forward(config, image_shape, crop, variables)
    blob = bytes(exported.serialize())
    with open(os.path.join(out, portable.FUNCTION_FILE), "wb") as f:
        f.write(blob)
    sums = checksums.of(variables)
    dim = exported.out_avals[0].shape[-1]
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        **portable.describe(config, image_shape, crop, dim, sums),
        "function": portable.function_entry(blob),
        "checksums": sums,
    }
    with open(os.path.join(out, MANIFEST), "w") as f:
        json.dump(manifest, f, indent=2)


def _verify(path: str, variables: dict) -> None:
    """Raises a UserError unless every array has the checksum `export.json` gives it; says
    in one line if the export has none (natjax before checksums wrote it)."""
    manifest = os.path.join(path, MANIFEST)
    if not os.path.exists(manifest):
        print(
            f"natjax: the export {path} was written before natjax saved checksums, so it "
            "cannot be verified.",
            file=sys.stderr,
        )
        return
    try:
        with open(manifest) as f:
            saved = json.load(f)
        found = checksums.mismatch(variables, saved["checksums"])
        if not found and "function" in saved:  # Version 2 on.
            found = _check_function(path, saved["function"])
    except (ValueError, KeyError, TypeError, AttributeError):
        found = f"its {MANIFEST} cannot be read"
    if found:
        raise UserError(f"the export {path} is damaged ({found}); export it again.")


def _check_function(path: str, entry: dict) -> str | None:
    try:
        with open(os.path.join(path, portable.FUNCTION_FILE), "rb") as f:
            return portable.check_function(f.read(), entry)
    except FileNotFoundError:
        return f"{portable.FUNCTION_FILE} is missing"


def load_encoder(path: str, batch_size: int = 1024) -> Callable[[np.ndarray], np.ndarray]:
    """The encoder of an export (`export`, or `python -m natjax.export`), as a function.

    Args:
      path: the export's directory (`encoder/`, `config.json`, `run.json`); it needs no
        training code or state, and restores onto this machine's devices.
      batch_size: images encoded at a time.

    Returns:
      `encode(images)`: uint8 `[N, H, W, C]` (the shape of the images the run trained on) to
      float32 features `[N, D]`, the frozen representation the probes measure; other dtypes or
      shapes raise ValueError.

    Raises:
      UserError: `path` is not an export, or its encoder cannot be read.
    """
    config, image_shape = read_run(path)
    with ocp.StandardCheckpointer() as ckptr:
        try:
            variables = ckptr.restore(
                os.path.join(os.path.abspath(path), _ENCODER_DIR),
                abstract_variables(config, image_shape),
            )
        except Exception as e:  # noqa: BLE001 (orbax and tensorstore raise many kinds)
            reason = train_state._first_line(e)
            raise UserError(f"{path} holds no readable encoder ({reason}); export it again.") from e
    _verify(path, variables)
    crop = model_input_shape(image_shape, config.input.crop_size)[0]
    encode_fn = features.make_encode_fn(create_model(config), crop)  # Compiled on first call.

    def encode(images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.shape[1:] != image_shape:
            expected = ", ".join(map(str, image_shape))
            raise ValueError(
                f"encode takes uint8 images [N, {expected}]; got {images.dtype} {images.shape}."
            )
        return features.extract(encode_fn, variables, images, batch_size)

    return encode
