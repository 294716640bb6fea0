#!/usr/bin/env bash
# GOAD one-class on CIFAR-10, every class, against the paper's per-class AUROC (mean 0.882),
# with the official image settings (`{"preset": "cifar10"}`: GEOM's 72 transformations, the
# code's WRN-10-4, margin 0.1, feature penalty 10, batches of 4 images, 16 epochs, BatchNorm on
# running statistics from epoch 2) at a budget this machine can give: WRN-DEPTH-WIDEN (the
# paper: 10-4), EPOCHS (16), MAX_TRAIN training images a class (all 5 000), MAX_TEST test
# images (all 10 000), seeds SEEDS. Scaled to [−1, 1], 32 × 32. Prints AUROC per class and the
# seconds of one epoch, to plan a full run (several SEEDS: the mean ± the std of the seeds'
# means, and each seed's mean). The last epoch is scored, as the code does.
#
#   WIDEN=1 EPOCHS=2 MAX_TRAIN=300 MAX_TEST=500 SEEDS="0" scripts/results_goad_images.sh [SHARED_DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-runs/goad-cifar10}
BIN=${ODDITY:-target/release/oddity}
DEPTH=${DEPTH:-10}
WIDEN=${WIDEN:-4}
EPOCHS=${EPOCHS:-16}
MAX_TRAIN=${MAX_TRAIN:-}
MAX_TEST=${MAX_TEST:-}
SEEDS=${SEEDS:-0}
SOURCE=${CIFAR_DIR:-runs/cifar10-jpeg}
if [ ! -d "$SOURCE/cifar10_jpg" ]; then
  mkdir -p "$SOURCE"
  tar xzf "$DATA/cifar10-jpeg.tar.gz" -C "$SOURCE"
fi
mkdir -p "$OUT"
budget="wrn$DEPTH-$WIDEN-e$EPOCHS-n${MAX_TRAIN:-all}-t${MAX_TEST:-all}"
echo "{\"preset\": \"cifar10\", \"depth\": $DEPTH, \"widen\": $WIDEN, \"epochs\": $EPOCHS}" > "$OUT/$budget.json"
limits=()
[ -n "$MAX_TRAIN" ] && limits+=(--max-train "$MAX_TRAIN")
[ -n "$MAX_TEST" ] && limits+=(--max-test "$MAX_TEST")
for k in 0 1 2 3 4 5 6 7 8 9; do
  for seed in $SEEDS; do
    run="$OUT/$budget-class$k-seed$seed"
    if [ ! -f "$run/run.json" ]; then
      rm -rf "$run" "$(dirname "$run")/.$(basename "$run").partial"  # and a stopped run's staging folder
      "$BIN" train --model goad --model-config "$OUT/$budget.json" --dataset cifar10 \
        --data "$SOURCE" --protocol one-class --class "$k" --scaling minus-one-to-one \
        "${limits[@]}" --seed "$seed" --out "$run" --quiet > /dev/null 2>&1
    fi
    [ -f "$run/eval-last/metrics.json" ] || "$BIN" eval "$run" --checkpoint last > /dev/null
  done
done
SCRIPTS_DIR=$(dirname "$0") python3 - "$OUT" "$budget" $SEEDS <<'PY'
import json, os, statistics, sys
sys.path.insert(0, os.path.join(os.environ["SCRIPTS_DIR"], "lib"))
from seeds import over_seeds
out, budget, seeds = sys.argv[1], sys.argv[2], sys.argv[3:]
paper = [77.2, 96.7, 83.3, 77.7, 87.8, 87.8, 90.0, 96.1, 93.8, 92.0]
print("| class | AUROC | paper | seconds an epoch |")
print("|---|---|---|---|")
means, per_unit = [], []
for k in range(10):
    runs = [f"{out}/{budget}-class{k}-seed{s}" for s in seeds]
    a = [json.load(open(f"{r}/eval-last/metrics.json"))["auroc"] for r in runs]
    secs = statistics.mean(e["train_seconds"] for r in runs for e in json.load(open(f"{r}/train-log.json"))["epochs"])
    means.append(statistics.mean(a))
    per_unit.append(a)
    sd = f" ± {statistics.stdev(a):.4f}" if len(a) > 1 else ""
    print(f"| {k} | {means[-1]:.4f}{sd} | {paper[k] / 100:.3f} | {secs:.0f} |")
mean, seed_means = over_seeds(per_unit)
print(f"| **mean** | **{mean}** | **0.882** | |")
if len(seeds) > 1:
    print(f"\nMean of the ten classes, seed by seed ({', '.join(seeds)}): {seed_means}")
PY
