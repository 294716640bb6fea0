#!/usr/bin/env bash
# ALAD with its official Arrhythmia networks on Arrhythmia (the ODDS copy in fixtures/arrhythmia):
# tabular protocol (60 % of the normals train, 10 % of those validate), test anomalies
# subsampled to 15 % of the test set (the data set's own rate, which the paper's 85th-percentile
# threshold assumes), features standardised on the training rows. Prints one row per seed and
# checkpoint: F1 at the paper's threshold (85th percentile of the test scores), F1 at ours (95th
# percentile of normal validation scores), AUROC.
#
#   SEEDS="0 1 2" SPECTRAL="true false" scripts/results_alad_arrhythmia.sh [OUT_DIR]
set -euo pipefail
OUT=${1:-runs/alad-arrhythmia}
BIN=${ODDITY:-target/release/oddity}
SEEDS=${SEEDS:-0 1 2}
SPECTRAL=${SPECTRAL:-true false}
DATA=fixtures/arrhythmia/arrhythmia.npz

echo "| spectral norm | seed | checkpoint | F1 (paper's thr.) | F1 (our thr.) | AUROC |"
echo "|---|---|---|---|---|---|"
for sn in $SPECTRAL; do
  for seed in $SEEDS; do
    run="$OUT/sn-$sn-seed$seed"
    if [ ! -f "$run/eval-best/metrics.json" ]; then
      mkdir -p "$run"
      echo "{\"networks\": \"arrhythmia\", \"spectral_norm\": $sn}" > "$run.json"
      "$BIN" train --model alad --model-config "$run.json" --dataset adbench --data "$DATA" \
        --protocol tabular --test-anomaly-fraction 0.15 --seed "$seed" --out "$run" --quiet
      "$BIN" eval "$run" --checkpoint last > /dev/null
      "$BIN" eval "$run" --checkpoint best > /dev/null
    fi
    for ckpt in last best; do
      "$BIN" metrics --scores "$run/eval-$ckpt/scores.csv" --score-percentile 85 \
        --json "$run/eval-$ckpt/paper-threshold.json" > /dev/null
      python3 - "$run" "$ckpt" "$sn" "$seed" <<'PY'
import json, sys
run, ckpt, sn, seed = sys.argv[1:]
p = json.load(open(f"{run}/eval-{ckpt}/paper-threshold.json"))
m = json.load(open(f"{run}/eval-{ckpt}/metrics.json"))
log = json.load(open(f"{run}/train-log.json"))
epoch = len(log["epochs"]) if ckpt == "last" else log["best_epoch"]
print(f"| {sn} | {seed} | {ckpt} (epoch {epoch}) | {p['f1']:.4f} | {m['f1']:.4f} | {m['auroc']:.4f} |")
PY
    done
  done
done
