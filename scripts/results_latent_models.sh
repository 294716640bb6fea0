#!/usr/bin/env bash
# MNIST one-class, every digit in CLASSES: the constrained AAE against the plain AAE (its
# consistency term off), ALAE (pixel reconstruction and latent consistency scores of the same
# weights) and the plain autoencoder. Inputs to [−1, 1]; reduced budget (MAX_TRAIN training
# images, EPOCHS epochs of batches of BATCH, MAX_TEST test images, last checkpoint, seed SEED). Prints AUROC per
# digit and the mean, beside the anchors MODELS.md gives for ALAE (Deep SVDD's 0.948 mean).
#
#   CLASSES="0 1 2 3 4 5 6 7 8 9" EPOCHS=10 BATCH=16 MAX_TRAIN=1000 MAX_TEST=2000 \
#     scripts/results_latent_models.sh [SHARED_DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-runs/latent-models}
BIN=${ODDITY:-target/release/oddity}
CLASSES=${CLASSES:-0 1 2 3 4 5 6 7 8 9}
EPOCHS=${EPOCHS:-10}
BATCH=${BATCH:-16}
MAX_TRAIN=${MAX_TRAIN:-1000}
MAX_TEST=${MAX_TEST:-2000}
SEED=${SEED:-0}
mkdir -p "$OUT"
echo '{"consistency": false}' > "$OUT/plain-aae.json"
echo '{"score": "latent"}' > "$OUT/alae-latent.json"
for k in $CLASSES; do
  for m in constrained-aae plain-aae alae autoencoder; do
    run="$OUT/$m-class$k"
    [ -f "$run/eval-last/metrics.json" ] && continue
    rm -rf "$run" "$(dirname "$run")/.$(basename "$run").partial"  # and a stopped run's staging folder
    case $m in
      plain-aae) model=(--model constrained-aae --model-config "$OUT/plain-aae.json") ;;
      *) model=(--model "$m") ;;
    esac
    "$BIN" train "${model[@]}" --dataset mnist --data "$DATA/mnist" --protocol one-class \
      --class "$k" --scaling minus-one-to-one --epochs "$EPOCHS" --batch-size "$BATCH" --max-train "$MAX_TRAIN" \
      --max-test "$MAX_TEST" --seed "$SEED" --out "$run" --quiet > /dev/null 2>&1
    "$BIN" eval "$run" --checkpoint last > /dev/null 2>&1
  done
  run="$OUT/alae-class$k"
  [ -f "$run/eval-last-alae-latent/metrics.json" ] || \
    "$BIN" eval "$run" --checkpoint last --model-config "$OUT/alae-latent.json" > /dev/null 2>&1
done
python3 - "$OUT" "$CLASSES" <<'PY'
import json, statistics, sys
out, classes = sys.argv[1], sys.argv[2].split()
columns = {"constrained-aae": "constrained-aae/eval-last", "plain AAE": "plain-aae/eval-last",
           "ALAE pixel": "alae/eval-last", "ALAE latent": "alae/eval-last-alae-latent",
           "autoencoder": "autoencoder/eval-last"}
print("| digit | " + " | ".join(columns) + " |")
print("|---|" + "---|" * len(columns))
values = {c: [] for c in columns}
for k in classes:
    row = []
    for c, path in columns.items():
        model, folder = path.split("/")
        a = json.load(open(f"{out}/{model}-class{k}/{folder}/metrics.json"))["auroc"]
        values[c].append(a); row.append(f"{a:.3f}")
    print(f"| {k} | " + " | ".join(row) + " |")
print("| mean | " + " | ".join(f"{statistics.mean(values[c]):.3f}" for c in columns) + " |")
PY
