#!/usr/bin/env bash
# A model on KDDCUP99 under the EGBAD/ALAD protocol (train on the attacks of a seeded half, test
# with ~20 % `normal.` traffic as the anomaly, flag the top 20 % of test scores), the model's
# default (paper) configuration, without feature scaling (the official EGBAD/ALAD code's
# accident) and with standardisation (the run default). Prints one table row per scaling and
# checkpoint: precision / recall / F1 at the papers' threshold, F1 at ours, AUROC.
#
#   MODEL=egbad [MODEL_CONFIG=file.json] [SEED=0] [CHECKPOINTS="last best"] scripts/results_kdd99.sh [SHARED_DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data}
MODEL=${MODEL:-egbad}
OUT=${2:-runs/$MODEL-kdd99}
BIN=${ODDITY:-target/release/oddity}
SEED=${SEED:-0}
EPOCHS=${EPOCHS:-50}
SCALINGS=${SCALINGS:-none standardise}
CHECKPOINTS=${CHECKPOINTS:-last best}
extra=()
[ -n "${MODEL_CONFIG:-}" ] && extra+=(--model-config "$MODEL_CONFIG")

for scaling in $SCALINGS; do
  run="$OUT/$scaling-seed$SEED"
  if [ ! -f "$run/run.json" ]; then
    "$BIN" train --model "$MODEL" --dataset kdd99 --data "$DATA/kddcup99" --protocol kdd99 \
      --scaling "$scaling" --epochs "$EPOCHS" --seed "$SEED" "${extra[@]}" --out "$run" --quiet
  fi
  for ckpt in $CHECKPOINTS; do
    if [ ! -f "$run/eval-$ckpt/metrics.json" ]; then
      "$BIN" eval "$run" --checkpoint "$ckpt" > /dev/null
    fi
    "$BIN" metrics --scores "$run/eval-$ckpt/scores.csv" --score-percentile 80 \
      --json "$run/eval-$ckpt/paper-threshold.json" > /dev/null
    python3 - "$run" "$ckpt" "$scaling" <<'PY'
import json, sys
run, ckpt, scaling = sys.argv[1:]
p = json.load(open(f"{run}/eval-{ckpt}/paper-threshold.json"))
m = json.load(open(f"{run}/eval-{ckpt}/metrics.json"))
log = json.load(open(f"{run}/train-log.json"))
epoch = len(log["epochs"]) if ckpt == "last" else log["best_epoch"]
print(f"| {scaling} | {run.rsplit('seed', 1)[1]} | {ckpt} (epoch {epoch}) | {p['precision']:.4f} | {p['recall']:.4f} | {p['f1']:.4f} | {m['f1']:.4f} | {m['auroc']:.4f} |")
PY
  done
done
