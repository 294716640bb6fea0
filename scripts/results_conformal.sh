#!/usr/bin/env bash
# Conformal false-alarm rates realised on held-out normals, four data sets × SEEDS seeds: the
# autoencoder trained on normal data, p-values from its normal validation split, and the share
# of *test* normals with p ≤ α for α = 0.01, 0.05, 0.1 (eval's metrics.json `false_alarms`,
# last checkpoint: its validation scores were never used to fit or choose the weights). The
# guarantee: at most α in expectation, ⌊α(n+1)⌋/(n+1) exactly for continuous scores.
#
#   SEEDS="0 1 2" scripts/results_conformal.sh [OUT_DIR]
set -euo pipefail
OUT=${1:-runs/conformal}
BIN=${ODDITY:-target/release/oddity}
SEEDS=${SEEDS:-0 1 2}
SHARED=${SHARED:-../shared/data}
run_one() { # name, extra train arguments…
  local name=$1; shift
  for seed in $SEEDS; do
    local run="$OUT/$name-seed$seed"
    if [ ! -f "$run/eval-last/metrics.json" ]; then
      rm -rf "$run" "$(dirname "$run")/.$(basename "$run").partial"  # and a stopped run's staging folder
      "$BIN" train --model autoencoder "$@" --seed "$seed" --out "$run" --quiet > /dev/null
      "$BIN" eval "$run" --checkpoint last > /dev/null
    fi
  done
}
run_one mnist-0 --dataset mnist --data "$SHARED/mnist" --protocol one-class --class 0 \
  --max-train 2000 --epochs 5
run_one fashion-mnist-0 --dataset fashion-mnist --data "$SHARED/fashion-mnist" \
  --protocol one-class --class 0 --max-train 2000 --epochs 5
run_one shuttle --dataset adbench --data "$SHARED/adbench-classical/32_shuttle.npz" \
  --protocol tabular --epochs 5
run_one kdd99 --dataset kdd99 --data "$SHARED/kddcup99/kddcup.data_10_percent.gz" \
  --protocol kdd99 --max-train 20000 --epochs 5
python3 - "$OUT" $SEEDS <<'PY'
import json, sys, statistics
out, seeds = sys.argv[1], sys.argv[2:]
print("| data set | validation normals | test normals | α | expected | realised, mean ± std over seeds | max |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name in ["mnist-0", "fashion-mnist-0", "shuttle", "kdd99"]:
    runs = [json.load(open(f"{out}/{name}-seed{s}/eval-last/metrics.json")) for s in seeds]
    cal = [len(json.load(open(f"{out}/{name}-seed{s}/calibration.json"))["last"]) for s in seeds]
    normals = runs[0]["samples"] - runs[0]["anomalies"]
    for k, rate in enumerate(runs[0]["false_alarms"]):
        realised = [r["false_alarms"][k]["realised"] for r in runs]
        std = statistics.stdev(realised) if len(realised) > 1 else 0.0
        print(f"| {name} | {cal[0]} | {normals} | {rate['alpha']} | {rate['expected']:.4f} | "
              f"{statistics.mean(realised):.4f} ± {std:.4f} | {max(realised):.4f} |")
PY
