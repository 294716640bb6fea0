#!/usr/bin/env bash
# ALAD with its official CIFAR-10 networks, one-class (class k normal, every other class
# anomalous; test = CIFAR-10's test split, 10 % normal), images in [−1, 1], fm score. The data is
# the JPEG copy in ../shared/data (unpacked to CIFAR_DIR). Prints one row per class: AUROC of
# the last and of the best-by-validation epoch.
#
#   CLASSES="0 1 2" EPOCHS=5 MAX_TRAIN=1000 MAX_TEST=2000 scripts/results_alad_cifar10.sh [SHARED_DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-runs/alad-cifar10}
BIN=${ODDITY:-target/release/oddity}
SEED=${SEED:-0}
EPOCHS=${EPOCHS:-5}
CLASSES=${CLASSES:-0 1 2 3 4 5 6 7 8 9}
CIFAR_DIR=${CIFAR_DIR:-runs/cifar10-jpeg}
limits=()
[ -n "${MAX_TRAIN:-}" ] && limits+=(--max-train "$MAX_TRAIN")
[ -n "${MAX_TEST:-}" ] && limits+=(--max-test "$MAX_TEST")

if [ ! -d "$CIFAR_DIR/cifar10_jpg" ]; then
  mkdir -p "$CIFAR_DIR"
  tar xzf "$DATA/cifar10-jpeg.tar.gz" -C "$CIFAR_DIR"
fi
mkdir -p "$OUT"
echo '{"networks": "cifar10"}' > "$OUT/alad-cifar10.json"
echo "| normal class | AUROC (last) | AUROC (best by val.) | best epoch |"
echo "|---|---|---|---|"
for k in $CLASSES; do
  run="$OUT/class$k-seed$SEED"
  if [ ! -f "$run/eval-best/metrics.json" ]; then
    "$BIN" train --model alad --model-config "$OUT/alad-cifar10.json" --dataset cifar10 \
      --data "$CIFAR_DIR" --protocol one-class --class "$k" --scaling minus-one-to-one \
      --epochs "$EPOCHS" --seed "$SEED" "${limits[@]}" --out "$run" --quiet
    "$BIN" eval "$run" --checkpoint last > /dev/null
    "$BIN" eval "$run" --checkpoint best > /dev/null
  fi
  python3 - "$run" "$k" <<'PY'
import json, sys
run, k = sys.argv[1:]
last = json.load(open(f"{run}/eval-last/metrics.json"))["auroc"]
best = json.load(open(f"{run}/eval-best/metrics.json"))["auroc"]
log = json.load(open(f"{run}/train-log.json"))
print(f"| {k} | {last:.4f} | {best:.4f} | {log['best_epoch']} |")
PY
done
