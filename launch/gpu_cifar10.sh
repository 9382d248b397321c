#!/usr/bin/env bash
# One GPU measurement of NAT on CIFAR-10 (ResNet-18, bfloat16), under 10 minutes per call.
#   RUN=loop (default): the input pipeline, the step benchmark (ResNet-18 and AlexNet-BN, then
#     ResNet-50), a short training run (does the loop run at the step's speed, what does the
#     monitor cost?) and the decoding threads on 256 px JPEGs (can they feed AlexNet-BN?).
#   RUN=paper | strong | supervised: one long run of the `cifar10` preset (the paper's recipe),
#     of `cifar10_strong`, or of `cifar10` with labels; EPOCHS (default 100) epochs, then the
#     linear, MLP and kNN probes with the random-init and raw-pixel baselines.
# Each stage runs under its own time limit; JSON and the run's curves go to $OUT, the logs as
# one tarball; a short table is printed last.
#
# Prepare, in the repository root (CARRY must be ignored by git, e.g. in .git/info/exclude):
#   mkdir -p .carry && cp ../shared/wheels/*.whl ../shared/data/cifar10-jpeg.tar.gz .carry/
# then, through the device tool: RUN=paper bash launch/gpu_cifar10.sh   (carry .carry)
# Rehearse on a CPU with tiny sizes: QUICK=1 OUT=/tmp/gpu-out bash launch/gpu_cifar10.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/natjax-gpu}
CARRY=${CARRY:-.carry}
RUN=${RUN:-loop}
source_arg=--config.data.source=folder:$CARRY/cifar10-jpeg.tar.gz
common=(--config.progress_bar=False --config.checkpoint.every_steps=0)
if [ -n "${QUICK:-}" ]; then  # A CPU rehearsal: the small convnet on 1,024 images.
  EPOCHS=${EPOCHS:-2}
  common+=(--config.model.encoder=small_convnet --config.data.max_train_examples=1024
    --config.data.max_test_examples=512 --config.batch_size=128 --config.eval.mlp.epochs=1)
  step_only=small_convnet resnet50="" input_preset=cifar10_cpu repeats=3 decode_threads=1,2
else
  EPOCHS=${EPOCHS:-100}
  common+=(--config.model.dtype=bfloat16)
  step_only=resnet18,alexnet_bn resnet50=resnet50 input_preset=cifar10 repeats=20
  decode_threads=1,4,8,16  # Can the host's cores decode ImageNet as fast as AlexNet-BN trains?
fi

BUDGET=${BUDGET:-560} source launch/stages.sh
train() {  # train NAME SECONDS PRESET [ARGS...]: a run in /tmp/NAME; its results to $OUT.
  local name=$1 limit=$2 preset=$3
  shift 3
  rm -rf "/tmp/$name"  # A fresh run, not the resumption of an earlier one.
  stage "$name" "$limit" python -m natjax.main --config="configs/nat.py:$preset" \
    --workdir="/tmp/$name" "$source_arg" "${common[@]}" "$@"
  [ -f "/tmp/$name/summary.json" ] && cp "/tmp/$name/summary.json" "$OUT/$name.summary.json"
  [ -f "/tmp/$name/metrics.jsonl" ] && cp "/tmp/$name/metrics.jsonl" "$OUT/logs/$name.metrics.jsonl"
  [ -f "/tmp/$name/figures/curves.png" ] && cp "/tmp/$name/figures/curves.png" "$OUT/$name.curves.png"
}
probes="--config.eval.protocols=('linear','mlp','knn','baselines')"

stage versions 60 python -c "import jax, jaxlib; print(jax.__version__, jaxlib.__version__, jax.devices())"
case "$RUN" in
  loop)
    stage input 130 python -m natjax.bench input --only "$input_preset" \
      --data "folder:$CARRY/cifar10-jpeg.tar.gz" --json "$OUT/bench-input.json"
    stage step 150 python -m natjax.bench step --only "$step_only" --dtype bfloat16 \
      --batch 256 --repeats "$repeats" --json "$OUT/bench-step.json"
    train loop 120 cifar10 --config.num_epochs=5 --config.eval.protocols="('knn',)"
    stage decode 45 python -m natjax.bench decode --only "$decode_threads" \
      --json "$OUT/bench-decode.json"
    [ -n "$resnet50" ] && stage step_resnet50 150 python -m natjax.bench step --only resnet50 \
      --dtype bfloat16 --repeats 10 --json "$OUT/bench-step-resnet50.json"
    ;;
  paper) train paper 540 cifar10 --config.num_epochs="$EPOCHS" "$probes" ;;
  strong) train strong 540 cifar10_strong --config.num_epochs="$EPOCHS" "$probes" ;;
  supervised)
    train supervised 540 cifar10 --config.objective=supervised --config.num_epochs="$EPOCHS" \
      "$probes"
    ;;
  *) echo "RUN=$RUN: use loop, paper, strong or supervised" && exit 2 ;;
esac

tar czf "$OUT/logs.tar.gz" -C "$OUT" logs && rm -rf "$OUT/logs"
compgen -G "$OUT/bench-*.json" >/dev/null && python -m natjax.bench.summary "$OUT"/bench-*.json
for f in "$OUT"/*.summary.json; do
  [ -f "$f" ] || continue
  python - "$f" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
keys = [k for k in s if k.endswith("top1")] + ["train_seconds", "monitor_seconds",
    "images_per_second", "final_loss", "steps"]
print(sys.argv[1].rsplit("/", 1)[-1])
for k in keys:
    if k in s:
        print(f"  {k:<34} {s[k]:.4f}" if isinstance(s[k], float) else f"  {k:<34} {s[k]}")
EOF
done
