#!/usr/bin/env bash
# ALOCC on MNIST one-class (each digit in turn the normal class), the paper's contamination
# protocol: F1 of 1 − D(R(x)) at 10 %, 30 % and 50 % anomalies in the test set, with the
# threshold from normal validation data (95th percentile; never from the test set), plus AUROC.
# One model per digit is trained with a 50 % test set; the 10 % and 30 % sets keep all of its
# test normals and a seeded subset of its test anomalies.
#
#   scripts/results_alocc_mnist.sh [DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data/mnist}
OUT=${2:-runs/alocc-mnist}
BIN=${ODDITY:-target/release/oddity}
EPOCHS=${EPOCHS:-10}
MAX_TRAIN=${MAX_TRAIN:-2000}
SEED=${SEED:-0}
DIGITS=${DIGITS:-0 1 2 3 4 5 6 7 8 9}
for digit in $DIGITS; do
  run="$OUT/digit$digit"
  if [ ! -f "$run/eval-last/metrics.json" ]; then
    "$BIN" train --model alocc --dataset mnist --data "$DATA" --protocol one-class --class "$digit" \
      --scaling min-max --test-anomaly-fraction 0.5 --epochs "$EPOCHS" --max-train "$MAX_TRAIN" \
      --seed "$SEED" --out "$run" --quiet
    "$BIN" eval "$run" --checkpoint last > /dev/null
  fi
done
python3 - "$OUT" "$SEED" <<'PY'
import csv, json, os, random, sys
root, seed = sys.argv[1], int(sys.argv[2])
def f1(rows, t):
    tp = sum(1 for s, l in rows if s >= t and l == 1); fp = sum(1 for s, l in rows if s >= t and l == 0)
    fn = sum(1 for s, l in rows if s < t and l == 1)
    return 2 * tp / max(2 * tp + fp + fn, 1)
print("| digit | F1 10 % | F1 30 % | F1 50 % | AUROC (50 %) |")
print("|---|---|---|---|---|")
means = [[], [], [], []]
for name in sorted(os.listdir(root)):
    run = os.path.join(root, name)
    if not os.path.isfile(f"{run}/eval-last/metrics.json"):
        continue
    m = json.load(open(f"{run}/eval-last/metrics.json"))
    t = m["threshold"]
    rows = [(float(r["score"]), int(r["label"])) for r in csv.DictReader(open(f"{run}/eval-last/scores.csv"))]
    normals = [r for r in rows if r[1] == 0]; anomalies = [r for r in rows if r[1] == 1]
    out = []
    for frac in (0.1, 0.3, 0.5):
        k = round(frac / (1 - frac) * len(normals))
        sub = random.Random(seed).sample(anomalies, min(k, len(anomalies)))
        out.append(f1(normals + sub, t))
    for i, v in enumerate(out + [m["auroc"]]):
        means[i].append(v)
    print(f"| {name[5:]} | {out[0]:.3f} | {out[1]:.3f} | {out[2]:.3f} | {m['auroc']:.3f} |")
print("| mean | " + " | ".join(f"{sum(v)/len(v):.3f}" for v in means) + " |")
PY
