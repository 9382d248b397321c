#!/usr/bin/env bash
# Train NAT on a Cloud TPU VM pod slice: installs natjax on every worker, then starts the same
# command on all of them. JAX finds the other workers itself (jax.distributed.initialize()).
#   launch/tpu_pod.sh TPU_NAME ZONE [PRESET] [WORKDIR] [--config.key=value ...]
# e.g. launch/tpu_pod.sh my-v4-32 us-central2-b imagenet gs://my-bucket/nat
# WORKDIR must be shared by all workers (a gs:// bucket); --config.data.source must be readable
# from every worker (e.g. tfds with TFDS_DATA_DIR=gs://...).
set -euo pipefail
tpu=${1:?TPU name}
zone=${2:?zone}
preset=${3:-imagenet}
workdir=${4:?workdir shared by all workers, e.g. gs://bucket/nat}
shift $(( $# < 4 ? $# : 4 ))
repo=${NATJAX_REPO:-https://github.com/natjax/natjax.git}
gcloud compute tpus tpu-vm ssh "${tpu}" --zone="${zone}" --worker=all --command="
  set -e
  [ -d natjax ] || git clone ${repo} natjax
  cd natjax && git pull --ff-only && pip install -q -e '.[tfds]' 'jax[tpu]'
  python -m natjax.main --config=configs/nat.py:${preset} --workdir=${workdir} $*
"
