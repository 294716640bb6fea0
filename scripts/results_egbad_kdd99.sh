#!/usr/bin/env bash
# EGBAD on KDDCUP99 under its paper's protocol (train on the attacks of a seeded half, test with
# ~20 % `normal.` traffic as the anomaly, flag the top 20 % of test scores), paper configuration
# (lr 1e-5, batch 50, moving average 0.9999, fm score, w = 0.1), both without feature scaling
# (the official code's accident) and with standardisation (the run default).
#
#   scripts/results_egbad_kdd99.sh [SHARED_DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-runs/egbad-kdd99}
BIN=${ODDITY:-target/release/oddity}
SEED=${SEED:-0}
EPOCHS=${EPOCHS:-50}

for scaling in none standardise; do
  run="$OUT/$scaling-seed$SEED"
  if [ ! -f "$run/eval-last/metrics.json" ]; then
    "$BIN" train --model egbad --dataset kdd99 --data "$DATA/kddcup99" --protocol kdd99 \
      --scaling "$scaling" --epochs "$EPOCHS" --seed "$SEED" --out "$run" --quiet
    "$BIN" eval "$run" --checkpoint last > /dev/null
    "$BIN" eval "$run" --checkpoint best > /dev/null
  fi
  for ckpt in last best; do
    "$BIN" metrics --scores "$run/eval-$ckpt/scores.csv" --score-percentile 80 \
      --json "$run/eval-$ckpt/paper-threshold.json" > /dev/null
    python3 - "$run" "$ckpt" "$scaling" <<'PY'
import json, sys
run, ckpt, scaling = sys.argv[1:]
p = json.load(open(f"{run}/eval-{ckpt}/paper-threshold.json"))
m = json.load(open(f"{run}/eval-{ckpt}/metrics.json"))
log = json.load(open(f"{run}/train-log.json"))
epoch = len(log["epochs"]) if ckpt == "last" else log["best_epoch"]
print(f"| {scaling} | {ckpt} (epoch {epoch}) | {p['precision']:.4f} | {p['recall']:.4f} | {p['f1']:.4f} | {m['f1']:.4f} | {m['auroc']:.4f} |")
PY
  done
done
