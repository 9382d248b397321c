#!/usr/bin/env bash
# One GPU measurement of the re-assignment: the auction variants and host solvers on every score
# family and size, NAT's scores after training, and the train step with re-assignment. Each stage
# runs under its own time limit and writes JSON under $OUT; the logs come back as one tarball;
# a short table is printed last. At most 9 minutes (BUDGET=540 s for the stages).
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
data=()
[ -d "$CARRY/fashion-mnist" ] && data=(--data "idx:$CARRY/fashion-mnist")
train_data=()
[ -d "$CARRY/fashion-mnist" ] && train_data=(--config.data.source="idx:$CARRY/fashion-mnist")

# The Mosaic GPU kernel (b <= 512, skipped by the benchmark beyond) beside Triton's: the GPU
# default follows what this measures. Off in rehearsals: its CPU interpreter takes ~20 s a solve.
mosaic=,mosaic_gpu_k64
if [ -n "${QUICK:-}" ]; then
  small=(64 128) large=256 huge="" epochs=1 preset=smoke step_only=small_convnet repeats=3 mosaic=
else
  small=(256 1024) large=4096 huge=16384 epochs=3 preset=default step_only=resnet18 repeats=20
fi
every=auction,xla,xla_check_every_round,cold,triton_k8,triton_k16,triton_k32,triton_k64$mosaic
fewer=auction,xla,xla_check_every_round,cold,triton_k8  # At b = 4096 the default has 4 bidders.
synthetic=random,nat_init,ties,duplicated,constant

source launch/stages.sh
assign() {  # assign NAME SECONDS SIZES VARIANTS [ARGS...]: the assignment benchmark.
  local name=$1 limit=$2 sizes=$3 variants=$4
  shift 4
  stage "$name" "$limit" python -m natjax.bench assignment --only "$sizes" --variants "$variants" \
    "${data[@]}" --json "$OUT/$name.json" "$@"
}

# In order of what the goals need most: the step, then b = 256 and 1024, NAT after training,
# then the large sizes.
stage versions 60 python -c "import jax, jaxlib; print(jax.__version__, jaxlib.__version__, jax.devices())"
stage step 120 python -m natjax.bench step --only "$step_only" --dtype bfloat16 \
  --repeats "$repeats" --json "$OUT/step.json"
assign "assignment_${small[0]}" 90 "${small[0]}" "$every" --scores "$synthetic"
assign "assignment_${small[1]}" 100 "${small[1]}" "$every" --scores "$synthetic"
rm -rf /tmp/nat-run  # A fresh run: an earlier one there (another config) would not resume.
stage train 60 python -m natjax.main --config="configs/nat.py:$preset" --workdir=/tmp/nat-run \
  --config.num_epochs="$epochs" --config.eval.monitor_every_epochs=0 \
  --config.eval.protocols=knn --config.progress_bar=False "${train_data[@]}"
assign assignment_trained 60 "${small[0]},${small[1]}" "$every" --scores nat_trained \
  --workdir /tmp/nat-run
assign "assignment_$large" 90 "$large" "$fewer" --scores "$synthetic"
[ -n "$huge" ] && assign "assignment_$huge" 60 "$huge" auction,xla,cold --scores "$synthetic"

tar czf "$OUT/logs.tar.gz" -C "$OUT" logs && rm -rf "$OUT/logs"
python -m natjax.bench.summary "$OUT"/*.json
