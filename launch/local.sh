#!/usr/bin/env bash
# Train NAT on this machine, on all its devices.
#   launch/local.sh [PRESET] [WORKDIR] [--config.key=value ...]
# e.g. launch/local.sh smoke runs/smoke --config.num_epochs=1
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-default}
workdir=${2:-runs/${preset}}
shift $(( $# < 2 ? $# : 2 ))
exec python -m natjax.main --config="configs/nat.py:${preset}" --workdir="${workdir}" "$@"
