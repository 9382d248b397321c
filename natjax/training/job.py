"""The training job: set up, train (resuming from the latest checkpoint), evaluate, report."""

import hashlib
import json
import os

import jax
import numpy as np
from ml_collections import ConfigDict

from natjax import checkpoints, evaluation
from natjax.evaluation import figures
from natjax.parallel import distributed, sharding
from natjax.training import finetune, preemption
from natjax.training.config_checks import FINETUNE, check_resume_config
from natjax.training.loop import initial_state, train
from natjax.training.run import setup

SUMMARY_FILE = "summary.json"


def assignment_sha256(perm: jax.Array) -> str:
    """SHA-256 of the permutation's int32 bytes: equal runs give equal digests."""
    return hashlib.sha256(np.asarray(perm, np.int32).tobytes()).hexdigest()


def train_and_evaluate(
    config: ConfigDict, workdir: str, allow_change: tuple[str, ...] = ()
) -> dict:
    """Trains `config.objective` into `workdir`, evaluates the frozen encoder, draws the run's
    figures and writes `summary.json`.

    Args:
      config: a run config (`configs/nat.py`), with its objective's recipe applied where
        wanted (`natjax.objectives.apply_recipe`; the command line does it).
      workdir: where the checkpoints and results go; a workdir with checkpoints of the same
        config resumes from the latest.
      allow_change: config keys (or prefixes ending in ".") a resume may change on purpose
        (`--allow_change`); what changed is recorded in `run.json`.

    Returns:
      The summary: the evaluation's figures, the training's timing, the final loss and the
      final assignment's digest (`assignment_sha256`).
    """
    run = setup(config, workdir)
    with checkpoints.workdir_lock(workdir):
        return _train_and_evaluate(run, workdir, allow_change)


def _evaluate(run, state, workdir: str) -> dict:
    """The frozen encoder's figures (and the fine-tunes' where asked), written to the workdir,
    and the run's figures drawn."""
    config = run.config
    variables = sharding.to_local({"params": state.params, "batch_stats": state.batch_stats})
    summary = evaluation.evaluate_model(config, run.model, variables, run.dataset)
    if FINETUNE in config.eval.protocols:
        pretrained = finetune.Pretrained(config, variables, int(state.step), run.dataset, workdir)
        summary.update(finetune.top1s(pretrained))
    evaluation.write_results(workdir, int(state.step), summary)
    if jax.process_index() == 0:
        summary["figures"] = figures.draw_all(
            workdir, config, run.model, variables, run.dataset, run.step_cfg.crop_size
        )
    return summary


def _train_and_evaluate(run, workdir: str, allow_change: tuple[str, ...]) -> dict:
    config = run.config
    saved, changes = checkpoints.saved_config(workdir), None
    if saved is not None:
        changed = check_resume_config(saved, config, workdir, tuple(allow_change))
        changes = {"step": checkpoints.latest_step(workdir), "keys": changed} if changed else None
    checkpoints.write_run(workdir, config, run.dataset, changes)
    manager = checkpoints.create_manager(workdir, max_to_keep=config.checkpoint.keep)
    state = initial_state(run, manager)
    state, facts = train(run, state, manager)
    with preemption.after_training(int(state.step), str(manager.directory)):
        summary = _evaluate(run, state, workdir)
    digest = assignment_sha256(sharding.to_local(state.perm))  # This process's own copy.
    distributed.check_same_assignment(digest)
    summary.update(
        facts,
        assignment_sha256=digest,
        steps=int(state.step),
        num_train_examples=len(run.dataset.train),
        devices=jax.device_count(),
        processes=jax.process_count(),
    )
    if jax.process_index() == 0:
        with open(os.path.join(workdir, SUMMARY_FILE), "w") as f:
            json.dump(summary, f, indent=2)
        print(evaluation.format_results("NAT results", summary))
    return summary
