#!/usr/bin/env bash
# OC-SVM on CIFAR-10 one-class, every class, the Deep SVDD protocol (as scripts/results_ocsvm.sh
# for MNIST): train on the class's training images less the 10 % validation hold-out, test on
# the whole test split, `--scaling gcn-l1`, ν = 0.1, γ = "scale". The data is the JPEG copy in
# ../shared/data, unpacked to CIFAR_DIR. Prints AUROC per class against the paper's OC-SVM row
# (chosen, as for MNIST, on labelled test data) and the seconds each run took.
#
#   scripts/results_ocsvm_cifar10.sh [SHARED_DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-runs/ocsvm-cifar10}
BIN=${ODDITY:-target/release/oddity}
CIFAR_DIR=${CIFAR_DIR:-runs/cifar10-jpeg}
if [ ! -d "$CIFAR_DIR/cifar10_jpg" ]; then
  mkdir -p "$CIFAR_DIR"
  tar xzf "$DATA/cifar10-jpeg.tar.gz" -C "$CIFAR_DIR"
fi
mkdir -p "$OUT"
for k in 0 1 2 3 4 5 6 7 8 9; do
  run="$OUT/class$k"
  if [ ! -f "$run/eval-best/metrics.json" ]; then
    rm -rf "$run" "$(dirname "$run")/.$(basename "$run").partial"  # and a stopped run's staging folder
    start=$(date +%s.%N)
    "$BIN" train --model ocsvm --dataset cifar10 --data "$CIFAR_DIR" --protocol one-class \
      --class $k --scaling gcn-l1 --out "$run" --quiet > /dev/null 2>&1
    "$BIN" eval "$run" > /dev/null
    end=$(date +%s.%N)
    python3 -c "print($end - $start)" > "$run.seconds"
  fi
done
python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
paper = [61.6, 63.8, 50.0, 55.9, 66.0, 62.4, 74.7, 62.6, 74.9, 75.9]
names = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
print("| class | oddity OC-SVM | paper OC-SVM | seconds |")
print("|---|---|---|---|")
ours = []
for k in range(10):
    run = os.path.join(out, f"class{k}")
    a = json.load(open(os.path.join(run, "eval-best", "metrics.json")))["auroc"]
    ours.append(a)
    s = float(open(run + ".seconds").read())
    print(f"| {k} {names[k]} | {a:.4f} | {paper[k] / 100:.3f} | {s:.1f} |")
print(f"| **mean** | **{sum(ours) / 10:.4f}** | **{sum(paper) / 1000:.3f}** | |")
PY
