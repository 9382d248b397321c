#!/usr/bin/env bash
# One GPU measurement of NAT among its successors on CIFAR-10 (ResNet-18, bfloat16), under
# 10 minutes in one call:
#   train: every objective of OBJECTIVES trained EPOCHS epochs on the PRESET preset, side by side
#     (one process each on the one GPU, so their train times are shared, not their own), then
#     each evaluated with the linear, MLP and kNN probes;
#   table: `natjax.ablate` reads those runs back and adds the random-init and raw-pixel rows;
#   step: `natjax.bench step` on ResNet-18 at batch 256, alone on the GPU: every objective's
#     views/s over the supervised step's, and NAT's re-assignment on its own.
# Each stage runs under its own time limit; JSON, tables and the logs go to $OUT; a short table
# is printed last.
#
# Prepare, in the repository root (CARRY must be ignored by git, e.g. in .git/info/exclude):
#   mkdir -p .carry && cp ../shared/wheels/*.whl ../shared/data/cifar10-jpeg.tar.gz .carry/
# then, through the device tool: bash launch/gpu_objectives.sh   (carry .carry)
# Rehearse on a CPU with tiny sizes: QUICK=1 OUT=/tmp/gpu-out bash launch/gpu_objectives.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/natjax-gpu}
CARRY=${CARRY:-.carry}
OBJECTIVES=${OBJECTIVES:-nat,supervised,simclr,rotation,instdisc,simsiam,byol,moco,swav,deepcluster}
PRESET=${PRESET:-cifar10_strong}  # Raw RGB and strong views for every objective alike.
WORK=${WORK:-/tmp/objectives}
common=(--config.data.source="folder:$CARRY/cifar10-jpeg.tar.gz" --config.progress_bar=False
  --config.checkpoint.every_steps=0 --config.eval.monitor_every_epochs=0
  --config.log_every_steps=20)
if [ -n "${QUICK:-}" ]; then  # A CPU rehearsal: the small convnet on 1,024 images.
  EPOCHS=${EPOCHS:-1}
  common+=(--config.model.encoder=small_convnet --config.data.max_train_examples=1024
    --config.data.max_test_examples=512 --config.batch_size=128 --config.eval.mlp.epochs=1
    --config.data.decode_workers=1)
  step=(--only small_convnet --repeats 3) memory=""
else
  # The first call (2026-11-26, 5 epochs) ran out of its 380 s with no run finished, and did
  # not yet keep the runs' metrics to show how far they got; this one does.
  EPOCHS=${EPOCHS:-3}
  common+=(--config.model.dtype=bfloat16 --config.data.decode_workers=2)
  step=(--only resnet18 --dtype bfloat16 --batch 256 --repeats 10)
  memory=0.08  # Of the GPU's memory per process: ten runs side by side.
fi
common+=(--config.num_epochs="$EPOCHS")
probes="--config.eval.protocols=('linear','mlp','knn')"  # As natjax.ablate evaluates.

BUDGET=${BUDGET:-575} source launch/stages.sh
side_by_side() {  # side_by_side SECONDS: every objective's run at once, each in $WORK/NAME.
  local limit=$1 name
  rm -rf "$WORK" && mkdir -p "$WORK"
  echo "== train ($(date +%T), limit ${limit}s, side by side)"
  for name in ${OBJECTIVES//,/ }; do
    (
      XLA_PYTHON_CLIENT_MEM_FRACTION=${memory:-0.75} timeout "$limit" python -m natjax.main \
        --config="configs/nat.py:$PRESET" --workdir="$WORK/$name" --config.objective="$name" \
        "${common[@]}" "$probes" >"$OUT/logs/train_$name.log" 2>&1
      echo "train_$name rc=$? $((SECONDS - start))s" | tee -a "$OUT/logs/status.txt"
    ) &
  done
  wait
}

stage versions 60 python -c "import jax, jaxlib; print(jax.__version__, jaxlib.__version__, jax.devices())"
side_by_side 380
done=$(for name in ${OBJECTIVES//,/ }; do
  [ -f "$WORK/$name/summary.json" ] && printf '%s,' "$name"
done)
[ -n "$done" ] && stage table 90 python -m natjax.ablate --config="configs/nat.py:$PRESET" \
  --workdir="$WORK" --variants="${done%,}" "${common[@]}"
[ -f "$WORK/ablation.md" ] && cp "$WORK/ablation.md" "$WORK/ablation.json" "$OUT/"
for name in ${OBJECTIVES//,/ }; do  # How far each run got, finished or not.
  for f in summary.json metrics.jsonl; do
    [ -f "$WORK/$name/$f" ] && cp "$WORK/$name/$f" "$OUT/logs/$name.$f"
  done
done
stage step 200 python -m natjax.bench step "${step[@]}" --json "$OUT/bench-step.json"

tar czf "$OUT/logs.tar.gz" -C "$OUT" logs && rm -rf "$OUT/logs"
if [ -f "$OUT/bench-step.json" ]; then
  python -m natjax.bench.summary "$OUT/bench-step.json"
  python - "$OUT/bench-step.json" <<'EOF'
import json, sys
for row in json.load(open(sys.argv[1]))["rows"]:
    ratios = ", ".join(f"{k} {v:.3f}" for k, v in row.get("views_vs_supervised", {}).items())
    print(f"{row['encoder']} views/s over supervised: {ratios}")
EOF
fi
[ -f "$OUT/ablation.md" ] && echo "CIFAR-10, $PRESET, $EPOCHS epochs side by side" && cat "$OUT/ablation.md"
