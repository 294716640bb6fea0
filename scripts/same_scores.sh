#!/usr/bin/env bash
# Scores of a short GANomaly run (bundled MNIST, one-class digit 0) and a short ALAD run
# (arrhythmia table), for checking that a refactoring changes no draw and no score:
#
#   scripts/same_scores.sh /tmp/before      # on the old build
#   scripts/same_scores.sh /tmp/after       # on the new build
#   cmp /tmp/before/ganomaly.csv /tmp/after/ganomaly.csv && cmp /tmp/before/alad.csv /tmp/after/alad.csv
set -euo pipefail
OUT=${1:?usage: scripts/same_scores.sh OUT_DIR}
BIN=${ODDITY:-target/release/oddity}
mkdir -p "$OUT"
echo '{"epochs": 2}' > "$OUT/ganomaly.json"
"$BIN" train --model ganomaly --model-config "$OUT/ganomaly.json" --dataset builtin-mnist \
  --protocol one-class --class 0 --seed 3 --out "$OUT/ganomaly" --force --quiet
"$BIN" eval "$OUT/ganomaly" > /dev/null
cp "$OUT/ganomaly/eval-best/scores.csv" "$OUT/ganomaly.csv"
echo '{"networks": "arrhythmia", "epochs": 5}' > "$OUT/alad.json"
"$BIN" train --model alad --model-config "$OUT/alad.json" --dataset adbench \
  --data fixtures/arrhythmia/arrhythmia.npz --protocol tabular --test-anomaly-fraction 0.15 \
  --seed 3 --out "$OUT/alad" --force --quiet
"$BIN" eval "$OUT/alad" > /dev/null
cp "$OUT/alad/eval-best/scores.csv" "$OUT/alad.csv"
sha256sum "$OUT/ganomaly.csv" "$OUT/alad.csv"
