#!/usr/bin/env bash
# Deep SVDD (one-class) on MNIST one-class, every digit, the paper's protocol and
# preprocessing (`--scaling gcn-l1`), the official MNIST LeNet and optimiser settings except the
# budget: PRETRAIN autoencoder epochs and SVDD Deep SVDD epochs (the paper: 150 and 150), seeds
# SEEDS. Prints AUROC per digit (mean ± std over seeds) against the paper's Deep SVDD row, the
# seconds a run took, and the mean of the ten digits ± the std of the seeds' means (each
# seed's mean below it). OBJECTIVE=deep-sad trains Deep SAD instead, with LABELLED (0.05)
# labelled anomalies per training sample drawn from the other digits' training images.
# DATASET=cifar10 runs CIFAR-10 one-class (every class) with the official CIFAR-10 LeNet
# (`{"networks": "cifar10"}`; the paper: 350 pretraining epochs, milestone 250) on the JPEG copy
# in the shared data, unpacked to CIFAR_DIR.
#
#   PRETRAIN=20 SVDD=20 SEEDS="0" scripts/results_deep_svdd.sh [SHARED_DATA_DIR] [OUT_DIR]
#   OBJECTIVE=deep-sad PRETRAIN=20 SVDD=20 SEEDS="0" scripts/results_deep_svdd.sh
#   DATASET=cifar10 PRETRAIN=10 SVDD=10 SEEDS="0" scripts/results_deep_svdd.sh ../shared/data runs/deep-svdd-cifar10
set -euo pipefail
DATASET=${DATASET:-mnist}
DATA=${1:-../shared/data}
OUT=${2:-runs/deep-svdd-$DATASET}
BIN=${ODDITY:-target/release/oddity}
case "$DATASET" in
  mnist) PRETRAIN=${PRETRAIN:-150}; networks=mnist; data_dir="$DATA/mnist"; unit=digit ;;
  cifar10)
    PRETRAIN=${PRETRAIN:-350}; networks=cifar10; unit=class
    data_dir=${CIFAR_DIR:-runs/cifar10-jpeg}
    if [ ! -d "$data_dir/cifar10_jpg" ]; then
      mkdir -p "$data_dir"
      tar xzf "$DATA/cifar10-jpeg.tar.gz" -C "$data_dir"
    fi ;;
  *) echo "DATASET must be mnist or cifar10, got $DATASET" >&2; exit 2 ;;
esac
SVDD=${SVDD:-150}
SEEDS=${SEEDS:-0 1 2}
OBJECTIVE=${OBJECTIVE:-one-class}
LABELLED=${LABELLED:-0.05}
mkdir -p "$OUT"
settings="$OUT/budget-$OBJECTIVE-$PRETRAIN-$SVDD.json"
echo "{\"networks\": \"$networks\", \"objective\": \"$OBJECTIVE\", \"pretrain_epochs\": $PRETRAIN, \"svdd_epochs\": $SVDD}" > "$settings"
weak=()
# One-class runs keep their earlier names; the other objectives are named by it.
case "$OBJECTIVE" in
  one-class) tag=$PRETRAIN-$SVDD ;;
  deep-sad) weak=(--labelled-anomalies "$LABELLED"); tag=sad$LABELLED-$PRETRAIN-$SVDD ;;
  *) tag=$OBJECTIVE-$PRETRAIN-$SVDD ;;
esac
for k in 0 1 2 3 4 5 6 7 8 9; do
  for seed in $SEEDS; do
    run="$OUT/$unit$k-$tag-seed$seed"
    if [ ! -f "$run/eval-best/metrics.json" ]; then
      rm -rf "$run" "$(dirname "$run")/.$(basename "$run").partial"  # and a stopped run's staging folder
      start=$(date +%s.%N)
      "$BIN" train --model deep-svdd --dataset "$DATASET" --data "$data_dir" --protocol one-class \
        --class $k --scaling gcn-l1 --model-config "$settings" ${weak[@]+"${weak[@]}"} \
        --seed "$seed" --out "$run" --quiet > /dev/null 2>&1
      "$BIN" eval "$run" > /dev/null
      end=$(date +%s.%N)
      python3 -c "print($end - $start)" > "$run.seconds"
    fi
  done
done
SCRIPTS_DIR=$(dirname "$0") python3 - "$OUT" "$tag" "$OBJECTIVE" "$DATASET" $SEEDS <<'PY'
import json, os, statistics, sys
sys.path.insert(0, os.path.join(os.environ["SCRIPTS_DIR"], "lib"))
from seeds import over_seeds
out, budget, objective, dataset, seeds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
paper = {
    "mnist": [98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5],
    "cifar10": [61.7, 65.9, 50.8, 59.1, 60.9, 65.7, 67.7, 67.3, 75.9, 73.1],
}[dataset]
unit = "digit" if dataset == "mnist" else "class"
name = "Deep SAD" if objective == "deep-sad" else "Deep SVDD"
print(f"| {unit} | oddity {name} | paper Deep SVDD | seconds |")
print("|---|---|---|---|")
means, per_unit = [], []
for k in range(10):
    runs = [os.path.join(out, f"{unit}{k}-{budget}-seed{s}") for s in seeds]
    a = [json.load(open(os.path.join(r, "eval-best", "metrics.json")))["auroc"] for r in runs]
    t = statistics.mean(float(open(r + ".seconds").read()) for r in runs)
    means.append(statistics.mean(a))
    per_unit.append(a)
    sd = f" ± {statistics.stdev(a):.4f}" if len(a) > 1 else ""
    print(f"| {k} | {means[-1]:.4f}{sd} | {paper[k] / 100:.3f} | {t:.0f} |")
mean, seed_means = over_seeds(per_unit)
print(f"| **mean** | **{mean}** | **{sum(paper) / 1000:.3f}** | |")
if len(seeds) > 1:
    print(f"\nMean of the ten {unit}s, seed by seed ({', '.join(seeds)}): {seed_means}")
PY
