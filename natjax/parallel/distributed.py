"""Multi-host runs: joining JAX's distributed runtime, and checking that the hosts agree."""

import hashlib
import os

import jax
import numpy as np
from jax.experimental import multihost_utils
from ml_collections import ConfigDict

from natjax.errors import UserError


def in_cluster(environ=os.environ) -> bool:
    """True in a multi-process SLURM job or on a multi-host Cloud TPU slice, where
    `jax.distributed.initialize()` finds the coordinator and this process's index itself."""
    slurm = int(environ.get("SLURM_NTASKS", "1")) > 1 and "SLURM_JOB_ID" in environ
    tpu = "," in environ.get("TPU_WORKER_HOSTNAMES", "")
    return slurm or tpu


def initialize(coordinator: str | None, num_processes: int | None, process_id: int | None):
    """Joins the distributed runtime: from the flags when given, else from the cluster's
    environment; a single process on one machine needs neither."""
    if coordinator or num_processes:
        if not (coordinator and num_processes and process_id is not None):
            raise UserError(
                "a multi-host run needs all of --coordinator_address=HOST:PORT, "
                "--num_processes=N and --process_id=I (from 0 to N-1)."
            )
        jax.distributed.initialize(coordinator, num_processes, process_id)
    elif in_cluster():
        jax.distributed.initialize()


def _sha256(text: str) -> np.ndarray:
    return np.frombuffer(hashlib.sha256(text.encode()).digest(), np.uint8)


def differing_processes(text: str) -> list[int]:
    """The processes whose `text` differs from process 0's (compared by digest)."""
    if jax.process_count() == 1:
        return []
    digests = multihost_utils.process_allgather(_sha256(text))  # [processes, 32]
    return [i for i, d in enumerate(digests) if not np.array_equal(d, digests[0])]


def check_same_config(config: ConfigDict) -> None:
    """Every process must run the same config (a host launched with other flags would train
    on other batches and deadlock or silently diverge)."""
    if differ := differing_processes(config.to_json_best_effort(sort_keys=True)):
        raise UserError(
            f"the hosts disagree on the config (process {', '.join(map(str, differ))} differs "
            "from process 0); launch every host with the same --config flags."
        )


def check_same_assignment(digest: str) -> None:
    """Every process must end with the same assignment (its `assignment_sha256`)."""
    if differ := differing_processes(digest):
        raise RuntimeError(f"processes {differ} ended with another assignment than process 0.")
