#!/usr/bin/env bash
# GEOM one-class on Fashion-MNIST (DATASET=fashion-mnist, default) or CIFAR-10
# (DATASET=cifar10), every class, against the paper's means (0.935 / 0.860), at a budget this
# machine can give: WRN-DEPTH-WIDEN (the paper: 10-4), EPOCHS of the 72-fold training set (the
# paper: 3), MAX_TRAIN training images a class (the paper: all ~6 000 / 5 000), MAX_TEST test
# images (the paper: all 10 000), seeds SEEDS. Scaled to [−1, 1], 32 × 32 (Fashion-MNIST
# resized from 28). Prints AUROC per class for the Dirichlet score and the simplified one
# (rescored from the same run), and the seconds of one 72-fold epoch, to plan a full run;
# with several SEEDS, the mean ± the std of the seeds' means, and each seed's mean.
#
#   WIDEN=1 MAX_TRAIN=1000 MAX_TEST=2000 SEEDS="0" scripts/results_geom.sh [SHARED_DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data}
DATASET=${DATASET:-fashion-mnist}
OUT=${2:-runs/geom-$DATASET}
BIN=${ODDITY:-target/release/oddity}
DEPTH=${DEPTH:-10}
WIDEN=${WIDEN:-4}
EPOCHS=${EPOCHS:-3}
MAX_TRAIN=${MAX_TRAIN:-}
MAX_TEST=${MAX_TEST:-}
SEEDS=${SEEDS:-0}
if [ "$DATASET" = cifar10 ]; then
  SOURCE=${CIFAR_DIR:-runs/cifar10-jpeg}
  if [ ! -d "$SOURCE/cifar10_jpg" ]; then
    mkdir -p "$SOURCE"
    tar xzf "$DATA/cifar10-jpeg.tar.gz" -C "$SOURCE"
  fi
else
  SOURCE="$DATA/$DATASET"
fi
mkdir -p "$OUT"
budget="wrn$DEPTH-$WIDEN-e$EPOCHS-n${MAX_TRAIN:-all}-t${MAX_TEST:-all}"
echo "{\"depth\": $DEPTH, \"widen\": $WIDEN, \"epochs\": $EPOCHS}" > "$OUT/$budget.json"
echo '{"score": "simplified"}' > "$OUT/simplified.json"
limits=()
[ -n "$MAX_TRAIN" ] && limits+=(--max-train "$MAX_TRAIN")
[ -n "$MAX_TEST" ] && limits+=(--max-test "$MAX_TEST")
for k in 0 1 2 3 4 5 6 7 8 9; do
  for seed in $SEEDS; do
    run="$OUT/$budget-class$k-seed$seed"
    if [ ! -f "$run/run.json" ]; then
      rm -rf "$run" "$(dirname "$run")/.$(basename "$run").partial"  # and a stopped run's staging folder
      "$BIN" train --model geom --model-config "$OUT/$budget.json" --dataset "$DATASET" \
        --data "$SOURCE" --protocol one-class --class "$k" --scaling minus-one-to-one \
        "${limits[@]}" --seed "$seed" --out "$run" --quiet > /dev/null 2>&1
    fi
    [ -f "$run/eval-last/metrics.json" ] || "$BIN" eval "$run" --checkpoint last > /dev/null
    [ -f "$run/eval-last-simplified/metrics.json" ] ||
      "$BIN" eval "$run" --checkpoint last --model-config "$OUT/simplified.json" > /dev/null
  done
done
SCRIPTS_DIR=$(dirname "$0") python3 - "$OUT" "$budget" "$DATASET" $SEEDS <<'PY'
import json, os, statistics, sys
sys.path.insert(0, os.path.join(os.environ["SCRIPTS_DIR"], "lib"))
from seeds import over_seeds
out, budget, dataset, seeds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
paper = {"cifar10": [74.7, 95.7, 78.1, 72.4, 87.8, 87.8, 83.4, 95.5, 93.3, 91.3], "fashion-mnist": None}[dataset]
anchor = {"cifar10": 0.860, "fashion-mnist": 0.935}[dataset]
print(f"| class | Dirichlet score | simplified score | paper | seconds a 72-fold epoch |")
print("|---|---|---|---|---|")
dir_means, simple_means, dir_runs, simple_runs = [], [], [], []
def metric(run, folder):
    return json.load(open(f"{run}/{folder}/metrics.json"))["auroc"]
for k in range(10):
    runs = [f"{out}/{budget}-class{k}-seed{s}" for s in seeds]
    d = [metric(r, "eval-last") for r in runs]
    s = [metric(r, "eval-last-simplified") for r in runs]
    secs = statistics.mean(e["train_seconds"] for r in runs for e in json.load(open(f"{r}/train-log.json"))["epochs"])
    dir_means.append(statistics.mean(d)); simple_means.append(statistics.mean(s))
    dir_runs.append(d); simple_runs.append(s)
    sd = lambda v: f" ± {statistics.stdev(v):.4f}" if len(v) > 1 else ""
    p = f"{paper[k] / 100:.3f}" if paper else "–"
    print(f"| {k} | {dir_means[-1]:.4f}{sd(d)} | {simple_means[-1]:.4f}{sd(s)} | {p} | {secs:.0f} |")
(dir_mean, dir_seeds), (simple_mean, simple_seeds) = over_seeds(dir_runs), over_seeds(simple_runs)
print(f"| **mean** | **{dir_mean}** | **{simple_mean}** | **{anchor:.3f}** | |")
if len(seeds) > 1:
    print(f"\nMean of the ten classes, seed by seed ({', '.join(seeds)}): Dirichlet {dir_seeds}, simplified {simple_seeds}")
PY
