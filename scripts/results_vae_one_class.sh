#!/usr/bin/env bash
# The VAE's scores on MNIST (or Fashion-MNIST) one-class, every class, reduced budget: MAX_TRAIN
# training normals, EPOCHS epochs, MAX_TEST test images, seed SEED; one VAE per class, its
# reconstruction, KL, IWAE (k = 100), ELBO and reconstruction-probability (L = 10) scores from
# the same weights (last checkpoint). The ELBO averages k = 10 decoded samples, not 100: its
# samples only lower the Monte Carlo noise of a mean (the IWAE's k tightens a bound), and 100
# cost as much as the IWAE (70 s a class here).
#
# SCALING (default minus-one-to-one, the VAE's own default on images: the tanh decoder's range)
# is the run's --scaling. DECODER=discretized-logistic trains the VAE with the per-pixel
# discretised logistic decoder (runs named with it; the default gaussian keeps the old names).
#
#   DATASET=mnist MAX_TRAIN=1000 EPOCHS=5 MAX_TEST=1000 SEED=0 SCALING=minus-one-to-one \
#     scripts/results_vae_one_class.sh [OUT]
set -euo pipefail
OUT=${1:-runs/vae-one-class}
BIN=${ODDITY:-target/release/oddity}
DATASET=${DATASET:-mnist}
SHARED=${SHARED:-../shared/data}
MAX_TRAIN=${MAX_TRAIN:-1000}
EPOCHS=${EPOCHS:-5}
MAX_TEST=${MAX_TEST:-1000}
SEED=${SEED:-0}
SCALING=${SCALING:-minus-one-to-one}
DECODER=${DECODER:-gaussian}
mkdir -p "$OUT/settings"
OTHER_SCORES="reconstruction kl elbo reconstruction-probability"
for s in reconstruction kl reconstruction-probability; do
  echo "{\"score\": \"$s\"}" > "$OUT/settings/$s.json"
done
echo '{"score": "elbo", "importance_samples": 10}' > "$OUT/settings/elbo.json"
auroc() { python3 -c "import json,sys; print(f\"{json.load(open(sys.argv[1]))['auroc']:.3f}\")" "$1"; }
rows=("| score | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 |" "|---|---|---|---|---|---|---|---|---|---|---|")
declare -A line=([iwae]="| iwae" [reconstruction]="| reconstruction" [kl]="| kl"
  [elbo]="| elbo (k = 10)" [reconstruction-probability]="| reconstruction-probability")
for class in 0 1 2 3 4 5 6 7 8 9; do
  run="$OUT/$DATASET-$class-$SCALING-seed$SEED"
  [ "$DECODER" = gaussian ] || run="$OUT/$DATASET-$class-$SCALING-$DECODER-seed$SEED"
  if [ ! -f "$run/eval-last/metrics.json" ]; then
    rm -rf "$run" "$(dirname "$run")/.$(basename "$run").partial"  # and a stopped run's staging folder
    "$BIN" train --model vae --dataset "$DATASET" --data "$SHARED/$DATASET" --protocol one-class \
      --class "$class" --max-train "$MAX_TRAIN" --max-test "$MAX_TEST" --epochs "$EPOCHS" \
      --seed "$SEED" --scaling "$SCALING" --model-config "{\"decoder\": \"$DECODER\"}" \
      --out "$run" --quiet > /dev/null
    "$BIN" eval "$run" --checkpoint last > /dev/null
  fi
  for s in $OTHER_SCORES; do
    [ -f "$run/eval-last-$s/metrics.json" ] || \
      "$BIN" eval "$run" --checkpoint last --model-config "$OUT/settings/$s.json" > /dev/null
  done
  line[iwae]+=" | $(auroc "$run/eval-last/metrics.json")"
  for s in $OTHER_SCORES; do line[$s]+=" | $(auroc "$run/eval-last-$s/metrics.json")"; done
done
printf '%s\n' "${rows[@]}"
for s in iwae $OTHER_SCORES; do echo "${line[$s]} |"; done
