#!/usr/bin/env bash
# OC-SVM on CIFAR-10 one-class, every class, the Deep SVDD protocol (as scripts/results_ocsvm.sh
# for MNIST): train on the class's training images less the 10 % validation hold-out, test on
# the whole test split, `--scaling gcn-l1`, ν = 0.1, γ = "scale". The data is the JPEG copy in
# ../shared/data, unpacked to CIFAR_DIR. Prints AUROC per class against the paper's OC-SVM row
# (chosen, as for MNIST, on labelled test data) and the seconds each run took.
#
# SEEDS (default "0"): seed 0's runs are `classK`, the others `classK-seedS`; the table gives
# their mean ± std beside seed 0. ORACLE=1 also runs the paper's grid (ν ∈ {0.01, 0.1},
# γ ∈ {2^-10, …, 2^-1}) on seed 0's protocol and reports, per class, the best *test* AUROC over
# it: an oracle, the upper bound of the paper's selection on labelled test data.
#
#   scripts/results_ocsvm_cifar10.sh [SHARED_DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-runs/ocsvm-cifar10}
BIN=${ODDITY:-target/release/oddity}
SEEDS=${SEEDS:-0}
CIFAR_DIR=${CIFAR_DIR:-runs/cifar10-jpeg}
if [ ! -d "$CIFAR_DIR/cifar10_jpg" ]; then
  mkdir -p "$CIFAR_DIR"
  tar xzf "$DATA/cifar10-jpeg.tar.gz" -C "$CIFAR_DIR"
fi
mkdir -p "$OUT"
for k in 0 1 2 3 4 5 6 7 8 9; do
  for seed in $SEEDS; do
    run="$OUT/class$k"
    [ "$seed" = 0 ] || run="$run-seed$seed"
    if [ ! -f "$run/eval-best/metrics.json" ]; then
      rm -rf "$run" "$(dirname "$run")/.$(basename "$run").partial"  # and a stopped run's staging folder
      start=$(date +%s.%N)
      "$BIN" train --model ocsvm --dataset cifar10 --data "$CIFAR_DIR" --protocol one-class \
        --class $k --scaling gcn-l1 --seed "$seed" --out "$run" --quiet > /dev/null 2>&1
      "$BIN" eval "$run" > /dev/null
      end=$(date +%s.%N)
      python3 -c "print($end - $start)" > "$run.seconds"
    fi
  done
done
if [ "${ORACLE:-0}" = 1 ]; then
  mkdir -p "$OUT/grid"
  for nu in 0.01 0.1; do
    for e in 1 2 3 4 5 6 7 8 9 10; do
      gamma=$(python3 -c "print(2 ** -$e)")
      echo "{\"nu\": $nu, \"gamma\": $gamma}" > "$OUT/grid/nu$nu-g$e.json"
      for k in 0 1 2 3 4 5 6 7 8 9; do
        run="$OUT/grid/class$k-nu$nu-g$e"
        if [ ! -f "$run/eval-best/metrics.json" ]; then
          rm -rf "$run" "$(dirname "$run")/.$(basename "$run").partial"  # and a stopped run's staging folder
          "$BIN" train --model ocsvm --dataset cifar10 --data "$CIFAR_DIR" --protocol one-class \
            --class $k --scaling gcn-l1 --model-config "$OUT/grid/nu$nu-g$e.json" --out "$run" \
            --quiet > /dev/null 2>&1
          "$BIN" eval "$run" > /dev/null
        fi
      done
    done
  done
fi
python3 - "$OUT" "$SEEDS" <<'PY'
import json, os, statistics, sys
out, seeds = sys.argv[1], sys.argv[2].split()
paper = [61.6, 63.8, 50.0, 55.9, 66.0, 62.4, 74.7, 62.6, 74.9, 75.9]
names = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
auroc = lambda run: json.load(open(os.path.join(run, "eval-best", "metrics.json")))["auroc"]
name = lambda k, s: os.path.join(out, f"class{k}" if s == "0" else f"class{k}-seed{s}")
spread = lambda v: f"{statistics.mean(v):.4f} ± {statistics.stdev(v):.4f}" if len(v) > 1 else f"{v[0]:.4f}"
print(f"| class | oddity OC-SVM, seed {seeds[0]} | oddity, seeds {' '.join(seeds)} | paper OC-SVM | seconds |")
print("|---|---|---|---|---|")
first = []
for k in range(10):
    values = [auroc(name(k, s)) for s in seeds]
    first.append(values[0])
    s = float(open(name(k, seeds[0]) + ".seconds").read())
    print(f"| {k} {names[k]} | {values[0]:.4f} | {spread(values)} | {paper[k] / 100:.3f} | {s:.1f} |")
per_seed = [sum(auroc(name(k, s)) for k in range(10)) / 10 for s in seeds]
print(f"| **mean** | **{sum(first) / 10:.4f}** | **{spread(per_seed)}** (of the seeds' means) | **{sum(paper) / 1000:.3f}** | |")
grid = os.path.join(out, "grid")
if os.path.isdir(grid):
    print()
    print("| class | oracle: best test AUROC over the paper's grid | its ν, γ | paper OC-SVM |")
    print("|---|---|---|---|")
    best_all = []
    for k in range(10):
        best = max(
            (auroc(os.path.join(grid, f"class{k}-nu{nu}-g{e}")), nu, e)
            for nu in ("0.01", "0.1") for e in range(1, 11)
        )
        best_all.append(best[0])
        print(f"| {k} {names[k]} | {best[0]:.4f} | {best[1]}, 2^-{best[2]} | {paper[k] / 100:.3f} |")
    print(f"| **mean** | **{sum(best_all) / 10:.4f}** | | **{sum(paper) / 1000:.3f}** |")
PY
