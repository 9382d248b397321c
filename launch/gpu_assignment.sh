#!/usr/bin/env bash
# One GPU measurement of the re-assignment: the auction variants and host solvers on every score
# family and size, NAT's scores after training, and the train step with re-assignment. Each stage
# runs under its own time limit and writes JSON under $OUT; the logs come back as one tarball;
# a short table is printed last. About 8 minutes on one H100.
#
# Prepare, in the repository root (CARRY must be ignored by git, e.g. in .git/info/exclude):
#   mkdir -p .carry && cp ../shared/wheels/*.whl .carry/
#   cp -r /usr/share/datasets/fashion-mnist .carry/      # Debian's dataset-fashion-mnist
# then, through the device tool: bash launch/gpu_assignment.sh   (carry .carry)
# Rehearse on a CPU with tiny sizes: QUICK=1 OUT=/tmp/gpu-out bash launch/gpu_assignment.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/natjax-gpu}
CARRY=${CARRY:-.carry}
mkdir -p "$OUT/logs"
if compgen -G "$CARRY/*.whl" >/dev/null; then
  pip install -q --no-index --no-deps --target /tmp/site "$CARRY"/*.whl || echo "wheels not installed"
  export PYTHONPATH=/tmp/site:$PWD
fi
data=()
[ -d "$CARRY/fashion-mnist" ] && data=(--data "idx:$CARRY/fashion-mnist")
train_data=()
[ -d "$CARRY/fashion-mnist" ] && train_data=(--config.data.source="idx:$CARRY/fashion-mnist")

if [ -n "${QUICK:-}" ]; then
  small=(64 128) large=() epochs=1 preset=smoke step_only=small_convnet repeats=3
else
  small=(256 1024 4096) large=(16384) epochs=3 preset=default step_only=resnet18 repeats=20
fi
pallas=auction,xla,xla_check_every_round,cold,pallas_k8,pallas_k16,pallas_k32,pallas_k64
synthetic=random,nat_init,ties,duplicated,constant

stage() {  # stage NAME SECONDS COMMAND...: log to $OUT/logs/NAME.log, status to status.txt.
  local name=$1 limit=$2
  shift 2
  echo "== $name ($(date +%T))"
  timeout "$limit" "$@" >"$OUT/logs/$name.log" 2>&1
  echo "$name rc=$?" | tee -a "$OUT/logs/status.txt"
}

stage versions 120 python -c "import jax, jaxlib; print(jax.__version__, jaxlib.__version__, jax.devices())"
for b in "${small[@]}"; do
  stage "assignment_$b" 150 python -m natjax.bench assignment --only "$b" --scores "$synthetic" \
    --variants "$pallas" "${data[@]}" --json "$OUT/assignment_$b.json"
done
for b in "${large[@]}"; do
  stage "assignment_$b" 150 python -m natjax.bench assignment --only "$b" --scores "$synthetic" \
    --variants auction,xla,cold "${data[@]}" --json "$OUT/assignment_$b.json"
done
stage train 150 python -m natjax.main --config="configs/nat.py:$preset" --workdir=/tmp/nat-run \
  --config.num_epochs="$epochs" --config.eval.monitor_every_epochs=0 \
  --config.eval.protocols=knn --config.progress_bar=False "${train_data[@]}"
sizes=$(IFS=,; echo "${small[*]}")
stage assignment_trained 120 python -m natjax.bench assignment --only "$sizes" \
  --scores nat_trained --workdir /tmp/nat-run --variants "$pallas" "${data[@]}" \
  --json "$OUT/assignment_trained.json"
stage step 200 python -m natjax.bench step --only "$step_only" --dtype bfloat16 \
  --repeats "$repeats" --json "$OUT/step.json"

tar czf "$OUT/logs.tar.gz" -C "$OUT" logs && rm -rf "$OUT/logs"
python -m natjax.bench.summary "$OUT"/*.json
