#!/usr/bin/env bash
# A model (MODEL, default ganomaly) on MNIST leave-one-out, every digit (or DIGITS): AUROC of
# the last epoch and of the best epoch by validation loss (normal-only validation data; never
# best on test).
#
#   MODEL=skip-ganomaly scripts/results_mnist_leave_one_out.sh [DATA_DIR] [OUT_DIR]
#
# Budget (2 CPU cores): MAX_TRAIN training images (a seeded subset of the ~54 000 normal
# training images), EPOCHS epochs, MAX_TEST test images (a seeded subset). Override with the
# environment variables of the same names; the paper's budget is MAX_TRAIN=all EPOCHS=15 MAX_TEST=all.
set -euo pipefail
DATA=${1:-../shared/data/mnist}
MODEL=${MODEL:-ganomaly}
DIGITS=${DIGITS:-0 1 2 3 4 5 6 7 8 9}
OUT=${2:-runs/$MODEL-mnist}
EPOCHS=${EPOCHS:-5}
MAX_TRAIN=${MAX_TRAIN:-4000}
MAX_TEST=${MAX_TEST:-5000}
SEED=${SEED:-0}
BIN=${ODDITY:-target/release/oddity}
limits=()
# MODEL_CONFIG: a JSON file of hyper-parameter overrides (for reduced budgets), recorded in each run.
[ -n "${MODEL_CONFIG:-}" ] && limits+=(--model-config "$MODEL_CONFIG")
[ "$MAX_TRAIN" != all ] && limits+=(--max-train "$MAX_TRAIN")
[ "$MAX_TEST" != all ] && limits+=(--max-test "$MAX_TEST")
for digit in $DIGITS; do
  run="$OUT/digit$digit"
  if [ ! -f "$run/eval-last/metrics.json" ]; then
    "$BIN" train --model "$MODEL" --dataset mnist --data "$DATA" --protocol leave-one-out \
      --class "$digit" --epochs "$EPOCHS" --seed "$SEED" "${limits[@]}" --out "$run" --quiet
    "$BIN" eval "$run" --checkpoint best > /dev/null
    "$BIN" eval "$run" --checkpoint last > /dev/null
  fi
done
python3 scripts/results_table.py "$OUT" \
  "$MODEL, MNIST leave-one-out (anomaly digit), seed $SEED, $EPOCHS epochs, max_train=$MAX_TRAIN, max_test=$MAX_TEST"
