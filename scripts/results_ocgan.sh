#!/usr/bin/env bash
# OCGAN on MNIST one-class (each digit in turn the normal class; the paper's "Protocol 2": the
# standard training split's images of the digit, the whole test split), images scaled to
# [−1, 1] as the official code. Prints the last epoch's AUROC per digit (mean ± std over
# SEEDS) against the paper's per-digit numbers, and the seconds a run took; with several
# SEEDS, the mean of the digits every seed ran ± the std of the seeds' means.
#
# The budget is the environment's: DEPTH (the code's 3: 61 × 61 images; 2: 29 × 29), EPOCHS
# (the code's 200), MINING_FROM (first epoch with informative-negative mining; the code's 151),
# MAX_TRAIN (training images per digit; all by default), BATCH (the code's 512). A run that was
# stopped resumes from its last checkpoint; the seconds then count the last part only.
#
#   DEPTH=2 EPOCHS=20 MINING_FROM=16 SEEDS="0" scripts/results_ocgan.sh [SHARED_DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-runs/ocgan-mnist}
BIN=${ODDITY:-target/release/oddity}
DEPTH=${DEPTH:-3}
EPOCHS=${EPOCHS:-200}
MINING_FROM=${MINING_FROM:-151}
BATCH=${BATCH:-512}
MAX_TRAIN=${MAX_TRAIN:-}
SEEDS=${SEEDS:-0 1 2}
DIGITS=${DIGITS:-0 1 2 3 4 5 6 7 8 9}
mkdir -p "$OUT"
tag="d$DEPTH-e$EPOCHS-m$MINING_FROM-b$BATCH${MAX_TRAIN:+-n$MAX_TRAIN}"
settings="$OUT/$tag.json"
echo "{\"depth\": $DEPTH, \"epochs\": $EPOCHS, \"mining_from_epoch\": $MINING_FROM, \"batch_size\": $BATCH}" > "$settings"
for k in $DIGITS; do
  for seed in $SEEDS; do
    run="$OUT/digit$k-$tag-seed$seed"
    if [ ! -f "$run/eval-last/metrics.json" ]; then
      start=$(date +%s.%N)
      partial="$OUT/.$(basename "$run").partial"
      if [ -f "$run/run.json" ]; then
        :
      elif [ -d "$partial" ]; then
        # An interrupted training continues where it stopped (bit for bit the same).
        "$BIN" train --resume "$run" --quiet
      else
        "$BIN" train --model ocgan --dataset mnist --data "$DATA/mnist" --protocol one-class \
          --class "$k" --scaling minus-one-to-one --model-config "$settings" \
          ${MAX_TRAIN:+--max-train "$MAX_TRAIN"} --seed "$seed" --out "$run" --quiet
      fi
      "$BIN" eval "$run" --checkpoint last > /dev/null
      end=$(date +%s.%N)
      python3 -c "print($end - $start)" > "$run.seconds"
    fi
  done
done
SCRIPTS_DIR=$(dirname "$0") python3 - "$OUT" "$tag" $SEEDS <<'PY'
import json, os, statistics, sys
sys.path.insert(0, os.path.join(os.environ["SCRIPTS_DIR"], "lib"))
from seeds import over_seeds
out, tag, seeds = sys.argv[1], sys.argv[2], sys.argv[3:]
paper = [0.998, 0.999, 0.942, 0.963, 0.975, 0.980, 0.991, 0.981, 0.939, 0.981]
print("| digit | oddity OCGAN | paper | seconds a run |")
print("|---|---|---|---|")
means, complete = [], []
for k in range(10):
    runs = [os.path.join(out, f"digit{k}-{tag}-seed{s}") for s in seeds]
    runs = [r for r in runs if os.path.isfile(os.path.join(r, "eval-last", "metrics.json"))]
    if not runs:
        continue
    a = [json.load(open(os.path.join(r, "eval-last", "metrics.json")))["auroc"] for r in runs]
    t = statistics.mean(float(open(r + ".seconds").read()) for r in runs)
    means.append((statistics.mean(a), paper[k]))
    if len(a) == len(seeds):
        complete.append(a)
    sd = f" ± {statistics.stdev(a):.3f}" if len(a) > 1 else ""
    print(f"| {k} | {means[-1][0]:.3f}{sd} | {paper[k]:.3f} | {t:.0f} |")
if means:
    ours = statistics.mean(m for m, _ in means)
    theirs = statistics.mean(p for _, p in means)
    print(f"| **mean ({len(means)} digits)** | **{ours:.3f}** | **{theirs:.3f}** | |")
if len(seeds) > 1 and complete:
    mean, seed_means = over_seeds(complete, 3)
    print(f"\nThe {len(complete)} digits every seed ran: {mean}; seed by seed ({', '.join(seeds)}): {seed_means}")
PY
